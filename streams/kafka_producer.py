"""Send simulated events to Kafka (key = account_id), optionally paced to a rate."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from kafka import KafkaProducer

from streams.kafka_check import check_kafka_sync
from streams.kafka_security import PLAINTEXT, KafkaSecurity


def send_lines(
    events: Iterable[tuple[float, bytes]],
    bootstrap: str,
    topic: str,
    rate_per_second: float | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> int:
    """Produce (event time, JSON) pairs; the key is the event's account_id. Raises
    KafkaUnavailable first if the brokers refuse the connection."""
    check_kafka_sync(bootstrap, security)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, **security.kafka_python()
    )
    sent = 0
    started = time.monotonic()
    try:
        for _, line in events:
            account = orjson.loads(line)["account_id"]
            producer.send(topic, key=account.encode(), value=line)
            sent += 1
            if rate_per_second:
                ahead = sent / rate_per_second - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)  # pacing a load generator to its target rate
        producer.flush(timeout=120)
    finally:
        producer.close()
    return sent
