"""Benchmark: the live worker's throughput against what a bare Python consumer can read.

    .venv/bin/python scripts/testenv.py -- .venv/bin/python bench/live_ratio.py \\
        [--events 100000] [--partitions 6] [--batch-size 500]

Simulates the `all` scenario, produces `--events` events to a fresh topic, then (1) drains it
with a bare aiokafka consumer that only `orjson.loads` each value: the ceiling for a Python
consumer on this machine; (2) runs `distillwatch worker` on the same topic (a fresh consumer
group and Redis prefix) and times it from its first counted event to its last. Prints both
rates and their ratio (issue 8's target: >= 0.6). Kafka and Redis come from the environment
(`DISTILLWATCH_KAFKA_BOOTSTRAP`, `DISTILLWATCH_REDIS_URL`), as scripts/testenv.py sets them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from streams.sim.scenarios import simulate
from tests.integration.harness import Topics, poll_until, produce, start_worker


async def bare_drain(bootstrap: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        enable_auto_commit=False, max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                if started is None:
                    started = time.perf_counter()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        assert started is not None
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def counted(metrics_url: str) -> float:
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        if line.startswith("distillwatch_events_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    bootstrap = os.environ.get("DISTILLWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    redis_url = os.environ.get("DISTILLWATCH_REDIS_URL", "redis://127.0.0.1:6390/0")
    topics = Topics.fresh()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topics.input, args.partitions, 1)])
    finally:
        admin.close()
    messages = []
    for line in simulate("all", hours=48, seed=3, benign_accounts=150).lines():
        messages.append((orjson.loads(line)["account_id"].encode(), line))
        if len(messages) == args.events:
            break
    produce(bootstrap, topics.input, messages)
    total = len(messages)
    ceiling = total / asyncio.run(bare_drain(bootstrap, topics.input, total))
    with tempfile.TemporaryDirectory() as folder:
        worker = start_worker(
            Path(folder), bootstrap, redis_url, topics, f"bench-{uuid.uuid4().hex[:6]}",
            f"bench-{uuid.uuid4().hex[:6]}", batch_size=args.batch_size,
        )  # fmt: skip
        url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
        try:
            poll_until(lambda: counted(url) > 0, "the worker's first batch", worker=worker)
            started = time.perf_counter()
            poll_until(lambda: counted(url) >= total, "every event", worker=worker, deadline_s=3600)
            rate = total / (time.perf_counter() - started)
        finally:
            worker.stop()
    print(
        f"{total:,} events, {args.partitions} partitions, batch {args.batch_size}: bare consumer "
        f"{ceiling:,.0f} events/s; worker {rate:,.0f} events/s; ratio {rate / ceiling:.3f}"
    )


if __name__ == "__main__":
    main()
