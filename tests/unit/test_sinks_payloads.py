"""What each sink sends for one alert message, without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import aiohttp
import orjson
import pytest

from detectors.alerts import rfc3339
from streams.sinks.alertmanager import DESCRIPTION_CHARS, AlertmanagerSink
from streams.sinks.base import AlertState, alert_state, subject_id
from streams.sinks.http import classify, retry_after_seconds
from streams.sinks.pagerduty import SUMMARY_CHARS, pagerduty_event
from streams.sinks.slack import slack_message
from streams.sinks.webhook import WebhookSink

NOW = 1_771_840_800.0  # 2026-02-23T10:00:00Z
SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 24).decode()


def old_alert(**changes: Any) -> dict[str, Any]:
    """An alert as written before the state-change fields existed."""
    alert: dict[str, Any] = {
        "schema_version": 1,
        "alert_id": "6f1c2d7e-0000-5000-8000-000000000001",
        "dedup_key": "reasoning_elicitation:account:acct_42",
        "rule_id": "reasoning_elicitation",
        "status": "firing",
        "severity": "high",
        "score": 0.87,
        "subject": {"kind": "account", "account_id": "acct_42", "accounts": ["acct_42"]},
        "fired_at": "2026-02-23T09:58:00.000Z",
        "window": "1h",
        "evidence": {
            "requests": 412,
            "cot_share": 0.83,
            "frame_fingerprint": "fp_9a1b",
            "sampling": {"temperature_mode": 1.0, "flag": True},
        },
        "summary": "acct_42 asks for step-by-step reasoning on 83% of 412 requests",
        "tags": ["mitre-atlas:AML.T0024.002"],
        "runbook_url": "https://distillwatch.dev/runbooks/reasoning_elicitation",
    }
    alert.update(changes)
    return alert


def new_alert(transition: str = "updated", **changes: Any) -> dict[str, Any]:
    status = "resolved" if transition == "resolved" else "firing"
    return old_alert(
        status=status,
        transition=transition,
        sequence=3,
        changed_at="2026-02-23T09:59:30.000Z",
        last_seen_at="2026-02-23T09:59:10.000Z",
        suppressed=2,
        **changes,
    )


def am_sink(session: aiohttp.ClientSession) -> AlertmanagerSink:
    return AlertmanagerSink("am", ["http://am:9093"], session, ends_after_seconds=240.0)


def test_defaults_for_alerts_without_state_fields() -> None:
    assert alert_state(old_alert()) == AlertState(
        transition="firing",
        sequence=1,
        changed_at="2026-02-23T09:58:00.000Z",
        last_seen_at="2026-02-23T09:58:00.000Z",
        suppressed=0,
    )
    resolved = alert_state(old_alert(status="resolved"))
    assert resolved.transition == "resolved" and resolved.resolved
    given = alert_state(new_alert("updated"))
    assert (given.transition, given.sequence, given.suppressed) == ("updated", 3, 2)
    assert given.changed_at == "2026-02-23T09:59:30.000Z"
    assert given.last_seen_at == "2026-02-23T09:59:10.000Z"
    cluster = old_alert(subject={"kind": "cluster", "cluster_id": "c_7", "accounts": ["a", "b"]})
    assert subject_id(cluster) == "c_7"


async def test_alertmanager_labels_are_identity_only() -> None:
    async with aiohttp.ClientSession() as session:
        posted = am_sink(session).payload(new_alert("updated"), NOW)
    assert posted["labels"] == {
        "alertname": "reasoning_elicitation",
        "severity": "high",
        "subject_kind": "account",
        "subject_id": "acct_42",
        "dedup_key": "reasoning_elicitation:account:acct_42",
        "source": "distillwatch",
    }
    for volatile in ("evidence", "score", "alert_id", "sequence", "summary", "cot_share"):
        assert volatile not in posted["labels"]
    notes = posted["annotations"]
    assert notes["alert_id"] == "6f1c2d7e-0000-5000-8000-000000000001"
    assert notes["sequence"] == "3"
    assert notes["summary"].startswith("acct_42 asks")
    assert notes["runbook_url"] == posted["generatorURL"]
    assert all(isinstance(value, str) for value in notes.values())
    lines = notes["description"].splitlines()
    assert lines[:3] == ["window=1h", "score=0.87", "cot_share=0.83"]
    assert "requests=412" in lines and "sampling.temperature_mode=1" in lines
    assert "fp_9a1b" not in notes["description"]  # numbers only
    assert "flag" not in notes["description"]  # a bool is not a number
    assert posted["startsAt"] == "2026-02-23T09:58:00.000Z"
    assert posted["endsAt"] == rfc3339(NOW + 240.0)


async def test_alertmanager_resolved_ends_at_change_and_description_is_capped() -> None:
    async with aiohttp.ClientSession() as session:
        sink = am_sink(session)
        resolved = sink.payload(new_alert("resolved"), NOW)
        huge = sink.payload(old_alert(evidence={f"n{i:04}": i * 1.5 for i in range(2000)}), NOW)
    assert resolved["endsAt"] == "2026-02-23T09:59:30.000Z"
    assert resolved["labels"]["severity"] == "high"
    description = huge["annotations"]["description"]
    assert len(description) <= DESCRIPTION_CHARS
    assert description.splitlines()[-1].endswith("more")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("high", "error"), ("warning", "warning"), ("info", "info")],
)
def test_pagerduty_severity_mapping(severity: str, expected: str) -> None:
    event = pagerduty_event(old_alert(severity=severity), "rk")
    assert event["payload"]["severity"] == expected


def test_pagerduty_actions_and_payload() -> None:
    firing = pagerduty_event(old_alert(), "rk_1")
    assert firing["event_action"] == "trigger"
    assert firing["routing_key"] == "rk_1"
    assert firing["dedup_key"] == "reasoning_elicitation:account:acct_42"
    assert firing["client"] == "distillwatch"
    assert firing["links"] == [
        {"href": "https://distillwatch.dev/runbooks/reasoning_elicitation", "text": "runbook"}
    ]
    payload = firing["payload"]
    assert payload["source"] == "distillwatch"
    assert payload["timestamp"] == "2026-02-23T09:58:00.000Z"  # changed_at defaults to fired_at
    assert (payload["component"], payload["group"], payload["class"]) == (
        "account",
        "reasoning_elicitation",
        "reasoning_elicitation",
    )
    details = payload["custom_details"]
    assert details["alert_id"] == old_alert()["alert_id"]
    assert (details["sequence"], details["suppressed"], details["score"]) == (1, 0, 0.87)
    assert details["evidence"]["requests"] == 412

    updated = pagerduty_event(new_alert("updated"), "rk_1")
    assert updated["event_action"] == "trigger"
    assert updated["dedup_key"] == firing["dedup_key"]
    assert updated["payload"]["timestamp"] == "2026-02-23T09:59:30.000Z"
    assert updated["payload"]["custom_details"]["sequence"] == 3

    resolved = pagerduty_event(new_alert("resolved"), "rk_1")
    assert resolved == {
        "routing_key": "rk_1",
        "event_action": "resolve",
        "dedup_key": firing["dedup_key"],
    }
    long = pagerduty_event(old_alert(summary="x" * 5000), "rk_1")
    assert len(long["payload"]["summary"]) == SUMMARY_CHARS


def test_slack_message_firing_and_resolved() -> None:
    firing = slack_message(old_alert())
    assert firing["blocks"][0]["text"]["text"] == "FIRING · high · reasoning_elicitation"
    dumped = orjson.dumps(firing).decode()
    assert "acct_42 asks for step-by-step reasoning" in firing["text"]
    assert "https://distillwatch.dev/runbooks/reasoning_elicitation" in firing["text"]
    assert "<https://distillwatch.dev/runbooks/reasoning_elicitation|Runbook>" in dumped
    assert "reasoning_elicitation:account:acct_42" in dumped  # dedup_key
    assert "account acct_42" in dumped
    fields = next(block["fields"] for block in firing["blocks"] if "fields" in block)
    assert [field["text"].split("\n")[0] for field in fields] == [
        "*score*",
        "*cot_share*",
        "*requests*",
        "*sampling.temperature_mode*",
    ]
    updated = slack_message(new_alert("updated"))
    assert updated["blocks"][0]["text"]["text"].startswith("UPDATED · high")
    resolved = slack_message(new_alert("resolved"))
    assert resolved["blocks"][0]["text"]["text"] == "RESOLVED · high · reasoning_elicitation"
    assert resolved["text"].startswith("RESOLVED")
    assert "*Resolved* at 2026-02-23T09:59:30.000Z" in orjson.dumps(resolved).decode()


def test_slack_escapes_text_from_events() -> None:
    message = slack_message(old_alert(summary="acct <@here> & co"))
    assert "acct &lt;@here&gt; &amp; co" in message["blocks"][1]["text"]["text"]
    assert "<@here>" not in orjson.dumps(message).decode()


async def test_webhook_signs_body_with_every_secret() -> None:
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink("hook", "http://hook", [SECRET, OTHER_SECRET], session)
        body, headers = sink.signed(new_alert(), NOW + 0.9)
    assert orjson.loads(body) == new_alert()
    assert headers["webhook-id"] == new_alert()["alert_id"]
    assert headers["webhook-timestamp"] == str(int(NOW))
    assert headers["content-type"] == "application/json"
    signatures = headers["webhook-signature"].split(" ")
    signed = f"{headers['webhook-id']}.{int(NOW)}.".encode() + body
    for secret, signature in zip((SECRET, OTHER_SECRET), signatures, strict=True):
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        assert signature == "v1," + base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("status", "reason", "retryable"),
    [
        (202, None, None),
        (204, None, None),
        (400, "http_400", False),
        (403, "http_403", False),
        (301, "http_301", False),
        (408, "http_408", True),
        (425, "http_425", True),
        (429, "http_429", True),
        (500, "http_500", True),
        (503, "http_503", True),
    ],
)
def test_http_classification(status: int, reason: str | None, retryable: bool | None) -> None:
    error = classify(status, {}, "")
    if reason is None:
        assert error is None
    else:
        assert error is not None
        assert (error.reason, error.retryable) == (reason, retryable)


def test_retry_after_only_on_429_and_503() -> None:
    for status in (429, 503):
        error = classify(status, {"Retry-After": "7"}, "slow down")
        assert error is not None and error.retry_after == 7.0
    error = classify(500, {"Retry-After": "7"}, "")
    assert error is not None and error.retry_after is None
    assert retry_after_seconds("Mon, 23 Feb 2026 10:00:30 GMT", now=NOW) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") == 0.0
