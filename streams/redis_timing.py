"""Times every Redis round trip of the state stores, by operation, and counts the failed ones.

A round trip is one pipeline or one script call; its operation is a fixed name (the script or
the store method), so the label stays bounded. Failures are counted here and raised unchanged:
the batch's retry policy (streams/failures.py) decides what follows.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from prometheus_client import Counter, Histogram

T = TypeVar("T")

# Every operation name the stores use (streams/redis_store.py, streams/linkage_store.py)
OPERATIONS = (
    "window_apply",
    "judged",
    "models_note",
    "load_alerts",
    "alert_save",
    "due_alerts",
    "alert_confirm",
    "alert_schedule",
    "linkage_apply",
    "script_load",
)


class RoundTrips:
    """Where the stores report their round trips; `RoundTrips()` measures nothing."""

    def __init__(self, seconds: Histogram | None = None, errors: Counter | None = None) -> None:
        self._seconds = seconds
        self._errors = errors
        if errors is not None:
            for operation in OPERATIONS:
                errors.labels(operation=operation)  # at zero: see Metrics.prefill

    async def timed(self, operation: str, call: Awaitable[T]) -> T:
        if self._seconds is None:
            return await call
        started = time.perf_counter()
        try:
            return await call
        except Exception:
            if self._errors is not None:
                self._errors.labels(operation=operation).inc()
            raise
        finally:
            self._seconds.labels(operation=operation).observe(time.perf_counter() - started)
