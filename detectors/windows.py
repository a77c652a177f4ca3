"""Sliding-window arithmetic on event time: bucketed counters with running totals.

A window of `seconds` is kept as `seconds / bucket_seconds` buckets. The newest bucket seen
for an account is the window's *head*; the window covers buckets `(head - n, head]`. When an
event moves the head forward, the buckets that fall out are subtracted from the running totals
and deleted, so reading a window is O(1) and updating it amortised O(1) per event.

Each window keeps the counters of a `StateLayout` (detectors/contract.py): dense sums, and for
each hashed histogram its non-zero bins with two running aggregates, `filled` (bins > 0) and
`sumsq` (sum of squared bin counts), updated from the one bin an event touches rather than by
rescanning the histogram.

An event whose bucket already fell out of a window is *late* for that window and not counted
there. The Redis Lua script (`streams/lua/window_apply.lua`) implements exactly these rules;
the WindowStore conformance suite holds the two to identical results.

Example, window 1h with 5-minute buckets (n = 12), sums (requests, output_tokens), one
histogram of templates:
  event at 10:02, template bin 7 -> bucket 120, head 120, sums (1, 500), bins {7: 1},
                                    filled 1, sumsq 1
  event at 10:04, template bin 7 -> sums (2, 900), bins {7: 2}, filled 1, sumsq 4
  event at 11:03, template bin 9 -> bucket 132: bucket 120 falls out, sums (1, 300),
                                    bins {9: 1}, filled 1, sumsq 1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from detectors.contract import BIN_KEY_STRIDE, StateLayout


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
class _Bucket:
    sums: list[int]
    bins: dict[int, int]  # bin key (measure index * stride + bin) -> count in this bucket


@dataclass(slots=True)
class BucketedWindow:
    """The reference implementation of one account's window (used by the in-memory store)."""

    spec: WindowSpec
    n_sums: int
    n_bins: int  # number of histogram measures
    head: int | None = None
    buckets: dict[int, _Bucket] = field(default_factory=dict)
    sums: list[int] = field(default_factory=list)
    bins: dict[int, int] = field(default_factory=dict)  # bin key -> count in the window
    filled: list[int] = field(default_factory=list)
    sumsq: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.buckets.clear()
        self.bins.clear()
        self.sums = [0] * self.n_sums
        self.filled = [0] * self.n_bins
        self.sumsq = [0] * self.n_bins

    def totals(self) -> tuple[int, ...]:
        return (*self.sums, *self.filled, *self.sumsq)

    def add(self, timestamp: float, sums: tuple[int, ...], bin_keys: tuple[int, ...] = ()) -> bool:
        """Count an event; False when it is late for this window (and so not counted)."""
        return self.add_sparse(timestamp, [(i, v) for i, v in enumerate(sums) if v], bin_keys)

    def add_sparse(
        self, timestamp: float, nonzero: list[tuple[int, int]], bin_keys: tuple[int, ...]
    ) -> bool:
        """`add` with the sums given as their non-zero (index, value) pairs: most counters are
        zero for any one event, and a store adds one event to several windows."""
        bucket = self.spec.bucket_of(timestamp)
        if self.head is None:
            self.head = bucket
        elif bucket > self.head:
            self._advance(bucket)
        elif bucket <= self.head - self.spec.n_buckets:
            return False
        slot = self.buckets.get(bucket)
        if slot is None:
            slot = self.buckets[bucket] = _Bucket([0] * self.n_sums, {})
        bucket_sums, window_sums = slot.sums, self.sums
        for i, value in nonzero:
            bucket_sums[i] += value
            window_sums[i] += value
        bucket_bins, window_bins = slot.bins, self.bins
        for key in bin_keys:
            bucket_bins[key] = bucket_bins.get(key, 0) + 1
            count = window_bins.get(key, 0)
            window_bins[key] = count + 1
            j = key // BIN_KEY_STRIDE
            if count == 0:
                self.filled[j] += 1
            self.sumsq[j] += 2 * count + 1
        return True

    def _advance(self, new_head: int) -> None:
        assert self.head is not None  # internal invariant: only called once a head exists
        n = self.spec.n_buckets
        if new_head - self.head >= n:
            self._reset()
        else:
            for old in range(self.head - n + 1, new_head - n + 1):
                expired = self.buckets.pop(old, None)
                if expired is not None:
                    self._subtract(expired)
        self.head = new_head

    def _subtract(self, expired: _Bucket) -> None:
        for i, value in enumerate(expired.sums):
            self.sums[i] -= value
        for key, removed in expired.bins.items():
            count = self.bins[key]
            left = count - removed
            j = key // BIN_KEY_STRIDE
            self.sumsq[j] += left * left - count * count
            if left:
                self.bins[key] = left
            else:
                del self.bins[key]
                self.filled[j] -= 1


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    """One event's contribution to its account's windows."""

    account_id: str
    event_key: str  # fixed-size digest of event_id: the idempotency key kept in state
    timestamp: float
    sums: tuple[int, ...]  # in layout order
    bin_keys: tuple[int, ...] = ()  # each adds 1 to one bin (measure index * stride + bin)
    source: str = ""  # "topic:partition" it was read from ("" for a file or a test)
    offset: int = 0  # its offset there: redeliveries are recognised by it (window_apply.lua)


# Outcome of applying one update.
APPLIED = 0
DUPLICATE = 1  # its offset or, within the resend horizon, its key was applied: no change
LATE = 2  # older than the dedupe horizon behind the account's newest event: not counted


@dataclass(frozen=True, slots=True)
class WindowReading:
    """Totals of every window of the account right after the update (or unchanged)."""

    status: int  # APPLIED, DUPLICATE or LATE
    totals: tuple[tuple[int, ...], ...]  # one flat tuple per window (StateLayout order)


def window_specs(layout: StateLayout) -> tuple[WindowSpec, ...]:
    return tuple(WindowSpec(name, seconds, bucket) for name, seconds, bucket in layout.windows)
