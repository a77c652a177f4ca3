"""Alert lifecycle: what each crossing of a rule's threshold means for the alert on-call sees.

One incident per (rule, subject) at a time, named by its `dedup_key`:
- `firing`: the rule crosses its threshold and no incident is active: a page.
- `updated`: a crossing while active with materially more evidence (severity rose, or a
  cluster names more accounts): an update of the same incident, not a new page.
- `resolved`: no crossing for the incident's hold-down, in event time: at least
  `alerting.hold_down_seconds`, and at least the window its rule's evidence covers (a rule
  that judges 7 days of sparse requests must not resolve between two of them). The condition
  is judged at the subject's own requests, so a subject that stops sending is clear.
Any other crossing while active is *suppressed*: counted on the incident (`suppressed`) and
refreshing when it was last seen.

Every message carries the alert schema v1 fields (contracts.md §2) plus `transition`,
`sequence` (1, 2, ... within the incident), `changed_at`, `last_seen_at` and `suppressed`;
`status` stays `firing` or `resolved` (an update is `firing`), `fired_at` is the incident's
start and `alert_id` is unique per message, derived from the incident and sequence, so a
message produced twice (a redelivered batch) has the same id and sinks drop the copy.

Pure: the ledger (streams/alert_ledger.py) loads an `AlertState`, applies `observe` or
`expire`, and saves the result with its outbox, the messages not yet confirmed delivered.
A decision never depends on how the stream was batched: crossings at or before the time
already observed are skipped, and a resolution is stamped `last_seen + hold_down`, whenever
it is noticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from detectors.alerts import alert_id_for, build_alert, rfc3339
from detectors.findings import SEVERITY_RANK, Finding

FIRING = "firing"
UPDATED = "updated"
RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Crossing:
    """A rule at or past its threshold at one of the subject's events (event time `at`)."""

    finding: Finding
    at: float


@dataclass(frozen=True, slots=True)
class AlertState:
    """The ledger's entry for one dedup_key: the incident, active or last resolved."""

    dedup_key: str
    active: bool
    sequence: int  # of the last message, within its incident
    started_at: float  # the incident's first crossing: every message's fired_at
    last_seen: float  # the latest crossing (event time)
    observed_to: float  # crossings at or before this were counted already
    severity: str  # of the last message
    members: int  # accounts the last message named
    suppressed: int  # crossings of this incident that sent nothing
    source: str  # the stream whose clock resolves it (a partition, or the linkage stage)
    last: dict[str, Any]  # the last message, to build its update or resolution from
    hold_down: float = 0.0  # event time without a crossing after which it resolves


@dataclass(frozen=True, slots=True)
class Decision:
    state: AlertState | None  # None: nothing to save
    messages: tuple[dict[str, Any], ...] = ()  # new messages, in order


def _stamp(
    message: dict[str, Any], transition: str, state: AlertState, changed_at: float
) -> dict[str, Any]:
    message["alert_id"] = alert_id_for(state.dedup_key, state.started_at, state.sequence)
    message["status"] = RESOLVED if transition == RESOLVED else FIRING
    message["transition"] = transition
    message["sequence"] = state.sequence
    message["fired_at"] = rfc3339(state.started_at)
    message["changed_at"] = rfc3339(changed_at)
    message["last_seen_at"] = rfc3339(state.last_seen)
    message["suppressed"] = state.suppressed
    return message


def _fire(
    crossing: Crossing, source: str, hold_down: float, runbook_base_url: str
) -> tuple[AlertState, dict[str, Any]]:
    finding, at = crossing.finding, crossing.at
    state = AlertState(
        dedup_key=finding.dedup_key,
        active=True,
        sequence=1,
        started_at=at,
        last_seen=at,
        observed_to=at,
        severity=finding.severity,
        members=len(finding.accounts) or 1,
        suppressed=0,
        source=source,
        last={},
        hold_down=hold_down,
    )
    message = _stamp(build_alert(finding, at, runbook_base_url), FIRING, state, at)
    return replace(state, last=message), message


def _resolve(state: AlertState, at: float) -> tuple[AlertState, dict[str, Any]]:
    resolved = replace(state, active=False, sequence=state.sequence + 1)
    message = _stamp(dict(state.last), RESOLVED, resolved, at)
    return replace(resolved, last=message), message


def observe(
    state: AlertState | None,
    crossings: Sequence[Crossing],
    source: str,
    hold_down_seconds: float,
    runbook_base_url: str,
) -> Decision:
    """Apply one dedup_key's crossings, in event order; `hold_down_seconds` becomes the
    incident's hold-down."""
    messages: list[dict[str, Any]] = []
    changed = False
    for crossing in crossings:
        at = crossing.at
        if state is not None and at <= state.observed_to:
            continue  # counted already: a redelivery, or an event older than the latest
        changed = True
        if state is not None and state.active and at - state.last_seen >= state.hold_down:
            state, message = _resolve(state, state.last_seen + state.hold_down)
            messages.append(message)
        if state is None or not state.active:
            state, message = _fire(crossing, source, hold_down_seconds, runbook_base_url)
            messages.append(message)
            continue
        finding = crossing.finding
        members = len(finding.accounts) or 1
        state = replace(state, last_seen=at, observed_to=at, hold_down=hold_down_seconds)
        if SEVERITY_RANK[finding.severity] > SEVERITY_RANK[state.severity] or (
            members > state.members
        ):
            state = replace(
                state,
                sequence=state.sequence + 1,
                severity=max(state.severity, finding.severity, key=SEVERITY_RANK.__getitem__),
                members=max(members, state.members),
            )
            update = build_alert(finding, state.started_at, runbook_base_url)
            update["severity"] = state.severity
            message = _stamp(update, UPDATED, state, at)
            state = replace(state, last=message)
            messages.append(message)
        else:
            state = replace(state, suppressed=state.suppressed + 1)
    return Decision(state if changed else None, tuple(messages))


def expire(state: AlertState, now: float) -> Decision:
    """Resolve an active incident whose stream clock (`now`) is its hold-down past its last
    crossing."""
    if not state.active or now - state.last_seen < state.hold_down:
        return Decision(None)
    resolved, message = _resolve(state, state.last_seen + state.hold_down)
    return Decision(resolved, (message,))


def due_at(state: AlertState) -> float | None:
    """When an active incident resolves if nothing crosses again; None once resolved."""
    return state.last_seen + state.hold_down if state.active else None
