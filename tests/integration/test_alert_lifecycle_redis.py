"""The alert lifecycle on the live store: a worker that restarts (a new pipeline on the same
Redis) neither pages again for an active incident nor forgets it, and still resolves it."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from detectors.config import DetectionConfig
from streams.config_loader import load_config
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from tests.helpers import ROOT, encode, harvest_events, make_event

pytestmark = pytest.mark.integration
SOURCE = "requests:0"


@pytest.fixture
def config() -> DetectionConfig:
    return load_config(ROOT / "config" / "detectors.yaml")


async def test_a_restarted_worker_suppresses_the_active_incident_then_resolves_it(
    config: DetectionConfig, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    # Past every incident's hold-down (the longest: a rule's longest window), other traffic.
    hold = max(config.alerting.hold_down_seconds, *(w.seconds for w in config.windows.values()))
    events = harvest_events("acct_h", 300)
    events += [make_event("acct_q", events[-1]["timestamp"] + hold + 60 * i) for i in (-1, 1)]
    payloads = encode(events)
    sources = [(SOURCE, offset) for offset in range(len(payloads))]
    sent = []
    scheduled = []
    due_key = f"{key_prefix}:{{due:{SOURCE}}}:alerts"  # the incidents the partition resolves
    for start, end in ((0, 200), (200, 300), (300, len(payloads))):  # a new worker each time
        pipeline = DetectionPipeline(config, RedisWindowStore(redis_client, key_prefix=key_prefix))
        outcome = await pipeline.process(payloads[start:end], sources[start:end])
        sent += outcome.alerts
        await pipeline.confirm_sent(outcome)
        scheduled.append(await redis_client.zcard(due_key))
    assert [(a["rule_id"], a["transition"]) for a in sent] == [
        ("extraction_combined", "firing"),
        ("extraction_combined", "resolved"),
    ]
    firing, resolved = sent
    assert resolved["fired_at"] == firing["fired_at"] and resolved["suppressed"] > 0
    # Every open incident (shadow rules' too) scheduled until resolved, then none.
    assert scheduled[0] == scheduled[1] >= 1 and scheduled[2] == 0
