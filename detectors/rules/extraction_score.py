"""extraction_score: the signals combined; what pages for dedicated and low-and-slow accounts.

No single signal should page (detection.md): API integrations are single-turn, tutoring apps
ask for step-by-step reasoning, RAG apps use one frame, batch jobs fix their sampling. What
tells extraction apart is the *combination*: the harvest shape (single-turn, complete outputs)
together with a content signal (a generating template, reasoning-trace or rubric elicitation,
capability targeting), sustained over several hours of the window.

Each member is another rule (its own mode may be shadow: it is still evaluated here) placed in
a group with a weight. In the combiner's window, a group's strength is its best member's risk;
the rule fires when
  - every `required_groups` group is at its threshold (the harvest shape),
  - at least one `content_groups` group is,
  - the weighted score sum_g weight_g * min(strength_g, 1) reaches `min_score`
    (so a weak content group such as targeting needs supporting signals beside it),
  - the account was active in at least `min_active_hours` hours of the window (sustained),
  - and, when `max_requests_per_hour` is set, its rate over `rate_window` stayed under it (the
    low-and-slow rule: the same signals over 7 days, for accounts too slow to reach a
    decision within a day).
Risk is the least satisfied of these in threshold units. Evidence lists every member signal:
its value in threshold units, whether it contributed, and its numbers and thresholds.
State: nothing of its own beyond the hour-of-day histogram; members declare theirs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from detectors.contract import AccountView, Bins, Detector, StateLayout
from detectors.findings import SEVERITIES
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

HOURS = 24
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str  # id of another rule
    group: str
    weight: float = Field(1.0, gt=0)


class ExtractionParams(WindowedParams):
    members: tuple[Member, ...] = Field(min_length=1)
    required_groups: tuple[str, ...] = ("shape",)
    content_groups: tuple[str, ...] = ("template", "elicitation", "targeting")
    min_score: PositiveFloat = 2.0
    critical_score: PositiveFloat = 3.5
    min_active_hours: PositiveInt = 3
    # Only for accounts under this rate over `rate_window` (the low-and-slow rule).
    max_requests_per_hour: PositiveFloat | None = None
    rate_window: str = "24h"


class ExtractionScore(WindowedDetector):
    name = "extraction_score"
    Params = ExtractionParams
    description = "harvest shape plus a content signal, sustained: the combined page"
    MEASURES = (Bins("hour_of_day", HOURS),)
    params: ExtractionParams

    def member_rules(self) -> tuple[str, ...]:
        return tuple(m.rule for m in self.params.members)

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        # Members whose rule is `off` are not bound and drop out (rule ids were checked by the
        # rule set); a group the rule needs must keep at least one member.
        self._members = tuple((m, peers[m.rule]) for m in self.params.members if m.rule in peers)
        groups = {m.group for m, _ in self._members}
        self._groups = tuple(sorted(groups))
        for group in (*self.params.required_groups, *self.params.content_groups):
            if group not in groups:
                raise ValueError(f"group {group!r} has no member that is not off")
        self._active = layout.filled_index("hour_of_day")
        self._rate_window = layout.window_index(self.params.rate_window)
        self._rate_hours = layout.windows[self._rate_window][1] / 3600

    def _strengths(self, view: AccountView, window: int) -> tuple[dict[str, float], float]:
        strengths = dict.fromkeys(self._groups, 0.0)
        weighted: dict[str, float] = {}
        for member, detector in self._members:
            r = detector.cached_window_risk(view, window)
            if r > strengths[member.group]:
                strengths[member.group] = r
            w = member.weight * min(r, 1.0)
            if w > weighted.get(member.group, 0.0):
                weighted[member.group] = w
        return strengths, sum(weighted.values())

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        p = self.params
        # Cheap gates first: below one of them the rule cannot fire, and its progress says
        # how far (risk is then that gate's value, an upper bound of the exact minimum).
        risk = t[self._active] / p.min_active_hours
        if p.max_requests_per_hour is not None:
            rate = view.totals[self._rate_window][self._req] / self._rate_hours
            risk = min(risk, p.max_requests_per_hour / rate if rate > 0 else math.inf)
        if risk < 1.0:
            return risk
        strengths, score = self._strengths(view, window)
        risk = min(risk, score / p.min_score)
        for group in p.required_groups:
            risk = min(risk, strengths[group])
        return min(risk, max(strengths[g] for g in p.content_groups))

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        p = self.params
        strengths, score = self._strengths(view, window)
        signals: dict[str, Any] = {}
        for member, detector in self._members:
            r = detector.cached_window_risk(view, window)
            entry: dict[str, Any] = {
                "group": member.group,
                "weight": member.weight,
                "risk": rounded(r, 3),
                "contributes": r >= 1.0,
            }
            entry.update(detector.describe(view, window))
            signals[member.rule] = entry
        t = view.totals[window]
        rate = view.totals[self._rate_window][self._req] / self._rate_hours
        return {
            "requests": t[self._req],
            "rate_requests_per_hour": rounded(rate, 3),
            "score": rounded(score, 3),
            "groups_at_threshold": sorted(g for g, r in strengths.items() if r >= 1.0),
            "active_hours": t[self._active],
            "signals": signals,
            "thresholds": {
                "min_score": p.min_score,
                "required_groups": list(p.required_groups),
                "content_groups": list(p.content_groups),
                "min_active_hours": p.min_active_hours,
                "max_requests_per_hour": p.max_requests_per_hour,
                "rate_window": p.rate_window,
            },
        }

    def severity(self, view: AccountView, numbers: dict[str, Any]) -> str | None:
        """Critical past `critical_score`; else the highest severity a contributing member
        asks for (volume over the tier's limits raises the harvest shape's)."""
        if numbers["score"] >= self.params.critical_score:
            return "critical"
        raised: str | None = None
        for member, detector in self._members:
            signal = numbers["signals"][member.rule]
            if signal["contributes"]:
                asked = detector.severity(view, signal)
                if asked is not None and (raised is None or _RANK[asked] > _RANK[raised]):
                    raised = asked
        return raised

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        carried = [rule for rule, s in numbers["signals"].items() if s["contributes"]]
        return (
            f"Extraction pattern over the last {window}: {numbers['requests']} requests with "
            f"{', '.join(carried)} at threshold (score {numbers['score']:.2f}, active "
            f"{numbers['active_hours']} h)."
        )
