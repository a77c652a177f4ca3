"""Benchmark: the whole `backtest` command against merely reading the same file.

    .venv/bin/python bench/backtest_ratio.py EVENTS.jsonl LABELS.csv

Issue 7's machine-independent target: `distillwatch backtest EVENTS --labels --report --json`
at >= 0.3 of the rate at which the same process merely reads and `orjson.loads` the file.
Both rates are measured here, one after the other, in this process and a child of the same
interpreter, so the ratio cancels most of the machine's speed. Results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson


def read_and_parse(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                orjson.loads(line)
                count += 1
    return count, time.perf_counter() - started


def whole_backtest(path: Path, labels: Path) -> float:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        command = [
            sys.executable, "-m", "streams.cli", "backtest", str(path), "--labels", str(labels),
            "--quiet", "--report", str(out / "r.html"), "--json", str(out / "s.json"),
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events", type=Path)
    parser.add_argument("labels", type=Path)
    args = parser.parse_args()
    count, parse_seconds = read_and_parse(args.events)
    backtest_seconds = whole_backtest(args.events, args.labels)
    parse_rate, backtest_rate = count / parse_seconds, count / backtest_seconds
    print(f"{count:,} events")
    print(f"read + orjson.loads: {parse_seconds:.1f} s = {parse_rate:,.0f} events/s")
    print(f"backtest --labels --report --json: {backtest_seconds:.1f} s = {backtest_rate:,.0f}")
    print(f"ratio: {backtest_rate / parse_rate:.3f} (target >= 0.3)")


if __name__ == "__main__":
    main()
