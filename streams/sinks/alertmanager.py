"""Prometheus Alertmanager (API v2): `POST {url}/api/v2/alerts` with a JSON list of alerts.

Alertmanager groups, silences and inhibits on labels, so labels carry the incident's identity
only (rule, severity, subject, dedup_key): an update of the same incident must land on the
same label set, or it would be a second alert. Everything that changes between updates (score,
evidence, alert_id, sequence) goes in annotations.

Alertmanager forgets an alert whose `endsAt` passed, so an active alert is posted with
`endsAt = now + ends_after_seconds` and re-posted every `resend_seconds` (`refresh`, called by
the dispatcher): if distillwatch stops, its alerts resolve by themselves instead of firing
forever. A resolved alert is posted with `endsAt = changed_at`.

An HA pair is several instances that do not forward alerts to each other: every instance must
receive every alert. A delivery succeeds once each has accepted it; a retry re-posts to the
instances that have not (remembered per alert_id, for a bounded number of alerts).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

import aiohttp
import orjson

from detectors.alerts import rfc3339
from streams.sinks import http
from streams.sinks.base import (
    AlertState,
    DeliveryError,
    Sink,
    SinkOptions,
    alert_state,
    incident_step,
    subject_id,
    timestamp_seconds,
)
from streams.sinks.render import key_value_lines, numeric_evidence, truncate

DESCRIPTION_CHARS = 2000
REMEMBERED_ALERTS = 10_000  # alert_ids with a partial delivery kept for their retries


class AlertmanagerSink(Sink):
    kind = "alertmanager"

    def __init__(
        self,
        name: str,
        urls: Sequence[str],
        session: aiohttp.ClientSession,
        *,
        ends_after_seconds: float,
        clock: Callable[[], float] = time.time,
        **options: Unpack[SinkOptions],
    ) -> None:
        super().__init__(name, **options)
        self.urls = tuple(url.rstrip("/") for url in urls)
        self.ends_after_seconds = ends_after_seconds
        self._session = session
        self._clock = clock  # wall clock: endsAt is compared with Alertmanager's own clock
        self._accepted: OrderedDict[str, set[str]] = OrderedDict()
        # dedup_key -> the severity its active alert was posted with. Severity is a label, so
        # an update that raises it is another alert to Alertmanager: the one it replaces is
        # resolved in the same post, or it would fire on until its endsAt.
        self._severity: OrderedDict[str, str] = OrderedDict()
        # dedup_key -> (incident start, step) of the last message posted: a re-send of the
        # active alerts read before a newer step (a resolution) was posted must not re-post the
        # older one, so posts are serialised and a re-send skips what was superseded.
        self._steps: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._posting = asyncio.Lock()

    def remember(self, alert: Mapping[str, Any]) -> None:
        """Note an alert as the active one of its dedup_key (delivered now or before a
        restart: the dispatcher primes a new sink from its cursor)."""
        key = str(alert["dedup_key"])
        self._steps.pop(key, None)
        self._steps[key] = incident_step(alert)
        while len(self._steps) > REMEMBERED_ALERTS:
            self._steps.popitem(last=False)
        self._severity.pop(key, None)
        if not alert_state(alert).resolved:
            self._severity[key] = str(alert["severity"])
            while len(self._severity) > REMEMBERED_ALERTS:
                self._severity.popitem(last=False)

    def payload(self, alert: Mapping[str, Any], now: float) -> dict[str, Any]:
        """One alert in Alertmanager's v2 form, as posted at wall-clock time `now`."""
        state = alert_state(alert)
        window = f"window={truncate(str(alert['window']), 64)}\n" if alert.get("window") else ""
        description = window + key_value_lines(
            [("score", alert["score"]), *numeric_evidence(alert.get("evidence"))],
            DESCRIPTION_CHARS - len(window),
        )
        runbook = str(alert.get("runbook_url") or "")
        posted: dict[str, Any] = {
            "labels": {
                "alertname": str(alert["rule_id"]),
                "severity": str(alert["severity"]),
                "subject_kind": str(alert["subject"].get("kind", "account")),
                "subject_id": subject_id(alert),
                "dedup_key": str(alert["dedup_key"]),
                "source": "distillwatch",
            },
            "annotations": {
                "summary": str(alert["summary"]),
                "description": description,
                "runbook_url": runbook,
                "alert_id": str(alert["alert_id"]),
                "sequence": str(state.sequence),
            },
            "startsAt": alert["fired_at"],
            "endsAt": self._ends_at(state, now),
        }
        if runbook:
            posted["generatorURL"] = runbook
        return posted

    def _ends_at(self, state: AlertState, now: float) -> str:
        """A firing alert ends a few re-send intervals ahead unless re-sent; a resolved one
        ended when it resolved (event time), or now if that is ahead of this clock: a
        resolution must never leave the alert active in Alertmanager."""
        if not state.resolved:
            return rfc3339(now + self.ends_after_seconds)
        resolved_at = timestamp_seconds(state.changed_at)
        if resolved_at is None or resolved_at > now:
            return rfc3339(now)
        return state.changed_at

    async def _post(self, url: str, body: bytes) -> None:
        timeout = self.delivery.timeout_seconds
        await http.post(self._session, f"{url}/api/v2/alerts", body, timeout_seconds=timeout)

    async def _post_to(self, urls: Sequence[str], body: bytes) -> dict[str, DeliveryError]:
        """Post to each of `urls` at once; the errors of those that did not accept."""
        results = await asyncio.gather(
            *(self._post(url, body) for url in urls), return_exceptions=True
        )
        errors: dict[str, DeliveryError] = {}
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, DeliveryError):
                errors[url] = result
            elif isinstance(result, BaseException):
                raise result
        return errors

    async def deliver(self, alert: Mapping[str, Any]) -> None:
        alert_id = str(alert["alert_id"])
        accepted = self._accepted.pop(alert_id, set())
        pending = [url for url in self.urls if url not in accepted]
        now = self._clock()
        posted = [self.payload(alert, now)]
        replaced = self._severity.get(str(alert["dedup_key"]))
        if replaced is not None and replaced != alert["severity"]:
            ended = self.payload(alert, now)
            ended["labels"]["severity"] = replaced
            ended["endsAt"] = rfc3339(now)
            posted.insert(0, ended)
        async with self._posting:
            errors = await self._post_to(pending, orjson.dumps(posted))
            if not errors:
                self.remember(alert)
                return
        accepted.update(url for url in pending if url not in errors)
        self._accepted[alert_id] = accepted
        while len(self._accepted) > REMEMBERED_ALERTS:
            self._accepted.popitem(last=False)
        raise combined(errors)

    def _superseded(self, alert: Mapping[str, Any]) -> bool:
        """A later step of its incident was posted since the caller read this one."""
        posted = self._steps.get(str(alert["dedup_key"]))
        return posted is not None and incident_step(alert) < posted

    async def refresh(self, active_alerts: list[dict[str, Any]]) -> None:
        """Re-post the active alerts this sink wants, with a fresh endsAt: one POST per
        instance. Raises DeliveryError (after trying every instance) if any did not accept;
        the next refresh tries again."""
        async with self._posting:
            wanted = [a for a in active_alerts if self.wants(a) and not self._superseded(a)]
            if not wanted:
                return
            now = self._clock()
            body = orjson.dumps([self.payload(alert, now) for alert in wanted])
            errors = await self._post_to(self.urls, body)
        if self.metrics is not None:
            counter = self.metrics.refreshes
            counter.labels(self.name, "sent").inc(len(self.urls) - len(errors))
            counter.labels(self.name, "failed").inc(len(errors))
        if errors:
            raise combined(errors)


def combined(errors: Mapping[str, DeliveryError]) -> DeliveryError:
    """One error for the instances that failed (each detail names its instance): retryable if
    any of them may recover (a permanent failure of another then parks the alert at the
    horizon), with the longest Retry-After among the retryable ones."""
    retryable = [error for error in errors.values() if error.retryable]
    first = retryable[0] if retryable else next(iter(errors.values()))
    waits = [error.retry_after for error in retryable if error.retry_after is not None]
    return DeliveryError(
        first.reason,
        retryable=bool(retryable),
        detail="; ".join(f"{error.reason} {error.detail}" for error in errors.values()),
        retry_after=max(waits) if waits else None,
    )
