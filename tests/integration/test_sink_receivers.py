"""Sinks against real HTTP receivers (aiohttp.web on 127.0.0.1, in this process).

No external service: each receiver runs in its own thread and event loop, so the same
receivers serve async tests and `cmd_notify` (which runs its own loop). The webhook receiver
verifies signatures with a verifier written here from the Standard Webhooks spec (hmac,
hashlib, base64), independent of the `standardwebhooks` package the sink signs with.
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from streams.notify import add_notify_parser, cmd_notify
from streams.sinks.alertmanager import AlertmanagerSink
from streams.sinks.config import DeliveryConfig
from streams.sinks.delivery import RetrySchedule, deliver_with_retry
from streams.sinks.pagerduty import PagerDutySink
from streams.sinks.slack import SlackSink
from streams.sinks.webhook import WebhookSink
from tests.http_receivers import (
    TOLERANCE_SECONDS,
    Receiver,
    Rejected,
    lower_keys,
    sign,
    verify,
    webhook_judge,
)

OLD = "whsec_" + base64.b64encode(b"old-rotation-secret-32-bytes-key").decode()
NEW = "whsec_" + base64.b64encode(b"new-rotation-secret-32-bytes-key").decode()
FAST = RetrySchedule(initial_backoff_seconds=0.01, max_backoff_seconds=0.05, horizon_seconds=30)


def alert(n: int = 1, status: str = "firing", **changes: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "schema_version": 1,
        "alert_id": f"alert-{n}-{status}",
        "dedup_key": "reasoning_elicitation:account:acct_42",
        "rule_id": "reasoning_elicitation",
        "status": status,
        "severity": "high",
        "score": 0.9,
        "subject": {"kind": "account", "account_id": "acct_42", "accounts": ["acct_42"]},
        "fired_at": "2026-02-23T09:58:00.000Z",
        "window": "1h",
        "evidence": {"requests": 412, "cot_share": 0.83},
        "summary": "acct_42 asks for step-by-step reasoning on 83% of 412 requests",
        "tags": [],
        "runbook_url": "https://distillwatch.dev/runbooks/reasoning_elicitation",
    }
    if status == "resolved":
        made |= {"transition": "resolved", "sequence": 2, "changed_at": "2026-02-23T11:00:00Z"}
    return made | changes


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(*args: Any, **kwargs: Any) -> Receiver:
        receiver = Receiver(*args, **kwargs).__enter__()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__()


async def test_webhook_signature_verified_by_independent_receiver(
    receivers: Callable[..., Receiver],
) -> None:
    hook = receivers(judge=webhook_judge([NEW]))
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink("hook", f"{hook.url}/hook", [NEW], session)
        result = await deliver_with_retry(sink, alert(), FAST)
        assert (result.outcome, result.attempts) == ("sent", 1)
        wrong = WebhookSink("wrong", f"{hook.url}/hook", [OLD], session)
        refused = await deliver_with_retry(wrong, alert(2), FAST)
        assert (refused.outcome, refused.attempts, refused.reason) == ("parked", 1, "http_401")

    genuine = hook.requests()[0]
    headers = lower_keys(genuine.headers)
    assert genuine.body == orjson.dumps(alert())  # the bytes that were signed
    assert headers["webhook-id"] == "alert-1-firing"
    assert headers["content-type"] == "application/json"
    now = time.time()
    assert abs(now - int(headers["webhook-timestamp"])) < 60  # signed at delivery time
    verify(NEW, headers, genuine.body, now)
    with pytest.raises(Rejected, match="signature"):
        verify(NEW, headers, genuine.body.replace(b"0.9", b"0.1"), now)  # tampered body
    with pytest.raises(Rejected, match="signature"):
        verify(OLD, headers, genuine.body, now)  # a secret the sender did not use
    stale = str(int(now) - TOLERANCE_SECONDS - 60)
    old_headers = headers | {
        "webhook-timestamp": stale,
        "webhook-signature": sign(NEW, headers["webhook-id"], stale, genuine.body),
    }
    with pytest.raises(Rejected, match="timestamp"):
        verify(NEW, old_headers, genuine.body, now)
    verify(NEW, old_headers, genuine.body, float(stale))  # the same signature, in its time


async def test_webhook_rotation_receiver_knows_only_the_new_secret(
    receivers: Callable[..., Receiver],
) -> None:
    hook = receivers(judge=webhook_judge([NEW]))
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink("hook", hook.url, [OLD, NEW], session)
        result = await deliver_with_retry(sink, alert(), FAST)
    assert result.outcome == "sent"
    assert len(lower_keys(hook.requests()[0].headers)["webhook-signature"].split(" ")) == 2


async def test_pagerduty_retried_until_accepted(receivers: Callable[..., Receiver]) -> None:
    pd = receivers(statuses=[429, 500, 202])
    async with aiohttp.ClientSession() as session:
        sink = PagerDutySink("pager", "ROUTING", session, url=f"{pd.url}/v2/enqueue")
        result = await deliver_with_retry(sink, alert(), FAST)
    assert (result.outcome, result.attempts) == ("sent", 3)
    events = [got.json() for got in pd.requests()]
    assert len(events) == 3 and all(event == events[0] for event in events)
    assert events[0]["routing_key"] == "ROUTING"
    assert events[0]["event_action"] == "trigger"
    assert {got.path for got in pd.requests()} == {"/v2/enqueue"}


async def test_pagerduty_bad_request_parked(receivers: Callable[..., Receiver]) -> None:
    pd = receivers(statuses=[400, 202])
    async with aiohttp.ClientSession() as session:
        sink = PagerDutySink("pager", "ROUTING", session, url=pd.url)
        result = await deliver_with_retry(sink, alert(), FAST)
    assert (result.outcome, result.attempts, result.reason) == ("parked", 1, "http_400")
    assert len(pd.requests()) == 1


async def test_connection_refused_is_retried_then_parked() -> None:
    async with aiohttp.ClientSession() as session:
        sink = PagerDutySink("pager", "ROUTING", session, url="http://127.0.0.1:9/")
        short = RetrySchedule(0.01, 0.02, horizon_seconds=0.1)
        result = await deliver_with_retry(sink, alert(), short)
    assert result.outcome == "parked" and result.reason == "connect"
    assert result.attempts >= 2


async def test_slack_gets_firing_then_resolved(receivers: Callable[..., Receiver]) -> None:
    slack = receivers()
    async with aiohttp.ClientSession() as session:
        sink = SlackSink("slack", f"{slack.url}/services/T/B/X", session)
        for message in (alert(), alert(status="resolved")):
            assert (await deliver_with_retry(sink, message, FAST)).outcome == "sent"
    first, second = (got.json() for got in slack.requests())
    assert first["blocks"][0]["text"]["text"] == "FIRING · high · reasoning_elicitation"
    assert second["blocks"][0]["text"]["text"] == "RESOLVED · high · reasoning_elicitation"
    assert second["text"].startswith("RESOLVED")


async def test_alertmanager_every_instance_and_only_failed_ones_again(
    receivers: Callable[..., Receiver],
) -> None:
    healthy, flaky = receivers(), receivers(statuses=[503])
    async with aiohttp.ClientSession() as session:
        sink = AlertmanagerSink("am", [healthy.url, flaky.url], session, ends_after_seconds=240.0)
        result = await deliver_with_retry(sink, alert(), FAST)
        assert (result.outcome, result.attempts) == ("sent", 2)
        assert (len(healthy.requests()), len(flaky.requests())) == (1, 2)
        await sink.refresh([alert(1), alert(2), alert(3, severity="info")])
    for instance in (healthy, flaky):
        last = instance.requests()[-1]
        assert last.path == "/api/v2/alerts"
        assert [posted["annotations"]["alert_id"] for posted in last.json()] == [
            "alert-1-firing",
            "alert-2-firing",
            "alert-3-firing",
        ]


async def test_alertmanager_re_send_never_posts_a_step_older_than_one_it_posted(
    receivers: Callable[..., Receiver],
) -> None:
    """The dispatcher reads the active alerts, then re-sends them: a resolution posted in
    between must not be undone by the firing step it read."""
    am = receivers()
    async with aiohttp.ClientSession() as session:
        sink = AlertmanagerSink("am", [am.url], session, ends_after_seconds=240.0)
        read_before = [alert(1)]
        await sink.deliver(alert(1, "resolved"))
        await sink.refresh(read_before)
        await sink.refresh([alert(2, dedup_key="volume_harvest:account:acct_7")])  # re-sent
    posts = [[a["annotations"]["alert_id"] for a in r.json()] for r in am.requests()]
    assert posts == [["alert-1-resolved"], ["alert-2-firing"]]


def test_notify_end_to_end(
    receivers: Callable[..., Receiver], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = receivers(judge=webhook_judge([NEW]))
    am = receivers()
    alerts = tmp_path / "alerts.jsonl"
    lines = [orjson.dumps(alert(1)), b"{not json", orjson.dumps(alert(1, status="resolved"))]
    alerts.write_bytes(b"\n".join(lines) + b"\n")
    parser = argparse.ArgumentParser()
    add_notify_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["notify", str(alerts), "--webhook", f"{hook.url}/in", "--webhook-secret", NEW,
         "--alertmanager", am.url, "--horizon", "5"]
    )  # fmt: skip
    code = cmd_notify(args)
    captured = capsys.readouterr()
    assert code == 1  # every alert delivered, but a line was bad
    assert "line 2:" in captured.err and "not JSON" in captured.err
    assert [got.json()["alert_id"] for got in hook.requests()] == [
        "alert-1-firing",
        "alert-1-resolved",
    ]
    assert len(am.requests()) == 2
    assert am.requests()[1].json()[0]["endsAt"] == "2026-02-23T11:00:00Z"
    rows = {line.split("│")[1].strip(): line for line in captured.out.splitlines() if "│" in line}
    assert [cell.strip() for cell in rows["webhook"].split("│")[2:6]] == ["webhook", "2", "0", "0"]
    assert [cell.strip() for cell in rows["alertmanager"].split("│")[3:6]] == ["2", "0", "0"]

    good = tmp_path / "good.jsonl"
    good.write_bytes(lines[0] + b"\n")
    args = parser.parse_args(["notify", str(good), "--webhook", hook.url, "--webhook-secret", OLD])
    assert cmd_notify(args) == 1  # the receiver refuses the wrong secret: parked
    assert "parked:" in capsys.readouterr().err
    args = parser.parse_args(["notify", str(good), "--webhook", hook.url, "--webhook-secret", NEW])
    assert cmd_notify(args) == 0


def test_notify_needs_a_sink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_notify_parser(parser.add_subparsers(dest="command"))
    assert cmd_notify(parser.parse_args(["notify", str(tmp_path / "none.jsonl")])) == 2
    assert "no sink to deliver to" in capsys.readouterr().err


def test_default_delivery_settings_are_the_documented_ones() -> None:
    assert DeliveryConfig() == DeliveryConfig(
        timeout_seconds=10, initial_backoff_seconds=1, max_backoff_seconds=60, horizon_seconds=3600
    )
