"""Benchmark: the live cross-account stage (streams/linkage_store.py, Redis) at scale.

    .venv/bin/python bench/linkage_scale.py --redis redis://127.0.0.1:6390/0
        [--accounts 100000] [--campaign 25000] [--days 1] [--batch 500]

A day of traffic compressed in time, as link records (what the linkage agent reads): benign
accounts (median a few dozen requests a day, 5% of them extraction-shaped, with their own
templates over a few common sampling tuples and shared carrier and office networks) and one
hydra campaign of `--campaign` accounts at 26 requests a day, all extraction-shaped, spread over
sub-teams with their own templates, 200 /24s, 20 ASNs and payment methods shared by five
accounts. Reports link records applied per second (one agent, one Redis), the campaign's
accounts found, and `MEMORY USAGE` of the graph per account kept and per pair of values.
Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid

import redis.asyncio as aioredis

from detectors.config import LinkageConfig
from detectors.linkage import LinkValue
from streams.link_messages import LinkEvent, LinkRecord
from streams.linkage_store import RedisLinkage

DAY = 86400.0
T0 = 1_771_840_800.0


def benign_events(rng: random.Random, account: int, days: float) -> list[tuple[float, LinkEvent]]:
    n = max(1, int(rng.lognormvariate(3.0, 1.0) * days))  # median ~20 a day, a long tail
    office = rng.randrange(2000)
    events = []
    for k in range(n):
        ts = T0 + rng.random() * days * DAY
        values: tuple[LinkValue, ...] | None = None
        if rng.random() < 0.05:
            values = (
                ("sampling", f"{rng.choice((0x11, 0x12, 0x13, 0x21)):x}"),
                ("template", f"p{rng.getrandbits(48):x}"),
                ("template", f"s{rng.getrandbits(48):x}"),
                ("network", f"n10.{office // 250}.{office % 250}"),
                ("network", f"as{64500 + office % 300}"),
            )
        events.append((ts, LinkEvent(k, ts, 400, k, 400 * k, values)))
    return events


def campaign_events(rng: random.Random, account: int, days: float) -> list[tuple[float, LinkEvent]]:
    team = account % 50
    events = []
    for k in range(int(26 * days)):
        ts = T0 + rng.random() * days * DAY
        values = (
            ("sampling", f"{0x70 + team % 4:x}"),
            ("template", f"pteam{team}-{rng.randrange(4)}"),
            ("template", f"steam{team}"),
            ("network", f"n172.{account % 200}.0"),
            ("network", f"as{65000 + account % 20}"),
            ("payment", f"pm{account // 5}"),
        )
        events.append((ts, LinkEvent(k, ts, 900, k, 900 * k, values)))
    return events


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--campaign", type=int, default=25_000)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=500, help="events per agent batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    stream: list[tuple[float, str, LinkEvent]] = []
    campaign = set()
    for index in range(args.accounts):
        account = f"acct_{index:07d}"
        if index < args.campaign:
            campaign.add(account)
            made = campaign_events(rng, index, args.days)
        else:
            made = benign_events(rng, index, args.days)
        stream += [(ts, account, event) for ts, event in made]
    stream.sort(key=lambda item: item[0])
    signalled = sum(e.values is not None for _, _, e in stream)
    prefix = f"bench-link-{uuid.uuid4().hex[:6]}"
    client = aioredis.Redis.from_url(args.redis)
    settings = LinkageConfig()
    store = RedisLinkage(client, settings, key_prefix=prefix)
    keys = store.keys(int(T0 // settings.window_seconds))  # a day: one window
    named: set[str] = set()
    first_report = None
    started = time.perf_counter()
    for start in range(0, len(stream), args.batch):
        grouped: dict[str, list[LinkEvent]] = {}
        for _, account, event in stream[start : start + args.batch]:
            grouped.setdefault(account, []).append(event)
        records = [LinkRecord(a, "bench:0", tuple(events)) for a, events in grouped.items()]
        for report in await store.apply(records):
            named.update(report.members)
            if first_report is None:
                first_report = report.at - T0
    elapsed = time.perf_counter() - started
    total, values = 0, 0
    parts = {}
    for key in keys[:4]:
        parts[key.rsplit(":", 1)[-1]] = await client.memory_usage(key) or 0
    total = sum(parts.values())
    pairs = await client.hlen(keys[2])
    kept = await client.hlen(keys[1])
    async for key in client.scan_iter(match=f"{keys[4]}*", count=1000):
        total += await client.memory_usage(key) or 0
        values += 1
    print(
        f"{len(stream):,} events ({signalled:,} extraction-shaped) of {args.accounts:,} accounts "
        f"in {args.days:g} day(s), batches of {args.batch}: {elapsed:.1f} s -> "
        f"{len(stream) / elapsed:,.0f} events/s"
    )
    print(
        f"campaign accounts named: {len(named & campaign):,} of {len(campaign):,}; benign named: "
        f"{len(named - campaign)}; first report {first_report or 0:.0f} s into the day"
    )
    print(
        f"graph: {total / 2**20:.1f} MiB in Redis (MEMORY USAGE), {kept:,} accounts kept "
        f"({total / max(1, kept):,.0f} bytes each), {pairs:,} value pairs, {values} cluster sets"
    )
    print("by hash: " + ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in parts.items()))
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        await client.delete(key)
    await store.close()


if __name__ == "__main__":
    asyncio.run(main())
