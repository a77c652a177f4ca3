"""Start the real services the tests need (Redis, Kafka, Alertmanager), run a command, stop them.

`python scripts/testenv.py -- pytest ...` checks whether Redis, Kafka and the Alertmanagers
already answer at `DISTILLWATCH_REDIS_URL` / `DISTILLWATCH_KAFKA_BOOTSTRAP` /
`DISTILLWATCH_ALERTMANAGER_URLS`; for each that does not, it starts one on a loopback port as a
plain process (no Docker engine on the development machines):

- Redis: Debian's `redis-server` (installed with apt-get when absent and running as root),
  no persistence, in a temporary folder.
- Kafka: Apache Kafka 4.x from the official jars on Maven Central (`services/kafka/pom.xml`,
  copied into `.cache/kafka/libs` once), storage formatted in a temporary folder, one node that
  is both broker and controller. Readiness is a metadata request polled with a deadline.
- Alertmanager: two independent instances (distillwatch sends every alert to each configured
  instance, so the tests need more than one), `DISTILLWATCH_ALERTMANAGER_URLS` comma-separated,
  default ports 19093 and 19094. Debian's `prometheus-alertmanager` (installed with apt-get when
  absent and running as root, with a policy-rc.d that keeps the package's own daemon from
  starting), HA gossip off, a minimal config routing everything to a "null" receiver, storage in
  a temporary folder. Readiness is `GET /-/ready` polled with a deadline.

- promtool (no server): the alerting rules for distillwatch's own health
  (config/prometheus/rules/) are checked and unit-tested with it. Found on PATH, or Debian's
  `prometheus` package is installed with apt-get (root only) under the same policy-rc.d, so the
  package's Prometheus daemon does not start (stopped if it did anyway, on :9090). The
  `promtool` binary checks the rules; the package's `prometheus` server is what the
  end-to-end scrape test and `make stack` start themselves (scripts/prometheus_server.py).
  `--no-promtool` skips both.
- docker-compose (no engine): Debian's `docker-compose` 1.29 validates docker-compose.yml
  (`docker-compose config -q`). Found on PATH or installed with apt-get (root only).
  `--no-docker-compose` skips it.

The secured Kafka broker (SASL_SSL with PLAIN and SCRAM, mutual TLS) and the TLS Redis with a
password and an ACL user are not started here: the secure-transport tests start their own with
`KafkaBroker` below and certificates they make (tests/integration/secure_services.py).

Whatever this script started is stopped when the command ends, also on failure or Ctrl-C.
The child command sees the addresses in its environment, and for Alertmanager also
`DISTILLWATCH_ALERTMANAGER_URL` (the first instance), `DISTILLWATCH_ALERTMANAGER_BIN` (tests start
their own instances with it, tests/alertmanager_process.py) and `DISTILLWATCH_AMTOOL`; for
promtool `DISTILLWATCH_PROMTOOL` and `DISTILLWATCH_PROMTOOL_VERSION`; for docker-compose
`DISTILLWATCH_DOCKER_COMPOSE`.
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
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
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
DEFAULT_ALERTMANAGER_URLS = "http://127.0.0.1:19093,http://127.0.0.1:19094"
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, upstream's
SYSTEM_PROMETHEUS_URL = "http://127.0.0.1:9090"  # where Debian's prometheus daemon listens
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
# The instances the tests talk to deliver nowhere: config/alertmanager.yml is the production
# example (its receivers need pager and chat endpoints). Short group timers so a test sees a
# group's notification pipeline run within a second.
ALERTMANAGER_TEST_CONFIG = """\
route:
  receiver: "null"
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
"""
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


def kafka_ready(bootstrap: str, **client: Any) -> bool:
    """A metadata request that succeeds: the broker is up and has a controller. `client`:
    kafka-python settings for a listener that needs them (SASL, TLS)."""
    from kafka import KafkaAdminClient  # imported late: the venv may not exist at module import
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=3000,
            bootstrap_timeout_ms=3000,
            **client,
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


def apt_install(package: str, what: str) -> None:
    """Install one of Debian's packages (needs root and apt-get; `what` names it in errors)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            f"{what} is not installed and cannot be installed here "
            f"(needs root and apt-get): install Debian's {package}"
        )
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    apt_install("redis-server", "redis-server")
    return shutil.which("redis-server") or "/usr/bin/redis-server"


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


def http_opener(url: str) -> urllib.request.OpenerDirector:
    """No proxy for loopback addresses (an http_proxy setting must not capture 127.0.0.1)."""
    host = urlparse(url).hostname or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def http_ready(url: str, timeout_s: float = 1.0) -> bool:
    """`GET /-/ready` answers 200 (Alertmanager and Prometheus both serve it)."""
    ready = url.rstrip("/") + "/-/ready"
    try:
        with http_opener(ready).open(ready, timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):  # HTTPError is a URLError
        return False


def alertmanager_ready(url: str, timeout_s: float = 1.0) -> bool:
    """`GET /-/ready` answers 200: the instance loaded its config and serves its API."""
    return http_ready(url, timeout_s)


def split_urls(urls: str) -> list[str]:
    return [url.strip().rstrip("/") for url in urls.split(",") if url.strip()]


def find_alertmanager() -> tuple[str, str] | None:
    """(alertmanager binary, amtool) when both are on PATH."""
    binary = next(filter(None, (shutil.which(name) for name in ALERTMANAGER_NAMES)), None)
    amtool = shutil.which("amtool")
    return (binary, amtool) if binary and amtool else None


@contextmanager
def services_held_back() -> Iterator[None]:
    """A policy-rc.d that exits 101 while apt-get runs: the package's postinst registers its
    daemon but does not start it (invoke-rc.d honours the policy). An existing policy is kept."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text(
        "#!/bin/sh\n# scripts/testenv.py: no service starts during apt-get\nexit 101\n"
    )
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def stop_system_service(service: str, port: int) -> None:
    """If installing started a Debian package's own daemon anyway (a policy that allowed it),
    stop it: the tests use their own instances, a stray one on `port` only confuses."""
    for command in (["systemctl", "stop", service], [f"/etc/init.d/{service}", "stop"]):
        if shutil.which(command[0]) or Path(command[0]).exists():
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode == 0:
                log(f"stopped the {service} service the package started")
                return
    log(f"the package started {service} on :{port} and it could not be stopped")


def stop_system_alertmanager() -> None:
    stop_system_service("prometheus-alertmanager", 9093)


def ensure_alertmanager() -> tuple[str, str]:
    """(alertmanager binary, amtool), installing Debian's prometheus-alertmanager when absent."""
    found = find_alertmanager()
    if found:
        return found
    system_daemon_before = alertmanager_ready("http://127.0.0.1:9093")
    with services_held_back():
        apt_install("prometheus-alertmanager", "alertmanager/amtool")
    if not system_daemon_before and alertmanager_ready("http://127.0.0.1:9093"):
        stop_system_alertmanager()
    found = find_alertmanager()
    if not found:
        raise RuntimeError(
            "apt-get installed prometheus-alertmanager but neither "
            f"{' nor '.join(ALERTMANAGER_NAMES)} and amtool are on PATH"
        )
    return found


def alertmanager_version(binary: str) -> str:
    """'0.25.0' from `alertmanager --version` (kingpin prints it on stdout or stderr)."""
    result = subprocess.run([binary, "--version"], capture_output=True, text=True)
    words = (result.stdout + result.stderr).split()
    return words[2] if len(words) > 2 and words[1] == "version" else "unknown"


class AlertmanagerServer:
    """One Alertmanager as a process on `host:port`, config and storage in `workdir`.
    `start()` after `stop()` reuses the port and the storage (silences, notification log), as a
    restarted production instance does. HA gossip is off: instances are independent."""

    def __init__(self, binary: str, workdir: Path, host: str, port: int) -> None:
        self.binary, self.workdir = binary, workdir
        self.url = f"http://{host}:{port}"
        self.address = f"{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.config = workdir / "alertmanager.yml"
        self.log_file = workdir / "alertmanager.log"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        if not self.config.exists():
            self.config.write_text(ALERTMANAGER_TEST_CONFIG)

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",  # empty: no gossip, no port 9094 taken
            "--log.level=info",
        ]

    def start(self, deadline_s: float = START_DEADLINE_S) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        with self.log_file.open("ab") as log_out:
            self.proc = subprocess.Popen(
                self.command(), stdout=log_out, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        wait_until(
            lambda: alertmanager_ready(self.url), f"Alertmanager at {self.url}",
            deadline_s=deadline_s, proc=self.proc, log_file=self.log_file,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, f"Alertmanager at {self.url}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextmanager
def alertmanager_service(url: str) -> Iterator[None]:
    if alertmanager_ready(url):
        log(f"using the Alertmanager already running at {url}")
        yield
        return
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 9093
    if port_open(host, port):
        raise RuntimeError(f"{url} is taken by something that is not a ready Alertmanager")
    binary, _ = ensure_alertmanager()
    with tempfile.TemporaryDirectory(prefix="dw-alertmanager-") as tmp:
        server = AlertmanagerServer(binary, Path(tmp), host, port)
        try:
            server.start()
            log(f"started Alertmanager {alertmanager_version(binary)} at {url}")
            yield
        finally:
            server.stop()


def export_alertmanager_tools() -> None:
    """The binary and amtool for the child; instances that already ran may have been started
    elsewhere, so a machine without them only loses the tests that need them."""
    try:
        binary, amtool = ensure_alertmanager()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        log(f"no alertmanager/amtool for the tests: {error}")
        return
    os.environ["DISTILLWATCH_ALERTMANAGER_BIN"] = binary
    os.environ["DISTILLWATCH_AMTOOL"] = amtool
    os.environ["DISTILLWATCH_ALERTMANAGER_VERSION"] = alertmanager_version(binary)


def ensure_promtool() -> str:
    """promtool, installing Debian's prometheus package when absent (only promtool is used:
    the package's daemon is held back, and stopped if it started anyway)."""
    found = shutil.which("promtool")
    if found:
        return found
    system_daemon_before = http_ready(SYSTEM_PROMETHEUS_URL)
    with services_held_back():
        apt_install("prometheus", "promtool")
    if not system_daemon_before and http_ready(SYSTEM_PROMETHEUS_URL):
        stop_system_service("prometheus", 9090)
    found = shutil.which("promtool")
    if not found:
        raise RuntimeError("apt-get installed prometheus but promtool is not on PATH")
    return found


def promtool_version(promtool: str) -> str:
    """'2.42.0+ds' from `promtool --version` (kingpin prints it on stdout or stderr)."""
    result = subprocess.run([promtool, "--version"], capture_output=True, text=True)
    words = (result.stdout + result.stderr).split()
    return words[2] if len(words) > 2 and words[1] == "version" else "unknown"


def export_promtool() -> None:
    """promtool for the child; a machine without it only loses the tests that need it."""
    try:
        promtool = ensure_promtool()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        log(f"no promtool for the tests: {error}")
        return
    os.environ["DISTILLWATCH_PROMTOOL"] = promtool
    os.environ["DISTILLWATCH_PROMTOOL_VERSION"] = promtool_version(promtool)


def export_docker_compose() -> None:
    """docker-compose (Debian's 1.29, a Python program: validates without an engine) for the
    child; a machine without it only loses the test that needs it."""
    found = shutil.which("docker-compose")
    if not found:
        try:
            apt_install("docker-compose", "docker-compose")
        except (RuntimeError, subprocess.CalledProcessError) as error:
            log(f"no docker-compose for the tests: {error}")
            return
        found = shutil.which("docker-compose")
    if found:
        os.environ["DISTILLWATCH_DOCKER_COMPOSE"] = found


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
            *single_node_properties(workdir),
        ]
    )


def single_node_properties(workdir: Path) -> list[str]:
    """A one-node test cluster's storage and internal topics (one replica each), small."""
    return [
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


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaBroker:
    """One Kafka node (broker and controller) as a process, its storage in `workdir`.
    `start()` formats the storage the first time and reuses it after: a broker killed with
    SIGKILL and started again recovers its logs, as a crashed production broker does.

    A secured broker (tests/integration/secure_services.py) brings its own `properties`, the
    StorageTool arguments that create its SCRAM users (`format_args`: KRaft keeps them in the
    metadata log, written at format), and the `client` settings its readiness check needs."""

    def __init__(
        self,
        workdir: Path,
        host: str,
        port: int,
        *,
        properties: str | None = None,
        format_args: Sequence[str] = (),
        client: Mapping[str, Any] | None = None,
    ) -> None:
        self.workdir, self.bootstrap = workdir, f"{host}:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.props = workdir / "server.properties"
        self.log_file = workdir / "server.log"
        self.format_args = list(format_args)
        self.client = dict(client or {})
        workdir.mkdir(parents=True, exist_ok=True)
        if not self.props.exists():
            self.props.write_text(properties or kafka_properties(workdir, host, port, free_port()))

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

    def format_storage(self, cluster_id: str) -> None:
        # "--cluster-id=<id>": a separate argument beginning with "-" would be read as an option
        format_storage = ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}"]
        subprocess.run(
            [*self._jvm(), *format_storage, "-c", str(self.props), *self.format_args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        ensure_kafka_jars()
        jvm = self._jvm()
        if not (self.workdir / "data" / "meta.properties").exists():
            self.format_storage(new_cluster_id())
        with (self.workdir / "stdout.log").open("ab") as log_out:
            self.proc = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(self.props)], stdout=log_out, stderr=subprocess.STDOUT
            )
        wait_until(
            lambda: kafka_ready(self.bootstrap, **self.client), "Kafka broker", proc=self.proc,
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
    parser.add_argument(
        "--no-alertmanager", action="store_true", help="do not provide Alertmanager"
    )
    parser.add_argument("--no-promtool", action="store_true", help="do not provide promtool")
    parser.add_argument(
        "--no-docker-compose", action="store_true", help="do not provide docker-compose"
    )
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
    alertmanager_urls = split_urls(
        os.environ.setdefault("DISTILLWATCH_ALERTMANAGER_URLS", DEFAULT_ALERTMANAGER_URLS)
    )
    with ExitStack() as services:
        if not args.no_redis:
            services.enter_context(redis_service(redis_url))
            services.enter_context(redis_cluster_service(cluster_url))
            services.enter_context(redis_sentinel_service(sentinel_url, redis_url))
        if not args.no_kafka:
            services.enter_context(kafka_service(bootstrap))
            os.environ["DISTILLWATCH_KAFKA_VERSION"] = kafka_version()
        if not args.no_alertmanager and alertmanager_urls:
            for url in alertmanager_urls:
                services.enter_context(alertmanager_service(url))
            os.environ["DISTILLWATCH_ALERTMANAGER_URL"] = alertmanager_urls[0]
            export_alertmanager_tools()
        if not args.no_promtool:
            export_promtool()
        if not args.no_docker_compose:
            export_docker_compose()
        # SIGTERM from CI must unwind the ExitStack so the services stop too.
        signal.signal(signal.SIGTERM, raise_interrupt)
        try:
            return subprocess.run(command).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
