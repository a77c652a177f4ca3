"""Attack families that hide in the crowd: a hydra built to look like many unrelated light
users, and a reseller account that relays ordinary customers and a harvester together.

Written from detection.md's public reports (campaigns over ~25,000 accounts at ~26 requests per
account per day, proxy services mixing attack traffic with ordinary customers'), not from any
detector: each account alone is a light, partly conversational user; only what the accounts
share (job windows, templates of a sub-team, small payment groups, client library) ties them.
"""

from __future__ import annotations

import heapq
import random

from streams.sim.attacks import HYDRA_PER_DAY, _campaign_waves, _poisson
from streams.sim.benign import chat
from streams.sim.harvest import Builder, Events, Sampling, run
from streams.sim.harvesters import instruction_request, reasoning_request, rubric_request
from streams.sim.profile import Profile

# Sub-teams of a stealthy campaign, per campaign: each team its own request kind, template
# variant and sampling tuple (the orchestrator's teams run different pipelines through the same
# pool of accounts); no two campaigns share a template variant or a sampling tuple.
STEALTH_TEAMS: tuple[tuple[tuple[Builder, int, Sampling], ...], ...] = (
    (
        (reasoning_request, 0, Sampling(8192, 0.7, top_p=0.9)),
        (reasoning_request, 2, Sampling(12288, 0.5)),
        (instruction_request, 1, Sampling(4096, 0.9, top_p=0.95)),
        (rubric_request, 0, Sampling(3072, 0.1, seed=5)),
    ),
    (
        (reasoning_request, 1, Sampling(6144, 0.8, seed=77)),
        (instruction_request, 0, Sampling(2048, 1.0, top_p=0.8)),
        (instruction_request, 2, Sampling(8192, 0.6, top_p=0.7)),
        (rubric_request, 1, Sampling(4096, 0.3)),
    ),
)
STEALTH_PARTICIPATION = 0.5  # share of the orchestrator's jobs an account is scheduled into
STEALTH_JITTER_SECONDS = 1200.0  # an account's requests drift up to 20 min off the job window


def stealth_team(p: Profile) -> tuple[Builder, int, Sampling]:
    """The sub-team an account belongs to: fixed per account, spread evenly."""
    teams = STEALTH_TEAMS[p.campaign_index % len(STEALTH_TEAMS)]
    return teams[random.Random(f"team:{p.account_id}").randrange(len(teams))]


def stealthy_hydra_member(p: Profile, start: float, end: float) -> Events:
    """~26 harvest requests a day in its sub-team's template and sampling, in the languages of
    the campaign, jittered around the orchestrator's job windows, and ordinary chat sessions
    as cover on every account."""
    build, variant, sampling = stealth_team(p)
    waves = _campaign_waves(p, start, end)
    waves_per_day = len(waves) * 86400 / max(1.0, end - start)
    per_wave = p.rng.uniform(*HYDRA_PER_DAY) / max(1.0, waves_per_day * STEALTH_PARTICIPATION)
    shift = p.rng.uniform(-STEALTH_JITTER_SECONDS, STEALTH_JITTER_SECONDS)

    def harvest() -> Events:
        for wave_start, wave_end in waves:
            if p.rng.random() >= STEALTH_PARTICIPATION:
                continue
            times = sorted(
                min(end - 1, max(start, p.rng.uniform(wave_start, wave_end) + shift))
                for _ in range(_poisson(p.rng, per_wave))
            )
            for ts in times:
                yield from build(p, ts, variant, sampling)

    yield from heapq.merge(harvest(), chat(p, start, end), key=lambda e: float(e["timestamp"]))


RESELLER_CUSTOMERS = 4  # ordinary customers relayed through the reseller's one account
RESELLER_HARVESTS: tuple[tuple[Builder, int, Sampling], ...] = (  # one per campaign
    (reasoning_request, 1, Sampling(8192, 0.4, seed=11)),
    (instruction_request, 2, Sampling(4096, 0.8, top_p=0.9)),
    (reasoning_request, 2, Sampling(16384, 0.6, top_p=0.95)),
)


def reseller(p: Profile, start: float, end: float) -> Events:
    """One account relaying several customers from its own servers: ordinary chat customers,
    and one customer harvesting reasoning traces at a dedicated pipeline's pace."""
    streams = [chat(p, start, end, customer=f"r{i}-") for i in range(RESELLER_CUSTOMERS)]
    build, variant, sampling = RESELLER_HARVESTS[p.campaign_index % len(RESELLER_HARVESTS)]
    streams.append(run(p, start, end, build, sampling, variant=variant))
    yield from heapq.merge(*streams, key=lambda e: float(e["timestamp"]))


HIDDEN_CAMPAIGN_FAMILIES = {
    "stealthy_hydra": stealthy_hydra_member,
    "reseller": reseller,
}
