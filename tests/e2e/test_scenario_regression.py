"""Regression floors and ceilings on the full scenario suite (measured, then given a margin).

Raise a floor when a detector improves; never lower one without saying why in the commit.
Families with a floor of 0 have no detector for their signal yet (templates, rubric grading,
logit probing, cross-account linkage): their floors rise as those detectors land.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import main
from streams.sim.scenarios import simulate, write_labels

# Measured 2026-11-29 (seed 1, 24 h, 120 benign accounts): 1.0 for each family listed
# (2 accounts each, so 0.5 is one account missed).
RECALL_FLOORS = {
    "self_instruct": 0.5,
    "reasoning_harvest": 0.5,
    "agentic_coding_harvest": 0.5,
    "model_pivot": 0.5,
    "mixed_harvester": 0.5,
}
CAMPAIGN_RECALL_FLOOR = 0.4  # measured 0.5
# Measured 0.0 for every benign family.
FPR_CEILING_PER_FAMILY = 0.05
FPR_CEILING_OVERALL = 0.01
MAX_REQUESTS_TO_DETECT_MEDIAN = 400  # measured 200 (230 mixed_harvester): the rule's min_requests
MAX_CAMPAIGN_MINUTES_TO_DETECT = 300  # measured 75-181 min of event time


@pytest.fixture(scope="module")
def backtest_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole suite through the real command: simulate, then backtest with every output."""
    out = tmp_path_factory.mktemp("scenario")
    sim = simulate("all", hours=24, seed=1, benign_accounts=120)
    with (out / "events.jsonl").open("wb") as handle:
        for line in sim.lines():
            handle.write(line + b"\n")
    write_labels(sim.labels, out / "labels.csv")
    status = main(
        [
            "backtest",
            str(out / "events.jsonl"),
            "--labels",
            str(out / "labels.csv"),
            "--json",
            str(out / "summary.json"),
            "--report",
            str(out / "report.html"),
            "--alerts-out",
            str(out / "alerts.jsonl"),
            "--quiet",
        ]
    )
    assert status == 0
    return out


@pytest.fixture(scope="module")
def report(backtest_run: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((backtest_run / "summary.json").read_bytes())
    return loaded


def family(report: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    return next(f for f in report["families"] if f["label"] == label and f["family"] == name)


@pytest.mark.parametrize(("name", "floor"), sorted(RECALL_FLOORS.items()))
def test_attack_family_recall_floor(report: dict[str, Any], name: str, floor: float) -> None:
    row = family(report, "attack", name)
    assert row["rate"] >= floor, row
    assert row["requests_to_detect"]["median"] <= MAX_REQUESTS_TO_DETECT_MEDIAN, row
    assert row["campaign_seconds_to_detect"] <= MAX_CAMPAIGN_MINUTES_TO_DETECT * 60, row


def test_campaign_recall_floor(report: dict[str, Any]) -> None:
    assert report["campaign_recall"] >= CAMPAIGN_RECALL_FLOOR


def test_false_positive_ceilings(report: dict[str, Any]) -> None:
    benign = [f for f in report["families"] if f["label"] == "benign"]
    assert {f["family"] for f in benign} == {
        "chat",
        "step_by_step_user",
        "corporate_nat",
        "coding_agent",
        "batch_user",
        "rag_app",
        "translation_pipeline",
        "eval_harness",
    }
    for row in benign:
        assert row["rate"] <= FPR_CEILING_PER_FAMILY, row
    assert report["false_positive_rate"] <= FPR_CEILING_OVERALL


def test_the_report_shows_every_campaign_and_family(
    backtest_run: Path, report: dict[str, Any]
) -> None:
    html = (backtest_run / "report.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(svgs) == 4  # campaign timelines, peak-risk histogram, family strips, alert load
    timelines = svgs[0]
    for row in report["families"]:
        if row["label"] == "attack":
            verdict = "accounts alerted" if row["alerted"] else "not detected"
            assert re.search(rf"{row['family']}: [^<]*{verdict}", timelines), row["family"]
        assert f'<td class="l">{row["family"]}</td>' in html
    alerts = (backtest_run / "alerts.jsonl").read_bytes().splitlines()
    assert len(alerts) == report["alerts"]
    first = orjson.loads(alerts[0])
    assert first["fired_at"] in html  # the alerts table lists them in firing order
