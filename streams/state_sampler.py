"""How much state the detector keeps in Redis: accounts tracked, clusters, active incidents,
and the memory of each kind of key, sampled every few minutes for the dashboards.

One worker at a time takes the sample (a lock key with the period as its TTL): it SCANs the
detector's keys once (every primary of a Redis Cluster), estimates each kind's memory from
`MEMORY USAGE` of a bounded sample of its keys, and stores the figures in one small hash.
Every worker then publishes that hash in its gauges, so all report the same figures and a
dashboard takes their `max`. The scan is incremental (SCAN, never KEYS) and reads numbers
only; no key name or value reaches a metric.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import msgpack
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from streams.metrics import Metrics
from streams.redis_connect import AsyncClient

log = logging.getLogger(__name__)
SAMPLE_KEYS_PER_KIND = 100
SCAN_COUNT = 1000
KINDS = ("account", "incident", "linkage")


@dataclass(frozen=True, slots=True)
class StateSample:
    taken_at: float
    accounts: int
    clusters: int
    incidents: int
    memory: dict[str, float]  # kind -> estimated bytes
    used_memory: float


def kind_of(key: str, prefix: str) -> str | None:
    """Which of the detector's kinds of key this is (None: not one the sample counts)."""
    if key.startswith(f"{prefix}:{{acct:"):
        if key.endswith(":state"):
            return "account"
        if ":alert:" in key:
            return "incident"
    elif key.startswith(f"{prefix}:{{cluster:") and ":alert:" in key:
        return "incident"
    elif key.startswith(f"{prefix}:{{{prefix}:lk}}"):
        return "linkage"
    return None


class StateSampler:
    def __init__(self, client: AsyncClient, key_prefix: str, period_seconds: float) -> None:
        self._redis = client
        self._prefix = key_prefix
        self._period = period_seconds
        self._lock_key = f"{key_prefix}:sampler:lock"
        self._sample_key = f"{key_prefix}:sampler:last"

    async def tick(self, metrics: Metrics) -> None:
        """Take the sample if no other worker holds this period, then publish the newest one.
        Any failure skips the tick (the gauges keep the last figures and their timestamp):
        a sample for the dashboards must never stop detection."""
        try:
            if await self._redis.set(self._lock_key, b"1", nx=True, ex=max(1, int(self._period))):
                await self._store(await self.take())
            sample = await self._load()
        except Exception as error:
            log.warning("state sample skipped: %s", error)
            return
        if sample is not None:
            publish(metrics, sample)

    async def take(self) -> StateSample:
        counts = dict.fromkeys(KINDS, 0)
        samples: dict[str, list[str]] = {kind: [] for kind in KINDS}
        async for raw in self._redis.scan_iter(match=f"{self._prefix}:*", count=SCAN_COUNT):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            kind = kind_of(key, self._prefix)
            if kind is None:
                continue
            counts[kind] += 1
            if len(samples[kind]) < SAMPLE_KEYS_PER_KIND:
                samples[kind].append(key)
        memory = {kind: await self._estimate(samples[kind], counts[kind]) for kind in KINDS}
        return StateSample(
            taken_at=time.time(),
            accounts=counts["account"],
            clusters=await self._clusters(),
            incidents=await self._active_incidents(),
            memory=memory,
            used_memory=await self._used_memory(),
        )

    async def _estimate(self, keys: list[str], count: int) -> float:
        if not keys:
            return 0.0
        sizes = [await self._redis.memory_usage(key) for key in keys]
        known = [size for size in sizes if size is not None]  # expired since the scan
        return sum(known) / len(known) * count if known else 0.0

    async def _active_incidents(self) -> int:
        total = 0
        async for raw in self._redis.scan_iter(match=f"{self._prefix}:{{due:*", count=SCAN_COUNT):
            total += int(await self._redis.zcard(raw))
        return total

    async def _clusters(self) -> int:
        """Clusters of two or more accounts in the newest linkage window (linkage_apply.lua
        keeps one row per root: its member count is the row's second field)."""
        tag = f"{self._prefix}:{{{self._prefix}:lk}}"
        newest = await self._redis.get(f"{tag}:newest")
        if newest is None:
            return 0
        clusters = 0
        async for _, raw in self._redis.hscan_iter(f"{tag}:w{int(newest)}:clusters"):
            if int(msgpack.unpackb(raw)[1]) > 1:
                clusters += 1
        return clusters

    async def _used_memory(self) -> float:
        if isinstance(self._redis, AsyncRedisCluster):
            per_node = await self._redis.info("memory", target_nodes=AsyncRedisCluster.PRIMARIES)
            return float(sum(info["used_memory"] for info in per_node.values()))
        info = await self._redis.info("memory")
        return float(info["used_memory"])

    async def _store(self, sample: StateSample) -> None:
        figures = [sample.taken_at, sample.accounts, sample.clusters, sample.incidents,
                   [sample.memory[kind] for kind in KINDS], sample.used_memory]  # fmt: skip
        # Kept a few periods: a worker still publishes the last figures if the sampler dies
        await self._redis.set(
            self._sample_key, msgpack.packb(figures), ex=max(4, int(self._period * 4))
        )

    async def _load(self) -> StateSample | None:
        raw = await self._redis.get(self._sample_key)
        if raw is None:
            return None
        taken_at, accounts, clusters, incidents, memory, used = msgpack.unpackb(raw)
        return StateSample(taken_at, accounts, clusters, incidents,
                           dict(zip(KINDS, memory, strict=True)), used)  # fmt: skip


def publish(metrics: Metrics, sample: StateSample) -> None:
    metrics.tracked_accounts.set(sample.accounts)
    metrics.tracked_clusters.set(sample.clusters)
    metrics.active_incidents.set(sample.incidents)
    for kind, size in sample.memory.items():
        metrics.state_memory_bytes.labels(kind=kind).set(size)
    metrics.redis_used_memory_bytes.set(sample.used_memory)
    metrics.state_sampled.set(sample.taken_at)
