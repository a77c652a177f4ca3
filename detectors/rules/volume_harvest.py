"""volume_harvest: the harvest shape of an account collecting complete one-shot outputs.

Attack: a distillation pipeline sends single-turn prompts and keeps every answer (its
conversations never continue, however much ordinary chat it mixes in as cover); it wants
complete answers (a truncated one is poor training data), so it sets a generous `max_tokens`
and its outputs end on their own (`stop`). It retries 429s at once, may ask for n > 1
completions, and declares tool schemas on single-turn prompts whose tool calls it never answers.
Look-alikes: any API integration is single-turn (RAG apps, translation, batch jobs), so this
shape alone never pages: it is the `shape` group of the extraction score, which needs a content
signal beside it. Chat users and agents are conversational (follow-ups, tool results); bulk
users with tight budgets run into `max_tokens` (truncated outputs lower the completed share);
digest workloads (RAG, summaries, extraction) take far fewer tokens out than they put in.
State: per-window sums of requests, single-turn, second turns, answered, completed, truncated,
throttled,
n > 1, single-turn tool schemas, tool results, tokens.
Params: windows, min_requests, no_follow_up_share, completed_share, min_expansion, per-tier
volume limits.
Evidence: the shares and their thresholds; volume against the tier's limits (raises severity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, PositiveInt, model_validator

from detectors.contract import AccountView, Detector, StateLayout, Sum, share
from detectors.contract import DetectorParams as _Base
from detectors.rules.base import WindowedDetector, WindowedParams, rounded


class VolumeLimits(_Base):
    """What one account of a tier may do in one window before its volume counts as heavy."""

    requests: PositiveInt
    input_tokens: PositiveInt
    output_tokens: PositiveInt


class VolumeHarvestParams(WindowedParams):
    # Conversations opened that never got a follow-up. Counted per conversation, not per
    # request, so a harvest stream keeps its shape under a cover of ordinary chat sessions.
    no_follow_up_share: float = Field(0.7, gt=0, le=1)
    completed_share: float = Field(0.9, gt=0, le=1)  # of answered requests
    # Output tokens per input token over single-turn answered requests: a harvest collects
    # generated text; digests (RAG over retrieved documents, summaries, extraction,
    # classification) put most tokens in and take little out.
    min_expansion: float = Field(0.3, gt=0)
    critical_volume_ratio: float = Field(3.0, gt=1)
    # tier -> window -> limits; volume over a limit raises severity, never fires alone
    tiers: dict[str, dict[str, VolumeLimits]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_tier(self) -> VolumeHarvestParams:
        if self.tiers and "default" not in self.tiers:
            raise ValueError("tiers must contain a 'default' tier for accounts without one")
        return self


_COUNTS = (
    "requests",
    "io_in",
    "io_out",
    "single_turn",
    "second_turn",
    "answered",
    "completed",
    "truncated",
    "throttled",
    "multi_n",
    "tools_single_turn",
    "tool_results",
    "input_tokens",
    "output_tokens",
)


def _no_follow_up(opened: int, continued: int) -> float:
    """Share of the conversations opened in the window that were never continued."""
    return max(0.0, 1.0 - continued / opened) if opened > 0 else 0.0


class VolumeHarvest(WindowedDetector):
    name = "volume_harvest"
    Params = VolumeHarvestParams
    description = "single-turn requests whose outputs complete: the harvest shape"
    MEASURES = tuple(Sum(n) for n in _COUNTS)
    params: VolumeHarvestParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._i = {n: layout.sum_index(n) for n in _COUNTS}
        self._single = self._i["single_turn"]
        self._second = self._i["second_turn"]
        self._answered, self._completed = self._i["answered"], self._i["completed"]
        self._io_in, self._io_out = self._i["io_in"], self._i["io_out"]
        for tier, limits in self.params.tiers.items():
            for window in limits:
                if window not in layout.window_names:
                    raise ValueError(f"tiers.{tier} names unknown window {window!r}")

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        p = self.params
        return min(
            _no_follow_up(t[self._single], t[self._second]) / p.no_follow_up_share,
            share(t[self._completed], t[self._answered]) / p.completed_share,
            share(t[self._io_out], t[self._io_in]) / p.min_expansion,
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        c = {n: t[i] for n, i in self._i.items()}
        p = self.params
        return {
            "requests": c["requests"],
            "single_turn_share": rounded(share(c["single_turn"], c["requests"])),
            "no_follow_up_share": rounded(_no_follow_up(c["single_turn"], c["second_turn"])),
            "completed_share": rounded(share(c["completed"], c["answered"])),
            "truncated_share": rounded(share(c["truncated"], c["answered"])),
            "output_per_input_token": rounded(share(c["io_out"], c["io_in"]), 2),
            "throttled_retries": c["throttled"],
            "multi_n_share": rounded(share(c["multi_n"], c["requests"])),
            "single_turn_tool_schemas": c["tools_single_turn"],
            "tool_results_sent": c["tool_results"],
            "output_tokens": c["output_tokens"],
            "thresholds": {
                "min_requests": p.min_requests,
                "no_follow_up_share": p.no_follow_up_share,
                "completed_share": p.completed_share,
                "min_expansion": p.min_expansion,
            },
            "volume": self._volume(view),
        }

    def _volume(self, view: AccountView) -> dict[str, Any]:
        tiers = self.params.tiers
        if not tiers:
            return {}
        tier = view.tier if view.tier in tiers else "default"
        names = view.layout.window_names
        worst, crossed = 0.0, []
        for window, limits in tiers[tier].items():
            t = view.totals[names.index(window)]
            for metric in ("requests", "input_tokens", "output_tokens"):
                ratio = t[self._i[metric]] / getattr(limits, metric)
                worst = max(worst, ratio)
                if ratio >= 1.0:
                    crossed.append(f"{window}.{metric}")
        return {"tier": tier, "max_ratio_to_limit": rounded(worst, 3), "limits_crossed": crossed}

    def severity(self, view: AccountView, numbers: dict[str, Any]) -> str | None:
        ratio = numbers["volume"].get("max_ratio_to_limit", 0.0)
        if ratio >= self.params.critical_volume_ratio:
            return "critical"
        return "high" if ratio >= 1.0 else None

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['no_follow_up_share']:.0%} of the conversations "
            f"opened by {numbers['requests']} requests got no follow-up and "
            f"{numbers['completed_share']:.0%} of outputs completed."
        )
