"""Each detector on the logic of its attack, against the legitimate users who resemble it:
streams of events through the whole pipeline (shipped rules, in-memory store), then the risk
of every rule on the account's final state (1.0 = the rule's threshold)."""

from __future__ import annotations

from typing import Any

import pytest

from detectors.config import DetectionConfig
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from tests.helpers import (
    HARVEST_FRAME,
    ROOT,
    encode,
    harvest_events,
    harvest_text,
    make_event,
    topic_text,
)

T0 = 1_771_840_800.0  # 2026-02-23T10:00:00Z


@pytest.fixture(scope="module")
def config() -> DetectionConfig:
    return load_config(ROOT / "config" / "detectors.yaml")


async def final_risks(
    config: DetectionConfig, events: list[dict[str, Any]]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Every rule's risk on the last account judged, and the alerts on the way."""
    pipeline = DetectionPipeline(config, MemoryWindowStore(), record_risk=True)
    alerts: list[dict[str, Any]] = []
    risks: dict[str, float] = {}
    payloads = encode(events)
    for start in range(0, len(payloads), 100):
        outcome = await pipeline.process(payloads[start : start + 100])
        alerts += outcome.alerts
        await pipeline.confirm_sent(outcome)
        risks = dict(zip(outcome.rule_ids, outcome.rule_risks[-1], strict=True))
    return risks, alerts


def paced(n: int, spacing: float = 60.0, **fields: Any) -> list[dict[str, Any]]:
    """n single-turn requests of one account, one every `spacing` seconds."""
    return [make_event("acct_t", T0 + i * spacing, **fields) for i in range(n)]


async def test_a_templated_reasoning_harvest_pages_with_its_signals(
    config: DetectionConfig,
) -> None:
    risks, alerts = await final_risks(config, harvest_events("acct_t", 240))
    for rule in ("volume_harvest", "template_concentration", "reasoning_elicitation"):
        assert risks[rule] >= 1.0, (rule, risks)
    assert [a["rule_id"] for a in alerts] == ["extraction_combined"]


async def test_a_rag_app_frames_documents_but_takes_little_out(config: DetectionConfig) -> None:
    """Digest: one frame, varied retrieved passages, ~0.1 output token per input token."""
    events = [
        make_event("acct_t", T0 + i * 60, text=f"Context:\n{harvest_text(i)}\n\nQuestion: q{i}?",
                   usage={"input_tokens": 2400, "output_tokens": 240})
        for i in range(240)
    ]  # fmt: skip
    risks, alerts = await final_risks(config, events)
    assert risks["volume_harvest"] < 1.0 and risks["template_concentration"] < 1.0
    assert alerts == []


async def test_a_translation_pipeline_transforms_its_payloads(config: DetectionConfig) -> None:
    """One frame and generous outputs, but output length follows input length."""
    events = [
        make_event("acct_t", T0 + i * 60,
                   text=f"Translate into German.\n\n{topic_text(i) * (i % 7 + 1)}",
                   usage={"input_tokens": 60 * (i % 7 + 1), "output_tokens": 75 * (i % 7 + 1)})
        for i in range(240)
    ]  # fmt: skip
    risks, alerts = await final_risks(config, events)
    assert risks["template_concentration"] < 1.0
    assert alerts == []


async def test_benchmark_reruns_repeat_their_items(config: DetectionConfig) -> None:
    """A generative benchmark in a fixed frame, run three times: few distinct payloads."""
    items = [f"Question: {topic_text(i)}\nAnswer:" for i in range(80)]
    events = [make_event("acct_t", T0 + i * 60, text=items[i % 80]) for i in range(240)]
    risks, alerts = await final_risks(config, events)
    assert risks["volume_harvest"] >= 1.0  # single-turn, complete, generative...
    assert risks["template_concentration"] < 1.0  # ...but the payloads repeat
    assert alerts == []


async def test_a_tutoring_app_asks_for_reasoning_in_conversations(
    config: DetectionConfig,
) -> None:
    events = paced(240, text=harvest_text(0), single_turn=False)
    for i, event in enumerate(events):  # the student's follow-up, with the app's demand
        event["request"]["messages"][-1]["content"] = f"{topic_text(i)}\n\n{HARVEST_FRAME}"
    risks, alerts = await final_risks(config, events)
    assert risks["reasoning_elicitation"] >= 1.0
    assert risks["volume_harvest"] < 1.0 and alerts == []


async def test_bulk_users_with_tight_budgets_run_into_max_tokens(
    config: DetectionConfig,
) -> None:
    events = [
        make_event("acct_t", T0 + i * 60, text=harvest_text(i), max_tokens=256,
                   output_tokens=256, finish="length" if i % 4 else "stop")
        for i in range(240)
    ]  # fmt: skip
    risks, alerts = await final_risks(config, events)
    assert risks["volume_harvest"] < 1.0 and alerts == []


def bias_event(i: int, ids: range | list[int]) -> dict[str, Any]:
    return make_event(
        "acct_t",
        T0 + i * 6,
        text="Say yes.",
        max_tokens=1,
        output_tokens=1,
        request={"messages": [{"role": "user", "content": "Say yes."}], "max_tokens": 1,
                 "logprobs": True, "top_logprobs": 5,
                 "logit_bias": {str(t): 100 for t in ids}},
    )  # fmt: skip


async def test_a_logit_bias_sweep_pages_critical(config: DetectionConfig) -> None:
    events = [bias_event(i, range(i * 300, i * 300 + 300)) for i in range(20)]
    risks, alerts = await final_risks(config, events)
    assert risks["logit_probe"] >= 1.0
    assert [(a["rule_id"], a["severity"]) for a in alerts] == [("logit_probe", "critical")]


async def test_an_alert_says_when_the_prompt_text_was_not_logged(
    config: DetectionConfig,
) -> None:
    """A gateway with message logging off (LiteLLM's redaction, Kong without log_payloads)
    still shows the sweep; the alert tells on-call that the text signals saw nothing."""
    logged = [bias_event(i, range(i * 300, i * 300 + 300)) for i in range(20)]
    _, (with_text,) = await final_risks(config, logged)
    redacted = [{**e, "request": {**e["request"], "messages": []}} for e in logged]
    _, (without,) = await final_risks(config, redacted)
    numbers, blind = with_text["evidence"]["logit_probe"], without["evidence"]["logit_probe"]
    assert numbers["requests_with_prompt_text"] == numbers["requests"] > 0
    assert "Prompt text" not in with_text["summary"]
    assert (blind["requests_with_prompt_text"], blind["requests"]) == (0, numbers["requests"])
    assert (
        f"Prompt text was logged for only 0 of {blind['requests']} requests" in (without["summary"])
    )


async def test_a_fixed_ban_list_is_not_a_sweep(config: DetectionConfig) -> None:
    """A content filter biasing the same 1,500 token ids down on every request."""
    events = [bias_event(i, range(50_000, 51_500)) for i in range(60)]
    risks, alerts = await final_risks(config, events)
    assert risks["logit_probe"] < 1.0 and alerts == []


async def test_low_and_slow_accumulates_over_days(config: DetectionConfig) -> None:
    """15 harvest requests a day: never enough for a 24-hour decision, enough over a week."""
    events = [
        make_event("acct_t", T0 + day * 86400 + k * 5400, text=harvest_text(day * 15 + k))
        for day in range(4)
        for k in range(15)
    ]
    risks, alerts = await final_risks(config, events)
    assert risks["extraction_combined"] < 1.0
    assert [a["rule_id"] for a in alerts] == ["low_and_slow"]


async def test_volume_far_over_the_tier_limit_raises_the_page(config: DetectionConfig) -> None:
    """A templated harvest (no elicitation: score 2.25, a `high` page) at 1,000 requests an
    hour on a free tier (300): the harvest shape asks for critical, and the page follows."""
    events = [
        make_event("acct_t", T0 + i * 3.6, text=f"{topic_text(i)}\n\nAnswer in detail.",
                   tier="free")
        for i in range(3100)
    ]  # fmt: skip
    _, alerts = await final_risks(config, events)
    assert [(a["rule_id"], a["severity"]) for a in alerts] == [("extraction_combined", "critical")]
    evidence = alerts[0]["evidence"]["extraction_score"]
    assert evidence["score"] < 3.5  # not critical by score
    assert "1h.requests" in evidence["signals"]["volume_harvest"]["volume"]["limits_crossed"]


def model_events(
    start: float, hours: float, share_new: float, account: str = "acct_t"
) -> list[dict[str, Any]]:
    """A templated harvest of one request every 3 minutes, `share_new` of it on the new model."""
    count = int(hours * 20)
    return [
        make_event(account, start + i * 180, text=harvest_text(i),
                   model="frontier-large-2" if (i % 10) < share_new * 10 else "frontier-large")
        for i in range(count)
    ]  # fmt: skip


async def test_an_established_account_pivoting_to_a_new_model(config: DetectionConfig) -> None:
    """Another account keeps the registry busy from T0; the new model first appears 12 hours
    later (after the registry's warm-up), and the harvester moves 60% of its traffic to it."""
    before = model_events(T0, 12, 0.0)
    after = model_events(T0 + 12 * 3600, 6, 0.6)
    for i, event in enumerate(after):
        event["event_id"] = f"after-{i}"
    risks, _ = await final_risks(config, before + after)
    assert risks["model_pivot"] >= 1.0


async def test_a_new_customer_on_a_new_model_is_not_a_pivot(config: DetectionConfig) -> None:
    registry = [make_event("acct_other", T0 + h * 3600) for h in range(12)]
    newcomer = model_events(T0 + 12 * 3600, 6, 1.0)
    risks, _ = await final_risks(config, registry + newcomer)
    assert risks["model_pivot"] < 1.0  # no history before the release


async def test_every_model_is_old_during_the_registrys_warm_up(config: DetectionConfig) -> None:
    early = model_events(T0, 2, 0.0) + model_events(T0 + 2 * 3600, 4, 0.6)
    for i, event in enumerate(early):
        event["event_id"] = f"e-{i}"
    risks, _ = await final_risks(config, sorted(early, key=lambda e: e["timestamp"]))
    assert risks["model_pivot"] < 1.0  # "frontier-large-2" was first seen 2 h in: not a release


async def test_an_account_whose_requests_change_kind(config: DetectionConfig) -> None:
    """Two days of ordinary questions, then code requests only: the mix moves from its own
    history. An account that keeps asking the same kinds of things does not."""
    ordinary = [make_event("acct_t", T0 + i * 1800, text=topic_text(i)) for i in range(96)]
    code = [
        make_event("acct_t", T0 + 2 * 86400 + i * 1440,
                   text=f"Write a Python function and unit tests for case {i}.\\n```python\\n```")
        for i in range(60)
    ]  # fmt: skip
    risks, _ = await final_risks(config, ordinary + code)
    assert risks["distribution_shift"] >= 1.0
    steady = [make_event("acct_t", T0 + i * 1800, text=topic_text(i)) for i in range(156)]
    risks, _ = await final_risks(config, steady)
    assert risks["distribution_shift"] < 1.0
