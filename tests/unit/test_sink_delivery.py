"""Retry, park and count: deliver_with_retry on a scripted sink and a fake clock."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streams.sinks.base import DeliveryError, Sink
from streams.sinks.delivery import Attempt, RetrySchedule, deliver_with_retry
from streams.sinks.metrics import SinkMetrics

WALL = 1_771_840_800.0  # 2026-02-23T10:00:00Z
ALERT: dict[str, Any] = {
    "alert_id": "a-1",
    "rule_id": "reasoning_elicitation",
    "severity": "high",
    "status": "firing",
    "fired_at": "2026-02-23T09:59:00Z",
    "changed_at": "2026-02-23T09:59:50Z",
}


class ScriptedSink(Sink):
    """Fails with the scripted errors in turn, then accepts."""

    kind = "scripted"

    def __init__(self, errors: list[DeliveryError], metrics: SinkMetrics | None = None) -> None:
        super().__init__("scripted", metrics=metrics)
        self.errors = list(errors)
        self.calls = 0

    async def deliver(self, alert: Mapping[str, Any]) -> None:
        self.calls += 1
        alert["alert_id"]  # a malformed message fails here, as a real payload would
        if self.errors:
            raise self.errors.pop(0)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def schedule(
    fake: FakeTime, *, horizon: float = 60.0, jitter: float = 0.5, initial: float = 1.0
) -> RetrySchedule:
    return RetrySchedule(
        initial_backoff_seconds=initial,
        max_backoff_seconds=8.0,
        horizon_seconds=horizon,
        sleep=fake.sleep,
        clock=fake.clock,
        random=lambda: jitter,
    )


def retryable(reason: str = "http_503", after: float | None = None) -> DeliveryError:
    return DeliveryError(reason, retryable=True, retry_after=after)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_backoff_doubles_caps_and_jitters_within_bounds() -> None:
    plain = RetrySchedule(initial_backoff_seconds=0.5, max_backoff_seconds=10.0)
    assert [plain.ceiling(retry) for retry in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert plain.ceiling(10_000) == 10.0  # no overflow
    rng = random.Random(7)
    jittered = RetrySchedule(0.5, 10.0, random=rng.random)
    for retry in range(8):
        waits = [jittered.backoff(retry) for _ in range(300)]
        assert all(0.0 <= wait < jittered.ceiling(retry) for wait in waits)
        assert max(waits) - min(waits) > 0.5 * jittered.ceiling(retry)  # really spread


async def test_retryable_errors_then_sent() -> None:
    fake = FakeTime()
    sink = ScriptedSink([retryable("http_429"), retryable("http_500")])
    seen: list[Attempt] = []
    result = await deliver_with_retry(sink, ALERT, schedule(fake), on_attempt=seen.append)
    assert (result.outcome, result.attempts, result.reason) == ("sent", 3, None)
    assert fake.sleeps == [0.5, 1.0]  # jitter 0.5 of 1 s, then of 2 s
    assert result.seconds == 1.5
    assert [(a.number, a.error is None, a.retry_in) for a in seen] == [
        (1, False, 0.5),
        (2, False, 1.0),
        (3, True, None),
    ]


async def test_permanent_error_parked_after_one_attempt() -> None:
    fake = FakeTime()
    sink = ScriptedSink([DeliveryError("http_400", retryable=False, detail="bad event")])
    result = await deliver_with_retry(sink, ALERT, schedule(fake))
    assert (result.outcome, result.attempts, result.reason) == ("parked", 1, "http_400")
    assert result.detail == "bad event"
    assert fake.sleeps == [] and sink.calls == 1


async def test_horizon_parks_and_cuts_the_last_wait() -> None:
    fake = FakeTime()
    sink = ScriptedSink([retryable() for _ in range(1000)])
    result = await deliver_with_retry(sink, ALERT, schedule(fake, horizon=20.0, jitter=0.99))
    assert result.outcome == "parked" and result.reason == "http_503"
    assert sum(fake.sleeps) == pytest.approx(20.0)  # never waits past the horizon
    assert fake.sleeps[:4] == pytest.approx([0.99, 1.98, 3.96, 7.92])  # capped at 8 after
    assert fake.sleeps[-1] < 7.92  # the wait that would pass the horizon is cut to it
    assert result.attempts == len(fake.sleeps) + 1 == sink.calls
    single = await deliver_with_retry(ScriptedSink([retryable()]), ALERT, schedule(fake, horizon=0))
    assert (single.outcome, single.attempts) == ("parked", 1)


async def test_retry_after_honoured_and_capped_by_horizon() -> None:
    fake = FakeTime()
    sink = ScriptedSink([retryable("http_429", after=7.0), retryable("http_503", after=0.0)])
    result = await deliver_with_retry(sink, ALERT, schedule(fake))
    assert result.outcome == "sent" and fake.sleeps == [7.0, 0.0]
    fake = FakeTime()
    sink = ScriptedSink([retryable("http_429", after=500.0), retryable("http_429", after=500.0)])
    result = await deliver_with_retry(sink, ALERT, schedule(fake, horizon=30.0))
    assert fake.sleeps == [30.0]  # one wait to the horizon, one last attempt, then parked
    assert (result.outcome, result.attempts, result.reason) == ("parked", 2, "http_429")


async def test_malformed_alert_parked_as_bad_alert() -> None:
    fake = FakeTime()
    result = await deliver_with_retry(ScriptedSink([]), {"severity": "high"}, schedule(fake))
    assert (result.outcome, result.attempts, result.reason) == ("parked", 1, "bad_alert")


async def test_metrics_counted() -> None:
    registry = CollectorRegistry()
    metrics = SinkMetrics.create(registry)
    fake = FakeTime()
    sink = ScriptedSink([retryable("http_429"), retryable("http_500")], metrics)
    await deliver_with_retry(sink, ALERT, schedule(fake), wall_clock=lambda: WALL)
    permanent = DeliveryError("http_400", retryable=False)
    sink.errors = [permanent]
    await deliver_with_retry(sink, ALERT, schedule(fake), wall_clock=lambda: WALL)
    future = {**ALERT, "changed_at": "2026-02-23T11:00:00Z"}  # a producer's clock ahead of ours
    await deliver_with_retry(sink, future, schedule(fake), wall_clock=lambda: WALL)
    counts = {
        outcome: sample(
            registry, "distillwatch_sink_deliveries_total", sink="scripted", outcome=outcome
        )
        for outcome in ("sent", "parked")
    }
    assert counts == {"sent": 2.0, "parked": 1.0}
    failed = {
        then: sample(
            registry, "distillwatch_sink_failed_attempts_total", sink="scripted", then=then
        )
        for then in ("retried", "parked")
    }
    assert failed == {"retried": 2.0, "parked": 1.0}
    seconds = "distillwatch_sink_delivery_seconds"
    assert sample(registry, f"{seconds}_count", sink="scripted") == 2.0
    assert sample(registry, f"{seconds}_sum", sink="scripted") == pytest.approx(1.5)
    age = "distillwatch_sink_alert_age_seconds"
    assert sample(registry, f"{age}_count", sink="scripted") == 2.0
    assert sample(registry, f"{age}_sum", sink="scripted") == pytest.approx(10.0)  # 10 + 0
    labels = {
        key
        for metric in registry.collect()
        for s in metric.samples
        if s.name.startswith("distillwatch_sink")
        for key in s.labels
    }
    assert labels <= {"sink", "outcome", "then", "le"}  # never an account id


def test_noop_metrics_do_not_collide() -> None:
    first, second = SinkMetrics.noop(), SinkMetrics.noop()
    first.deliveries.labels("a", "sent").inc()
    second.deliveries.labels("a", "sent").inc()
