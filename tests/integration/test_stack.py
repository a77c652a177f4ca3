"""`make stack` (scripts/stack.py) brings the topology up as processes: its smoke mode starts
workers, the dispatcher, the ingest endpoint, Prometheus and the simulator on the test
services, and passes once Prometheus scrapes every process and the workers have processed
events."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration


def test_stack_smoke(
    prometheus_bin: str, kafka_bootstrap: str, redis_url: str, alertmanager_url: str
) -> None:
    import testenv  # scripts/, on the path from tests/conftest.py

    command = [
        sys.executable, str(ROOT / "scripts" / "stack.py"), "--smoke", "--workers", "2",
        "--rate", "200", "--hours", "0.5", "--kafka", kafka_bootstrap, "--redis", redis_url,
        "--alertmanager", alertmanager_url, "--prometheus-port", str(testenv.free_port()),
        "--ingest-port", str(testenv.free_port()),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "smoke check passed" in result.stderr + result.stdout
