"""Which failures of a batch can succeed on retry, and how long to keep trying.

A batch is retried whole (state, sinks, confirmation) and its partition waits meanwhile, so
an error that can never succeed would stall the worker forever. Two kinds:

- transient: the network, a timeout, Redis loading its data set or out of memory, a Kafka
  leader election. They heal by themselves: retried with backoff, for up to
  `RetryPolicy.transient_seconds`.
- permanent: the same call will fail the same way on this connection. `WRONGTYPE` (another
  program wrote the worker's key), `NOPERM` and authentication errors (ACLs), `READONLY`
  (connected to a replica after a failover: a new connection finds the primary), a script
  refusing its arguments, a message over the topic's size limit. Retried `permanent_attempts`
  times (a `READONLY` may be a failover in progress).

When either budget is spent the worker exits non-zero: its supervisor restarts it, a restart
reconnects (which is what READONLY needs), and an operator sees the restarts. No offset was
committed past the failing batch, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors

log = logging.getLogger(__name__)
EXIT_GAVE_UP = 75  # EX_TEMPFAIL: restart me

_PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    redis_errors.AuthenticationError,
    redis_errors.AuthorizationError,
    redis_errors.NoPermissionError,
    redis_errors.ReadOnlyError,
    redis_errors.DataError,
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
)
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    redis_errors.MasterDownError,
    redis_errors.OutOfMemoryError,  # noeviction and full: heals when memory is freed
    TimeoutError,
    ConnectionError,
)
# Reply prefixes of errors that a pipelined script call wraps in a plain ResponseError. The
# scripts' own refusals read "distillwatch: ..." (redis-py drops the "ERR " of the reply).
_PERMANENT_REPLIES = ("WRONGTYPE", "NOPERM", "READONLY", "NOAUTH", "WRONGPASS", "distillwatch: ")


def is_permanent(error: BaseException) -> bool:
    if isinstance(
        error, _PERMANENT_TYPES
    ):  # first: redis's AuthenticationError is a ConnectionError
        return True
    if isinstance(error, _TRANSIENT_TYPES):
        return False
    if isinstance(error, redis_errors.ResponseError):
        message = str(error)
        # "Command # 1 (EVALSHA ...) of pipeline caused error: ('WRONGTYPE ...',)"
        return any(reply in message for reply in _PERMANENT_REPLIES)
    return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    permanent_attempts: int = 3
    transient_seconds: float = 300.0
    max_backoff_seconds: float = 5.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff_seconds, 0.1 * 2.0 ** min(attempt, 6))

    def gives_up(self, error: BaseException, attempts: int, failing_for: float) -> bool:
        """After `attempts` failures of one batch, failing for `failing_for` seconds."""
        if is_permanent(error):
            return attempts >= self.permanent_attempts
        return failing_for >= self.transient_seconds


async def retry_or_give_up(
    policy: RetryPolicy,
    error: Exception,
    attempt: int,
    started: float,
    stage: str,
    what: str,
    count: Callable[[str, str], None],
    give_up: Callable[[int], None],
) -> None:
    """After failed attempt number `attempt` at a batch (begun at perf_counter `started`), from
    inside the handler of `error`: count it (stage, kind); when it can never succeed or has
    lasted too long, end the process for its supervisor (`give_up`), no offset of the batch
    committed; else wait the backoff before the caller retries."""
    kind = "permanent" if is_permanent(error) else "transient"
    count(stage, kind)
    failing_for = time.perf_counter() - started
    if policy.gives_up(error, attempt, failing_for):
        log.critical(
            "giving up on %s after %d attempts (%.0f s) at %s: %s error %s; exiting so the "
            "supervisor restarts the worker (no offset of the batch was committed)",
            what, attempt, failing_for, stage, kind, error,
        )  # fmt: skip
        logging.shutdown()
        give_up(EXIT_GAVE_UP)
        raise error
    delay = policy.backoff(attempt)
    log.exception(
        "%s failed at %s (%s, attempt %d); retrying in %.1fs", what, stage, kind, attempt, delay
    )
    await asyncio.sleep(delay)
