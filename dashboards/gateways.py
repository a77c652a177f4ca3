"""The gateways' dashboard: is every gateway's request log getting in, mapped to events?

Two ways in (docs/adapters.md): `distillwatch ingest`, which gateways push to over HTTP, and
the worker's gateway topics (`--extra-input`), which a gateway or a Collector writes to Kafka.
A record that does not get in is a request nobody checks for extraction.
"""

from __future__ import annotations

from dashboards.panels import INGEST, WORKER, DashboardSpec, Panel, Query, Row, median_and_p99, rate


def unmapped_share(metric: str, selector: str, unmapped: str, mapped: str) -> str:
    """A format's records that map to no event, as a share of those that are inferences
    (records of no LLM call are skipped, in neither side)."""
    return (
        f'sum by (format) (rate({metric}{{{selector}, outcome="{unmapped}"}}[$__rate_interval]))'
        f" / sum by (format) (rate({metric}"
        f'{{{selector}, outcome=~"{mapped}|{unmapped}"}}[$__rate_interval]))'
    )


INGEST_ROW = Row(
    "Ingest endpoint (gateways that push)",
    (
        Panel(
            "Records by format and outcome",
            "Records gateways pushed per second, by format and outcome: `accepted` (on the "
            "requests topic, acknowledged by the brokers), `rejected` (mapped to no event; the "
            "gateway's answer gives each one's index and reason) or `skipped` (no LLM call: a "
            "Kong entry without the AI proxy, an OTLP export without a model-call span). "
            "Accepted should follow the gateway's request rate.",
            (
                Query(
                    rate("distillwatch_ingest_records_total", INGEST, "format, outcome"),
                    "{{format}} {{outcome}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Rejected share by format",
            "Rejected records as a share of a format's inference records. Near zero is "
            "healthy; a step after a gateway upgrade is a changed log format "
            "(DistillwatchGatewayRecordsUnmapped fires above 5% for 10 minutes).",
            (
                Query(
                    unmapped_share(
                        "distillwatch_ingest_records_total", INGEST, "rejected", "accepted"
                    ),
                    "{{format}}",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Rejections by reason",
            "Rejected records per second by format and reason (docs/adapters.md lists them). "
            "`missing_field` usually means a record without an account: check the account "
            "field (`--account-field`) against what the gateway logs.",
            (
                Query(
                    rate("distillwatch_ingest_rejections_total", INGEST, "format, reason"),
                    "{{format}} {{reason}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Requests by status code",
            "Requests answered per second by format and HTTP status. 200 is normal. The "
            "gateway's side (DistillwatchIngestRefusing): 401 a token it lacks, 413 a body over "
            "--max-body-bytes, 415 an OTLP exporter sending protobuf, 400 a batch of which "
            "nothing mapped (for OTLP, a body that is not JSON). Ingest's side "
            "(DistillwatchIngestFailing): 503 Kafka unavailable or slower than "
            "--produce-timeout, 500 Kafka refusing for good or a bug. LiteLLM does not retry: "
            "every batch it was not answered 2xx is lost (DistillwatchIngestBatchesLost).",
            (
                Query(
                    rate("distillwatch_ingest_requests_total", INGEST, "format, code"),
                    "{{format}} {{code}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Request latency",
            "p50 and p99 per format from a request's arrival to its answer, the brokers' "
            "acknowledgements included. Tens of milliseconds is normal; seconds are a slow "
            "or failing-over Kafka, and a gateway's callback waits that long.",
            median_and_p99("distillwatch_ingest_request_seconds", INGEST, "format"),
            unit="s",
        ),
        Panel(
            "Ingest processes",
            "Ingest processes Prometheus scrapes successfully (up) and fails to (down). With "
            "none up, pushing gateways cannot deliver their logs (DistillwatchIngestDown); "
            "one down of several is less headroom (DistillwatchIngestInstanceDown).",
            (
                Query(f"sum(up{{{INGEST}}})", "up"),
                Query(f"count(up{{{INGEST}}}) - sum(up{{{INGEST}}})", "down"),
            ),
            kind="stat",
        ),
    ),
)

TOPICS_ROW = Row(
    "Gateway topics (read by the workers)",
    (
        Panel(
            "Gateway records by format and outcome",
            "Records of the gateway topics (`--extra-input`) the workers mapped per second, "
            "by format and outcome: `event` (produced to the requests topic), `dead_letter` "
            "(a record or span that mapped to no event; its message is on the dead-letter "
            "topic with the reason in its headers) or `skipped` (no LLM call). Empty when no "
            "worker reads a gateway topic.",
            (
                Query(
                    rate("distillwatch_normalized_total", WORKER, "format, outcome"),
                    "{{format}} {{outcome}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Dead-lettered share by format",
            "Dead-lettered records as a share of a format's inference records. The "
            "reasons are in Dead letters by reason on the overview dashboard "
            "(DistillwatchGatewayRecordsUnmapped fires above 5% for 10 minutes).",
            (
                Query(
                    unmapped_share("distillwatch_normalized_total", WORKER, "dead_letter", "event"),
                    "{{format}}",
                ),
            ),
            unit="percentunit",
        ),
    ),
)

GATEWAYS = DashboardSpec(
    uid="distillwatch-gateways",
    title="distillwatch / gateway input",
    description="Gateway request logs coming in: the ingest endpoint and the workers' gateway "
    "topics. A record that does not get in is a request nobody checks for extraction.",
    rows=(INGEST_ROW, TOPICS_ROW),
    jobs=("ingest_job", "worker_job"),
)
