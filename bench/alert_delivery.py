"""Benchmark: time from an alert on the alerts topic to its receiver, and a receiver outage.

    .venv/bin/python scripts/testenv.py -- .venv/bin/python bench/alert_delivery.py \\
        [--alerts 300] [--rate 20] [--outage-seconds 20]

A dispatcher (streams/dispatcher.py, in this process) delivers a fresh alerts topic to three
sinks: the first Alertmanager of DISTILLWATCH_ALERTMANAGER_URLS, a Standard Webhooks receiver
and a PagerDuty-like receiver (local aiohttp servers that verify and record what they accept).
Alerts are the lifecycle's own messages (firing, updated, resolved of several incidents),
produced one by one at `--rate` per second; the wall-clock time each was produced is kept by
alert_id and compared with its arrival at each receiver: the alert-to-receiver latency
(producer acknowledgement, the dispatcher's fetch, the cursor check, the HTTP post, the cursor
write). Then the outage: the webhook receiver answers 503 for `--outage-seconds` while alerts
keep coming; the figures are the time from its recovery to the last delivery, the attempts,
and whether every state change arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from detectors.findings import Finding
from detectors.lifecycle import Crossing, expire, observe
from streams.dispatcher import dispatch
from streams.kafka_admin import ensure_topics
from streams.sinks.config import validate_sinks
from streams.sinks.metrics import SinkMetrics
from tests.http_receivers import NEW_SECRET, Received, Receiver, webhook_judge

HOLD = 3600.0


def messages(incidents: int, started: float) -> list[dict[str, Any]]:
    """Each incident: firing (high), updated (critical), resolved; interleaved by time."""
    out: list[tuple[float, dict[str, Any]]] = []
    for n in range(incidents):
        account = f"acct_{uuid.uuid4().hex[:10]}"
        state = None
        for step, severity in enumerate(("high", "critical")):
            finding = Finding(
                "reasoning_elicitation", account, severity, 0.8, "1h",
                {"requests": 100 + step}, f"Account {account}: bench", ("bench",),
            )  # fmt: skip
            at = started + n + 60 * step
            decision = observe(state, [Crossing(finding, at)], "p:0", HOLD, "https://rb/")
            state = decision.state or state
            out += [(at, m) for m in decision.messages]
        assert state is not None
        out += [(state.last_seen + HOLD, m) for m in expire(state, started + 9 * HOLD).messages]
    return [m for _, m in sorted(out, key=lambda item: item[0])]


class Recorder:
    """A receiver's judge: accepts (or answers 503 while `down`) and notes arrival times."""

    def __init__(self, judge: Any, id_of: Any) -> None:
        self.judge = judge
        self.id_of = id_of
        self.down = threading.Event()
        self.arrived: dict[str, list[float]] = {}
        self.attempts = 0

    def __call__(self, got: Received) -> tuple[int, dict[str, str]]:
        self.attempts += 1
        if self.down.is_set():
            return 503, {}
        status, headers = self.judge(got) if self.judge else (202, {})
        if status < 300:
            self.arrived.setdefault(self.id_of(got), []).append(time.time())
        return status, headers


def pagerduty_id(got: Received) -> str:
    """A trigger carries its alert_id; a resolve only its dedup_key."""
    event = orjson.loads(got.body)
    if event["event_action"] == "trigger":
        return str(event["payload"]["custom_details"]["alert_id"])
    return "resolve:" + str(event["dedup_key"])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
    return (
        f"p50 {1000 * q[49]:.1f} ms, p90 {1000 * q[89]:.1f} ms, p99 {1000 * q[98]:.1f} ms, "
        f"max {1000 * ordered[-1]:.1f} ms ({len(ordered)} alerts)"
    )


async def run(args: argparse.Namespace) -> None:
    bootstrap = os.environ["DISTILLWATCH_KAFKA_BOOTSTRAP"]
    redis_url = os.environ["DISTILLWATCH_REDIS_URL"]
    am_url = os.environ.get("DISTILLWATCH_ALERTMANAGER_URLS", "").split(",")[0]
    run_id = uuid.uuid4().hex[:8]
    topic, parked = f"bench-{run_id}-alerts", f"bench-{run_id}-alerts.parked"
    ensure_topics(bootstrap, {topic: {}, parked: {}}, partitions=1)
    webhook = Recorder(webhook_judge([NEW_SECRET]), lambda got: got.headers["webhook-id"])
    pager = Recorder(None, pagerduty_id)
    delivery = {"initial_backoff_seconds": 0.2, "max_backoff_seconds": 2, "horizon_seconds": 600}
    registry = CollectorRegistry()
    with Receiver(judge=webhook) as hook, Receiver(judge=pager) as pd:
        sinks: list[dict[str, Any]] = [
            {"name": "hook", "type": "webhook", "url": hook.url, "secrets": [NEW_SECRET],
             "delivery": delivery},
            {"name": "pd", "type": "pagerduty", "url": pd.url, "routing_key": "BENCH",
             "delivery": delivery},
        ]  # fmt: skip
        if am_url:
            sinks.append({"name": "am", "type": "alertmanager", "urls": [am_url],
                          "delivery": delivery})  # fmt: skip
        config = validate_sinks({"sinks": sinks}, "bench")
        stop = asyncio.Event()
        task = asyncio.create_task(
            dispatch(config, bootstrap, redis_url, alerts_topic=topic, parked_topic=parked,
                     group_prefix=f"bench-{run_id}", key_prefix=f"bench-{run_id}",
                     metrics=SinkMetrics.create(registry), stop=stop)
        )  # fmt: skip
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        sent: dict[str, float] = {}

        async def produce(batch: list[dict[str, Any]]) -> None:
            for alert in batch:
                future = producer.send(
                    topic, key=alert["dedup_key"].encode(), value=orjson.dumps(alert)
                )
                await asyncio.to_thread(future.get, 30)
                sent[alert["alert_id"]] = time.time()
                await asyncio.sleep(1 / args.rate)  # the offered rate, not a synchronisation

        async def delivered(receiver: Recorder, count: int, deadline: float) -> None:
            end = time.monotonic() + deadline
            while len(receiver.arrived) < count:
                if time.monotonic() > end:
                    raise SystemExit(f"only {len(receiver.arrived)} of {count} delivered")
                await asyncio.sleep(0.05)  # polling under a deadline

        steady = messages(args.alerts // 3, time.time() - 3 * HOLD)
        await produce(steady)
        await delivered(webhook, len(steady), 120)
        await delivered(pager, len(steady), 120)
        for name, receiver in (("webhook", webhook), ("pagerduty", pager)):
            lat = [min(receiver.arrived[i]) - sent[i] for i in sent if i in receiver.arrived]
            print(f"steady {args.rate}/s, alert -> {name}: {percentiles(lat)}")
        if am_url:
            seconds = (
                registry.get_sample_value("distillwatch_sink_delivery_seconds_sum", {"sink": "am"})
                or 0.0
            )
            count = (
                registry.get_sample_value(
                    "distillwatch_sink_delivery_seconds_count", {"sink": "am"}
                )
                or 1.0
            )
            print(f"alertmanager post (accepted), mean {1000 * seconds / count:.1f} ms")

        # The outage: the webhook receiver refuses while alerts keep coming.
        outage = messages(args.alerts // 3, time.time() - 3 * HOLD)
        before = webhook.attempts
        webhook.down.set()
        down_at = time.monotonic()
        producing = asyncio.create_task(produce(outage))
        await asyncio.sleep(args.outage_seconds)  # the outage's length, not a synchronisation
        webhook.down.clear()
        up_at = time.monotonic()
        await producing
        await delivered(webhook, len(steady) + len(outage), 300)
        caught_up = time.monotonic() - up_at
        copies = sum(len(times) - 1 for times in webhook.arrived.values())
        parked_count = registry.get_sample_value(
            "distillwatch_sink_deliveries_total", {"sink": "hook", "outcome": "parked"}
        )
        print(
            f"outage {up_at - down_at:.0f} s: {len(outage)} alerts produced during it, "
            f"{webhook.attempts - before - len(outage)} failed attempts, all delivered "
            f"{caught_up:.1f} s after recovery; copies delivered: {copies}; "
            f"parked: {parked_count or 0:.0f}"
        )  # fmt: skip
        stop.set()
        await task
        producer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--outage-seconds", type=float, default=20.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
