"""Benchmark: Redis bytes an account's dedupe state takes at a high request rate.

    .venv/bin/python bench/dedupe_memory.py [--redis redis://127.0.0.1:6390/0] [--rate 10]

Applies one hour of an account's events at `--rate` requests/s (read from one Kafka partition:
each carries its offset) through the window script, once keeping event keys for the whole
dedupe horizon (3600 s, as before offsets were recorded) and once for the default resend
horizon, and prints MEMORY USAGE of the account's state (one key: its windows, offsets and
recent event keys) and how many event keys it holds. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import redis.asyncio as aioredis

from detectors.config import StateConfig
from detectors.contract import StateLayout, Sum
from detectors.windows import WindowUpdate
from streams.account_state import decode_account_state
from streams.redis_store import RedisWindowStore

LAYOUT = StateLayout.from_measures([Sum("input_tokens")], [("1h", 3600, 300)])
T0 = 1_771_840_800.0


async def measure(client: aioredis.Redis, rate: float, resend: int) -> tuple[int, int, int]:
    """MEMORY USAGE of the state, event keys in it, highest offset recorded."""
    prefix = f"bench-dedupe-{uuid.uuid4().hex[:8]}"
    store = RedisWindowStore(client, key_prefix=prefix)
    total = int(3600 * rate)
    for start in range(0, total, 1000):
        updates = [
            WindowUpdate("heavy", uuid.uuid4().hex[:16], T0 + i / rate, (1, 5), (), "t:0", i)
            for i in range(start, min(total, start + 1000))
        ]
        await store.apply(updates, LAYOUT, 3600, 0, resend)
        await store.judged(["heavy"], LAYOUT)  # as the pipeline does after each batch
    (key,) = [k async for k in client.scan_iter(match=f"{prefix}*:state")]
    state = decode_account_state(await client.get(key))
    sizes = (await client.memory_usage(key) or 0, len(state.seen), max(state.offsets.values()))
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    return sizes


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6390/0")
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    client = aioredis.Redis.from_url(args.redis)
    try:
        for resend in (3600, StateConfig().resend_horizon_seconds):
            size, keys, offset = await measure(client, args.rate, resend)
            print(
                f"event keys kept {resend:>5} s: account state {size:>10,} bytes "
                f"({keys:,} event keys, offsets up to {offset:,})"
            )
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
