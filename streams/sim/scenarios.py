"""Scenarios: a benign population plus attack campaigns, as one labelled event stream.

`all` runs every attack family against the benign population; an attack family's name runs
that family alone against it; `benign` runs no attack. Deterministic for a seed. Events are
generated lazily and merged in time order, so a 48-hour, 1,000-account scenario streams to a
file or to Kafka without being held in memory.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from streams.sim.corpus import Corpus, load_corpus
from streams.sim.families import ATTACK_FAMILIES, BENIGN_FAMILIES
from streams.sim.profile import fingerprint, new_profile
from streams.sim.shared_infra import SAAS_USER_AGENT
from streams.sim.templates import CLIENT_AGENTS

DEFAULT_START = 1_771_833_600.0  # 2026-02-23T08:00:00Z
# Share of the benign population per family (heavy families are rarer, as on a real platform);
# every family gets at least ~5 of the default 200 accounts, so its false-positive rate means
# something. Chat takes what rounding leaves.
BENIGN_MIX = {
    "chat": 0.21,
    "step_by_step_user": 0.06,
    "corporate_nat": 0.18,
    "coding_agent": 0.05,
    "batch_user": 0.025,
    "rag_app": 0.025,
    "translation_pipeline": 0.025,
    "eval_harness": 0.025,
    "bulk_api_customer": 0.03,
    "support_bot": 0.03,
    "benchmark_researchers": 0.06,
    "synthetic_data_user": 0.025,
    "agent_platform": 0.03,
    "tutoring_app": 0.03,
    "mobile_carrier_nat": 0.06,
    "university_lab": 0.04,
    "saas_customers": 0.05,
}
NAT_GROUP_SIZE = 12  # accounts behind one corporate NAT IP
# Accounts per campaign, per attack family: several campaigns each, so that a family's recall
# is not one account and no detector can key on one campaign's template or client.
ATTACK_CAMPAIGNS = {
    "self_instruct": (2, 2, 1),
    "evol_instruct": (3, 2),
    "reasoning_harvest": (2, 2, 2),
    "rubric_grading": (3, 2),
    "agentic_coding_harvest": (3, 2),
    "logit_probe": (2, 2),
    "model_pivot": (3, 2),
    "hydra": (150, 150),
    "low_and_slow": (2, 2),
    "mixed_harvester": (2, 2),
    "stealthy_hydra": (120, 120),
    "reseller": (1, 1, 1),
}
ATTACK_TIERS = ("free", "build", "build", "scale")
BENIGN_TIERS = {
    "chat": ("free", "build"),
    "step_by_step_user": ("free", "build"),
    "corporate_nat": ("enterprise",),
    "coding_agent": ("build", "scale"),
    "batch_user": ("scale",),
    "rag_app": ("scale", "enterprise"),
    "translation_pipeline": ("scale",),
    "eval_harness": ("build", "scale"),
    "bulk_api_customer": ("scale", "enterprise"),
    "support_bot": ("scale", "enterprise"),
    "benchmark_researchers": ("free", "build", "build"),
    "synthetic_data_user": ("build", "scale"),
    "agent_platform": ("scale", "enterprise"),
    "tutoring_app": ("build", "scale"),
    "mobile_carrier_nat": ("free", "build"),
    "university_lab": ("free", "build"),
    "saas_customers": ("build", "scale"),
}
SCENARIOS = ("all", "benign", *ATTACK_FAMILIES)


@dataclass(frozen=True)
class Label:
    account_id: str
    label: str  # attack | benign
    family: str  # for attacks, the family; Simulation.campaigns() tells its campaigns apart


@dataclass(frozen=True)
class _Account:
    """Everything needed to (re)generate one account's traffic."""

    account_id: str
    label: str
    family: str
    tier: str
    identity: dict[str, Any]


# A generator may emit an account's events slightly out of order (a chat session's later turns
# before the next session's start); none reorders by more than this. The merge holds events
# back this long, so memory is bounded by traffic per horizon, not by the scenario's length.
REORDER_HORIZON_SECONDS = 3600.0


class SimulationOrderError(RuntimeError):
    """A family generator went back in time further than REORDER_HORIZON_SECONDS."""


@dataclass
class Simulation:
    """A scenario's labels, and its events generated on demand: each call to `events()` replays
    the same deterministic stream, merged across accounts in time order, in bounded memory."""

    labels: list[Label]
    _accounts: list[_Account]
    seed: int
    start: float
    end: float

    def events(self) -> Iterator[tuple[float, bytes]]:
        corpus = load_corpus()
        streams = [self._account_stream(account, corpus) for account in self._accounts]
        return heapq.merge(*streams, key=lambda item: item[0])

    def campaigns(self) -> dict[str, str]:
        """Attack account -> its campaign (`family/index`): a family runs several campaigns,
        each with its own template wording, sampling tuple, client and infrastructure."""
        return {
            a.account_id: f"{a.family}/{a.identity['campaign_index']}"
            for a in self._accounts
            if a.label == "attack"
        }

    def lines(self) -> Iterator[bytes]:
        for _, line in self.events():
            yield line

    def _account_stream(self, account: _Account, corpus: Corpus) -> Iterator[tuple[float, bytes]]:
        rng = random.Random(f"{self.seed}:{account.account_id}")
        profile = new_profile(account.account_id, account.tier, rng, corpus, **account.identity)
        families = ATTACK_FAMILIES if account.label == "attack" else BENIGN_FAMILIES
        pending: list[tuple[float, int, bytes]] = []  # heap; the counter keeps ties stable
        released = float("-inf")
        for order, event in enumerate(families[account.family](profile, self.start, self.end)):
            ts = event["timestamp"]
            if ts >= self.end:
                continue
            if ts < released:
                raise SimulationOrderError(
                    f"{account.family} emitted an event {released - ts:.0f} s before one "
                    f"already released (horizon {REORDER_HORIZON_SECONDS:.0f} s)"
                )
            heapq.heappush(pending, (ts, order, orjson.dumps(event)))
            while pending and pending[0][0] <= ts - REORDER_HORIZON_SECONDS:
                released, _, line = heapq.heappop(pending)
                yield released, line
        while pending:
            released, _, line = heapq.heappop(pending)
            yield released, line


def _account_id(seed: int, label: str, family: str, index: int) -> str:
    """Opaque, like a real platform's: nothing downstream may learn the label from the id."""
    return f"acct_{fingerprint('account', seed, label, family, index)[:12]}"


# Shared infrastructure of the benign look-alikes (streams/sim/shared_infra.py): a carrier's
# NAT pool, a campus /24, a SaaS backend calling with its customers' keys.
CARRIER_NAT = (("172.58.21", "172.58.87"), 64610)
CAMPUS = ("128.95.160", 64620)
SAAS_BACKEND = (("34.117.40", "34.117.41"), 64630)


def _benign_identity(family: str, index: int, layout: random.Random) -> dict[str, Any]:
    """What a benign account shares with others, by family (nothing for most)."""
    if family == "corporate_nat":
        group = index // NAT_GROUP_SIZE
        return {"ip": f"198.51.{100 + group % 50}.7", "asn": 64500 + group}
    if family == "mobile_carrier_nat":
        nets, asn = CARRIER_NAT
        return {"ip": f"{layout.choice(nets)}.{layout.randint(1, 254)}", "asn": asn}
    if family == "university_lab":
        net, asn = CAMPUS
        return {"ip": f"{net}.{layout.randint(1, 254)}", "asn": asn}
    if family == "saas_customers":
        nets, asn = SAAS_BACKEND
        return {
            "ip": f"{layout.choice(nets)}.{layout.randint(10, 20)}",
            "asn": asn,
            "user_agent": SAAS_USER_AGENT,
            "tls": fingerprint("tls", SAAS_USER_AGENT),
        }
    return {}


def _benign_counts(total: int) -> dict[str, int]:
    counts = {family: max(1, round(total * share)) for family, share in BENIGN_MIX.items()}
    counts["chat"] += total - sum(counts.values())
    return counts


def simulate(
    scenario: str = "all",
    hours: float = 24.0,
    seed: int = 1,
    benign_accounts: int = 200,
    start: float = DEFAULT_START,
) -> Simulation:
    """Lay out the scenario's accounts (cheap); their events are generated by `events()`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    accounts: list[_Account] = []
    layout = random.Random(seed)
    for family, count in _benign_counts(benign_accounts).items():
        for i in range(count):
            identity = _benign_identity(family, i, layout)
            tier = layout.choice(BENIGN_TIERS[family])
            accounts.append(
                _Account(_account_id(seed, "benign", family, i), "benign", family, tier, identity)
            )

    families = (
        list(ATTACK_FAMILIES) if scenario == "all" else ([] if scenario == "benign" else [scenario])
    )
    for family in families:
        campaigns = ATTACK_CAMPAIGNS.get(family, (2,))
        clients = layout.sample(CLIENT_AGENTS, len(campaigns))  # distinct within the family
        index = 0
        for k, size in enumerate(campaigns):
            # A campaign's accounts share an IP pool (a few /24s, one ASN each), payment
            # methods, a TLS fingerprint and a client library; another campaign of the family
            # shares none of them. A stealthy campaign spreads over more networks, shares each
            # payment method within a small group only, and shows its client library's
            # ordinary TLS fingerprint, the one every user of that library has.
            stealthy = family == "stealthy_hydra"
            pool = []
            for _ in range(12 if stealthy else 3):
                net = f"45.{layout.randint(0, 255)}.{layout.randint(0, 255)}"
                pool.append((net, layout.randint(1000, 64000)))
            groups = max(1, size // 4) if stealthy else 5
            payments = [fingerprint("pay", seed, family, k, j) for j in range(groups)]
            tls = fingerprint("tls", *((clients[k],) if stealthy else (seed, family, k)))
            for _ in range(size):
                net, asn = layout.choice(pool)
                identity = {
                    "ip": f"{net}.{layout.randint(1, 254)}",
                    "asn": asn,
                    "payment": layout.choice(payments),
                    "tls": tls,
                    "user_agent": clients[k],
                    "campaign": fingerprint("campaign", seed, family, k),
                    "campaign_index": k,
                }
                tier = layout.choice(ATTACK_TIERS)
                account_id = _account_id(seed, "attack", family, index)
                accounts.append(_Account(account_id, "attack", family, tier, identity))
                index += 1
    labels = [Label(a.account_id, a.label, a.family) for a in accounts]
    return Simulation(labels, accounts, seed, start, start + hours * 3600)


def write_labels(labels: list[Label], path: str) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "label", "family"])
        for item in labels:
            writer.writerow([item.account_id, item.label, item.family])
