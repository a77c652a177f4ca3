"""Per-account risk over event time, kept compactly for backtest plots.

The pipeline reports each event's risk (1.0 = an alert threshold). A backtest keeps, per
account, its peak risk (score distributions) and the peak per time bucket (timelines): a
48-hour trace at 5-minute buckets is at most 576 numbers per account, whatever its volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detectors.event import InferenceEvent

DEFAULT_BUCKET_SECONDS = 300


@dataclass(slots=True)
class RiskTrace:
    bucket_seconds: int = DEFAULT_BUCKET_SECONDS
    peak: dict[str, float] = field(default_factory=dict)  # account -> highest risk seen
    # account -> time bucket (event time // bucket_seconds) -> highest risk in that bucket
    timeline: dict[str, dict[int, float]] = field(default_factory=dict)

    def add(self, events: Sequence[InferenceEvent], risks: Sequence[float]) -> None:
        bucket_seconds = self.bucket_seconds
        peak = self.peak
        timeline = self.timeline
        for event, risk in zip(events, risks, strict=True):
            account = event.account_id
            if risk > peak.get(account, -1.0):
                peak[account] = risk
            buckets = timeline.get(account)
            if buckets is None:
                buckets = timeline[account] = {}
            bucket = int(event.timestamp // bucket_seconds)
            if risk > buckets.get(bucket, -1.0):
                buckets[bucket] = risk

    def series(self, accounts: Sequence[str]) -> list[tuple[float, float]]:
        """(bucket start time, highest risk among `accounts`) for every bucket any was active."""
        merged: dict[int, float] = {}
        for account in accounts:
            for bucket, risk in self.timeline.get(account, {}).items():
                if risk > merged.get(bucket, -1.0):
                    merged[bucket] = risk
        return [(bucket * self.bucket_seconds, merged[bucket]) for bucket in sorted(merged)]
