"""model_pivot: an established account moving its traffic to a newly released model at once.

Attack: a harvesting campaign re-targets its pipeline the day a stronger model ships: one
report saw about half of a campaign's traffic move to the new model within 24 hours. The
pipeline's templates and settings stay; only the model name changes.
Look-alikes: many customers try a new model on release day, and some move everything. So this
is a supporting signal of the extraction score only (the `drift` group, small weight): it
tells on-call that a harvest followed a release, never pages alone. New accounts (no traffic
before the release) are not pivots.
State: per-window sums of requests for a newly released model (the pipeline's shared model
registry: first seen after its warm-up, requested within `models.new_for_hours`; config).
Params: windows, min_requests, min_share (of the window's requests on a new model),
prior_window and min_prior_requests (traffic on other models before: an established account).
Evidence: the new-model share, prior requests, thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, PositiveInt

from detectors.contract import AccountView, Detector, StateLayout, Sum, share
from detectors.rules.base import WindowedDetector, WindowedParams, rounded


class ModelPivotParams(WindowedParams):
    # a short window sees the move on release day; a long one, a slower account's
    windows: tuple[str, ...] = Field(("1h", "24h"), min_length=1)
    min_share: float = Field(0.4, gt=0, le=1)
    prior_window: str = "7d"
    min_prior_requests: PositiveInt = 20


class ModelPivot(WindowedDetector):
    name = "model_pivot"
    Params = ModelPivotParams
    description = "an established account moving its traffic to a newly released model"
    MEASURES = (Sum("new_model"),)
    params: ModelPivotParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._new = layout.sum_index("new_model")
        self._prior = layout.window_index(self.params.prior_window)

    def _prior_requests(self, view: AccountView) -> int:
        """Requests of the prior window on models that are not new: the account's history."""
        t = view.totals[self._prior]
        return int(t[self._req] - t[self._new])

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        p = self.params
        return min(
            t[self._new] / requests / p.min_share,
            self._prior_requests(view) / p.min_prior_requests,
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        p = self.params
        return {
            "requests": t[self._req],
            "new_model_requests": t[self._new],
            "new_model_share": rounded(share(t[self._new], t[self._req])),
            "prior_requests": self._prior_requests(view),
            "thresholds": {
                "min_requests": p.min_requests,
                "min_share": p.min_share,
                "prior_window": p.prior_window,
                "min_prior_requests": p.min_prior_requests,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['new_model_share']:.0%} of {numbers['requests']} "
            f"requests moved to a newly released model after {numbers['prior_requests']} "
            "requests on earlier ones."
        )
