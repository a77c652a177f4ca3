"""POST one body to a receiver and classify the answer: the sinks' only HTTP code.

One `aiohttp.ClientSession` per process (`open_session`), shared by every sink and closed by
its owner: a session pools connections, and a session per request would pay a TCP and TLS
handshake on each alert. Each request carries its own total timeout.

Classification, the same for every receiver:
- 2xx: taken.
- 408, 425, 429, 5xx, a connection error or a timeout: retryable; `Retry-After` (seconds or an
  HTTP date) on a 429 or 503 is passed on as `DeliveryError.retry_after`.
- any other status (other 4xx, and 3xx: redirects are not followed, a POST that moved is a
  configuration to fix): permanent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from streams.sinks.base import DeliveryError

RETRYABLE_STATUSES = frozenset({408, 425, 429})
RETRY_AFTER_STATUSES = frozenset({429, 503})
_DETAIL_CHARS = 200


def origin(url: str) -> str:
    """scheme://host:port of a URL: what errors name (a Slack webhook's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def open_session() -> aiohttp.ClientSession:
    """The shared session; call from inside the event loop that will use it."""
    return aiohttp.ClientSession(headers={"user-agent": "distillwatch"})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now (0 or more); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def classify(
    status: int, headers: Mapping[str, str], body: str, where: str = ""
) -> DeliveryError | None:
    """None for a 2xx, else the error to raise; its detail is `where` and the body's start."""
    if 200 <= status < 300:
        return None
    retryable = status in RETRYABLE_STATUSES or 500 <= status < 600
    retry_after = (
        retry_after_seconds(headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
    )
    snippet = " ".join(body.split())[:_DETAIL_CHARS]
    return DeliveryError(
        f"http_{status}",
        retryable=retryable,
        detail=": ".join(part for part in (where, snippet) if part),
        retry_after=retry_after,
    )


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    timeout_seconds: float,
    headers: Mapping[str, str] | None = None,
) -> int:
    """POST `body` (JSON unless `headers` say otherwise); the 2xx status, or DeliveryError."""
    sent_headers = {"content-type": "application/json", **(headers or {})}
    try:
        async with session.post(
            url,
            data=body,
            headers=sent_headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            allow_redirects=False,
        ) as response:
            text = await response.text(errors="replace")
            error = classify(response.status, response.headers, text, origin(url))
    except TimeoutError:  # aiohttp's ServerTimeoutError is one too
        detail = f"{origin(url)}: no answer within {timeout_seconds:g} s"
        raise DeliveryError("timeout", retryable=True, detail=detail) from None
    except aiohttp.InvalidURL:
        raise DeliveryError("invalid_url", retryable=False, detail=origin(url)) from None
    except aiohttp.ClientConnectionError as failure:  # names the host, not the path
        detail = f"{origin(url)}: {type(failure).__name__}: {failure}"
        raise DeliveryError("connect", retryable=True, detail=detail) from None
    except aiohttp.ClientError as failure:  # a broken response: the receiver may recover
        detail = f"{origin(url)}: {type(failure).__name__}"
        raise DeliveryError("client_error", retryable=True, detail=detail) from None
    if error is not None:
        raise error
    return response.status
