"""`distillwatch simulate --to-kafka` on a real broker: every event arrives, keyed by account."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import main
from tests.integration.harness import TopicReader, poll_until

pytestmark = pytest.mark.integration


def test_simulated_events_reach_the_topic_keyed_by_account(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"it-{uuid.uuid4().hex[:8]}-sim"
    out = tmp_path / "events.jsonl"
    status = main(
        [
            "simulate",
            "--scenario",
            "self_instruct",
            "--hours",
            "1",
            "--accounts",
            "5",
            "--out",
            str(out),
            "--to-kafka",
            kafka_bootstrap,
            "--topic",
            topic,
        ]
    )
    assert status == 0
    lines = out.read_bytes().splitlines()
    assert lines
    reader = TopicReader(kafka_bootstrap, topic)

    def all_arrived() -> list[Any] | None:
        records = reader.poll()
        return records if len(records) >= len(lines) else None

    try:
        records = poll_until(all_arrived, f"{len(lines)} records on {topic}")
    finally:
        reader.close()
    assert sorted(r.value for r in records) == sorted(lines)
    for record in records:
        account = orjson.loads(record.value)["account_id"]
        assert record.key == account.encode()
