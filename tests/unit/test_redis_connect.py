"""Redis URLs: a single server, a Cluster's seed nodes, a Sentinel's service."""

from __future__ import annotations

import pytest

from streams.redis_connect import parse_redis_url


def test_cluster_urls_list_their_seed_nodes() -> None:
    target = parse_redis_url("rediss-cluster://dw:s%40cret@10.0.0.1:7000,10.0.0.2:7001")
    assert target.kind == "cluster" and target.tls
    assert target.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (target.username, target.password) == ("dw", "s@cret")


def test_sentinel_urls_name_their_service_and_database() -> None:
    target = parse_redis_url("redis-sentinel://s1:26379,s2:26379/dwprimary/2")
    assert (target.kind, target.service, target.db) == ("sentinel", "dwprimary", 2)
    assert target.nodes == (("s1", 26379), ("s2", 26379))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis-sentinel://s1:26379", "name the Sentinel service"),
        ("redis-cluster://10.0.0.1", "is not host:port"),
        ("memcached://x:1", "unsupported Redis URL scheme"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_redis_url(url)


def test_single_server_urls_pass_through() -> None:
    assert parse_redis_url("redis://127.0.0.1:6390/0").kind == "single"
    assert parse_redis_url("unix:///run/redis.sock").kind == "single"
