"""The live worker end to end on a real Kafka broker and a real Redis."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from streams.account_state import decode_account_state
from streams.config_loader import load_config
from tests.helpers import ROOT, harvest_events, make_event
from tests.integration.harness import (
    TopicReader,
    Topics,
    committed_everything,
    poll_until,
    produce,
    run_worker,
    start_worker,
)

pytestmark = pytest.mark.integration


def keyed(events: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    return [(e["account_id"].encode(), orjson.dumps(e)) for e in events]


def metric_value(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in the metrics")


# The worker runs the shipped configuration: its state layout names the keys.
LAYOUT = load_config(ROOT / "config" / "detectors.yaml").layout


def state_key(prefix: str, account: str) -> str:
    return f"{prefix}:{{acct:{account}}}:L{LAYOUT.version}:state"


def window_total(client: redis.Redis, prefix: str, account: str, window: str = "24h") -> int:
    raw = client.get(state_key(prefix, account))
    return decode_account_state(raw).total(LAYOUT, window, "requests") if raw else 0


def snapshot(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every account's state under a prefix, decoded, by key minus the prefix."""
    state: dict[str, Any] = {}
    for key in client.scan_iter(match=f"{prefix}:*:state", count=1000):
        state[key.decode().removeprefix(prefix)] = decode_account_state(client.get(key))
    return state


def test_harvester_alert_reaches_the_alerts_topic_and_state_is_in_redis(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    topics = Topics.fresh()
    harvester = harvest_events("acct_it_harvest", 230)
    benign = [
        make_event(
            "acct_it_chat",
            1_771_840_800 + i * 30,
            single_turn=i % 3 != 0,
            output_tokens=300,
            finish="stop",
        )
        for i in range(120)
    ]
    produce(
        kafka_bootstrap,
        topics.input,
        keyed(sorted(harvester + benign, key=lambda e: e["timestamp"])),
    )
    client = redis.Redis.from_url(redis_url)
    reader = TopicReader(kafka_bootstrap, topics.alerts)
    try:
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, f"it-{uuid.uuid4().hex[:6]}", key_prefix
        ) as worker:
            records = poll_until(
                lambda: reader.poll(), "an alert on the alerts topic", worker=worker
            )
            poll_until(
                lambda: (
                    window_total(client, key_prefix, "acct_it_harvest") == 230
                    and window_total(client, key_prefix, "acct_it_chat") == 120
                ),
                "window totals in Redis",
                worker=worker,
            )
            # A batch is counted once delivered and confirmed, after its state is written.
            applied = 'distillwatch_events_total{outcome="applied"} 350.0'
            metrics = poll_until(
                lambda: text if applied in (text := worker.metrics()) else None,
                "the batches counted in the metrics",
                worker=worker,
            )
        alert = orjson.loads(records[0].value)
        assert records[0].key == b"extraction_combined:account:acct_it_harvest"
        assert alert["subject"]["accounts"] == ["acct_it_harvest"]
        # sustained over a third hour: from the 121st request on, judged at a batch's end
        assert 121 <= alert["evidence"]["extraction_score"]["requests"] <= 230
        assert all(
            orjson.loads(r.value)["subject"]["account_id"] != "acct_it_chat" for r in records
        )
        assert client.ttl(state_key(key_prefix, "acct_it_harvest")) > 0
        assert 'distillwatch_events_total{outcome="applied"} 350.0' in metrics
        severity = alert["severity"]
        assert (
            'distillwatch_alerts_total{rule_id="extraction_combined",'
            f'severity="{severity}",transition="firing"}} 1.0' in metrics
        )
        assert "distillwatch_batch_processing_seconds_bucket" in metrics
    finally:
        reader.close()
        client.close()


def test_malformed_messages_go_to_the_dlq_and_good_ones_are_processed(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    topics = Topics.fresh()
    good = [
        make_event("acct_it_good", 1_771_840_800 + i, finish="stop", output_tokens=10)
        for i in range(6)
    ]
    bad: list[tuple[bytes, bytes]] = [
        (b"k1", b"this is not json"),
        (b"k2", orjson.dumps({"event_id": "x", "timestamp": 1, "model": "m"})),
        (b"k3", orjson.dumps(make_event("acct_it_good", usage={"output_tokens": "lots"}))),
        (b"k4", os.urandom(1024 * 1024)),
        (b"k5", b'{"event_id": "\xc3\x28", "account_id": "a"}'),
    ]
    expected_reasons = {
        b"k1": "not_json",
        b"k2": "missing_field",
        b"k3": "wrong_type",
        b"k4": "invalid_utf8",
        b"k5": "invalid_utf8",
    }
    messages = keyed(good[:2]) + bad[:3] + keyed(good[2:4]) + bad[3:] + keyed(good[4:])
    produce(kafka_bootstrap, topics.input, messages)
    client = redis.Redis.from_url(redis_url)
    dlq = TopicReader(kafka_bootstrap, topics.dlq)
    try:
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, f"it-{uuid.uuid4().hex[:6]}", key_prefix
        ) as worker:
            poll_until(lambda: len(dlq.poll()) >= len(bad), "dead letters", worker=worker)
            records = dlq.records
            poll_until(
                lambda: window_total(client, key_prefix, "acct_it_good") == 6,
                "the good events in Redis",
                worker=worker,
            )
            # The worker is still alive and still processing after the bad messages.
            produce(
                kafka_bootstrap, topics.input, keyed([make_event("acct_it_good", 1_771_840_900)])
            )
            poll_until(
                lambda: window_total(client, key_prefix, "acct_it_good") == 7,
                "an event after the bad ones",
                worker=worker,
            )
            metrics = worker.metrics()
        by_key = {r.key: r for r in records}
        assert set(by_key) == set(expected_reasons)
        for key, reason in expected_reasons.items():
            headers = dict(by_key[key].headers)
            assert headers["dw-reason"].decode() == reason
            assert headers["dw-source-topic"].decode() == topics.input
            assert int(headers["dw-source-offset"]) >= 0
            assert by_key[key].value == dict(bad)[key]
        assert 'distillwatch_dead_letters_total{reason="invalid_utf8"} 2.0' in metrics
    finally:
        dlq.close()
        client.close()


def test_redelivery_after_a_crash_counts_every_event_once(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    topics = Topics.fresh()
    accounts = [f"acct_it_r{i}" for i in range(6)]
    events = [
        make_event(accounts[i % 6], 1_771_840_800 + i * 0.7, single_turn=i % 4 != 0)
        for i in range(12_000)
    ]
    produce(kafka_bootstrap, topics.input, keyed(events))
    expected = {a: sum(1 for e in events if e["account_id"] == a) for a in accounts}
    client = redis.Redis.from_url(redis_url)

    def totals(prefix: str) -> dict[str, int]:
        return {a: window_total(client, prefix, a) for a in accounts}

    clean, crashed = f"{key_prefix}-clean", f"{key_prefix}-crash"
    try:
        # A clean pass.
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, f"{key_prefix}-g1", clean, batch_size=100
        ) as worker:
            poll_until(
                lambda: totals(clean) == expected, "the clean pass", worker=worker, deadline_s=180
            )
        # A pass killed mid-stream (no graceful commit), restarted on the same group.
        group = f"{key_prefix}-g2"
        worker = start_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, group, crashed, batch_size=100
        )
        try:
            poll_until(
                lambda: 2_000 < sum(totals(crashed).values()) < 10_000,
                "the crash pass to be mid-stream",
                worker=worker,
                deadline_s=180,
            )
        finally:
            worker.stop(signal.SIGKILL)
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, group, crashed, batch_size=100
        ) as worker:
            poll_until(
                lambda: committed_everything(kafka_bootstrap, group, topics.input),
                "the restarted pass to commit the end",
                worker=worker,
                deadline_s=180,
            )
        # Everything consumed again by a new group: every event is a redelivery.
        group3 = f"{key_prefix}-g3"
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, group3, crashed, batch_size=100
        ) as worker:
            poll_until(
                lambda: committed_everything(kafka_bootstrap, group3, topics.input),
                "the full redelivery to commit the end",
                worker=worker,
                deadline_s=180,
            )
            metrics = worker.metrics()
        assert totals(crashed) == expected
        assert snapshot(client, crashed) == snapshot(client, clean)
        # Nothing new was applied: recent events are duplicates, those beyond the dedupe
        # horizon behind each account's newest event are late.
        counts = {
            outcome: metric_value(metrics, f'distillwatch_events_total{{outcome="{outcome}"}}')
            for outcome in ("applied", "duplicate", "late")
        }
        assert counts["applied"] == 0
        assert counts["duplicate"] + counts["late"] == 12_000 and counts["duplicate"] > 0
    finally:
        client.close()
