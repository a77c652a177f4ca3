"""automation_cadence: an always-on, evenly paced account is not a person.

Attack: pipelines run 24/7 at a steady pace set by their worker pool; people have a day and
a night and work in bursts. Over the 24-hour window, the account's requests per hour of day
are near-uniform (a low coefficient of variation across the 24 hours) and nearly every hour
is active.
Look-alikes: batch jobs and SaaS backends can also run all day; this is a supporting signal
of the extraction score only (small weight), never a content group.
State: a 24-bin histogram of the hour of day (filled bins = active hours; the sum of squares
gives the variance of the hourly counts). Params: windows, min_requests, min_active_hours,
max_hourly_cv. Evidence: active hours, hourly CV, thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, PositiveInt

from detectors.contract import AccountView, Bins, Detector, StateLayout
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

HOURS = 24


class CadenceParams(WindowedParams):
    min_requests: PositiveInt = 48
    min_active_hours: int = Field(20, ge=1, le=HOURS)
    max_hourly_cv: float = Field(0.5, gt=0)


def hourly_cv(total: int, sumsq: int) -> float:
    """Coefficient of variation of the requests per hour of day, over the 24 hours."""
    if total <= 0:
        return math.inf
    mean = total / HOURS
    variance = max(0.0, sumsq / HOURS - mean * mean)
    return math.sqrt(variance) / mean


class AutomationCadence(WindowedDetector):
    name = "automation_cadence"
    Params = CadenceParams
    description = "active nearly every hour at an even pace"
    MEASURES = (Bins("hour_of_day", HOURS),)
    params: CadenceParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._filled = layout.filled_index("hour_of_day")
        self._sumsq = layout.sumsq_index("hour_of_day")

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        p = self.params
        cv = hourly_cv(requests, t[self._sumsq])
        return min(
            t[self._filled] / p.min_active_hours,
            p.max_hourly_cv / cv if cv > 0 else math.inf,
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        p = self.params
        return {
            "requests": t[self._req],
            "active_hours": t[self._filled],
            "hourly_cv": rounded(hourly_cv(t[self._req], t[self._sumsq]), 3),
            "thresholds": {
                "min_requests": p.min_requests,
                "min_active_hours": p.min_active_hours,
                "max_hourly_cv": p.max_hourly_cv,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, the account was active in {numbers['active_hours']} hours "
            f"of the day at an even pace (hourly CV {numbers['hourly_cv']:.2f})."
        )
