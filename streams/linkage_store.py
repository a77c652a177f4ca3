"""The cross-account stage's state: link records in, cluster reports out.

The per-account stage (streams/pipeline.py) turns each counted request into a `LinkEvent` and
groups them by account into `LinkRecord`s; the live worker produces the records to the linkage
topic, keyed by account, and its linkage agent applies them here (docs/linkage.md). Two
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
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgpack
import orjson
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
from streams.redis_connect import AsyncClient

RECORD_VERSION = 1


def _row(event: LinkEvent, no_values: Any) -> list[Any]:
    values = no_values if event.values is None else [list(v) for v in event.values]
    e = event
    return [e.offset, e.ts, e.output_tokens, e.prior_requests, e.prior_tokens, values]


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One counted request as the linkage stage sees it: numbers and fingerprints only."""

    offset: int  # in its source partition (0 without one)
    ts: float
    output_tokens: int
    prior_requests: int  # the account's requests in its longest window before this one
    prior_tokens: int  # ...and output tokens
    values: tuple[LinkValue, ...] | None  # its link values if extraction-shaped, else None


@dataclass(frozen=True, slots=True)
class LinkRecord:
    account: str
    source: str  # "topic:partition" of its events, "" without one
    events: tuple[LinkEvent, ...]

    def to_message(self) -> bytes:
        return orjson.dumps(
            {
                "v": RECORD_VERSION,
                "a": self.account,
                "s": self.source,
                "e": [_row(e, None) for e in self.events],
            }
        )

    @classmethod
    def from_message(cls, raw: bytes) -> LinkRecord:
        """Raises ValueError naming what is wrong (the worker dead-letters the message)."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise ValueError("not JSON") from error
        if not isinstance(doc, dict) or doc.get("v") != RECORD_VERSION:
            raise ValueError("not a link record of version 1")
        account, source, events = doc.get("a"), doc.get("s"), doc.get("e")
        if not isinstance(account, str) or not account or not isinstance(source, str):
            raise ValueError("account or source")
        if not isinstance(events, list):
            raise ValueError("events")
        parsed = []
        for event in events:
            if not (isinstance(event, list) and len(event) == 6):
                raise ValueError("event")
            offset, ts, tokens, prior_requests, prior_tokens, values = event
            if not isinstance(offset, int) or isinstance(offset, bool):
                raise ValueError("offset")
            numbers = (ts, tokens, prior_requests, prior_tokens)
            if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
                raise ValueError("event numbers")
            link_values: tuple[LinkValue, ...] | None = None
            if values is not None:
                if not isinstance(values, list) or not all(
                    isinstance(v, list)
                    and len(v) == 2
                    and v[0] in LINK_CLASSES
                    and isinstance(v[1], str)
                    for v in values
                ):
                    raise ValueError("link values")
                link_values = tuple((v[0], v[1]) for v in values)
            parsed.append(
                LinkEvent(
                    offset,
                    float(ts),
                    int(tokens),
                    int(prior_requests),
                    int(prior_tokens),
                    link_values,
                )
            )
        return cls(account, source, tuple(parsed))


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
            [[r.account, r.source, [_row(e, False) for e in r.events]] for r in records]
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
