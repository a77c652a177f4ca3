"""Parts the chaos suite breaks on purpose: a Redis of its own, with the persistence
docs/operations.md describes (AOF, fsync every second: every write reaches the kernel before
Redis replies, so killing the process loses nothing), killed and restarted on its data."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis
import testenv  # scripts/, on the path from tests/conftest.py

from tests.integration.harness import free_port, poll_until


@dataclass
class PersistentRedis:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = testenv.ensure_redis_server()  # as make test finds (or installs) it
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--maxmemory-policy", "noeviction", "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log"), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        poll_until(self._answers, "the chaos Redis to answer", deadline_s=30)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: whatever Redis acknowledged was written to its AOF (the kernel's cache)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
