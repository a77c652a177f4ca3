"""A generic webhook signed per Standard Webhooks (standardwebhooks.com), for a SOC's own
receiver.

The body is the alert message itself (schema v1, the bytes exactly as signed). Headers:
`webhook-id` = alert_id (unique per state change: receivers dedupe retries on it),
`webhook-timestamp` = wall-clock Unix seconds of this attempt, and `webhook-signature` =
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` once per secret, space separated: during a
rotation the sender signs with the old and the new secret and the receiver accepts either.

Each attempt is signed afresh: receivers refuse timestamps older than about five minutes, and
a retry may come much later than the first attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Unpack

import aiohttp
import orjson
from standardwebhooks.webhooks import Webhook

from streams.sinks import http
from streams.sinks.base import Sink, SinkOptions


class WebhookSink(Sink):
    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secrets: Sequence[str],
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        **options: Unpack[SinkOptions],
    ) -> None:
        super().__init__(name, **options)
        if not secrets:
            raise ValueError(f"webhook sink {name} needs at least one secret")
        self.url = url
        self._signers = tuple(Webhook(secret) for secret in secrets)
        self._session = session
        self._clock = clock

    def signed(self, alert: Mapping[str, Any], now: float) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt at wall-clock time `now`."""
        body = orjson.dumps(alert)
        msg_id = str(alert["alert_id"])
        seconds = int(now)
        moment = datetime.fromtimestamp(seconds, tz=UTC)
        text = body.decode("utf-8")
        signatures = " ".join(signer.sign(msg_id, moment, text) for signer in self._signers)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(seconds),
            "webhook-signature": signatures,
        }
        return body, headers

    async def deliver(self, alert: Mapping[str, Any]) -> None:
        body, headers = self.signed(alert, self._clock())
        await http.post(
            self._session,
            self.url,
            body,
            headers=headers,
            timeout_seconds=self.delivery.timeout_seconds,
        )
