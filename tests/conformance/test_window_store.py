"""One contract, two WindowStores: the in-memory and the Redis store must agree exactly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.contract import BIN_KEY_STRIDE, Bins, StateLayout, Sum
from detectors.windows import APPLIED, DUPLICATE, LATE, WindowReading, WindowUpdate
from streams.account_state import decode_account_state
from streams.memory_store import MemoryWindowStore
from streams.redis_connect import AsyncClient, connect_async
from streams.redis_store import RedisWindowStore
from streams.store import (
    MAX_MODELS,
    REGISTRY_START,
    AlertSave,
    AlertSchedule,
    StoredAlert,
    WindowStore,
)

# Sums (requests, input_tokens, output_tokens, single_turn) and two histograms.
WINDOWS = LAYOUT = StateLayout.from_measures(
    [
        Sum("input_tokens"),
        Sum("output_tokens"),
        Sum("single_turn"),
        Bins("template_prefix", 8),
        Bins("hour_of_day", 24),
    ],
    [("1m", 60, 10), ("10m", 600, 60)],
)
HOURS = LAYOUT.bins_index("hour_of_day") * BIN_KEY_STRIDE
TEMPLATES = LAYOUT.bins_index("template_prefix") * BIN_KEY_STRIDE
HORIZON = 300
T0 = 1_771_840_800.0

StoreFactory = Callable[[], WindowStore]


URL_FIXTURES = {
    "redis": "redis_url",
    "redis-cluster": "redis_cluster_url",
    "redis-sentinel": "redis_sentinel_url",
}


@pytest.fixture(params=["memory", "redis", "redis-cluster", "redis-sentinel"])
async def make_store(
    request: pytest.FixtureRequest, key_prefix: str
) -> AsyncIterator[StoreFactory]:
    clients: list[AsyncClient] = []
    counter = iter(range(10**6))

    def factory() -> WindowStore:
        if request.param == "memory":
            return MemoryWindowStore()
        client = connect_async(request.getfixturevalue(URL_FIXTURES[request.param]))
        clients.append(client)
        return RedisWindowStore(client, key_prefix=f"{key_prefix}-{next(counter)}")

    yield factory
    for client in clients:
        await client.aclose()


async def apply(
    store: WindowStore, updates: Sequence[WindowUpdate], layout: StateLayout, *args: Any, **kw: Any
) -> list[WindowReading]:
    """A batch as the pipeline runs it: applied, then its accounts reported judged."""
    readings = await store.apply(updates, layout, *args, **kw)
    await store.judged(list({u.account_id: None for u in updates}), layout)
    return readings


def update(
    account: str,
    key: str,
    ts: float,
    requests: int = 1,
    tokens: int = 10,
    bins: tuple[int, ...] = (),
) -> WindowUpdate:
    return WindowUpdate(account, key, ts, (requests, tokens, tokens * 2, 1), bins)


async def test_counts_and_running_totals(make_store: StoreFactory) -> None:
    store = make_store()
    readings = await apply(
        store,
        [update("a", "e1", T0), update("a", "e2", T0 + 30), update("b", "e3", T0 + 30)],
        WINDOWS,
        HORIZON,
    )
    assert [r.status for r in readings] == [APPLIED] * 3
    assert readings[1].totals[0] == (2, 20, 40, 2, 0, 0, 0, 0)
    assert readings[2].totals[0] == (1, 10, 20, 1, 0, 0, 0, 0)
    later = await apply(store, [update("a", "e4", T0 + 75)], WINDOWS, HORIZON)
    assert later[0].totals[0] == (2, 20, 40, 2, 0, 0, 0, 0)  # bucket T0 fell out of the 1m window
    assert later[0].totals[1] == (3, 30, 60, 3, 0, 0, 0, 0)


async def test_histograms_keep_filled_bins_and_sum_of_squares(make_store: StoreFactory) -> None:
    store = make_store()
    readings = await apply(
        store,
        [
            update("a", "e1", T0, bins=(TEMPLATES + 3, HOURS + 5)),
            update("a", "e2", T0 + 5, bins=(TEMPLATES + 3, HOURS + 5, HOURS + 6)),
            update("a", "e3", T0 + 20, bins=(TEMPLATES + 1,)),
        ],
        WINDOWS,
        HORIZON,
    )
    f_t, q_t = LAYOUT.filled_index("template_prefix"), LAYOUT.sumsq_index("template_prefix")
    f_h, q_h = LAYOUT.filled_index("hour_of_day"), LAYOUT.sumsq_index("hour_of_day")
    last = readings[-1].totals[0]
    assert (last[f_t], last[q_t]) == (2, 2 * 2 + 1 * 1)  # bins {3: 2, 1: 1}
    assert (last[f_h], last[q_h]) == (2, 2 * 2 + 1 * 1)  # bins {5: 2, 6: 1}
    # T0's bucket (e1, e2) falls out of the 1m window; e3 alone is left there
    later = await apply(
        store, [update("a", "e4", T0 + 65, bins=(TEMPLATES + 1,))], WINDOWS, HORIZON
    )
    one_minute, ten_minutes = later[0].totals
    assert (one_minute[f_t], one_minute[q_t], one_minute[f_h], one_minute[q_h]) == (1, 4, 0, 0)
    assert (ten_minutes[f_t], ten_minutes[q_t]) == (2, 4 + 4)


async def test_duplicates_and_late_events_change_nothing(make_store: StoreFactory) -> None:
    store = make_store()
    await apply(store, [update("a", "e1", T0), update("a", "e2", T0 + 400)], WINDOWS, HORIZON)
    readings = await apply(
        store,
        [update("a", "e1", T0), update("a", "e2", T0 + 400), update("a", "old", T0 + 50)],
        WINDOWS,
        HORIZON,
    )
    # e1 is older than the horizon behind e2: late, not merely duplicate
    assert [r.status for r in readings] == [LATE, DUPLICATE, LATE]
    assert readings[2].totals[1] == (2, 20, 40, 2, 0, 0, 0, 0)


async def test_alert_ledger_entries_are_compare_and_set(make_store: StoreFactory) -> None:
    """Two writers that loaded the same version: the second save is refused, never lost
    silently; the outbox stays until its version is confirmed delivered."""
    store = make_store()
    key = store.alert_key("acct:a", "rule")
    assert await store.load_alerts([key]) == [None]
    assert await store.save_alerts([AlertSave(key, 0, b"doc-1", b"out-1", 600)]) == [True]
    assert await store.save_alerts([AlertSave(key, 0, b"doc-x", b"", 600)]) == [False]
    assert await store.load_alerts([key]) == [StoredAlert(1, b"doc-1", b"out-1")]
    await store.confirm_alerts([(key, 0)], [])  # a stale confirmation clears nothing
    assert await store.load_alerts([key]) == [StoredAlert(1, b"doc-1", b"out-1")]
    assert await store.save_alerts([AlertSave(key, 1, b"doc-2", b"out-2", 600)]) == [True]
    await store.confirm_alerts([(key, 1)], [])  # delivered version 1: version 2 is newer
    assert await store.load_alerts([key]) == [StoredAlert(2, b"doc-2", b"out-2")]
    await store.confirm_alerts([(key, 2)], [])
    other = store.alert_key("acct:b", "rule")
    assert await store.load_alerts([key, other]) == [StoredAlert(2, b"doc-2", b""), None]


async def test_alert_schedules_answer_by_source_clock(make_store: StoreFactory) -> None:
    store = make_store()
    a, b, c = (store.alert_key(f"acct:{x}", "rule") for x in "abc")
    await store.confirm_alerts(
        [],
        [
            AlertSchedule("p:0", a, T0 + 100),
            AlertSchedule("p:0", b, T0 + 50),
            AlertSchedule("p:1", c, T0 + 10),
        ],
    )
    assert await store.due_alerts({"p:0": T0 + 99}, 10) == [b]
    assert await store.due_alerts({"p:0": T0 + 100, "p:1": T0 + 9}, 10) == [b, a]
    assert await store.due_alerts({"p:0": T0 + 100}, 1) == [b]  # earliest first, bounded
    await store.confirm_alerts([], [AlertSchedule("p:0", b, None), AlertSchedule("p:0", a, T0)])
    assert await store.due_alerts({"p:0": T0 + 100, "p:1": T0 + 10}, 10) == [a, c]


# One step per event: (account, seconds after the account's previous event (negative: out of
# order), redeliver: replay the step this many steps back instead of a new event).
steps_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.floats(0, 15), st.floats(-120, 0), st.floats(0, 900)).map(
            lambda x: round(x, 3)
        ),
        st.one_of(st.none(), st.integers(1, 30)),
    ),
    min_size=1,
    max_size=120,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps_strategy, batch=st.integers(1, 25))
async def test_random_streams_give_identical_readings(
    make_store: StoreFactory, steps: list[tuple[str, float, int | None]], batch: int
) -> None:
    """Mostly-ordered streams with gaps inside and past whole windows, out-of-order and late
    events, and redeliveries: the store under test must agree with the reference in-memory
    store on every reading."""
    reference, store = MemoryWindowStore(), make_store()
    updates: list[WindowUpdate] = []
    clock = {"a": T0, "b": T0, "c": T0}
    for number, (account, gap, back) in enumerate(steps):
        if back is not None and back <= len(updates):
            updates.append(updates[-back])  # same id, time and counters: a redelivery
            continue
        clock[account] += gap
        templates = [TEMPLATES + (number * 7 + k) % 5 for k in range(number % 3)]
        bins = (*templates, HOURS + number % 24)
        updates.append(
            update(account, f"{account}-{number}", clock[account], number % 4 + 1, bins=bins)
        )
    for start in range(0, len(updates), batch):
        chunk = updates[start : start + batch]
        expected = await reference.apply(chunk, WINDOWS, HORIZON)
        assert await apply(store, chunk, WINDOWS, HORIZON) == expected


async def test_the_model_registry_keeps_each_models_earliest_sighting(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    first = await store.note_models({"frontier-large": T0 + 50, "frontier-small": T0 + 10})
    assert first == {"frontier-large": T0 + 50, "frontier-small": T0 + 10, REGISTRY_START: T0 + 10}
    # a later batch, with an out-of-order earlier sighting of one model and a new model
    again = await store.note_models({"frontier-large": T0 + 5, "frontier-large-2": T0 + 900})
    assert again == {
        "frontier-large": T0 + 5,
        "frontier-large-2": T0 + 900,
        REGISTRY_START: T0 + 5,
    }


async def test_a_batch_touching_thousands_of_bins_is_applied_whole(
    make_store: StoreFactory,
) -> None:
    """A logit sweep puts thousands of histogram bins in one account's batch; the Redis
    script writes them in chunks (Lua cannot unpack that many values at once)."""
    wide = StateLayout.from_measures([Bins("logit_ids", BIN_KEY_STRIDE)], [("1m", 60, 10)])
    base = wide.bins_index("logit_ids") * BIN_KEY_STRIDE
    batch = [
        WindowUpdate("a", f"e{i}", T0 + i * 0.01, (1,), tuple(base + i * 40 + k for k in range(40)))
        for i in range(150)
    ]
    readings = await make_store().apply(batch, wide, HORIZON)
    filled = readings[-1].totals[0][wide.filled_index("logit_ids")]
    assert filled == 6000


async def test_a_bucket_written_and_dropped_within_one_batch(make_store: StoreFactory) -> None:
    """Events at 0 s, 30 s and 70 s of one account in one batch: the first one's bucket falls
    out of the 1-minute window while the batch is still being applied."""
    store = make_store()
    readings = await apply(
        store,
        [
            update("a", "e1", T0, bins=(TEMPLATES + 1,)),
            update("a", "e2", T0 + 30, bins=(TEMPLATES + 2,)),
            update("a", "e3", T0 + 70, bins=(TEMPLATES + 2,)),
        ],
        WINDOWS,
        HORIZON,
    )
    one_minute = readings[-1].totals[0]
    f_t, q_t = LAYOUT.filled_index("template_prefix"), LAYOUT.sumsq_index("template_prefix")
    assert (one_minute[0], one_minute[f_t], one_minute[q_t]) == (2, 1, 4)
    later = await apply(store, [update("a", "e4", T0 + 75)], WINDOWS, HORIZON)
    assert later[0].totals[0][0] == 3 and later[0].totals[0][f_t] == 1


async def test_an_accounts_state_is_one_document_that_reads_back_as_the_store_answered(
    redis_url: str, key_prefix: str
) -> None:
    """One key per account (plus its alert ledger): the windows, offsets and recent event keys
    in one MessagePack document, which streams/account_state.py decodes to the same totals the
    script returned."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        store = RedisWindowStore(client, key_prefix=key_prefix)
        batch = [
            WindowUpdate("a", f"e{i}", T0 + 45 * i, (1, i, 2 * i, i % 2), (HOURS + i,), "t:0", i)
            for i in range(30)
        ]
        readings = await apply(store, batch, WINDOWS, HORIZON, resend_horizon_seconds=100)
        keys = [k.decode() async for k in client.scan_iter(match=f"{key_prefix}*")]
        assert keys == store.account_keys("a", WINDOWS)[:1]
        state = decode_account_state(await client.get(keys[0]))
        assert tuple(w.totals for w in state.windows) == readings[-1].totals
        assert state.offsets == {"t:0": 29} and state.newest == T0 + 45 * 29
        assert sorted(state.seen) == ["e27", "e28", "e29"]  # within 100 s of the newest
    finally:
        await client.aclose()


async def test_the_model_registry_stops_growing_when_full(make_store: StoreFactory) -> None:
    """Model names come from the gateway: past MAX_MODELS entries a new name is not kept and
    reads as old as the registry itself (never "newly released"); known ones still update."""
    store = make_store()
    await store.note_models({f"m{i}": T0 + 10 + i for i in range(MAX_MODELS - 1)})
    answer = await store.note_models({"late-model": T0 + 50_000, "m7": T0 + 1})
    assert answer == {"late-model": T0 + 10, "m7": T0 + 1, REGISTRY_START: T0 + 1}


# --------------------------------------------------------------------------------------------
# Arguments no count can be made of (issue 8, defect 2): refused before the first write
# --------------------------------------------------------------------------------------------


async def _snapshot(client: aioredis.Redis, prefix: str) -> dict[bytes, bytes | None]:
    return {key: await client.dump(key) async for key in client.scan_iter(match=f"{prefix}*")}


@pytest.mark.parametrize(
    "bad",
    [
        WindowUpdate("a", "e3", T0 + 2, (1, 10**300, 2, 1)),  # past 2^53: no exact count
        WindowUpdate("a", "e3", T0 + 2, (1, 2.5, 2, 1)),  # type: ignore[arg-type]
        WindowUpdate("a", "e3", float("nan"), (1, 1, 2, 1)),
        WindowUpdate("a", "e3", T0 + 2, (1, 1, 2, 1), (-5,)),
        WindowUpdate("a", "", T0 + 2, (1, 1, 2, 1)),
    ],
)
async def test_a_bad_argument_fails_the_script_before_any_write(
    redis_client: aioredis.Redis, key_prefix: str, bad: WindowUpdate
) -> None:
    from redis.exceptions import DataError, ResponseError

    from streams.failures import is_permanent

    store = RedisWindowStore(redis_client, key_prefix=key_prefix)
    await apply(store, [update("a", "e1", T0)], WINDOWS, HORIZON)
    before = await _snapshot(redis_client, key_prefix)
    # Refused by the script, or before it when the number cannot even be packed; permanent.
    with pytest.raises((ResponseError, DataError), match="distillwatch: bad argument") as refused:
        await apply(store, [update("a", "e2", T0 + 1, bins=(HOURS + 3,)), bad], WINDOWS, HORIZON)
    assert is_permanent(refused.value)
    assert await _snapshot(redis_client, key_prefix) == before
    # The good event was not half-applied: it still counts, once.
    readings = await apply(store, [update("a", "e2", T0 + 1)], WINDOWS, HORIZON)
    assert readings[0].status == APPLIED and readings[0].totals[0][0] == 2


# --------------------------------------------------------------------------------------------
# Eviction (issue 8, defect 5): the worker refuses a Redis that may evict its state
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["volatile-lru", "allkeys-lru", "volatile-ttl"])
def test_a_redis_that_may_evict_keys_is_refused_unless_allowed(redis_url: str, policy: str) -> None:
    import redis as sync_redis

    from streams.redis_checks import RedisStateError, check_eviction_policy

    client = sync_redis.Redis.from_url(redis_url)
    original = str(client.config_get("maxmemory-policy")["maxmemory-policy"])
    try:
        client.config_set("maxmemory-policy", "noeviction")
        assert check_eviction_policy(redis_url) == "noeviction"
        client.config_set("maxmemory-policy", policy)
        with pytest.raises(RedisStateError, match=f"maxmemory-policy is {policy}"):
            check_eviction_policy(redis_url)
        assert check_eviction_policy(redis_url, allow_eviction=True) == policy
    finally:
        client.config_set("maxmemory-policy", original)
        client.close()


# --------------------------------------------------------------------------------------------
# Expiry on the wall clock (issue 8, defect 4): keys outlive a consumer outage of max_lag
# --------------------------------------------------------------------------------------------


async def test_keys_outlive_window_and_bucket_by_the_tolerated_lag(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """Windows run on event time, TTLs on the wall clock: after an outage the backlog resumes
    where its event time stopped, so the state must still be there."""
    lag = 7200
    store = RedisWindowStore(redis_client, key_prefix=key_prefix)
    await apply(store, [update("a", "e1", T0)], WINDOWS, HORIZON, max_lag_seconds=lag)
    ledger_ttl = 600 + lag  # the ledger computes it (streams/alert_ledger.py); the store sets it
    await store.save_alerts(
        [AlertSave(store.alert_key("acct:a", "rule"), 0, b"{}", b"", ledger_ttl)]
    )
    ttls = {
        key.decode(): await redis_client.ttl(key)
        async for key in redis_client.scan_iter(match=f"{key_prefix}*")
    }
    longest = max(seconds + bucket for _, seconds, bucket in LAYOUT.windows)
    (state,) = [k for k in ttls if k.endswith(":state")]
    assert max(longest, HORIZON) + lag - 5 <= ttls[state] <= max(longest, HORIZON) + lag
    ledger = [k for k in ttls if ":alert:" in k]
    assert ledger and all(ledger_ttl - 5 <= ttls[k] <= ledger_ttl for k in ledger)


def test_every_primary_of_a_cluster_is_checked_for_eviction(redis_cluster_url: str) -> None:
    from streams.redis_checks import check_eviction_policy

    assert check_eviction_policy(redis_cluster_url) == "noeviction"


# --------------------------------------------------------------------------------------------
# Exactly once with bounded state (issue 8, defect 7)
# --------------------------------------------------------------------------------------------


def sourced(key: str, ts: float, offset: int, partition: int = 0) -> WindowUpdate:
    return WindowUpdate("a", key, ts, (1, 10, 20, 1), (), f"requests:{partition}", offset)


async def test_a_redelivery_is_a_duplicate_long_after_its_key_is_forgotten(
    make_store: StoreFactory,
) -> None:
    """Offsets, not keys: a consumer-group reset re-reads events whose keys left the resend
    horizon long ago, and none counts twice."""
    store = make_store()
    resend = 30
    events = [sourced(f"e{i}", T0 + 10 * i, offset=i) for i in range(25)]  # 240 s
    first = await apply(store, events, WINDOWS, HORIZON, resend_horizon_seconds=resend)
    assert all(r.status == APPLIED for r in first)
    again = await apply(store, events, WINDOWS, HORIZON, resend_horizon_seconds=resend)
    assert [r.status for r in again] == [DUPLICATE] * 25
    assert again[-1].totals == first[-1].totals
    # Another partition's offsets are its own.
    other = await apply(
        store,
        [sourced("x1", T0 + 250, offset=3, partition=1)],
        WINDOWS,
        HORIZON,
        resend_horizon_seconds=resend,
    )
    assert other[0].status == APPLIED


async def test_only_the_resend_horizon_of_event_keys_is_kept(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = RedisWindowStore(redis_client, key_prefix=key_prefix)
    events = [sourced(f"e{i}", T0 + 10 * i, offset=i) for i in range(100)]  # 990 s
    await apply(store, events, WINDOWS, HORIZON, resend_horizon_seconds=60)
    (key,) = [k async for k in redis_client.scan_iter(match=f"{key_prefix}*:state")]
    state = decode_account_state(await redis_client.get(key))
    assert 6 <= len(state.seen) <= 7  # the last minute: bounded by the horizon
    assert state.offsets == {"requests:0": 99}


async def test_a_resend_caught_by_its_key_still_moves_its_partition_offset(
    make_store: StoreFactory,
) -> None:
    """The same event produced again at offset 50 is a duplicate by key; once its key has left
    the resend horizon, a redelivery of offset 50 must still be one (by offset)."""
    store = make_store()
    resend = 30
    await apply(
        store, [sourced("e1", T0, offset=10)], WINDOWS, HORIZON, resend_horizon_seconds=resend
    )
    again = [sourced("e1", T0 + 1, offset=50)]
    first = await apply(store, again, WINDOWS, HORIZON, resend_horizon_seconds=resend)
    assert first[0].status == DUPLICATE
    later = [sourced("e2", T0 + 100, offset=7, partition=1)]  # the account's clock moves on
    await apply(store, later, WINDOWS, HORIZON, resend_horizon_seconds=resend)
    redelivered = await apply(store, again, WINDOWS, HORIZON, resend_horizon_seconds=resend)
    assert redelivered[0].status == DUPLICATE


async def test_an_unreadable_account_state_is_refused_and_left_alone(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """Another program's string under an account's key: a permanent error, nothing written."""
    from redis.exceptions import ResponseError

    from streams.failures import is_permanent

    store = RedisWindowStore(redis_client, key_prefix=key_prefix)
    key = store.account_keys("a", WINDOWS)[0]
    await redis_client.set(key, b"\xc1 not MessagePack")
    with pytest.raises(ResponseError, match="unreadable account state") as refused:
        await apply(store, [update("a", "e1", T0)], WINDOWS, HORIZON)
    assert is_permanent(refused.value)
    assert await redis_client.get(key) == b"\xc1 not MessagePack"


# --------------------------------------------------------------------------------------------
# Judged once: a batch applied and never judged starts again from the state it found
# --------------------------------------------------------------------------------------------


@pytest.fixture(params=sorted(URL_FIXTURES))
async def redis_topology(
    request: pytest.FixtureRequest, key_prefix: str
) -> AsyncIterator[tuple[AsyncClient, RedisWindowStore]]:
    """A client and a Redis store on each topology: single server, Cluster, Sentinel."""
    client = connect_async(request.getfixturevalue(URL_FIXTURES[request.param]))
    yield client, RedisWindowStore(client, key_prefix=key_prefix)
    await client.aclose()


def numbered(account: str, offset: int, ts: float, source: str = "t:0") -> WindowUpdate:
    return WindowUpdate(account, f"e{offset}", ts, (1, offset, 1, 0), (HOURS + offset % 24,),
                        source, offset)  # fmt: skip


async def test_a_batch_applied_and_never_judged_is_applied_again_as_the_first_time(
    redis_topology: tuple[AsyncClient, RedisWindowStore],
) -> None:
    client, store = redis_topology
    judged = [numbered("a", n, T0 + 10 * n) for n in range(3)]
    await store.apply(judged, WINDOWS, HORIZON)
    await store.judged(["a"], WINDOWS)
    batch = [numbered("a", n, T0 + 10 * n) for n in range(3, 8)] + [numbered("b", 8, T0)]
    first = await store.apply(batch, WINDOWS, HORIZON)  # ... and the worker dies
    # The redelivery starts at the last committed offset and ends elsewhere.
    again = await store.apply(judged + batch[:3], WINDOWS, HORIZON)
    assert [r.status for r in again] == [DUPLICATE] * 3 + [APPLIED] * 3
    assert again[3:] == first[:3]
    rest = await store.apply(batch[3:], WINDOWS, HORIZON)
    assert rest == first[3:]
    await store.judged(["a", "b"], WINDOWS)
    assert [r.status for r in await store.apply(batch, WINDOWS, HORIZON)] == [DUPLICATE] * 6
    state = decode_account_state(await client.get(store.account_keys("a", WINDOWS)[0]))
    assert state.total(WINDOWS, "10m", "requests") == 8


async def test_a_judged_batch_keeps_nothing_to_start_again_from(
    redis_topology: tuple[AsyncClient, RedisWindowStore],
) -> None:
    client, store = redis_topology
    await store.apply([numbered("a", 0, T0)], WINDOWS, HORIZON)
    pending = store.account_keys("a", WINDOWS)[1]
    assert await client.ttl(pending) > 0  # a crash leaves nothing forever
    await store.judged(["a"], WINDOWS)
    assert await client.exists(pending) == 0
    # A batch of duplicates only keeps nothing either.
    await store.apply([numbered("a", 0, T0)], WINDOWS, HORIZON)
    assert await client.exists(pending) == 0


async def test_an_unreadable_pending_judgement_is_refused_and_left_alone(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    from redis.exceptions import ResponseError

    from streams.failures import is_permanent

    store = RedisWindowStore(redis_client, key_prefix=key_prefix)
    state, pending = store.account_keys("a", WINDOWS)
    await redis_client.set(pending, b"\xc1 not MessagePack")
    with pytest.raises(ResponseError, match="unreadable pending judgement") as refused:
        await store.apply([numbered("a", 0, T0)], WINDOWS, HORIZON)
    assert is_permanent(refused.value)
    assert await redis_client.exists(state) == 0
