"""Gateway topics into the worker's input: each record of a topic in a gateway's format (LiteLLM,
OTLP JSON, Kong) mapped to events v1 and produced to the input topic, keyed by account.

Detection relies on one account's events arriving in order on one input partition: its state,
its pending judgement and its incidents assume it (docs/operations.md). Gateway topics are not
keyed by account: Kong's kafka-log and the Collector's Kafka exporter key nothing (the
exporter keys by trace at best, with `partition_traces_by_id`), and one OTLP export or LiteLLM
batch holds many accounts. So a gateway topic is never read by the detection
agent itself. A normaliser agent (`--extra-input TOPIC=FORMAT`) re-keys its events onto the
input topic, as `distillwatch ingest` does for pushed records, and its offsets are committed
only once every event and dead letter is acknowledged. A batch retried after a failure
produces its events again, and the event ids make the copies duplicates downstream.

A record that does not map goes to the dead-letter topic once, as it was read, with its
first reason in `dw-reason` and every rejection in `dw-detail`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from detectors.adapters.base import Adapter, Rejected
from detectors.decode import DEFAULT_MAX_EVENT_BYTES
from streams.adapted_input import expand
from streams.failures import RetryPolicy, retry_or_give_up
from streams.kafka_admin import DLQ_MAX_MESSAGE_BYTES
from streams.metrics import Metrics
from streams.topic_messages import send_dead_letter

MAX_DETAIL_CHARS = 1000


def rejection_detail(rejections: Sequence[Rejected]) -> str:
    """Every rejection of one record, for the dead letter's `dw-detail` (bounded)."""
    parts = [f"record {why.index}: {why.reason}: {why.detail}" for why in rejections]
    text = "; ".join(parts)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


class GatewayNormalizer:
    def __init__(
        self,
        input_format: str,
        adapter: Adapter,
        input_topic: Any,
        dlq_topic: Any,
        metrics: Metrics,
        *,
        retry: RetryPolicy | None = None,
        dlq_max_bytes: int = DLQ_MAX_MESSAGE_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        give_up: Callable[[int], None] = os._exit,
    ) -> None:
        self.input_format = input_format
        self.adapter = adapter
        self.input_topic = input_topic  # faust topic of events v1, keyed by account
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.retry = retry or RetryPolicy()
        self.dlq_max_bytes = dlq_max_bytes
        self.max_event_bytes = max_event_bytes
        self.give_up = give_up

    async def handle(self, events: Sequence[Any]) -> None:
        records = [e.value if isinstance(e.value, bytes) else b"" for e in events]
        expanded = expand(self.adapter, records, self.max_event_bytes)
        letters = expanded.rejected_by_record()
        started, attempt = time.perf_counter(), 0
        while True:
            try:
                pending = [
                    await self.input_topic.send(key=key, value=payload, force=True)
                    for payload, key in zip(expanded.payloads, expanded.keys, strict=True)
                ]
                for origin, rejections in letters.items():
                    pending.append(
                        await send_dead_letter(
                            self.dlq_topic,
                            events[origin].message,
                            records[origin],
                            rejections[0].reason,
                            rejection_detail(rejections),
                            self.dlq_max_bytes,
                        )
                    )
                if pending:
                    await asyncio.gather(*pending)  # broker acknowledgements
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                attempt += 1
                await retry_or_give_up(
                    self.retry, error, attempt, started, "normalize",
                    f"a batch of {len(events)} {self.input_format} records",
                    lambda stage, kind: self.metrics.state_errors.labels(stage, kind).inc(),
                    self.give_up,
                )  # fmt: skip
        counted = self.metrics.normalized
        counted.labels(format=self.input_format, outcome="event").inc(len(expanded.payloads))
        # Mapped and unmapped counted alike, one by one (a message may hold many records, an
        # export many spans), so their ratio is the share of calls lost to detection; the
        # dead letters, one per message, are counted by reason below
        counted.labels(format=self.input_format, outcome="dead_letter").inc(len(expanded.rejected))
        counted.labels(format=self.input_format, outcome="skipped").inc(expanded.skipped)
        for rejections in letters.values():
            self.metrics.dead_letters.labels(reason=rejections[0].reason).inc()
