"""The cross-account stage (detectors/linkage.py): strong links, clusters, their reports."""

from __future__ import annotations

import json

import jsonschema

from detectors.alerts import build_alert
from detectors.config import LinkageConfig
from detectors.linkage import (
    ClusterReport,
    LinkageGraph,
    LinkValue,
    cluster_finding,
)
from tests.helpers import ROOT

T0 = 1_771_840_800.0
TEMPLATE: LinkValue = ("template", "p1")
SAMPLING: LinkValue = ("sampling", "s1")
PAIR = (TEMPLATE, SAMPLING)


def own(account: str) -> tuple[LinkValue, ...]:
    """Values no other account has."""
    return (("network", f"n-{account}"), ("payment", f"pay-{account}"))


def graph(min_members: int = 3, share: float = 0.5, growth: float = 2.0) -> LinkageGraph:
    return LinkageGraph(min_members, share, growth, refresh_seconds=3600)


SENT: dict[tuple[LinkageGraph, str], int] = {}  # (graph, account) -> requests fed so far


def feed(
    g: LinkageGraph, account: str, ts: float, values: tuple[LinkValue, ...], signalled: bool = True
) -> list[ClusterReport]:
    """One request of 100 output tokens, with the account's requests before it (as the
    per-account stage's windows give them)."""
    before = SENT.get((g, account), 0)
    SENT[(g, account)] = before + 1
    report = g.observe(account, ts, values, signalled, 100, before, 100 * before)
    return [] if report is None else [report]


def test_two_shared_classes_link_accounts_and_one_does_not() -> None:
    g = graph()
    reports = []
    for i in range(3):  # share the template and the sampling tuple: one cluster
        reports += feed(g, f"a{i}", T0 + i, (*PAIR, *own(f"a{i}")))
    for i in range(3):  # share the template only: no link
        reports += feed(g, f"b{i}", T0 + i, (TEMPLATE, ("sampling", f"s-b{i}"), *own(f"b{i}")))
    (report,) = reports
    assert report.members == ("a0", "a1", "a2")
    assert set(report.shared) == {"template", "sampling"}


def test_values_of_requests_without_an_extraction_signal_link_nothing() -> None:
    g = graph()
    assert not [r for i in range(5) for r in feed(g, f"a{i}", T0 + i, PAIR, signalled=False)]
    assert not any(g.knows(f"a{i}") for i in range(5))  # and are not kept


def test_an_account_enters_with_the_requests_it_sent_before_its_first_extraction_one() -> None:
    g = graph(min_members=2, share=0.4)  # 2 of 5 requests signalled
    for k in range(3):
        feed(g, "a0", T0 + k, (), signalled=False)
    feed(g, "a0", T0 + 5, PAIR)
    (report,) = feed(g, "a1", T0 + 6, PAIR)
    assert (report.requests, report.signalled, report.output_tokens) == (5, 2, 500)
    assert report.first_seen == T0 + 5  # the first extraction-shaped request


def test_a_cluster_whose_traffic_is_mostly_ordinary_is_not_reported() -> None:
    """Shared frame and sampling on a few requests of otherwise ordinary traffic (the survey's
    benign rag_app cluster) is not a campaign."""
    g = graph(share=0.5)
    reports = []
    for i in range(4):
        for k in range(3):
            reports += feed(g, f"a{i}", T0 + k, (("template", f"chat{i}{k}"),), signalled=False)
        reports += feed(g, f"a{i}", T0 + 10 + i, PAIR)
    assert reports == []  # 4 of 16 requests signalled: 0.25 < 0.5


def test_a_cluster_is_reported_when_it_qualifies_and_again_as_it_grows() -> None:
    g = graph(min_members=3, growth=2.0)
    assert feed(g, "a0", T0, PAIR) + feed(g, "a1", T0 + 1, PAIR) == []  # below the minimum
    (first,) = feed(g, "a2", T0 + 2, PAIR)
    assert len(first.members) == 3
    assert feed(g, "a3", T0 + 3, PAIR) + feed(g, "a4", T0 + 4, PAIR) == []  # 5 < 2 x 3, soon
    (grown,) = feed(g, "a5", T0 + 5, PAIR)
    assert len(grown.members) == 6 and grown.cluster_id == first.cluster_id
    (late,) = feed(g, "a6", T0 + 4000, PAIR)  # one more member, an hour on: named too
    assert "a6" in late.members and late.cluster_id == first.cluster_id
    # Synchrony: the first six requested within one minute, the seventh an hour on.
    assert (first.active_minutes, grown.active_minutes, late.active_minutes) == (1, 1, 2)
    evidence = cluster_finding(late, LinkageConfig(min_members=3)).evidence["hydra_cluster"]
    assert evidence["extraction_requests_per_active_minute"] == 3.5


def test_a_cluster_alerted_under_a_name_keeps_it_when_a_larger_group_joins() -> None:
    g = graph(min_members=2, growth=1.1)
    feed(g, "a0", T0, PAIR)
    (first,) = feed(g, "a1", T0 + 1, PAIR)
    other: tuple[LinkValue, ...] = (("template", "p2"), ("sampling", "s2"))
    g2 = [feed(g, f"b{i}", T0 + 10 + i, other) for i in range(3)]  # its own cluster...
    assert g2[1] and g2[1][0].cluster_id != first.cluster_id
    (merged,) = feed(g, "a0", T0 + 20, other)  # ...joined through a0
    assert len(merged.members) == 5
    assert merged.cluster_id in {first.cluster_id, g2[1][0].cluster_id}
    assert merged.cluster_id == g2[2][0].cluster_id  # the larger, longer-reported name stays


def test_a_cluster_alert_follows_the_alert_schema_and_names_its_members() -> None:
    report = ClusterReport(
        "c123", ("a0", "a1"), 40, 30, 9000, {"template": [("p1", 2)]}, T0, T0 + 60, T0 + 60
    )
    settings = LinkageConfig(min_members=2)
    alert = build_alert(cluster_finding(report, settings), T0 + 60, "https://example.org/rb/")
    schema = json.loads((ROOT / "detectors/schemas/alert.v1.schema.json").read_text())
    jsonschema.validate(alert, schema)
    assert alert["subject"] == {"kind": "cluster", "cluster_id": "c123", "accounts": ["a0", "a1"]}
    assert alert["dedup_key"] == "hydra_cluster:cluster:c123"
    assert alert["evidence"]["hydra_cluster"]["extraction_share"] == 0.75


def test_a_cluster_found_again_in_the_next_window_keeps_its_name_and_old_windows_go() -> None:
    """Graphs are kept per window of event time (bounded state). The campaign re-forms in the
    next window from other first members, and its report there carries the name its alerts
    already had: an update of the same subject, not a new page."""
    from streams.link_messages import LinkEvent, LinkRecord
    from streams.linkage_store import MemoryLinkage

    hour = 3600
    store = MemoryLinkage(LinkageConfig(min_members=3, min_signal_share=0.5, window_seconds=hour))

    def request(account: str, ts: float) -> LinkRecord:
        return LinkRecord(account, "", (LinkEvent(0, ts, 100, 0, 0, PAIR),))

    (first,) = store.apply_now([request(f"a{i}", T0 + i) for i in range(3)])
    next_hour = [request(f"a{i}", T0 + hour + n) for n, i in enumerate((0, 2, 1))]
    settings = LinkageConfig(min_members=3, min_signal_share=0.5, window_seconds=hour)
    (unnamed,) = MemoryLinkage(settings).apply_now(next_hour)  # what it would be called
    (again,) = store.apply_now(next_hour)
    assert unnamed.cluster_id != first.cluster_id == again.cluster_id
    assert again.members == first.members
    # Two windows on, the first window's graph is gone: nothing to inherit, nothing kept.
    (fresh,) = store.apply_now([request(f"b{i}", T0 + 3 * hour + i) for i in range(3)])
    assert fresh.cluster_id != first.cluster_id
    assert store.apply_now([request("a9", T0 + 5)]) == []  # too old to link
    assert store.windows == [int(T0 // hour) + 3]  # the first two windows' graphs are gone
