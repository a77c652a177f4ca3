"""Mapping cost of each input adapter (detectors/adapters), records per second on one core.

Simulated traffic (real prompt sets, every family) is written in each gateway's format in two
shapes: one record per payload (a Kong kafka-log message, an OTLP export per call: the most
work per record) and batches of `--batch` records (a LiteLLM generic_api batch, a Collector's
batched export, a Kong http-log batch). Each call's completion is logged where the gateway
logs the response (LiteLLM's `response`, Kong's logged response body, OTLP's output messages
with content capture on), about four characters per output token (tests/adapter_checks.py
`replies`): a production log's size. `--no-completions` logs a placeholder instead (the
figures of earlier stops). Each adapter then maps every payload, timed alone (no decoding of
the mapped events, no I/O), `--runs` times.

Reported per adapter and shape: the best run, which is the machine's speed (as `timeit`
reports: slower runs are other work on the machine, and this VM's speed varies by 1.6x from
minute to minute), and the median. Beside it, the JSON parsing alone: `orjson.loads` of the
payloads and of the JSON documents logged as strings inside them (Kong's bodies, OTLP's
messages), the floor any adapter sits on; and the whole path of a record in the normaliser
and ingest (`streams.adapted_input.expand`: the adapter, then each event encoded as v1 JSON and
checked by the v1 decoder).

Where the compiled fast path is installed (native/, detectors/adapters/native.py),
the adapter as distillwatch runs it and its Python path alone are both reported.

Timed with the garbage-collector settings every distillwatch process runs with
(`streams.runtime.tune_gc_for_throughput`), after the simulated events are dropped.

    .venv/bin/python bench/adapter_speed.py --hours 1 --runs 7
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from detectors.adapters import FORMATS, native
from detectors.adapters.base import Adapter
from detectors.adapters.kong import kong_adapter
from detectors.adapters.litellm import litellm_adapter
from detectors.adapters.otlp_json import otlp_json_adapter
from streams.adapted_input import expand
from streams.runtime import tune_gc_for_throughput
from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm, replies

TARGET_RECORDS_PER_SECOND = 50_000
# events, and their completions (None: not logged) -> one payload holding those calls
Writer = Callable[[list[dict[str, Any]], list[str] | None], bytes]


def writers() -> dict[str, Writer]:
    """Format -> how a gateway of that format logs some calls in one payload."""

    def one_or_list(records: list[dict[str, Any]]) -> bytes:
        return orjson.dumps(records[0] if len(records) == 1 else records)

    def texts(events: list[dict[str, Any]], completions: list[str] | None) -> list[str | None]:
        return list(completions) if completions is not None else [None] * len(events)

    found: dict[str, Writer] = {
        "litellm": lambda events, completions: one_or_list(
            [as_litellm(e, c) for e, c in zip(events, texts(events, completions), strict=True)]
        )
    }
    try:  # the other formats' writers live with their tests' fixtures
        from tests.unit.test_adapter_kong import as_kong
        from tests.unit.test_adapter_otlp import as_otlp_export

        found["kong"] = lambda events, completions: one_or_list(
            [as_kong(e, c) for e, c in zip(events, texts(events, completions), strict=True)]
        )
        found["otlp-json"] = lambda events, completions: orjson.dumps(
            as_otlp_export(events, completions)
        )
    except ImportError:
        pass
    return found


def variants(name: str) -> dict[str, Adapter]:
    """The adapter of a format as distillwatch runs it, and its Python path alone where a
    compiled fast path (detectors/adapters/native.py) stands in front of it."""
    python_only = {
        "litellm": litellm_adapter,
        "kong": kong_adapter,
        "otlp-json": otlp_json_adapter,
    }.get(name)
    if python_only is None or not native.AVAILABLE:
        return {name: FORMATS[name](None)}
    return {
        f"{name} (compiled)": FORMATS[name](None),
        f"{name} (Python)": python_only(compiled=False),
    }


def embedded_json(value: Any) -> list[str]:
    """The JSON documents a parsed payload carries as strings (a logged body, a messages
    attribute): an adapter parses them too."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in embedded_json(item)]
    if isinstance(value, list):
        return [text for item in value for text in embedded_json(item)]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
        return [value]
    return []


def timed(work: Callable[[], object], records: int, runs: int) -> list[float]:
    """Records per second of each run of `work`."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        rates.append(records / (time.perf_counter() - started))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--completions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each call's completion where the gateway logs the response (LiteLLM's "
        "response, Kong's logged response body, OTLP's output messages), as in production",
    )
    args = parser.parse_args()
    events = [orjson.loads(line) for line in simulate("all", hours=args.hours, seed=3).lines()]
    completions = replies(events) if args.completions else None
    shapes = {1: "one record per payload", args.batch: f"batches of {args.batch}"}
    payloads = {
        (name, size): [
            write(events[i : i + size], completions and completions[i : i + size])
            for i in range(0, len(events), size)
        ]
        for name, write in writers().items()
        for size in shapes
    }
    records = len(events)
    del events
    gc.collect()
    tune_gc_for_throughput()  # as the CLI does at start: ingest and the normaliser run so
    logged = "with" if completions is not None else "without"
    print(f"{records} simulated calls, {logged} their completions; best and median of "
          f"{args.runs} runs, records/s")  # fmt: skip
    for (format_name, size), batch in payloads.items():
        inner = [text for payload in batch for text in embedded_json(orjson.loads(payload))]
        for name, adapter in variants(format_name).items():
            report(name, shapes[size], adapter, batch, inner, records, args.runs)


def report(
    name: str,
    shape: str,
    adapter: Adapter,
    batch: list[bytes],
    inner: list[str],
    records: int,
    runs: int,
) -> None:
    """Time one adapter on one shape of payloads, and print its line."""
    mapped = sum(len(adapter(payload).events) for payload in batch)
    assert mapped == records, f"{name}: {records - mapped} records did not map"

    def parse() -> None:
        for payload in batch:
            orjson.loads(payload)
        for text in inner:
            orjson.loads(text)

    def adapt() -> None:
        for payload in batch:
            adapter(payload)

    def normalise() -> None:
        expand(adapter, batch)

    floor = max(timed(parse, records, runs))
    rates = timed(adapt, records, runs)
    whole = max(timed(normalise, records, runs))
    best, median = max(rates), statistics.median(rates)
    verdict = "meets" if best >= TARGET_RECORDS_PER_SECOND else "BELOW"
    size = sum(map(len, batch)) / records
    print(f"{name}, {shape} ({size:,.0f} B a record): best {best:,.0f}, median {median:,.0f} "
          f"({verdict} the {TARGET_RECORDS_PER_SECOND:,}/s target; the JSON parsing alone "
          f"{floor:,.0f}; with v1 encoding and the decoder's check {whole:,.0f})")  # fmt: skip


if __name__ == "__main__":
    main()
