"""Throwaway Redis topologies for the tests, from Debian's redis-server (testenv.py).

- `redis_cluster`: three `redis-server --cluster-enabled yes` processes on loopback ports,
  joined by `redis-cli --cluster create` with no replicas, ready when every node reports
  `cluster_state:ok`.
- `redis_sentinel`: one Sentinel (`redis-server --sentinel`) monitoring the tests' single
  Redis as service `dwprimary`, ready when it names that primary.

Each is stopped (and its folder removed) when its context ends.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


def cluster_ok(host: str, port: int) -> bool:
    found = subprocess.run(
        ["redis-cli", "-h", host, "-p", str(port), "cluster", "info"],
        capture_output=True,
        text=True,
    )
    return "cluster_state:ok" in found.stdout


@contextmanager
def redis_cluster(
    binary: str,
    host: str,
    ports: list[int],
    wait_until: Callable[..., None],
    stop_process: Callable[[subprocess.Popen[bytes], str], None],
    log: Callable[[str], None],
) -> Iterator[None]:
    cli = shutil.which("redis-cli") or str(Path(binary).with_name("redis-cli"))
    with tempfile.TemporaryDirectory(prefix="dw-redis-cluster-") as workdir, ExitStack() as nodes:
        for port in ports:
            folder = Path(workdir) / str(port)
            folder.mkdir()
            log_file = folder / "redis.log"
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", host, "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
                 "--dir", str(folder), "--logfile", str(log_file), "--daemonize", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            nodes.callback(stop_process, proc, f"redis cluster node {port}")
            wait_until(
                lambda port=port: (
                    subprocess.run(
                        [cli, "-h", host, "-p", str(port), "ping"], capture_output=True, text=True
                    ).stdout.strip()
                    == "PONG"
                ),
                f"redis cluster node {port}",
                proc=proc,
                log_file=log_file,
            )
        subprocess.run(
            [cli, "--cluster", "create", *(f"{host}:{port}" for port in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        for port in ports:
            wait_until(lambda port=port: cluster_ok(host, port), f"cluster state on {port}")
        log(f"started a Redis Cluster of {len(ports)} primaries at {host}:{ports[0]}-{ports[-1]}")
        yield


def sentinel_names_primary(host: str, port: int, service: str) -> bool:
    found = subprocess.run(
        ["redis-cli", "-h", host, "-p", str(port), "sentinel", "get-master-addr-by-name", service],
        capture_output=True,
        text=True,
    )
    return len(found.stdout.split()) == 2


@contextmanager
def redis_sentinel(
    binary: str,
    host: str,
    port: int,
    primary: tuple[str, int],
    service: str,
    wait_until: Callable[..., None],
    stop_process: Callable[[subprocess.Popen[bytes], str], None],
    log: Callable[[str], None],
) -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="dw-redis-sentinel-") as workdir:
        config = Path(workdir) / "sentinel.conf"
        config.write_text(
            f"port {port}\nbind {host}\ndir {workdir}\n"
            f"sentinel monitor {service} {primary[0]} {primary[1]} 1\n"
        )
        log_file = Path(workdir) / "sentinel.log"
        proc = subprocess.Popen(
            [binary, str(config), "--sentinel", "--logfile", str(log_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: sentinel_names_primary(host, port, service),
                "redis sentinel",
                proc=proc,
                log_file=log_file,
            )
            log(f"started a Redis Sentinel at {host}:{port} for {primary[0]}:{primary[1]}")
            yield
        finally:
            stop_process(proc, "redis sentinel")
