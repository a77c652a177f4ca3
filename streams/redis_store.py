"""Redis WindowStore: Lua scripts, one round trip per batch, one key per account.

Keys for account `acct_42`, prefix `dw`, layout version `3f9a1c2e`:
  dw:{acct:acct_42}:L3f9a1c2e:state       string  the account's windows, offsets and recent
                                                  event keys, one MessagePack document
                                                  (format: streams/lua/window_apply.lua;
                                                  reader: streams/account_state.py)
  dw:{acct:acct_42}:L3f9a1c2e:pending     string  while a batch's events are applied and not yet
                                                  judged: the state before it, to start that
                                                  batch again from if it comes back (a crash
                                                  between the state write and the claims)
  dw:{acct:acct_42}:alert:<rule id>       hash    id, ts, sent (alert ledger; not versioned)
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
from streams.store import (
    PENDING,
    REGISTRY_START,
    AlertClaim,
    ClaimResult,
    WindowStore,
    account_tag,
)


def _lua(name: str) -> str:
    return resources.files("streams").joinpath("lua", name).read_text(encoding="utf-8")


class RedisWindowStore(WindowStore):
    def __init__(
        self, client: AsyncClient, key_prefix: str = "dw", claim_ttl_seconds: int = 7 * 86400
    ) -> None:
        self._redis = client
        self._prefix = key_prefix
        self._claim_ttl = claim_ttl_seconds
        self._sources = {
            name: _lua(f"{name}.lua")
            for name in ("window_apply", "alert_claim", "alert_confirm", "models_note")
        }
        self._shas: dict[str, str] = {}

    async def _load_scripts(self) -> None:
        for name, source in self._sources.items():
            self._shas[name] = await self._redis.script_load(source)

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
                return list(await pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
                await self._load_scripts()
        raise AssertionError("unreachable")

    @classmethod
    def from_url(cls, url: str, key_prefix: str = "dw") -> RedisWindowStore:
        """A single server, a Redis Cluster or a Sentinel primary (streams/redis_connect.py)."""
        return cls(connect_async(url), key_prefix=key_prefix)

    def account_keys(self, account_id: str, layout: StateLayout) -> list[str]:
        """The account's state and its pending judgement (streams/lua/window_apply.lua)."""
        base = f"{self._prefix}:{{{account_tag(account_id)}}}:L{layout.version}"
        return [f"{base}:state", f"{base}:pending"]

    def claim_key(self, claim: AlertClaim) -> str:
        return self._claim_key(claim.key_tag, claim.rule_id)

    def _claim_key(self, key_tag: str, rule_id: str) -> str:
        return f"{self._prefix}:{{{key_tag}}}:alert:{rule_id}"

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
        await pipe.execute()

    async def note_models(self, seen: Mapping[str, float]) -> dict[str, float]:
        if not seen:
            return {}
        args: list[int | float | str] = []
        for model, ts in seen.items():
            args += [model, repr(ts)]
        (reply,) = await self._run([("models_note", [f"{self._prefix}:models"], args)])
        values = [float(v) for v in reply]
        return {**dict(zip(seen, values, strict=False)), REGISTRY_START: values[-1]}

    async def claim_alerts(
        self, claims: Sequence[AlertClaim], max_lag_seconds: int = 0
    ) -> list[ClaimResult]:
        if not claims:
            return []
        calls: list[tuple[str, list[str], list[int | float | str]]] = [
            (
                "alert_claim",
                [self.claim_key(claim)],
                [
                    claim.alert_id,
                    f"{claim.fired_at:.6f}",
                    claim.cooldown_seconds,
                    max(self._claim_ttl, claim.cooldown_seconds) + max_lag_seconds,
                ],
            )
            for claim in claims
        ]
        results = []
        for outcome, alert_id, fired_at in await self._run(calls):
            outcome_text = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
            if outcome_text == "cooldown":
                results.append(ClaimResult(outcome_text))
            else:
                results.append(
                    ClaimResult(
                        outcome_text,
                        alert_id.decode() if isinstance(alert_id, bytes) else str(alert_id),
                        float(fired_at),
                    )
                )
        return results

    async def pending_claims(self, keys: Sequence[tuple[str, str]]) -> list[ClaimResult | None]:
        if not keys:
            return []
        pipe = self._pipeline()
        for tag, rule_id in keys:
            pipe.hmget(self._claim_key(tag, rule_id), ["id", "ts", "sent"])
        answer: list[ClaimResult | None] = []
        for alert_id, fired_at, sent in await pipe.execute():
            if alert_id is None or sent == b"1":
                answer.append(None)
            else:
                answer.append(ClaimResult(PENDING, alert_id.decode(), float(fired_at)))
        return answer

    async def confirm_sent(self, claims: Sequence[AlertClaim]) -> None:
        if not claims:
            return
        await self._run(
            [("alert_confirm", [self.claim_key(claim)], [claim.alert_id]) for claim in claims]
        )

    async def close(self) -> None:
        await self._redis.aclose()
