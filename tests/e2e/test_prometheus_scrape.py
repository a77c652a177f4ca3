"""End to end with a real Prometheus: simulated traffic -> Kafka -> a live worker -> alerts ->
a live dispatcher -> Alertmanager, with gateway logs coming in both ways (Kong entries on a
gateway topic the worker reads, LiteLLM batches pushed to a live ingest endpoint); the worker,
the dispatcher and ingest scraped. Every query of the committed dashboards returns series, and
every alerting rule for distillwatch's own health loads, evaluates without error and reads
only metrics that are exported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_server import PrometheusServer, scrape_config  # scripts/, on the path

from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm
from tests.helpers import ROOT
from tests.integration.harness import (
    Topics,
    WorkerProcess,
    free_port,
    poll_until,
    produce,
    run_ingest,
    start_worker,
)
from tests.unit.test_adapter_kong import as_kong

pytestmark = pytest.mark.integration
DASHBOARDS = ROOT / "config" / "grafana" / "dashboards"
RULES = ROOT / "config" / "prometheus" / "rules"
# The dashboards' Grafana variables, as Grafana would fill them in
VARIABLES = {
    "$__rate_interval": "1m",
    "$__range": "5m",
    "$worker_job": "distillwatch-worker",
    "$dispatcher_job": "distillwatch-dispatcher",
    "$ingest_job": "distillwatch-ingest",
}
METRIC_NAME = re.compile(r"\b(distillwatch_[a-z_]+|up)\b")


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expression) of every target in the committed JSON."""
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                queries.append((board["title"], panel["title"], expr))
    return queries


def rule_expressions() -> list[tuple[str, str]]:
    found = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [(rule["alert"], rule["expr"]) for rule in group["rules"] if "alert" in rule]
    return found


def traffic() -> list[tuple[bytes, bytes]]:
    lines = list(simulate("all", hours=1, seed=21, benign_accounts=30).lines())
    return [(orjson.loads(line)["account_id"].encode(), line) for line in lines]


@pytest.fixture
def dispatcher(
    tmp_path: Path,
    kafka_bootstrap: str,
    redis_url: str,
    alertmanager_urls: list[str],
    key_prefix: str,
    topics: Topics,
) -> Iterator[str]:
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "sinks": [
                    {"name": "alertmanager", "type": "alertmanager", "urls": alertmanager_urls}
                ],
            }
        )
    )
    port = free_port()
    log = tmp_path / "dispatcher.log"
    command = [
        sys.executable, "-m", "streams.cli", "dispatch", "--sinks", str(sinks),
        "--kafka", kafka_bootstrap, "--redis", redis_url, "--alerts-topic", topics.alerts,
        "--parked-topic", f"{topics.alerts}.parked", "--group-prefix", f"{key_prefix}-sink",
        "--key-prefix", key_prefix, "--metrics-port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.fixture
def topics() -> Topics:
    return Topics.fresh()


def gateway_events(seed: int, count: int) -> list[dict[str, Any]]:
    lines = simulate("benign", hours=0.2, seed=seed, benign_accounts=5).lines()
    return [orjson.loads(line) for line in lines][:count]


@pytest.fixture
def worker(
    tmp_path: Path, kafka_bootstrap: str, redis_url: str, key_prefix: str, topics: Topics
) -> Iterator[WorkerProcess]:
    """The worker, also reading a Kong kafka-log topic that holds 20 entries and one that
    maps to no event (its time is not a time)."""
    kong_topic = f"{topics.input}-kong"
    entries = [as_kong(event) for event in gateway_events(31, 21)]
    entries[-1]["started_at"] = "yesterday"
    produce(kafka_bootstrap, kong_topic, [(b"kong-1", orjson.dumps(e)) for e in entries])
    process = start_worker(
        tmp_path, kafka_bootstrap, redis_url, topics, f"e2e-{uuid.uuid4().hex[:6]}", key_prefix,
        batch_size=300,
        extra_args=["--state-sample-seconds", "2", "--extra-input", f"{kong_topic}=kong"],
    )  # fmt: skip
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def ingest(tmp_path: Path, kafka_bootstrap: str, topics: Topics) -> Iterator[str]:
    """A live ingest endpoint: its metrics address."""
    port = free_port()
    with run_ingest(
        tmp_path, kafka_bootstrap, topics.input, uuid.uuid4().hex, ["--metrics-port", str(port)]
    ) as process:
        # A LiteLLM batch with one record that maps to no event, and a push with a wrong token
        batch = [as_litellm(event) for event in gateway_events(32, 20)] + [{"startTime": 1}]
        status, answer = process.post("/v1/litellm", orjson.dumps(batch))
        assert (status, answer["accepted"], len(answer["rejected"])) == (200, 20, 1), answer
        assert process.post("/v1/litellm", orjson.dumps(batch), token="not-a-token")[0] == 401
        yield f"127.0.0.1:{port}"


def test_every_dashboard_and_rule_query_returns_series_from_a_live_run(
    tmp_path: Path,
    prometheus_bin: str,
    kafka_bootstrap: str,
    topics: Topics,
    worker: WorkerProcess,
    dispatcher: str,
    ingest: str,
) -> None:
    messages = traffic()
    produce(kafka_bootstrap, topics.input, messages)
    prometheus = PrometheusServer(
        prometheus_bin, tmp_path / "prometheus", "127.0.0.1", free_port(),
        scrape_config([f"127.0.0.1:{worker.metrics_port}"], [dispatcher], interval="1s",
                      ingests=[ingest]),
    )  # fmt: skip
    prometheus.start()
    try:
        poll_until(
            lambda: prometheus.query(
                f"sum(distillwatch_events_total) >= {len(messages) + 40}"
                " and on() count(distillwatch_sink_deliveries_total{outcome='sent'} > 0)"
                " and on() distillwatch_tracked_accounts > 0"
                " and on() sum(distillwatch_normalized_total{outcome='dead_letter'}) > 0"
                " and on() sum(distillwatch_ingest_records_total{outcome='accepted'}) > 0"
            ),
            "every event processed (the gateways' 40 too), an alert delivered and the state"
            " sampled, in Prometheus",
            deadline_s=180,
            worker=worker,
        )
        missing = []
        for board, panel, expr in dashboard_queries():
            try:
                poll_until(partial(prometheus.query, expr), expr, deadline_s=30)
            except AssertionError:
                missing.append(f"{board} / {panel}: {expr}")
        assert not missing, "queries without series:\n" + "\n".join(missing)

        expected = {name for name, _ in rule_expressions()}

        def evaluated() -> dict[str, str] | None:
            rules = {
                rule["name"]: rule["health"]
                for group in prometheus.api("rules")["groups"]
                for rule in group["rules"]
            }
            done = expected <= set(rules) and "unknown" not in rules.values()
            return rules if done else None

        health = poll_until(evaluated, "every rule loaded and evaluated once")
        assert all(health[name] == "ok" for name in expected), health
        absent = sorted(
            name
            for _, expr in rule_expressions()
            for name in set(METRIC_NAME.findall(expr))
            if not prometheus.query(f"count({{__name__=~'{name}(_bucket|_count|_sum)?'}})")
        )
        assert not absent, f"rules read metrics no process exports: {absent}"
    finally:
        prometheus.stop()
