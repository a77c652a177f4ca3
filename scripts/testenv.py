"""Start the real services the tests need (Redis, Kafka in KRaft mode), run a command, stop them.

`python scripts/testenv.py -- pytest ...` checks whether Redis and Kafka already answer at
`DISTILLWATCH_REDIS_URL` / `DISTILLWATCH_KAFKA_BOOTSTRAP`; for each that does not, it starts one
on a loopback port as a plain process (no Docker engine on the development machines):

- Redis: Debian's `redis-server` (installed with apt-get when absent and running as root),
  no persistence, in a temporary folder.
- Kafka: Apache Kafka 4.x from the official jars on Maven Central (`services/kafka/pom.xml`,
  copied into `.cache/kafka/libs` once), storage formatted in a temporary folder, one node that
  is both broker and controller. Readiness is a metadata request polled with a deadline.

Whatever this script started is stopped when the command ends, also on failure or Ctrl-C.
The child command sees the addresses in its environment.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redis_topologies import cluster_ok, redis_cluster, redis_sentinel, sentinel_names_primary

ROOT = Path(__file__).resolve().parent.parent
KAFKA_LIBS = ROOT / ".cache" / "kafka" / "libs"
KAFKA_POM = ROOT / "services" / "kafka" / "pom.xml"
LOG4J2_CONFIG = ROOT / "services" / "kafka" / "log4j2.properties"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6390/0"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
DEFAULT_REDIS_CLUSTER_URL = "redis-cluster://127.0.0.1:6391,127.0.0.1:6392,127.0.0.1:6393"
DEFAULT_REDIS_SENTINEL_URL = "redis-sentinel://127.0.0.1:26390/dwprimary"
START_DEADLINE_S = 90.0


def log(message: str) -> None:
    print(f"[testenv] {message}", file=sys.stderr, flush=True)


def wait_until(
    check: Callable[[], bool],
    what: str,
    deadline_s: float = START_DEADLINE_S,
    proc: subprocess.Popen[bytes] | None = None,
    log_file: Path | None = None,
) -> None:
    """Poll `check` until it is true; fail with the service log if it never is."""
    end = time.monotonic() + deadline_s
    delay = 0.05
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-4000:] if log_file else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting:\n{tail}")
        if check():
            return
        time.sleep(delay)  # polling interval of a readiness probe, not a synchronisation stand-in
        delay = min(delay * 2, 0.5)
    tail = log_file.read_text(errors="replace")[-4000:] if log_file else ""
    raise RuntimeError(f"{what} not ready after {deadline_s:.0f}s\n{tail}")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def redis_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def kafka_ready(bootstrap: str) -> bool:
    """A metadata request that succeeds: the broker is up and has a controller."""
    from kafka import KafkaAdminClient  # imported late: the venv may not exist at module import
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=3000, bootstrap_timeout_ms=3000
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        cluster = admin.describe_cluster()
        return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        admin.close()


def stop_process(proc: subprocess.Popen[bytes], name: str) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop on SIGTERM; killing it")
        proc.kill()
        proc.wait(timeout=10)
    log(f"stopped {name}")


def ensure_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "redis-server is not installed and cannot be installed here "
            "(needs root and apt-get): install Debian's redis-server"
        )
    log("installing redis-server with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "redis-server"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    return found


@contextmanager
def redis_service(url: str) -> Iterator[None]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if redis_ping(host, port):
        log(f"using the Redis already running at {host}:{port}")
        yield
        return
    binary = ensure_redis_server()
    with tempfile.TemporaryDirectory(prefix="dw-redis-") as workdir:
        log_file = Path(workdir) / "redis.log"
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
                "--logfile",
                str(log_file),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: redis_ping(host, port), "redis-server", proc=proc, log_file=log_file)
            version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
            log(f"started {version.split()[2] if version else 'redis'} at {host}:{port}")
            yield
        finally:
            stop_process(proc, "redis-server")


@contextmanager
def redis_cluster_service(url: str) -> Iterator[None]:
    """A 3-primary Redis Cluster (scripts/redis_cluster.py) unless one answers at `url`."""
    addresses = [a.rsplit(":", 1) for a in urlparse(url).netloc.split(",")]
    host, ports = addresses[0][0], [int(port) for _, port in addresses]
    if all(redis_ping(host, port) for port in ports) and cluster_ok(host, ports[0]):
        log(f"using the Redis Cluster already running at {host}:{ports[0]}")
        yield
        return
    binary = ensure_redis_server()
    with redis_cluster(binary, host, ports, wait_until, stop_process, log):
        yield


@contextmanager
def redis_sentinel_service(url: str, primary_url: str) -> Iterator[None]:
    """A Sentinel naming the tests' single Redis (scripts/redis_topologies.py)."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 26379
    service = parsed.path.strip("/").split("/")[0]
    if redis_ping(host, port) and sentinel_names_primary(host, port, service):
        log(f"using the Redis Sentinel already running at {host}:{port}")
        yield
        return
    primary = urlparse(primary_url)
    address = (primary.hostname or "127.0.0.1", primary.port or 6379)
    binary = ensure_redis_server()
    with redis_sentinel(binary, host, port, address, service, wait_until, stop_process, log):
        yield


def ensure_kafka_jars() -> None:
    stamp = KAFKA_LIBS / ".pom-stamp"
    pom_bytes = KAFKA_POM.read_bytes()
    if stamp.exists() and stamp.read_bytes() == pom_bytes:
        return
    if not shutil.which("mvn"):
        raise RuntimeError("mvn is not installed: it fetches the Kafka jars from Maven Central")
    log("fetching the Kafka jars from Maven Central (once)")
    if KAFKA_LIBS.exists():
        shutil.rmtree(KAFKA_LIBS)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        check=True,
    )
    stamp.write_bytes(pom_bytes)


def kafka_version() -> str:
    for jar in KAFKA_LIBS.glob("kafka_2.13-*.jar"):
        return jar.stem.removeprefix("kafka_2.13-")
    return "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kafka_properties(workdir: Path, host: str, port: int, controller_port: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{controller_port}",
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={workdir / 'data'}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "message.max.bytes=4194304",
            "",
        ]
    )


class KafkaBroker:
    """One Kafka node (broker and controller) as a process, its storage in `workdir`.
    `start()` formats the storage the first time and reuses it after: a broker killed with
    SIGKILL and started again recovers its logs, as a crashed production broker does."""

    def __init__(self, workdir: Path, host: str, port: int) -> None:
        self.workdir, self.bootstrap = workdir, f"{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.props = workdir / "server.properties"
        self.log_file = workdir / "server.log"
        workdir.mkdir(parents=True, exist_ok=True)
        if not self.props.exists():
            self.props.write_text(kafka_properties(workdir, host, port, free_port()))

    def _jvm(self) -> list[str]:
        java = shutil.which("java")
        if not java:
            raise RuntimeError("java is not installed: Kafka needs Java 17 or newer")
        return [
            java,
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.workdir}",
            "-cp",
            str(KAFKA_LIBS / "*"),
        ]

    def start(self) -> None:
        ensure_kafka_jars()
        jvm = self._jvm()
        if not (self.workdir / "data" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            format_storage = ["kafka.tools.StorageTool", "format", "-t", cluster_id]
            subprocess.run(
                [*jvm, *format_storage, "-c", str(self.props)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        with (self.workdir / "stdout.log").open("ab") as log_out:
            self.proc = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(self.props)], stdout=log_out, stderr=subprocess.STDOUT
            )
        wait_until(
            lambda: kafka_ready(self.bootstrap), "Kafka broker", proc=self.proc,
            log_file=self.log_file,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no clean shutdown; what the broker acknowledged is in the kernel's cache."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, f"Kafka {kafka_version()}")


@contextmanager
def kafka_service(bootstrap: str) -> Iterator[None]:
    host, _, port_text = bootstrap.rpartition(":")
    port = int(port_text)
    if kafka_ready(bootstrap):
        log(f"using the Kafka broker already running at {bootstrap}")
        yield
        return
    if port_open(host, port):
        raise RuntimeError(f"{bootstrap} is taken by something that is not a Kafka broker")
    with tempfile.TemporaryDirectory(prefix="dw-kafka-") as tmp:
        broker = KafkaBroker(Path(tmp), host, port)
        try:
            broker.start()
            log(f"started Apache Kafka {kafka_version()} (KRaft) at {bootstrap}")
            yield
        finally:
            broker.stop()


def raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-kafka", action="store_true", help="do not provide Kafka")
    parser.add_argument("--no-redis", action="store_true", help="do not provide Redis")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    redis_url = os.environ.setdefault("DISTILLWATCH_REDIS_URL", DEFAULT_REDIS_URL)
    cluster_url = os.environ.setdefault("DISTILLWATCH_REDIS_CLUSTER_URL", DEFAULT_REDIS_CLUSTER_URL)
    sentinel_url = os.environ.setdefault(
        "DISTILLWATCH_REDIS_SENTINEL_URL", DEFAULT_REDIS_SENTINEL_URL
    )
    bootstrap = os.environ.setdefault("DISTILLWATCH_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP)
    with ExitStack() as services:
        if not args.no_redis:
            services.enter_context(redis_service(redis_url))
            services.enter_context(redis_cluster_service(cluster_url))
            services.enter_context(redis_sentinel_service(sentinel_url, redis_url))
        if not args.no_kafka:
            services.enter_context(kafka_service(bootstrap))
            os.environ["DISTILLWATCH_KAFKA_VERSION"] = kafka_version()
        # SIGTERM from CI must unwind the ExitStack so the services stop too.
        signal.signal(signal.SIGTERM, raise_interrupt)
        try:
            return subprocess.run(command).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
