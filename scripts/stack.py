"""`make stack`: the compose topology as plain processes, for a machine without Docker.

Redis, Kafka (KRaft) and Alertmanager as `make test` starts them (scripts/testenv.py, reused
when already running), then N workers on one consumer group, the alert dispatcher, the ingest
endpoint for gateways that push (its bearer token in a file of the stack's folder), Prometheus
scraping them with distillwatch's own alerting rules, Grafana with the dashboards where a
`grafana` binary is installed, and the simulator producing live traffic. Ctrl-C stops
everything it started, in reverse order.

    python scripts/stack.py --workers 2 --partitions 6 --rate 50
    python scripts/stack.py --smoke   # start, wait until Prometheus sees every process and
                                      # the workers process events, then stop (exit 0)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import testenv
from prometheus_server import PrometheusServer, scrape_config

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
GRAFANA_NAMES = ("grafana", "grafana-server")
SMOKE_DEADLINE_S = 180.0


def distillwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", "--log-level", "INFO", *args]


@contextmanager
def process(name: str, command: Sequence[str], logs: Path, **env: str) -> Iterator[None]:
    log_file = logs / f"{name}.log"
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )  # fmt: skip
    testenv.log(f"started {name} (log: {log_file})")
    try:
        yield
    finally:
        testenv.stop_process(proc, name)


def sinks_file(folder: Path, alertmanager: str) -> Path:
    path = folder / "sinks.yaml"
    sinks = [{"name": "alertmanager", "type": "alertmanager", "urls": [alertmanager]}]
    path.write_text(json.dumps({"schema_version": 1, "sinks": sinks}))
    return path


@contextmanager
def grafana(folder: Path, prometheus_url: str, port: int) -> Iterator[str | None]:
    """Grafana with the provisioned data source and dashboards, if one is installed."""
    binary = next(filter(None, map(shutil.which, GRAFANA_NAMES)), None)
    home = next((p for p in (Path("/usr/share/grafana"),) if p.exists()), None)
    if binary is None or home is None:
        testenv.log("no Grafana installed: import config/grafana/dashboards/*.json by hand")
        yield None
        return
    provisioning = folder / "grafana-provisioning"
    shutil.copytree(ROOT / "config" / "grafana" / "provisioning", provisioning)
    provider = provisioning / "dashboards" / "distillwatch.yml"
    provider.write_text(
        provider.read_text().replace(
            "/var/lib/grafana/dashboards/distillwatch", str(ROOT / "config/grafana/dashboards")
        )
    )
    data = folder / "grafana-data"
    command = [binary, *(["server"] if Path(binary).name == "grafana" else []),
               f"--homepath={home}",
               f"cfg:paths.provisioning={provisioning}", f"cfg:paths.data={data}",
               f"cfg:paths.logs={folder}", f"cfg:server.http_port={port}",
               "cfg:server.http_addr=127.0.0.1"]  # fmt: skip
    with process("grafana", command, folder, DISTILLWATCH_PROMETHEUS_URL=prometheus_url):
        yield f"http://127.0.0.1:{port}"


def smoke_check(prometheus: PrometheusServer, targets: int) -> None:
    """Every target up and events processed, as Prometheus sees them; raises after a deadline."""
    testenv.wait_until(
        lambda: _all_up(prometheus, targets), "every process scraped and events processed",
        deadline_s=SMOKE_DEADLINE_S,
    )  # fmt: skip


def _all_up(prometheus: PrometheusServer, targets: int) -> bool:
    try:
        up = prometheus.query("up == 1")
        processed = prometheus.query('sum(distillwatch_events_total{outcome="applied"}) > 0')
    except (OSError, RuntimeError):
        return False
    return len(up) == targets and bool(processed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=50.0, help="simulated events per second")
    parser.add_argument("--hours", type=float, default=24.0, help="simulated traffic to send")
    env = os.environ.get
    parser.add_argument("--redis", default=env("DISTILLWATCH_REDIS_URL", testenv.DEFAULT_REDIS_URL))
    parser.add_argument(
        "--kafka", default=env("DISTILLWATCH_KAFKA_BOOTSTRAP", testenv.DEFAULT_KAFKA_BOOTSTRAP)
    )
    parser.add_argument("--alertmanager", default="http://127.0.0.1:19093")
    parser.add_argument("--prometheus-port", type=int, default=19090)
    parser.add_argument("--grafana-port", type=int, default=13000)
    parser.add_argument("--ingest-port", type=int, default=18088)
    parser.add_argument("--key-prefix", default="dwstack")
    parser.add_argument("--smoke", action="store_true", help="check the stack, then stop")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, testenv.raise_interrupt)
    folder = Path(tempfile.mkdtemp(prefix="dw-stack-"))
    run = f"{args.key_prefix}-{int(time.time())}" if args.smoke else args.key_prefix
    topics = {"input": f"{run}-requests", "alerts": f"{run}-alerts", "dlq": f"{run}-requests.dlq",
              "linkage": f"{run}-requests.linkage"}  # fmt: skip
    config = folder / "detectors.yaml"
    config.write_text(
        (ROOT / "config" / "detectors.yaml").read_text()
        .replace("key_prefix: dw", f"key_prefix: {run}")
        .replace("rule_files: [rules/*.yaml]", f"rule_files: ['{ROOT / 'config/rules'}/*.yaml']")
    )  # fmt: skip
    worker_ports = [testenv.free_port() for _ in range(args.workers)]
    dispatcher_port, ingest_metrics_port = testenv.free_port(), testenv.free_port()
    token_file = folder / "ingest_token"
    token_file.write_text(secrets.token_urlsafe(32) + "\n")
    token_file.chmod(0o600)
    with ExitStack() as stack:
        stack.enter_context(testenv.redis_service(args.redis))
        stack.enter_context(testenv.kafka_service(args.kafka))
        stack.enter_context(testenv.alertmanager_service(args.alertmanager))
        for index, port in enumerate(worker_ports):
            stack.enter_context(process(f"worker-{index}", distillwatch(
                "worker", "--config", str(config), "--bootstrap", args.kafka, "--redis",
                args.redis, "--app-id", run, "--input-topic", topics["input"],
                "--alerts-topic", topics["alerts"], "--dlq-topic", topics["dlq"],
                "--linkage-topic", topics["linkage"], "--partitions", str(args.partitions),
                "--metrics-port", str(port), "--metrics-addr", "127.0.0.1",
                "--state-sample-seconds", "30", "--data-dir", str(folder / f"faust-{index}"),
            ), folder))  # fmt: skip
        stack.enter_context(process("dispatcher", distillwatch(
            "dispatch", "--sinks", str(sinks_file(folder, args.alertmanager)), "--kafka",
            args.kafka, "--redis", args.redis, "--alerts-topic", topics["alerts"],
            "--parked-topic", f"{topics['alerts']}.parked", "--key-prefix", run,
            "--group-prefix", f"{run}-sink", "--metrics-port", str(dispatcher_port),
        ), folder))  # fmt: skip
        stack.enter_context(process("ingest", distillwatch(
            "ingest", "--kafka", args.kafka, "--topic", topics["input"], "--host", "127.0.0.1",
            "--port", str(args.ingest_port), "--metrics-port", str(ingest_metrics_port),
        ), folder, DISTILLWATCH_INGEST_TOKENS_FILE=str(token_file)))  # fmt: skip
        prometheus = PrometheusServer(
            str(Path(testenv.ensure_promtool()).with_name("prometheus")), folder / "prometheus",
            "127.0.0.1", args.prometheus_port,
            scrape_config([f"127.0.0.1:{p}" for p in worker_ports],
                          [f"127.0.0.1:{dispatcher_port}"],
                          [args.alertmanager.removeprefix("http://")], interval="5s",
                          ingests=[f"127.0.0.1:{ingest_metrics_port}"]),
        )  # fmt: skip
        prometheus.start()
        stack.callback(prometheus.stop)
        grafana_url = stack.enter_context(grafana(folder, prometheus.url, args.grafana_port))
        stack.enter_context(process("simulator", [
            str(VENV_BIN / "distillwatch"), "simulate", "--scenario", "all", "--hours",
            str(args.hours), "--to-kafka", args.kafka, "--topic", topics["input"],
            "--rate", str(args.rate),
        ], folder))  # fmt: skip
        testenv.log(f"Prometheus {prometheus.url}, Alertmanager {args.alertmanager}, "
                    f"Grafana {grafana_url or '(not installed)'}, ingest "
                    f"http://127.0.0.1:{args.ingest_port} (bearer token in {token_file}); "
                    f"logs in {folder}")  # fmt: skip
        try:
            if args.smoke:
                smoke_check(prometheus, targets=args.workers + 2)
                testenv.log("smoke check passed: every process scraped, events processed")
                return 0
            testenv.log("running: Ctrl-C stops the stack")
            while True:
                time.sleep(3600)  # the stack runs until interrupted
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
