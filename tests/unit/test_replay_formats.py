"""`replay --input-format`: a file of gateway log lines replays as the events they map to, and
a line that does not map goes to the dead-letter file with its line number and reason."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson

from detectors.adapters import adapter_for
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.replay import replay_file
from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm
from tests.helpers import ROOT


def pipeline() -> DetectionPipeline:
    return DetectionPipeline(load_config(ROOT / "config" / "detectors.yaml"), MemoryWindowStore())


def alert_keys(out: io.BytesIO) -> list[tuple[str, str, str]]:
    alerts = [orjson.loads(line) for line in out.getvalue().splitlines()]
    return [(a["rule_id"], a["dedup_key"], a["transition"]) for a in alerts]


async def test_litellm_lines_replay_as_their_events_and_bad_lines_are_dead_letters(
    tmp_path: Path,
) -> None:
    events: list[dict[str, Any]] = [
        orjson.loads(line) for line in simulate("all", hours=1, seed=6, benign_accounts=10).lines()
    ]
    records = [as_litellm(event) for event in events]
    adapter = adapter_for("litellm")
    assert adapter is not None
    v1 = tmp_path / "events.jsonl"
    v1.write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for r in records for e in adapter(orjson.dumps(r)).events)
    )
    logs = tmp_path / "litellm.ndjson"
    lines = [orjson.dumps(record) for record in records]
    lines.insert(7, b'{"id": "no-account", "startTime": 1772272800}')
    logs.write_bytes(b"\n".join(lines) + b"\n")

    expected, alerts, dead = io.BytesIO(), io.BytesIO(), io.BytesIO()
    await replay_file(v1, pipeline(), alerts_out=expected)
    summary = await replay_file(logs, pipeline(), alerts_out=alerts, dlq_out=dead, adapter=adapter)

    assert alert_keys(alerts) == alert_keys(expected) != []
    letters = [orjson.loads(line) for line in dead.getvalue().splitlines()]
    assert [(d["reason"], d["source"]["line"]) for d in letters] == [("missing_field", 8)]
    assert summary.dead_letters["missing_field"] == 1
