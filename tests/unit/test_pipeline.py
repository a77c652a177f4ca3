"""The whole pipeline on the in-memory store: alerts, idempotency, redelivery after a crash."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import jsonschema
import orjson
import pytest

from detectors.config import DetectionConfig
from detectors.ruleset import Rule
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
) -> list[dict[str, Any]]:
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
    alerted = {a for alert in alerts for a in alert["subject"]["accounts"]}
    attackers = {lab.account_id for lab in sim.labels if lab.label == "attack"}
    assert alerted == attackers
    for alert in alerts:
        ALERT_VALIDATOR.validate(alert)


async def test_alerts_carry_no_prompt_text(config: DetectionConfig) -> None:
    secret = "TOP-SECRET-PROMPT-MARKER"
    events = harvest_events("acct_s", 250)
    for i, event in enumerate(events):
        event["request"]["messages"][0]["content"] += f" {secret} {i}"
        event["request"]["system"] = f"{secret} system"
    alerts = await run_all(DetectionPipeline(config, MemoryWindowStore()), encode(events))
    assert alerts
    assert secret.encode() not in orjson.dumps(alerts)


async def test_the_first_alert_fires_within_ten_requests_of_the_threshold_whatever_the_batches(
    config: DetectionConfig,
) -> None:
    """Every signal of the combined rule is met from the 20th request on except the sustained
    activity (3 active hours), which the 121st event (12:00) brings. A busy account (more than
    JUDGE_EVERY requests in its shortest window) is judged at every tenth request of its
    longest window: the 130th (12:09), whether the events come one at a time, by 100 or all
    at once; with each contributing signal in its evidence."""
    fired = []
    for batch in (1, 100, 300):
        events = harvest_events("acct_h", 300)
        pipeline = DetectionPipeline(config, MemoryWindowStore())
        alerts = await run_all(pipeline, encode(events), batch)
        # One incident: the later crossings are suppressed.
        assert [a["rule_id"] for a in alerts] == ["extraction_combined"]
        fired.append(alerts[0]["fired_at"])
        evidence = alerts[0]["evidence"]["extraction_score"]
        assert evidence["requests"] == 130 and evidence["active_hours"] == 3
        carried = {rule for rule, s in evidence["signals"].items() if s["contributes"]}
        assert {"volume_harvest", "template_concentration", "reasoning_elicitation"} <= carried
    assert fired == ["2026-02-23T12:09:00.000Z"] * 3


async def test_replaying_the_same_events_changes_nothing(config: DetectionConfig) -> None:
    """A redelivery from Kafka: the same offsets again."""
    payloads = encode(harvest_events("acct_h", 260) + harvest_events("acct_k", 50))
    sources = [("requests:0", offset) for offset in range(len(payloads))]
    store = MemoryWindowStore()
    pipeline = DetectionPipeline(config, store)
    first = []
    for start in range(0, len(payloads), 250):
        outcome = await pipeline.process(
            payloads[start : start + 250], sources[start : start + 250]
        )
        first.extend(outcome.alerts)
        await pipeline.confirm_sent(outcome)
    outcome = await pipeline.process(payloads, sources)
    # within the dedupe horizon: duplicates; older than it behind the newest event: late
    assert outcome.applied == 0 and outcome.duplicates + outcome.late == len(payloads)
    assert outcome.duplicates > 0 and outcome.late > 0
    assert outcome.alerts == []  # confirmed delivered: the incident is active, nothing new
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


async def test_alert_saved_but_not_sent_is_re_emitted_with_the_same_id(
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


def with_modes(config: DetectionConfig, **modes: str) -> DetectionConfig:
    rules = [r.model_copy(update={"mode": modes.get(r.id, r.mode)}) for r in config.rules]
    return DetectionConfig.model_validate({**config.model_dump(), "rules": rules})


async def test_shadow_mode_counts_but_does_not_alert(config: DetectionConfig) -> None:
    shadow = with_modes(config, extraction_combined="shadow")
    outcome = await DetectionPipeline(shadow, MemoryWindowStore()).process(
        encode(harvest_events("acct_h", 210))
    )
    assert outcome.alerts == []
    assert "extraction_combined" in {f.rule_id for f in outcome.shadow_findings}


async def test_a_rule_promoted_from_shadow_alerts_on_accounts_it_already_found(
    config: DetectionConfig,
) -> None:
    """Shadow findings keep their own ledger: promoting the rule never finds its incidents open."""
    store = MemoryWindowStore()
    events = encode(harvest_events("acct_h", 400))
    shadow = DetectionPipeline(with_modes(config, extraction_combined="shadow"), store)
    watching = await shadow.process(events[:200])
    await shadow.confirm_sent(watching)
    assert "extraction_combined" in {f.rule_id for f in watching.shadow_findings}
    live = DetectionPipeline(config, store)
    promoted = await live.process(events[200:])
    assert [a["rule_id"] for a in promoted.alerts] == ["extraction_combined"]


async def test_an_exception_suppresses_a_rule_until_it_expires(config: DetectionConfig) -> None:
    exception = {"accounts": ["acct_partner"], "expires": "2026-02-23", "reason": "red team"}
    rules = [
        Rule.model_validate({**r.model_dump(), "exceptions": [exception]})
        if r.id == "extraction_combined"
        else r
        for r in config.rules
    ]
    excepted = DetectionConfig.model_validate({**config.model_dump(), "rules": rules})
    before = harvest_events("acct_partner", 200, start=1_771_840_800.0 - 2 * 86400)
    during = await DetectionPipeline(excepted, MemoryWindowStore()).process(encode(before))
    assert during.alerts == [] and during.excepted >= 1
    after = harvest_events("acct_partner", 200)  # 2026-02-23: the exception has expired
    later = await DetectionPipeline(excepted, MemoryWindowStore()).process(encode(after))
    assert [a["rule_id"] for a in later.alerts] == ["extraction_combined"]


async def test_a_detector_that_raises_is_skipped_and_counted(
    config: DetectionConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = next(b for b in config.bound.rules if b.rule.id == "logit_probe").detector

    def explode(view: object) -> float:
        raise ZeroDivisionError("a detector bug")

    monkeypatch.setattr(broken, "risk", explode)
    outcome = await DetectionPipeline(config, MemoryWindowStore()).process(
        encode(harvest_events("acct_h", 200))
    )
    assert outcome.detector_errors == ["logit_probe"]  # once per batch, not per event
    assert [a["rule_id"] for a in outcome.alerts] == ["extraction_combined"]


# --------------------------------------------------------------------------------------------
# Event time ahead of the stream (issue 8, defect 1)
# --------------------------------------------------------------------------------------------


def _requests_in_1h(pipeline: DetectionPipeline, config: DetectionConfig, account: str) -> int:
    store = pipeline.store
    assert isinstance(store, MemoryWindowStore)
    window = store._accounts[account].windows[0]
    return window.sums[config.bound.layout.sum_index("requests")]


async def test_one_event_from_a_clock_a_day_ahead_does_not_blind_its_account(
    config: DetectionConfig,
) -> None:
    """(Milliseconds sent as seconds are past the year 9999: the decoder refuses those.)"""
    start = 1_771_840_800.0
    before = [make_event("acct_a", start + i) for i in range(20)]
    bad = make_event("acct_a", start + 20 + 86400)
    after = [make_event("acct_a", start + 21 + i) for i in range(20)]
    pipeline = DetectionPipeline(config, MemoryWindowStore())
    await run_all(pipeline, encode(before))
    outcome = await pipeline.process(encode([before[-1] | {"event_id": "x"}, bad]))
    assert [(d.index, d.reason) for d in outcome.dead_letters] == [(1, "bad_timestamp")]
    await pipeline.confirm_sent(outcome)
    outcome = await pipeline.process(encode(after))
    assert outcome.applied == 20 and outcome.late == 0
    assert _requests_in_1h(pipeline, config, "acct_a") == 41


async def test_a_lone_future_event_in_its_own_batch_is_refused_by_the_wall_clock(
    config: DetectionConfig,
) -> None:
    now = 1_771_840_800.0
    pipeline = DetectionPipeline(config, MemoryWindowStore(), wall_clock=lambda: now)
    skew = config.state.max_future_skew_seconds
    outcome = await pipeline.process(encode([make_event("acct_a", now + 2 * skew)]))
    assert [d.reason for d in outcome.dead_letters] == ["bad_timestamp"]
    assert "wall clock" in outcome.dead_letters[0].detail
    outcome = await pipeline.process(encode([make_event("acct_a", now + 60)]))
    assert outcome.applied == 1


async def test_the_stream_may_jump_forward_after_a_gap_in_traffic(
    config: DetectionConfig,
) -> None:
    """A quiet night: the next batch is hours ahead of the watermark, and is all admitted,
    because a batch's median (not one event) moves the reference."""
    start = 1_771_840_800.0
    pipeline = DetectionPipeline(config, MemoryWindowStore())
    await run_all(pipeline, encode([make_event(f"acct_{i}", start + i) for i in range(10)]))
    later = [make_event(f"acct_{i}", start + 6 * 3600 + i) for i in range(10)]
    outcome = await pipeline.process(encode(later))
    assert outcome.dead_letters == [] and outcome.applied == 10


async def test_a_retried_batch_is_judged_against_the_same_watermark(
    config: DetectionConfig,
) -> None:
    start = 1_771_840_800.0
    pipeline = DetectionPipeline(config, MemoryWindowStore())
    await run_all(pipeline, encode([make_event("acct_a", start + i) for i in range(5)]))
    skew = config.state.max_future_skew_seconds
    batch = encode(
        [
            make_event("acct_b", start + 5),
            make_event("acct_b", start + 6),
            make_event("acct_c", start + 6 + 1.5 * skew),  # beyond the limit, once
        ]
    )
    first = await pipeline.process(batch)  # not confirmed: the worker will retry it
    second = await pipeline.process(batch)
    assert [d.index for d in first.dead_letters] == [d.index for d in second.dead_letters] == [2]


async def test_an_upstream_resend_is_a_duplicate_within_the_resend_horizon_only(
    config: DetectionConfig,
) -> None:
    """The same event produced twice (at two offsets): recognised by its key while the key is
    kept (state.resend_horizon_seconds); a re-send later than that counts again."""
    resend = config.state.resend_horizon_seconds
    start = 1_771_840_800.0
    first = make_event("acct_r", start, event_id="evt-resent")
    pipeline = DetectionPipeline(config, MemoryWindowStore())
    await run_all(pipeline, encode([first]))
    soon = await pipeline.process(
        encode([make_event("acct_r", start + resend / 2), first]), [("t:0", 1), ("t:0", 2)]
    )
    assert (soon.applied, soon.duplicates) == (1, 1)
    await pipeline.confirm_sent(soon)
    await run_all(pipeline, encode([make_event("acct_r", start + 2 * resend)]))
    late_resend = await pipeline.process(encode([first]), [("t:0", 4)])
    assert late_resend.applied == 1  # the documented limit of bounded state


async def test_a_lagging_partition_does_not_make_the_others_look_ahead(
    config: DetectionConfig,
) -> None:
    """A backlog on one partition beside current traffic on another, in one batch: each
    partition is judged against its own clock, so nothing is a clock error."""
    now = 1_771_840_800.0
    behind = [make_event(f"acct_b{i}", now - 3 * 3600 + i) for i in range(60)]
    current = [make_event(f"acct_c{i}", now + i) for i in range(40)]
    sources = [("requests:0", i) for i in range(60)] + [("requests:1", i) for i in range(40)]
    pipeline = DetectionPipeline(config, MemoryWindowStore(), wall_clock=lambda: now + 60)
    outcome = await pipeline.process(encode(behind + current), sources)
    assert outcome.dead_letters == [] and outcome.applied == 100


async def test_an_alert_resolves_after_the_hold_down_and_a_restart_neither_repages_nor_forgets(
    config: DetectionConfig,
) -> None:
    """The incident lives in the store: a restarted pipeline (a new worker on the same state)
    suppresses the account's further crossings and still resolves it once the partition's
    clock is a hold-down past its last one."""
    store = MemoryWindowStore()
    harvest = harvest_events("acct_h", 300)
    before = await run_all(DetectionPipeline(config, store), encode(harvest[:200]))
    assert [a["transition"] for a in before] == ["firing"]
    # The hold-down: the configured one, or the window the evidence covers if longer.
    hold = max(config.alerting.hold_down_seconds, config.windows[before[0]["window"]].seconds)
    restarted = DetectionPipeline(config, store)
    outcome = await restarted.process(encode(harvest[200:]))
    assert outcome.alerts == [] and outcome.suppressed["extraction_combined"] > 0
    await restarted.confirm_sent(outcome)
    last = harvest[-1]["timestamp"]
    # Other traffic on the partition moves its clock; the harvester has stopped.
    quiet = [make_event("acct_q", last + hold - 60), make_event("acct_q", last + hold + 60)]
    resolved = await run_all(restarted, encode(quiet), batch=1)
    (message,) = resolved
    assert message["transition"] == "resolved" and message["dedup_key"] == before[0]["dedup_key"]
    assert message["fired_at"] == before[0]["fired_at"] and message["suppressed"] > 0
    last_crossing = datetime.fromisoformat(message["last_seen_at"]).timestamp()
    assert datetime.fromisoformat(message["changed_at"]).timestamp() == last_crossing + hold
    ALERT_VALIDATOR.validate(message)
    assert await run_all(restarted, encode([make_event("acct_q", last + 3 * hold)])) == []


async def test_a_batch_that_comes_back_undelivered_sends_the_same_state_changes_again(
    config: DetectionConfig,
) -> None:
    """Firing and resolution alike: what the ledger saved and never saw confirmed goes out
    again under the same ids, once."""
    store = MemoryWindowStore()
    pipeline = DetectionPipeline(config, store)
    harvest = encode(harvest_events("acct_h", 220))
    first = await pipeline.process(harvest)
    hold = max(config.alerting.hold_down_seconds, config.windows[first.alerts[0]["window"]].seconds)
    again = await pipeline.process(harvest)  # the produce failed: the batch is retried
    assert [a["alert_id"] for a in again.alerts] == [a["alert_id"] for a in first.alerts]
    await pipeline.confirm_sent(again)
    later = encode([make_event("acct_q", 1_771_840_800.0 + 220 * 60 + hold + 600)])
    resolving = await pipeline.process(later)
    (resolved,) = resolving.alerts
    retried = await pipeline.process(later)
    assert retried.alerts == [resolved]
    await pipeline.confirm_sent(retried)
    assert (await pipeline.process(later)).alerts == []


async def test_a_redelivered_batch_never_raises_an_alert_its_first_pass_did_not(
    config: DetectionConfig,
) -> None:
    """Redelivered events are counted already; judging them again (at other points than the
    first time) must add no crossing: only what the first pass left undelivered goes out."""
    payloads = encode(harvest_events("acct_h", 125))
    sources = [("requests:0", offset) for offset in range(len(payloads))]
    pipeline = DetectionPipeline(config, MemoryWindowStore())
    first = await pipeline.process(payloads, sources)
    await pipeline.confirm_sent(first)
    assert first.alerts == []  # the 125th request is no judging point: nothing yet
    again = await pipeline.process(payloads, sources)
    assert again.applied == 0 and again.alerts == []
