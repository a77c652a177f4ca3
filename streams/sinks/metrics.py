"""The sinks' Prometheus metrics in one typed place; labelled by sink name, never by account.

`SinkMetrics.noop()` gives an unregistered set (tests, the one-shot `notify` command).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

DELIVERY_SECONDS_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
ALERT_AGE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0)


@dataclass(frozen=True)
class SinkMetrics:
    # Alerts, by how their delivery ended. labels: sink, outcome = sent | parked (given up: a
    # permanent error, or the retry horizon passed)
    deliveries: Counter
    # Attempts that failed, by what followed. labels: sink, then = retried | parked
    failed_attempts: Counter
    delivery_seconds: Histogram  # labels: sink; first attempt to the receiver's acceptance
    alert_age_seconds: Histogram  # labels: sink; wall clock at delivery minus changed_at
    refreshes: Counter  # labels: sink, outcome = sent | failed (Alertmanager re-posts)
    skipped: Counter  # labels: sink, reason = filtered | delivered (the dispatcher's skips)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> SinkMetrics:
        return cls(
            deliveries=Counter(
                "distillwatch_sink_deliveries_total",
                "Alerts a sink's delivery ended for: sent, or parked (given up)",
                ["sink", "outcome"],
                registry=registry,
            ),
            failed_attempts=Counter(
                "distillwatch_sink_failed_attempts_total",
                "Delivery attempts a sink did not accept, by what followed: retried or parked",
                ["sink", "then"],
                registry=registry,
            ),
            delivery_seconds=Histogram(
                "distillwatch_sink_delivery_seconds",
                "From the first attempt at an alert to its acceptance by the sink, retries "
                "included",
                ["sink"],
                buckets=DELIVERY_SECONDS_BUCKETS,
                registry=registry,
            ),
            alert_age_seconds=Histogram(
                "distillwatch_sink_alert_age_seconds",
                "Wall clock at delivery minus the alert's changed_at (event time; close to "
                "wall time when live, large in a notify of stored alerts)",
                ["sink"],
                buckets=ALERT_AGE_BUCKETS,
                registry=registry,
            ),
            refreshes=Counter(
                "distillwatch_sink_refreshes_total",
                "Re-posts of the active alerts to a sink (Alertmanager), by outcome",
                ["sink", "outcome"],
                registry=registry,
            ),
            skipped=Counter(
                "distillwatch_sink_skipped_total",
                "Alerts a sink's dispatcher did not deliver: filtered (severity, rules) or "
                "delivered already (a copy, or an older step of the incident)",
                ["sink", "reason"],
                registry=registry,
            ),
        )

    def prefill(self, sinks: Iterable[str], refreshing: Iterable[str]) -> None:
        """Each sink's label values at zero (see Metrics.prefill); `refreshing`: the sinks
        that re-send their active alerts (Alertmanager)."""
        for sink in sinks:
            for outcome in ("sent", "parked"):
                self.deliveries.labels(sink=sink, outcome=outcome)
            for then in ("retried", "parked"):
                self.failed_attempts.labels(sink=sink, then=then)
            for reason in ("filtered", "delivered"):
                self.skipped.labels(sink=sink, reason=reason)
            self.delivery_seconds.labels(sink=sink)
            self.alert_age_seconds.labels(sink=sink)
        for sink in refreshing:
            for outcome in ("sent", "failed"):
                self.refreshes.labels(sink=sink, outcome=outcome)

    @classmethod
    def noop(cls) -> SinkMetrics:
        return cls.create(CollectorRegistry(auto_describe=False))
