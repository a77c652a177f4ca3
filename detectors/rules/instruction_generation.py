"""instruction_generation: prompts asking the model to write new or harder prompts.

Attack: synthetic instruction data is bootstrapped from the model itself. Self-Instruct and
Alpaca-style pipelines send seed tasks and ask for "N more tasks like these"; Evol-Instruct
asks to rewrite a prompt into a harder, more specific or rarer one, then harvests the answer
to the evolved prompt. Either way a steady share of the account's requests asks the model to
produce prompts, not answers.
Look-alikes: a teacher asking for quiz questions, a product team paraphrasing its own user
requests. Paraphrasing one request is not matched (detectors/features/text.py asks for new or
harder tasks/instructions/prompts/questions); an occasional request is below the share; and
it never pages alone: it is the `elicitation` content group of the extraction score, beside
the harvest shape.
State: per-window sum of instruction-generation requests. Params: windows, min_requests,
min_share (default 0.25). Evidence: the share and its thresholds.
"""

from __future__ import annotations

from pydantic import Field

from detectors.contract import Sum
from detectors.rules.base import ShareDetector, ShareParams


class InstructionGenerationParams(ShareParams):
    min_share: float = Field(0.25, gt=0, le=1)


class InstructionGeneration(ShareDetector):
    name = "instruction_generation"
    description = "requests for new or harder prompts: synthetic instruction data"
    MEASURES = (Sum("instruction_gen"),)
    COUNTER = "instruction_gen"
    WHAT = "asked the model to write new or harder prompts"
    Params = InstructionGenerationParams
