"""HTTP receivers for sink tests: real aiohttp.web servers on 127.0.0.1 ephemeral ports, each in
its own thread and event loop (so they serve async tests and commands that run their own loop
alike), answering scripted statuses; and a Standard Webhooks verifier written from the spec
(hmac, hashlib, base64), independent of the `standardwebhooks` package the sink signs with.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

TOLERANCE_SECONDS = 5 * 60  # the spec's recommended tolerance
STARTUP_SECONDS = 10.0


class Rejected(Exception):
    pass


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Standard Webhooks verification: `v1,` + base64(HMAC-SHA256(key, id.ts.body)) for the
    key base64-decoded from after `whsec_`; the timestamp within the tolerance of now."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise Rejected("timestamp outside the tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    for candidate in headers["webhook-signature"].split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            return
    raise Rejected("no matching signature")


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


Answer = tuple[int, dict[str, str]]


class Receiver:
    """An HTTP server on an ephemeral port of 127.0.0.1; answers each request with the next
    scripted status (then `default`), or with what `judge` says."""

    def __init__(
        self,
        statuses: list[int] | None = None,
        default: int = 200,
        judge: Callable[[Received], Answer] | None = None,
    ) -> None:
        self.statuses = list(statuses or [])
        self.default = default
        self.judge = judge
        self.received: list[Received] = []
        self.url = ""
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(request.path, dict(request.headers), await request.read())
        with self._lock:
            self.received.append(got)
            status, headers = (
                self.judge(got)
                if self.judge is not None
                else (self.statuses.pop(0) if self.statuses else self.default, {})
            )
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._ready.wait(STARTUP_SECONDS):
            raise RuntimeError("receiver did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STARTUP_SECONDS)


def webhook_judge(secrets: list[str]) -> Callable[[Received], Answer]:
    """A receiver that knows `secrets`: 204 when any verifies the request, else 401."""

    def judge(got: Received) -> Answer:
        for secret in secrets:
            try:
                verify(secret, got.headers | lower_keys(got.headers), got.body, time.time())
            except Rejected:
                continue
            return 204, {}
        return 401, {}

    return judge


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


# A webhook signing secret for tests (`whsec_` + base64 of the key bytes).
NEW_SECRET = "whsec_" + base64.b64encode(b"dispatcher-test-secret-32-bytes!").decode()
