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
    rule_ids: tuple[str, ...] = ()
    # account -> per rule (rule_ids order), the highest risk seen: which signals carried an
    # account, and which came close on a legitimate one
    rule_peaks: dict[str, list[float]] = field(default_factory=dict)

    def add_rules(
        self,
        events: Sequence[InferenceEvent],
        rule_ids: tuple[str, ...],
        rule_risks: Sequence[tuple[float, ...]],
    ) -> None:
        if rule_ids != self.rule_ids:
            self.rule_ids, self.rule_peaks = rule_ids, {}
        peaks = self.rule_peaks
        for event, risks in zip(events, rule_risks, strict=True):
            current = peaks.get(event.account_id)
            if current is None:
                peaks[event.account_id] = list(risks)
            else:
                peaks[event.account_id] = [max(a, b) for a, b in zip(current, risks, strict=True)]

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
