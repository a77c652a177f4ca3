"""Attack families, written from the campaign shapes in detection.md (not from any detector).

Common harvest traits: single-turn requests, one fixed sampling tuple per pipeline, a large
`max_tokens` that outputs often run into, 24/7 machine pacing, retries after 429s.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from streams.sim.profile import Profile

Events = Iterator[dict[str, Any]]

REASONING_MARKERS = {
    "en": "Think step by step and write out your complete reasoning before the final answer.",
    "de": "Denke Schritt für Schritt nach und schreibe deine vollständige Begründung auf.",
    "fr": "Réfléchis étape par étape et écris tout ton raisonnement avant la réponse finale.",
    "es": "Piensa paso a paso y escribe todo tu razonamiento antes de la respuesta final.",
    "zh": "请一步一步地思考，并在给出最终答案之前写出你完整的推理过程。",
    "ja": "段階的に考え、最終的な答えの前に推論の過程をすべて書き出してください。",
    "ru": "Рассуждай шаг за шагом и запиши все свои рассуждения перед окончательным ответом.",
}


def _pace(p: Profile, ts: float, per_hour: float) -> float:
    """Machine pacing: near-regular gaps around the target rate, 24/7."""
    return ts + (3600 / per_hour) * p.rng.uniform(0.6, 1.4)


def _harvest_request(
    p: Profile,
    ts: float,
    prompt: str,
    *,
    max_tokens: int,
    near_max: float,
    system: str | None = None,
    model: str | None = None,
    **request: Any,
) -> Events:
    """One harvest call; a 429 now and then is retried at once with the same body."""
    if p.rng.random() < 0.03:
        throttled = p.event(
            ts,
            messages=[{"role": "user", "content": prompt}],
            system=system,
            max_tokens=max_tokens,
            input_tokens=p.tokens_of(prompt),
            output_tokens=0,
            model=model,
            **request,
        )
        throttled["response"] = {"status": 429, "finish_reason": None}
        yield throttled
        ts += p.rng.uniform(0.5, 3)
    output = max_tokens if p.rng.random() < near_max else int(max_tokens * p.rng.uniform(0.3, 0.8))
    yield p.event(
        ts,
        messages=[{"role": "user", "content": prompt}],
        system=system,
        max_tokens=max_tokens,
        input_tokens=p.tokens_of(prompt) + 12,
        output_tokens=output,
        model=model,
        **request,
    )


def self_instruct(p: Profile, start: float, end: float, per_hour: float = 150) -> Events:
    ts = start + p.rng.uniform(0, 600)
    while ts < end:
        seeds = p.rng.sample(p.corpus.seed_tasks, 3)
        listing = "\n".join(f"Task {i + 1}: {s}" for i, s in enumerate(seeds))
        prompt = f"Come up with a series of tasks:\n\n{listing}\nTask 4:"
        yield from _harvest_request(
            p, ts, prompt, max_tokens=3072, near_max=0.7, temperature=1.0, top_p=1.0
        )
        ts = _pace(p, ts, per_hour)


def evol_instruct(p: Profile, start: float, end: float, per_hour: float = 150) -> Events:
    method = p.rng.choice(
        (
            "Add one more constraint or requirement",
            "Replace general concepts with more specific concepts",
            "Rewrite it to require explicit multi-step reasoning",
        )
    )
    ts = start + p.rng.uniform(0, 600)
    while ts < end:
        seed = p.rng.choice(p.corpus.instructions + p.corpus.seed_tasks)
        prompt = (
            "I want you to act as a Prompt Rewriter. Rewrite the given prompt into a more "
            f"complex version. Method: {method}.\n#The Given Prompt#:\n{seed}\n"
            "#Rewritten Prompt#:"
        )
        yield from _harvest_request(p, ts, prompt, max_tokens=1024, near_max=0.3, temperature=0.7)
        ts = _pace(p, ts, per_hour)


def _reasoning_request(
    p: Profile, ts: float, languages: list[str], model: str | None = None
) -> Events:
    marker = REASONING_MARKERS[p.rng.choice(languages)]
    problem = p.rng.choice(p.corpus.hard_queries)
    return _harvest_request(
        p,
        ts,
        f"{problem}\n\n{marker}",
        max_tokens=8192,
        near_max=0.75,
        model=model,
        temperature=0.6,
    )


def reasoning_harvest(
    p: Profile, start: float, end: float, per_hour: float = 120, model: str | None = None
) -> Events:
    languages = p.rng.sample(sorted(REASONING_MARKERS), 3)
    ts = start + p.rng.uniform(0, 600)
    while ts < end:
        yield from _reasoning_request(p, ts, languages, model)
        ts = _pace(p, ts, per_hour)


def rubric_grading(p: Profile, start: float, end: float, per_hour: float = 120) -> Events:
    ts = start + p.rng.uniform(0, 600)
    while ts < end:
        n = p.rng.randint(3, 5)
        instruction = p.rng.choice(p.corpus.instructions)
        candidates = p.rng.sample(p.corpus.answers, n)
        answers = "\n\n".join(f"[Response {i + 1}]\n{text}" for i, text in enumerate(candidates))
        prompt = (
            f"Below is an instruction and {n} candidate responses. Rate each response on "
            "a scale of 1 to 5 for helpfulness, honesty and harmlessness, and give a "
            f"rationale for each rating.\n\n[Instruction]\n{instruction}\n\n{answers}"
        )
        yield from _harvest_request(p, ts, prompt, max_tokens=1500, near_max=0.4, temperature=0.0)
        ts = _pace(p, ts, per_hour)


def agentic_coding_harvest(p: Profile, start: float, end: float, per_hour: float = 100) -> Events:
    ts = start + p.rng.uniform(0, 600)
    while ts < end:
        task = p.rng.choice(p.corpus.coding_queries)
        prompt = (
            f"{task}\n\nYou are an autonomous coding agent. Produce the complete "
            "implementation, the tool calls you would make, and full unit tests."
        )
        yield from _harvest_request(
            p, ts, prompt, max_tokens=8192, near_max=0.6, tools=12, temperature=0.2
        )
        ts = _pace(p, ts, per_hour)


def logit_probe(p: Profile, start: float, end: float, per_hour: float = 600) -> Events:
    """Carlini et al. 2024: large logit_bias maps, logprobs, max_tokens 1."""
    ts = start + p.rng.uniform(0, 600)
    prompt = p.rng.choice(p.corpus.chat_openers)
    next_token = p.rng.randrange(100_000)
    while ts < end:
        bias = {str((next_token + i) % 100_000): 100 for i in range(300)}
        next_token += 300
        yield p.event(
            ts,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=1,
            input_tokens=p.tokens_of(prompt),
            output_tokens=1,
            logit_bias=bias,
            logprobs=True,
            top_logprobs=5,
            temperature=0.0,
        )
        ts = _pace(p, ts, per_hour)


def model_pivot(p: Profile, start: float, end: float) -> Events:
    """Harvests the current model, then moves ~half its traffic to a newly released one."""
    release = start + (end - start) * 0.4
    for event in reasoning_harvest(p, start, end, per_hour=100):
        if event["timestamp"] >= release and p.rng.random() < 0.55:
            event["model"] = "frontier-large-2"
        yield event


def low_and_slow(p: Profile, start: float, end: float) -> Events:
    """Stays far under per-account volume limits: ~5 requests an hour."""
    return reasoning_harvest(p, start, end, per_hour=5)


def mixed_harvester(p: Profile, start: float, end: float) -> Events:
    """Blends benign-looking chat sessions into its harvest to dilute its shares."""
    from streams.sim.benign import chat

    harvest = list(self_instruct(p, start, end, per_hour=60))
    cover = list(chat(p, start, end))
    yield from sorted(harvest + cover, key=lambda e: e["timestamp"])


HYDRA_WAVE_SECONDS = (600, 1800)  # one orchestrator job: 10-30 minutes
HYDRA_MEAN_WAVE_GAP = 2700  # between jobs, on average
HYDRA_PARTICIPATION = 0.8  # share of jobs a given account is scheduled into


def _campaign_waves(p: Profile, start: float, end: float) -> list[tuple[float, float]]:
    """The campaign orchestrator's job windows: the same for every account of the campaign."""
    rng = random.Random(f"waves:{p.campaign}")
    waves, ts = [], start + rng.uniform(0, 1800)
    while ts < end:
        length = rng.uniform(*HYDRA_WAVE_SECONDS)
        waves.append((ts, ts + length))
        ts += length + rng.expovariate(1 / HYDRA_MEAN_WAVE_GAP)
    return waves


def _poisson(rng: random.Random, mean: float) -> int:
    count, budget = 0, rng.expovariate(1.0)
    while budget < mean:
        count += 1
        budget += rng.expovariate(1.0)
    return count


def hydra_member(p: Profile, start: float, end: float) -> Events:
    """One of many accounts of a campaign: ~20-40 requests a day, the shared template, sent
    only during the orchestrator's job windows, so the accounts' per-minute counts move
    together (detection.md: synchronized timing)."""
    languages = p.rng.sample(sorted(REASONING_MARKERS), 3)
    waves = _campaign_waves(p, start, end)
    waves_per_day = len(waves) * 86400 / max(1.0, end - start)
    per_wave = p.rng.uniform(20, 40) / max(1.0, waves_per_day * HYDRA_PARTICIPATION)
    for wave_start, wave_end in waves:
        if p.rng.random() >= HYDRA_PARTICIPATION:
            continue
        times = sorted(
            p.rng.uniform(wave_start, wave_end) for _ in range(_poisson(p.rng, per_wave))
        )
        for ts in times:
            yield from _reasoning_request(p, ts, languages)


ATTACK_FAMILIES: dict[str, Callable[[Profile, float, float], Events]] = {
    "self_instruct": self_instruct,
    "evol_instruct": evol_instruct,
    "reasoning_harvest": reasoning_harvest,
    "rubric_grading": rubric_grading,
    "agentic_coding_harvest": agentic_coding_harvest,
    "logit_probe": logit_probe,
    "model_pivot": model_pivot,
    "hydra": hydra_member,
    "low_and_slow": low_and_slow,
    "mixed_harvester": mixed_harvester,
}
