"""Regression floors and ceilings on the full scenario suite (issue 7's target scenario:
`simulate --scenario all --hours 48 --seed 11`, 200 benign accounts), measured, then given a
small margin. Raise a floor when a detector improves; never lower one without saying why in
the commit. The simulator is an instrument, not the exam: these hold the detectors to what
they reached, they were not tuned to it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.alerts import changed_at
from streams.sim.families import ATTACK_FAMILIES, BENIGN_FAMILIES
from tests.e2e.scenario_run import background_run

# Measured 2026-12-01: 1.0 for every family, the two hydras (540 accounts) included, with the
# cross-account stage (per-account signals alone: 1.0 and 0.72).
RECALL_FLOOR_DEDICATED = 0.95  # issue 7's target
RECALL_FLOORS: dict[str, float] = {}
# Issue 9's targets for each hydra campaign family: its first cluster alert within 6 h of its
# first request, >= 95% of its accounts named in cluster alerts within 24 h (measured: 5-6
# minutes, 100%), and no benign account in any cluster alert.
CLUSTER_FAMILIES = ("hydra", "stealthy_hydra")
MAX_HOURS_TO_FIRST_CLUSTER_ALERT = 6
MIN_SHARE_NAMED_IN_24H = 0.95
MAX_REQUESTS_TO_DETECT_MEDIAN = 50  # measured 20-40
MAX_REQUESTS_TO_DETECT_P90 = 100  # no rule needs more than 100 requests of an account...
# ...but an account's requests include its cover: a reseller's are mostly its customers' chat
# (measured median 59, p90 60).
MAX_REQUESTS_TO_DETECT = {"reseller": (80, 100)}
MAX_CAMPAIGN_MINUTES = {"low_and_slow": 600, "hydra": 600}  # measured ~420 / 5
MAX_CAMPAIGN_MINUTES_DEFAULT = 180  # measured 117-128: the sustained-activity gate (3 hours)
FPR_CEILING_PER_FAMILY = 0.0  # measured 0 in every benign family, the hard negatives included


@pytest.fixture(scope="module")
def backtest_run(request: pytest.FixtureRequest) -> Path:
    """The whole suite through the real command: simulate, then backtest with every output
    (tests/e2e/scenario_run.py; it started when the tests were collected)."""
    return background_run(request.config).wait()


@pytest.fixture(scope="module")
def report(backtest_run: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((backtest_run / "summary.json").read_bytes())
    return loaded


def family(report: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    return next(f for f in report["families"] if f["label"] == label and f["family"] == name)


@pytest.mark.parametrize("name", sorted(ATTACK_FAMILIES))
def test_every_attack_family_is_found_early(report: dict[str, Any], name: str) -> None:
    row = family(report, "attack", name)
    assert row["rate"] >= RECALL_FLOORS.get(name, RECALL_FLOOR_DEDICATED), row
    median, p90 = MAX_REQUESTS_TO_DETECT.get(
        name, (MAX_REQUESTS_TO_DETECT_MEDIAN, MAX_REQUESTS_TO_DETECT_P90)
    )
    assert row["requests_to_detect"]["median"] <= median, row
    assert row["requests_to_detect"]["p90"] <= p90, row
    minutes = MAX_CAMPAIGN_MINUTES.get(name, MAX_CAMPAIGN_MINUTES_DEFAULT)
    assert row["campaign_seconds_to_detect"] <= minutes * 60, row


@pytest.mark.parametrize("name", CLUSTER_FAMILIES)
def test_hydra_clusters_are_found_early_and_named_whole(backtest_run: Path, name: str) -> None:
    with (backtest_run / "labels.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    members = {r["account_id"] for r in rows if r["family"] == name}
    benign = {r["account_id"] for r in rows if r["label"] == "benign"}
    first_request: dict[str, float] = {}
    with (backtest_run / "events.jsonl").open("rb") as events:
        for line in events:
            event = orjson.loads(line)
            first_request.setdefault(event["account_id"], float(event["timestamp"]))
    start = min(first_request[a] for a in members)
    named: dict[str, float] = {}
    for line in (backtest_run / "alerts.jsonl").read_bytes().splitlines():
        alert = orjson.loads(line)
        if alert["subject"]["kind"] != "cluster":
            continue
        assert not benign & set(alert["subject"]["accounts"]), alert["subject"]["cluster_id"]
        fired = changed_at(alert)
        for account in alert["subject"]["accounts"]:
            named.setdefault(account, fired)
    found = {a: t for a, t in named.items() if a in members}
    assert found, f"no cluster alert names a {name} account"
    assert min(found.values()) - start <= MAX_HOURS_TO_FIRST_CLUSTER_ALERT * 3600
    within_a_day = [a for a, t in found.items() if t - start <= 86400]
    assert len(within_a_day) >= MIN_SHARE_NAMED_IN_24H * len(members)


def test_campaign_recall(report: dict[str, Any]) -> None:
    assert report["campaign_recall"] == 1.0


@pytest.mark.parametrize("name", sorted(BENIGN_FAMILIES))
def test_no_benign_family_is_alerted(report: dict[str, Any], name: str) -> None:
    row = family(report, "benign", name)
    assert row["rate"] <= FPR_CEILING_PER_FAMILY, row


def test_the_report_shows_every_campaign_family_and_signal(
    backtest_run: Path, report: dict[str, Any]
) -> None:
    html = (backtest_run / "report.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    # campaign timelines, peak-risk histogram, family strips, alert load, cluster growth
    assert len(svgs) == 5
    growth = html[html.index("<h2>Cross-account clusters</h2>") :]
    growth = growth[: growth.index("</figure>")]
    assert "(hydra, attack)" in growth and "(stealthy_hydra, attack)" in growth
    timelines = svgs[0]
    for row in report["families"]:
        if row["label"] == "attack":
            verdict = "accounts alerted" if row["alerted"] else "not detected"
            assert re.search(rf"{row['family']}: [^<]*{verdict}", timelines), row["family"]
        assert f'<td class="l">{row["family"]}</td>' in html
    # which signals carried each family: the combined rule's members at their thresholds
    signals = {(r["label"], r["family"]): r["signals"] for r in report["signals_by_family"]}
    reasoning = signals[("attack", "reasoning_harvest")]["reasoning_elicitation"]
    assert reasoning["at_threshold"] == family(report, "attack", "reasoning_harvest")["accounts"]
    assert signals[("benign", "rag_app")]["volume_harvest"]["at_threshold"] == 0
    assert "Signals by family" in html and "Shadow findings" in html
    alerts = (backtest_run / "alerts.jsonl").read_bytes().splitlines()
    pages = [line for line in alerts if orjson.loads(line)["transition"] == "firing"]
    assert len(pages) == report["alerts"]  # incidents opened; the file has every state change
    first = orjson.loads(alerts[0])
    assert first["fired_at"] in html  # the alerts table lists them in firing order
