"""Benchmark: the live worker's throughput against what a bare Python consumer can read.

    .venv/bin/python scripts/testenv.py -- .venv/bin/python bench/live_ratio.py \\
        [--events 100000] [--partitions 6] [--batch-size 500] [--workers 1]

Simulates the `all` scenario, produces `--events` events to a fresh topic, then (1) drains it
with a bare aiokafka consumer that only `orjson.loads` each value: the ceiling for a Python
consumer on this machine; (2) runs `--workers` `distillwatch worker` processes on the same
topic (one fresh consumer group and Redis prefix) and times them from the first counted event
to the last (`--no-linkage`: without the cross-account stage, the linkage agent that shares
the workers' CPU). Prints both rates and their ratio (issue 8's target: >= 0.6). The events/s of 1
and 2 workers on a 12-partition topic: `--partitions 12 --workers 1`, then `--workers 2`.
Kafka and Redis come from the environment (`DISTILLWATCH_KAFKA_BOOTSTRAP`,
`DISTILLWATCH_REDIS_URL`), as scripts/testenv.py sets them.
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
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
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


def fresh_input_topic(bootstrap: str, partitions: int) -> Topics:
    """Fresh topic names, the input topic created with `partitions` partitions."""
    topics = Topics.fresh()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topics.input, partitions, 1)])
    finally:
        admin.close()
    return topics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--no-linkage", action="store_true", help="the workers without the cross-account stage"
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("DISTILLWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    redis_url = os.environ.get("DISTILLWATCH_REDIS_URL", "redis://127.0.0.1:6390/0")
    topics = fresh_input_topic(bootstrap, args.partitions)
    messages = []
    for line in simulate("all", hours=48, seed=3, benign_accounts=150).lines():
        messages.append((orjson.loads(line)["account_id"].encode(), line))
        if len(messages) == args.events:
            break
    produce(bootstrap, topics.input, messages)
    total = len(messages)
    ceiling = total / asyncio.run(bare_drain(bootstrap, topics.input, total))
    group, prefix = f"bench-{uuid.uuid4().hex[:6]}", f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as folder:
        workers = [
            start_worker(
                Path(folder),
                bootstrap,
                redis_url,
                topics,
                group,
                prefix,
                args.batch_size,
                linkage=not args.no_linkage,
            )
            for _ in range(args.workers)
        ]
        urls = [f"http://127.0.0.1:{w.metrics_port}/metrics" for w in workers]

        def counted_by_all() -> float:
            return sum(counted(url) for url in urls)

        try:
            # Every worker up and the group settled: the first counted event starts the clock.
            poll_until(lambda: counted_by_all() > 0, "the first batch", worker=workers[0])
            started = time.perf_counter()
            poll_until(
                lambda: counted_by_all() >= total,
                "every event",
                worker=workers[0],
                deadline_s=3600,
            )
            rate = total / (time.perf_counter() - started)
        finally:
            for worker in workers:
                worker.stop()
    print(
        f"{total:,} events, {args.partitions} partitions, {args.workers} worker(s), "
        f"batch {args.batch_size}: bare consumer "
        f"{ceiling:,.0f} events/s; worker {rate:,.0f} events/s; ratio {rate / ceiling:.3f}"
    )


if __name__ == "__main__":
    main()
