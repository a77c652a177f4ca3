"""The Alertmanagers the tests run against (scripts/testenv.py), the shipped example config
(config/alertmanager.yml) checked by amtool, and the test-owned instance helper
(tests/alertmanager_process.py)."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.alertmanager_process import (
    AlertmanagerProcess,
    list_alerts,
    post_alerts,
    request_json,
)
from tests.helpers import ROOT
from tests.integration.harness import poll_until

pytestmark = pytest.mark.integration

CONFIG = ROOT / "config" / "alertmanager.yml"
DEADLINE_S = 20.0


def amtool(amtool_path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool_path, *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_shipped_config_passes_amtool_check_config(amtool_path: str) -> None:
    result = amtool(amtool_path, "check-config", str(CONFIG))
    assert result.returncode == 0, f"amtool check-config failed:\n{result.stdout}{result.stderr}"


def test_amtool_rejects_a_route_to_an_undefined_receiver(amtool_path: str, tmp_path: Path) -> None:
    """The check above can fail: a copy whose root route names a receiver nobody defines."""
    text = CONFIG.read_text()
    assert "  receiver: distillwatch-slack\n" in text
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(
        text.replace("  receiver: distillwatch-slack\n", "  receiver: pager-typo\n", 1)
    )
    result = amtool(amtool_path, "check-config", str(broken))
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"amtool accepted the broken config:\n{output}"
    assert "pager-typo" in output, output


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical"], "distillwatch-pager-critical"),
        (["severity=high"], "distillwatch-pager-high"),
        (["severity=warning"], "distillwatch-slack"),
        (["severity=info"], "null"),
        (["severity=unexpected"], "distillwatch-slack"),  # never dropped silently
    ],
)
def test_shipped_config_routes_each_severity(
    amtool_path: str, labels: list[str], receiver: str
) -> None:
    result = amtool(
        amtool_path, "config", "routes", "test", f"--config.file={CONFIG}",
        "alertname=extraction_self_instruct", "source=distillwatch", *labels,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def make_alert(name: str, ends_at: datetime | None = None) -> dict[str, Any]:
    starts_at = datetime.now(UTC) - timedelta(seconds=5)
    alert: dict[str, Any] = {
        "labels": {
            "alertname": name,
            "severity": "info",  # routed to the null receiver by every config in play
            "subject_kind": "account",
            "subject_id": "acct_it",
            "dedup_key": f"{name}:acct_it",
            "source": "distillwatch",
        },
        "annotations": {
            "summary": "integration test alert",
            "description": "posted by tests/integration/test_alertmanager_service.py",
            "runbook_url": "https://example.invalid/runbook",
            "alert_id": name,
        },
        "startsAt": starts_at.isoformat(),
        "generatorURL": "https://example.invalid/distillwatch",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


def listed(url: str, name: str) -> list[dict[str, Any]]:
    return list_alerts(url, [f'alertname="{name}"'])


def fire_and_resolve(url: str) -> None:
    name = f"dw_it_{uuid.uuid4().hex[:10]}"
    firing = make_alert(name)
    post_alerts(url, [firing])
    alerts = poll_until(lambda: listed(url, name), f"{name} listed at {url}", DEADLINE_S)
    assert len(alerts) == 1
    assert alerts[0]["labels"] == firing["labels"]
    assert alerts[0]["annotations"]["alert_id"] == name
    assert alerts[0]["status"]["state"] in ("active", "unprocessed")

    resolved = {**firing, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    post_alerts(url, [resolved])
    poll_until(lambda: not listed(url, name) or None, f"{name} resolved at {url}", DEADLINE_S)


def test_each_instance_takes_an_alert_and_its_resolution(alertmanager_urls: list[str]) -> None:
    """Every instance, separately: HA Alertmanagers do not share alerts, a sender posts to each."""
    assert len(alertmanager_urls) >= 2
    for url in alertmanager_urls:
        fire_and_resolve(url)


def test_own_instance_answers_again_after_a_restart(alertmanager_bin: str, tmp_path: Path) -> None:
    with AlertmanagerProcess(tmp_path / "am", binary=alertmanager_bin) as am:
        url = am.url
        silence = request_json(
            f"{url}/api/v2/silences",
            "POST",
            {
                "matchers": [{"name": "alertname", "value": "dw_it_muted", "isRegex": False}],
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "createdBy": "tests",
                "comment": "survives a restart: same storage folder",
            },
        )
        silence_id = silence["silenceID"]

        am.stop()
        assert not am.running()
        with pytest.raises(OSError):  # urllib.error.URLError: connection refused
            request_json(f"{url}/api/v2/status", timeout_s=2.0)

        am.start()
        assert am.running() and am.url == url  # the same port
        assert request_json(f"{url}/api/v2/status")["cluster"]["status"] == "disabled"
        silences = request_json(f"{url}/api/v2/silences")
        assert silence_id in {s["id"] for s in silences}, am.log_tail()

        name = f"dw_it_{uuid.uuid4().hex[:10]}"
        post_alerts(url, [make_alert(name)])
        poll_until(lambda: listed(url, name), f"{name} listed after the restart", DEADLINE_S)
    assert not am.running()
