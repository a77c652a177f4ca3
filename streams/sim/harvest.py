"""Harvest machinery shared by the attack families: a campaign's fixed sampling tuple, its
machine pacing (24/7, long job runs, or concurrent batches) and one harvest call.

Rates follow the public reports (detection.md): a dedicated account sends a few hundred
requests over two days (4-12 an hour), not thousands; what gives it away is its content.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from streams.sim.profile import Profile

Events = Iterator[dict[str, Any]]
PACING = ("steady", "runs", "batches")
DEDICATED_PER_HOUR = (4.0, 12.0)
RETRY_RATE = 0.03  # share of calls answered 429 and retried at once with the same body
RUNAWAY_RATE = 0.02  # generations that loop until max_tokens: the few truncated harvest outputs


@dataclass(frozen=True)
class Sampling:
    """One pipeline's fixed sampling tuple; generous `max_tokens` (truncated answers are poor
    training data)."""

    max_tokens: int
    temperature: float
    top_p: float | None = None
    seed: int | None = None
    n: int | None = None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature}
        for name in ("top_p", "seed", "n"):
            if getattr(self, name) is not None:
                params[name] = getattr(self, name)
        return params


# One request of a family: (profile, time, template variant, sampling) -> its events.
Builder = Callable[[Profile, float, int, Sampling], Events]


def campaign_rng(p: Profile, salt: str) -> random.Random:
    """Shared by every account of the campaign: the orchestrator's settings, not the account's."""
    return random.Random(f"{salt}:{p.campaign}:{p.campaign_index}")


def schedule(p: Profile, start: float, end: float, per_hour: float, mode: str) -> Iterator[float]:
    """Request times. `steady`: near-regular gaps 24/7. `runs`: long job runs (6-14 h) with
    pauses. `batches`: a batch job every 1-3 h whose requests go out a few seconds apart
    (an async client with a concurrency limit), idle in between."""
    gap = 3600 / per_hour
    ts = start + p.rng.uniform(0, min(gap, 900))
    if mode == "steady":
        while ts < end:
            yield ts
            ts += gap * p.rng.uniform(0.7, 1.3)
    elif mode == "runs":
        while ts < end:
            run_end = ts + p.rng.uniform(6, 14) * 3600
            pause = p.rng.uniform(1, 4) * 3600
            # The run makes up for the pause, so the mean rate stays per_hour.
            run_gap = gap * (run_end - ts) / (run_end - ts + pause)
            while ts < min(run_end, end):
                yield ts
                ts += run_gap * p.rng.uniform(0.8, 1.2)
            ts = run_end + pause
    else:
        every = p.rng.uniform(1, 3) * 3600
        size = max(1, round(per_hour * every / 3600))
        while ts < end:
            moment = ts
            for _ in range(size):
                yield moment
                moment += p.rng.uniform(1, 25)
            ts += every * p.rng.uniform(0.9, 1.1)


def run(
    p: Profile,
    start: float,
    end: float,
    build: Builder,
    sampling: Sampling,
    *,
    variant: int,
    per_hour: float | None = None,
    pacing: str | None = None,
) -> Events:
    """A dedicated account: the campaign's rate and pacing, then one request per tick."""
    crng = campaign_rng(p, "pace")
    rate = (per_hour or crng.uniform(*DEDICATED_PER_HOUR)) * p.rng.uniform(0.85, 1.15)
    mode = pacing or PACING[(p.campaign_index + crng.randrange(len(PACING))) % len(PACING)]
    for ts in schedule(p, start, end, rate, mode):
        yield from build(p, ts, variant, sampling)


def call(
    p: Profile,
    ts: float,
    prompt: str,
    sampling: Sampling,
    output_tokens: int,
    *,
    system: str | None = None,
    finish: str = "stop",
    **extra: Any,
) -> Events:
    """One single-turn harvest call (no conversation, never a follow-up); a 429 now and then
    is retried at once with the same body."""
    request = {**sampling.params(), **extra}
    if p.rng.random() < RUNAWAY_RATE:
        output_tokens = sampling.max_tokens
    messages = [{"role": "user", "content": prompt}]
    input_tokens = p.tokens_of(prompt) + (p.tokens_of(system) if system else 0) + 8
    if p.rng.random() < RETRY_RATE:
        throttled = p.event(
            ts,
            messages=messages,
            system=system,
            max_tokens=sampling.max_tokens,
            input_tokens=input_tokens,
            output_tokens=0,
            **request,
        )
        throttled["response"] = {"status": 429, "finish_reason": None}
        yield throttled
        ts += p.rng.uniform(0.5, 3)
    event = p.event(
        ts,
        messages=messages,
        system=system,
        max_tokens=sampling.max_tokens,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        finish=finish,
        **request,
    )
    if sampling.n and sampling.n > 1:  # usage counts the tokens of every choice
        event["usage"]["output_tokens"] *= sampling.n
    yield event
