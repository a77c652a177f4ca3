"""In-memory WindowStore for embedded runs (replay, backtest) and unit tests.

Same rules as the Redis store, on plain dicts; idle accounts are swept on event time so a
long replay keeps memory bounded.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from detectors.contract import StateLayout
from detectors.windows import (
    APPLIED,
    DUPLICATE,
    LATE,
    BucketedWindow,
    WindowReading,
    WindowSpec,
    WindowUpdate,
    window_specs,
)
from streams.store import (
    MAX_MODELS,
    REGISTRY_START,
    AlertSave,
    AlertSchedule,
    StoredAlert,
    WindowStore,
)

SWEEP_EVERY_UPDATES = 50_000


@dataclass(slots=True)
class _AccountState:
    windows: list[BucketedWindow]
    seen: dict[str, float] = field(default_factory=dict)  # event key -> event time
    seen_by_time: list[tuple[float, str]] = field(default_factory=list)  # heap for trimming
    offsets: dict[str, int] = field(default_factory=dict)  # source -> highest offset applied
    max_ts: float | None = None

    def totals(self) -> tuple[tuple[int, ...], ...]:
        return tuple(w.totals() for w in self.windows)


class MemoryWindowStore(WindowStore):
    def __init__(self) -> None:
        self._accounts: dict[str, _AccountState] = {}
        self._alerts: dict[str, StoredAlert] = {}
        self._due: dict[str, dict[str, float]] = {}  # source -> key -> due (event time)
        self._updates_since_sweep = 0
        self._newest_ts = 0.0
        self._layout_version = ""
        self._models: dict[str, float] = {}  # model -> earliest event time seen

    async def apply(
        self,
        updates: Sequence[WindowUpdate],
        layout: StateLayout,
        dedupe_horizon_seconds: int,
        max_lag_seconds: int = 0,
        resend_horizon_seconds: int | None = None,
    ) -> list[WindowReading]:
        windows = window_specs(layout)
        if layout.version != self._layout_version:
            # A new layout starts fresh state, as the Redis store's versioned keys do.
            self._accounts.clear()
            self._layout_version = layout.version
        n_sums, n_bins = len(layout.sums), len(layout.bins)
        resend = (
            dedupe_horizon_seconds if resend_horizon_seconds is None else resend_horizon_seconds
        )
        readings = []
        for update in updates:
            state = self._accounts.get(update.account_id)
            if state is None:
                state = _AccountState(
                    windows=[BucketedWindow(spec, n_sums, n_bins) for spec in windows]
                )
                self._accounts[update.account_id] = state
            readings.append(
                WindowReading(
                    self._apply_one(state, update, dedupe_horizon_seconds, resend),
                    state.totals(),
                )
            )
            self._newest_ts = max(self._newest_ts, update.timestamp)
        self._updates_since_sweep += len(updates)
        if self._updates_since_sweep >= SWEEP_EVERY_UPDATES:
            self._sweep(windows, dedupe_horizon_seconds)
        return readings

    @staticmethod
    def _apply_one(state: _AccountState, update: WindowUpdate, horizon: int, resend: int) -> int:
        ts = update.timestamp
        if state.max_ts is not None and ts < state.max_ts - horizon:
            return LATE
        source = update.source
        if source and update.offset <= state.offsets.get(source, -1):
            return DUPLICATE  # redelivered from Kafka
        if update.event_key in state.seen:
            if source:  # its offset is handled too: a later redelivery of it is one
                state.offsets[source] = update.offset
            return DUPLICATE  # re-sent upstream within the resend horizon
        state.seen[update.event_key] = ts
        heapq.heappush(state.seen_by_time, (ts, update.event_key))
        if source:
            state.offsets[source] = update.offset
        if state.max_ts is None or ts > state.max_ts:
            state.max_ts = ts
            cutoff = ts - resend
            while state.seen_by_time and state.seen_by_time[0][0] < cutoff:
                _, old_key = heapq.heappop(state.seen_by_time)
                state.seen.pop(old_key, None)
        nonzero = [(i, v) for i, v in enumerate(update.sums) if v]
        for window in state.windows:
            window.add_sparse(ts, nonzero, update.bin_keys)
        return APPLIED

    def _sweep(self, windows: Sequence[WindowSpec], horizon: int) -> None:
        """Drop accounts idle for longer than every window's TTL (on event time)."""
        keep_for = max([horizon, *(w.ttl_seconds for w in windows)])
        cutoff = self._newest_ts - keep_for
        idle = [a for a, s in self._accounts.items() if s.max_ts is not None and s.max_ts < cutoff]
        for account in idle:
            del self._accounts[account]
        self._updates_since_sweep = 0

    async def note_models(self, seen: Mapping[str, float]) -> dict[str, float]:
        answer: dict[str, float] = {}
        for model, ts in seen.items():
            for name in (REGISTRY_START, model):
                known = self._models.get(name)
                if known is None and name != REGISTRY_START and len(self._models) >= MAX_MODELS:
                    continue  # full: an unregistered model is never "newly released"
                if known is None or ts < known:
                    self._models[name] = ts
            answer[model] = self._models.get(model, self._models[REGISTRY_START])
        answer[REGISTRY_START] = self._models[REGISTRY_START]
        return answer

    async def load_alerts(self, keys: Sequence[str]) -> list[StoredAlert | None]:
        return [self._alerts.get(key) for key in keys]

    async def save_alerts(self, saves: Sequence[AlertSave]) -> list[bool]:
        written = []
        for save in saves:
            current = self._alerts.get(save.key)
            version = current.version if current is not None else 0
            if version != save.expected_version:
                written.append(False)
                continue
            self._alerts[save.key] = StoredAlert(version + 1, save.doc, save.outbox)
            written.append(True)
        return written

    async def due_alerts(self, clocks: Mapping[str, float], limit: int) -> list[str]:
        keys: list[str] = []
        for source, now in clocks.items():
            scheduled = self._due.get(source, {})
            due = sorted((at, key) for key, at in scheduled.items() if at <= now)
            keys += [key for _, key in due[:limit]]
        return keys

    async def confirm_alerts(
        self, delivered: Sequence[tuple[str, int]], schedules: Sequence[AlertSchedule]
    ) -> None:
        for key, version in delivered:
            current = self._alerts.get(key)
            if current is not None and current.version == version:
                self._alerts[key] = StoredAlert(version, current.doc, b"")
        for schedule in schedules:
            scheduled = self._due.setdefault(schedule.source, {})
            if schedule.due is None:
                scheduled.pop(schedule.key, None)
            else:
                scheduled[schedule.key] = schedule.due
