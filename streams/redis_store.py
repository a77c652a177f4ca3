"""Redis WindowStore: Lua scripts, one round trip per batch, one key per account.

Keys for account `acct_42`, prefix `dw`, layout version `3f9a1c2e`:
  dw:{acct:acct_42}:L3f9a1c2e:state       string  the account's windows, offsets and recent
                                                  event keys, one MessagePack document
                                                  (format: streams/lua/window_apply.lua;
                                                  reader: streams/account_state.py)
  dw:{acct:acct_42}:L3f9a1c2e:pending     string  while a batch's events are applied and not yet
                                                  judged: the state before it, to start that
                                                  batch again from if it comes back (a crash
                                                  between the state write and the alert ledger)
  dw:{acct:acct_42}:alert:<rule id>       hash    v, doc, out: the alert ledger entry (version,
                                                  incident state, undelivered messages;
                                                  streams/alert_ledger.py); clusters' under
                                                  dw:{cluster:<id>}:alert:hydra_cluster
  dw:{due:<source>}:alerts                zset    ledger keys by the event time their incident
                                                  resolves, per source stream
  dw:models                               hash    model -> earliest event time (the registry)
The layout version (detectors/contract.py `StateLayout.version`) changes with the measures
and windows, so a new layout starts fresh keys and old ones expire unread.
Keys of an account share the hash tag `{acct:acct_42}`: one Redis Cluster slot. A batch groups
its events by account and sends one EVALSHA per account in a single non-transactional
pipeline: one network round trip, and four commands (GET and SET of the state and of the
pending judgement) per account inside; once what the batch produced was delivered
(`confirm_sent`), one more round trip deletes the pending judgements (`judged`).
TTL of the state = the longest window + its bucket + the tolerated consumer lag
(state.max_lag_seconds: windows run on event time, TTLs on the wall clock), refreshed on
write; inside it, buckets leave their window on event time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import msgpack
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import DataError, NoScriptError

from detectors.contract import BIN_KEY_STRIDE, StateLayout
from detectors.windows import WindowReading, WindowUpdate, window_specs
from streams.redis_connect import AsyncClient, connect_async
from streams.redis_timing import RoundTrips
from streams.store import (
    REGISTRY_START,
    AlertSave,
    AlertSchedule,
    StoredAlert,
    WindowStore,
    account_tag,
)


def _lua(name: str) -> str:
    return resources.files("streams").joinpath("lua", name).read_text(encoding="utf-8")


class RedisWindowStore(WindowStore):
    def __init__(
        self, client: AsyncClient, key_prefix: str = "dw", round_trips: RoundTrips | None = None
    ) -> None:
        self._redis = client
        self._prefix = key_prefix
        self._trips = round_trips or RoundTrips()
        self._sources = {
            name: _lua(f"{name}.lua")
            for name in ("window_apply", "alert_save", "alert_confirm", "models_note")
        }
        self._shas: dict[str, str] = {}

    async def _load_scripts(self) -> None:
        for name, source in self._sources.items():
            self._shas[name] = await self._trips.timed(
                "script_load", self._redis.script_load(source)
            )

    def _pipeline(self) -> Any:
        """One round trip, not a transaction: a cluster pipeline routes each command by slot."""
        if isinstance(self._redis, AsyncRedisCluster):
            return self._redis.pipeline()
        return self._redis.pipeline(transaction=False)

    async def _run(
        self, calls: Sequence[tuple[str, list[str], Sequence[int | float | str | bytes]]]
    ) -> list[Any]:
        """EVALSHA each call in one pipeline: one round trip. Scripts are loaded once; after a
        Redis restart (NOSCRIPT) they are reloaded and the whole batch re-run, which is safe
        because every script is idempotent for a batch it has already applied."""
        if not self._shas:
            await self._load_scripts()
        for attempt in (1, 2):
            # A cluster pipeline routes each call by its keys (one slot per account); redis-py
            # blocks its evalsha() there, not the command itself.
            pipe = self._pipeline()
            for name, keys, args in calls:
                pipe.execute_command("EVALSHA", self._shas[name], len(keys), *keys, *args)
            try:
                return list(await self._trips.timed(calls[0][0], pipe.execute()))
            except NoScriptError:
                if attempt == 2:
                    raise
                await self._load_scripts()
        raise AssertionError("unreachable")

    @classmethod
    def from_url(
        cls, url: str, key_prefix: str = "dw", round_trips: RoundTrips | None = None
    ) -> RedisWindowStore:
        """A single server, a Redis Cluster or a Sentinel primary (streams/redis_connect.py)."""
        return cls(connect_async(url), key_prefix=key_prefix, round_trips=round_trips)

    def account_keys(self, account_id: str, layout: StateLayout) -> list[str]:
        """The account's state and its pending judgement (streams/lua/window_apply.lua)."""
        base = f"{self._prefix}:{{{account_tag(account_id)}}}:L{layout.version}"
        return [f"{base}:state", f"{base}:pending"]

    async def apply(
        self,
        updates: Sequence[WindowUpdate],
        layout: StateLayout,
        dedupe_horizon_seconds: int,
        max_lag_seconds: int = 0,
        resend_horizon_seconds: int | None = None,
    ) -> list[WindowReading]:
        if not updates:
            return []
        windows = window_specs(layout)
        by_account: dict[str, list[int]] = {}
        for index, update in enumerate(updates):
            by_account.setdefault(update.account_id, []).append(index)
        state_ttl = (
            max([dedupe_horizon_seconds, *(w.ttl_seconds for w in windows)]) + max_lag_seconds
        )
        header: list[int | float | str] = [
            dedupe_horizon_seconds,
            len(windows),
            len(layout.sums),
            len(layout.bins),
            state_ttl,
            BIN_KEY_STRIDE,
            dedupe_horizon_seconds if resend_horizon_seconds is None else resend_horizon_seconds,
        ]
        for w in windows:
            header += [w.bucket_seconds, w.n_buckets]
        calls: list[tuple[str, list[str], list[int | float | str | bytes]]] = []
        for account_id, indices in by_account.items():
            events = [
                (u.event_key, u.source, u.offset, u.timestamp, u.sums, u.bin_keys)
                for u in (updates[i] for i in indices)
            ]
            try:
                packed = msgpack.packb(events)
            except (OverflowError, TypeError) as error:
                # The decoder bounds every number, so this is a bug upstream: refused whole,
                # before any write, and permanent (streams/failures.py).
                raise DataError(f"distillwatch: bad argument: {error}") from error
            calls.append(("window_apply", self.account_keys(account_id, layout), [*header, packed]))
        replies = await self._run(calls)
        readings: list[WindowReading | None] = [None] * len(updates)
        width = layout.width
        stride = 1 + len(windows) * width
        for (_, indices), reply in zip(by_account.items(), replies, strict=True):
            values = msgpack.unpackb(reply)
            for position, i in enumerate(indices):
                row = position * stride
                readings[i] = WindowReading(
                    values[row],
                    tuple(
                        tuple(values[row + 1 + w * width : row + 1 + (w + 1) * width])
                        for w in range(len(windows))
                    ),
                )
        return [r for r in readings if r is not None]

    async def judged(self, account_ids: Sequence[str], layout: StateLayout) -> None:
        if not account_ids:
            return
        pipe = self._pipeline()
        for account_id in account_ids:
            pipe.delete(self.account_keys(account_id, layout)[1])
        await self._trips.timed("judged", pipe.execute())

    async def note_models(self, seen: Mapping[str, float]) -> dict[str, float]:
        if not seen:
            return {}
        args: list[int | float | str] = []
        for model, ts in seen.items():
            args += [model, repr(ts)]
        (reply,) = await self._run([("models_note", [f"{self._prefix}:models"], args)])
        values = [float(v) for v in reply]
        return {**dict(zip(seen, values, strict=False)), REGISTRY_START: values[-1]}

    def alert_key(self, key_tag: str, rule_id: str) -> str:
        return f"{self._prefix}:{super().alert_key(key_tag, rule_id)}"

    def _due_key(self, source: str) -> str:
        return f"{self._prefix}:{{due:{source}}}:alerts"

    async def load_alerts(self, keys: Sequence[str]) -> list[StoredAlert | None]:
        if not keys:
            return []
        pipe = self._pipeline()
        for key in keys:
            pipe.hmget(key, ["v", "doc", "out"])
        return [
            None if version is None or doc is None else StoredAlert(int(version), doc, out or b"")
            for version, doc, out in await self._trips.timed("load_alerts", pipe.execute())
        ]

    async def save_alerts(self, saves: Sequence[AlertSave]) -> list[bool]:
        if not saves:
            return []
        replies = await self._run(
            [
                (
                    "alert_save",
                    [save.key],
                    [save.expected_version, save.doc, save.outbox, save.ttl_seconds],
                )
                for save in saves
            ]
        )
        return [int(reply) == 1 for reply in replies]

    async def due_alerts(self, clocks: Mapping[str, float], limit: int) -> list[str]:
        if not clocks:
            return []
        pipe = self._pipeline()
        for source, now in clocks.items():
            pipe.zrangebyscore(self._due_key(source), "-inf", repr(now), start=0, num=limit)
        found = await self._trips.timed("due_alerts", pipe.execute())
        return [key.decode() for keys in found for key in keys]

    async def confirm_alerts(
        self, delivered: Sequence[tuple[str, int]], schedules: Sequence[AlertSchedule]
    ) -> None:
        if delivered:
            await self._run([("alert_confirm", [key], [version]) for key, version in delivered])
        if schedules:
            # Hints, not state: the ledger reads the entry before acting on one, so a schedule
            # written apart from the entry (another slot) can never be wrong, only late.
            pipe = self._pipeline()
            for schedule in schedules:
                if schedule.due is None:
                    pipe.zrem(self._due_key(schedule.source), schedule.key)
                else:
                    pipe.zadd(self._due_key(schedule.source), {schedule.key: schedule.due})
            await self._trips.timed("alert_schedule", pipe.execute())

    async def close(self) -> None:
        await self._redis.aclose()
