"""The state interface the pipeline needs: sliding windows and the alert ledger.

Two implementations honour it with identical results (`tests/conformance`): the Redis store
(live, shared by all workers) and the in-memory store (embedded replay and backtest).

Alert ledger: a claim per (rule, subject) holds `alert_id`, `fired_at` and whether the alert
was sent. A new finding is granted when no claim is active within the cooldown. A claim that
was granted but never confirmed as sent (the worker died between claiming and producing) is
handed back as *pending* on the next finding, so the redelivered batch re-emits the same alert
(same `alert_id`) instead of losing it to the cooldown.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detectors.contract import StateLayout
from detectors.windows import WindowReading, WindowUpdate

REGISTRY_START = ""  # key of the model registry's own start time (no model is named "")
MAX_MODELS = 10_000  # model names come from the gateway: the registry stops growing here
GRANTED = "granted"
PENDING = "pending"
COOLDOWN = "cooldown"


@dataclass(frozen=True, slots=True)
class AlertClaim:
    key_tag: str  # hash tag of the subject, e.g. "acct:acct_42"
    rule_id: str
    alert_id: str
    fired_at: float  # event time
    cooldown_seconds: int


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: str  # GRANTED, PENDING or COOLDOWN
    alert_id: str | None = None  # for GRANTED and PENDING: the alert to emit
    fired_at: float | None = None


def account_tag(account_id: str) -> str:
    return f"acct:{account_id}"


class WindowStore(abc.ABC):
    """Sliding-window state per account, idempotent by event key, plus the alert ledger."""

    @abc.abstractmethod
    async def apply(
        self,
        updates: Sequence[WindowUpdate],
        layout: StateLayout,
        dedupe_horizon_seconds: int,
        max_lag_seconds: int = 0,
        resend_horizon_seconds: int | None = None,
    ) -> list[WindowReading]:
        """Count each update in its account's windows, in order; one reading per update.
        State is kept per layout version: a new layout never reads another's numbers.
        A store that expires state on the wall clock keeps it `max_lag_seconds` longer than its
        windows need on event time: a consumer outage that long loses nothing.

        Exactly once: an update older than `dedupe_horizon_seconds` behind its account's newest
        event is LATE (not counted); one whose source offset is at or below the highest applied
        from that source is a DUPLICATE, at any distance; one whose event key was applied within
        `resend_horizon_seconds` (default: the dedupe horizon) is a DUPLICATE too (an upstream
        re-send, or a replay without offsets). Only the keys of that horizon are kept.

        Judged once: a store whose state outlives the process keeps, per account, the state
        an apply started from until `judged` is called for the account. An apply holding the
        first update that apply counted (same key, source and offset) is its redelivery,
        after a crash between the state write and the alert claims: it starts again from the
        kept state, so its updates read APPLIED with the totals of the first time, and are
        judged exactly as they would have been. (The in-memory store dies with its process:
        nothing to keep.)"""

    async def judged(self, account_ids: Sequence[str], layout: StateLayout) -> None:  # noqa: B027
        """Every update `apply` counted for these accounts was judged and what that produced
        (alerts, link records) reached its sinks: the states kept to judge them again can go."""

    @abc.abstractmethod
    async def note_models(self, seen: Mapping[str, float]) -> dict[str, float]:
        """Record the earliest event time each model was seen at (`seen`: model -> the earliest
        time in this batch) and return the earliest known for each, plus, under the key
        REGISTRY_START, the earliest event time of any model: when the registry began."""

    @abc.abstractmethod
    async def claim_alerts(
        self, claims: Sequence[AlertClaim], max_lag_seconds: int = 0
    ) -> list[ClaimResult]:
        """Check-and-set the cooldown of each claim, in order (kept `max_lag_seconds` longer
        than the cooldown needs, as `apply` keeps windows)."""

    @abc.abstractmethod
    async def pending_claims(self, keys: Sequence[tuple[str, str]]) -> list[ClaimResult | None]:
        """For each (key_tag, rule_id): its claim if granted and never confirmed as sent
        (outcome PENDING), else None. Reads only."""

    @abc.abstractmethod
    async def confirm_sent(self, claims: Sequence[AlertClaim]) -> None:
        """Record that these alerts reached every sink."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""
