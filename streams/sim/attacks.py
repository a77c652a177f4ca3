"""Attack families: the registry, and the families defined by how a campaign is run rather than by
its template (logit probing, model-release pivot, low-and-slow, mixed with cover traffic, hydra).
Written from detection.md's public campaign shapes, not from any detector.

Every family runs as several campaigns (scenarios.ATTACK_CAMPAIGNS); `Profile.campaign_index`
picks the campaign's template variant, sampling tuple, languages and pacing, and
`Profile.campaign` seeds what its accounts share (job windows, probe prompts).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

from streams.sim.harvest import Builder, Events, Sampling, campaign_rng, run, schedule
from streams.sim.harvesters import (
    agentic_coding_harvest,
    agentic_request,
    evol_instruct,
    instruction_request,
    reasoning_harvest,
    reasoning_request,
    rubric_grading,
    rubric_request,
    self_instruct,
)
from streams.sim.profile import Profile

VOCABULARY = 100_000
PROBE_SETTINGS = (  # (requests/h, ids per map, bias, top_logprobs, max_tokens, pacing)
    (200.0, 300, 100, 5, 1, "steady"),
    (250.0, 200, 50, 20, 2, "runs"),
)


def logit_probe(p: Profile, start: float, end: float) -> Events:
    """Carlini et al. 2024: sweeps the vocabulary with large `logit_bias` maps and reads
    `logprobs` of a 1-2 token answer; recovering a hidden size d takes >= d such queries."""
    k = p.campaign_index % len(PROBE_SETTINGS)
    per_hour, width, bias, top, max_tokens, pacing = PROBE_SETTINGS[k]
    crng = campaign_rng(p, "probe")
    prompts = crng.sample(p.corpus.chat_openers, 1 if k == 0 else 5)
    stride = 1 if k == 0 else 7919  # a sequential sweep, or a permuted one (7919 is prime)
    position = p.rng.randrange(VOCABULARY)
    for ts in schedule(p, start, end, per_hour * p.rng.uniform(0.9, 1.1), pacing):
        ids = [(position + i) * stride % VOCABULARY for i in range(width)]
        position += width
        prompt = p.rng.choice(prompts)
        yield p.event(
            ts,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            input_tokens=p.tokens_of(prompt),
            output_tokens=max_tokens,
            logit_bias={str(token): bias for token in ids},
            logprobs=True,
            top_logprobs=top,
            temperature=0.0,
        )


NEW_MODEL = "frontier-large-2"
RELEASE_AT = 0.4  # of the run: when the new model is released
PIVOTS: tuple[tuple[Builder, int, Sampling], ...] = (
    (reasoning_request, 2, Sampling(12288, 0.8, top_p=0.95)),
    (agentic_request, 0, Sampling(8192, 0.1, seed=5)),
)


def model_pivot(p: Profile, start: float, end: float) -> Events:
    """Harvests the current model, then moves about half its traffic to a newly released one
    within hours of the release (detection.md: within 24 h)."""
    build, variant, sampling = PIVOTS[p.campaign_index % len(PIVOTS)]
    crng = campaign_rng(p, "pivot")
    moved_at = start + (end - start) * RELEASE_AT + crng.uniform(0.5, 6) * 3600
    share = crng.uniform(0.5, 0.65)
    for event in run(p, start, end, build, sampling, variant=variant):
        if event["timestamp"] >= moved_at and p.rng.random() < share:
            event["model"] = NEW_MODEL
        yield event


SLOW_PER_HOUR = (1.0, 3.0)  # tens a day: far under any per-account limit
SLOW: tuple[tuple[Builder, int, Sampling, str], ...] = (
    (reasoning_request, 1, Sampling(16384, 0.5, seed=11), "steady"),
    (rubric_request, 1, Sampling(2048, 0.0, seed=3), "runs"),
)


def low_and_slow(p: Profile, start: float, end: float) -> Events:
    build, variant, sampling, pacing = SLOW[p.campaign_index % len(SLOW)]
    per_hour = campaign_rng(p, "slow").uniform(*SLOW_PER_HOUR)
    return run(p, start, end, build, sampling, variant=variant, per_hour=per_hour, pacing=pacing)


MIXED: tuple[tuple[Builder, int, Sampling], ...] = (
    (instruction_request, 0, Sampling(4096, 1.0, top_p=0.9)),
    (reasoning_request, 0, Sampling(8192, 0.7)),
)


def mixed_harvester(p: Profile, start: float, end: float) -> Events:
    """Blends real chat sessions (cover traffic) into its harvest to dilute its shares."""
    from streams.sim.benign import chat

    build, variant, sampling = MIXED[p.campaign_index % len(MIXED)]
    harvest = run(p, start, end, build, sampling, variant=variant)
    yield from heapq.merge(harvest, chat(p, start, end), key=lambda e: float(e["timestamp"]))


HYDRA_WAVE_SECONDS = (600, 1800)  # one orchestrator job: 10-30 minutes
HYDRA_MEAN_WAVE_GAP = 2700  # between jobs, on average
HYDRA_PARTICIPATION = 0.8  # share of jobs a given account is scheduled into
HYDRA_PER_DAY = (18.0, 34.0)  # public report: ~26 exchanges per account per day
HYDRA: tuple[tuple[Builder, int, Sampling], ...] = (
    (reasoning_request, 0, Sampling(8192, 0.6, top_p=0.95)),
    (reasoning_request, 1, Sampling(6144, 0.4, seed=99)),
)


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
    """One of many accounts of a campaign: ~26 requests a day, the campaign's template, sent
    only during the orchestrator's job windows, so the accounts' per-minute counts move
    together (detection.md: synchronized timing)."""
    build, variant, sampling = HYDRA[p.campaign_index % len(HYDRA)]
    waves = _campaign_waves(p, start, end)
    waves_per_day = len(waves) * 86400 / max(1.0, end - start)
    per_wave = p.rng.uniform(*HYDRA_PER_DAY) / max(1.0, waves_per_day * HYDRA_PARTICIPATION)
    for wave_start, wave_end in waves:
        if p.rng.random() >= HYDRA_PARTICIPATION:
            continue
        times = sorted(
            p.rng.uniform(wave_start, wave_end) for _ in range(_poisson(p.rng, per_wave))
        )
        for ts in times:
            yield from build(p, ts, variant, sampling)


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
