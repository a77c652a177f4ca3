"""Send simulated events to Kafka (key = account_id), optionally paced to a rate."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaProducer


def send_events(
    events: Iterable[dict[str, Any]],
    bootstrap: str,
    topic: str,
    rate_per_second: float | None = None,
) -> int:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, compression_type=None
    )
    sent = 0
    started = time.monotonic()
    try:
        for event in events:
            producer.send(topic, key=event["account_id"].encode(), value=orjson.dumps(event))
            sent += 1
            if rate_per_second:
                ahead = sent / rate_per_second - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)  # pacing a load generator to its target rate
        producer.flush(timeout=120)
    finally:
        producer.close()
    return sent
