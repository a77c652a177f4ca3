"""Malformed payloads of every kind, generated, through the live worker (issue 8): each lands
in the dead-letter topic with its reason, and the good events around them count exactly."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.decode import REASONS, decode_event
from detectors.errors import EventDecodeError
from tests.helpers import make_event
from tests.integration.harness import TopicReader, Topics, poll_until, produce, run_worker
from tests.integration.test_worker_kafka import keyed, window_total

pytestmark = pytest.mark.integration
ACCOUNT = "acct_it_fuzz_good"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def wrong_typed_event(draw: st.DrawFn) -> bytes:
    account = draw(st.sampled_from(["acct_fz1", "acct[/]x", "a\u202eb", "é" * 200]))
    event = make_event(account, event_id="evt-fuzz")
    path = draw(
        st.sampled_from(
            [("timestamp",), ("account_id",), ("usage", "output_tokens"),
             ("request", "max_tokens"), ("request", "messages"), ("client", "asn"),
             ("response", "status"), ("request", "logit_bias")]
        )
    )  # fmt: skip
    value = draw(
        st.sampled_from(
            [10**30, -(10**20), 1e300, "lots", [1, 2], {"x": 1}, True, "", "9" * 400,
             "2026-02-23T10:00:00", "20260223T100000Z", nested(200), -5, "a" * 300]
        )
    )  # fmt: skip
    target = event
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return json.dumps(event).encode()  # the json module writes integers past 64 bits too


def reason_of(payload: bytes) -> str | None:
    try:
        decode_event(payload)
    except EventDecodeError as error:
        return error.reason
    return None


def refused(payload: bytes) -> bool:
    """A mutation can land on a valid value (a string is a fine account id): only payloads the
    contract refuses are kept. The decoder's reasons are its unit tests' business; this test is
    about what the live worker does with every refused payload."""
    try:
        decode_event(payload)
    except EventDecodeError:
        return True
    return False


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["broken_json", "not_object", "invalid_utf8", "wrong"]))
    if kind == "broken_json":
        text = orjson.dumps(make_event("acct_fz2", event_id="evt-fuzz"))
        return text[: draw(st.integers(1, len(text) - 1))]
    if kind == "not_object":
        return json.dumps(draw(json_scalars | st.lists(json_scalars, max_size=3))).encode()
    if kind == "invalid_utf8":
        good = orjson.dumps(make_event("acct_fz3", event_id="evt-fuzz"))
        cut = draw(st.integers(1, len(good) - 2))
        return (
            good[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + good[cut:]
        )
    return wrong_typed_event(draw)


def generated_payloads(count: int) -> list[bytes]:
    """`count` refused payloads as hypothesis explores the strategy (one worker run for all:
    a worker per example would take minutes)."""
    found: list[bytes] = []

    @settings(max_examples=count, deadline=None, database=None)
    @given(mutated().filter(refused))
    def collect(payload: bytes) -> None:
        found.append(payload)

    collect()
    return list(dict.fromkeys(found))  # hypothesis may replay an example


def test_generated_malformed_payloads_each_reach_the_dlq_with_a_reason(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str
) -> None:
    bad = generated_payloads(150)
    reasons = Counter(reason_of(payload) for payload in bad)
    assert len(reasons) >= 4, reasons  # broken JSON, wrong types, bad values, bad timestamps...
    key_prefix = f"fuzz-{uuid.uuid4().hex[:8]}"
    topics = Topics.fresh()
    good = [make_event(ACCOUNT, 1_771_840_800 + i) for i in range(len(bad))]
    messages: list[tuple[bytes, bytes]] = []
    for index, payload in enumerate(bad):
        messages += keyed([good[index]])
        messages.append((f"bad-{index}".encode(), payload))
    produce(kafka_bootstrap, topics.input, messages)
    client = redis.Redis.from_url(redis_url)
    dlq = TopicReader(kafka_bootstrap, topics.dlq)
    try:
        with run_worker(
            tmp_path, kafka_bootstrap, redis_url, topics, f"it-{uuid.uuid4().hex[:6]}", key_prefix
        ) as worker:
            poll_until(lambda: len(dlq.poll()) >= len(bad), "every dead letter", worker=worker)
            poll_until(
                lambda: window_total(client, key_prefix, ACCOUNT) == len(good),
                "every good event counted",
                worker=worker,
            )
        letters = {record.key: record for record in dlq.records}
        assert len(letters) == len(dlq.records) == len(bad)
        for index, payload in enumerate(bad):
            record = letters[f"bad-{index}".encode()]
            headers = dict(record.headers)
            assert headers["dw-reason"].decode() in REASONS
            assert record.value == payload
    finally:
        dlq.close()
        client.close()
