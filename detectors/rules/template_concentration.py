"""template_concentration: one fixed prompt frame around varied payloads, generating content.

Attack: instruction-generation and distillation tools (Self-Instruct, Alpaca, Evol-Instruct,
rating and reasoning-trace pipelines) wrap each payload in the same frame, so most of an
account's requests share their opening or closing words (detectors/features/text.py masks
numbers, quotes, code and URLs before fingerprinting), while the payloads differ every time.
Look-alikes and how they differ:
  - RAG apps and summarisers frame supplied documents too, but their outputs are a digest of
    the input: output/input tokens well under 1 (`min_expansion`).
  - translation and rewriting pipelines transform a supplied payload: output length follows
    input length (Pearson correlation over the window's single-turn requests above
    `max_length_correlation`), unlike generation, whose output length is its own.
  - benchmark reruns repeat the same items: low payload diversity (`min_payload_diversity`).
  - a fixed system prompt (SaaS apps, support bots) is not a template here: only the user turn
    is fingerprinted.
Alone it never pages: it is the `template` content group of the extraction score.
State: histograms of prefix and suffix fingerprints (concentration = sum c^2 / n^2), of payload
fingerprints (distinct estimate by linear counting), and token second moments.
Evidence: concentration, payload diversity, expansion, length correlation, thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from detectors.contract import (
    AccountView,
    Bins,
    Detector,
    StateLayout,
    Sum,
    ceiling_progress,
    concentration,
    distinct_estimate,
    share,
)
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

TEMPLATE_BINS = 256
PAYLOAD_BINS = 1024
_SUMS = ("io_requests", "io_in", "io_out", "io_in_sq", "io_out_sq", "io_in_out")


class TemplateParams(WindowedParams):
    # sum c^2 / n^2 >= 0.35: about one frame on 60% of requests (0.6^2), or two on 40% each
    min_concentration: float = Field(0.35, gt=0, le=1)
    min_payload_diversity: float = Field(0.8, gt=0, le=1)
    min_expansion: float = Field(1.0, gt=0)  # output tokens per input token
    max_length_correlation: float = Field(0.6, gt=-1, lt=1)


def length_correlation(t: tuple[int, ...] | Any, i: dict[str, int]) -> float:
    """Pearson correlation of input and output tokens over single-turn answered requests."""
    n = t[i["io_requests"]]
    if n < 3:
        return 0.0
    sx, sy = t[i["io_in"]], t[i["io_out"]]
    vx = n * t[i["io_in_sq"]] - sx * sx
    vy = n * t[i["io_out_sq"]] - sy * sy
    if vx <= 0 or vy <= 0:
        return 0.0
    corr = (n * t[i["io_in_out"]] - sx * sy) / math.sqrt(vx * vy)
    return max(-1.0, min(1.0, float(corr)))  # rounding of huge sums must not leave [-1, 1]


class TemplateConcentration(WindowedDetector):
    name = "template_concentration"
    Params = TemplateParams
    description = "one prompt frame around varied payloads, generating (not transforming)"
    MEASURES = (
        Bins("template_prefix", TEMPLATE_BINS),
        Bins("template_suffix", TEMPLATE_BINS),
        Bins("payload", PAYLOAD_BINS),
        *(Sum(n) for n in _SUMS),
    )
    params: TemplateParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._i = {n: layout.sum_index(n) for n in _SUMS}
        self._prefix = layout.sumsq_index("template_prefix")
        self._suffix = layout.sumsq_index("template_suffix")
        self._payload = layout.filled_index("payload")

    def _numbers(self, t: Any) -> tuple[int, float, float, float, float]:
        requests = t[self._req]
        conc = max(
            concentration(t[self._prefix], requests), concentration(t[self._suffix], requests)
        )
        distinct = distinct_estimate(t[self._payload], PAYLOAD_BINS)
        # Beyond the histogram's resolution every further request cannot prove diversity.
        diversity = min(1.0, share(int(distinct), min(requests, PAYLOAD_BINS)))
        expansion = share(t[self._i["io_out"]], t[self._i["io_in"]])
        return requests, conc, diversity, expansion, length_correlation(t, self._i)

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        _, conc, diversity, expansion, corr = self._numbers(t)
        p = self.params
        return min(
            conc / p.min_concentration,
            diversity / p.min_payload_diversity,
            expansion / p.min_expansion,
            ceiling_progress(max(corr, 0.0), p.max_length_correlation),
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        requests, conc, diversity, expansion, corr = self._numbers(view.totals[window])
        p = self.params
        return {
            "requests": requests,
            "template_concentration": rounded(conc),
            "payload_diversity": rounded(diversity),
            "output_per_input_token": rounded(expansion, 2),
            "length_correlation": rounded(corr, 3),
            "thresholds": {
                "min_requests": p.min_requests,
                "min_concentration": p.min_concentration,
                "min_payload_diversity": p.min_payload_diversity,
                "min_expansion": p.min_expansion,
                "max_length_correlation": p.max_length_correlation,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['requests']} requests shared one prompt frame "
            f"(concentration {numbers['template_concentration']:.2f}) around varied payloads, "
            f"generating {numbers['output_per_input_token']:.1f} output tokens per input token."
        )
