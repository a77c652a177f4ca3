"""rubric_grading: prompts that rate or rank candidate responses with a rationale.

Attack: reward-model and preference data (UltraFeedback-style) is harvested by sending an
instruction with several candidate completions and asking the model to rate each on a scale
with a rationale; the ratings train a student's reward model.
Look-alikes: an evaluation team running LLM-as-a-judge on its own outputs does the same in
bursts; it is told apart by the other groups of the extraction score (this signal is the
`elicitation` content group and needs the harvest shape beside it to page).
State: per-window sum of rubric requests (rate/rank verb + several candidates + a scale or a
rationale, detectors/features/text.py). Params: windows, min_requests, min_share (default 0.2).
Evidence: the share and its thresholds.
"""

from __future__ import annotations

from pydantic import Field

from detectors.contract import Sum
from detectors.rules.base import ShareDetector, ShareParams


class RubricParams(ShareParams):
    min_share: float = Field(0.2, gt=0, le=1)


class RubricGrading(ShareDetector):
    name = "rubric_grading"
    description = "prompts rating or ranking several candidate responses"
    MEASURES = (Sum("rubric"),)
    COUNTER = "rubric"
    WHAT = "asked to rate or rank candidate responses"
    Params = RubricParams
