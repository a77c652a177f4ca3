"""The chaos suite (issue 8): nothing lost, nothing counted twice, every alert once, through
crashes of every part.

One simulated stream (every attack family and benign traffic) goes through the real worker on
a Kafka broker and a Redis of its own (Redis with AOF), twice: a clean single pass, and a pass
during which the suite kills a worker with SIGKILL mid-batch three times, kills and restarts
Redis, kills and restarts the Kafka broker, and runs two workers through a rebalance. Then
every account's state of the two passes (windows, buckets, offsets, recent event keys) must be
equal, account by account, and so must the alerts: one per rule and account in both.

The cross-account stage runs too (the linkage agent of every worker, one graph in Redis): the
clusters of both passes must add up to the same members, requests and tokens.

Per-account alerts are compared by id: an alert's id derives from the event it fired on, and
which events of an account are judged depends on the account's own stream, not on where
batches start (streams/pipeline.py), so a crash moves no alert. A batch interrupted before its
effects were delivered starts again from the state it found (streams/store.py, "judged
once"). The alert ledger keeps one incident per rule and subject, and a redelivered batch
re-sends what it never saw delivered under the same ids (streams/alert_ledger.py).
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import testenv  # scripts/, on the path from tests/conftest.py

from streams.account_state import decode_account_state
from streams.sim.scenarios import simulate
from tests.integration.chaos import PersistentRedis
from tests.integration.harness import (
    TopicReader,
    Topics,
    WorkerProcess,
    committed_everything,
    free_port,
    linkage_totals,
    poll_until,
    produce,
    run_worker,
    start_worker,
)
from tests.integration.test_worker_kafka import LAYOUT, snapshot

pytestmark = pytest.mark.integration
EVENTS = 50_000
BATCH = 500


def stream() -> list[tuple[bytes, bytes]]:
    sim = simulate("all", hours=20, seed=5, benign_accounts=60)
    messages = []
    for line in sim.lines():
        messages.append((orjson.loads(line)["account_id"].encode(), line))
        if len(messages) == EVENTS:
            break
    assert len(messages) == EVENTS
    return messages


def counted(client: redis.Redis, prefix: str) -> int:
    """Events counted so far under a prefix (the 7-day windows' request totals)."""
    keys = list(client.scan_iter(match=f"{prefix}:*:state", count=1000))
    if not keys:
        return 0
    total = 0
    for raw in client.mget(keys):
        if raw is not None:  # expired or deleted since the scan
            total += decode_account_state(raw).total(LAYOUT, "7d", "requests")
    return total


def account_alerts(reader: TopicReader) -> list[dict[str, Any]]:
    """The per-account alerts read so far. (Cluster alerts report a cluster when it comes due
    in the order the linkage agent applies records, which batches change: their sums are
    compared instead, below.)"""
    reader.poll()
    alerts = [orjson.loads(record.value) for record in reader.records]
    return [alert for alert in alerts if alert["subject"]["kind"] == "account"]


def alerted(reader: TopicReader) -> set[tuple[str, tuple[str, ...]]]:
    return {(a["rule_id"], tuple(a["subject"]["accounts"])) for a in account_alerts(reader)}


def test_crashes_of_every_part_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    broker = testenv.KafkaBroker(tmp_path / "kafka", "127.0.0.1", free_port())
    broker.start()
    kafka_bootstrap = broker.bootstrap
    store = PersistentRedis(tmp_path / "redis")
    store.start()
    client = redis.Redis.from_url(store.url)
    run = uuid.uuid4().hex[:6]
    # One input topic, read by two consumer groups: the same offsets in both passes.
    clean_topics, chaos_topics = Topics.fresh(), Topics.fresh()
    chaos_topics.input = clean_topics.input
    produce(kafka_bootstrap, clean_topics.input, stream())
    clean, chaos = f"chaos-{run}-clean", f"chaos-{run}-chaos"
    workers: list[WorkerProcess] = []

    def start(group: str) -> WorkerProcess:
        worker = start_worker(
            tmp_path, kafka_bootstrap, store.url, chaos_topics, group, chaos, batch_size=BATCH
        )
        workers.append(worker)
        return worker

    def progressed(beyond: int, worker: WorkerProcess) -> None:
        poll_until(
            lambda: counted(client, chaos) > beyond,
            f"{beyond:,} events counted",
            worker=worker,
            deadline_s=300,
        )

    try:
        with run_worker(
            tmp_path, kafka_bootstrap, store.url, clean_topics, f"{clean}-g", clean, BATCH
        ) as worker:
            poll_until(
                lambda: (
                    committed_everything(kafka_bootstrap, f"{clean}-g", clean_topics.input)
                    and committed_everything(kafka_bootstrap, f"{clean}-g", clean_topics.linkage)
                ),
                "the clean pass",
                worker=worker,
                deadline_s=600,
            )
        group = f"{chaos}-g"
        first = start(group)
        progressed(5_000, first)
        first.stop(signal.SIGKILL)  # crash 1, mid-batch
        second = start(group)
        progressed(12_000, second)
        store.kill()  # Redis dies under the worker, and comes back on its AOF
        store.start()
        progressed(18_000, second)
        broker.kill()  # the broker dies under the worker, and comes back on its logs
        broker.start()
        progressed(22_000, second)
        third = start(group)  # a second worker: the group rebalances
        progressed(26_000, third)
        second.stop(signal.SIGKILL)  # crash 2: its partitions move to the third worker
        progressed(34_000, third)
        third.stop(signal.SIGKILL)  # crash 3
        last = start(group)
        poll_until(
            lambda: (
                committed_everything(kafka_bootstrap, group, chaos_topics.input)
                and committed_everything(kafka_bootstrap, group, chaos_topics.linkage)
            ),
            "the chaos pass to commit the end",
            worker=last,
            deadline_s=600,
        )
        last.stop()
        assert counted(client, chaos) == counted(client, clean) == EVENTS
        assert snapshot(client, chaos) == snapshot(client, clean)
        clusters = linkage_totals(store.url, clean)
        assert clusters and linkage_totals(store.url, chaos) == clusters
        clean_alerts, chaos_alerts = TopicReader(kafka_bootstrap, clean_topics.alerts), None
        try:
            chaos_alerts = TopicReader(kafka_bootstrap, chaos_topics.alerts)
            expected = poll_until(lambda: alerted(clean_alerts), "the clean pass's alerts")
            assert poll_until(lambda: alerted(chaos_alerts) == expected or None, "alerts") is True
            ids = {a["alert_id"] for a in account_alerts(chaos_alerts)}
            assert ids == {a["alert_id"] for a in account_alerts(clean_alerts)}
            # One message per state change: per incident (rule, subject, start) and step.
            per_change: dict[tuple[str, tuple[str, ...], str, int], set[str]] = {}
            for alert in account_alerts(chaos_alerts):
                subject = tuple(alert["subject"]["accounts"])
                key = (alert["rule_id"], subject, alert["fired_at"], alert["sequence"])
                per_change.setdefault(key, set()).add(alert["alert_id"])
            assert all(len(ids) == 1 for ids in per_change.values()), per_change
        finally:
            clean_alerts.close()
            if chaos_alerts is not None:
                chaos_alerts.close()
    finally:
        for worker in workers:
            worker.stop(signal.SIGKILL)
        client.close()
        store.stop()
        broker.stop()
