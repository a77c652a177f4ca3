"""The worker's dashboard: is distillwatch keeping up with the gateway, what is it finding, and
is its state healthy. One row per question an on-call asks, top to bottom."""

from __future__ import annotations

from dashboards.panels import (
    WORKER,
    DashboardSpec,
    Panel,
    Query,
    Row,
    median_and_p99,
    quantile,
    rate,
)

THROUGHPUT = Row(
    "Throughput and lag",
    (
        Panel(
            "Events processed",
            "Inference events per second by outcome: `applied` (counted), `duplicate` (a "
            "redelivery, counted once already), `late` (older than the windows keep), "
            "`dead_letter` (malformed, sent to the dead-letter topic). The sum should follow "
            "the gateway's request rate; `duplicate` appears after a restart or a rebalance.",
            (Query(rate("distillwatch_events_total", WORKER, "outcome"), "{{outcome}}"),),
            unit="ops",
        ),
        Panel(
            "Consumer lag by partition",
            "Messages each partition holds that its worker has not processed yet. Flat near "
            "zero is healthy; a line that keeps rising is a worker that cannot keep up (add "
            "workers, up to the partition count) or is stuck (see Health).",
            (
                Query(
                    f"max by (topic, partition) (distillwatch_consumer_lag_messages{{{WORKER}}})",
                    "{{topic}} / {{partition}}",
                ),
            ),
        ),
        Panel(
            "Event lag",
            "Wall clock minus the newest event time each worker processed: how far behind the "
            "gateway detection runs. Seconds when live; it also grows when the gateway goes "
            "quiet (no new events), which the consumer lag tells apart.",
            (
                Query(
                    f"max by (instance) (distillwatch_event_lag_seconds{{{WORKER}}})",
                    "{{instance}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Workers up",
            "Worker processes Prometheus scrapes successfully. Fewer than deployed means a "
            "worker is down; its partitions move to the others after the session timeout.",
            (Query(f"sum(up{{{WORKER}}})"),),
            kind="stat",
            width=6,
        ),
        Panel(
            "Batches per second",
            "Batches delivered per second across the workers. With the event rate it gives "
            "the batch size: small batches at a high rate cost more Redis round trips.",
            (Query(rate("distillwatch_batch_processing_seconds_count", WORKER)),),
            unit="ops",
            width=6,
        ),
    ),
)

LATENCY = Row(
    "Latency",
    (
        Panel(
            "Event time to processed",
            "p50 and p99 of the delay from an event's timestamp (when the gateway served it) "
            "to the delivery of its batch: the detection delay distillwatch adds. Under a "
            "second live; minutes mean a backlog.",
            median_and_p99("distillwatch_event_delay_seconds", WORKER),
            unit="s",
            width=8,
        ),
        Panel(
            "Batch duration",
            "p50 and p99 of one batch end to end (state, detection, alert ledger, produce, "
            "confirm), retries included. A p99 near the session timeout risks rebalances.",
            median_and_p99("distillwatch_batch_processing_seconds", WORKER),
            unit="s",
            width=8,
        ),
        Panel(
            "Redis round trip p99 by operation",
            "p99 of one Redis round trip by operation (`window_apply` is the per-account state "
            "script, `linkage_apply` the cross-account graph). A rise across operations is "
            "Redis or the network; in one operation, that operation's keys.",
            (
                Query(
                    quantile(0.99, "distillwatch_redis_round_trip_seconds", WORKER, "operation"),
                    "{{operation}}",
                ),
            ),
            unit="s",
            width=8,
        ),
    ),
)

DEAD_LETTERS = Row(
    "Dead letters",
    (
        Panel(
            "Dead letters by reason",
            "Malformed events per second by reason (docs/metrics.md lists them). Each one is "
            "on the dead-letter topic with its reason in headers; a new reason after a gateway "
            "release usually means a schema change.",
            (Query(rate("distillwatch_dead_letters_total", WORKER, "reason"), "{{reason}}"),),
            unit="ops",
        ),
        Panel(
            "Dead-letter share",
            "Dead letters as a share of all events. The DistillwatchDeadLetterRateHigh alert "
            "fires above 5% for 10 minutes.",
            (
                Query(
                    rate("distillwatch_events_total", f'{WORKER}, outcome="dead_letter"')
                    + f" / clamp_min({rate('distillwatch_events_total', WORKER)}, 1e-9)"
                ),
            ),
            unit="percentunit",
        ),
    ),
)

DETECTION = Row(
    "Detection",
    (
        Panel(
            "Alert state changes by rule",
            "Alerts sent per hour by rule and transition: `firing` opens an incident (a page), "
            "`updated` raises its severity or adds cluster members, `resolved` closes it after "
            "its hold-down. Compare rules with their usual level: a jump after a "
            "configuration change is the change.",
            (
                Query(
                    "sum by (rule_id, transition) "
                    f"(increase(distillwatch_alerts_total{{{WORKER}}}[1h]))",
                    "{{rule_id}} {{transition}}",
                ),
            ),
        ),
        Panel(
            "Incidents opened by severity",
            "Incidents opened per hour by severity (the `firing` transitions).",
            (
                Query(
                    "sum by (severity) (increase(distillwatch_alerts_total"
                    f'{{{WORKER}, transition="firing"}}[1h]))',
                    "{{severity}}",
                ),
            ),
        ),
        Panel(
            "Signals firing (shadow rules)",
            "Findings per hour of the rules in shadow mode: the signals that feed the combined "
            "rule and would alert on their own. Watch one here before promoting it to `alert` "
            "mode (docs/rules.md).",
            (
                Query(
                    "sum by (rule_id) "
                    f"(increase(distillwatch_shadow_findings_total{{{WORKER}}}[1h]))",
                    "{{rule_id}}",
                ),
            ),
        ),
        Panel(
            "Repeated crossings while an incident is open",
            "Crossings per second that sent nothing because their incident was already "
            "active. A high rate for one rule is an ongoing attack, already paged.",
            (
                Query(
                    rate("distillwatch_alerts_suppressed_total", WORKER, "rule_id"), "{{rule_id}}"
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Detector errors by rule",
            "Batches in which a rule's detector raised; the rule was skipped for that batch "
            "(DistillwatchDetectorErrors). Any non-zero value is a bug to report with the "
            "worker's log.",
            (
                Query(
                    "sum by (rule_id) "
                    f"(increase(distillwatch_detector_errors_total{{{WORKER}}}[$__rate_interval]))",
                    "{{rule_id}}",
                ),
            ),
        ),
    ),
)

STATE = Row(
    "Clusters and state",
    (
        Panel(
            "Clusters tracked",
            "Clusters of two or more linked accounts in the current linkage window (sampled "
            "every few minutes), and hydra-cluster incidents opened or grown per hour. "
            "Clusters without incidents are ordinary shared traffic below the thresholds.",
            (
                Query(f"max(distillwatch_tracked_clusters{{{WORKER}}})", "clusters"),
                Query(
                    "sum(increase(distillwatch_alerts_total"
                    f'{{{WORKER}, rule_id="hydra_cluster", transition=~"firing|updated"}}[1h]))',
                    "hydra incidents / h",
                ),
            ),
            width=8,
        ),
        Panel(
            "Accounts tracked and open incidents",
            "Accounts with window state in Redis and incidents open (sampled). Accounts follow "
            "the gateway's active users over the longest window; incidents that only grow "
            "mean they never resolve (see docs/alerting.md).",
            (
                Query(f"max(distillwatch_tracked_accounts{{{WORKER}}})", "accounts"),
                Query(f"max(distillwatch_active_incidents{{{WORKER}}})", "open incidents"),
            ),
            width=8,
        ),
        Panel(
            "Redis memory",
            "Estimated memory of the detector's keys by kind, and Redis's used memory in "
            "total (sampled). Redis must run with `maxmemory-policy noeviction`: plan "
            "`maxmemory` from the account line.",
            (
                Query(f"max by (kind) (distillwatch_state_memory_bytes{{{WORKER}}})", "{{kind}}"),
                Query(f"max(distillwatch_redis_used_memory_bytes{{{WORKER}}})", "used_memory"),
            ),
            unit="bytes",
            width=8,
        ),
        Panel(
            "Redis errors by operation",
            "Redis round trips that failed, per second. Each failure retries its batch; "
            "a steady rate is a Redis that is down, full or failing over.",
            (Query(rate("distillwatch_redis_errors_total", WORKER, "operation"), "{{operation}}"),),
            unit="ops",
        ),
        Panel(
            "Link records",
            "Link records (one account's counted requests of a batch) the cross-account stage "
            "took per second, by outcome.",
            (Query(rate("distillwatch_link_records_total", WORKER, "outcome"), "{{outcome}}"),),
            unit="ops",
        ),
    ),
)

HEALTH = Row(
    "Health",
    (
        Panel(
            "Since the last successful batch",
            "Seconds since each worker last delivered a batch. It grows while the gateway is "
            "quiet; with consumer lag as well, the worker is stuck "
            "(DistillwatchNoSuccessfulBatch).",
            (
                Query(
                    "time() - max by (instance) "
                    f"(distillwatch_last_batch_success_timestamp_seconds{{{WORKER}}})",
                    "{{instance}}",
                ),
            ),
            unit="s",
            width=8,
        ),
        Panel(
            "Batch retries by stage",
            "Failed attempts at a batch by stage and kind. `transient` (Redis or Kafka "
            "unavailable) is retried with backoff; `permanent` makes the worker exit for its "
            "supervisor.",
            (
                Query(
                    rate("distillwatch_batch_retries_total", WORKER, "stage, kind"),
                    "{{stage}} {{kind}}",
                ),
            ),
            unit="ops",
            width=8,
        ),
        Panel(
            "Configuration reloads",
            "Hot reloads of the detector configuration per hour, by result. `invalid` and "
            "`layout_change` kept the last good configuration: the log says which file, key "
            "and reason.",
            (
                Query(
                    "sum by (result) "
                    f"(increase(distillwatch_config_reloads_total{{{WORKER}}}[1h]))",
                    "{{result}}",
                ),
            ),
            width=8,
        ),
        Panel(
            "Running builds",
            "Processes by distillwatch version and component: two versions at once is a "
            "rolling upgrade in progress.",
            (
                Query(
                    "count by (version, component) (distillwatch_build_info)",
                    "{{component}} {{version}}",
                ),
            ),
            kind="stat",
            width=24,
        ),
    ),
)

OVERVIEW = DashboardSpec(
    uid="distillwatch-overview",
    title="distillwatch / overview",
    description="The extraction detector's workers: throughput, lag, latency, dead letters, "
    "detections, clusters, state and health.",
    rows=(THROUGHPUT, LATENCY, DEAD_LETTERS, DETECTION, STATE, HEALTH),
)
