"""Mapping cost of each input adapter (detectors/adapters), records per second on one core.

Simulated traffic (real prompt sets, every family) is written in each gateway's format, one
record per payload, as a Kafka message from that gateway holds it. Then each adapter maps
every payload, timed alone (no decoding of the mapped events, no I/O).

    .venv/bin/python bench/adapter_speed.py --hours 2 --runs 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson

from detectors.adapters import FORMATS
from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm

TARGET_RECORDS_PER_SECOND = 50_000


def writers() -> dict[str, Callable[[dict[str, Any]], bytes]]:
    """Format -> how a gateway of that format logs one event (the v1 event's own fields)."""
    found: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "litellm": lambda event: orjson.dumps(as_litellm(event))
    }
    try:  # the other formats' writers live with their tests' fixtures
        from tests.unit.test_adapter_kong import as_kong
        from tests.unit.test_adapter_otlp import as_otlp_export

        found["kong"] = lambda event: orjson.dumps(as_kong(event))
        found["otlp-json"] = lambda event: orjson.dumps(as_otlp_export([event]))
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    events = [orjson.loads(line) for line in simulate("all", hours=args.hours, seed=3).lines()]
    for name, write in writers().items():
        payloads = [write(event) for event in events]
        adapter = FORMATS[name](None)
        rates = []
        for _ in range(args.runs):
            started = time.perf_counter()
            mapped = sum(len(adapter(payload).events) for payload in payloads)
            rates.append(len(payloads) / (time.perf_counter() - started))
        assert mapped == len(payloads), f"{name}: {len(payloads) - mapped} records did not map"
        verdict = "meets" if min(rates) >= TARGET_RECORDS_PER_SECOND else "BELOW"
        print(f"{name}: {len(payloads)} records, "
              f"{', '.join(f'{rate:,.0f}' for rate in rates)} records/s "
              f"({verdict} the {TARGET_RECORDS_PER_SECOND:,}/s target)")  # fmt: skip


if __name__ == "__main__":
    main()
