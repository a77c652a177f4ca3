"""The cross-account stage's state: link records in, cluster reports out.

The per-account stage (streams/pipeline.py) turns each counted request into a `LinkEvent` and
groups them by account into `LinkRecord`s; the live worker produces the records to the linkage
topic (streams/link_messages.py), and its linkage agent applies them here (docs/linkage.md). Two
implementations give identical reports for the same records (tests/conformance): in memory
(detectors/linkage.py's LinkageGraph: replay and backtest) and in Redis
(streams/lua/linkage_apply.lua: the live workers, sharing one graph).

Exactly once: each event carries its Kafka offset, and the graph keeps, per account and source,
the highest applied: a redelivered event (the same offset again, whatever record brings it) is
skipped.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from importlib import resources
from typing import Any

import msgpack
from redis.exceptions import NoScriptError

from detectors.config import LinkageConfig
from detectors.linkage import (
    LINK_CLASSES,
    MAX_ACCOUNT_VALUES,
    ClusterReport,
    LinkageGraph,
    LinkValue,
    top_shared,
)
from streams.link_messages import LinkRecord, event_row
from streams.redis_connect import AsyncClient

ClusterTotals = tuple[int, int, int, int, float, float]  # members, requests, signalled, tokens,
# first and last seen


class LinkageStore(abc.ABC):
    @abc.abstractmethod
    async def apply(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        """Apply the records in order; the reports of the clusters they made due, in order."""

    @abc.abstractmethod
    async def cluster_totals(self) -> list[ClusterTotals]:
        """Every cluster of two or more accounts, sorted: what the stream added up to, whatever
        its order and batches (names and report times depend on the order; these do not)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryLinkage(LinkageStore):
    """The reference graph in memory, with the offsets that make a redelivery a no-op."""

    def __init__(self, settings: LinkageConfig) -> None:
        self.graph = LinkageGraph(
            settings.min_members,
            settings.min_signal_share,
            settings.growth,
            settings.refresh_seconds,
        )
        self._offsets: dict[tuple[str, str], int] = {}  # (account, source) -> highest applied

    def apply_now(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        reports = []
        graph = self.graph
        for record in records:
            key = (record.account, record.source)
            for e in record.events:
                if record.source and e.offset <= self._offsets.get(key, -1):
                    continue  # applied before: a redelivery
                report = graph.observe(
                    record.account,
                    e.ts,
                    e.values or (),
                    e.values is not None,
                    e.output_tokens,
                    e.prior_requests,
                    e.prior_tokens,
                )
                if report is not None:
                    reports.append(report)
                if record.source and graph.knows(record.account):
                    self._offsets[key] = e.offset
        return reports

    async def apply(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        return self.apply_now(records)

    async def cluster_totals(self) -> list[ClusterTotals]:
        return self.graph.cluster_totals()


def _lua() -> str:
    return resources.files("streams").joinpath("lua", "linkage_apply.lua").read_text("utf-8")


class RedisLinkage(LinkageStore):
    """The graph in Redis, shared by every worker: one script call per batch, atomic, on one
    hash tag (`{<prefix>:lk}`): the union-find needs the whole graph in one place. Its keys
    expire `ttl_seconds` after the last record that touched the graph."""

    def __init__(
        self,
        client: AsyncClient,
        settings: LinkageConfig,
        key_prefix: str = "dw",
        ttl_seconds: int = 8 * 86400,
    ) -> None:
        self._redis = client
        self.settings = settings  # the worker sets it per batch (hot reload)
        self._source = _lua()
        self._sha: str | None = None
        tag = f"{key_prefix}:{{{key_prefix}:lk}}"
        self.keys = [
            f"{tag}:parent",
            f"{tag}:accounts",
            f"{tag}:pairs",
            f"{tag}:clusters",
            f"{tag}:",
        ]
        self._ttl = ttl_seconds

    async def apply(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        if not records:
            return []
        s = self.settings
        packed = msgpack.packb(
            [[r.account, r.source, [event_row(e, False) for e in r.events]] for r in records]
        )
        args: list[Any] = [
            s.min_members,
            repr(s.min_signal_share),
            repr(s.growth),
            s.refresh_seconds,
            MAX_ACCOUNT_VALUES,
            self._ttl,
            msgpack.packb(list(LINK_CLASSES)),
            packed,
        ]
        for attempt in (1, 2):
            if self._sha is None:
                self._sha = await self._redis.script_load(self._source)
            try:
                raw = await self._redis.evalsha(self._sha, len(self.keys), *self.keys, *args)
                break
            except NoScriptError:  # Redis restarted: load again, once
                self._sha = None
                if attempt == 2:
                    raise
        reports = []
        for cid, members, requests, signalled, tokens, shared, first, last, at in msgpack.unpackb(
            raw
        ):
            pairs: list[tuple[LinkValue, int]] = []
            for name, count in shared:
                cls, _, value = name.partition("\t")
                pairs.append(((cls, value), int(count)))
            reports.append(
                ClusterReport(
                    cid,
                    tuple(sorted(members)),
                    int(requests),
                    int(signalled),
                    int(tokens),
                    top_shared(pairs),
                    float(first),
                    float(last),
                    float(at),
                )
            )
        return reports

    async def cluster_totals(self) -> list[ClusterTotals]:
        totals = []
        for raw in (await self._redis.hgetall(self.keys[3])).values():
            _, n, requests, signalled, tokens, first, last, *_ = msgpack.unpackb(raw)
            if n > 1:
                totals.append((n, requests, signalled, tokens, float(first), float(last)))
        return sorted(totals)

    async def close(self) -> None:
        await self._redis.aclose()
