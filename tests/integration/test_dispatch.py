"""The dispatcher against real services: a Kafka alerts topic, Redis for its cursors, real
Alertmanagers (two from `make test`, and one of the test's own to stop and start), and local
HTTP receivers for the webhook and PagerDuty sinks.

The contract: every state change of every incident reaches every sink that wants it exactly
once: through receiver outages (retried, never lost), copies on the topic (a worker's
re-send: skipped) and dispatcher restarts (resumed from the last commit, no second page)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from prometheus_client import CollectorRegistry

from detectors.findings import Finding
from detectors.lifecycle import Crossing, expire, observe
from streams.dispatcher import dispatch
from streams.kafka_admin import ensure_topics
from streams.sinks.config import SinksConfig, validate_sinks
from streams.sinks.metrics import SinkMetrics
from tests.alertmanager_process import AlertmanagerProcess, list_alerts
from tests.http_receivers import NEW_SECRET, Received, Receiver, webhook_judge
from tests.integration.harness import TopicReader, produce

pytestmark = pytest.mark.integration
T = TypeVar("T")
T0 = 1_790_000_000.0  # alerts in Alertmanager need a recent startsAt: see `incident`
HOLD = 3600.0
FAST = {"initial_backoff_seconds": 0.05, "max_backoff_seconds": 0.3, "horizon_seconds": 120}


async def eventually(check: Callable[[], T | None], what: str, deadline_s: float = 60.0) -> T:
    """Poll `check` (run in a thread: it may block) until truthy, with a deadline."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    delay = 0.05
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if loop.time() > end:
            raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}")
        await asyncio.sleep(delay)  # polling interval under a deadline
        delay = min(delay * 1.5, 0.5)


def incident(severities: Sequence[str], resolve: bool, started: float) -> list[dict[str, Any]]:
    """The messages of one incident as the lifecycle makes them: firing, an update per rise
    in severity, and the resolution."""
    account = f"acct_{uuid.uuid4().hex[:10]}"
    state = None
    messages: list[dict[str, Any]] = []
    for step, severity in enumerate(severities):
        finding = Finding(
            rule_id="reasoning_elicitation",
            account_id=account,
            severity=severity,
            score=0.8,
            window="1h",
            evidence={"requests": 400 + step, "cot_share": 0.83},
            summary=f"Account {account}: asks for step-by-step reasoning on 83% of requests",
        )
        decision = observe(
            state, [Crossing(finding, started + 60 * step)], "p:0", HOLD, "https://rb/"
        )
        state = decision.state or state
        messages += decision.messages
    if resolve and state is not None:
        messages += expire(state, started + 10 * HOLD).messages
    return messages


@pytest.fixture
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    run = uuid.uuid4().hex[:8]
    alerts, parked = f"it-{run}-alerts", f"it-{run}-alerts.parked"
    ensure_topics(kafka_bootstrap, {alerts: {}, parked: {}}, partitions=1)
    return alerts, parked


def send(bootstrap: str, topic: str, alerts: Sequence[dict[str, Any]]) -> None:
    produce(bootstrap, topic, [(a["dedup_key"].encode(), orjson.dumps(a)) for a in alerts])


@asynccontextmanager
async def dispatcher(
    config: SinksConfig,
    bootstrap: str,
    redis_url: str,
    topics: tuple[str, str],
    prefix: str,
    metrics: SinkMetrics | None = None,
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        dispatch(
            config,
            bootstrap,
            redis_url,
            alerts_topic=topics[0],
            parked_topic=topics[1],
            group_prefix=f"{prefix}-sink",
            key_prefix=prefix,
            metrics=metrics,
            stop=stop,
        )
    )
    try:
        yield
        assert not task.done(), task.exception()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


class Accepting:
    """A receiver's judge that answers `down_status` while `down` is set, else what `then`
    says; remembers what it accepted (2xx)."""

    def __init__(self, then: Callable[[Received], tuple[int, dict[str, str]]]) -> None:
        self.down = threading.Event()
        self.then = then
        self.accepted: list[Received] = []
        self.refused = 0

    def __call__(self, got: Received) -> tuple[int, dict[str, str]]:
        if self.down.is_set():
            self.refused += 1
            return 503, {}
        status, headers = self.then(got)
        if status < 300:
            self.accepted.append(got)
        return status, headers


def am_alerts(url: str, dedup_key: str, active: bool = True) -> list[dict[str, Any]]:
    return list_alerts(url, [f'dedup_key="{dedup_key}"'], active=active)


async def test_an_alert_reaches_every_alertmanager_with_its_identity_and_resolves(
    kafka_bootstrap: str,
    redis_url: str,
    alertmanager_urls: list[str],
    topics: tuple[str, str],
    key_prefix: str,
) -> None:
    # Resolved a hold-down after its only crossing: both in the past, as live.
    firing, *_, resolved = incident(["high"], resolve=True, started=time.time() - 2 * HOLD)
    key = firing["dedup_key"]
    config = validate_sinks(
        {"sinks": [{"name": "am", "type": "alertmanager", "urls": alertmanager_urls,
                    "resend_seconds": 1, "delivery": FAST}]},
        "test",
    )  # fmt: skip
    async with dispatcher(config, kafka_bootstrap, redis_url, topics, key_prefix):
        send(kafka_bootstrap, topics[0], [firing])
        for url in alertmanager_urls:
            (shown,) = await eventually(partial(am_alerts, url, key), f"the alert in {url}")
            assert shown["labels"] == {
                "alertname": "reasoning_elicitation",
                "severity": "high",
                "subject_kind": "account",
                "subject_id": firing["subject"]["account_id"],
                "dedup_key": key,
                "source": "distillwatch",
            }
            notes = shown["annotations"]
            assert notes["summary"] == firing["summary"]
            assert notes["alert_id"] == firing["alert_id"]
            assert notes["runbook_url"] == firing["runbook_url"]
            assert "cot_share=0.83" in notes["description"]
            assert shown["startsAt"].startswith(firing["fired_at"][:19])
            # Re-sent on its interval: endsAt moves on while the alert is active.
            await eventually(partial(ends_later, url, key, shown["endsAt"]), "a re-send")
        send(kafka_bootstrap, topics[0], [resolved])
        for url in alertmanager_urls:
            await eventually(partial(gone, url, key), f"the resolution in {url}")


def ends_later(url: str, dedup_key: str, ends: str) -> bool:
    return any(a["endsAt"] > ends for a in am_alerts(url, dedup_key))


def gone(url: str, dedup_key: str) -> bool:
    return not am_alerts(url, dedup_key)


async def test_receiver_outages_deliver_every_state_change_once(
    kafka_bootstrap: str,
    redis_url: str,
    topics: tuple[str, str],
    key_prefix: str,
    tmp_path: Path,
) -> None:
    now = time.time() - 2 * HOLD
    first = incident(["high", "critical"], resolve=True, started=now)  # fire, update, resolve
    second = incident(["warning"], resolve=False, started=now + 5)
    changes = [first[0], second[0], first[1], first[2]]
    webhook = Accepting(webhook_judge([NEW_SECRET]))
    pd_statuses = [429, 500]

    def pagerduty_answer(got: Received) -> tuple[int, dict[str, str]]:
        return (pd_statuses.pop(0) if pd_statuses else 202), {}

    pagerduty = Accepting(pagerduty_answer)
    registry = CollectorRegistry()
    with (
        Receiver(judge=webhook) as hook,
        Receiver(judge=pagerduty) as pd,
        AlertmanagerProcess(tmp_path / "am") as am,
    ):
        config = validate_sinks(
            {"sinks": [
                {"name": "am", "type": "alertmanager", "urls": [am.url], "delivery": FAST},
                {"name": "hook", "type": "webhook", "url": hook.url + "/alerts",
                 "secrets": [NEW_SECRET], "delivery": FAST},
                {"name": "pd", "type": "pagerduty", "url": pd.url + "/v2/enqueue",
                 "routing_key": "R0UT1NGKEY", "delivery": FAST},
            ]},
            "test",
        )  # fmt: skip
        webhook.down.set()
        am.stop()
        async with dispatcher(
            config, kafka_bootstrap, redis_url, topics, key_prefix, SinkMetrics.create(registry)
        ):
            # A worker that re-sent a batch puts copies on the topic: skipped, not re-paged.
            send(kafka_bootstrap, topics[0], [*changes, changes[1], changes[0]])
            await eventually(lambda: webhook.refused >= 3, "the webhook receiver refusing")
            retried = registry.get_sample_value(
                "distillwatch_sink_failed_attempts_total", {"sink": "am", "then": "retried"}
            )
            assert retried, "Alertmanager down: its deliveries are being retried"
            webhook.down.clear()
            am.start()
            expected_ids = [c["alert_id"] for c in changes]
            await eventually(
                lambda: len(webhook.accepted) >= len(changes), "every change at the webhook"
            )
            await eventually(lambda: len(pagerduty.accepted) >= len(changes), "every change at PD")
            await eventually(lambda: am_alerts(am.url, second[0]["dedup_key"]), "the second in AM")
            await eventually(partial(gone, am.url, first[0]["dedup_key"]), "the first resolved")
            await eventually(
                lambda: (
                    registry.get_sample_value(
                        "distillwatch_sink_skipped_total", {"sink": "hook", "reason": "delivered"}
                    )
                    == 2
                ),
                "both copies skipped",
            )
        assert [r.headers["webhook-id"] for r in webhook.accepted] == expected_ids
        events = [(r.json()["dedup_key"], r.json()["event_action"]) for r in pagerduty.accepted]
        assert events == [
            (first[0]["dedup_key"], "trigger"),
            (second[0]["dedup_key"], "trigger"),
            (first[0]["dedup_key"], "trigger"),
            (first[0]["dedup_key"], "resolve"),
        ]
    for sink in ("am", "hook", "pd"):
        parked = registry.get_sample_value(
            "distillwatch_sink_deliveries_total", {"sink": sink, "outcome": "parked"}
        )
        assert not parked, sink


async def test_a_restarted_dispatcher_pages_nothing_twice_and_still_resolves(
    kafka_bootstrap: str,
    redis_url: str,
    topics: tuple[str, str],
    key_prefix: str,
) -> None:
    firing, resolved = incident(["high"], resolve=True, started=T0)
    webhook = Accepting(webhook_judge([NEW_SECRET]))
    with Receiver(judge=webhook) as hook:
        config = validate_sinks(
            {"sinks": [{"name": "hook", "type": "webhook", "url": hook.url,
                        "secrets": [NEW_SECRET], "delivery": FAST}]},
            "test",
        )  # fmt: skip
        async with dispatcher(config, kafka_bootstrap, redis_url, topics, key_prefix):
            send(kafka_bootstrap, topics[0], [firing])
            await eventually(lambda: webhook.accepted, "the page")
        # While it is down, the worker restarts too and sends the page again, then resolves.
        send(kafka_bootstrap, topics[0], [firing, resolved])
        async with dispatcher(config, kafka_bootstrap, redis_url, topics, key_prefix):
            await eventually(lambda: len(webhook.accepted) >= 2, "the resolution")
    assert [r.json()["transition"] for r in webhook.accepted] == ["firing", "resolved"]


async def test_what_can_never_be_delivered_is_parked_with_its_reason_and_the_rest_goes_on(
    kafka_bootstrap: str,
    redis_url: str,
    topics: tuple[str, str],
    key_prefix: str,
) -> None:
    refused, accepted = incident(["high"], False, T0)[0], incident(["high"], False, T0)[0]
    answers = [400]

    def answer(got: Received) -> tuple[int, dict[str, str]]:
        return (answers.pop(0) if answers else 202), {}

    pagerduty = Accepting(answer)
    with Receiver(judge=pagerduty) as pd:
        config = validate_sinks(
            {"sinks": [{"name": "pd", "type": "pagerduty", "url": pd.url,
                        "routing_key": "R0UT1NGKEY", "delivery": FAST}]},
            "test",
        )  # fmt: skip
        async with dispatcher(config, kafka_bootstrap, redis_url, topics, key_prefix):
            produce(kafka_bootstrap, topics[0], [(b"junk", b"{not json")])
            send(kafka_bootstrap, topics[0], [refused, accepted])
            await eventually(lambda: pagerduty.accepted, "the next alert delivered")
    assert [r.json()["dedup_key"] for r in pagerduty.accepted] == [accepted["dedup_key"]]
    reader = TopicReader(kafka_bootstrap, topics[1])
    try:
        parked: list[Any] = await eventually(
            lambda: reader.records if len(reader.poll()) >= 2 else None, "parked"
        )
    finally:
        reader.close()
    reasons = [dict(r.headers) for r in parked]
    assert [(h["dw-sink"], h["dw-reason"]) for h in reasons] == [
        (b"pd", b"bad_alert"),
        (b"pd", b"http_400"),
    ]
    assert parked[1].value == orjson.dumps(refused)  # as it was on the alerts topic
