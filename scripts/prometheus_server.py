"""A Prometheus server as a process (Debian's `prometheus` package, which `make test` installs
for promtool): scrapes distillwatch's worker and dispatcher and evaluates its rules. Used by
the end-to-end scrape test and by `make stack`.

    server = PrometheusServer(binary, workdir, "127.0.0.1", 9090, scrape_config(...))
    server.start()   # returns once GET /-/ready answers
    server.query('sum(rate(distillwatch_events_total[1m]))')
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testenv import START_DEADLINE_S, http_ready, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "config" / "prometheus" / "rules"


def scrape_config(
    workers: Sequence[str],
    dispatchers: Sequence[str],
    alertmanagers: Sequence[str] = (),
    interval: str = "15s",
    rules: Path = RULES,
    ingests: Sequence[str] = (),
) -> str:
    """Prometheus's configuration: the jobs the dashboards and rules expect
    (`distillwatch-worker`, `distillwatch-dispatcher`, `distillwatch-ingest` when ingest
    endpoints are given), distillwatch's own alerting rules, and the Alertmanagers they
    notify. Addresses are host:port."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules / "*.yml")],
        "scrape_configs": [
            {"job_name": "distillwatch-worker", "static_configs": [{"targets": list(workers)}]},
            {
                "job_name": "distillwatch-dispatcher",
                "static_configs": [{"targets": list(dispatchers)}],
            },
        ],
    }
    if ingests:
        config["scrape_configs"].append(
            {"job_name": "distillwatch-ingest", "static_configs": [{"targets": list(ingests)}]}
        )
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    return json.dumps(config, indent=2)  # YAML is a superset of JSON


class PrometheusServer:
    def __init__(self, binary: str, workdir: Path, host: str, port: int, config: str) -> None:
        self.binary, self.workdir = binary, workdir
        self.url = f"http://{host}:{port}"
        self.address = f"{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = workdir / "prometheus.yml"
        self.log_file = workdir / "prometheus.log"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(config)

    def start(self, deadline_s: float = START_DEADLINE_S) -> None:
        command = [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--log.level=warn",
        ]
        with self.log_file.open("ab") as log_out:
            self.proc = subprocess.Popen(
                command, stdout=log_out, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        wait_until(
            lambda: http_ready(self.url), f"Prometheus at {self.url}",
            deadline_s=deadline_s, proc=self.proc, log_file=self.log_file,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, f"Prometheus at {self.url}")

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's series (a vector; a scalar comes back as one series)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])
