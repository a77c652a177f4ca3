"""Every Prometheus metric in one typed place. Account ids are never labels.

`Metrics.noop()` gives an unregistered set for tests and embedded runs, so building several
pipelines in one process never collides in the default registry.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)
# Event time to processed: live it is well under a second; minutes mean the worker is behind,
# hours a backlog (or a replay of old traffic)
EVENT_DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                       21600.0, 86400.0)  # fmt: skip
REDIS_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
EVENT_OUTCOMES = ("applied", "duplicate", "late", "dead_letter")
RELOAD_RESULTS = ("applied", "invalid", "layout_change")
RETRY_STAGES = ("state", "produce", "confirm", "linkage", "alerts", "normalize")
NORMALIZED_OUTCOMES = ("event", "dead_letter", "skipped")
FAILURE_KINDS = ("transient", "permanent")
LINK_OUTCOMES = ("applied", "dead_letter")
TRANSITIONS = ("firing", "updated", "resolved")


@dataclass(frozen=True)
class Metrics:
    events: Counter  # labels: outcome = applied | duplicate | late | dead_letter
    dead_letters: Counter  # labels: reason
    alerts: Counter  # labels: rule_id, severity, transition (counted once sent)
    alerts_suppressed: Counter  # labels: rule_id (crossings while an incident was active)
    shadow_findings: Counter  # labels: rule_id (shadow-mode rules that would have fired)
    detector_errors: Counter  # labels: rule_id (a detector raised; its rule skipped a batch)
    config_reloads: Counter  # labels: result = applied | invalid | layout_change
    batch_seconds: Histogram  # whole batch: state, detection, sinks, commit bookkeeping
    batch_size: Histogram
    state_errors: Counter  # labels: stage, kind = transient | permanent (retried or give up)
    event_lag_seconds: Gauge  # wall clock minus the newest event time seen
    batch_started: Gauge  # start of the batch in progress (0: none): a stall shows here
    last_success: Gauge  # when the last batch was delivered
    link_records: Counter  # labels: outcome = applied | dead_letter (the linkage agent)
    event_delay_seconds: Histogram  # per event: wall clock at delivery minus its timestamp
    consumer_lag: Gauge  # labels: topic, partition (partitions this worker holds)
    redis_seconds: Histogram  # labels: operation (one round trip: a pipeline or a script)
    redis_errors: Counter  # labels: operation
    tracked_accounts: Gauge  # sampled (streams/state_sampler.py)
    tracked_clusters: Gauge  # sampled: multi-account clusters in the current linkage window
    active_incidents: Gauge  # sampled: incidents firing (scheduled to resolve)
    state_memory_bytes: Gauge  # labels: kind = account | incident | linkage; sampled
    redis_used_memory_bytes: Gauge  # sampled: INFO memory, summed over primaries
    state_sampled: Gauge  # when the sample above was taken by this worker
    normalized: Counter  # labels: format, outcome = event | dead_letter | skipped

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        return cls(
            events=Counter(
                "distillwatch_events_total",
                "Inference events by outcome",
                ["outcome"],
                registry=registry,
            ),
            dead_letters=Counter(
                "distillwatch_dead_letters_total",
                "Malformed events sent to the dead-letter topic, by reason",
                ["reason"],
                registry=registry,
            ),
            alerts=Counter(
                "distillwatch_alerts_total",
                "Alert state changes sent, by rule, severity and transition",
                ["rule_id", "severity", "transition"],
                registry=registry,
            ),
            alerts_suppressed=Counter(
                "distillwatch_alerts_suppressed_total",
                "Crossings that sent nothing because their incident was active, by rule",
                ["rule_id"],
                registry=registry,
            ),
            shadow_findings=Counter(
                "distillwatch_shadow_findings_total",
                "Findings of rules in shadow mode (not alerted)",
                ["rule_id"],
                registry=registry,
            ),
            detector_errors=Counter(
                "distillwatch_detector_errors_total",
                "Batches in which a rule's detector raised and the rule was skipped",
                ["rule_id"],
                registry=registry,
            ),
            config_reloads=Counter(
                "distillwatch_config_reloads_total",
                "Configuration hot reloads by result (invalid and layout changes keep the last "
                "good configuration)",
                ["result"],
                registry=registry,
            ),
            batch_seconds=Histogram(
                "distillwatch_batch_processing_seconds",
                "Time to process one batch end to end",
                buckets=BATCH_SECONDS_BUCKETS,
                registry=registry,
            ),
            batch_size=Histogram(
                "distillwatch_batch_size_events",
                "Events per batch",
                buckets=BATCH_SIZE_BUCKETS,
                registry=registry,
            ),
            state_errors=Counter(
                "distillwatch_batch_retries_total",
                "Failed attempts at a batch, by stage and kind (transient: retried with backoff; "
                "permanent: retried a few times, then the worker exits for its supervisor)",
                ["stage", "kind"],
                registry=registry,
            ),
            event_lag_seconds=Gauge(
                "distillwatch_event_lag_seconds",
                "Wall clock minus the newest event timestamp processed",
                registry=registry,
            ),
            batch_started=Gauge(
                "distillwatch_batch_started_timestamp_seconds",
                "Unix time the batch in progress started (0 when none): now minus this is how "
                "long the worker has been on one batch, retries included",
                registry=registry,
            ),
            last_success=Gauge(
                "distillwatch_last_batch_success_timestamp_seconds",
                "Unix time the last batch was delivered (alerts and dead letters acknowledged, "
                "offsets released for commit)",
                registry=registry,
            ),
            link_records=Counter(
                "distillwatch_link_records_total",
                "Link records (one account's counted requests of one batch) taken by the "
                "cross-account stage, by outcome",
                ["outcome"],
                registry=registry,
            ),
            event_delay_seconds=Histogram(
                "distillwatch_event_delay_seconds",
                "Per event: wall clock when its batch was delivered minus the event's timestamp",
                buckets=EVENT_DELAY_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                "distillwatch_consumer_lag_messages",
                "Messages in a partition this worker holds that it has not processed yet "
                "(high watermark minus the next offset to process)",
                ["topic", "partition"],
                registry=registry,
            ),
            redis_seconds=Histogram(
                "distillwatch_redis_round_trip_seconds",
                "One Redis round trip (a pipeline or a script call), by operation",
                ["operation"],
                buckets=REDIS_SECONDS_BUCKETS,
                registry=registry,
            ),
            redis_errors=Counter(
                "distillwatch_redis_errors_total",
                "Redis round trips that failed, by operation",
                ["operation"],
                registry=registry,
            ),
            tracked_accounts=Gauge(
                "distillwatch_tracked_accounts",
                "Accounts with window state in Redis (sampled)",
                registry=registry,
            ),
            tracked_clusters=Gauge(
                "distillwatch_tracked_clusters",
                "Clusters of two or more linked accounts in the current linkage window (sampled)",
                registry=registry,
            ),
            active_incidents=Gauge(
                "distillwatch_active_incidents",
                "Incidents firing, not yet resolved (sampled)",
                registry=registry,
            ),
            state_memory_bytes=Gauge(
                "distillwatch_state_memory_bytes",
                "Redis memory of the detector's keys by kind, estimated from a sample of keys",
                ["kind"],
                registry=registry,
            ),
            redis_used_memory_bytes=Gauge(
                "distillwatch_redis_used_memory_bytes",
                "Redis used_memory (INFO memory), summed over the primaries (sampled)",
                registry=registry,
            ),
            state_sampled=Gauge(
                "distillwatch_state_sample_timestamp_seconds",
                "When this worker last sampled the state's size (0: never; one worker samples "
                "at a time)",
                registry=registry,
            ),
            normalized=Counter(
                "distillwatch_normalized_total",
                "Gateway topics' records re-keyed onto the input topic (streams/normalizer.py), by "
                "format and outcome: events produced, records dead-lettered, records skipped (no "
                "inference in them)",
                ["format", "outcome"],
                registry=registry,
            ),
        )

    def prefill(
        self,
        alerting: Iterable[tuple[str, str]],
        shadow: Iterable[str],
        dead_letter_reasons: Iterable[str],
        gateway_formats: Iterable[str] = (),
    ) -> None:
        """Every label value known in advance, at zero: `rate()` of a counter that has never
        moved then reads 0 instead of no series, so dashboards show a flat line and an alert's
        `increase()` sees the first error. `alerting`: (rule id, configured severity) of the
        rules that alert; `shadow`: the ids of the rules in shadow mode."""
        for outcome in EVENT_OUTCOMES:
            self.events.labels(outcome=outcome)
        for reason in dead_letter_reasons:
            self.dead_letters.labels(reason=reason)
        for result in RELOAD_RESULTS:
            self.config_reloads.labels(result=result)
        for stage in RETRY_STAGES:
            for kind in FAILURE_KINDS:
                self.state_errors.labels(stage=stage, kind=kind)
        for outcome in LINK_OUTCOMES:
            self.link_records.labels(outcome=outcome)
        for input_format in gateway_formats:
            for outcome in NORMALIZED_OUTCOMES:
                self.normalized.labels(format=input_format, outcome=outcome)
        for rule_id in shadow:
            self.shadow_findings.labels(rule_id=rule_id)
            self.detector_errors.labels(rule_id=rule_id)
        for rule_id, severity in alerting:
            self.detector_errors.labels(rule_id=rule_id)
            self.alerts_suppressed.labels(rule_id=rule_id)
            for transition in TRANSITIONS:
                self.alerts.labels(rule_id=rule_id, severity=severity, transition=transition)

    @classmethod
    def noop(cls) -> Metrics:
        return cls.create(CollectorRegistry(auto_describe=False))


def register_build_info(registry: CollectorRegistry, component: str) -> None:
    """`distillwatch_build_info{version, python, component} 1`: which build runs where (a
    dashboard joins on it across a rolling upgrade)."""
    try:
        version = metadata.version("distillwatch")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        version = "unknown"
    Info("distillwatch_build", "The running distillwatch build", registry=registry).info(
        {"version": version, "python": platform.python_version(), "component": component}
    )
