"""The volume/harvest detector on hand-built window totals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import volume_harvest
from detectors.config import DetectionConfig
from streams.config_loader import load_config
from tests.helpers import ROOT

NAMES = ("1m", "1h", "24h")


@pytest.fixture(scope="module")
def config() -> DetectionConfig:
    return load_config(ROOT / "config" / "detectors.yaml")


def totals(
    requests: int, single: int, near: int, out_tokens: int = 0, in_tokens: int = 0
) -> tuple[tuple[int, ...], ...]:
    row = (requests, in_tokens, out_tokens, single, near)
    return ((min(requests, 10), 0, 0, 0, 0), row, row)


def test_harvest_shape_fires_with_evidence(config: DetectionConfig) -> None:
    finding = volume_harvest.evaluate("acct_x", "build", NAMES, totals(300, 300, 280), config)
    assert finding is not None
    assert finding.severity == "warning"
    assert finding.evidence["harvest"]["near_max_output_share"] == pytest.approx(
        280 / 300, abs=1e-4
    )
    assert finding.evidence["volume"]["limits_crossed"] == []
    assert "acct_x" in finding.summary and "93%" in finding.summary
    assert 0 < finding.score <= 1


@pytest.mark.parametrize(
    ("requests", "single", "near"),
    [
        (199, 199, 199),  # too few requests to judge
        (300, 270, 300),  # 90% single-turn: conversational enough
        (300, 300, 120),  # 40% near max: outputs mostly end on their own
    ],
)
def test_below_any_threshold_does_not_fire(
    config: DetectionConfig, requests: int, single: int, near: int
) -> None:
    assert (
        volume_harvest.evaluate("a", "build", NAMES, totals(requests, single, near), config) is None
    )


def test_volume_alone_never_fires(config: DetectionConfig) -> None:
    heavy = totals(50_000, 50_000, 0, out_tokens=10**9, in_tokens=10**9)
    assert volume_harvest.evaluate("bulk", "build", NAMES, heavy, config) is None


def test_volume_over_the_tier_limit_raises_severity(config: DetectionConfig) -> None:
    over = volume_harvest.evaluate("a", "free", NAMES, totals(400, 400, 380), config)  # 1.3x
    within = volume_harvest.evaluate("a", "enterprise", NAMES, totals(400, 400, 380), config)
    critical = volume_harvest.evaluate("a", "free", NAMES, totals(1000, 1000, 1000), config)
    assert over is not None and within is not None and critical is not None
    assert (within.severity, over.severity, critical.severity) == ("warning", "high", "critical")
    assert "1h.requests" in over.evidence["volume"]["limits_crossed"]
    assert over.score > within.score


def test_unknown_tier_uses_default_limits(config: DetectionConfig) -> None:
    finding = volume_harvest.evaluate("a", "mystery", NAMES, totals(300, 300, 300), config)
    assert finding is not None and finding.evidence["volume"]["tier"] == "default"


def window_counts(
    requests: int, single_fraction: float, near_fraction: float
) -> tuple[int, int, int, int, int]:
    return (
        requests,
        0,
        0,
        round(requests * single_fraction),
        round(requests * near_fraction),
    )


shares = st.floats(0, 1) | st.sampled_from([0.5, 0.95, 1.0])  # the thresholds themselves
windows = st.builds(window_counts, st.integers(0, 1_000) | st.just(200), shares, shares)


@given(one_minute=windows, one_hour=windows, one_day=windows, shadow=st.booleans())
def test_risk_reaches_one_exactly_when_the_rule_fires(
    one_minute: tuple[int, ...], one_hour: tuple[int, ...], one_day: tuple[int, ...], shadow: bool
) -> None:
    # The pipeline builds findings only where risk >= 1: the two must never disagree.
    config = load_config(ROOT / "config" / "detectors.yaml")
    if shadow:
        vh = config.detectors.volume_harvest.model_copy(update={"shadow": True})
        config = config.model_copy(
            update={"detectors": config.detectors.model_copy(update={"volume_harvest": vh})}
        )
    window_totals = (one_minute, one_hour, one_day)
    fired = volume_harvest.evaluate("a", "build", NAMES, window_totals, config) is not None
    assert fired == (volume_harvest.risk(NAMES, window_totals, config) >= 1.0)


def test_risk_grows_towards_the_threshold(config: DetectionConfig) -> None:
    chat_like = volume_harvest.risk(NAMES, totals(300, 60, 3), config)
    half_way = volume_harvest.risk(NAMES, totals(100, 100, 100), config)
    harvest = volume_harvest.risk(NAMES, totals(300, 300, 280), config)
    assert chat_like < half_way < 1.0 <= harvest
