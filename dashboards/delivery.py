"""The dispatcher's dashboard: do alerts reach on-call, how fast, and what was given up."""

from __future__ import annotations

from dashboards.panels import (
    DISPATCHER,
    DashboardSpec,
    Panel,
    Query,
    Row,
    median_and_p99,
    quantile,
    rate,
)

DELIVERY = Row(
    "Deliveries",
    (
        Panel(
            "Deliveries by sink",
            "Alerts per second whose delivery ended, by sink and outcome: `sent` (the "
            "receiver accepted it) or `parked` (given up: a permanent error, or the retry "
            "horizon passed).",
            (
                Query(
                    rate("distillwatch_sink_deliveries_total", DISPATCHER, "sink, outcome"),
                    "{{sink}} {{outcome}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Parked alerts",
            "Alerts given up in the selected time range: they never reached that on-call tool "
            "(DistillwatchAlertsParked pages). Each is on the parked topic with the sink and "
            "the reason in its headers; `distillwatch notify` can send them again once the "
            "cause is fixed.",
            (
                Query(
                    "sum by (sink) (increase(distillwatch_sink_deliveries_total"
                    f'{{{DISPATCHER}, outcome="parked"}}[$__range]))',
                    "{{sink}}",
                ),
            ),
            kind="stat",
            width=6,
        ),
        Panel(
            "Dispatchers up",
            "Dispatcher processes Prometheus scrapes successfully. With none, alerts wait on "
            "the alerts topic and are delivered when one starts.",
            (Query(f"sum(up{{{DISPATCHER}}})"),),
            kind="stat",
            width=6,
        ),
        Panel(
            "Failed attempts by sink",
            "Delivery attempts the receiver refused per second, by what followed: `retried` "
            "(backoff with jitter, honouring Retry-After) or `parked`. Retries with no parked "
            "alerts are a receiver's hiccup; a steady rate is an outage "
            "(DistillwatchSinkFailing).",
            (
                Query(
                    rate("distillwatch_sink_failed_attempts_total", DISPATCHER, "sink, then"),
                    "{{sink}} {{then}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Skipped by sink",
            "Alerts a sink did not deliver, per second: `filtered` (below its severity or "
            "outside its rules) or `delivered` (a copy, or an older step of an incident it "
            "already sent).",
            (
                Query(
                    rate("distillwatch_sink_skipped_total", DISPATCHER, "sink, reason"),
                    "{{sink}} {{reason}}",
                ),
            ),
            unit="ops",
        ),
    ),
)

LATENCY = Row(
    "Latency",
    (
        Panel(
            "Delivery latency",
            "p50 and p99 per sink from the first attempt at an alert to its acceptance, "
            "retries included. Tens of milliseconds is normal; seconds mean retries.",
            median_and_p99("distillwatch_sink_delivery_seconds", DISPATCHER, "sink"),
            unit="s",
        ),
        Panel(
            "Alert age on delivery",
            "p99 per sink of the wall clock at delivery minus the alert's `changed_at` (event "
            "time): how old an alert is when on-call sees it, detection delay included.",
            (
                Query(
                    quantile(0.99, "distillwatch_sink_alert_age_seconds", DISPATCHER, "sink"),
                    "{{sink}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Alertmanager re-sends",
            "Re-sends of the active alerts to each Alertmanager per second, by outcome. They "
            "keep active alerts from timing out; `failed` for minutes lets them resolve in "
            "Alertmanager while still active here (DistillwatchSinkRefreshFailing).",
            (
                Query(
                    rate("distillwatch_sink_refreshes_total", DISPATCHER, "sink, outcome"),
                    "{{sink}} {{outcome}}",
                ),
            ),
            unit="ops",
            width=24,
        ),
    ),
)

DELIVERY_DASHBOARD = DashboardSpec(
    uid="distillwatch-delivery",
    title="distillwatch / alert delivery",
    description="The alert dispatcher: deliveries to Alertmanager, webhooks, PagerDuty and Slack.",
    rows=(DELIVERY, LATENCY),
)
