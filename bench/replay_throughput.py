"""Benchmark: replay throughput of the embedded pipeline (in-memory store, or --redis URL).

    .venv/bin/python bench/replay_throughput.py [--hours 24] [--redis redis://127.0.0.1:6390/0]

Simulates the `all` scenario (benign population plus every attack family) for the given
hours, then replays it three times and reports the
best events/s. Results and the machine they ran on go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from streams.replay import replay_file
from streams.runtime import tune_gc_for_throughput
from streams.sim.scenarios import simulate
from streams.store import WindowStore


async def redis_bytes_per_account(redis_url: str, prefix: str) -> tuple[int, float]:
    """Accounts under a prefix and their mean MEMORY USAGE over all their keys (then deleted)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        total, accounts = 0, set()
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            total += await client.memory_usage(key) or 0
            accounts.add(key.split(b"}")[0])
            await client.delete(key)
        return len(accounts), total / max(1, len(accounts))
    finally:
        await client.aclose()


async def one_run(path: Path, redis_url: str | None, batch_size: int) -> tuple[int, float]:
    config = load_config()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    store: WindowStore = (
        RedisWindowStore.from_url(redis_url, key_prefix=prefix)
        if redis_url
        else MemoryWindowStore()
    )
    try:
        summary = await replay_file(path, DetectionPipeline(config, store), batch_size=batch_size)
    finally:
        await store.close()
    if redis_url:
        accounts, per_account = await redis_bytes_per_account(redis_url, prefix)
        print(
            f"  redis state: {accounts} accounts, {per_account / 1024:,.1f} KiB per account "
            f"({summary.events / max(1, accounts):,.0f} events per account)"
        )
    return summary.events, summary.elapsed_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--redis")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=1000, help="benign accounts")
    args = parser.parse_args()
    tune_gc_for_throughput()  # as the distillwatch command does
    sim = simulate("all", hours=args.hours, seed=1, benign_accounts=args.accounts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("wb") as handle:
            for line in sim.lines():
                handle.write(line + b"\n")
        size_mb = path.stat().st_size / 1e6
        results = [
            asyncio.run(one_run(path, args.redis, args.batch_size)) for _ in range(args.runs)
        ]
    count, best = min(results, key=lambda r: r[1])
    store = f"redis {args.redis}" if args.redis else "memory"
    print(
        f"{count:,} events ({size_mb:.1f} MB), store={store}, batch={args.batch_size}: "
        f"best of {args.runs} = {best:.2f} s -> {count / best:,.0f} events/s"
    )


if __name__ == "__main__":
    main()
