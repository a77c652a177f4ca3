"""The alert ledger: applies the lifecycle (detectors/lifecycle.py) to a batch's crossings and
to the incidents whose hold-down ran out, on the WindowStore's ledger entries.

Per batch: at most one round trip for the incidents due on the batch's clocks, one to load
the entries, one to save them (compare-and-set); after delivery, `confirm` clears the outboxes
and schedules each active incident at the event time it resolves.

Exactly once per state change: a message is saved in its entry's outbox before it is
produced and stays there until confirmed delivered. A batch that comes back (a crash, a
failed produce, a redelivery) finds the outbox and produces it again, under the same ids;
its crossings were counted already (`observed_to`) and change nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from detectors.lifecycle import AlertState, Crossing, Decision, due_at, expire, observe
from streams.store import AlertSave, AlertSchedule, StoredAlert, WindowStore

SEND_AGAIN = 0.0  # a schedule at the start of time: due on the next batch of its stream
DUE_PER_SOURCE = 500  # incidents resolved per source and batch, at most: the rest next batch
RESOLVED_KEEP_SECONDS = 7 * 86400  # a resolved entry's expiry (its sequence and last message)


class AlertLedgerConflict(RuntimeError):
    """Another writer saved an entry between this batch's load and save (two workers briefly
    owning one partition during a rebalance): the batch is retried."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    key_tag: str  # account_tag / cluster_tag of the subject
    rule_id: str  # the ledger's rule id (a shadow rule's is suffixed)
    source: str  # the stream whose clock resolves the incident
    crossings: tuple[Crossing, ...]
    hold_down_seconds: float  # without a crossing this long (event time), it resolves


@dataclass(slots=True)
class LedgerOutcome:
    """Messages to produce, in order, each with its entry's rule id, and what to confirm."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delivered: list[tuple[str, int]] = field(default_factory=list)  # (key, version) saved
    schedules: list[AlertSchedule] = field(default_factory=list)
    suppressed: Counter[str] = field(default_factory=Counter)  # rule id -> crossings


def encode_state(state: AlertState) -> bytes:
    # orjson writes a dataclass as the object dataclasses.asdict would give, without asdict's
    # deep copy of the last message (11% of a profiled backtest's time)
    return orjson.dumps(state)


def decode_state(doc: bytes) -> AlertState:
    return AlertState(**orjson.loads(doc))


class AlertLedger:
    def __init__(self, store: WindowStore) -> None:
        self.store = store

    async def process(
        self,
        entries: Sequence[LedgerEntry],
        clocks: Mapping[str, float],
        runbook_base_url: str,
        max_lag_seconds: int,
    ) -> LedgerOutcome:
        """Apply the crossings of `entries`, then resolve incidents due on `clocks` (source ->
        the newest event time of this batch from it)."""
        store = self.store
        outcome = LedgerOutcome()
        keyed: dict[str, LedgerEntry] = {}
        for entry in entries:  # one entry per key: a cluster may be reported twice in a batch
            key = store.alert_key(entry.key_tag, entry.rule_id)
            known = keyed.get(key)
            keyed[key] = (
                entry
                if known is None
                else replace(
                    known,
                    crossings=tuple(sorted(known.crossings + entry.crossings, key=_at)),
                    hold_down_seconds=max(known.hold_down_seconds, entry.hold_down_seconds),
                )
            )
        due = [k for k in await store.due_alerts(clocks, DUE_PER_SOURCE) if k not in keyed]
        keys = [*keyed, *due]
        if not keys:
            return outcome
        loaded = dict(zip(keys, await store.load_alerts(keys), strict=True))
        saves: list[AlertSave] = []
        for key in keys:
            stored = loaded[key]
            state = decode_state(stored.doc) if stored is not None else None
            touched = keyed.get(key)
            if touched is not None:
                decision = observe(
                    state,
                    touched.crossings,
                    touched.source,
                    touched.hold_down_seconds,
                    runbook_base_url,
                )
                decision = _then_expire(state, decision, clocks)
                rule_id = touched.rule_id
            elif state is not None:
                decision = expire(state, clocks.get(state.source, float("-inf")))
                rule_id = key.rsplit(":alert:", 1)[1]
            else:  # expired while scheduled
                outcome.schedules.extend(AlertSchedule(s, key, None) for s in clocks)
                continue
            self._decide(key, rule_id, stored, state, decision, max_lag_seconds, outcome, saves)
        # Before the save: a key with messages not yet confirmed is due at once, so the next
        # batch on its stream sends them again even if nothing crosses again (the linkage
        # graph skips the events it applied). Written first, a crash leaves at worst a hint to
        # an entry without an outbox, which the next batch reschedules.
        hints = [
            AlertSchedule(decode_state(save.doc).source, save.key, SEND_AGAIN)
            for save in saves
            if save.outbox
        ]
        if hints:
            await store.confirm_alerts([], hints)
        written = await store.save_alerts(saves)
        if not all(written):
            raise AlertLedgerConflict(
                f"{written.count(False)} alert ledger entries changed by another writer"
            )
        return outcome

    @staticmethod
    def _decide(
        key: str,
        rule_id: str,
        stored: StoredAlert | None,
        state: AlertState | None,
        decision: Decision,
        max_lag_seconds: int,
        outcome: LedgerOutcome,
        saves: list[AlertSave],
    ) -> None:
        outbox: list[dict[str, Any]] = (
            orjson.loads(stored.outbox) if stored is not None and stored.outbox else []
        )
        version = stored.version if stored is not None else 0
        if decision.state is not None:
            new_state = decision.state
            outbox += decision.messages
            outcome.suppressed[rule_id] += new_state.suppressed - (
                state.suppressed if state is not None and state.started_at == new_state.started_at
                else 0
            )  # fmt: skip
            saves.append(
                AlertSave(
                    key,
                    version,
                    encode_state(new_state),
                    orjson.dumps(outbox) if outbox else b"",
                    _ttl(new_state, max_lag_seconds),
                )
            )
            version += 1
            state = new_state
        if state is None:
            return
        # Everything undelivered, the new messages last: a batch that comes back re-sends it.
        outcome.messages += [(rule_id, message) for message in outbox]
        if outbox:
            outcome.delivered.append((key, version))
        outcome.schedules.append(AlertSchedule(state.source, key, due_at(state)))


def _then_expire(
    before: AlertState | None,
    decision: Decision,
    clocks: Mapping[str, float],
) -> Decision:
    """An incident crossed early in a batch may be due by the batch's clock already: resolved
    now, as a batch that ended after its crossing would have."""
    state = decision.state or before
    if state is None:
        return decision
    later = expire(state, clocks.get(state.source, float("-inf")))
    if later.state is None:
        return decision
    return Decision(later.state, decision.messages + later.messages)


def _at(crossing: Crossing) -> float:
    return crossing.at


def _ttl(state: AlertState, max_lag_seconds: int) -> int:
    """Wall-clock expiry of an entry: an active one outlives its hold-down and the tolerated
    consumer lag; a resolved one is kept a week (its last message, for a late redelivery)."""
    keep = RESOLVED_KEEP_SECONDS + state.hold_down if state.active else RESOLVED_KEEP_SECONDS
    return int(keep) + max_lag_seconds
