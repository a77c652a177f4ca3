"""Regression floors and ceilings on the full scenario suite (measured, then given a margin).

Raise a floor when a detector improves; never lower one without saying why in the commit.
Families with a floor of 0 have no detector for their signal yet (templates, rubric grading,
logit probing, cross-account linkage): their floors rise as those detectors land.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.backtest import backtest_report
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.replay import replay_file
from streams.sim.scenarios import simulate

# Measured 2026-11-29 (seed 1, 24 h, 120 benign accounts): 1.0 for each family listed.
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
MAX_REQUESTS_TO_DETECT_MEDIAN = 400  # measured 200: the rule's min_requests


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sim = simulate("all", hours=24, seed=1, benign_accounts=120)
    path: Path = tmp_path_factory.mktemp("scenario") / "events.jsonl"
    with path.open("wb") as handle:
        for line in sim.lines():
            handle.write(line + b"\n")
    pipeline = DetectionPipeline(load_config(), MemoryWindowStore())
    summary = asyncio.run(replay_file(path, pipeline))
    labels = {label.account_id: (label.label, label.family) for label in sim.labels}
    return backtest_report(summary, labels)


def family(report: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    return next(f for f in report["families"] if f["label"] == label and f["family"] == name)


@pytest.mark.parametrize(("name", "floor"), sorted(RECALL_FLOORS.items()))
def test_attack_family_recall_floor(report: dict[str, Any], name: str, floor: float) -> None:
    row = family(report, "attack", name)
    assert row["rate"] >= floor, row
    assert row["requests_to_detect"]["median"] <= MAX_REQUESTS_TO_DETECT_MEDIAN, row


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
