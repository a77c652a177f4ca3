"""The state sample (streams/state_sampler.py) counts what the stores keep in a real Redis, a
single server and a Cluster: the accounts with state, the multi-account clusters, the active
incidents; one sampler per period takes it and every worker publishes the same figures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from detectors.config import LinkageConfig
from streams.config_loader import load_config
from streams.linkage_store import MemoryLinkage, RedisLinkage
from streams.metrics import Metrics
from streams.pipeline import DetectionPipeline
from streams.redis_connect import AsyncClient, connect_async
from streams.redis_store import RedisWindowStore
from streams.sim.scenarios import simulate
from streams.state_sampler import StateSampler, kind_of
from streams.store import AlertSchedule
from tests.helpers import ROOT

pytestmark = pytest.mark.integration
TOPOLOGIES = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}
SETTINGS = LinkageConfig(min_members=3, min_signal_share=0.05, growth=1.2, refresh_seconds=600)


@pytest.fixture(params=sorted(TOPOLOGIES))
async def client(request: pytest.FixtureRequest) -> AsyncIterator[AsyncClient]:
    redis = connect_async(request.getfixturevalue(TOPOLOGIES[request.param]))
    yield redis
    await redis.aclose()


async def test_sample_counts_accounts_clusters_and_incidents(
    client: AsyncClient, key_prefix: str
) -> None:
    config = load_config(ROOT / "config" / "detectors.yaml")
    store = RedisWindowStore(client, key_prefix=key_prefix)
    pipeline = DetectionPipeline(config, store, emit_links=True)
    lines = list(simulate("all", hours=1, seed=5, benign_accounts=30).lines())
    linkage = RedisLinkage(client, SETTINGS, key_prefix=key_prefix)
    reference = MemoryLinkage(SETTINGS)
    accounts: set[str] = set()
    for start in range(0, len(lines), 500):
        chunk = lines[start : start + 500]
        outcome = await pipeline.process(
            chunk, [("requests:0", start + i) for i in range(len(chunk))]
        )
        accounts.update(outcome.applied_accounts())
        await pipeline.confirm_sent(outcome)
        await linkage.apply(outcome.link_records)
        await reference.apply(outcome.link_records)
    sampler = StateSampler(client, key_prefix, 60)
    before = await sampler.take()
    incidents = [store.alert_key(f"acct:{name}", "some_rule") for name in ("a", "b", "c")]
    await store.confirm_alerts(
        [], [AlertSchedule("requests:9", key, 1e9 + i) for i, key in enumerate(incidents)]
    )

    sample = await sampler.take()

    assert sample.accounts == len(accounts) > 30
    expected_clusters = sum(1 for totals in await reference.cluster_totals() if totals[0] > 1)
    assert sample.clusters == expected_clusters > 0
    assert sample.incidents == before.incidents + len(incidents)
    assert before.incidents > 0  # the simulated attacks opened some
    assert 0 < sample.memory["account"] <= sample.used_memory
    assert 0 < sample.memory["linkage"] <= sample.used_memory


async def test_one_sampler_per_period_and_every_worker_publishes_its_figures(
    client: AsyncClient, key_prefix: str
) -> None:
    first, second = Metrics.create(CollectorRegistry()), Metrics.create(CollectorRegistry())
    await client.set(f"{key_prefix}:{{acct:x}}:L1:state", b"state of x")
    await StateSampler(client, key_prefix, 60).tick(first)
    await client.set(f"{key_prefix}:{{acct:y}}:L1:state", b"state of y")
    await StateSampler(client, key_prefix, 60).tick(second)  # within the period: not sampled

    for metrics in (first, second):
        assert metrics.tracked_accounts._value.get() == 1
        assert metrics.state_sampled._value.get() > 0
    assert first.state_sampled._value.get() == second.state_sampled._value.get()
    await client.delete(f"{key_prefix}:sampler:lock")
    await StateSampler(client, key_prefix, 60).tick(second)  # the next period
    assert second.tracked_accounts._value.get() == 2


def test_only_the_detectors_own_keys_are_counted() -> None:
    assert kind_of("dw:{acct:a}:L3:state", "dw") == "account"
    assert kind_of("dw:{acct:a}:L3:pending", "dw") is None
    assert kind_of("dw:{acct:a}:alert:templated", "dw") == "incident"
    assert kind_of("dw:{cluster:c1}:alert:hydra_cluster", "dw") == "incident"
    assert kind_of("dw:{dw:lk}:w3:pairs", "dw") == "linkage"
    assert kind_of("other:{acct:a}:L3:state", "dw") is None
