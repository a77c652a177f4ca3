"""Benchmark: Redis bytes per account, with every detector of the catalogue on.

    .venv/bin/python bench/state_memory.py [--hours 24] [--accounts 400] [--scale-to 100000]
        [--redis redis://127.0.0.1:6390/0]

Simulates the `all` scenario (the benign population and every attack family) for `--hours`,
replays it through the pipeline on the Redis store, and reports `MEMORY USAGE` of each
account's state key: the median (the typical account), p90, p99 and the heaviest, for benign
and attack accounts, with the events each had. Then it copies the accounts' state keys (DUMP
and RESTORE, round robin) until `--scale-to` accounts hold state, and reports Redis's own
`used_memory` growth per account at that scale: the per-key overhead of Redis's dictionaries
and expiry table included, which MEMORY USAGE leaves out. Pipeline cost makes simulating
100,000 accounts' traffic take hours on this machine; their state is what is measured here.
Keys are deleted at the end. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import redis.asyncio as aioredis

from streams.config_loader import load_config
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from streams.replay import replay_file
from streams.sim.scenarios import simulate


def quantiles(values: list[int]) -> str:
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (
        f"median {statistics.median(ordered):,.0f}, p90 {at(0.9):,}, p99 {at(0.99):,}, "
        f"max {ordered[-1]:,}"
    )


async def used_memory(client: aioredis.Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--accounts", type=int, default=400, help="benign accounts")
    parser.add_argument("--scale-to", type=int, default=100_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6390/0")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sim = simulate("all", hours=args.hours, seed=args.seed, benign_accounts=args.accounts)
    label = {entry.account_id: entry.label for entry in sim.labels}
    events: collections.Counter[str] = collections.Counter()
    prefix = f"bench-mem-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(args.redis)
    store = RedisWindowStore.from_url(args.redis, key_prefix=prefix)
    config = load_config()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "events.jsonl"
            with path.open("wb") as handle:
                for line in sim.lines():
                    events[orjson.loads(line)["account_id"]] += 1
                    handle.write(line + b"\n")
            started = time.perf_counter()
            summary = await replay_file(path, DetectionPipeline(config, store), batch_size=1000)
            elapsed = time.perf_counter() - started
        print(
            f"{summary.events:,} events of {len(events):,} accounts over {args.hours:g} h "
            f"replayed on Redis in {elapsed:,.0f} s ({summary.events / elapsed:,.0f} events/s)"
        )
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*:state", count=1000)]
        sizes: dict[str, list[int]] = {"benign": [], "attack": []}
        counts: dict[str, list[int]] = {"benign": [], "attack": []}
        for key in keys:
            account = key.decode().split("{acct:")[1].split("}")[0]
            sizes[label[account]].append(await client.memory_usage(key) or 0)
            counts[label[account]].append(events[account])
        for kind in ("benign", "attack"):
            print(
                f"  {kind:6} {len(sizes[kind]):>5} accounts: bytes {quantiles(sizes[kind])}; "
                f"events {quantiles(counts[kind])}"
            )
        everyone = sizes["benign"] + sizes["attack"]
        print(
            f"  all    {len(everyone):>5} accounts: bytes {quantiles(everyone)}, "
            f"mean {statistics.mean(everyone):,.0f}"
        )

        before = await used_memory(client)
        copies = 0
        while len(keys) + copies < args.scale_to:
            pipe = client.pipeline(transaction=False)
            batch = [keys[(copies + i) % len(keys)] for i in range(1000)]
            for key in batch:
                pipe.dump(key)
            dumps = await pipe.execute()
            pipe = client.pipeline(transaction=False)
            for i, (key, dumped) in enumerate(zip(batch, dumps, strict=True)):
                copy = key.replace(b"{acct:", f"{{acct:c{copies + i}-".encode())
                pipe.restore(copy, 3600 * 1000, dumped)
            await pipe.execute()
            copies += len(batch)
        grown = await used_memory(client) - before
        print(
            f"  scaled to {len(keys) + copies:,} accounts: used_memory grew {grown:,} bytes for "
            f"{copies:,} copies, {grown / max(1, copies):,.0f} bytes per account "
            "(against the mean MEMORY USAGE above: the difference is Redis's per-key overhead)"
        )
    finally:
        await store.close()
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
