"""The live worker reads gateway topics (`--extra-input TOPIC=FORMAT`): their records are mapped
to events v1 and re-keyed by account onto the input topic (streams/normalizer.py). LiteLLM
batches of several calls per Kafka message count each call once; a record that does not map
goes to the dead-letter topic once, as it was read, with its reasons, and the rest of its
message is counted. Kong entries and OTLP exports of several traces are counted call by call."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path

import orjson
import pytest
import redis

from tests.adapter_checks import as_litellm
from tests.integration.harness import (
    TopicReader,
    Topics,
    WorkerProcess,
    poll_until,
    produce,
    start_worker,
)
from tests.integration.test_worker_kafka import window_total
from tests.unit.test_adapter_kong import as_kong
from tests.unit.test_adapter_otlp import as_otlp_export

T0 = 1_772_272_800
APPLIED = 'distillwatch_events_total{outcome="applied"} 150.0'
# The third message's two records without an account: two records mapped to no event, sent
# as one dead letter (the message as it was read)
NORMALIZED = (
    'distillwatch_normalized_total{format="litellm",outcome="event"} 150.0',
    'distillwatch_normalized_total{format="litellm",outcome="dead_letter"} 2.0',
)


def v1_event(account: str, index: int) -> dict[str, object]:
    return {
        "event_id": f"{account}-{index}",
        "timestamp": T0 + index * 20,
        "account_id": account,
        "model": "frontier-large",
        "request": {"messages": [{"role": "user", "content": f"question number {index}"}]},
        "usage": {"input_tokens": 30, "output_tokens": 200},
    }


def metrics_showing(worker: WorkerProcess, *series: str) -> str | None:
    """The worker's metrics once they show every one of `series` (name{labels} value)."""
    try:
        metrics = worker.metrics()
    except OSError:  # not serving yet
        return None
    return metrics if all(line in metrics for line in series) else None


def test_litellm_batches_count_each_call_once_and_dead_letter_what_does_not_map(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str
) -> None:
    topics = Topics.fresh()
    logs = f"{topics.input}-litellm"
    # Six messages, each a generic_api batch of 25 calls of two accounts; the third also
    # holds two records without an account
    calls = [as_litellm(v1_event(account, i)) for i in range(75) for account in ("acme", "zeta")]
    messages = [orjson.dumps(calls[start : start + 25]) for start in range(0, 150, 25)]
    anonymous = [{"id": "x", "startTime": T0}, {"id": "y", "startTime": T0}]
    messages[2] = orjson.dumps([*orjson.loads(messages[2]), *anonymous])
    produce(kafka_bootstrap, logs, [(b"gateway-1", message) for message in messages])
    client = redis.Redis.from_url(redis_url)
    dlq = TopicReader(kafka_bootstrap, topics.dlq)
    app_id = f"fmt-{uuid.uuid4().hex[:6]}"
    extra = ["--extra-input", f"{logs}=litellm"]
    try:
        worker = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, app_id, key_prefix,
                              batch_size=4, extra_args=extra)  # fmt: skip
        try:
            metrics = poll_until(
                partial(metrics_showing, worker, APPLIED, *NORMALIZED), "every call", worker=worker
            )
        finally:
            worker.stop()
        assert window_total(client, key_prefix, "acme") == 75
        assert window_total(client, key_prefix, "zeta") == 75
        assert 'distillwatch_dead_letters_total{reason="missing_field"} 1.0' in metrics
        poll_until(dlq.poll, "the dead letters")
        letter = dlq.records[0]
        headers = dict(letter.headers)
        assert headers["dw-reason"] == b"missing_field"
        assert headers["dw-detail"].startswith(b"record 25: missing_field")
        assert headers["dw-source-topic"] == logs.encode()
        assert letter.value == messages[2]  # the gateway's record, as it was read
    finally:
        dlq.close()


@pytest.mark.parametrize("input_format", ["kong", "otlp-json"])
def test_kong_entries_and_otlp_exports_are_read_by_the_worker(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str, input_format: str
) -> None:
    topics = Topics.fresh()
    logs = f"{topics.input}-{input_format}"
    events = [v1_event(account, i) for i in range(40) for account in ("acme", "zeta")]
    if input_format == "kong":  # kafka-log: one entry per message
        messages = [orjson.dumps(as_kong(event)) for event in events]
    else:  # the Collector's kafka exporter: one export of several traces per message
        messages = [orjson.dumps(as_otlp_export(events[i : i + 8])) for i in range(0, 80, 8)]
    produce(kafka_bootstrap, logs, [(b"gateway-1", message) for message in messages])
    client = redis.Redis.from_url(redis_url)
    worker = start_worker(tmp_path, kafka_bootstrap, redis_url, topics, f"fmt-{key_prefix}",
                          key_prefix, batch_size=16,
                          extra_args=["--extra-input", f"{logs}={input_format}"])  # fmt: skip
    try:
        poll_until(
            lambda: (
                window_total(client, key_prefix, "acme") == 40
                and window_total(client, key_prefix, "zeta") == 40
            ),
            f"every {input_format} call counted",
            worker=worker,
        )
    finally:
        worker.stop()
