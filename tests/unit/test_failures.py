"""Which batch failures are retried, for how long, and what the health probe reads."""

from __future__ import annotations

import pytest
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors
from prometheus_client import CollectorRegistry, generate_latest

from streams.failures import RetryPolicy, is_permanent
from streams.health import stall_reason
from streams.metrics import Metrics

PIPELINE_PREFIX = "Command # 1 (EVALSHA abc 3 k1 k2 k3) of pipeline caused error: "


@pytest.mark.parametrize(
    "error",
    [
        redis_errors.ResponseError(
            PIPELINE_PREFIX + "('WRONGTYPE Operation against a key holding the wrong kind',)"
        ),
        redis_errors.NoPermissionError("NOPERM this user has no permissions to run 'evalsha'"),
        redis_errors.ReadOnlyError("READONLY You can't write against a read only replica."),
        redis_errors.ResponseError(PIPELINE_PREFIX + "('distillwatch: bad argument: sum 2',)"),
        redis_errors.AuthenticationError("WRONGPASS invalid username-password pair"),
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.TopicAuthorizationFailedError(),
    ],
)
def test_errors_that_cannot_succeed_on_retry_are_permanent(error: BaseException) -> None:
    assert is_permanent(error)
    policy = RetryPolicy(permanent_attempts=3, transient_seconds=300)
    assert not policy.gives_up(error, attempts=2, failing_for=1.0)
    assert policy.gives_up(error, attempts=3, failing_for=1.0)


@pytest.mark.parametrize(
    "error",
    [
        redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused."),
        redis_errors.TimeoutError("Timeout reading from socket"),
        redis_errors.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        redis_errors.OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'."),
        kafka_errors.KafkaTimeoutError(),
        TimeoutError(),
    ],
)
def test_errors_that_heal_are_retried_until_the_time_budget(error: BaseException) -> None:
    assert not is_permanent(error)
    policy = RetryPolicy(permanent_attempts=3, transient_seconds=300)
    assert not policy.gives_up(error, attempts=50, failing_for=299.0)
    assert policy.gives_up(error, attempts=51, failing_for=300.0)


def _metrics_text(started: float, last_success: float) -> str:
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    metrics.batch_started.set(started)
    metrics.last_success.set(last_success)
    return generate_latest(registry).decode()


def test_health_reports_a_batch_stuck_past_the_limit() -> None:
    now = 1_800_000_000.0
    assert stall_reason(_metrics_text(0, now - 3600), now, 120) is None  # idle is healthy
    assert stall_reason(_metrics_text(now - 60, now - 61), now, 120) is None
    reason = stall_reason(_metrics_text(now - 600, now - 900), now, 120)
    assert reason is not None and "600 s" in reason and "900 s ago" in reason
    assert "not exported" in (stall_reason("up 1\n", now, 120) or "")
