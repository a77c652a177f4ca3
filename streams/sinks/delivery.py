"""Deliver one alert to one sink: retry what may recover, park what cannot.

A retryable failure (429, 5xx, a timeout, a refused connection) is retried with exponential
backoff and full jitter (a random wait between 0 and `initial * 2**retry`, capped at
`max_backoff_seconds`: many workers retrying one receiver do not retry in step), or after the
receiver's own `Retry-After`, until `horizon_seconds` after the first attempt; the last wait
is cut to end at the horizon, so one alert never costs much more than the horizon. A permanent
failure (another 4xx: the request is wrong and stays wrong) is parked at once. Parked alerts
are counted and logged; what happens to them next (a dead-letter topic, a person) is the
caller's decision.

Time, sleep and randomness are injected (`RetrySchedule`), so tests need no real waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streams.sinks.base import DeliveryError, Sink, alert_state, timestamp_seconds
from streams.sinks.config import DeliveryConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrySchedule:
    initial_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    horizon_seconds: float = 3600.0  # from the first attempt; 0: a single attempt
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic  # measures the horizon
    random: Callable[[], float] = _random.random  # in [0, 1): the jitter

    @classmethod
    def from_config(
        cls,
        config: DeliveryConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> RetrySchedule:
        return cls(
            config.initial_backoff_seconds,
            config.max_backoff_seconds,
            config.horizon_seconds,
            sleep=sleep,
            clock=clock,
            random=random,
        )

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry number `retry` (0 for the first retry)."""
        return min(self.max_backoff_seconds, self.initial_backoff_seconds * 2.0 ** min(retry, 60))

    def backoff(self, retry: int) -> float:
        return self.random() * self.ceiling(retry)

    def next_wait(self, error: DeliveryError, attempts: int, elapsed: float) -> float | None:
        """The wait before the next attempt after `attempts` failed ones over `elapsed`
        seconds; None to give up."""
        remaining = self.horizon_seconds - elapsed
        if not error.retryable or remaining <= 0:
            return None
        wait = error.retry_after if error.retry_after is not None else self.backoff(attempts - 1)
        return max(0.0, min(wait, remaining))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt, as reported to `on_attempt`."""

    sink: str
    alert_id: str
    number: int  # 1 for the first attempt
    error: DeliveryError | None  # None: delivered
    retry_in: float | None  # seconds until the next attempt; None: no further attempt


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Literal["sent", "parked"]
    sink: str
    alert_id: str
    attempts: int
    seconds: float  # first attempt to the outcome
    reason: str | None = None  # parked: the last error's code (http_400, timeout, ...)
    detail: str = ""


def _alert_age(alert: Mapping[str, Any], now: float) -> float | None:
    try:
        changed = timestamp_seconds(alert_state(alert).changed_at)
    except KeyError:
        return None
    return None if changed is None else max(0.0, now - changed)


async def deliver_with_retry(
    sink: Sink,
    alert: Mapping[str, Any],
    schedule: RetrySchedule,
    *,
    on_attempt: Callable[[Attempt], None] | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> DeliveryResult:
    """Deliver `alert` to `sink`, retrying per `schedule`; counts into `sink.metrics`."""
    metrics = sink.metrics
    alert_id = str(alert.get("alert_id", ""))
    started = schedule.clock()
    attempts = 0
    while True:
        attempts += 1
        try:
            await sink.deliver(alert)
        except DeliveryError as error:
            failure = error
        except (KeyError, TypeError, ValueError) as error:  # a malformed alert message
            failure = DeliveryError(
                "bad_alert", retryable=False, detail=f"{type(error).__name__}: {error}"
            )
        else:
            elapsed = schedule.clock() - started
            if metrics is not None:
                metrics.deliveries.labels(sink.name, "sent").inc()
                metrics.delivery_seconds.labels(sink.name).observe(elapsed)
                age = _alert_age(alert, wall_clock())
                if age is not None:
                    metrics.alert_age_seconds.labels(sink.name).observe(age)
            if on_attempt is not None:
                on_attempt(Attempt(sink.name, alert_id, attempts, None, None))
            return DeliveryResult("sent", sink.name, alert_id, attempts, elapsed)
        elapsed = schedule.clock() - started
        wait = schedule.next_wait(failure, attempts, elapsed)
        if metrics is not None:
            then = "retried" if wait is not None else "parked"
            metrics.failed_attempts.labels(sink.name, then).inc()
            if wait is None:
                metrics.deliveries.labels(sink.name, "parked").inc()
        if on_attempt is not None:
            on_attempt(Attempt(sink.name, alert_id, attempts, failure, wait))
        if wait is None:  # the caller reports it: the result says what and why
            return DeliveryResult(
                "parked", sink.name, alert_id, attempts, elapsed, failure.reason, failure.detail
            )
        log.debug(
            "alert %s to sink %s: attempt %d failed (%s); retrying in %.1f s",
            alert_id, sink.name, attempts, failure.reason, wait,
        )  # fmt: skip
        await schedule.sleep(wait)
