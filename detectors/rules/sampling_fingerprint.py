"""sampling_fingerprint: one fixed sampling tuple across an account's traffic.

Attack: a pipeline is configured once, so every request carries the same (temperature, top_p,
max_tokens, n, seed, stop, tool count, logprobs) tuple; n >= 2 at a high temperature samples
diverse answers per prompt. The tuple's fingerprint is also what cross-account linkage joins on.
Look-alikes: nearly every API integration has a fixed tuple too (RAG apps, batch jobs), so this
is only a supporting signal of the extraction score (a small weight, never a content group).
People in chat UIs change settings and models; agents vary max_tokens per step.
State: a histogram of tuple fingerprints (concentration = sum c^2 / n^2), sum of n >= 2.
Params: windows, min_requests, min_concentration. Evidence: concentration, n >= 2 share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from detectors.contract import AccountView, Bins, Detector, StateLayout, Sum, concentration, share
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

SAMPLING_BINS = 256


class SamplingParams(WindowedParams):
    min_concentration: float = Field(0.8, gt=0, le=1)


class SamplingFingerprint(WindowedDetector):
    name = "sampling_fingerprint"
    Params = SamplingParams
    description = "one fixed sampling tuple on most requests"
    MEASURES = (Bins("sampling", SAMPLING_BINS), Sum("multi_n"))
    params: SamplingParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._sumsq = layout.sumsq_index("sampling")
        self._multi = layout.sum_index("multi_n")

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        return concentration(t[self._sumsq], requests) / self.params.min_concentration

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        requests = t[self._req]
        return {
            "requests": requests,
            "sampling_concentration": rounded(concentration(t[self._sumsq], requests)),
            "multi_n_share": rounded(share(t[self._multi], requests)),
            "thresholds": {
                "min_requests": self.params.min_requests,
                "min_concentration": self.params.min_concentration,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['requests']} requests used one sampling tuple "
            f"(concentration {numbers['sampling_concentration']:.2f})."
        )
