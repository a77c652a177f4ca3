"""The worker's batch handler: what a retried batch leaves in the metrics.

The sinks here are stand-ins for the Kafka topics (their delivery is what fails); the real
topics are exercised in tests/integration/test_worker_failures.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from streams.config_loader import load_config
from streams.failures import RetryPolicy
from streams.memory_store import MemoryWindowStore
from streams.metrics import Metrics
from streams.pipeline import DetectionPipeline
from streams.worker import BatchHandler
from tests.helpers import ROOT, make_event


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass
class Event:
    value: bytes
    message: Message


class Sink:
    """Accepts sends; the first `failures` of them fail as a broker that is away would."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[bytes] = []
        self.headers: list[dict[str, bytes]] = []

    async def send(
        self, *, key: bytes | None, value: bytes, headers: Any = (), **_: Any
    ) -> asyncio.Future[None]:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker away")
        self.sent.append(value)
        self.headers.append(dict(headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_batch_retried_after_a_failed_delivery_is_counted_once() -> None:
    """The first attempt applies the events to the state, then its dead letter cannot be
    delivered; the retry finds them applied (duplicates by offset). The metrics must say what
    happened to the events, once: applied, not applied and then duplicated."""
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    pipeline = DetectionPipeline(
        load_config(ROOT / "config" / "detectors.yaml"), MemoryWindowStore(), metrics
    )
    payloads = [orjson.dumps(make_event("acct_retry", 1_771_840_800.0 + i)) for i in range(5)]
    payloads.append(b"{not json")
    batch = [Event(p, Message("requests", 0, i)) for i, p in enumerate(payloads)]
    dlq = Sink(failures=1)
    handler = BatchHandler(
        pipeline, Sink(), dlq, metrics, retry=RetryPolicy(max_backoff_seconds=0.01)
    )
    await handler.handle(batch)
    assert dlq.sent == [b"{not json"]

    def counted(outcome: str) -> float | None:
        return registry.get_sample_value("distillwatch_events_total", {"outcome": outcome})

    assert counted("applied") == 5
    assert counted("duplicate") == 0
    assert counted("dead_letter") == 1
    assert (
        registry.get_sample_value(
            "distillwatch_batch_retries_total", {"stage": "produce", "kind": "transient"}
        )
        == 1
    )
