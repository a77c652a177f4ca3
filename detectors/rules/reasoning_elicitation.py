"""reasoning_elicitation: prompts demanding the model's complete reasoning trace.

Attack: reasoning-trace harvesting asks for the full step-by-step reasoning, or for "the
reasoning behind" a given final answer, or for thinking tags, across many languages (one
reported campaign sent 100,000+ such prompts); the traces train a student's reasoning.
Look-alikes: "think step by step" is common prompting advice and tutoring apps add it to every
question: that is only a weak marker (`reasoning_nudge`, in evidence) and does not count here.
Even the strong marker never pages alone: it is the `elicitation` content group of the
extraction score, beside the harvest shape (tutoring is conversational; harvest is not).
State: per-window sum of requests with a strong marker (detectors/features/text.py: markers
in English, Chinese, Japanese, Korean, Russian, Spanish, Portuguese, German, French, Arabic).
Params: windows, min_requests, min_share. Evidence: the share and its thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.contract import AccountView, Detector, StateLayout, Sum, share
from detectors.rules.base import ShareDetector, ShareParams, rounded


class ReasoningElicitation(ShareDetector):
    name = "reasoning_elicitation"
    description = "requests for the complete reasoning trace, in many languages"
    MEASURES = (Sum("reasoning"), Sum("reasoning_nudge"))
    COUNTER = "reasoning"
    WHAT = "demanded the complete reasoning trace"
    Params = ShareParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        super()._bind(layout, peers)
        self._nudge = layout.sum_index("reasoning_nudge")

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        numbers = super().describe(view, window)
        t = view.totals[window]
        numbers["step_by_step_share"] = rounded(share(t[self._nudge], t[self._req]))
        return numbers
