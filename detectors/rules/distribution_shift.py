"""distribution_shift: an account whose traffic suddenly changes kind.

Attack: an account that behaved like an ordinary customer starts harvesting: it was bought or
taken over by a campaign, or its owner began distilling. The mix of what it asks for (the
capability classes of detectors/features/capability.py) in the last day then diverges from
its own history, the way PRADA-style detectors watch an account's query distribution move.
Look-alikes: a customer launching a new product or feature also changes its mix. So this is a
supporting signal of the extraction score only (the `drift` group, small weight), calibrated
on the benign families of the scenario suite, where no stationary account comes near it.
State: per-window sums per capability class; the history is the long window minus the recent
one (the same counters, no state of its own).
Params: windows (recent), history_window, min_requests (recent), min_history_requests,
min_divergence (Jensen-Shannon divergence in bits: 0 same mix, 1 disjoint).
Evidence: both mixes, the divergence, thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, PositiveInt

from detectors.contract import AccountView, Detector, StateLayout, Sum
from detectors.features.capability import CLASS_NAMES
from detectors.features.quantities import CAPABILITY_COUNTERS
from detectors.rules.base import WindowedDetector, WindowedParams, rounded


class ShiftParams(WindowedParams):
    history_window: str = "7d"
    min_history_requests: PositiveInt = 50
    min_divergence: float = Field(0.5, gt=0, le=1)


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence of two distributions, in bits (0..1)."""
    total = 0.0
    for a, b in zip(p, q, strict=True):
        m = (a + b) / 2
        if a > 0:
            total += a * math.log2(a / m) / 2
        if b > 0:
            total += b * math.log2(b / m) / 2
    return max(0.0, min(1.0, total))


def _mix(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total > 0 else 0.0 for c in counts]


class DistributionShift(WindowedDetector):
    name = "distribution_shift"
    Params = ShiftParams
    description = "the account's mix of requests moved away from its own history"
    MEASURES = tuple(Sum(counter) for counter in CAPABILITY_COUNTERS)
    params: ShiftParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._classes = tuple(layout.sum_index(c) for c in CAPABILITY_COUNTERS)
        self._history = layout.window_index(self.params.history_window)

    def _mixes(self, view: AccountView, window: int) -> tuple[list[int], list[int]]:
        recent = [view.totals[window][i] for i in self._classes]
        whole = [view.totals[self._history][i] for i in self._classes]
        return recent, [max(0, w - r) for w, r in zip(whole, recent, strict=True)]

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        recent, history = self._mixes(view, window)
        p = self.params
        return min(
            sum(history) / p.min_history_requests,
            js_divergence(_mix(recent), _mix(history)) / p.min_divergence,
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        recent, history = self._mixes(view, window)
        p = self.params
        return {
            "requests": view.totals[window][self._req],
            "history_requests": sum(history),
            "recent_mix": dict(zip(CLASS_NAMES, map(rounded, _mix(recent)), strict=True)),
            "history_mix": dict(zip(CLASS_NAMES, map(rounded, _mix(history)), strict=True)),
            "divergence_bits": rounded(js_divergence(_mix(recent), _mix(history))),
            "thresholds": {
                "min_requests": p.min_requests,
                "history_window": p.history_window,
                "min_history_requests": p.min_history_requests,
                "min_divergence": p.min_divergence,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, the account's mix of requests moved away from its history "
            f"of {numbers['history_requests']} requests (divergence "
            f"{numbers['divergence_bits']:.2f} bits)."
        )
