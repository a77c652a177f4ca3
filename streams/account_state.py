"""An account's Redis state read back in Python, from the MessagePack document that
streams/lua/window_apply.lua writes (the format is described at the top of that script).

The worker never needs this: the script reads and writes the state inside Redis. It is for
people and tools looking at the state: `distillwatch state`, the tests that compare state key
by key, the memory benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from detectors.contract import StateLayout

Bucket = tuple[dict[int, int], dict[int, int]]  # (sum index -> value, bin key -> count)


@dataclass(frozen=True, slots=True)
class WindowState:
    head: int | None  # newest bucket number
    totals: tuple[int, ...]  # S sums, B filled, B sumsq (StateLayout order)
    buckets: dict[int, Bucket]  # bucket number -> its non-zero sums (0-based) and bins


@dataclass(frozen=True, slots=True)
class AccountState:
    newest: float | None  # newest event time applied
    seen: dict[str, float]  # event key -> event time, within the resend horizon
    offsets: dict[str, int]  # "topic:partition" -> highest offset applied
    windows: tuple[WindowState, ...]  # in layout order

    def total(self, layout: StateLayout, window: str, sum_name: str) -> int:
        return self.windows[layout.window_names.index(window)].totals[layout.sum_index(sum_name)]


def _as_map(value: Any) -> dict[Any, Any]:
    """A Lua table packed by cmsgpack: an array when its keys are 1..n, else a map."""
    if isinstance(value, list):
        return {i + 1: v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return value
    raise ValueError(f"expected a table, found {type(value).__name__}")


def decode_account_state(raw: object) -> AccountState:
    """`raw`: the value of the account's state key, as GET returns it."""
    if not isinstance(raw, bytes):
        raise TypeError(f"an account state is bytes, not {type(raw).__name__}")
    document = _as_map(msgpack.unpackb(raw, strict_map_key=False, raw=False))
    flat = list(_as_map(document.get("s", [])).values())
    windows = []
    for stored in _as_map(document.get("w", [])).values():
        head, totals, buckets = stored
        windows.append(
            WindowState(
                head=int(head) if head is not False else None,
                totals=tuple(int(v) for v in totals),
                buckets={
                    int(number): (
                        {int(i) - 1: int(v) for i, v in _as_map(sums).items()},
                        {int(k): int(c) for k, c in _as_map(bins).items()},
                    )
                    for number, (sums, bins) in _as_map(buckets).items()
                },
            )
        )
    newest = document.get("m")
    return AccountState(
        newest=float(newest) if newest is not None else None,
        seen={str(flat[k + 1]): float(flat[k]) for k in range(0, len(flat), 2)},
        offsets={str(s): int(o) for s, o in _as_map(document.get("o", [])).items()},
        windows=tuple(windows),
    )
