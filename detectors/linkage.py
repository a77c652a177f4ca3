"""Cross-account linkage: accounts that share what an extraction pipeline sends, as clusters.

Design and calibration: docs/linkage.md. Ordinary traffic shares templates, sampling tuples,
networks and client libraries all the time, so only the values carried by requests with an
extraction signal (single-turn, complete, and reasoning / rubric / instruction-generation
markers) link accounts. Two accounts are strongly linked when they share such values of two
independent link classes; a cluster is a connected component of strong links. A cluster is a
campaign when it is large enough and its members' traffic carries extraction signals as a
whole: many light accounts add up to one heavy extractor.

Strong links without pairwise work: accounts that used value u of one class and value v of
another all share two classes, so each such (u, v) keeps a representative account and every
account that uses both is united with it. An account's cost is the pairs of its own distinct
values, whatever the cluster's size.

This is the reference implementation, in memory (replay and backtest). The live stage runs the
same algorithm in Redis (streams/lua/linkage_apply.lua, streams/linkage_store.py); the two give
identical reports for the same stream (tests/conformance/test_linkage_store.py), so every
order below is explicit: values in the order an account first used them, a pair keyed by the
fixed order of the link classes, ties among shared values by name.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from detectors.alerts import rfc3339
from detectors.config import LinkageConfig
from detectors.event import InferenceEvent
from detectors.features import EventFeatures
from detectors.findings import Finding

LINK_CLASSES = ("template", "sampling", "network", "payment", "tls")
CLASS_RANK = {cls: rank for rank, cls in enumerate(LINK_CLASSES)}
LinkValue = tuple[str, str]  # (class, value)
# A cluster of two or more: members, requests, signalled, output tokens, first and last seen,
# active minutes (what a stream adds up to whatever its order: tests compare stores by it)
ClusterTotals = tuple[int, int, int, int, float, float, int]
# Values an account links by, at most: its state stays bounded whatever it sends (a campaign
# account uses a handful: its templates, its sampling tuple, a network or two).
MAX_ACCOUNT_VALUES = 64


def cluster_id_of(account: str) -> str:
    """A cluster's name: its first member's fingerprint (Redis computes the same, SHA-1)."""
    return "c" + hashlib.sha1(account.encode(), usedforsecurity=False).hexdigest()[:12]


def pair_key(a: LinkValue, b: LinkValue) -> tuple[LinkValue, LinkValue]:
    """Two values of different classes, in the fixed order of the classes."""
    return (a, b) if CLASS_RANK[a[0]] < CLASS_RANK[b[0]] else (b, a)


def top_shared(values: Iterable[tuple[LinkValue, int]]) -> dict[str, list[tuple[str, int]]]:
    """Per class, the three values most members share (two at least; ties by name)."""
    shared: dict[str, list[tuple[str, int]]] = {}
    for (cls, value), count in sorted(values, key=lambda item: (-item[1], item[0])):
        if count >= 2 and len(shared.setdefault(cls, [])) < 3:
            shared[cls].append((value, count))
    return {cls: top for cls, top in shared.items() if top}


def extraction_signal(features: EventFeatures) -> bool:
    """A request of the kind an extraction dataset is made of."""
    return (
        features.single_turn
        and features.completed
        and (features.reasoning or features.rubric or features.instruction_gen)
    )


def link_values(event: InferenceEvent, features: EventFeatures) -> tuple[LinkValue, ...]:
    """The values of every link class this request shows (fingerprints and numbers only)."""
    values: list[LinkValue] = [("sampling", f"{features.sampling:x}")]
    if features.template_prefix:
        values.append(("template", f"p{features.template_prefix:x}"))
        values.append(("template", f"s{features.template_suffix:x}"))
    client = event.client
    if client.ip:
        # The /24 of an IPv4 address (the /48 of an IPv6 one): one network, whatever host.
        ip = client.ip
        net = ip.rsplit(".", 1)[0] if "." in ip else ":".join(ip.split(":")[:3])
        values.append(("network", f"n{net}"))
    if client.asn is not None:
        values.append(("network", f"as{client.asn}"))
    if client.payment_fingerprint:
        values.append(("payment", client.payment_fingerprint))
    if client.tls_fingerprint:
        values.append(("tls", client.tls_fingerprint))
    return tuple(values)


@dataclass
class ClusterState:
    cluster_id: str
    members: set[str]
    values: Counter[LinkValue]  # shared value -> members that used it on signalled requests
    first_seen: float
    last_seen: float
    requests: int = 0  # the members' requests, all of them
    signalled: int = 0  # ...those with an extraction signal
    output_tokens: int = 0
    reported_members: int = 0  # members named in the last report
    reported_at: float = 0.0  # event time of the last report
    # Minutes (event time // 60) in which a member sent an extraction-shaped request: a
    # campaign driven by one orchestrator packs its members' requests into the same minutes.
    minutes: set[int] = field(default_factory=set)


@dataclass
class AccountStats:
    # On its signalled requests, in the order it first used them (at most MAX_ACCOUNT_VALUES).
    values: dict[LinkValue, None] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterReport:
    cluster_id: str
    members: tuple[str, ...]
    requests: int
    signalled: int
    output_tokens: int
    shared: dict[str, list[tuple[str, int]]]  # class -> top shared values and member counts
    first_seen: float
    last_seen: float
    at: float  # event time of the request that made it due
    active_minutes: int = 0  # distinct minutes with an extraction-shaped request


class LinkageGraph:
    """Clusters of strongly linked accounts, grown event by event (union-find)."""

    def __init__(
        self,
        min_members: int,
        min_signal_share: float,
        growth: float,
        refresh_seconds: float = 3600.0,
        previous: Callable[[], LinkageGraph | None] | None = None,
    ) -> None:
        self.min_members = min_members
        # The graph of the previous window, if any: a cluster's first report here takes the
        # name of the reported cluster its members were in there (`reported_name_of`).
        self.previous = previous
        self.min_signal_share = min_signal_share
        self.growth = growth  # re-report a cluster when it grew by this factor...
        self.refresh_seconds = refresh_seconds  # ...or has new members this long after
        self._parent: dict[str, str] = {}
        self._clusters: dict[str, ClusterState] = {}  # by root account
        self._accounts: dict[str, AccountStats] = {}
        self._pair_rep: dict[tuple[LinkValue, LinkValue], str] = {}

    def cluster_totals(self) -> list[ClusterTotals]:
        """Every cluster of two or more accounts, sorted."""
        return sorted(
            (len(c.members), c.requests, c.signalled, c.output_tokens, c.first_seen, c.last_seen,
             len(c.minutes))
            for c in self._clusters.values()
            if len(c.members) > 1
        )  # fmt: skip

    def reported_name_of(self, accounts: Iterable[str]) -> str | None:
        """The name of the reported cluster these accounts were in that had named the most
        members (ties: the smaller name), if any: a campaign found again in the next window
        keeps the name, and so the dedup key, its alerts already carry."""
        best: tuple[int, str] | None = None
        for account in accounts:
            if account not in self._parent:
                continue
            cluster = self._clusters[self._root(account)]
            if cluster.reported_members:
                key = (cluster.reported_members, cluster.cluster_id)
                if best is None or (key[0], best[1]) > (best[0], key[1]):
                    best = key
        return None if best is None else best[1]

    def knows(self, account: str) -> bool:
        """Whether the account has sent an extraction-shaped request (and so is kept)."""
        return account in self._accounts

    def _root(self, account: str) -> str:
        parent = self._parent
        while parent[account] != account:
            parent[account] = parent[parent[account]]
            account = parent[account]
        return account

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._root(a), self._root(b)
        if ra == rb:
            return
        big, small = self._clusters[ra], self._clusters[rb]
        if len(big.members) < len(small.members):
            ra, rb, big, small = rb, ra, small, big
        self._parent[rb] = ra
        big.members |= small.members
        big.values.update(small.values)
        big.requests += small.requests
        big.signalled += small.signalled
        big.output_tokens += small.output_tokens
        big.first_seen = min(big.first_seen, small.first_seen)
        big.last_seen = max(big.last_seen, small.last_seen)
        big.minutes |= small.minutes
        # The older cluster's name survives: an alert already sent keeps its subject.
        if small.reported_members > big.reported_members:
            big.cluster_id, big.reported_members = small.cluster_id, small.reported_members
            big.reported_at = small.reported_at
        del self._clusters[rb]

    def observe(
        self,
        account: str,
        ts: float,
        values: tuple[LinkValue, ...],
        signalled: bool,
        output_tokens: int,
        prior_requests: int = 0,
        prior_tokens: int = 0,
    ) -> ClusterReport | None:
        """Count one request of an account; the report of its cluster when this request makes
        the cluster qualify, or grow enough to be reported again (see `_due`). Reports depend on
        the stream only, never on how it is batched.

        Only accounts that sent an extraction-shaped request are kept (the others cannot link):
        an account enters at its first one, with its requests and output tokens before it
        (`prior_*`: its longest window's totals, from the per-account stage)."""
        stats = self._accounts.get(account)
        if stats is None:
            if not signalled:
                return None
            stats = self._accounts[account] = AccountStats()
            self._parent[account] = account
            self._clusters[account] = ClusterState(
                cluster_id_of(account), {account}, Counter(), ts, ts,
                requests=prior_requests, output_tokens=prior_tokens,
            )  # fmt: skip
        if signalled:
            room = MAX_ACCOUNT_VALUES - len(stats.values)
            new = [v for v in dict.fromkeys(values) if v not in stats.values][: max(0, room)]
            known = [*stats.values, *new]
            for value in new:
                for other in known:
                    if other[0] == value[0]:
                        continue
                    representative = self._pair_rep.setdefault(pair_key(value, other), account)
                    if representative != account:
                        self._union(account, representative)
            stats.values.update(dict.fromkeys(new))
            joined = self._clusters[self._root(account)]
            joined.values.update(new)
            joined.minutes.add(int(ts // 60))
        cluster = self._clusters[self._root(account)]
        cluster.requests += 1
        cluster.signalled += signalled
        cluster.output_tokens += output_tokens
        cluster.last_seen = max(cluster.last_seen, ts)
        if not signalled or not self._due(cluster):
            return None
        before = self.previous() if self.previous is not None else None
        if not cluster.reported_members and before is not None:
            cluster.cluster_id = before.reported_name_of(cluster.members) or cluster.cluster_id
        cluster.reported_members, cluster.reported_at = len(cluster.members), cluster.last_seen
        return ClusterReport(
            cluster.cluster_id,
            tuple(sorted(cluster.members)),
            cluster.requests,
            cluster.signalled,
            cluster.output_tokens,
            top_shared(cluster.values.items()),
            cluster.first_seen,
            cluster.last_seen,
            ts,
            len(cluster.minutes),
        )

    def _due(self, cluster: ClusterState) -> bool:
        """Qualifies (`min_members`, `min_signal_share`) and is new, or grew by `growth`, or is
        still active `refresh_seconds` (event time) after its last report, every member named:
        the heartbeat that keeps its incident open (detectors/lifecycle.py) while it runs."""
        size = len(cluster.members)
        if size < self.min_members:
            return False
        if cluster.signalled < self.min_signal_share * cluster.requests:
            return False
        if not cluster.reported_members:
            return True
        grown = size >= cluster.reported_members * self.growth
        return grown or cluster.last_seen - cluster.reported_at >= self.refresh_seconds


RULE_ID = "hydra_cluster"


def cluster_finding(report: ClusterReport, settings: LinkageConfig) -> Finding:
    """The alert-ready finding of a qualifying cluster: numbers and fingerprints only."""
    size = len(report.members)
    severity = "critical" if size >= settings.critical_members else settings.severity
    share = report.signalled / report.requests if report.requests else 0.0
    classes = sorted(report.shared)
    evidence = {
        RULE_ID: {
            "members": size,
            "requests": report.requests,
            "extraction_requests": report.signalled,
            "extraction_share": round(share, 4),
            "output_tokens": report.output_tokens,
            "link_classes": classes,
            "shared_values": {
                cls: [{"value": value, "members": count} for value, count in top]
                for cls, top in sorted(report.shared.items())
            },
            "first_seen": rfc3339(report.first_seen),
            "last_seen": rfc3339(report.last_seen),
            # Synchrony: extraction requests of different members landing in the same minutes
            # (one orchestrator) raise this; independent users spread theirs out.
            "active_minutes": report.active_minutes,
            "extraction_requests_per_active_minute": (
                round(report.signalled / report.active_minutes, 2)
                if report.active_minutes
                else None
            ),
            "thresholds": {
                "min_members": settings.min_members,
                "critical_members": settings.critical_members,
                "min_signal_share": settings.min_signal_share,
                "link_classes": 2,
            },
        }
    }
    return Finding(
        rule_id=RULE_ID,
        account_id=report.members[0],
        severity=severity,
        score=round(min(1.0, 0.5 + 0.5 * size / settings.critical_members), 3),
        window="all",
        evidence=evidence,
        summary=(
            f"Cluster {report.cluster_id}: {size} accounts linked by shared "
            f"{' and '.join(classes)} values on their extraction requests; "
            f"{report.requests} requests, {share:.0%} of them extraction-shaped."
        ),
        tags=settings.tags,
        cluster_id=report.cluster_id,
        accounts=report.members,
    )
