"""Slack incoming webhook: a message a person reads, one per alert state change.

The header says what happened (`FIRING · high · reasoning_elicitation`, `UPDATED ...`,
`RESOLVED ...`), then the summary, a few of the evidence's numbers (the same order as
everywhere: top-level numbers by key first), the subject and dedup_key, and the runbook link.
`text` is the fallback shown in notifications. Values from events (account ids) are escaped
for Slack's mrkdwn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import aiohttp
import orjson

from streams.sinks import http
from streams.sinks.base import Sink, SinkOptions, alert_state, subject_id
from streams.sinks.render import format_number, numeric_evidence, truncate

EVIDENCE_SHOWN = 6
HEADER_CHARS = 150  # Slack's limit for a header block
TEXT_CHARS = 3000  # Slack's limit for a section's text


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(alert: Mapping[str, Any]) -> str:
    state = alert_state(alert)
    return f"{state.transition.upper()} · {alert['severity']} · {alert['rule_id']}"


def slack_message(alert: Mapping[str, Any]) -> dict[str, Any]:
    state = alert_state(alert)
    title = truncate(headline(alert), HEADER_CHARS)
    summary = escape(str(alert["summary"]))
    if state.resolved:
        summary = f"*Resolved* at {escape(state.changed_at)}: {summary}"
    subject = alert["subject"]
    who = f"{subject.get('kind', 'account')} {subject_id(alert)}"
    runbook = str(alert.get("runbook_url") or "")
    numbers = [("score", alert["score"]), *numeric_evidence(alert.get("evidence"))]
    fields = [
        {"type": "mrkdwn", "text": f"*{escape(key)}*\n{format_number(value)}"}
        for key, value in numbers[: EVIDENCE_SHOWN + 1]
    ]
    context = (
        f"subject: {escape(who)} · dedup_key: {escape(str(alert['dedup_key']))} · "
        f"sequence {state.sequence} · window {escape(str(alert.get('window', '')))}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(summary, TEXT_CHARS)}},
    ]
    if fields and not state.resolved:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if runbook:
        link = f"<{escape(runbook)}|Runbook>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
    fallback = f"{title}: {alert['summary']} ({who})" + (f" runbook: {runbook}" if runbook else "")
    return {"text": escape(truncate(fallback, TEXT_CHARS)), "blocks": blocks}


class SlackSink(Sink):
    kind = "slack"

    def __init__(
        self,
        name: str,
        url: str,
        session: aiohttp.ClientSession,
        **options: Unpack[SinkOptions],
    ) -> None:
        super().__init__(name, **options)
        self._url = url  # the webhook URL is the credential: never logged
        self._session = session

    async def deliver(self, alert: Mapping[str, Any]) -> None:
        body = orjson.dumps(slack_message(alert))
        await http.post(
            self._session, self._url, body, timeout_seconds=self.delivery.timeout_seconds
        )
