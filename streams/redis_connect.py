"""Redis clients from one URL: a single server, a Redis Cluster, or a Sentinel-managed primary.

    redis://[user:pass@]host:port/db, rediss://..., unix:///path   a single server (redis-py)
    redis-cluster://[user:pass@]host:port[,host:port...]         a Redis Cluster (rediss-cluster)
    redis-sentinel://[user:pass@]host:port[,host:port...]/service[/db]
                                                                  the primary Sentinel names

Credentials and TLS files come from the environment (streams/redis_security.py) or the URL's
userinfo; a URL is shown only redacted (`redact_url`), never with its password.

Every client gets explicit timeouts: a Redis that stops answering fails the batch (a transient
error, retried) instead of hanging the partition, and idle connections are checked before use
so a failover or a restart is noticed on the next batch. The state's keys carry a hash tag per
account, so each script call touches one cluster slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.cluster import ClusterNode as SyncClusterNode
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel

from streams.redis_security import RedisSecurity

TIMEOUTS: dict[str, Any] = {"socket_timeout": 10, "socket_connect_timeout": 5}
HEALTH_CHECK_INTERVAL = 15

AsyncClient = aioredis.Redis | AsyncRedisCluster
SyncClient = redis.Redis | RedisCluster


@dataclass(frozen=True, slots=True)
class RedisTarget:
    kind: str  # "single", "cluster" or "sentinel"
    url: str = field(repr=False)  # may hold a password
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    scheme: str = "redis"


def redact_url(url: str) -> str:
    """The URL with its password (and any query, which may carry one) replaced by '***'."""
    parsed = urlparse(url)
    shown = url
    if parsed.password is not None:
        userinfo, _, hosts = parsed.netloc.rpartition("@")
        shown = shown.replace(parsed.netloc, f"{userinfo.split(':', 1)[0]}:***@{hosts}", 1)
    if parsed.query:
        shown = shown.split("?", 1)[0] + "?***"
    return shown


def parse_redis_url(url: str) -> RedisTarget:
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisTarget(
            "single",
            url,
            tls=scheme == "rediss",
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            scheme=scheme,
        )
    kind = {"redis-cluster": "cluster", "rediss-cluster": "cluster"}.get(scheme)
    kind = kind or {"redis-sentinel": "sentinel", "rediss-sentinel": "sentinel"}.get(scheme)
    if kind is None:
        raise ValueError(
            f"unsupported Redis URL scheme {scheme!r}: use redis://, rediss://, unix://, "
            "redis-cluster:// or redis-sentinel://"
        )
    hosts = parsed.netloc.rsplit("@", 1)[-1]
    nodes = []
    for address in hosts.split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"Redis URL {redact_url(url)!r}: {address!r} is not host:port")
        nodes.append((host, int(port)))
    path = [part for part in parsed.path.split("/") if part]
    if kind == "sentinel" and not path:
        raise ValueError(
            f"Redis URL {redact_url(url)!r}: name the Sentinel service, .../<service>[/db]"
        )
    return RedisTarget(
        kind,
        url,
        tuple(nodes),
        service=path[0] if kind == "sentinel" else "",
        db=int(path[1]) if kind == "sentinel" and len(path) > 1 else 0,
        tls=scheme.startswith("rediss"),
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        scheme=scheme,
    )


def _target(url: str, security: RedisSecurity | None) -> tuple[RedisTarget, RedisSecurity]:
    """The URL's target and the security settings (the environment's unless given), checked
    against each other."""
    target = parse_redis_url(url)
    security = RedisSecurity.from_env() if security is None else security
    security.check(target.scheme, target.username, target.password)
    return target, security


def _auth(target: RedisTarget, security: RedisSecurity) -> dict[str, Any]:
    """Credentials and TLS for the cluster and Sentinel clients (a single server's URL is
    parsed by redis-py, which takes its userinfo itself)."""
    url_auth = {"username": target.username, "password": target.password, "ssl": target.tls}
    return {**url_auth, **security.client_kwargs(target.tls)}


def connect_async(url: str, security: RedisSecurity | None = None) -> AsyncClient:
    target, security = _target(url, security)
    if target.kind == "single":
        return aioredis.Redis.from_url(
            url,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            **TIMEOUTS,
            **security.client_kwargs(target.tls),
        )
    if target.kind == "cluster":
        return AsyncRedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            health_check_interval=HEALTH_CHECK_INTERVAL,
            **_auth(target, security),
            **TIMEOUTS,
        )
    sentinel = AsyncSentinel(  # type: ignore[no-untyped-call]
        list(target.nodes), sentinel_kwargs=TIMEOUTS, **TIMEOUTS
    )
    primary: aioredis.Redis = sentinel.master_for(
        target.service,
        db=target.db,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        **_auth(target, security),
    )
    return primary


def connect_sync(url: str, security: RedisSecurity | None = None) -> SyncClient:
    target, security = _target(url, security)
    if target.kind == "single":
        return redis.Redis.from_url(url, **TIMEOUTS, **security.client_kwargs(target.tls))
    if target.kind == "cluster":
        return RedisCluster(
            startup_nodes=[
                SyncClusterNode(host, port)  # type: ignore[no-untyped-call]
                for host, port in target.nodes
            ],
            **_auth(target, security),
            **TIMEOUTS,
        )
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.nodes), sentinel_kwargs=TIMEOUTS, **TIMEOUTS
    )
    primary: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service, db=target.db, **_auth(target, security)
    )
    return primary


def primaries_info(client: SyncClient, section: str) -> list[dict[str, Any]]:
    """INFO <section> of every primary (one for a single server or a Sentinel's primary)."""
    if isinstance(client, RedisCluster):
        per_node = client.info(section, target_nodes=RedisCluster.PRIMARIES)
        return [dict(info) for info in per_node.values()]
    return [dict(client.info(section))]
