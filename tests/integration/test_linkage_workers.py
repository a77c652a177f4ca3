"""Issue 9: two workers of one consumer group find a hydra campaign although its accounts are
split across partitions and workers, through a rebalance and a crash, and count nothing twice:
the graph they share in Redis adds up to what the embedded stage finds on the same stream."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import orjson
import pytest
import redis
from prometheus_client import CollectorRegistry

from detectors.config import LinkageConfig
from detectors.linkage import ClusterTotals
from streams.alert_ledger import AlertLedger
from streams.config_loader import load_config
from streams.failures import RetryPolicy
from streams.kafka_admin import ensure_topics
from streams.link_messages import LinkEvent, LinkRecord, encode_records
from streams.linkage_store import MemoryLinkage, RedisLinkage
from streams.linkage_worker import BAD_LINK_RECORD, LinkageHandler
from streams.memory_store import MemoryWindowStore
from streams.metrics import Metrics
from streams.pipeline import DetectionPipeline
from streams.redis_connect import connect_async
from streams.redis_store import RedisWindowStore
from streams.sim.scenarios import simulate
from tests.helpers import ROOT
from tests.integration.harness import (
    TopicReader,
    Topics,
    committed_everything,
    linkage_totals,
    poll_until,
    produce,
    start_worker,
)
from tests.integration.test_chaos import counted
from tests.unit.test_batch_handler import Event, Message, Sink

pytestmark = pytest.mark.integration


async def reference_totals(lines: list[bytes]) -> list[ClusterTotals]:
    """What the embedded stage's graph adds up to on the same stream."""
    config = load_config(ROOT / "config" / "detectors.yaml")
    linkage = MemoryLinkage(config.linkage)
    pipeline = DetectionPipeline(config, MemoryWindowStore(), linkage=linkage)
    for start in range(0, len(lines), 500):
        await pipeline.process(lines[start : start + 500])
    return await linkage.cluster_totals()


def test_two_workers_find_a_campaign_split_across_them(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    sim = simulate("hydra", hours=12, seed=3, benign_accounts=40)
    lines = list(sim.lines())
    hydra = {label.account_id for label in sim.labels if label.family == "hydra"}
    benign = {label.account_id for label in sim.labels if label.label == "benign"}
    topics = Topics.fresh()
    ensure_topics(kafka_bootstrap, {topics.input: {}, topics.linkage: {}}, partitions=3)
    produce(
        kafka_bootstrap, topics.input, [(orjson.loads(x)["account_id"].encode(), x) for x in lines]
    )
    group = f"link-{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(redis_url)
    first = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, group, key_prefix)
    second = None
    try:
        poll_until(lambda: counted(client, key_prefix) > len(lines) // 4, "a quarter counted",
                   worker=first, deadline_s=300)  # fmt: skip
        second = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, group, key_prefix)
        poll_until(lambda: counted(client, key_prefix) > len(lines) // 2, "half counted",
                   worker=second, deadline_s=300)  # fmt: skip
        first.stop(signal.SIGKILL)  # its partitions of both topics move to the second worker
        poll_until(
            lambda: (
                committed_everything(kafka_bootstrap, group, topics.input)
                and committed_everything(kafka_bootstrap, group, topics.linkage)
            ),
            "both stages to commit the end",
            worker=second,
            deadline_s=600,
        )
        assert counted(client, key_prefix) == len(lines)
        assert linkage_totals(redis_url, key_prefix) == asyncio.run(reference_totals(lines))
        alerts = TopicReader(kafka_bootstrap, topics.alerts)
        named: set[str] = set()

        def every_hydra_account_named() -> bool:
            named.clear()
            for record in alerts.poll():
                alert = orjson.loads(record.value)
                if alert["rule_id"] == "hydra_cluster":
                    named.update(alert["subject"]["accounts"])
            return len(named & hydra) >= 0.95 * len(hydra)

        poll_until(every_hydra_account_named, "the campaign's accounts named", deadline_s=60)
        alerts.close()
        assert not named & benign
        # The campaign's accounts were on both workers: they span the input's partitions.
        requests = TopicReader(kafka_bootstrap, topics.input)
        poll_until(lambda: len(requests.poll()) == len(lines), "the input read back")
        requests.close()
        partition_of = {r.key.decode(): r.partition for r in requests.records}
        assert len({partition_of[account] for account in hydra}) >= 2
    finally:
        client.close()
        for worker in (first, second):
            if worker is not None:
                worker.stop()


async def test_the_link_agent_dead_letters_a_bad_record_and_sends_a_report_once(
    redis_url: str, key_prefix: str
) -> None:
    """A record the agent cannot read goes to the dead-letter topic with the reason; the good
    ones are applied once, and a report whose delivery failed is re-sent, not recomputed (the
    graph would skip the events the second time and the report would be lost)."""
    settings = LinkageConfig(min_members=3, min_signal_share=0.5)
    config = load_config(ROOT / "config" / "detectors.yaml").model_copy(
        update={"linkage": settings}
    )
    shared = (("template", "pframe"), ("sampling", "s07"))
    records = [
        LinkRecord(f"acct_{i}", "requests:0", (LinkEvent(i, 1e9 + i, 900, 0, 0, shared),))
        for i in range(3)
    ]
    messages = [Event(encode_records([r]), Message("links", 0, i)) for i, r in enumerate(records)]
    messages.insert(1, Event(b'{"v": 1, "records": [{"a": ""}]}', Message("links", 0, 9, b"k")))
    alerts, dlq = Sink(failures=1), Sink()
    registry = CollectorRegistry()
    store = RedisLinkage(connect_async(redis_url), settings, key_prefix=key_prefix)
    ledger = AlertLedger(RedisWindowStore(connect_async(redis_url), key_prefix=key_prefix))
    handler = LinkageHandler(
        store, ledger, lambda: config, alerts, dlq, Metrics.create(registry),
        give_up=lambda _: None, retry=RetryPolicy(max_backoff_seconds=0.01),
    )  # fmt: skip
    try:
        await handler.handle(messages)
    finally:
        await store.close()
        await ledger.store.close()
    (alert,) = map(orjson.loads, alerts.sent)
    assert alert["rule_id"] == "hydra_cluster"
    assert alert["subject"]["accounts"] == ["acct_0", "acct_1", "acct_2"]
    assert set(dlq.sent) == {b'{"v": 1, "records": [{"a": ""}]}'}  # at least once, as every sink
    assert {h["dw-reason"] for h in dlq.headers} == {BAD_LINK_RECORD.encode()}
    applied = registry.get_sample_value("distillwatch_link_records_total", {"outcome": "applied"})
    assert applied == 3
