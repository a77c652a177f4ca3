"""A fix for the pinned faust-streaming's offset commits (0.15.3; faust issue #606's family).

The worker acknowledges a Kafka event only after its effects are delivered, and relies on faust
committing no offset past an event that is not acknowledged. faust's `Consumer._new_offset`
checks for a gap at the head of the acknowledged offsets with `min(acked) - committed > 1`:
with offset 7 unacknowledged and 8..39 acknowledged after a commit at 7, the difference is 1,
the check passes, and faust commits 40. A crash then loses event 7.
tests/integration/test_faust_ack_order.py shows it on a real broker.

The worker acks each partition's events in offset order, which never leaves such a gap; the
fix keeps the guarantee for any order (a future worker processing partitions concurrently).
It wraps the method rather than copying it: when the lowest acknowledged offset is past the
committed one and faust knows no gap (compacted or transactional offsets) to fill the hole,
there is nothing to commit yet. A partition with no committed offset at all (a new consumer
group) is left to faust: it does not know where such a partition began.
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer

_PATCHED = "_distillwatch_gap_guard"


def guard_uncommitted_gaps() -> None:
    """Install the guard on faust's Consumer (idempotent)."""
    if getattr(Consumer, _PATCHED, False):
        return
    original = Consumer._new_offset

    def _new_offset(self: Any, tp: Any) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed and not self._gap[tp]:
            return None  # the event at `committed` is not acknowledged yet
        result: int | None = original(self, tp)
        return result

    setattr(Consumer, "_new_offset", _new_offset)  # noqa: B010 - a method replaced on purpose
    setattr(Consumer, _PATCHED, True)
