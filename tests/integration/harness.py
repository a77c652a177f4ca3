"""Run the real `distillwatch worker` (and `distillwatch ingest`) as processes against the test
Kafka and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from detectors.config import LinkageConfig
from detectors.linkage import ClusterTotals
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.linkage_store import RedisLinkage
from streams.redis_connect import connect_async
from tests.helpers import ROOT

T = TypeVar("T")
DEADLINE_S = 90.0


def poll_until(
    check: Callable[[], T | None],
    what: str,
    deadline_s: float = DEADLINE_S,
    worker: WorkerProcess | None = None,
) -> T:
    """Poll `check` until it returns a truthy value; fail with the worker's log if it never does."""
    end = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        result = check()
        if result:
            return result
        if worker is not None and worker.proc.poll() is not None:
            raise AssertionError(
                f"worker exited ({worker.proc.returncode}) while waiting for "
                f"{what}\n{worker.log_tail()}"
            )
        if time.monotonic() > end:
            tail = worker.log_tail() if worker else ""
            raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}\n{tail}")
        time.sleep(delay)  # polling interval while waiting for a condition, with a deadline
        delay = min(delay * 1.5, 0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Topics:
    input: str
    alerts: str
    dlq: str
    linkage: str

    @classmethod
    def fresh(cls) -> Topics:
        run = uuid.uuid4().hex[:8]
        return cls(
            f"it-{run}-requests",
            f"it-{run}-alerts",
            f"it-{run}-requests.dlq",
            f"it-{run}-requests.linkage",
        )


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as response:
            return str(response.read().decode())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def write_config(folder: Path, key_prefix: str, linkage: bool = True) -> Path:
    text = (ROOT / "config" / "detectors.yaml").read_text()
    if not linkage:
        text = text.replace("linkage:\n  enabled: true", "linkage:\n  enabled: false")
    path = folder / f"detectors-{key_prefix}-{int(linkage)}.yaml"
    rules = ROOT / "config" / "rules" / "*.yaml"
    text = text.replace("key_prefix: dw", f"key_prefix: {key_prefix}")
    path.write_text(text.replace("rule_files: [rules/*.yaml]", f"rule_files: ['{rules}']"))
    return path


@contextmanager
def run_worker(
    tmp_path: Path,
    bootstrap: str,
    redis_url: str,
    topics: Topics,
    app_id: str,
    key_prefix: str,
    batch_size: int = 200,
) -> Iterator[WorkerProcess]:
    worker = start_worker(tmp_path, bootstrap, redis_url, topics, app_id, key_prefix, batch_size)
    try:
        yield worker
    finally:
        worker.stop()


def start_worker(
    tmp_path: Path,
    bootstrap: str,
    redis_url: str,
    topics: Topics,
    app_id: str,
    key_prefix: str,
    batch_size: int = 200,
    batch_within: float = 0.2,
    linkage: bool = True,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    log_level: str = "INFO",
) -> WorkerProcess:
    """`env`: variables added to the worker's environment (security settings, for one)."""
    port = free_port()
    log_path = tmp_path / f"worker-{app_id}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "streams.cli",
        "--log-level",
        log_level,
        "worker",
        "--config",
        str(write_config(tmp_path, key_prefix, linkage)),
        "--bootstrap",
        bootstrap,
        "--redis",
        redis_url,
        "--app-id",
        app_id,
        "--input-topic",
        topics.input,
        "--alerts-topic",
        topics.alerts,
        "--dlq-topic",
        topics.dlq,
        "--linkage-topic",
        topics.linkage,
        "--partitions",
        "3",
        "--batch-size",
        str(batch_size),
        "--batch-within",
        str(batch_within),
        "--session-timeout",
        "10",  # a SIGKILLed worker's partitions move on within seconds
        "--metrics-port",
        str(port),
        "--metrics-addr",
        "127.0.0.1",
        "--data-dir",
        str(tmp_path / f"faust-{app_id}-{port}"),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
    return WorkerProcess(proc, log_path, port)


@dataclass
class IngestProcess:
    """A running `distillwatch ingest`: `post` answers (status, JSON body) as a gateway sees it."""

    url: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    def post(self, path: str, body: bytes, token: str | None = "") -> tuple[int, dict[str, Any]]:
        """`token`: "" for the process's own, None for no Authorization header."""
        status, answer, _ = self.exchange(path, body, token)
        return status, answer

    def exchange(
        self, path: str, body: bytes, token: str | None = ""
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """As `post`, with the answer's headers."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.url + path, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status), orjson.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read() or b"{}"), dict(error.headers)


@contextmanager
def run_ingest(
    tmp_path: Path, bootstrap: str, topic: str, token: str, extra_args: Sequence[str] = ()
) -> Iterator[IngestProcess]:
    """`distillwatch ingest` producing to `topic`, accepting `token` (and an old one being
    rotated out); yields once /healthz answers, and checks at the end that the log never
    held the token."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"an-old-token-being-rotated-out\n{token}\n")
    port = free_port()
    log = tmp_path / "ingest.log"
    command = [
        sys.executable, "-m", "streams.cli", "ingest", "--kafka", bootstrap, "--topic", topic,
        "--port", str(port), "--max-body-bytes", "2000000", *extra_args,
    ]  # fmt: skip
    env = dict(os.environ, DISTILLWATCH_INGEST_TOKENS_FILE=str(tokens))
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: _healthy(url) or proc.poll() is not None, "ingest to listen")
        assert proc.poll() is None, log.read_text()
        yield IngestProcess(url, token, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert token not in log.read_text()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=8 * 1024 * 1024,
        **security.kafka_python(),
    )
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


class TopicReader:
    """Reads a topic from the beginning, accumulating records across polls."""

    def __init__(self, bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self.consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            consumer_timeout_ms=500,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            **security.kafka_python(),
        )
        self.records: list[Any] = []  # kafka-python's ConsumerRecord (untyped)

    def poll(self) -> list[Any]:
        for batch in self.consumer.poll(timeout_ms=300).values():
            self.records.extend(batch)
        return self.records

    def close(self) -> None:
        self.consumer.close()


def committed_everything(
    bootstrap: str, group: str, topic: str, security: KafkaSecurity = PLAINTEXT
) -> bool:
    """The group has committed the end offset of every partition of the topic."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        **security.kafka_python(),
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
        return bool(ends) and all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        consumer.close()


def linkage_totals(redis_url: str, key_prefix: str) -> list[ClusterTotals]:
    """The clusters the workers' shared linkage graph holds under a prefix (their sums)."""

    async def read() -> list[ClusterTotals]:
        store = RedisLinkage(connect_async(redis_url), LinkageConfig(), key_prefix=key_prefix)
        try:
            return await store.cluster_totals()
        finally:
            await store.close()

    return asyncio.run(read())
