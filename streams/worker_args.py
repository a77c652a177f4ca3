"""Command-line options of `distillwatch worker` (environment variables give the defaults)."""

from __future__ import annotations

import argparse
import os

from detectors.adapters import INPUT_FORMATS, V1
from streams.kafka_admin import DLQ_RETENTION_HOURS
from streams.kafka_security import add_kafka_security_args


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DISTILLWATCH_{name}", default)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _positive_hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of hours")
    return value


def add_worker_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=os.environ.get("DISTILLWATCH_CONFIG"),
        help="detector config YAML; reloaded when the file changes",
    )
    parser.add_argument(
        "--bootstrap",
        default=_env("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (host:port[,host:port])",
    )
    parser.add_argument(
        "--redis",
        default=_env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="redis://host:port/db (rediss:// for TLS), redis-cluster://host:port[,host:port] "
        "or redis-sentinel://host:port[,host:port]/service[/db]",
    )
    parser.add_argument(
        "--allow-eviction",
        action="store_true",
        default=_env("ALLOW_EVICTION", "") == "1",
        help="start although Redis's maxmemory-policy may evict state (redelivery may then "
        "double-count); refused by default",
    )
    parser.add_argument(
        "--app-id",
        default=_env("APP_ID", "distillwatch"),
        help="faust app id = Kafka consumer group",
    )
    parser.add_argument(
        "--input-topic",
        default=_env("INPUT_TOPIC", "inference-requests"),
        help="events v1, keyed by account",
    )
    parser.add_argument(
        "--extra-input",
        action="append",
        default=[],
        metavar="TOPIC=FORMAT[:FIELD,...]",
        help="a gateway topic to read (repeat it): its records are mapped to events v1 and "
        "re-keyed by account onto --input-topic. FORMAT: litellm, otlp-json or kong; FIELDs: "
        "where the account is, in order (default: the format's, docs/adapters.md). E.g. "
        "otel-spans=otlp-json or kong-logs=kong:consumer.username",
    )
    parser.add_argument("--alerts-topic", default=_env("ALERTS_TOPIC", "extraction-alerts"))
    parser.add_argument("--dlq-topic", default=_env("DLQ_TOPIC", "inference-requests.dlq"))
    parser.add_argument(
        "--linkage-topic",
        default=_env("LINKAGE_TOPIC", "inference-requests.linkage"),
        help="internal topic of the cross-account stage (link records, keyed by the input "
        "partition they come from)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=int(_env("PARTITIONS", "6")),
        help="partitions when the worker creates missing topics",
    )
    # String defaults: argparse converts them with `type`, so a bad variable is refused too.
    parser.add_argument(
        "--replication-factor",
        type=_at_least_one,
        default=_env("REPLICATION_FACTOR", "1"),
        help="replication factor when the worker creates missing topics: 1 for a one-broker "
        "development cluster, 3 in production (docs/security.md)",
    )
    parser.add_argument(
        "--dlq-retention-hours",
        type=_positive_hours,
        default=_env("DLQ_RETENTION_HOURS", f"{DLQ_RETENTION_HOURS:g}"),
        help="retention of the dead-letter topic when the worker creates it (it holds raw "
        "prompt text; default %(default)s h)",
    )
    parser.add_argument(
        "--no-create-topics",
        action="store_true",
        help="expect the topics to exist (managed clusters)",
    )
    parser.add_argument("--batch-size", type=int, default=int(_env("BATCH_SIZE", "500")))
    parser.add_argument(
        "--batch-within",
        type=float,
        default=float(_env("BATCH_WITHIN", "0.05")),
        help="seconds to wait for a batch to fill. Faust waits this long after every batch "
        "unless --batch-size events arrive first, so it adds to every alert's latency at "
        "moderate rates and costs nothing at high ones (batches fill first)",
    )
    parser.add_argument(
        "--max-retry-seconds",
        type=float,
        default=float(_env("MAX_RETRY_SECONDS", "300")),
        help="retry a batch failing on a transient error (network, timeout) this long, then "
        "exit non-zero for the supervisor to restart the worker",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=float(_env("SESSION_TIMEOUT", "60")),
        help="seconds the consumer group waits for a silent worker before giving its "
        "partitions to the others",
    )
    parser.add_argument("--metrics-port", type=int, default=int(_env("METRICS_PORT", "9464")))
    parser.add_argument("--metrics-addr", default=_env("METRICS_ADDR", "0.0.0.0"))
    parser.add_argument(
        "--state-sample-seconds",
        type=float,
        default=float(_env("STATE_SAMPLE_SECONDS", "300")),
        help="how often one worker SCANs the detector's Redis keys to count accounts, clusters "
        "and incidents and estimate their memory (the dashboards' state panels); 0: never",
    )
    parser.add_argument(
        "--data-dir",
        default=_env("DATA_DIR", ""),
        help="faust's local metadata folder (default: a temporary folder)",
    )
    add_kafka_security_args(parser)


def add_input_format_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default=_env("INPUT_FORMAT", V1),
        help="what the input holds: distillwatch events v1, LiteLLM proxy logs, OpenTelemetry "
        "GenAI spans as OTLP JSON, or Kong AI Gateway log entries (docs/adapters.md)",
    )
    p.add_argument(
        "--account-field",
        action="append",
        default=[],
        help="a field naming the account in the input format, tried in the order given "
        "(repeat it; default: the format's own order, docs/adapters.md)",
    )
