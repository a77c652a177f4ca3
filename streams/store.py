"""The state interface the pipeline needs: sliding windows and the alert ledger.

Two implementations honour it with identical results (`tests/conformance`): the Redis store
(live, shared by all workers) and the in-memory store (embedded replay and backtest).

Alert ledger (streams/alert_ledger.py decides, detectors/lifecycle.py says how): per (rule,
subject) one entry: a versioned document (the incident's state) and its outbox, the messages
not yet confirmed delivered. A save is a compare-and-set on the version; delivery confirmed,
the outbox is cleared if the version is still the one delivered. Active incidents are
scheduled per source stream at the event time they resolve unless crossed again.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detectors.contract import StateLayout
from detectors.windows import WindowReading, WindowUpdate

REGISTRY_START = ""  # key of the model registry's own start time (no model is named "")
MAX_MODELS = 10_000  # model names come from the gateway: the registry stops growing here


@dataclass(frozen=True, slots=True)
class StoredAlert:
    version: int  # 0: never saved
    doc: bytes  # the ledger's encoding of the incident state
    outbox: bytes  # its undelivered messages (the ledger's encoding), b"" when none


@dataclass(frozen=True, slots=True)
class AlertSave:
    key: str  # from WindowStore.alert_key
    expected_version: int  # the version it was loaded at (0: absent)
    doc: bytes
    outbox: bytes
    ttl_seconds: int  # wall-clock expiry, refreshed by each save


@dataclass(frozen=True, slots=True)
class AlertSchedule:
    source: str  # the stream whose clock resolves it
    key: str
    due: float | None  # event time to look at it again; None: no longer scheduled


def account_tag(account_id: str) -> str:
    return f"acct:{account_id}"


def cluster_tag(cluster_id: str) -> str:
    return f"cluster:{cluster_id}"


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
        after a crash between the state write and the alert ledger: it starts again from the
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

    def alert_key(self, key_tag: str, rule_id: str) -> str:
        """Where the ledger entry of (subject, rule) lives; `key_tag` from `account_tag` or
        `cluster_tag`."""
        return f"{{{key_tag}}}:alert:{rule_id}"

    @abc.abstractmethod
    async def load_alerts(self, keys: Sequence[str]) -> list[StoredAlert | None]:
        """The ledger entries of these keys (None: absent or expired)."""

    @abc.abstractmethod
    async def save_alerts(self, saves: Sequence[AlertSave]) -> list[bool]:
        """Compare-and-set each entry: written (version + 1) only if its version is still the
        expected one; False for an entry another writer changed since it was loaded."""

    @abc.abstractmethod
    async def due_alerts(self, clocks: Mapping[str, float], limit: int) -> list[str]:
        """Keys scheduled, per source, at or before that source's clock (at most `limit` per
        source, earliest first)."""

    @abc.abstractmethod
    async def confirm_alerts(
        self, delivered: Sequence[tuple[str, int]], schedules: Sequence[AlertSchedule]
    ) -> None:
        """`delivered`: (key, version) whose outbox reached the alerts topic: cleared unless
        saved again since. Then set or drop each schedule."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""
