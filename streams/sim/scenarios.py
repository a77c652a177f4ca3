"""Scenarios: a benign population plus attack campaigns, as one labelled event stream.

`all` runs every attack family against the benign population; an attack family's name runs
that family alone against it; `benign` runs no attack. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from streams.sim.attacks import ATTACK_FAMILIES
from streams.sim.benign import BENIGN_FAMILIES
from streams.sim.corpus import load_corpus
from streams.sim.profile import fingerprint, new_profile

DEFAULT_START = 1_771_833_600.0  # 2026-02-23T08:00:00Z
# Share of the benign population per family (heavy families are rarer, as on a real platform).
BENIGN_MIX = {
    "chat": 0.50,
    "step_by_step_user": 0.10,
    "corporate_nat": 0.20,
    "coding_agent": 0.08,
    "batch_user": 0.03,
    "rag_app": 0.03,
    "translation_pipeline": 0.03,
    "eval_harness": 0.03,
}
NAT_GROUP_SIZE = 12  # accounts behind one corporate NAT IP
ATTACK_ACCOUNTS = {"hydra": 300, "low_and_slow": 3, "mixed_harvester": 2}  # default: 2 each
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
}
SCENARIOS = ("all", "benign", *ATTACK_FAMILIES)


@dataclass(frozen=True)
class Label:
    account_id: str
    label: str  # attack | benign
    family: str  # the campaign for attacks: every account of a family is one campaign


@dataclass
class Simulation:
    events: list[tuple[float, bytes]]  # (event time, JSON) sorted by time
    labels: list[Label]

    def lines(self) -> Iterator[bytes]:
        for _, line in self.events:
            yield line


def _account_id(seed: int, label: str, family: str, index: int) -> str:
    """Opaque, like a real platform's: nothing downstream may learn the label from the id."""
    return f"acct_{fingerprint('account', seed, label, family, index)[:12]}"


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
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    corpus = load_corpus()
    end = start + hours * 3600
    events: list[tuple[float, bytes]] = []
    labels: list[Label] = []

    def run(account: str, label: str, family: str, tier: str, **identity: object) -> None:
        rng = random.Random(f"{seed}:{account}")
        profile = new_profile(account, tier, rng, corpus, **identity)  # type: ignore[arg-type]
        generator = (ATTACK_FAMILIES if label == "attack" else BENIGN_FAMILIES)[family]
        for event in generator(profile, start, end):
            if event["timestamp"] < end:
                events.append((event["timestamp"], orjson.dumps(event)))
        labels.append(Label(account, label, family))

    layout = random.Random(seed)
    for family, count in _benign_counts(benign_accounts).items():
        for i in range(count):
            account = _account_id(seed, "benign", family, i)
            identity: dict[str, object] = {}
            if family == "corporate_nat":
                group = i // NAT_GROUP_SIZE
                identity = {"ip": f"198.51.{100 + group % 50}.7", "asn": 64500 + group}
            run(account, "benign", family, layout.choice(BENIGN_TIERS[family]), **identity)

    families = (
        list(ATTACK_FAMILIES) if scenario == "all" else ([] if scenario == "benign" else [scenario])
    )
    for family in families:
        # One campaign per family: its accounts share an IP pool, payment methods and a client.
        pool = [f"45.{layout.randint(0, 255)}.{layout.randint(0, 255)}" for _ in range(3)]
        payments = [fingerprint("pay", family, k) for k in range(5)]
        tls = fingerprint("tls", family)
        for i in range(ATTACK_ACCOUNTS.get(family, 2)):
            run(
                _account_id(seed, "attack", family, i),
                "attack",
                family,
                layout.choice(ATTACK_TIERS),
                ip=f"{layout.choice(pool)}.{layout.randint(1, 254)}",
                payment=layout.choice(payments),
                tls=tls,
                user_agent="python-httpx/0.27.0",
            )
    events.sort(key=lambda item: item[0])
    return Simulation(events, labels)


def write_labels(labels: list[Label], path: str) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "label", "family"])
        for item in labels:
            writer.writerow([item.account_id, item.label, item.family])
