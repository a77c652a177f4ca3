"""One linkage graph, two stores: the reference in memory (detectors/linkage.py) and the Lua
script the live workers share in Redis must give identical cluster reports for the same link
records, and a redelivered record must change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from detectors.config import LinkageConfig
from detectors.linkage import ClusterReport
from streams.config_loader import load_config
from streams.link_messages import LinkEvent, LinkRecord, decode_records, encode_records
from streams.linkage_store import LinkageStore, MemoryLinkage, RedisLinkage
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.redis_connect import connect_async
from streams.sim.scenarios import simulate
from tests.helpers import ROOT

pytestmark = pytest.mark.integration
# Small clusters report often: every branch of the graph (merges of clusters of every size,
# renames, growth and refresh re-reports) runs in a short stream.
SETTINGS = LinkageConfig(min_members=3, min_signal_share=0.05, growth=1.2, refresh_seconds=600)
# Hourly windows: the stream crosses two, so fresh graphs, inherited names and the windows no
# longer kept run too.
HOURLY = SETTINGS.model_copy(update={"window_seconds": 3600})
TOPOLOGIES = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}


async def records_of(scenario: str, hours: float, batch: int) -> list[LinkRecord]:
    """The link records a live worker would produce for a simulated stream."""
    config = load_config(ROOT / "config" / "detectors.yaml")
    pipeline = DetectionPipeline(config, MemoryWindowStore(), emit_links=True)
    lines = list(simulate(scenario, hours=hours, seed=3, benign_accounts=40).lines())
    records = []
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        sources = [("requests:0", start + i) for i in range(len(chunk))]
        records += (await pipeline.process(chunk, sources)).link_records
    return records


@pytest.fixture(scope="module")
def records() -> list[LinkRecord]:
    found = asyncio.run(records_of("all", hours=3, batch=400))
    assert sum(e.values is not None for r in found for e in r.events) > 1000
    return found


@pytest.fixture(params=[SETTINGS, HOURLY], ids=["one-window", "hourly-windows"])
def settings(request: pytest.FixtureRequest) -> LinkageConfig:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=sorted(TOPOLOGIES))
async def redis_linkage(
    request: pytest.FixtureRequest, key_prefix: str, settings: LinkageConfig
) -> AsyncIterator[RedisLinkage]:
    client = connect_async(request.getfixturevalue(TOPOLOGIES[request.param]))
    store = RedisLinkage(client, settings, key_prefix=key_prefix)
    yield store
    await store.close()


async def run(store: LinkageStore, records: list[LinkRecord], step: int) -> list[ClusterReport]:
    reports = []
    for start in range(0, len(records), step):
        reports += await store.apply(records[start : start + step])
    return reports


async def test_redis_reports_what_the_reference_graph_reports(
    records: list[LinkRecord], redis_linkage: RedisLinkage, settings: LinkageConfig
) -> None:
    expected = await run(MemoryLinkage(settings), records, step=50)
    assert len(expected) >= 5 and max(len(r.members) for r in expected) >= 20
    assert len({r.cluster_id for r in expected}) >= 2
    assert await run(redis_linkage, records, step=73) == expected


async def test_a_redelivered_record_changes_nothing(
    records: list[LinkRecord], redis_linkage: RedisLinkage, settings: LinkageConfig
) -> None:
    half = len(records) // 2
    expected = await run(MemoryLinkage(settings), records, step=100)
    first = await run(redis_linkage, records[:half], step=100)
    # A worker dies after applying and before committing: the group re-reads from earlier.
    assert await run(redis_linkage, records[half // 2 : half], step=100) == []
    assert first + await run(redis_linkage, records[half:], step=100) == expected


async def test_events_redelivered_in_other_records_are_counted_once(
    records: list[LinkRecord], redis_linkage: RedisLinkage, settings: LinkageConfig
) -> None:
    """A batch interrupted before it was judged comes back with other boundaries (the window
    store starts it again, streams/store.py), so its events come again in other records."""
    reference = MemoryLinkage(settings)
    await run(reference, records, step=100)
    regrouped = await records_of("all", hours=3, batch=150)
    await run(redis_linkage, records[: len(records) // 2], step=100)
    await run(redis_linkage, regrouped, step=100)
    totals = await redis_linkage.cluster_totals()
    assert totals == await reference.cluster_totals() and len(totals) >= 2


async def test_a_campaign_found_again_in_the_next_window_keeps_its_name(
    records: list[LinkRecord],
) -> None:
    reports = await run(MemoryLinkage(HOURLY), records, step=100)
    windows_by_name: dict[str, set[int]] = {}
    for report in reports:
        windows_by_name.setdefault(report.cluster_id, set()).add(int(report.at // 3600))
    assert any(len(windows) >= 2 for windows in windows_by_name.values())


def test_a_link_record_survives_the_topic_and_a_bad_one_is_named() -> None:
    record = LinkRecord(
        "acct_1",
        "requests:3",
        (
            LinkEvent(41, 1.5, 10, 3, 300, None),
            LinkEvent(42, 2.0, 20, 4, 310, (("template", "p1f"), ("network", "n10.0.0"))),
        ),
    )
    assert decode_records(encode_records([record, record])) == [record, record]
    with pytest.raises(ValueError, match="link values"):
        decode_records(b'{"v":1,"records":[{"a":"x","s":"","e":[[0,1,1,0,0,[["colour","red"]]]]}]}')
    with pytest.raises(ValueError, match="not JSON"):
        decode_records(b"\xff")
