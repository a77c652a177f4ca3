"""The Sink interface, its error, and the one place that reads an alert's state-change fields.

A sink turns one alert message into one receiver's request. It raises `DeliveryError` when the
receiver did not take it, saying whether trying again can help (`retryable`); the retry loop
lives in `delivery.py`, not in the sinks.

State-change fields (`transition`, `sequence`, `changed_at`, `last_seen_at`, `suppressed`)
were added to alert schema v1 after it shipped; alerts written before lack them, so
`alert_state()` fills each with its documented default.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

from detectors.decode import parse_timestamp
from detectors.errors import DistillwatchError
from streams.sinks.config import DeliveryConfig
from streams.sinks.metrics import SinkMetrics

Transition = Literal["firing", "updated", "resolved"]
SEVERITY_RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}
_TRANSITIONS: tuple[Transition, ...] = ("firing", "updated", "resolved")


class DeliveryError(DistillwatchError):
    """A receiver did not take an alert. `reason` is a short stable code (`http_429`,
    `http_500`, `http_400`, `connect`, `timeout`, ...); `retryable` says whether the same
    request may succeed later; `retry_after` is the receiver's own wait in seconds, if it
    gave one."""

    def __init__(
        self, reason: str, *, retryable: bool, detail: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where an alert message stands in its incident (defaults for alerts that predate the
    fields in brackets)."""

    transition: Transition  # [firing for status firing, resolved for status resolved]
    sequence: int  # per incident, grows with each state change [1]
    changed_at: str  # RFC 3339 event time of this state change [fired_at]
    last_seen_at: str  # last time the condition held [changed_at]
    suppressed: int  # re-crossings suppressed while active [0]

    @property
    def resolved(self) -> bool:
        return self.transition == "resolved"


def alert_state(alert: Mapping[str, Any]) -> AlertState:
    given = alert.get("transition")
    transition: Transition = "resolved" if alert.get("status") == "resolved" else "firing"
    for known in _TRANSITIONS:
        if given == known:
            transition = known
    changed_at = str(alert.get("changed_at") or alert["fired_at"])
    sequence = alert.get("sequence")
    suppressed = alert.get("suppressed")
    return AlertState(
        transition=transition,
        sequence=sequence if isinstance(sequence, int) and sequence >= 1 else 1,
        changed_at=changed_at,
        last_seen_at=str(alert.get("last_seen_at") or changed_at),
        suppressed=suppressed if isinstance(suppressed, int) and suppressed >= 0 else 0,
    )


def subject_id(alert: Mapping[str, Any]) -> str:
    """The account id of an account alert, the cluster id of a cluster alert."""
    subject = alert["subject"]
    if subject.get("kind") == "cluster":
        return str(subject.get("cluster_id", ""))
    return str(subject.get("account_id") or (subject.get("accounts") or [""])[0])


def timestamp_seconds(text: str) -> float | None:
    """Unix seconds of an RFC 3339 time, None if it is not one."""
    try:
        return parse_timestamp(text)
    except DistillwatchError:
        return None


def incident_step(alert: Mapping[str, Any]) -> tuple[float, int]:
    """(incident start, sequence): orders the messages of one dedup_key. ValueError when
    `fired_at` is not an RFC 3339 time."""
    started = timestamp_seconds(str(alert["fired_at"]))
    if started is None:
        raise ValueError("fired_at is not an RFC 3339 time")
    return started, alert_state(alert).sequence


class SinkOptions(TypedDict, total=False):
    """What every sink takes besides its name and receiver settings."""

    delivery: DeliveryConfig  # request timeout and retry settings [the defaults]
    min_severity: str  # [info]
    rules: tuple[str, ...]  # rule ids; empty: every rule [()]
    metrics: SinkMetrics | None  # deliver_with_retry counts into it when set [None]


class Sink(ABC):
    """One receiver. `deliver` sends one alert message and returns once the receiver took it;
    it is safe to call again with the same message (receivers dedupe on alert_id or
    dedup_key). Sinks share the caller's HTTP session: `close` releases what the sink itself
    holds, not the session."""

    kind: str = "sink"  # the config `type`

    def __init__(self, name: str, **options: Unpack[SinkOptions]) -> None:
        self.name = name
        # The timeout of one request, and the settings of the retry schedule.
        self.delivery = options.get("delivery") or DeliveryConfig()
        self.min_rank = SEVERITY_RANK[options.get("min_severity", "info")]
        self.rules = frozenset(options.get("rules", ()))
        self.metrics = options.get("metrics")

    def wants(self, alert: Mapping[str, Any]) -> bool:
        """Severity at least min_severity, and the rule among `rules` (empty: every rule)."""
        rank = SEVERITY_RANK.get(str(alert.get("severity")), -1)
        return rank >= self.min_rank and (not self.rules or alert.get("rule_id") in self.rules)

    @abstractmethod
    async def deliver(self, alert: Mapping[str, Any]) -> None:
        """Send one alert message; raise DeliveryError when the receiver did not take it."""

    async def close(self) -> None:  # noqa: B027  (optional hook: most sinks hold nothing)
        """Release what this sink holds (the HTTP session belongs to the caller)."""
