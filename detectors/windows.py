"""Sliding-window arithmetic on event time: bucketed counters with a running total.

A window of `seconds` is kept as `seconds / bucket_seconds` buckets. The newest bucket seen
for an account is the window's *head*; the window covers buckets `(head - n, head]`. When an
event moves the head forward, the buckets that fall out are subtracted from the running total
and deleted, so reading a window is O(1) and updating it amortised O(1) per event.

An event whose bucket already fell out of a window is *late* for that window and not counted
there. The Redis Lua script (`streams/lua/window_apply.lua`) implements exactly these rules;
the WindowStore conformance suite holds the two to identical results.

Example, window 1h with 5-minute buckets (n = 12), counters (requests, output_tokens):
  event at 10:02 -> bucket 120, head 120, buckets {120: (1, 500)}, total (1, 500)
  event at 11:03 -> bucket 132: buckets <= 120 fall out, head 132, total (1, 800)
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

# The counters every window keeps, in this order (the Lua script takes them positionally).
COUNTERS: tuple[str, ...] = (
    "requests",
    "input_tokens",
    "output_tokens",
    "single_turn",  # requests that open a conversation and carry no earlier turns
    "near_max_output",  # long-output requests whose output reached near max_tokens
)
N_COUNTERS = len(COUNTERS)
COUNTER_INDEX = {name: i for i, name in enumerate(COUNTERS)}


@dataclass(frozen=True, slots=True)
class WindowSpec:
    name: str  # e.g. "1h"
    seconds: int
    bucket_seconds: int

    @property
    def n_buckets(self) -> int:
        return self.seconds // self.bucket_seconds

    @property
    def ttl_seconds(self) -> int:
        """State for an idle account may be dropped after window + one bucket."""
        return self.seconds + self.bucket_seconds

    def bucket_of(self, timestamp: float) -> int:
        return math.floor(timestamp / self.bucket_seconds)


@dataclass(slots=True)
class BucketedWindow:
    """The reference implementation of one account's window (used by the in-memory store)."""

    spec: WindowSpec
    head: int | None = None
    buckets: dict[int, list[int]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=lambda: [0] * N_COUNTERS)

    def add(self, timestamp: float, counters: tuple[int, ...]) -> bool:
        """Count an event; False when it is late for this window (and so not counted)."""
        bucket = self.spec.bucket_of(timestamp)
        if self.head is None:
            self.head = bucket
        elif bucket > self.head:
            self._advance(bucket)
        elif bucket <= self.head - self.spec.n_buckets:
            return False
        slot = self.buckets.get(bucket)
        if slot is None:
            self.buckets[bucket] = list(counters)
        else:
            slot[:] = map(operator.add, slot, counters)
        self.totals[:] = map(operator.add, self.totals, counters)
        return True

    def _advance(self, new_head: int) -> None:
        assert self.head is not None  # internal invariant: only called once a head exists
        n = self.spec.n_buckets
        if new_head - self.head >= n:
            self.buckets.clear()
            self.totals = [0] * N_COUNTERS
        else:
            for old in range(self.head - n + 1, new_head - n + 1):
                expired = self.buckets.pop(old, None)
                if expired is not None:
                    self.totals[:] = map(operator.sub, self.totals, expired)
        self.head = new_head


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    """One event's contribution to its account's windows."""

    account_id: str
    event_key: str  # fixed-size digest of event_id: the idempotency key kept in state
    timestamp: float
    counters: tuple[int, ...]  # in COUNTERS order


# Outcome of applying one update.
APPLIED = 0
DUPLICATE = 1  # event_key already applied within the dedupe horizon: nothing changed
LATE = 2  # older than the dedupe horizon behind the account's newest event: not counted


@dataclass(frozen=True, slots=True)
class WindowReading:
    """Totals of every window of the account right after the update (or unchanged)."""

    status: int  # APPLIED, DUPLICATE or LATE
    totals: tuple[tuple[int, ...], ...]  # one tuple of COUNTERS per window, in config order
