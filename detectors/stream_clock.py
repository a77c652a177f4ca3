"""A partition's event-time watermark, and the events too far ahead of it to be believed.

Windows run on event time, and an account's newest event time decides what is late for it.
One event from a producer whose clock is a day ahead would move its account's clock a day
forward, and every real event of the account after it would be dropped as late until its keys
expire. So a batch's events are admitted in time order, each within `max_skew_seconds` of the
admitted ones before it, starting from a reference:

- the newest event time of the confirmed batches (the watermark), or the batch's lower median
  when the stream has moved on (the first batch after a quiet night, a backlog): one bad event
  cannot move a median, and a gap in traffic does not refuse the traffic after it;
- and, live, never past the wall clock plus the skew (replays have no wall clock).

A stream as sparse as one event per skew (one account replayed alone, hourly) reads as a run
of jumps, and its later events are refused: the default skew is the dedupe horizon (an hour),
within which a jump ahead makes no event late anyway. The watermark advances only when a
batch is confirmed (`commit`), and the live worker passes the same `now` to every attempt at a
batch, so a retry is judged as before (a restart starts a fresh clock). The pipeline keeps one
clock per source partition: partitions lag by different amounts, and a backlog on one must not
make another's current events look ahead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class StreamClock:
    watermark: float | None = None  # newest admitted event time of the confirmed batches

    def admit(
        self, timestamps: Sequence[float], max_skew_seconds: float, now: float | None = None
    ) -> list[bool]:
        """Which of a batch's events to admit (the rest are too far ahead)."""
        order = sorted(range(len(timestamps)), key=timestamps.__getitem__)
        admitted = [False] * len(timestamps)
        if not order:
            return admitted
        frontier = timestamps[order[(len(order) - 1) // 2]]  # the lower median
        if self.watermark is not None:
            frontier = max(frontier, self.watermark)
        cap = math.inf if now is None else now + max_skew_seconds
        for index in order:
            stamp = timestamps[index]
            if stamp > frontier + max_skew_seconds or stamp > cap:
                break  # in time order: every later event is further ahead still
            admitted[index] = True
            frontier = max(frontier, stamp)
        return admitted

    def commit(self, admitted: Sequence[float]) -> None:
        """A batch was confirmed: its admitted event times move the watermark forward."""
        if admitted:
            newest = max(admitted)
            if self.watermark is None or newest > self.watermark:
                self.watermark = newest
