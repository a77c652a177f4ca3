"""The named per-event quantities a detector may declare as measures.

`SUMS[name](features)` is what one event adds to the counter `name`; `BINS[name](features)` is
the hashes of the bins it adds 1 to in histogram `name` (the store reduces them modulo the
histogram's size). A detector declaring a name missing here is refused when rules are bound.
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.features import EventFeatures
from detectors.features.capability import CLASS_NAMES

# No request carries 16M tokens; a larger count is a producer's bug and must not make sums
# inexact (Lua numbers are doubles, exact to 2^53).
TOKEN_CAP = 1 << 24
MOMENT_UNIT = 16  # tokens per unit of the io_* moments (ratios and correlation are unitless)


def _units(tokens: int) -> int:
    return (min(tokens, TOKEN_CAP) + MOMENT_UNIT // 2) // MOMENT_UNIT


# One counter per capability class, in CLASS_NAMES order.
CAPABILITY_COUNTERS = tuple(f"capability_{name}" for name in CLASS_NAMES)
SUM_NAMES = (
    "requests", "input_tokens", "output_tokens",
    # Moments of (input, output) tokens over single-turn answered requests: the correlation
    # tells transforms of a supplied payload (translation) from generation. In units of
    # MOMENT_UNIT tokens, capped, so a week of sums stays exact in Redis's Lua (doubles).
    "io_requests", "io_in", "io_out", "io_in_sq", "io_out_sq", "io_in_out",
    "single_turn", "second_turn", "answered", "completed", "truncated", "throttled",
    "tools_single_turn", "tool_results", "multi_n", "reasoning", "reasoning_nudge", "rubric",
    "instruction_gen", "logprob_tiny", "logit_bias_requests", "logit_bias_entries", "new_model",
    *CAPABILITY_COUNTERS, "prompt_text",
)  # fmt: skip
_CAPABILITY_ONE_HOT = tuple(
    tuple(int(i == j) for j in range(len(CLASS_NAMES))) for i in range(len(CLASS_NAMES))
)


def sum_values(f: EventFeatures) -> tuple[int, ...]:
    """What one event adds to every counter, in SUM_NAMES order: one call per event (a
    function per counter cost more than the rest of the window update)."""
    tokens_in, tokens_out = min(f.input_tokens, TOKEN_CAP), min(f.output_tokens, TOKEN_CAP)
    if f.single_turn and f.answered:
        units_in, units_out = _units(tokens_in), _units(tokens_out)
        io = (1, units_in, units_out, units_in**2, units_out**2, units_in * units_out)
    else:
        io = (0, 0, 0, 0, 0, 0)
    return (
        1, tokens_in, tokens_out, *io,
        int(f.single_turn), int(f.second_turn), int(f.answered), int(f.completed),
        int(f.truncated), int(f.throttled), int(f.tools_single_turn), int(f.tool_results),
        int(f.multi_n), int(f.reasoning), int(f.reasoning_nudge), int(f.rubric),
        int(f.instruction_gen), int(f.logprob_tiny), int(f.logit_bias_size > 0),
        f.logit_bias_size, int(f.new_model),
        *_CAPABILITY_ONE_HOT[f.capability], int(f.prompt_text),
    )  # fmt: skip


# Each counter by name (what detectors declare, and what tests read one at a time).
SUMS: dict[str, Callable[[EventFeatures], int]] = {
    name: (lambda f, i=index: sum_values(f)[i])  # type: ignore[misc]
    for index, name in enumerate(SUM_NAMES)
}

BINS: dict[str, Callable[[EventFeatures], tuple[int, ...]]] = {
    "template_prefix": lambda f: (f.template_prefix,),
    "template_suffix": lambda f: (f.template_suffix,),
    "payload": lambda f: (f.payload,),
    "sampling": lambda f: (f.sampling,),
    "hour_of_day": lambda f: (f.hour,),
    "logit_ids": lambda f: f.logit_ids,
}
