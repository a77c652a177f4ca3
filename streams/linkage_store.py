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
    ClusterTotals,
    LinkageGraph,
    LinkValue,
    top_shared,
)
from streams.link_messages import LinkEvent, LinkRecord, event_row
from streams.redis_connect import AsyncClient
from streams.redis_timing import RoundTrips


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


def split_by_window(
    records: Sequence[LinkRecord], window_seconds: int
) -> list[tuple[int, list[LinkRecord]]]:
    """The records by window of event time (floor(ts / window)), in ascending windows; within a
    window the records keep their order, each with its events of that window: both stores
    apply them in this order, so reports do not depend on how records are grouped in calls."""
    windows: dict[int, list[LinkRecord]] = {}
    for record in records:
        parts: dict[int, list[LinkEvent]] = {}
        for event in record.events:
            parts.setdefault(int(event.ts // window_seconds), []).append(event)
        for window, events in parts.items():
            windows.setdefault(window, []).append(
                LinkRecord(record.account, record.source, tuple(events))
            )
    return sorted(windows.items())


class MemoryLinkage(LinkageStore):
    """The reference graphs in memory, one per window of event time, with the offsets that
    make a redelivery a no-op."""

    def __init__(self, settings: LinkageConfig) -> None:
        self.settings = settings
        self._graphs: dict[int, LinkageGraph] = {}
        self._newest: int | None = None
        # (window, account, source) -> highest offset applied
        self._offsets: dict[tuple[int, str, str], int] = {}

    @property
    def windows(self) -> list[int]:
        """The windows whose graphs are kept (the newest and the one before, if it had any)."""
        return sorted(self._graphs)

    def _graph(self, window: int) -> LinkageGraph:
        graph = self._graphs.get(window)
        if graph is None:
            s = self.settings
            graph = self._graphs[window] = LinkageGraph(
                s.min_members, s.min_signal_share, s.growth, s.refresh_seconds,
                previous=lambda: self._graphs.get(window - 1),
            )  # fmt: skip
        return graph

    def apply_now(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        reports = []
        for window, grouped in split_by_window(records, self.settings.window_seconds):
            if self._newest is not None and window < self._newest - 1:
                continue  # older than the graphs kept: not linked
            if self._newest is None or window > self._newest:
                self._newest = window
                for old in [w for w in self._graphs if w < window - 1]:
                    del self._graphs[old]
                self._offsets = {k: v for k, v in self._offsets.items() if k[0] >= window - 1}
            graph = self._graph(window)
            for record in grouped:
                key = (window, record.account, record.source)
                for e in record.events:
                    if record.source and e.offset <= self._offsets.get(key, -1):
                        continue  # applied before: a redelivery
                    report = graph.observe(
                        record.account, e.ts, e.values or (), e.values is not None,
                        e.output_tokens, e.prior_requests, e.prior_tokens,
                    )  # fmt: skip
                    if report is not None:
                        reports.append(report)
                    if record.source and graph.knows(record.account):
                        self._offsets[key] = e.offset
        return reports

    async def apply(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        return self.apply_now(records)

    async def cluster_totals(self) -> list[ClusterTotals]:
        return sorted(t for graph in self._graphs.values() for t in graph.cluster_totals())


def _lua() -> str:
    return resources.files("streams").joinpath("lua", "linkage_apply.lua").read_text("utf-8")


class RedisLinkage(LinkageStore):
    """The graphs in Redis, shared by every worker: one script call per window of event time in
    a batch, atomic, on one hash tag (`{<prefix>:lk}`): the union-find needs the whole graph in
    one place. A window's keys expire two windows and a day after its last record, so the
    previous window's graph is there while the next one fills."""

    def __init__(
        self,
        client: AsyncClient,
        settings: LinkageConfig,
        key_prefix: str = "dw",
        round_trips: RoundTrips | None = None,
    ) -> None:
        self._redis = client
        self._trips = round_trips or RoundTrips()
        self.settings = settings  # the worker sets it per batch (hot reload)
        self._source = _lua()
        self._sha: str | None = None
        self._tag = f"{key_prefix}:{{{key_prefix}:lk}}"

    def keys(self, window: int) -> list[str]:
        """The window's parent, accounts, pairs and clusters hashes, and its set prefix."""
        base = f"{self._tag}:w{window}"
        return [f"{base}:parent", f"{base}:accounts", f"{base}:pairs", f"{base}:clusters",
                f"{base}:"]  # fmt: skip

    async def apply(self, records: Sequence[LinkRecord]) -> list[ClusterReport]:
        reports: list[ClusterReport] = []
        s = self.settings
        for window, grouped in split_by_window(records, s.window_seconds):
            before = self.keys(window - 1)
            keys = [*self.keys(window), before[0], before[3], f"{self._tag}:newest"]
            args: list[Any] = [
                s.min_members, repr(s.min_signal_share), repr(s.growth), s.refresh_seconds,
                MAX_ACCOUNT_VALUES, 2 * s.window_seconds + 86400, msgpack.packb(list(LINK_CLASSES)),
                msgpack.packb(
                    [[r.account, r.source, [event_row(e, False) for e in r.events]]
                     for r in grouped]
                ),
                window,
            ]  # fmt: skip
            reports += self._reports(await self._call(keys, args))
        return reports

    async def _call(self, keys: list[str], args: list[Any]) -> Any:
        for attempt in (1, 2):
            if self._sha is None:
                self._sha = await self._trips.timed(
                    "script_load", self._redis.script_load(self._source)
                )
            try:
                return await self._trips.timed(
                    "linkage_apply", self._redis.evalsha(self._sha, len(keys), *keys, *args)
                )
            except NoScriptError:  # Redis restarted: load again, once
                self._sha = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _reports(raw: bytes) -> list[ClusterReport]:
        reports = []
        for row in msgpack.unpackb(raw):
            cid, members, requests, signalled, tokens, shared, first, last, at, minutes = row
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
                    int(minutes),
                )
            )
        return reports

    async def cluster_totals(self) -> list[ClusterTotals]:
        newest = await self._redis.get(f"{self._tag}:newest")
        if newest is None:
            return []
        totals = []
        for window in (int(newest) - 1, int(newest)):
            clusters, prefix = self.keys(window)[3], self.keys(window)[4]
            for root, raw in (await self._redis.hgetall(clusters)).items():
                _, n, requests, signalled, tokens, first, last, *_ = msgpack.unpackb(raw)
                if n > 1:
                    name = root.decode() if isinstance(root, bytes) else root
                    minutes = await self._redis.scard(f"{prefix}t:{name}")
                    totals.append(
                        (n, requests, signalled, tokens, float(first), float(last), minutes)
                    )
        return sorted(totals)

    async def close(self) -> None:
        await self._redis.aclose()
