"""Service fixtures: the real Redis, Kafka and Alertmanagers that `make test` starts
(scripts/testenv.py).

Locally a missing service skips its tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from tests.e2e import scenario_run
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import testenv

REDIS_URL = os.environ.get("DISTILLWATCH_REDIS_URL", testenv.DEFAULT_REDIS_URL)
REDIS_CLUSTER_URL = os.environ.get(
    "DISTILLWATCH_REDIS_CLUSTER_URL", testenv.DEFAULT_REDIS_CLUSTER_URL
)
REDIS_SENTINEL_URL = os.environ.get(
    "DISTILLWATCH_REDIS_SENTINEL_URL", testenv.DEFAULT_REDIS_SENTINEL_URL
)
KAFKA_BOOTSTRAP = os.environ.get("DISTILLWATCH_KAFKA_BOOTSTRAP", testenv.DEFAULT_KAFKA_BOOTSTRAP)
ALERTMANAGER_URLS = testenv.split_urls(
    os.environ.get("DISTILLWATCH_ALERTMANAGER_URLS", testenv.DEFAULT_ALERTMANAGER_URLS)
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(service: str, detail: str) -> None:
    message = f"{service} is not reachable ({detail}); run the tests with `make test`"
    if IN_CI:
        pytest.fail(f"CI requires {message}", pytrace=False)
    pytest.skip(message)


def reachable_redis(service: str, url: str) -> str:
    """`url` once a PING through it answers (a cluster or a Sentinel included)."""
    from streams.redis_connect import connect_sync

    try:
        client = connect_sync(url)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, IndexError) as error:  # IndexError: no cluster node answered
        unavailable(service, f"{url}: {error}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return reachable_redis("Redis", REDIS_URL)


@pytest.fixture(scope="session")
def redis_cluster_url() -> str:
    """The 3-primary Redis Cluster `make test` starts (scripts/redis_topologies.py)."""
    return reachable_redis("Redis Cluster", REDIS_CLUSTER_URL)


@pytest.fixture(scope="session")
def redis_sentinel_url() -> str:
    """A Sentinel naming the tests' single Redis as its primary (scripts/redis_topologies.py)."""
    return reachable_redis("Redis Sentinel", REDIS_SENTINEL_URL)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> str:
    """A fresh key namespace per test: tests never see each other's state."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if not testenv.kafka_ready(KAFKA_BOOTSTRAP):
        unavailable("Kafka", KAFKA_BOOTSTRAP)
    version = os.environ.get("DISTILLWATCH_KAFKA_VERSION", "unknown")
    print(f"\n[tests] Kafka broker at {KAFKA_BOOTSTRAP}, Apache Kafka {version}", file=sys.stderr)
    yield KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def alertmanager_urls() -> list[str]:
    """Every Alertmanager instance `make test` provides (two, independent: distillwatch sends
    each alert to all of them), each answering `GET /-/ready`."""
    if len(ALERTMANAGER_URLS) < 2:
        unavailable("a second Alertmanager", f"DISTILLWATCH_ALERTMANAGER_URLS={ALERTMANAGER_URLS}")
    down = [url for url in ALERTMANAGER_URLS if not testenv.alertmanager_ready(url, timeout_s=2.0)]
    if down:
        unavailable("Alertmanager", ", ".join(down))
    version = os.environ.get("DISTILLWATCH_ALERTMANAGER_VERSION", "unknown")
    print(f"\n[tests] Alertmanager {version} at {', '.join(ALERTMANAGER_URLS)}", file=sys.stderr)
    return list(ALERTMANAGER_URLS)


@pytest.fixture(scope="session")
def alertmanager_url(alertmanager_urls: list[str]) -> str:
    """The first instance (`DISTILLWATCH_ALERTMANAGER_URL` in scripts/testenv.py)."""
    return alertmanager_urls[0]


def installed(tool: str, variable: str, names: tuple[str, ...]) -> str:
    found = os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)
    if not found or not os.access(found, os.X_OK):
        unavailable(tool, f"{variable} unset and {' / '.join(names)} not on PATH")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def amtool_path() -> str:
    return installed("amtool", "DISTILLWATCH_AMTOOL", ("amtool",))


@pytest.fixture(scope="session")
def alertmanager_bin() -> str:
    """The binary tests start their own instances with (tests/alertmanager_process.py)."""
    return installed("alertmanager", "DISTILLWATCH_ALERTMANAGER_BIN", testenv.ALERTMANAGER_NAMES)


@pytest.fixture(scope="session")
def prometheus_bin(promtool_path: str) -> str:
    """The Prometheus server of the same package as promtool (tests start their own)."""
    sibling = Path(promtool_path).with_name("prometheus")
    names = (str(sibling),) if sibling.exists() else ("prometheus",)
    return installed("prometheus", "DISTILLWATCH_PROMETHEUS", names)


@pytest.fixture(scope="session")
def promtool_path() -> str:
    """promtool (Debian's prometheus package; scripts/testenv.py installs it): checks and
    unit-tests the alerting rules for distillwatch's own health (config/prometheus/rules/)."""
    found = installed("promtool", "DISTILLWATCH_PROMTOOL", ("promtool",))
    version = os.environ.get("DISTILLWATCH_PROMTOOL_VERSION") or testenv.promtool_version(found)
    print(f"\n[tests] promtool {version} at {found}", file=sys.stderr)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The 48 h scenario run goes on beside the rest of the suite (tests/e2e/scenario_run.py)
    scenario_run.schedule(config, items)


def pytest_unconfigure(config: pytest.Config) -> None:
    scenario_run.finish(config)
