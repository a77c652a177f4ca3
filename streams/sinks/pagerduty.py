"""PagerDuty Events API v2: one event per alert state change.

PagerDuty deduplicates on `dedup_key`, so the incident is ours: a firing alert triggers it,
an update triggers again with the same key (PagerDuty adds it to the open incident's log and
refreshes its details without paging anyone a second time), and a resolved alert resolves
it. The API answers 202 when it took the event, 400 for an event it will never take, 429 when
rate limited and 5xx when it is unwell (both retried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import aiohttp
import orjson

from streams.sinks import http
from streams.sinks.base import Sink, SinkOptions, alert_state
from streams.sinks.config import PAGERDUTY_EVENTS_URL
from streams.sinks.render import truncate

SUMMARY_CHARS = 1024  # the API's limit
SEVERITY = {"critical": "critical", "high": "error", "warning": "warning", "info": "info"}


def pagerduty_event(alert: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    state = alert_state(alert)
    if state.resolved:
        return {
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": str(alert["dedup_key"]),
        }
    subject = alert["subject"]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": str(alert["dedup_key"]),
        "payload": {
            "summary": truncate(str(alert["summary"]), SUMMARY_CHARS),
            "source": "distillwatch",
            "severity": SEVERITY.get(str(alert["severity"]), "info"),
            "timestamp": state.changed_at,
            "component": str(subject.get("kind", "account")),
            "group": str(alert["rule_id"]),
            "class": str(alert["rule_id"]),
            "custom_details": {
                "alert_id": alert["alert_id"],
                "transition": state.transition,
                "sequence": state.sequence,
                "last_seen_at": state.last_seen_at,
                "subject": subject,
                "evidence": alert.get("evidence", {}),
                "score": alert.get("score"),
                "tags": alert.get("tags", []),
                "window": alert.get("window"),
                "suppressed": state.suppressed,
            },
        },
        "links": [{"href": alert["runbook_url"], "text": "runbook"}]
        if alert.get("runbook_url")
        else [],
        "client": "distillwatch",
    }


class PagerDutySink(Sink):
    kind = "pagerduty"

    def __init__(
        self,
        name: str,
        routing_key: str,
        session: aiohttp.ClientSession,
        *,
        url: str = PAGERDUTY_EVENTS_URL,
        **options: Unpack[SinkOptions],
    ) -> None:
        super().__init__(name, **options)
        self.url = url
        self._routing_key = routing_key
        self._session = session

    async def deliver(self, alert: Mapping[str, Any]) -> None:
        body = orjson.dumps(pagerduty_event(alert, self._routing_key))
        await http.post(
            self._session, self.url, body, timeout_seconds=self.delivery.timeout_seconds
        )
