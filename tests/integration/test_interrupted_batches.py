"""A batch interrupted between its state write and its alert ledger save (a worker killed, Redis
gone for a moment) must give, once redelivered, the alerts an uninterrupted run gives: same
ids, same times. The redelivered events are already counted, so without more they read as
duplicates and the alert their first pass would have claimed moves to a later event, or is
lost (the chaos suite saw it as two alert ids out of 141)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis
import redis.asyncio as aioredis

from detectors.config import DetectionConfig
from streams.config_loader import load_config
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from streams.store import AlertSave
from tests.helpers import ROOT, encode, harvest_events

pytestmark = pytest.mark.integration
SOURCE = "requests:0"


class ClaimInterrupted(RedisWindowStore):
    """A real Redis store whose connection drops once, around the alert ledger's save: before
    it reaches Redis, or after Redis recorded it and before the worker heard back."""

    def __init__(self, client: aioredis.Redis, key_prefix: str, *, after: bool) -> None:
        super().__init__(client, key_prefix=key_prefix)
        self.after = after
        self.interrupted = False

    async def save_alerts(self, saves: Sequence[AlertSave]) -> list[bool]:
        if self.interrupted:
            return await super().save_alerts(saves)
        self.interrupted = True
        if self.after:
            await super().save_alerts(saves)
        raise redis.ConnectionError("connection lost (injected)")


@pytest.fixture
def config() -> DetectionConfig:
    return load_config(ROOT / "config" / "detectors.yaml")


def batch() -> tuple[list[bytes], list[tuple[str, int]]]:
    payloads = encode(harvest_events("acct_h", 220) + harvest_events("acct_k", 40))
    return payloads, [(SOURCE, offset) for offset in range(len(payloads))]


async def clean_alerts(
    config: DetectionConfig, client: aioredis.Redis, prefix: str
) -> list[tuple[str, str, str]]:
    payloads, sources = batch()
    pipeline = DetectionPipeline(config, RedisWindowStore(client, key_prefix=prefix))
    outcome = await pipeline.process(payloads, sources)
    await pipeline.confirm_sent(outcome)
    found = [(a["rule_id"], a["alert_id"], a["fired_at"]) for a in outcome.alerts]
    assert found, "the batch raises an alert"
    return found


@pytest.mark.parametrize("after", [False, True], ids=["before-save", "after-save"])
@pytest.mark.parametrize("split", [None, 100], ids=["same-batch", "smaller-batches"])
async def test_a_redelivered_batch_raises_the_alerts_its_first_pass_would_have(
    config: DetectionConfig,
    redis_client: aioredis.Redis,
    key_prefix: str,
    after: bool,
    split: int | None,
) -> None:
    expected = await clean_alerts(config, redis_client, f"{key_prefix}-clean")
    payloads, sources = batch()
    faulty = ClaimInterrupted(redis_client, f"{key_prefix}-chaos", after=after)
    with pytest.raises(redis.ConnectionError):
        await DetectionPipeline(config, faulty).process(payloads, sources)
    # A restarted worker reads the batch again from the last committed offset, in batches of
    # its own size.
    restarted = DetectionPipeline(
        config, RedisWindowStore(redis_client, key_prefix=f"{key_prefix}-chaos")
    )
    step = split or len(payloads)
    found = []
    for start in range(0, len(payloads), step):
        outcome = await restarted.process(
            payloads[start : start + step], sources[start : start + step]
        )
        found += [(a["rule_id"], a["alert_id"], a["fired_at"]) for a in outcome.alerts]
        await restarted.confirm_sent(outcome)
    assert found == expected
    # Counted once: the whole batch again counts nothing, and alerts nothing.
    again = await restarted.process(payloads, sources)
    assert again.applied == 0 and again.alerts == []
