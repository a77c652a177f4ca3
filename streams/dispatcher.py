"""The alert dispatcher: delivers the alerts topic to each configured sink, a durable outbox.

`distillwatch dispatch --sinks config/sinks.yaml` runs one Kafka consumer per enabled sink,
each in its own consumer group (`<group prefix>-<sink name>`), so a receiver that is down
holds back only its own sink, never detection and never the other sinks. Per sink, in topic
order, for each alert:
  1. skipped if the sink does not want it (severity, rules) or already delivered it or a
     later state change of the same incident (`SinkCursor`: a worker re-sends a batch's
     alerts after a crash; a dispatcher restarts from its last commit);
  2. delivered with retries, exponential backoff and jitter (streams/sinks/delivery.py); past
     the sink's horizon, or at once for an error that can never succeed, parked on the parked
     topic with the sink and the reason in headers, and counted;
  3. recorded in the cursor, then its offset committed.
A crash between 2 and 3 delivers that one alert again on restart (at least once; receivers
deduplicate on `dedup_key` and, for webhooks, on `webhook-id`).

Alertmanager expects active alerts to be re-sent: the cursor keeps each Alertmanager sink's
active alerts in Redis (firing and updated in, resolved out), and a task re-posts them every
`resend_seconds` to every instance, with an `endsAt` a few intervals ahead, so an alert
resolves by itself in Alertmanager if distillwatch stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY, start_http_server

from detectors.alerts import transition_of
from streams.kafka_check import KafkaUnavailable, check_kafka
from streams.kafka_security import PLAINTEXT, KafkaSecurity, add_kafka_security_args
from streams.metrics import register_build_info
from streams.redis_connect import AsyncClient, connect_async
from streams.sinks.alertmanager import AlertmanagerSink
from streams.sinks.base import DeliveryError, Sink, incident_step
from streams.sinks.build import build_sinks
from streams.sinks.config import AlertmanagerSinkConfig, SinksConfig, load_sinks_config
from streams.sinks.delivery import DeliveryResult, RetrySchedule, deliver_with_retry
from streams.sinks.metrics import SinkMetrics

log = logging.getLogger(__name__)
DEFAULT_GROUP_PREFIX = "distillwatch-sink"
CURSOR_TTL_SECONDS = 8 * 86400  # an incident's last delivered step is remembered this long
# An active alert not seen for this long has left the ledger unresolved (a partition that fell
# silent: docs/alerting.md): the dispatcher stops re-sending it.
ACTIVE_AT_MOST_SECONDS = 8 * 86400
POLL_MS = 1000
POLL_SLACK_S = 300  # beyond a sink's retry horizon, before its consumer counts as stuck
MAX_RECORDS = 100
BAD_ALERT = "bad_alert"


class SinkCursor:
    """What one sink has delivered, in Redis: per dedup_key the last incident step (so a copy
    or an older step is skipped), and for Alertmanager the active alerts to re-send."""

    def __init__(self, client: AsyncClient, key_prefix: str, sink_name: str) -> None:
        self._redis = client
        self._base = f"{key_prefix}:{{sink:{sink_name}}}"

    def _step_key(self, dedup_key: str) -> str:
        return f"{self._base}:step:{dedup_key}"

    async def delivered(self, alert: Mapping[str, Any]) -> bool:
        """True if this step, or a later one of the same incident key, was delivered."""
        known = await self._redis.get(self._step_key(str(alert["dedup_key"])))
        if known is None:
            return False
        text = known.decode() if isinstance(known, bytes) else str(known)
        started, sequence = text.split("|")
        return incident_step(alert) <= (float(started), int(sequence))

    async def record(self, alert: Mapping[str, Any], keep_active: bool) -> None:
        started, sequence = incident_step(alert)
        dedup_key = str(alert["dedup_key"])
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._step_key(dedup_key), f"{started!r}|{sequence}", ex=CURSOR_TTL_SECONDS)
        if keep_active:
            if alert.get("status") == "resolved":
                pipe.hdel(f"{self._base}:active", dedup_key)
            else:
                pipe.hset(f"{self._base}:active", dedup_key, orjson.dumps(alert))
        await pipe.execute()

    async def active_one(self, dedup_key: str) -> dict[str, Any] | None:
        stored = await self._redis.hget(f"{self._base}:active", dedup_key)
        return None if stored is None else dict(orjson.loads(stored))

    async def active(self, now: float) -> list[dict[str, Any]]:
        """The active alerts, without those last seen more than ACTIVE_AT_MOST_SECONDS ago
        (their incident can no longer be in the ledger: dropped here, so Alertmanager ends
        them at their endsAt instead of being told forever that they fire)."""
        stored = await self._redis.hgetall(f"{self._base}:active")
        alerts, stale = [], []
        for key, value in sorted(stored.items()):
            alert = orjson.loads(value)
            seen = alert.get("last_seen_at") or alert.get("changed_at") or alert["fired_at"]
            if now - datetime.fromisoformat(str(seen)).timestamp() > ACTIVE_AT_MOST_SECONDS:
                stale.append(key)
            else:
                alerts.append(alert)
        if stale:
            await self._redis.hdel(f"{self._base}:active", *stale)
        return alerts


class SinkDispatcher:
    """Consumes the alerts topic for one sink and delivers it (see the module docstring)."""

    def __init__(
        self,
        sink: Sink,
        consumer: Any,
        producer: Any,
        cursor: SinkCursor,
        parked_topic: str,
        metrics: SinkMetrics,
        schedule: RetrySchedule | None = None,
    ) -> None:
        self.sink = sink
        self.consumer = consumer
        self.producer = producer
        self.cursor = cursor
        self.parked_topic = parked_topic
        self.metrics = metrics
        self.schedule = schedule or RetrySchedule.from_config(sink.delivery)
        self.keep_active = isinstance(sink, AlertmanagerSink)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
            for partition, records in batches.items():
                for record in records:
                    await self.handle(record)
                    await self.consumer.commit({partition: record.offset + 1})

    async def handle(self, record: Any) -> None:
        try:
            alert = orjson.loads(record.value)
            if not isinstance(alert, dict):
                raise ValueError("an alert is a JSON object")
            incident_step(alert)
            transition_of(alert)
        except (ValueError, KeyError, TypeError) as error:
            detail = f"{type(error).__name__}: {error}"
            await self._park(
                record, DeliveryResult("parked", self.sink.name, "", 0, 0.0, BAD_ALERT, detail)
            )
            return
        if not self.sink.wants(alert):
            self.metrics.skipped.labels(self.sink.name, "filtered").inc()
            return
        if await self.cursor.delivered(alert):
            self.metrics.skipped.labels(self.sink.name, "delivered").inc()
            return
        if isinstance(self.sink, AlertmanagerSink):
            previous = await self.cursor.active_one(str(alert["dedup_key"]))
            if previous is not None:  # after a restart: what this incident last posted
                self.sink.remember(previous)
        result = await deliver_with_retry(self.sink, alert, self.schedule)
        if result.outcome == "parked":
            await self._park(record, result)
        await self.cursor.record(alert, self.keep_active)

    async def _park(self, record: Any, result: DeliveryResult) -> None:
        if result.reason == BAD_ALERT and result.attempts == 0:  # never tried: count it here
            self.metrics.deliveries.labels(self.sink.name, "parked").inc()
        log.warning(
            "sink %s: alert %s parked after %d attempt(s): %s %s",
            self.sink.name, result.alert_id or "(unreadable)", result.attempts, result.reason,
            result.detail,
        )  # fmt: skip
        headers = [
            ("dw-sink", self.sink.name.encode()),
            ("dw-reason", (result.reason or "").encode()),
            ("dw-detail", result.detail[:1000].encode()),
            ("dw-attempts", str(result.attempts).encode()),
            ("dw-source-partition", str(record.partition).encode()),
            ("dw-source-offset", str(record.offset).encode()),
        ]
        await self.producer.send_and_wait(
            self.parked_topic, value=record.value, key=record.key, headers=headers
        )


async def refresh_forever(
    sink: AlertmanagerSink, cursor: SinkCursor, every: float, stop: asyncio.Event
) -> None:
    """Re-post a sink's active alerts every `every` seconds until `stop`."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        if stop.is_set():
            return
        try:
            await sink.refresh(await cursor.active(time.time()))
        except DeliveryError as error:
            log.warning("sink %s: re-sending active alerts failed: %s", sink.name, error)
        except Exception:
            log.exception("sink %s: re-sending active alerts failed", sink.name)


async def dispatch(
    config: SinksConfig,
    bootstrap: str,
    redis_url: str,
    *,
    alerts_topic: str,
    parked_topic: str,
    group_prefix: str = DEFAULT_GROUP_PREFIX,
    key_prefix: str = "dw",
    start_at: str = "earliest",
    metrics: SinkMetrics | None = None,
    stop: asyncio.Event | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Run every enabled sink's dispatcher until `stop` is set. Raises KafkaUnavailable at
    once if the brokers refuse the connection (credentials, certificates)."""
    stop = stop or asyncio.Event()
    metrics = metrics or SinkMetrics.noop()
    await check_kafka(bootstrap, security)
    redis = connect_async(redis_url)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **security.aiokafka()
    )
    await producer.start()
    resend_seconds = {
        sink.name: sink.resend_seconds
        for sink in config.enabled
        if isinstance(sink, AlertmanagerSinkConfig)
    }
    consumers: list[AIOKafkaConsumer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        async with aiohttp.ClientSession() as session:
            for sink in build_sinks(config, session, metrics):
                consumer = AIOKafkaConsumer(
                    alerts_topic,
                    bootstrap_servers=bootstrap,
                    group_id=f"{group_prefix}-{sink.name}",
                    enable_auto_commit=False,
                    auto_offset_reset=start_at,
                    # One alert may be retried up to the sink's horizon between two polls: the
                    # group must not give its partitions away meanwhile (another member would
                    # deliver the same alert again).
                    max_poll_interval_ms=int(1000 * (sink.delivery.horizon_seconds + POLL_SLACK_S)),
                    **security.aiokafka(),
                )
                await consumer.start()
                consumers.append(consumer)
                cursor = SinkCursor(redis, key_prefix, sink.name)
                dispatcher = SinkDispatcher(sink, consumer, producer, cursor, parked_topic, metrics)
                tasks.append(asyncio.create_task(dispatcher.run(stop), name=sink.name))
                if isinstance(sink, AlertmanagerSink):
                    every = resend_seconds[sink.name]
                    tasks.append(asyncio.create_task(refresh_forever(sink, cursor, every, stop)))
            log.info("dispatching %s to %s", alerts_topic, ", ".join(t.get_name() for t in tasks))
            await _until_stopped_or_failed(tasks, stop)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
        await redis.aclose()


async def _until_stopped_or_failed(
    tasks: Sequence[asyncio.Task[None]], stop: asyncio.Event
) -> None:
    """Return when `stop` is set; raise the first task's failure (the process then exits and
    its supervisor restarts it: the consumer resumes from its last commit)."""
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stopper.cancel()


def add_dispatch_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dispatch", help="deliver the alerts topic to the configured sinks (one group per sink)"
    )
    parser.add_argument("--sinks", required=True, help="sinks file (config/sinks.yaml)")
    parser.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap servers")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    parser.add_argument("--alerts-topic", default="extraction-alerts")
    parser.add_argument("--parked-topic", default="extraction-alerts.parked")
    parser.add_argument("--group-prefix", default=DEFAULT_GROUP_PREFIX)
    parser.add_argument("--key-prefix", default="dw", help="Redis key prefix (as the worker's)")
    parser.add_argument(
        "--start-at",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a sink with no committed offset starts (earliest: lose nothing)",
    )
    parser.add_argument("--metrics-port", type=int, default=0, help="0: no metrics endpoint")
    add_kafka_security_args(parser)
    parser.set_defaults(func=cmd_dispatch)
    return parser


def cmd_dispatch(args: argparse.Namespace) -> int:
    security = KafkaSecurity.from_args(args)
    config = load_sinks_config(args.sinks)
    if not config.enabled:
        log.error("%s: no enabled sink", args.sinks)
        return 2
    metrics = SinkMetrics.create(REGISTRY)
    metrics.prefill(
        [sink.name for sink in config.enabled],
        [sink.name for sink in config.enabled if isinstance(sink, AlertmanagerSinkConfig)],
    )
    register_build_info(REGISTRY, "dispatcher")
    if args.metrics_port:
        start_http_server(args.metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await dispatch(
            config, args.kafka, args.redis,
            alerts_topic=args.alerts_topic, parked_topic=args.parked_topic,
            group_prefix=args.group_prefix, key_prefix=args.key_prefix,
            start_at=args.start_at, metrics=metrics, stop=stop, security=security,
        )  # fmt: skip

    started = time.monotonic()
    try:
        asyncio.run(main())
    except KafkaUnavailable as error:
        log.error("refusing to start: %s", error)
        return 2
    log.info("dispatcher stopped after %.0f s", time.monotonic() - started)
    return 0
