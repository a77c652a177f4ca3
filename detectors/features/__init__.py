"""Per-event features, computed once per event: the numbers every detector counts.

Prompt text is read here, in memory, and reduced to booleans, a capability class and 32-bit
fingerprints; nothing of the text survives this module.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

from detectors.event import InferenceEvent
from detectors.features.capability import classify
from detectors.features.text import (
    is_instruction_generation,
    is_rubric,
    reasoning_markers,
    searchable,
    skeleton_fingerprints,
    stable_hash,
)

DEFAULT_TIER = "default"
COMPLETED_REASONS = frozenset(("stop", "end_turn", "tool_calls", "tool_use", "stop_sequence"))
_NO_TEXT = (0, 0)


class EventFeatures(NamedTuple):
    single_turn: bool  # opens a conversation and carries no earlier turns
    second_turn: bool  # the first follow-up of a conversation
    answered: bool  # the model produced an output (not throttled, not an error)
    completed: bool  # the output ended on its own (stop / tool call), not cut by max_tokens
    truncated: bool  # the output ran into max_tokens
    throttled: bool  # rejected with 429 (a harvest loop retries these at once)
    input_tokens: int
    output_tokens: int
    tools_single_turn: bool  # tool schemas declared on a single-turn prompt
    tool_results: bool  # carries a tool result: a tool call was answered
    multi_n: bool  # n >= 2 completions per prompt
    reasoning: bool  # asks for the complete reasoning trace
    reasoning_nudge: bool  # asks to think step by step (or stronger)
    rubric: bool  # asks to rate or rank candidate responses
    instruction_gen: bool  # asks for new or harder prompts/tasks (synthetic training data)
    logprob_tiny: bool  # logprobs with max_tokens <= 2
    logit_bias_size: int  # entries in logit_bias
    capability: int  # detectors.features.capability class
    template_prefix: int  # fingerprint of the prompt frame's opening words
    template_suffix: int  # fingerprint of the prompt frame's closing words
    payload: int  # fingerprint of the whole prompt (exact repeats)
    sampling: int  # fingerprint of the sampling tuple
    hour: int  # hour of day (UTC) of the event
    new_model: bool  # asks for a model released recently (from the pipeline's model registry)
    logit_ids: tuple[int, ...]  # hashes of a sample of the token ids given a logit bias
    # The newest user input was logged as text, so the text signals read it (not when the
    # gateway logs no messages, redacts them, or sends its own fingerprint instead)
    prompt_text: bool


def event_key(event_id: str) -> str:
    """A 64-bit digest of the event id: bounded state whatever ids the gateway uses."""
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).hexdigest()


def tier_of(event: InferenceEvent) -> str:
    return event.tier or DEFAULT_TIER


def is_single_turn(event: InferenceEvent) -> bool:
    """Opens a conversation and carries no earlier turns (no assistant or tool messages)."""
    if event.turn_index is not None and event.turn_index > 0:
        return False
    return not any(m.role in ("assistant", "tool", "function") for m in event.request.messages)


def is_second_turn(event: InferenceEvent) -> bool:
    """The first follow-up of a conversation: counting these against conversations opened
    gives the share of conversations that ever continue."""
    if event.turn_index is not None:
        return event.turn_index == 1
    return sum(1 for m in event.request.messages if m.role == "assistant") == 1


def _prompt_text(event: InferenceEvent) -> str:
    """The newest user input: what a template frames and a marker would be written in."""
    request = event.request
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return request.prompt or ""


# Biased token ids are sampled by a hash of the id (the same ids in every process and every
# request): a sweep of 300 ids per request costs ~38 histogram updates, not 300, and the
# distinct estimate is scaled back up by this factor (detectors/rules/logit_probe.py).
LOGIT_ID_SAMPLING = 8
_SAMPLING_SHIFT = 29  # 32-bit hash: the top 3 bits are 0 for 1 in 8 ids


def _sampled_token_ids(bias: Mapping[str, float]) -> tuple[int, ...]:
    kept = []
    for key in bias:
        # str.isdigit() accepts "²" and 5,000-digit strings, which int() refuses
        token = int(key) if key.isascii() and key.isdigit() and len(key) <= 12 else stable_hash(key)
        mixed = (token * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash
        # Sample on the high bits and bin on the low ones: sampling on the low bits would
        # leave only every eighth histogram bin reachable.
        if mixed >> _SAMPLING_SHIFT == 0:
            kept.append(mixed)
    return tuple(kept)


def _sampling_fingerprint(event: InferenceEvent) -> int:
    r = event.request
    return stable_hash(
        repr((r.temperature, r.top_p, r.max_tokens, r.n, r.seed, r.stop, r.tools, r.logprobs))
    )


def _markers(text: str, lowered: str | None = None) -> tuple[bool, bool, bool, bool]:
    """(reasoning, step-by-step nudge, rubric, instruction generation) of one text;
    `lowered` is its searchable part lower-cased when the caller has it."""
    searched = searchable(text)
    if lowered is None:
        lowered = searched.lower()
    strong, nudge = reasoning_markers(searched, lowered)
    return strong, nudge, is_rubric(searched, lowered), is_instruction_generation(lowered)


class _SystemMarkers:
    """`_markers` of system prompts, remembered by digest: an app sends one system prompt on
    every request. Only short prompts are remembered (long ones are often retrieved documents,
    unique per request), the cache is bounded, and it holds digests and booleans, not text."""

    MAX_CHARS = 8192
    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self._known: OrderedDict[bytes, tuple[bool, bool, bool, bool]] = OrderedDict()

    def __call__(self, system: str) -> tuple[bool, bool, bool, bool]:
        if len(system) > self.MAX_CHARS:
            return _markers(system)
        digest = hashlib.blake2b(system.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self._known.get(digest)
        if found is None:
            found = self._known[digest] = _markers(system)
            if len(self._known) > self.MAX_ENTRIES:
                self._known.popitem(last=False)
        else:
            self._known.move_to_end(digest)
        return found


_system_markers = _SystemMarkers()


def extract(event: InferenceEvent, new_model: bool = False) -> EventFeatures:
    request, response, usage = event.request, event.response, event.usage
    single = is_single_turn(event)
    text = _prompt_text(event)
    if request.prompt_fingerprint is not None:
        # A gateway that cannot ship text sends its own template fingerprint.
        prefix = suffix = stable_hash("g|" + request.prompt_fingerprint)
        payload = stable_hash(event.event_id)
        strong = nudge = rubric = instruction_gen = False
        capability = classify("", bool(request.tools), False)
    else:
        prefix, suffix = skeleton_fingerprints(text) if text else _NO_TEXT
        payload = stable_hash(text)
        lowered = searchable(text).lower()  # one lower-casing for every keyword feature
        strong, nudge, rubric, instruction_gen = _markers(text, lowered)
        if request.system:
            # An app sends one system prompt on every request: its markers are computed once.
            system = _system_markers(request.system)
            strong, nudge = strong or system[0], nudge or system[1]
            rubric, instruction_gen = rubric or system[2], instruction_gen or system[3]
        capability = classify(text, bool(request.tools), strong, lowered)
    status = response.status
    ok = status is None or 200 <= status < 300
    finish = response.finish_reason
    bias = request.logit_bias or {}
    max_tokens = request.max_tokens
    return EventFeatures(
        single_turn=single,
        second_turn=not single and is_second_turn(event),
        answered=ok and (usage.output_tokens > 0 or finish is not None),
        completed=ok and finish in COMPLETED_REASONS,
        truncated=finish == "length",
        throttled=status == 429,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        tools_single_turn=single and bool(request.tools),
        tool_results=any(m.role in ("tool", "function") for m in request.messages),
        multi_n=(request.n or 1) >= 2,
        reasoning=strong,
        reasoning_nudge=nudge,
        rubric=rubric,
        instruction_gen=instruction_gen,
        logprob_tiny=bool(request.logprobs or request.top_logprobs)
        and max_tokens is not None
        and max_tokens <= 2,
        logit_bias_size=len(bias),
        capability=capability,
        template_prefix=prefix,
        template_suffix=suffix,
        payload=payload,
        sampling=_sampling_fingerprint(event),
        hour=int(event.timestamp // 3600 % 24),
        new_model=new_model,
        logit_ids=_sampled_token_ids(bias) if bias else (),
        prompt_text=bool(text) and request.prompt_fingerprint is None,
    )
