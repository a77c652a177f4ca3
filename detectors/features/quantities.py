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


SUMS: dict[str, Callable[[EventFeatures], int]] = {
    "requests": lambda f: 1,
    "input_tokens": lambda f: min(f.input_tokens, TOKEN_CAP),
    "output_tokens": lambda f: min(f.output_tokens, TOKEN_CAP),
    # Moments of (input, output) tokens over single-turn answered requests: the correlation
    # tells transforms of a supplied payload (translation) from generation. In units of
    # MOMENT_UNIT tokens, capped, so a week of sums stays exact in Redis's Lua (doubles).
    "io_requests": lambda f: int(f.single_turn and f.answered),
    "io_in": lambda f: _units(f.input_tokens) if f.single_turn and f.answered else 0,
    "io_out": lambda f: _units(f.output_tokens) if f.single_turn and f.answered else 0,
    "io_in_sq": lambda f: _units(f.input_tokens) ** 2 if f.single_turn and f.answered else 0,
    "io_out_sq": lambda f: _units(f.output_tokens) ** 2 if f.single_turn and f.answered else 0,
    "io_in_out": lambda f: (
        _units(f.input_tokens) * _units(f.output_tokens) if f.single_turn and f.answered else 0
    ),
    "single_turn": lambda f: int(f.single_turn),
    "second_turn": lambda f: int(f.second_turn),
    "answered": lambda f: int(f.answered),
    "completed": lambda f: int(f.completed),
    "truncated": lambda f: int(f.truncated),
    "throttled": lambda f: int(f.throttled),
    "tools_single_turn": lambda f: int(f.tools_single_turn),
    "tool_results": lambda f: int(f.tool_results),
    "multi_n": lambda f: int(f.multi_n),
    "reasoning": lambda f: int(f.reasoning),
    "reasoning_nudge": lambda f: int(f.reasoning_nudge),
    "rubric": lambda f: int(f.rubric),
    "instruction_gen": lambda f: int(f.instruction_gen),
    "logprob_tiny": lambda f: int(f.logprob_tiny),
    "logit_bias_requests": lambda f: int(f.logit_bias_size > 0),
    "logit_bias_entries": lambda f: f.logit_bias_size,
    "new_model": lambda f: int(f.new_model),
}
# One counter per capability class, in CLASS_NAMES order.
CAPABILITY_COUNTERS = tuple(f"capability_{name}" for name in CLASS_NAMES)
for _index, _counter in enumerate(CAPABILITY_COUNTERS):
    SUMS[_counter] = lambda f, i=_index: int(f.capability == i)  # type: ignore[misc]

BINS: dict[str, Callable[[EventFeatures], tuple[int, ...]]] = {
    "template_prefix": lambda f: (f.template_prefix,),
    "template_suffix": lambda f: (f.template_suffix,),
    "payload": lambda f: (f.payload,),
    "sampling": lambda f: (f.sampling,),
    "hour_of_day": lambda f: (f.hour,),
    "logit_ids": lambda f: f.logit_ids,
}
