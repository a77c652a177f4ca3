"""What one batch produced: the pipeline's answer to its driver (worker, replay, tests)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from detectors.contract import StateLayout
from detectors.event import InferenceEvent
from detectors.windows import APPLIED, WindowReading
from streams.link_messages import LinkRecord
from streams.store import AlertSchedule


@dataclass(frozen=True, slots=True)
class DeadLetter:
    index: int  # position of the payload in the batch
    reason: str  # stable code from detectors.decode
    detail: str  # names the field, never its value


class ShadowHit(NamedTuple):
    """A shadow rule's incident opening: counted and reported, never sent."""

    rule_id: str
    account_id: str


@dataclass(slots=True)
class BatchOutcome:
    alerts: list[dict[str, Any]] = field(default_factory=list)  # state changes, in order
    # To confirm once the alerts are produced (streams/alert_ledger.py).
    alerts_delivered: list[tuple[str, int]] = field(default_factory=list)
    alert_schedules: list[AlertSchedule] = field(default_factory=list)
    suppressed: Counter[str] = field(default_factory=Counter)  # rule id -> crossings
    dead_letters: list[DeadLetter] = field(default_factory=list)
    events: list[InferenceEvent] = field(default_factory=list)
    event_indexes: list[int] = field(default_factory=list)  # each event's payload position
    event_sources: list[str] = field(default_factory=list)  # each event's topic:partition
    readings: list[WindowReading] = field(default_factory=list)
    # When the pipeline records risk: the events rules were judged on (one per account per
    # batch), the highest alerting rule's risk at each, and every rule's risk at each.
    risk_events: list[InferenceEvent] = field(default_factory=list)
    risks: list[float] = field(default_factory=list)
    rule_risks: list[tuple[float, ...]] = field(default_factory=list)
    rule_ids: tuple[str, ...] = ()  # the order of rule_risks
    applied: int = 0
    duplicates: int = 0
    late: int = 0
    shadow_findings: list[ShadowHit] = field(default_factory=list)
    excepted: int = 0  # findings suppressed by a rule exception
    detector_errors: list[str] = field(default_factory=list)  # rule ids skipped this batch
    link_records: list[LinkRecord] = field(default_factory=list)  # for the linkage topic
    layout: StateLayout | None = None  # the state layout the batch was applied with

    def applied_accounts(self) -> list[str]:
        """Accounts with at least one event counted in this batch, in first-seen order."""
        accounts = {
            event.account_id: None
            for event, reading in zip(self.events, self.readings, strict=True)
            if reading.status == APPLIED
        }
        return list(accounts)
