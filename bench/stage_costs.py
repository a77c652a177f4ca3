"""Benchmark: what each stage of the embedded pipeline costs per event.

    .venv/bin/python bench/stage_costs.py EVENTS.jsonl [--runs 3]

Runs the stages one after the other over the whole file (in memory, garbage collector tuned as
the distillwatch command tunes it) and reports the best of `--runs` per stage, in microseconds
per event: decode (orjson and validation), feature extraction, the window update built from
the features, the in-memory store, and the rules' judgement. Tells where a throughput target
is lost; results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from detectors.decode import decode_event
from detectors.features import extract
from detectors.windows import WindowReading, WindowUpdate
from streams.config_loader import load_config
from streams.memory_store import MemoryWindowStore
from streams.outcome import BatchOutcome
from streams.pipeline import DetectionPipeline
from streams.runtime import tune_gc_for_throughput
from streams.updates import UpdateBuilder

BATCH = 1000


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def one_run(lines: list[bytes]) -> dict[str, float]:
    config = load_config()
    bound = config.bound
    seconds: dict[str, float] = {}
    seconds["decode"], decoded = _timed(
        lambda: [decode_event(line, config.max_event_bytes) for line in lines]
    )
    events = list(decoded)  # type: ignore[call-overload]
    build = UpdateBuilder(bound)
    seconds["features and window update"], made = _timed(lambda: [build(event) for event in events])
    updates: list[WindowUpdate] = list(made)  # type: ignore[call-overload]
    store = MemoryWindowStore()

    async def apply_all() -> list[WindowReading]:
        readings: list[WindowReading] = []
        for start in range(0, len(updates), BATCH):
            readings += await store.apply(
                updates[start : start + BATCH], bound.layout, config.state.dedupe_horizon_seconds
            )
        return readings

    seconds["store (memory)"], applied = _timed(lambda: asyncio.run(apply_all()))
    readings: list[WindowReading] = list(applied)  # type: ignore[call-overload]
    pipeline = DetectionPipeline(config, MemoryWindowStore())

    def judge_all() -> None:
        for start in range(0, len(events), BATCH):
            outcome = BatchOutcome()
            outcome.events = events[start : start + BATCH]
            outcome.readings = readings[start : start + BATCH]
            pipeline._detect(outcome, config)

    seconds["rules"], _ = _timed(judge_all)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tune_gc_for_throughput()
    lines = [line for line in args.events.read_bytes().splitlines() if line.strip()]
    events = [decode_event(line) for line in lines]
    runs = [one_run(lines) for _ in range(args.runs)]
    features = min(
        _timed(lambda: [extract(event) for event in events])[0] for _ in range(args.runs)
    )
    total = 0.0
    for stage in runs[0]:
        best = min(run[stage] for run in runs) / len(lines) * 1e6
        total += best
        print(f"{stage:36s} {best:7.1f} us/event")
    print(f"{'  of which features alone':36s} {features / len(lines) * 1e6:7.1f} us/event")
    print(f"{'sum':36s} {total:7.1f} us/event = {1e6 / total:,.0f} events/s ({len(lines):,})")


if __name__ == "__main__":
    main()
