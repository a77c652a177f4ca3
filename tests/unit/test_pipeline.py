"""The whole pipeline on the in-memory store: alerts, idempotency, redelivery after a crash."""

from __future__ import annotations

import json
import random

import jsonschema
import orjson
import pytest

from detectors.config import DetectionConfig
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.sim.scenarios import simulate
from tests.helpers import ROOT, encode, harvest_events, make_event

ALERT_SCHEMA = json.loads((ROOT / "detectors/schemas/alert.v1.schema.json").read_text())
ALERT_VALIDATOR = jsonschema.Draft202012Validator(
    ALERT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


@pytest.fixture
def config() -> DetectionConfig:
    return load_config(ROOT / "config" / "detectors.yaml")


async def run_all(
    pipeline: DetectionPipeline, payloads: list[bytes], batch: int = 250
) -> list[dict[str, object]]:
    alerts = []
    for start in range(0, len(payloads), batch):
        outcome = await pipeline.process(payloads[start : start + batch])
        alerts.extend(outcome.alerts)
        await pipeline.confirm_sent(outcome)
    return alerts


async def test_simulated_traffic_alerts_harvesters_and_no_benign_account(
    config: DetectionConfig,
) -> None:
    sim = simulate("self_instruct", hours=4, seed=11, benign_accounts=30)
    alerts = await run_all(DetectionPipeline(config, MemoryWindowStore()), list(sim.lines()))
    alerted = {a for alert in alerts for a in alert["subject"]["accounts"]}  # type: ignore[index]
    attackers = {lab.account_id for lab in sim.labels if lab.label == "attack"}
    assert alerted == attackers
    for alert in alerts:
        ALERT_VALIDATOR.validate(alert)


async def test_alerts_carry_no_prompt_text(config: DetectionConfig) -> None:
    secret = "TOP-SECRET-PROMPT-MARKER"
    events = [make_event("acct_s", 1_771_840_800 + i * 5, text=f"{secret} {i}") for i in range(250)]
    alerts = await run_all(DetectionPipeline(config, MemoryWindowStore()), encode(events))
    assert alerts
    assert secret.encode() not in orjson.dumps(alerts)


async def test_first_alert_fires_on_the_event_that_crosses_the_threshold(
    config: DetectionConfig,
) -> None:
    events = harvest_events("acct_h", 300)
    alerts = await run_all(DetectionPipeline(config, MemoryWindowStore()), encode(events))
    assert len(alerts) == 1  # cooldown holds the rest
    assert alerts[0]["fired_at"] == "2026-02-23T10:16:35.000Z"  # event 200 (index 199)
    assert alerts[0]["evidence"]["harvest"]["requests"] == 200  # type: ignore[index]


async def test_replaying_the_same_events_changes_nothing(config: DetectionConfig) -> None:
    payloads = encode(harvest_events("acct_h", 260) + harvest_events("acct_k", 50))
    store = MemoryWindowStore()
    pipeline = DetectionPipeline(config, store)
    first = await run_all(pipeline, payloads)
    outcome = await pipeline.process(payloads)
    assert outcome.applied == 0 and outcome.duplicates == len(payloads)
    assert outcome.alerts == []  # the claim was confirmed: in cooldown
    assert len(first) == 1


async def test_shuffled_batches_reach_the_same_totals(config: DetectionConfig) -> None:
    events = harvest_events("acct_a", 120, spacing=1.0)
    once = MemoryWindowStore()
    await run_all(DetectionPipeline(config, once), encode(events))
    twice = MemoryWindowStore()
    pipeline = DetectionPipeline(config, twice)
    await run_all(pipeline, encode(events))
    shuffled = encode(events)
    random.Random(3).shuffle(shuffled)
    await run_all(pipeline, shuffled, batch=17)
    probe = encode([make_event("acct_a", events[-1]["timestamp"], event_id=events[-1]["event_id"])])
    a = (await DetectionPipeline(config, once).process(probe)).readings
    b = (await DetectionPipeline(config, twice).process(probe)).readings
    assert a == b and a[0].totals[1][0] == 120


async def test_alert_claimed_but_not_sent_is_re_emitted_with_the_same_id(
    config: DetectionConfig,
) -> None:
    payloads = encode(harvest_events("acct_h", 220))
    store = MemoryWindowStore()
    pipeline = DetectionPipeline(config, store)
    crashed = await pipeline.process(payloads)  # the worker dies before producing the alert
    assert len(crashed.alerts) == 1
    retried = await pipeline.process(payloads)  # redelivery of the same batch
    assert [a["alert_id"] for a in retried.alerts] == [a["alert_id"] for a in crashed.alerts]
    await pipeline.confirm_sent(retried)
    assert (await pipeline.process(payloads)).alerts == []


async def test_malformed_events_become_dead_letters_beside_good_ones(
    config: DetectionConfig,
) -> None:
    good = encode(harvest_events("acct_g", 3))
    payloads = [good[0], b"not json", good[1], b'{"event_id": "x"}', good[2]]
    outcome = await DetectionPipeline(config, MemoryWindowStore()).process(payloads)
    assert [(d.index, d.reason) for d in outcome.dead_letters] == [
        (1, "not_json"),
        (3, "missing_field"),
    ]
    assert outcome.applied == 3


async def test_shadow_mode_counts_but_does_not_alert(config: DetectionConfig) -> None:
    shadow = config.model_copy(
        update={
            "detectors": config.detectors.model_copy(
                update={
                    "volume_harvest": config.detectors.volume_harvest.model_copy(
                        update={"shadow": True}
                    )
                }
            )
        }
    )
    outcome = await DetectionPipeline(shadow, MemoryWindowStore()).process(
        encode(harvest_events("acct_h", 210))
    )
    assert outcome.alerts == [] and len(outcome.shadow_findings) == 1
