"""logit_probe: logit-bias sweeps that read the model's logits out token by token.

Attack (Carlini et al. 2024, "Stealing part of a production language model"): many requests
with large `logit_bias` maps over ever-new token ids, `logprobs`/`top_logprobs` and
`max_tokens` 1-2; recovering a hidden size d needs at least d such queries, and the distinct
biased ids climb into the thousands. Decisive by itself: it pages alone (critical).
Look-alikes: evaluation harnesses use logprobs with one-token outputs, and some restrict the
answer to a few tokens (A/B/C/D) with a small bias map; they never sweep the vocabulary, so
their distinct biased ids stay in the single or double digits. A content filter may send one
long fixed ban list on every request: many ids, but the same ones each time (low novelty:
distinct ids per bias entry).
State: a 1,024-bin histogram of a hash-sampled eighth of the biased token ids (distinct
estimate by linear counting, scaled back: good to tens of thousands); sums of bias requests,
bias entries and tiny-output logprob requests.
Params: windows, min_requests (requests carrying a bias map), min_distinct_ids, min_novelty.
Evidence: distinct biased ids, bias requests, mean map size, logprob share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, PositiveInt

from detectors.contract import (
    AccountView,
    Bins,
    Detector,
    StateLayout,
    Sum,
    distinct_estimate,
    share,
)
from detectors.features import LOGIT_ID_SAMPLING
from detectors.rules.base import WindowedDetector, WindowedParams, rounded

LOGIT_BINS = 1024


def _distinct_ids(filled: int) -> float:
    return LOGIT_ID_SAMPLING * distinct_estimate(filled, LOGIT_BINS)


class LogitParams(WindowedParams):
    min_requests: PositiveInt = 5
    min_distinct_ids: PositiveInt = 1000
    # distinct ids per bias entry: a sweep keeps biasing new ids (novelty ~1, ~1/r when it
    # repeats each id set r times); a content filter sending one fixed ban list on every
    # request repeats the same ones (novelty ~ 1 / requests). Above 1 / min_requests, so a
    # fixed list never crosses, whatever request it is judged at.
    min_novelty: float = Field(0.3, gt=0, le=1)


class LogitProbe(WindowedDetector):
    name = "logit_probe"
    Params = LogitParams
    description = "logit-bias sweeps over the vocabulary"
    MEASURES = (
        Bins("logit_ids", LOGIT_BINS),
        Sum("logit_bias_requests"),
        Sum("logit_bias_entries"),
        Sum("logprob_tiny"),
    )
    params: LogitParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._req = layout.sum_index("requests")
        self._ids = layout.filled_index("logit_ids")
        self._bias = layout.sum_index("logit_bias_requests")
        self._entries = layout.sum_index("logit_bias_entries")
        self._tiny = layout.sum_index("logprob_tiny")

    def window_risk(self, view: AccountView, window: int) -> float:
        t = view.totals[window]
        if t[self._bias] == 0:
            return 0.0
        p = self.params
        distinct = _distinct_ids(t[self._ids])
        return min(
            t[self._bias] / p.min_requests,
            distinct / p.min_distinct_ids,
            share(int(distinct), t[self._entries]) / p.min_novelty,
        )

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        return {
            "requests": t[self._req],
            "logit_bias_requests": t[self._bias],
            "distinct_biased_token_ids": round(_distinct_ids(t[self._ids])),
            "mean_bias_map_size": rounded(share(t[self._entries], t[self._bias]), 1),
            "novelty": rounded(share(round(_distinct_ids(t[self._ids])), t[self._entries])),
            "tiny_output_logprob_share": rounded(share(t[self._tiny], t[self._req])),
            "thresholds": {
                "min_requests": self.params.min_requests,
                "min_distinct_ids": self.params.min_distinct_ids,
                "min_novelty": self.params.min_novelty,
            },
        }

    def severity(self, view: AccountView, numbers: dict[str, Any]) -> str | None:
        return "critical"

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['logit_bias_requests']} requests biased "
            f"{numbers['distinct_biased_token_ids']:,} distinct token ids: a logit sweep."
        )
