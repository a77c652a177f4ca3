"""The live worker: a faust agent that feeds Kafka batches through the DetectionPipeline.

Delivery contract (at-least-once, idempotent):
  1. take a batch without acking (`stream.noack_take`);
  2. run the pipeline: one Redis round trip for the windows, one for the incidents due, and two
     more for the alert ledger when rules cross (streams/alert_ledger.py);
     after delivery, one to report the batch judged (window_apply.lua, pending judgement);
  3. produce dead letters and alerts and wait for the broker's acknowledgement;
  4. confirm the alerts as sent in the ledger;
  5. only then ack the events, so faust commits their offsets.
A failure anywhere retries the whole batch with backoff; the partition waits (backpressure)
rather than skipping. Re-running a batch is safe: a batch not yet judged is applied again
from the state it started from (the same readings, so the same alerts); a judged one comes back
as duplicates, and an alert saved in the ledger but not confirmed is re-emitted under the same
alert_id (streams/alert_ledger.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import faust
import redis
from prometheus_client import REGISTRY, start_http_server

from detectors.adapters import FORMATS, adapter_for
from detectors.adapters.base import ADAPTER_REASONS
from detectors.decode import REASONS
from detectors.linkage import RULE_ID as LINKAGE_RULE_ID
from streams.alert_ledger import AlertLedger
from streams.config_loader import ConfigWatcher
from streams.consumer_lag import ConsumerLag
from streams.failures import RetryPolicy, retry_or_give_up
from streams.faust_patches import guard_uncommitted_gaps
from streams.kafka_admin import (
    DLQ_MAX_MESSAGE_BYTES,
    dlq_topic_config,
    ensure_topics,
    topic_max_message_bytes,
)
from streams.kafka_check import KafkaUnavailable, check_kafka_sync
from streams.kafka_security import KafkaSecurity
from streams.link_messages import LinkRecord, encode_records
from streams.linkage_store import RedisLinkage
from streams.linkage_worker import BAD_LINK_RECORD, LinkageHandler
from streams.metrics import Metrics, register_build_info
from streams.normalizer import GatewayNormalizer
from streams.outcome import BatchOutcome
from streams.pipeline import DetectionPipeline
from streams.redis_checks import RedisStateError, check_eviction_policy
from streams.redis_connect import connect_async
from streams.redis_store import RedisWindowStore
from streams.redis_timing import RoundTrips
from streams.state_sampler import StateSampler
from streams.topic_messages import send_alert, send_dead_letter

log = logging.getLogger(__name__)
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1048588  # a topic's max.message.bytes unless set
CONFIG_POLL_SECONDS = 5.0
LAG_PUBLISH_SECONDS = 5.0


class BatchHandler:
    """Processes one faust batch end to end: returns once the batch is delivered, or ends the
    process (`give_up`) when its failure can never succeed or has lasted too long."""

    def __init__(
        self,
        pipeline: DetectionPipeline,
        alerts_topic: Any,
        dlq_topic: Any,
        metrics: Metrics,
        *,
        retry: RetryPolicy | None = None,
        dlq_max_bytes: int = DLQ_MAX_MESSAGE_BYTES,
        give_up: Callable[[int], None] = os._exit,
        linkage_topic: Any = None,
    ) -> None:
        self.pipeline = pipeline
        self.linkage_topic = linkage_topic  # where link records go (pipeline.emit_links)
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.retry = retry or RetryPolicy()
        self.dlq_max_bytes = dlq_max_bytes
        self.give_up = give_up

    async def handle(self, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        self.metrics.batch_started.set(time.time())
        payloads = [e.value if isinstance(e.value, bytes) else b"" for e in events]
        sources = [(f"{e.message.topic}:{e.message.partition}", e.message.offset) for e in events]
        taken_at = time.time()  # every attempt judges event times against the same clock
        attempt = 0
        # What happened to the events is what the first attempt that got through the state
        # found: a retry finds them applied already (duplicates by offset). It is counted once,
        # when the batch is delivered. (An attempt that failed inside the state step left no
        # outcome; then the next one's is counted.)
        first: BatchOutcome | None = None
        while True:
            stage = "state"
            try:
                outcome = await self.pipeline.process(payloads, sources, taken_at, count=False)
                first = first or outcome
                stage = "produce"
                await self._deliver(events, payloads, outcome)
                stage = "confirm"
                await self.pipeline.confirm_sent(outcome)
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                attempt += 1
                await retry_or_give_up(
                    self.retry, error, attempt, started, stage, f"a batch of {len(events)}",
                    lambda stage, kind: self.metrics.state_errors.labels(stage, kind).inc(),
                    self.give_up,
                )  # fmt: skip
        self.pipeline.count(first or outcome)
        self.metrics.batch_started.set(0)
        self.metrics.last_success.set(time.time())
        self.metrics.batch_size.observe(len(events))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        if outcome.events:
            now = time.time()
            self.metrics.event_lag_seconds.set(now - max(e.timestamp for e in outcome.events))
            for event in outcome.events:
                self.metrics.event_delay_seconds.observe(now - event.timestamp)

    async def _deliver(
        self, events: Sequence[Any], payloads: Sequence[bytes], outcome: BatchOutcome
    ) -> None:
        pending = [
            await send_dead_letter(
                self.dlq_topic,
                events[letter.index].message,
                payloads[letter.index],
                letter.reason,
                letter.detail,
                self.dlq_max_bytes,
            )
            for letter in outcome.dead_letters
        ]
        pending += [await send_alert(self.alerts_topic, alert) for alert in outcome.alerts]
        if self.linkage_topic is not None:
            by_source: dict[str, list[LinkRecord]] = {}
            for record in outcome.link_records:
                by_source.setdefault(record.source, []).append(record)
            for source, records in by_source.items():
                pending.append(
                    await self.linkage_topic.send(
                        key=source.encode(), value=encode_records(records), force=True
                    )
                )
        if pending:
            await asyncio.gather(*pending)  # broker acknowledgements


async def consume_in_batches(
    stream: Any,
    handle: Callable[[Sequence[Any]], Awaitable[None]],
    size: int,
    within: float,
    lag: ConsumerLag | None = None,
) -> None:
    """Batches taken without acking, each acked once `handle` returned (it delivered them)."""
    async for events in stream.noack_take(size, within=within):
        await handle(events)
        for event in events:
            await stream.ack(event)
        if lag is not None:
            lag.processed(events)


def gateway_inputs(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(topic, format, account fields) of each --extra-input TOPIC=FORMAT[:FIELD,...]; refused
    (ValueError) if malformed, repeated, or one of the worker's own topics."""
    own = {args.input_topic, args.alerts_topic, args.dlq_topic, args.linkage_topic}
    inputs: list[tuple[str, str, list[str]]] = []
    for spec in args.extra_input:
        topic, _, rest = spec.partition("=")
        input_format, _, fields = rest.partition(":")
        if not topic or input_format not in FORMATS:
            raise ValueError(
                f"--extra-input {spec!r}: expected TOPIC=FORMAT[:FIELD,...], FORMAT one of "
                f"{', '.join(FORMATS)}"
            )
        if topic in own or topic in {name for name, _, _ in inputs}:
            raise ValueError(f"--extra-input {spec!r}: {topic} is already an input or output")
        inputs.append((topic, input_format, [f for f in fields.split(",") if f]))
    return inputs


def add_normalizer_agent(
    app: faust.App, topic_name: str, normalizer: GatewayNormalizer, args: argparse.Namespace,
    lag: ConsumerLag,
) -> None:  # fmt: skip
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")

    async def normalize(stream: Any) -> None:
        await consume_in_batches(stream, normalizer.handle, args.batch_size, args.batch_within, lag)

    # Named per topic: faust keys agents by name, and each gateway topic needs its own
    app.agent(topic, name=f"normalize-{topic_name}")(normalize)


def build_app(
    args: argparse.Namespace,
    watcher: ConfigWatcher,
    metrics: Metrics,
    kafka: KafkaSecurity | None = None,
) -> faust.App:
    guard_uncommitted_gaps()  # streams/faust_patches.py: no commit past an unacked event
    kafka = kafka or KafkaSecurity.from_args(args)
    datadir = args.data_dir or str(Path(tempfile.gettempdir()) / "distillwatch-faust")
    app = faust.App(
        args.app_id,
        broker=[f"kafka://{server}" for server in args.bootstrap.split(",")],
        broker_credentials=kafka.faust_credentials(),  # faust's consumer and producer
        store="memory://",
        datadir=datadir,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # How soon a crashed worker's partitions move to the others (the group coordinator
        # waits this long for its heartbeat); heartbeats at a third of it.
        broker_session_timeout=args.session_timeout,
        broker_heartbeat_interval=args.session_timeout / 3,
        producer_max_request_size=DLQ_MAX_MESSAGE_BYTES,
        producer_acks=-1,
        topic_allow_declare=False,
    )
    input_topic, alerts_topic, dlq_topic, linkage_topic = (
        app.topic(name, key_serializer="raw", value_serializer="raw")
        for name in (args.input_topic, args.alerts_topic, args.dlq_topic, args.linkage_topic)
    )
    prefix = watcher.current.state.key_prefix
    round_trips = RoundTrips(metrics.redis_seconds, metrics.redis_errors)
    store = RedisWindowStore.from_url(args.redis, key_prefix=prefix, round_trips=round_trips)
    lag = ConsumerLag(metrics.consumer_lag)
    metrics.last_success.set(time.time())  # the health check's clock starts with the worker
    # Cross-account clusters: on or off at start (a restart applies a change of
    # linkage.enabled; its thresholds reload hot).
    linking = watcher.current.linkage.enabled
    pipeline = DetectionPipeline(
        lambda: watcher.current, store, metrics, wall_clock=time.time, emit_links=linking
    )
    # Unreadable (no DescribeConfigs permission): assume Kafka's default, not the 10 MiB the
    # worker asks for when it creates the topic, so an oversized dead letter goes as a
    # reference instead of failing forever.
    dlq_limit = (
        topic_max_message_bytes(args.bootstrap, args.dlq_topic, kafka)
        or KAFKA_DEFAULT_MAX_MESSAGE_BYTES
    )
    handler = BatchHandler(
        pipeline,
        alerts_topic,
        dlq_topic,
        metrics,
        retry=RetryPolicy(transient_seconds=args.max_retry_seconds),
        dlq_max_bytes=min(dlq_limit, DLQ_MAX_MESSAGE_BYTES),
        linkage_topic=linkage_topic if linking else None,
    )

    @app.agent(input_topic)
    async def detect(stream: Any) -> None:
        await consume_in_batches(stream, handler.handle, args.batch_size, args.batch_within, lag)

    for topic_name, input_format, account_fields in gateway_inputs(args):
        adapter = adapter_for(input_format, account_fields or None)
        assert adapter is not None  # gateway_inputs admits adapted formats only
        normalizer = GatewayNormalizer(
            input_format, adapter, input_topic, dlq_topic, metrics,
            retry=RetryPolicy(transient_seconds=args.max_retry_seconds),
            dlq_max_bytes=min(dlq_limit, DLQ_MAX_MESSAGE_BYTES),
            max_event_bytes=watcher.current.max_event_bytes,
        )  # fmt: skip
        add_normalizer_agent(app, topic_name, normalizer, args, lag)

    if linking:
        linker = LinkageHandler(
            RedisLinkage(
                connect_async(args.redis),
                watcher.current.linkage,
                key_prefix=prefix,
                round_trips=round_trips,
            ),
            AlertLedger(store),
            lambda: watcher.current,
            alerts_topic,
            dlq_topic,
            metrics,
            give_up=os._exit,
            retry=RetryPolicy(transient_seconds=args.max_retry_seconds),
            dlq_max_bytes=min(dlq_limit, DLQ_MAX_MESSAGE_BYTES),
        )

        @app.agent(linkage_topic)
        async def link(stream: Any) -> None:
            await consume_in_batches(stream, linker.handle, args.batch_size, args.batch_within, lag)

    @app.timer(CONFIG_POLL_SECONDS)  # type: ignore[untyped-decorator]
    async def reload_config() -> None:
        watcher.maybe_reload()

    @app.timer(LAG_PUBLISH_SECONDS)  # type: ignore[untyped-decorator]
    async def publish_lag() -> None:
        lag.publish(app.consumer.assignment(), app.consumer.highwater)

    if args.state_sample_seconds > 0:
        sampler = StateSampler(connect_async(args.redis), prefix, args.state_sample_seconds)

        @app.timer(args.state_sample_seconds)  # type: ignore[untyped-decorator]
        async def sample_state() -> None:
            await sampler.tick(metrics)

    return app


def run_worker(args: argparse.Namespace) -> int:
    kafka = KafkaSecurity.from_args(args)  # refused settings raise, named, before any connection
    try:
        gateways = gateway_inputs(args)
    except ValueError as error:
        log.error("refusing to start: %s", error)
        return 2
    try:
        policy = check_eviction_policy(args.redis, allow_eviction=args.allow_eviction)
    except (RedisStateError, redis.RedisError) as error:
        log.error("refusing to start: %s", error)
        return 2
    log.info("Kafka at %s: %s", args.bootstrap, kafka.describe())
    try:
        check_kafka_sync(args.bootstrap, kafka)
    except KafkaUnavailable as error:
        log.error("refusing to start: %s", error)
        return 2
    if policy != "noeviction":
        log.warning("Redis maxmemory-policy is %s (allowed by --allow-eviction)", policy)
    metrics = Metrics.create(REGISTRY)
    register_build_info(REGISTRY, "worker")
    watcher = ConfigWatcher(
        args.config, on_reload=lambda result: metrics.config_reloads.labels(result=result).inc()
    )
    config = watcher.current
    metrics.prefill(
        [(rule.id, rule.severity) for rule in config.rules if rule.mode == "alert"]
        + ([(LINKAGE_RULE_ID, config.linkage.severity)] if config.linkage.enabled else []),
        [rule.id for rule in config.rules if rule.mode == "shadow"],
        sorted({*REASONS, *ADAPTER_REASONS, BAD_LINK_RECORD}),
        sorted({input_format for _, input_format, _ in gateways}),
    )
    if not args.no_create_topics:
        ensure_topics(
            args.bootstrap,
            {
                args.input_topic: {},
                **{topic: {} for topic, _, _ in gateways},
                args.alerts_topic: {},
                args.dlq_topic: dlq_topic_config(args.dlq_retention_hours),
                args.linkage_topic: {},
            },
            partitions=args.partitions,
            replication_factor=args.replication_factor,
            security=kafka,
        )
    start_http_server(args.metrics_port, addr=args.metrics_addr)
    log.warning("serving Prometheus metrics on %s:%d/metrics", args.metrics_addr, args.metrics_port)
    app = build_app(args, watcher, metrics, kafka)
    worker = faust.Worker(app, loglevel=logging.getLevelName(logging.getLogger().level).lower())
    worker.execute_from_commandline()
    return 0
