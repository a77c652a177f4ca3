"""Alerts do not depend on where batches start: the live worker's batches move with every
crash, rebalance and consumer lag, so the same stream must give the same alerts whatever
they are (the chaos suite compares a crashed pass with a clean one)."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.cli import main
from streams.sim.scenarios import simulate

EVENTS = 25_000  # the chaos suite's stream, first half: busy and borderline accounts alike


def alerted(path: Path) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """Every state change: its id (incident and step), transition, time and subjects."""
    return {
        (
            alert["alert_id"],
            alert["transition"],
            alert["changed_at"],
            tuple(alert["subject"]["accounts"]),
        )
        for alert in map(orjson.loads, path.read_bytes().splitlines())
    }


def test_batch_size_does_not_change_the_alerts(tmp_path: Path) -> None:
    sim = simulate("all", hours=20, seed=5, benign_accounts=60)
    events = tmp_path / "events.jsonl"
    with events.open("wb") as handle:
        for count, line in enumerate(sim.lines(), start=1):
            handle.write(line + b"\n")
            if count == EVENTS:
                break
    runs = []
    for batch in (1000, 37):
        out = tmp_path / f"alerts-{batch}.jsonl"
        assert main(["replay", str(events), "--quiet", "--batch-size", str(batch),
                     "--alerts-out", str(out)]) == 0  # fmt: skip
        runs.append(alerted(out))
    assert runs[0], "the stream raises alerts"
    assert runs[0] == runs[1], (sorted(runs[0] - runs[1]), sorted(runs[1] - runs[0]))
