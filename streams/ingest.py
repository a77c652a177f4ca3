"""`distillwatch ingest`: an HTTP endpoint for gateways that push their request logs, which
normalises them to inference events v1 and produces them to the requests topic.

    POST /v1/litellm   LiteLLM's generic_api callback (JSON array, NDJSON or one object)
    POST /v1/traces    OTLP/HTTP JSON (an OpenTelemetry exporter or Collector)
    POST /v1/kong      Kong's http-log plugin (one entry or a batch)
    POST /v1/events    events v1 (a JSON array, NDJSON or one object)
    GET  /healthz      200 while the process serves (it starts once Kafka answered)

Every POST needs `Authorization: Bearer <token>`: one of the tokens in
`DISTILLWATCH_INGEST_TOKENS_FILE` (one per line, so a rotation can list old and new) or
`DISTILLWATCH_INGEST_TOKEN`. Tokens are compared in constant time and never logged. A body
over `--max-body-bytes` is refused whole with 413.

A request is answered once its events are on the topic: the idempotent producer waits for
every broker acknowledgement (acks=all), so a 2xx means nothing is lost. Kafka unavailable, or
not acknowledging within `--produce-timeout`, answers 503 with Retry-After; the OTLP exporters
and Kong's http-log retry it (LiteLLM's generic_api does not: docs/adapters.md), and the event
ids make a second copy harmless downstream (part of the batch may be on the topic already,
and the producer still delivers what it holds once the brokers are back).
`--account-field FORMAT=FIELD,...` says where a format's account is. The records of a batch
that do not map, or that the v1 decoder would refuse, are reported with their index and
reason, and the rest still goes through: 200 if any record was taken, 400 if none was. OTLP
gets its own `partialSuccess` answer.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

from detectors.adapters import V1, adapter_for
from detectors.adapters.base import (
    ADAPTER_REASONS,
    NOT_AN_INFERENCE,
    NOT_AN_OBJECT,
    NOT_JSON,
    Adapter,
    Mapped,
    RecordError,
)
from detectors.adapters.fields import map_each
from detectors.decode import DEFAULT_MAX_EVENT_BYTES
from detectors.decode import REASONS as DECODE_REASONS
from streams.adapted_input import expand
from streams.kafka_check import KafkaUnavailable, check_kafka
from streams.kafka_security import KafkaSecurity, add_kafka_security_args
from streams.metrics import register_build_info
from streams.secret_values import SecurityConfigError, read_secret_file

log = logging.getLogger(__name__)
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# Under Kafka's default max.message.bytes (1 MiB) with room for the key and the batch header
DEFAULT_INGEST_EVENT_BYTES = 1_000_000
PRODUCE_HEADROOM_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "5"
# Under the gateways' own request timeouts (Kong's http-log 10 s, the Collector's otlphttp
# 30 s), so they hear 503 and retry rather than time out; the producer's own batch expiry (40 s,
# and none at all for an idempotent producer's batches in flight) is far longer
DEFAULT_PRODUCE_TIMEOUT_S = 8.0
# Route -> input format
ROUTES = {
    "/v1/litellm": "litellm",
    "/v1/traces": "otlp-json",
    "/v1/kong": "kong",
    "/v1/events": "v1",
}
# What a record can be rejected for: the adapters' reasons and the v1 decoder's (a record of
# no LLM call is skipped, never rejected)
REJECTION_REASONS = tuple(sorted({*ADAPTER_REASONS, *DECODE_REASONS} - {NOT_AN_INFERENCE}))
# Every status a POST is answered with (handle, _handle): their series exist from the start
ANSWER_CODES = ("200", "400", "401", "413", "415", "500", "503")
REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class IngestMetrics:
    records: Counter  # labels: format, outcome = accepted | rejected | skipped
    rejections: Counter  # labels: format, reason (REJECTION_REASONS)
    requests: Counter  # labels: format, code
    request_seconds: Histogram  # labels: format

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IngestMetrics:
        return cls(
            records=Counter(
                "distillwatch_ingest_records_total",
                "Records pushed to the ingest endpoint, by format and outcome (accepted: on the "
                "requests topic; rejected: reported back to the gateway with the reason; "
                "skipped: no inference, such as a Kong entry without the AI proxy)",
                ["format", "outcome"],
                registry=registry,
            ),
            rejections=Counter(
                "distillwatch_ingest_rejections_total",
                "Records the ingest endpoint reported back as not mapped, by format and reason",
                ["format", "reason"],
                registry=registry,
            ),
            requests=Counter(
                "distillwatch_ingest_requests_total",
                "HTTP requests to the ingest endpoint, by format and status code",
                ["format", "code"],
                registry=registry,
            ),
            request_seconds=Histogram(
                "distillwatch_ingest_request_seconds",
                "From a request's arrival to its answer (broker acknowledgements included)",
                ["format"],
                buckets=REQUEST_SECONDS_BUCKETS,
                registry=registry,
            ),
        )

    @classmethod
    def noop(cls) -> IngestMetrics:
        return cls.create(CollectorRegistry(auto_describe=False))

    def prefill(self) -> None:
        """Every label value known in advance, at zero (as the worker's `Metrics.prefill`):
        an alert's `increase()` then sees the first rejection or failed answer."""
        for fmt in ROUTES.values():
            for outcome in ("accepted", "rejected", "skipped"):
                self.records.labels(format=fmt, outcome=outcome)
            for reason in REJECTION_REASONS:
                self.rejections.labels(format=fmt, reason=reason)
            for code in ANSWER_CODES:
                self.requests.labels(format=fmt, code=code)


def load_tokens(environ: dict[str, str] | os._Environ[str]) -> list[bytes]:
    """The accepted bearer tokens; refused (SecurityConfigError) if none is configured: an
    ingest endpoint without authentication is not an option."""
    tokens: list[str] = []
    path = environ.get("DISTILLWATCH_INGEST_TOKENS_FILE", "")
    if path:
        text = read_secret_file(path, "DISTILLWATCH_INGEST_TOKENS_FILE").reveal()
        tokens += [line.strip() for line in text.splitlines() if line.strip()]
    if environ.get("DISTILLWATCH_INGEST_TOKEN"):
        tokens.append(environ["DISTILLWATCH_INGEST_TOKEN"])
    if not tokens:
        raise SecurityConfigError(
            "set DISTILLWATCH_INGEST_TOKENS_FILE (one bearer token per line) or "
            "DISTILLWATCH_INGEST_TOKEN: the ingest endpoint does not run unauthenticated"
        )
    return [token.encode() for token in tokens]


def authorized(header: str | None, tokens: Sequence[bytes]) -> bool:
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return False
    # aiohttp decodes header bytes with surrogateescape: encode them back the same way
    given = credentials.strip().encode("utf-8", "surrogateescape")
    # Every token compared, each in constant time: the answer's timing tells nothing
    return any([hmac.compare_digest(given, token) for token in tokens])


def v1_records(payload: bytes) -> Mapped:
    """Events v1 pushed as they are: a JSON array, NDJSON or one object."""
    return map_each(payload, _v1_event)


def _v1_event(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordError(NOT_AN_OBJECT, "the record is not an object")
    return record


class IngestApp:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        tokens: Sequence[bytes],
        metrics: IngestMetrics,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        account_fields: Mapping[str, Sequence[str]] | None = None,
        produce_timeout_s: float = DEFAULT_PRODUCE_TIMEOUT_S,
    ) -> None:
        """`account_fields`: format -> where its account is, in order (absent: the format's
        default order, docs/adapters.md)."""
        self.producer, self.topic, self.tokens = producer, topic, list(tokens)
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_event_bytes = max_event_bytes
        self.produce_timeout_s = produce_timeout_s
        fields = account_fields or {}
        self.adapters: dict[str, Adapter | None] = {
            fmt: adapter_for(fmt, fields.get(fmt)) for fmt in ROUTES.values()
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        for route in ROUTES:
            app.router.add_post(route, self.handle)
        app.router.add_get("/healthz", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def handle(self, request: web.Request) -> web.Response:
        fmt = ROUTES[request.path]
        started = time.perf_counter()
        try:
            response = await self._handle(request, fmt)
        except web.HTTPRequestEntityTooLarge:
            response = _error(413, f"the body is over {self.max_body_bytes} bytes")
        except Exception:  # answered and counted; the gateway retries a 500
            log.exception("ingest: a %s request failed", fmt)
            response = _error(500, "internal error")
        self.metrics.requests.labels(format=fmt, code=str(response.status)).inc()
        self.metrics.request_seconds.labels(format=fmt).observe(time.perf_counter() - started)
        return response

    async def _handle(self, request: web.Request, fmt: str) -> web.Response:
        if not authorized(request.headers.get("Authorization"), self.tokens):
            return _error(401, "a valid bearer token is required")
        if fmt == "otlp-json" and "protobuf" in request.content_type:
            return _error(415, "OTLP/HTTP JSON only: set the exporter's encoding to json")
        body = await request.read()
        # Mapped and checked by the v1 decoder (events over --max-event-bytes: too_large), so
        # the gateway hears now of what the worker would dead-letter
        expanded = expand(self.adapters[fmt] or v1_records, [body], self.max_event_bytes)
        rejected = [
            {"index": why.index, "reason": why.reason, "detail": why.detail}
            for _, why in expanded.rejected
        ]
        if fmt == "otlp-json" and rejected and rejected[0]["reason"] == NOT_JSON:
            return _error(400, "the body is not OTLP JSON")  # OTLP/HTTP: undecodable is 400
        try:
            async with asyncio.timeout(self.produce_timeout_s):
                await self._produce(expanded.payloads, expanded.keys)
        except (TimeoutError, KafkaTimeoutError):  # aiokafka marks its timeout not retriable
            log.warning(
                "ingest: Kafka did not acknowledge a batch of %d within %.1f s",
                len(expanded.payloads),
                self.produce_timeout_s,
            )
            return _unavailable(f"Kafka did not acknowledge within {self.produce_timeout_s:g} s")
        except KafkaError as error:
            log.warning("ingest: Kafka refused a batch of %d: %s", len(expanded.payloads), error)
            if not error.retriable:  # a retry cannot succeed (authorization, size)
                return _error(500, f"Kafka refused the events: {type(error).__name__}")
            return _unavailable("Kafka is unavailable")
        self.metrics.records.labels(format=fmt, outcome="accepted").inc(len(expanded.payloads))
        self.metrics.records.labels(format=fmt, outcome="rejected").inc(len(rejected))
        self.metrics.records.labels(format=fmt, outcome="skipped").inc(expanded.skipped_parts)
        for _, why in expanded.rejected:
            self.metrics.rejections.labels(format=fmt, reason=why.reason).inc()
        if fmt == "otlp-json":  # OTLP/HTTP: 200 with partialSuccess, as the spec has it
            partial = (
                {"rejectedSpans": len(rejected), "errorMessage": _summary(rejected)}
                if rejected
                else {}
            )
            return web.json_response({"partialSuccess": partial})
        status = 400 if rejected and not expanded.payloads else 200
        return web.json_response(
            {"accepted": len(expanded.payloads), "rejected": rejected}, status=status
        )

    async def _produce(self, payloads: Sequence[bytes], keys: Sequence[bytes]) -> None:
        sends = [
            await self.producer.send(self.topic, value=payload, key=key)
            for payload, key in zip(payloads, keys, strict=True)
        ]
        await asyncio.gather(*sends)  # every acknowledgement, or the first failure


def _by_format(options: Sequence[tuple[str, tuple[str, ...]]]) -> dict[str, Sequence[str]]:
    """--account-field options by format; a format given twice takes the fields of both."""
    fields: dict[str, tuple[str, ...]] = {}
    for fmt, listed in options:
        fields[fmt] = fields.get(fmt, ()) + listed
    return dict(fields)


def _summary(rejected: list[dict[str, Any]]) -> str:
    first = rejected[0]
    more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
    return f"record {first['index']}: {first['reason']}: {first['detail']}{more}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _unavailable(why: str) -> web.Response:
    response = _error(503, f"{why}; retry later")
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def add_ingest_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ingest", help="HTTP endpoint for gateway logs (LiteLLM, OTLP JSON, Kong, events v1)"
    )
    env = os.environ.get
    parser.add_argument("--kafka", default=env("DISTILLWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--topic", default=env("DISTILLWATCH_INPUT_TOPIC", "inference-requests"))
    parser.add_argument("--host", default=env("DISTILLWATCH_INGEST_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("DISTILLWATCH_INGEST_PORT", "8088")))
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument(
        "--max-event-bytes",
        type=int,
        default=DEFAULT_INGEST_EVENT_BYTES,
        help="largest event v1 produced (a larger one is refused as too_large); keep it under "
        "the input topic's max.message.bytes (Kafka's default is 1 MiB)",
    )
    parser.add_argument(
        "--account-field",
        action="append",
        type=account_fields_option,
        default=[],
        metavar="FORMAT=FIELD[,FIELD...]",
        help="where a format's account is, tried in the order given (repeat it for each "
        "format; default: the format's own order, docs/adapters.md). E.g. "
        "litellm=user_api_key_user_id,user_api_key_hash or kong=consumer.username",
    )
    parser.add_argument(
        "--produce-timeout",
        type=positive_seconds,
        default=DEFAULT_PRODUCE_TIMEOUT_S,
        metavar="SECONDS",
        help="how long a request waits for the brokers' acknowledgements before it is answered "
        "503 with Retry-After; keep it under the gateways' request timeouts (default: "
        "%(default)s)",
    )
    parser.add_argument("--metrics-port", type=int, default=0, help="0: no metrics endpoint")
    add_kafka_security_args(parser)
    parser.set_defaults(func=cmd_ingest)
    return parser


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return seconds


def account_fields_option(text: str) -> tuple[str, tuple[str, ...]]:
    """`FORMAT=FIELD[,FIELD...]` of --account-field."""
    fmt, _, listed = text.partition("=")
    fields = tuple(field.strip() for field in listed.split(",") if field.strip())
    mapped = sorted(f for f in ROUTES.values() if f != V1)
    if fmt.strip() not in mapped:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the format before '=' must be one of {', '.join(mapped)}"
        )
    if not fields:
        raise argparse.ArgumentTypeError(f"{text!r}: name at least one field after '='")
    return fmt.strip(), fields


def cmd_ingest(args: argparse.Namespace) -> int:
    try:
        tokens = load_tokens(os.environ)
        security = KafkaSecurity.from_args(args)
    except SecurityConfigError as error:
        log.error("refusing to start: %s", error)
        return 2
    metrics = IngestMetrics.create(REGISTRY)
    metrics.prefill()
    register_build_info(REGISTRY, "ingest")
    if args.metrics_port:
        start_http_server(args.metrics_port)
    try:
        asyncio.run(_serve(args, tokens, security, metrics))
    except KafkaUnavailable as error:
        log.error("refusing to start: %s", error)
        return 2
    return 0


async def _serve(
    args: argparse.Namespace, tokens: list[bytes], security: KafkaSecurity, metrics: IngestMetrics
) -> None:
    await check_kafka(args.kafka, security)
    producer = AIOKafkaProducer(
        bootstrap_servers=args.kafka, acks="all", enable_idempotence=True, linger_ms=5,
        max_request_size=args.max_event_bytes + PRODUCE_HEADROOM_BYTES, **security.aiokafka(),
    )  # fmt: skip
    await producer.start()
    runner = web.AppRunner(
        IngestApp(
            producer,
            args.topic,
            tokens,
            metrics,
            args.max_body_bytes,
            args.max_event_bytes,
            account_fields=_by_format(args.account_field),
            produce_timeout_s=args.produce_timeout,
        ).app()
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
        log.warning("ingest listening on http://%s:%d", args.host, args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()  # stops taking requests and finishes those in flight
        await producer.stop()
