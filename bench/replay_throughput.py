"""Benchmark: replay throughput of the embedded pipeline (in-memory store, or --redis URL).

    .venv/bin/python bench/replay_throughput.py [--hours 24] [--accounts 1000]
        [--min-prompt-bytes 1024] [--record-risk] [--redis redis://127.0.0.1:6390/0]

Simulates the `all` scenario (benign population plus every attack family) for the given
hours, pads every prompt to at least `--min-prompt-bytes` of real corpus text (the target is
stated for 1 KB prompts; simulated prompts average less), then replays it `--runs` times and
reports the best events/s. `--record-risk` measures what `backtest --report` runs (per-event
risk kept for the plots). Results and the machine they ran on go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis

from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from streams.replay import replay_file
from streams.runtime import tune_gc_for_throughput
from streams.sim.corpus import load_corpus
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


async def redis_command_calls(redis_url: str) -> int:
    """Commands the server has run so far (every command a script calls counts)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        stats = await client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
    finally:
        await client.aclose()


def prompt_bytes(request: dict[str, Any]) -> int:
    parts = [request.get("system") or "", request.get("prompt") or ""]
    parts += [m.get("content") or "" for m in request.get("messages") or []]
    return sum(len(part.encode("utf-8")) for part in parts)


def pad_prompts(lines: Iterable[bytes], min_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Each event's last message (or legacy prompt) grown to >= min_bytes of prompt text;
    yields the line and its prompt bytes."""
    filler = " ".join(load_corpus().hard_queries)  # ASCII-dominated: ~1 byte per character
    for index, line in enumerate(lines):
        event = orjson.loads(line)
        request = event.setdefault("request", {})
        missing = min_bytes - prompt_bytes(request)
        if missing > 0:
            start = (index * 7919) % (len(filler) - min_bytes)
            pad = " " + filler[start : start + missing]
            messages = request.get("messages") or []
            if messages:
                messages[-1]["content"] = (messages[-1].get("content") or "") + pad
            else:
                request["prompt"] = (request.get("prompt") or "") + pad
        yield orjson.dumps(event), prompt_bytes(request)


async def one_run(
    path: Path, redis_url: str | None, batch_size: int, record_risk: bool
) -> tuple[int, float]:
    config = load_config()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    store: WindowStore = (
        RedisWindowStore.from_url(redis_url, key_prefix=prefix)
        if redis_url
        else MemoryWindowStore()
    )
    calls_before = await redis_command_calls(redis_url) if redis_url else 0
    try:
        pipeline = DetectionPipeline(config, store, record_risk=record_risk)
        summary = await replay_file(path, pipeline, batch_size=batch_size)
    finally:
        await store.close()
    if redis_url:
        calls = await redis_command_calls(redis_url) - calls_before
        accounts, per_account = await redis_bytes_per_account(redis_url, prefix)
        print(
            f"  redis state: {accounts} accounts, {per_account / 1024:,.1f} KiB per account "
            f"({summary.events / max(1, accounts):,.0f} events per account); "
            f"{calls / max(1, summary.events):,.1f} Redis commands per event "
            "(INFO commandstats: the scripts' own commands included)"
        )
    return summary.events, summary.elapsed_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--redis")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=1000, help="benign accounts")
    parser.add_argument("--min-prompt-bytes", type=int, default=1024)
    parser.add_argument("--record-risk", action="store_true", help="as backtest --report does")
    args = parser.parse_args()
    tune_gc_for_throughput()  # as the distillwatch command does
    sim = simulate("all", hours=args.hours, seed=1, benign_accounts=args.accounts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        prompt_total = 0
        with path.open("wb") as handle:
            for line, size in pad_prompts(sim.lines(), args.min_prompt_bytes):
                prompt_total += size
                handle.write(line + b"\n")
        size_mb = path.stat().st_size / 1e6
        results = [
            asyncio.run(one_run(path, args.redis, args.batch_size, args.record_risk))
            for _ in range(args.runs)
        ]
    count, best = min(results, key=lambda r: r[1])
    store = f"redis {args.redis}" if args.redis else "memory"
    print(
        f"{count:,} events ({size_mb:.1f} MB, mean prompt {prompt_total / count:,.0f} bytes), "
        f"store={store}, batch={args.batch_size}, record_risk={args.record_risk}: "
        f"best of {args.runs} = {best:.2f} s -> {count / best:,.0f} events/s"
    )


if __name__ == "__main__":
    main()
