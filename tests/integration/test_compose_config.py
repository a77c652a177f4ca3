"""docker-compose.yml is valid Compose: Debian's docker-compose validates it without a
Docker engine (`docker-compose config -q`), with the secrets files absent as on a fresh
clone."""

from __future__ import annotations

import subprocess

from tests.conftest import installed
from tests.helpers import ROOT


def test_compose_file_validates() -> None:
    compose = installed("docker-compose", "DISTILLWATCH_DOCKER_COMPOSE", ("docker-compose",))
    result = subprocess.run(
        [compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config", "-q"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
