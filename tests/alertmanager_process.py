"""A test's own Alertmanager: a real process on a free loopback port, in a folder of the test's.

    with AlertmanagerProcess(tmp_path / "am") as am:
        post_alerts(am.url, [...])
        am.stop()   # an outage: connections to am.url are refused
        am.start()  # back on the same port, with the same storage (silences, notification log)

The binary is `DISTILLWATCH_ALERTMANAGER_BIN` (scripts/testenv.py exports it) or the first of
`prometheus-alertmanager` / `alertmanager` on PATH. Starting waits for `GET /-/ready` with a
deadline (no fixed sleeps) and fails with the instance's log. Alerts themselves live in memory
only: a restarted instance has none until they are posted again.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import testenv  # scripts/, on the path from tests/conftest.py

START_DEADLINE_S = 30.0


def alertmanager_binary() -> str | None:
    configured = os.environ.get("DISTILLWATCH_ALERTMANAGER_BIN")
    if configured:
        return configured
    return next(filter(None, (shutil.which(name) for name in testenv.ALERTMANAGER_NAMES)), None)


class AlertmanagerProcess:
    """One Alertmanager (HA gossip off) whose lifetime the test controls."""

    def __init__(self, workdir: Path, binary: str | None = None, host: str = "127.0.0.1") -> None:
        found = binary or alertmanager_binary()
        if not found:
            raise RuntimeError(
                "no alertmanager binary: set DISTILLWATCH_ALERTMANAGER_BIN or run the tests "
                "with scripts/testenv.py, which installs Debian's prometheus-alertmanager"
            )
        self._server = testenv.AlertmanagerServer(found, workdir, host, testenv.free_port())

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def log_file(self) -> Path:
        return self._server.log_file

    def start(self, deadline_s: float = START_DEADLINE_S) -> None:
        """Start (or restart after `stop()`) on the same port and storage; returns once ready."""
        self._server.start(deadline_s=deadline_s)

    def stop(self) -> None:
        """SIGTERM and wait: the instance saves its state and its port closes."""
        self._server.stop()

    def running(self) -> bool:
        return self._server.running()

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_file.exists():
            return ""
        return self.log_file.read_text(errors="replace")[-chars:]

    def __enter__(self) -> AlertmanagerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def request_json(url: str, method: str = "GET", body: Any = None, timeout_s: float = 5.0) -> Any:
    """One call to the HTTP API; the decoded JSON answer (None when empty). Raises
    urllib.error.HTTPError on an error status, urllib.error.URLError when nothing answers."""
    data = orjson.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with testenv.http_opener(url).open(request, timeout=timeout_s) as response:
        payload = response.read()
    return orjson.loads(payload) if payload else None


def post_alerts(url: str, alerts: list[dict[str, Any]], timeout_s: float = 5.0) -> None:
    """`POST /api/v2/alerts`; raises urllib.error.HTTPError on a rejected payload."""
    request_json(f"{url}/api/v2/alerts", "POST", alerts, timeout_s)


def list_alerts(
    url: str,
    matchers: list[str] | None = None,
    *,
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """`GET /api/v2/alerts` filtered by label matchers such as 'alertname="x"'. Resolved alerts
    (endsAt in the past) are never listed."""
    query = urllib.parse.urlencode(
        {
            "filter": matchers or [],
            "active": str(active).lower(),
            "silenced": str(silenced).lower(),
            "inhibited": str(inhibited).lower(),
        },
        doseq=True,
    )
    alerts: list[dict[str, Any]] = request_json(f"{url}/api/v2/alerts?{query}", timeout_s=timeout_s)
    return alerts
