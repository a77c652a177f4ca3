"""Embedded driver: run the pipeline over a JSONL file in-process, on event time.

Used by `distillwatch replay` and `backtest`. Lines are read in batches and fed to the same
`DetectionPipeline` the live worker uses; alerts go to a JSONL file and to a callback as they
fire; malformed lines go to a dead-letter JSONL file (reason, line number, payload in base64,
since the payload may not be valid UTF-8).
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from detectors.adapters.base import Adapter, Rejected
from detectors.alerts import changed_at
from detectors.windows import APPLIED
from streams.adapted_input import expand
from streams.outcome import BatchOutcome
from streams.pipeline import DetectionPipeline
from streams.risk_trace import RiskTrace

DEFAULT_BATCH_SIZE = 1000


@dataclass(slots=True)
class ReplaySummary:
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    late: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    first_event_ts: float | None = None
    last_event_ts: float | None = None
    accounts: set[str] = field(default_factory=set)
    # account -> [first event time, requests, output tokens] so far
    account_totals: dict[str, list[float]] = field(default_factory=dict)
    # account -> (requests, output tokens, event time) up to and including its first alert
    first_alert: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    risk_trace: RiskTrace | None = None  # filled when the pipeline records risk
    # rule -> accounts a shadow rule found (counted and reported, never alerted)
    shadow_accounts: dict[str, set[str]] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def add(self, payload_count: int, outcome: BatchOutcome) -> None:
        self.events += payload_count
        self.applied += outcome.applied
        self.duplicates += outcome.duplicates
        self.late += outcome.late
        self.dead_letters.update(letter.reason for letter in outcome.dead_letters)
        self.alerts.extend(outcome.alerts)
        for finding in outcome.shadow_findings:
            self.shadow_accounts.setdefault(finding.rule_id, set()).add(finding.account_id)
        alert_times: dict[str, float] = {}
        for alert in outcome.alerts:
            if alert["status"] != "firing":
                continue
            fired = changed_at(alert)
            for account in alert["subject"]["accounts"]:
                if account not in self.first_alert:
                    alert_times[account] = min(fired, alert_times.get(account, fired))
        for event, reading in zip(outcome.events, outcome.readings, strict=True):
            self.accounts.add(event.account_id)
            totals = self.account_totals.setdefault(event.account_id, [event.timestamp, 0, 0])
            if reading.status == APPLIED:  # a redelivered or too-late event is not a new request
                totals[0] = min(totals[0], event.timestamp)
                totals[1] += 1
                totals[2] += event.usage.output_tokens
            fired_at = alert_times.get(event.account_id)
            if fired_at is not None and event.timestamp >= fired_at - 0.001:
                self.first_alert[event.account_id] = (int(totals[1]), int(totals[2]), fired_at)
                del alert_times[event.account_id]
        for account, fired_at in alert_times.items():  # re-emitted alerts of earlier batches
            totals = self.account_totals.get(account, [fired_at, 0, 0])
            self.first_alert[account] = (int(totals[1]), int(totals[2]), fired_at)
        if self.risk_trace is not None and outcome.risks:
            self.risk_trace.add(outcome.risk_events, outcome.risks)
            self.risk_trace.add_rules(outcome.risk_events, outcome.rule_ids, outcome.rule_risks)
        if outcome.events:
            low = min(e.timestamp for e in outcome.events)
            high = max(e.timestamp for e in outcome.events)
            self.first_event_ts = (
                low if self.first_event_ts is None else min(low, self.first_event_ts)
            )
            self.last_event_ts = (
                high if self.last_event_ts is None else max(high, self.last_event_ts)
            )


class _LineTracker:
    """Reads the file in batches of v1 payloads (each line through the input format's adapter,
    if any) and maps a payload back to its file line for dead-letter records."""

    def __init__(self, handle: IO[bytes], batch_size: int, adapter: Adapter | None) -> None:
        self._lines: list[int] = []
        self._handle = handle
        self._batch_size = batch_size
        self._adapter = adapter
        # Lines (number, text) and their records that did not map, since the last batch
        self.rejected: list[tuple[int, bytes, Rejected]] = []

    def batches(self) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        self._lines = []
        for number, line in enumerate(self._handle, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if self._adapter is None:
                batch.append(stripped)
                self._lines.append(number)
            else:
                expanded = expand(self._adapter, [stripped])
                self.rejected += [(number, stripped, why) for _, why in expanded.rejected]
                batch += expanded.payloads
                self._lines += [number] * len(expanded.payloads)
            if len(batch) >= self._batch_size:
                yield batch
                batch, self._lines = [], []
        if batch or self.rejected:
            yield batch

    def line_of(self, index: int) -> int:
        return self._lines[index]


def _dead_letter(path: Path, line: int, reason: str, detail: str, payload: bytes) -> bytes:
    record = {
        "reason": reason,
        "detail": detail,
        "source": {"file": str(path), "line": line},
        "payload_base64": base64.b64encode(payload).decode(),
    }
    return orjson.dumps(record) + b"\n"


async def replay_file(
    path: Path,
    pipeline: DetectionPipeline,
    *,
    alerts_out: IO[bytes] | None = None,
    dlq_out: IO[bytes] | None = None,
    on_alert: Callable[[dict[str, Any]], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    adapter: Adapter | None = None,
) -> ReplaySummary:
    """`adapter`: the input format's (detectors/adapters); None reads events v1."""
    summary = ReplaySummary(risk_trace=RiskTrace() if pipeline.record_risk else None)
    started = time.perf_counter()
    with path.open("rb") as handle:
        tracker = _LineTracker(handle, batch_size, adapter)
        for batch in tracker.batches():
            for line, text, why in tracker.rejected:
                summary.dead_letters[why.reason] += 1
                if dlq_out is not None:
                    dlq_out.write(_dead_letter(path, line, why.reason, why.detail, text))
            tracker.rejected = []
            outcome = await pipeline.process(batch)
            for letter in outcome.dead_letters:
                if dlq_out is not None:
                    line = tracker.line_of(letter.index)
                    dlq_out.write(
                        _dead_letter(path, line, letter.reason, letter.detail, batch[letter.index])
                    )
            for alert in outcome.alerts:
                if alerts_out is not None:
                    alerts_out.write(orjson.dumps(alert) + b"\n")
                if on_alert is not None:
                    on_alert(alert)
            await pipeline.confirm_sent(outcome)
            summary.add(len(batch), outcome)
            if on_progress is not None:
                on_progress(handle.tell())
    summary.elapsed_seconds = time.perf_counter() - started
    return summary
