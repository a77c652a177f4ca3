"""The live worker: a faust agent that feeds Kafka batches through the DetectionPipeline.

Delivery contract (at-least-once, idempotent):
  1. take a batch without acking (`stream.noack_take`);
  2. run the pipeline: one Redis round trip for the windows, one more only when alerts fire;
  3. produce dead letters and alerts and wait for the broker's acknowledgement;
  4. confirm the alerts as sent in the ledger;
  5. only then ack the events, so faust commits their offsets.
A failure anywhere retries the whole batch with backoff; the partition waits (backpressure)
rather than skipping. Re-running a batch is safe: applied events come back as duplicates and
an alert claimed but not confirmed is re-emitted under the same alert_id.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
import orjson
import redis
from prometheus_client import REGISTRY, start_http_server

from streams.config_loader import ConfigWatcher
from streams.kafka_admin import DLQ_MAX_MESSAGE_BYTES, ensure_topics
from streams.metrics import Metrics
from streams.pipeline import BatchOutcome, DetectionPipeline
from streams.redis_checks import RedisStateError, check_eviction_policy
from streams.redis_store import RedisWindowStore

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 5.0
CONFIG_POLL_SECONDS = 5.0


class BatchHandler:
    """Processes one faust batch end to end; never returns until the batch is delivered."""

    def __init__(
        self, pipeline: DetectionPipeline, alerts_topic: Any, dlq_topic: Any, metrics: Metrics
    ) -> None:
        self.pipeline = pipeline
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic
        self.metrics = metrics

    async def handle(self, events: Sequence[Any]) -> None:
        started = time.perf_counter()
        payloads = [e.value if isinstance(e.value, bytes) else b"" for e in events]
        attempt = 0
        while True:
            stage = "state"
            try:
                outcome = await self.pipeline.process(payloads)
                stage = "produce"
                await self._deliver(events, payloads, outcome)
                stage = "confirm"
                await self.pipeline.confirm_sent(outcome)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                self.metrics.state_errors.labels(stage=stage).inc()
                delay = min(MAX_BACKOFF_SECONDS, 0.1 * 2 ** min(attempt, 6))
                log.exception(
                    "batch of %d failed at %s (attempt %d); retrying in %.1fs",
                    len(events),
                    stage,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)  # backoff before retrying the same batch
        self.metrics.batch_size.observe(len(events))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        if outcome.events:
            self.metrics.event_lag_seconds.set(
                time.time() - max(e.timestamp for e in outcome.events)
            )

    async def _deliver(
        self, events: Sequence[Any], payloads: Sequence[bytes], outcome: BatchOutcome
    ) -> None:
        pending = []
        for letter in outcome.dead_letters:
            message = events[letter.index].message
            headers = [
                ("dw-reason", letter.reason.encode()),
                ("dw-detail", letter.detail.encode()),
                ("dw-source-topic", str(message.topic).encode()),
                ("dw-source-partition", str(message.partition).encode()),
                ("dw-source-offset", str(message.offset).encode()),
            ]
            pending.append(
                await self.dlq_topic.send(
                    key=message.key, value=payloads[letter.index], headers=headers, force=True
                )
            )
        for alert in outcome.alerts:
            pending.append(
                await self.alerts_topic.send(
                    key=alert["dedup_key"].encode(), value=orjson.dumps(alert), force=True
                )
            )
        if pending:
            await asyncio.gather(*pending)  # broker acknowledgements


def build_app(args: argparse.Namespace, watcher: ConfigWatcher, metrics: Metrics) -> faust.App:
    datadir = args.data_dir or str(Path(tempfile.gettempdir()) / "distillwatch-faust")
    app = faust.App(
        args.app_id,
        broker=[f"kafka://{server}" for server in args.bootstrap.split(",")],
        store="memory://",
        datadir=datadir,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_max_request_size=DLQ_MAX_MESSAGE_BYTES,
        producer_acks=-1,
        topic_allow_declare=False,
    )
    input_topic, alerts_topic, dlq_topic = (
        app.topic(name, key_serializer="raw", value_serializer="raw")
        for name in (args.input_topic, args.alerts_topic, args.dlq_topic)
    )
    store = RedisWindowStore.from_url(args.redis, key_prefix=watcher.current.state.key_prefix)
    pipeline = DetectionPipeline(lambda: watcher.current, store, metrics, wall_clock=time.time)
    handler = BatchHandler(pipeline, alerts_topic, dlq_topic, metrics)

    @app.agent(input_topic)
    async def detect(stream: Any) -> None:
        async for events in stream.noack_take(args.batch_size, within=args.batch_within):
            await handler.handle(events)
            for event in events:
                await stream.ack(event)

    @app.timer(CONFIG_POLL_SECONDS)  # type: ignore[untyped-decorator]
    async def reload_config() -> None:
        watcher.maybe_reload()

    return app


def run_worker(args: argparse.Namespace) -> int:
    try:
        policy = check_eviction_policy(args.redis, allow_eviction=args.allow_eviction)
    except (RedisStateError, redis.RedisError) as error:
        log.error("refusing to start: %s", error)
        return 2
    if policy != "noeviction":
        log.warning("Redis maxmemory-policy is %s (allowed by --allow-eviction)", policy)
    metrics = Metrics.create(REGISTRY)
    watcher = ConfigWatcher(
        args.config, on_reload=lambda result: metrics.config_reloads.labels(result=result).inc()
    )
    if not args.no_create_topics:
        ensure_topics(
            args.bootstrap,
            {
                args.input_topic: {},
                args.alerts_topic: {},
                args.dlq_topic: {"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)},
            },
            partitions=args.partitions,
        )
    start_http_server(args.metrics_port, addr=args.metrics_addr)
    log.warning("serving Prometheus metrics on %s:%d/metrics", args.metrics_addr, args.metrics_port)
    app = build_app(args, watcher, metrics)
    worker = faust.Worker(app, loglevel=logging.getLevelName(logging.getLogger().level).lower())
    worker.execute_from_commandline()
    return 0
