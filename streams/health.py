"""`distillwatch health`: is a worker alive and moving? For a container or supervisor probe.

Reads the worker's own Prometheus endpoint. Unhealthy (exit 1) when the worker has been on one
batch, retries included, for longer than `--max-stall-seconds` (its partitions are stalled); an
idle worker with nothing to consume is healthy. Exit 2 when the endpoint does not answer.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

STARTED = "distillwatch_batch_started_timestamp_seconds"
LAST_SUCCESS = "distillwatch_last_batch_success_timestamp_seconds"


def gauges(metrics_text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name in (STARTED, LAST_SUCCESS)
    }


def stall_reason(metrics_text: str, now: float, max_stall_seconds: float) -> str | None:
    """Why the worker is unhealthy, or None."""
    values = gauges(metrics_text)
    if STARTED not in values:
        return f"{STARTED} is not exported: not a distillwatch worker endpoint"
    started = values[STARTED]
    if started > 0 and now - started > max_stall_seconds:
        since = values.get(LAST_SUCCESS, 0.0)
        last = f"{now - since:.0f} s ago" if since > 0 else "never"
        return (
            f"one batch has been in progress for {now - started:.0f} s (limit "
            f"{max_stall_seconds:.0f} s); last batch delivered {last}"
        )
    return None


def add_health_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-url", default="http://127.0.0.1:9464/metrics")
    parser.add_argument("--max-stall-seconds", type=float, default=120.0)


def run_health(args: argparse.Namespace) -> int:
    try:
        with urllib.request.urlopen(args.metrics_url, timeout=5) as response:
            text = response.read().decode("utf-8", "replace")
    except OSError as error:
        print(f"unhealthy: {args.metrics_url} does not answer: {error}", file=sys.stderr)
        return 2
    reason = stall_reason(text, time.time(), args.max_stall_seconds)
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    print("healthy")
    return 0
