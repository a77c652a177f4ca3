"""Volume and harvest: an account collecting long single-turn outputs at scale.

The attack: a distillation pipeline sends one-shot prompts with a large `max_tokens` and keeps
every output, so nearly all requests open a new conversation and most outputs run to the
budget. Heavy legitimate users differ: chat and coding agents are multi-turn, evaluation
harnesses cap `max_tokens` tiny, and ordinary outputs stop well before the budget.

So the *harvest shape* (>= `single_turn_share` single-turn and >= `near_max_share` near-max
outputs over >= `min_requests` requests in a window) is what fires. Volume against the tier's
limits never fires alone (batch customers are heavy by design); it raises the severity and the
score and is always in the evidence.

`risk` is the continuous view of the same rule, for backtest plots and calibration: in each
harvest window, the least-satisfied of the three conditions as a fraction of its threshold
(so 1.0 is exactly the alert threshold), and the best window counts. `evaluate` fires exactly
when `risk` >= 1, because both use `_window_progress`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detectors.config import DetectionConfig, VolumeHarvestConfig, VolumeLimits
from detectors.findings import Finding
from detectors.windows import COUNTER_INDEX

RULE_ID = "volume_harvest"
TAGS = ("mitre-atlas:AML.T0024.002", "distillation:harvest")
_REQ = COUNTER_INDEX["requests"]
_SINGLE = COUNTER_INDEX["single_turn"]
_NEAR = COUNTER_INDEX["near_max_output"]
_VOLUME_METRICS = ("requests", "input_tokens", "output_tokens")


def _clamp01(value: float) -> float:
    return max(0.0, min(1.0, value))


def _volume(
    totals_by_window: dict[str, tuple[int, ...]], limits: dict[str, VolumeLimits]
) -> tuple[float, dict[str, Any], list[str]]:
    """Largest usage/limit ratio, per-window numbers, and which limits were crossed."""
    max_ratio = 0.0
    per_window: dict[str, Any] = {}
    crossed: list[str] = []
    for window, limit in limits.items():
        totals = totals_by_window[window]
        entry: dict[str, Any] = {}
        for metric in _VOLUME_METRICS:
            used = totals[COUNTER_INDEX[metric]]
            cap = getattr(limit, metric)
            ratio = used / cap
            max_ratio = max(max_ratio, ratio)
            entry[metric] = used
            entry[f"{metric}_limit"] = cap
            if ratio >= 1.0:
                crossed.append(f"{window}.{metric}")
        per_window[window] = entry
    return max_ratio, per_window, crossed


def _window_progress(counts: tuple[int, ...], vh: VolumeHarvestConfig) -> float:
    """min over the harvest conditions of value / threshold, for one window's counters."""
    requests = counts[_REQ]
    if requests == 0:
        return 0.0
    return min(
        requests / vh.min_requests,
        counts[_SINGLE] / requests / vh.single_turn_share,
        counts[_NEAR] / requests / vh.near_max_share,
    )


def risk(
    window_names: Sequence[str], totals: Sequence[tuple[int, ...]], config: DetectionConfig
) -> float:
    """How close the account is to this rule's alert threshold (1.0 = at it); 0 if disabled."""
    vh = config.detectors.volume_harvest
    if not vh.enabled:
        return 0.0
    best = 0.0
    for window in vh.harvest_windows:  # a loop, not max(genexpr): this runs on every event
        progress = _window_progress(totals[window_names.index(window)], vh)
        if progress > best:
            best = progress
    return best


def evaluate(
    account_id: str,
    tier: str,
    window_names: Sequence[str],
    totals: Sequence[tuple[int, ...]],
    config: DetectionConfig,
) -> Finding | None:
    """Judge one account's windows right after one of its events was counted."""
    vh: VolumeHarvestConfig = config.detectors.volume_harvest
    if not vh.enabled:
        return None
    totals_by_window = dict(zip(window_names, totals, strict=True))
    best: tuple[float, str, int, float, float] | None = None
    for window in vh.harvest_windows:
        counts = totals_by_window[window]
        if _window_progress(counts, vh) < 1.0:
            continue
        requests = counts[_REQ]
        single_share = counts[_SINGLE] / requests
        near_share = counts[_NEAR] / requests
        # How far past both thresholds, 0 at the thresholds and 1 at 100%.
        margin = min(
            (near_share - vh.near_max_share) / max(1e-9, 1 - vh.near_max_share),
            (single_share - vh.single_turn_share) / max(1e-9, 1 - vh.single_turn_share),
        )
        strength = _clamp01(0.5 + 0.5 * margin)
        if best is None or strength > best[0]:
            best = (strength, window, requests, single_share, near_share)
    if best is None:
        return None
    strength, window, requests, single_share, near_share = best
    limits = vh.tiers.get(tier, vh.tiers["default"])
    volume_ratio, volume_windows, crossed = _volume(totals_by_window, limits)
    if volume_ratio >= vh.critical_volume_ratio:
        severity = "critical"
    elif volume_ratio >= 1.0:
        severity = "high"
    else:
        severity = "warning"
    score = round(_clamp01(0.7 * strength + 0.3 * _clamp01(volume_ratio / 2)), 3)
    evidence: dict[str, Any] = {
        "harvest": {
            "window": window,
            "requests": requests,
            "single_turn_share": round(single_share, 4),
            "near_max_output_share": round(near_share, 4),
            "thresholds": {
                "min_requests": vh.min_requests,
                "single_turn_share": vh.single_turn_share,
                "near_max_output_share": vh.near_max_share,
                "near_max_ratio": vh.near_max_ratio,
                "near_max_min_max_tokens": vh.near_max_min_max_tokens,
            },
        },
        "volume": {
            "tier": tier if tier in vh.tiers else "default",
            "max_ratio_to_limit": round(volume_ratio, 3),
            "limits_crossed": crossed,
            "windows": volume_windows,
        },
    }
    volume_text = (
        f"volume is {volume_ratio:.1f}x the {evidence['volume']['tier']} tier limit "
        f"({', '.join(crossed)})"
        if crossed
        else f"volume is within the {evidence['volume']['tier']} tier limits"
    )
    summary = (
        f"Account {account_id} looks like output harvesting: in the last {window}, "
        f"{near_share:.0%} of {requests} requests ran to near max_tokens and "
        f"{single_share:.0%} were single-turn; {volume_text}."
    )
    return Finding(
        rule_id=RULE_ID,
        account_id=account_id,
        severity=severity,
        score=score,
        window=window,
        evidence=evidence,
        summary=summary,
        tags=TAGS,
        shadow=vh.shadow,
    )
