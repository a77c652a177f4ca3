"""capability_targeting: an account whose traffic sits in one valuable capability.

Attack: campaigns target narrow capabilities (agentic coding, tool use, math, reasoning) and
send almost nothing else. Ordinary users spread over many kinds of request, most of them
"other" (detectors/features/capability.py, keywords and structure, no model).
Look-alikes: a coding agent or a code-review product is all code too; it is conversational or
answers its tool calls, so the harvest shape is missing. This is the weaker `targeting` content
group of the extraction score (a lower weight than templates or elicitation).
State: per-window sums per capability class. Params: windows, min_requests, min_share,
classes (which classes count as targeted). Evidence: the account's mix and the top class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from detectors.contract import AccountView, Detector, StateLayout, Sum, share
from detectors.features.capability import CLASS_NAMES
from detectors.features.quantities import CAPABILITY_COUNTERS
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

ClassName = Literal["agentic", "code", "math", "reasoning", "creative", "other"]


class CapabilityParams(WindowedParams):
    min_share: float = Field(0.8, gt=0, le=1)
    classes: tuple[ClassName, ...] = Field(("agentic", "code", "math", "reasoning"), min_length=1)


class CapabilityTargeting(WindowedDetector):
    name = "capability_targeting"
    Params = CapabilityParams
    description = "traffic concentrated on one targeted capability"
    MEASURES = tuple(Sum(counter) for counter in CAPABILITY_COUNTERS)
    params: CapabilityParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._all = {
            n: layout.sum_index(c) for n, c in zip(CLASS_NAMES, CAPABILITY_COUNTERS, strict=True)
        }
        self._targeted = tuple(self._all[n] for n in self.params.classes)

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        top = 0
        for i in self._targeted:
            if t[i] > top:
                top = t[i]
        return top / requests / self.params.min_share

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        requests = t[self._req]
        mix = {n: rounded(share(t[i], requests), 3) for n, i in self._all.items()}
        top = max(self.params.classes, key=lambda n: mix[n])
        return {
            "requests": requests,
            "mix": mix,
            "top_class": top,
            "top_share": mix[top],
            "thresholds": {
                "min_requests": self.params.min_requests,
                "min_share": self.params.min_share,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['top_share']:.0%} of {numbers['requests']} requests "
            f"targeted {numbers['top_class']}."
        )
