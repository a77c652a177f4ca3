"""The 48 h scenario suite's run for tests/e2e/test_scenario_regression.py: simulate, then the
real `backtest` command with every output, in a child process.

The run is four minutes of one core, and most of the rest of `make test` waits on brokers,
Redis and worker processes with a core to spare. So when its tests are collected, the run
starts at once, beside the rest of the suite (at a lower priority, so the tests that time
things keep the CPU they had), and those tests are moved to the end, where they wait for it.

    python -m tests.e2e.scenario_run OUT   # the run itself, outputs in OUT
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

# Issue 7's target scenario
HOURS, SEED, BENIGN_ACCOUNTS = 48, 11, 200
FIXTURE = "backtest_run"  # the fixture whose tests wait for the run
DEADLINE_S = 3600.0  # four minutes alone; far longer only if the machine is starved
NICENESS = 10


def run(out: Path) -> int:
    """Simulate the suite into `out`, then backtest it there, both through the CLI."""
    from streams.cli import main

    events, labels = str(out / "events.jsonl"), str(out / "labels.csv")
    scenario = ["--scenario", "all", "--hours", str(HOURS), "--seed", str(SEED)]
    accounts = ["--accounts", str(BENIGN_ACCOUNTS)]
    status = main(["simulate", *scenario, *accounts, "--out", events, "--labels", labels])
    if status != 0:
        return status
    return main(
        [
            "backtest",
            events,
            "--labels",
            labels,
            "--json",
            str(out / "summary.json"),
            "--report",
            str(out / "report.html"),
            "--alerts-out",
            str(out / "alerts.jsonl"),
            "--quiet",
        ]
    )


class BackgroundRun:
    """The run in a child process, started once, waited for by the tests that read it."""

    def __init__(self) -> None:
        self.out = Path(tempfile.mkdtemp(prefix="distillwatch-scenario-"))
        self.log = self.out / "run.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is not None:
            return
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.scenario_run", str(self.out)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # (OSError: ended already, or not allowed here; it runs at the usual priority)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, NICENESS)

    def wait(self) -> Path:
        """The outputs' folder once the run ended well; the test fails with its log if not."""
        self.start()
        assert self.process is not None
        try:
            self.process.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"the scenario run took over {DEADLINE_S:.0f} s", pytrace=False)
        if self.process.returncode != 0:
            log = self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
            pytest.fail(f"the scenario run exited {self.process.returncode}:\n{log}", pytrace=False)
        return self.out

    def stop(self) -> None:
        """End the run if it still goes on (an interrupted session), and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.out, ignore_errors=True)


RUN_KEY = pytest.StashKey[BackgroundRun]()


def schedule(config: pytest.Config, items: list[pytest.Item]) -> None:
    """If tests of the run were collected: start it, and move them to the end."""
    waiting = [item for item in items if FIXTURE in getattr(item, "fixturenames", ())]
    if not waiting:
        return
    chosen = set(waiting)
    items[:] = [item for item in items if item not in chosen] + waiting
    background_run(config).start()


def finish(config: pytest.Config) -> None:
    background = config.stash.get(RUN_KEY, None)
    if background is not None:
        background.stop()


def background_run(config: pytest.Config) -> BackgroundRun:
    """The session's run (started here if collection did not start it)."""
    background = config.stash.get(RUN_KEY, None)
    if background is None:
        config.stash[RUN_KEY] = background = BackgroundRun()
    return background


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
