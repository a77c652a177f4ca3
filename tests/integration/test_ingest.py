"""`distillwatch ingest` as a gateway sees it, against the real Kafka: LiteLLM's generic_api
callback posts its batches with a bearer token; each answer comes after the broker's
acknowledgement; a half-bad batch gets its good records through; and end to end, simulated
traffic posted as LiteLLM logs reaches a live worker and raises the alerts an in-memory replay
of the same mapped events raises."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import testenv  # scripts/, on the path from tests/conftest.py

from detectors.adapters.litellm import litellm_adapter
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm
from tests.helpers import ROOT
from tests.integration.harness import (
    IngestProcess,
    TopicReader,
    Topics,
    free_port,
    poll_until,
    run_ingest,
    start_worker,
)
from tests.unit.test_adapter_kong import as_kong
from tests.unit.test_adapter_otlp import as_otlp_export

pytestmark = pytest.mark.integration
TOKEN = "ingest-test-token-" + uuid.uuid4().hex


@pytest.fixture
def topics() -> Topics:
    return Topics.fresh()


@pytest.fixture
def ingest_args() -> list[str]:
    """Options added to the ingest command (a test parametrizes it)."""
    return []


@pytest.fixture
def ingest(
    tmp_path: Path, kafka_bootstrap: str, topics: Topics, ingest_args: list[str]
) -> Iterator[IngestProcess]:
    with run_ingest(tmp_path, kafka_bootstrap, topics.input, TOKEN, ingest_args) as process:
        yield process


def test_authentication_size_limit_and_a_half_bad_batch(
    ingest: IngestProcess, kafka_bootstrap: str, topics: Topics
) -> None:
    lines = simulate("benign", hours=0.2, seed=4, benign_accounts=5).lines()
    good = [as_litellm(orjson.loads(line)) for line in lines][:20]
    batch = orjson.dumps([*good[:10], {"startTime": 1}, "not an object", *good[10:]])
    assert ingest.post("/v1/litellm", batch, token=None)[0] == 401
    assert ingest.post("/v1/litellm", batch, token="a-wrong-token")[0] == 401
    assert ingest.post("/v1/litellm", b"[" + b" " * 2_000_001 + b"]")[0] == 413

    status, answer = ingest.post("/v1/litellm", batch)

    assert status == 200, answer
    assert answer["accepted"] == 20
    assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [
        (10, "missing_field"),
        (11, "not_an_object"),
    ]
    reader = TopicReader(kafka_bootstrap, topics.input)
    try:
        poll_until(lambda: len(reader.poll()) >= 20, "the events")
        records = reader.records
    finally:
        reader.close()
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(
        g["litellm_call_id"] for g in good
    )
    assert all(r.key == orjson.loads(r.value)["account_id"].encode() for r in records)
    assert ingest.post("/v1/litellm", orjson.dumps([{"startTime": 1}]))[0] == 400


def test_litellm_logs_posted_to_ingest_raise_the_alerts_of_their_replay(
    tmp_path: Path,
    ingest: IngestProcess,
    kafka_bootstrap: str,
    redis_url: str,
    key_prefix: str,
    topics: Topics,
) -> None:
    events = [orjson.loads(line) for line in simulate("all", hours=1, seed=8,
                                                       benign_accounts=20).lines()]  # fmt: skip
    records = [as_litellm(event) for event in events]
    expected = asyncio.run(replayed_alerts(records))
    assert expected, "the simulated hour raises alerts"
    for start in range(0, len(records), 500):  # generic_api's batches
        status, answer = ingest.post("/v1/litellm", orjson.dumps(records[start : start + 500]))
        assert (status, answer["rejected"]) == (200, []), answer

    worker = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, f"ing-{key_prefix}",
                          key_prefix, batch_size=500)  # fmt: skip
    reader = TopicReader(kafka_bootstrap, topics.alerts)
    try:
        poll_until(
            lambda: firing(reader.poll()) >= expected, "the replay's alerts, live", 180, worker
        )
    finally:
        reader.close()
        worker.stop()
    assert firing(reader.records) == expected


async def replayed_alerts(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(rule, account) of the per-account incidents an in-memory replay of the mapped records
    opens (cross-account clusters depend on how the workers' batches interleave: not here)."""
    mapped = litellm_adapter()(orjson.dumps(records))
    assert not mapped.rejected
    pipeline = DetectionPipeline(
        load_config(ROOT / "config" / "detectors.yaml"), MemoryWindowStore()
    )
    opened: set[tuple[str, str]] = set()
    payloads = [orjson.dumps(event) for event in mapped.events]
    for start in range(0, len(payloads), 1000):
        outcome = await pipeline.process(payloads[start : start + 1000])
        opened |= per_account(outcome.alerts)
        await pipeline.confirm_sent(outcome)
    return opened


def firing(records: list[Any]) -> set[tuple[str, str]]:
    return per_account([orjson.loads(record.value) for record in records])


def per_account(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (alert["rule_id"], alert["subject"]["account_id"])
        for alert in alerts
        if alert.get("transition", alert["status"]) == "firing"
        and alert["subject"]["kind"] == "account"
    }


def test_otlp_traces_and_kong_entries_are_taken_on_their_routes(
    ingest: IngestProcess, kafka_bootstrap: str, topics: Topics
) -> None:
    lines = simulate("benign", hours=0.2, seed=9, benign_accounts=4).lines()
    events = [orjson.loads(line) for line in lines][:12]
    export = as_otlp_export(events[:6])
    status, answer = ingest.post("/v1/traces", orjson.dumps(export))
    assert (status, answer) == (200, {"partialSuccess": {}})
    request = urllib.request.Request(
        ingest.url + "/v1/traces", b"\x0a\x00", method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-protobuf"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 415
    status, answer = ingest.post("/v1/kong", orjson.dumps([as_kong(e) for e in events[6:]]))
    assert (status, answer["accepted"], answer["rejected"]) == (200, 6, [])

    reader = TopicReader(kafka_bootstrap, topics.input)
    try:
        poll_until(lambda: len(reader.poll()) >= 12, "the events")
    finally:
        reader.close()
    assert sorted(orjson.loads(r.value)["account_id"] for r in reader.records) == sorted(
        e["account_id"] for e in events
    )


METRICS_PORT = free_port()


@pytest.mark.parametrize(
    "ingest_args",
    [[
        "--account-field", "litellm=user_api_key_hash", "--account-field", "kong=consumer.id",
        "--metrics-port", str(METRICS_PORT),
    ]],
)  # fmt: skip
def test_the_account_field_is_chosen_per_format_and_otlp_hears_of_rejected_spans(
    ingest: IngestProcess, kafka_bootstrap: str, topics: Topics
) -> None:
    """The operator's account field per format, as the worker's `--account-field` (LiteLLM by
    key hash, Kong by consumer id; OTLP left at its default); an OTLP span without an account
    is reported in `partialSuccess` and the export's other spans go through; a Kong entry of
    no AI call (a route without the AI proxy) is skipped and counted, not rejected."""
    lines = simulate("benign", hours=0.2, seed=10, benign_accounts=4).lines()
    events = [e for e in map(orjson.loads, lines) if e.get("api_key_id")][:9]
    assert len(events) == 9
    status, answer = ingest.post("/v1/litellm", orjson.dumps([as_litellm(e) for e in events[:3]]))
    assert (status, answer["rejected"]) == (200, []), answer
    no_ai = {key: value for key, value in as_kong(events[3]).items() if key != "ai"}
    entries = [as_kong(e) for e in events[3:6]] + [no_ai]
    status, answer = ingest.post("/v1/kong", orjson.dumps(entries))
    assert (status, answer["accepted"], answer["rejected"]) == (200, 3, []), answer
    export = as_otlp_export(events[6:])
    spans = export["resourceSpans"][0]["scopeSpans"][0]["spans"]
    anonymous = spans[0]  # the SERVER span of events[6]'s call: who called
    assert any(a["key"] == "enduser.id" for a in anonymous["attributes"])
    anonymous["attributes"] = [a for a in anonymous["attributes"] if a["key"] != "enduser.id"]
    status, answer = ingest.post("/v1/traces", orjson.dumps(export))
    assert status == 200 and answer["partialSuccess"]["rejectedSpans"] == 1, answer
    assert "missing_field" in answer["partialSuccess"]["errorMessage"]

    reader = TopicReader(kafka_bootstrap, topics.input)
    try:
        poll_until(lambda: len(reader.poll()) >= 8, "the events")
    finally:
        reader.close()
    accounts = sorted(orjson.loads(r.value)["account_id"] for r in reader.records)
    expected = [e["api_key_id"] for e in events[:3]]
    expected += [f"uuid-{e['account_id']}" for e in events[3:6]]
    expected += [e["account_id"] for e in events[7:]]
    assert accounts == sorted(expected)
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as page:
        metrics = page.read().decode()
    for fmt, outcome, count in (("kong", "skipped", 1), ("kong", "accepted", 3),
                                ("otlp-json", "rejected", 1)):  # fmt: skip
        line = f'distillwatch_ingest_records_total{{format="{fmt}",outcome="{outcome}"}} {count}.0'
        assert line in metrics, line
    # Rejections by reason, every reason exported from the start (0 until it happens)
    for fmt, reason, count in (("otlp-json", "missing_field", 1), ("otlp-json", "not_json", 0),
                               ("kong", "bad_timestamp", 0)):  # fmt: skip
        line = f'distillwatch_ingest_rejections_total{{format="{fmt}",reason="{reason}"}} {count}.0'
        assert line in metrics, line
    assert 'reason="not_an_inference"' not in metrics  # skipped, never a rejection
    # Every answer's series from the start: an alert's increase() sees the first failure
    for code in ("400", "401", "413", "415", "500", "503"):
        line = f'distillwatch_ingest_requests_total{{code="{code}",format="litellm"}} 0.0'
        assert line in metrics, line


def test_a_kafka_outage_is_answered_503_with_retry_after_and_pushes_resume(
    tmp_path: Path,
) -> None:
    """The broker dies under a running ingest: a push is answered 503 with Retry-After once
    --produce-timeout has passed (not a hang, and not a 500, which OTLP exporters and Kong
    do not retry), and once the broker is back pushes are taken again. Every batch answered
    200 is on the topic."""
    broker = testenv.KafkaBroker(tmp_path / "kafka", "127.0.0.1", free_port())
    broker.start()
    topic = f"it-{uuid.uuid4().hex[:8]}-requests"
    lines = simulate("benign", hours=0.2, seed=12, benign_accounts=4).lines()
    calls = [as_litellm(orjson.loads(line)) for line in lines][:30]
    first, during, after = calls[:10], calls[10:20], calls[20:]
    try:
        extra = ["--produce-timeout", "3"]
        with run_ingest(tmp_path, broker.bootstrap, topic, TOKEN, extra) as ingest:
            assert ingest.post("/v1/litellm", orjson.dumps(first))[0] == 200
            broker.kill()
            status, answer, headers = ingest.exchange("/v1/litellm", orjson.dumps(during))
            assert status == 503, answer
            assert int(headers["Retry-After"]) > 0
            assert "retry" in answer["error"]
            broker.start()
            poll_until(
                lambda: ingest.post("/v1/litellm", orjson.dumps(after))[0] == 200,
                "ingest to take pushes again",
            )
        reader = TopicReader(broker.bootstrap, topic)
        try:
            wanted = {call["litellm_call_id"] for call in first + after}
            poll_until(
                lambda: wanted <= {orjson.loads(r.value)["event_id"] for r in reader.poll()},
                "every acknowledged call on the topic",
            )
        finally:
            reader.close()
    finally:
        broker.stop()
