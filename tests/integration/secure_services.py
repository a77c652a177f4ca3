"""A secured Kafka broker and Redis of the tests' own, with certificates made on the spot.

- `Pki`: a throwaway CA (trustme), a server certificate for 127.0.0.1 and localhost, and a
  client certificate for mutual TLS; keys in PKCS#8, the only PEM form Kafka reads.
- `SecureKafka`: one KRaft node (scripts/testenv.py's KafkaBroker) with a SASL_SSL listener
  taking PLAIN and SCRAM-SHA-512 (the SCRAM user is created at storage format, as KRaft
  requires) and an SSL listener that requires a client certificate. The controller listener
  stays PLAINTEXT on loopback: no client uses it.
- `SecureRedis`: redis-server on a TLS port only, with `requirepass` for the default user and
  an ACL user limited to what docs/security.md grants the worker and the dispatcher.

Passwords are random per run, so a test can search logs for them.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis
import testenv  # scripts/, on the path from tests/conftest.py
import trustme
from cryptography.hazmat.primitives import serialization

from streams.kafka_security import KafkaSecurity
from streams.redis_security import RedisSecurity
from streams.secret_values import Secret
from tests.integration.harness import free_port, poll_until

HOST = "127.0.0.1"
KEY_PREFIX = "dwsec"  # the ACL user's keys: the tests' key prefixes begin with it
# The commands docs/security.md grants the worker's and the dispatcher's Redis user (the
# scripts' commands included: ACLs apply inside EVALSHA too). The secure Redis runs the tests'
# worker and dispatcher under it, so a command the code needs and the doc lacks fails a test.
REDIS_ACL_COMMANDS = (
    "-@all +@connection +info +evalsha +script|load +get +set +del +expire +hget +hset +hdel "
    "+hmget +hgetall +hlen +hscan +sadd +scard +smembers +zadd +zrem +zrange +zrangebyscore "
    "+zincrby +zcard +scan +memory|usage"
)


def _pkcs8(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class Pki:
    folder: Path
    ca: Path = field(init=False)
    server_chain: Path = field(init=False)
    server_key: Path = field(init=False)
    client_cert: Path = field(init=False)
    client_key: Path = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA()
        server = authority.issue_cert(HOST, "localhost")
        client = authority.issue_cert("distillwatch-test-client")
        self.ca = self._write("ca.pem", authority.cert_pem.bytes())
        self.server_chain = self._write(
            "server.pem", b"".join(blob.bytes() for blob in server.cert_chain_pems)
        )
        self.server_key = self._write("server.key", _pkcs8(server.private_key_pem.bytes()))
        self.client_cert = self._write("client.pem", client.cert_chain_pems[0].bytes())
        self.client_key = self._write("client.key", _pkcs8(client.private_key_pem.bytes()))

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path


def _inline(path: Path) -> str:
    """A PEM file as one properties value (Kafka's inline PEM settings; \\n is a line break)."""
    return path.read_text().strip().replace("\n", "\\n")


def kafka_properties(workdir: Path, pki: Pki, ports: dict[str, int], plain: dict[str, str]) -> str:
    sasl, tls, controller = ports["SASL_SSL"], ports["SSL"], ports["CONTROLLER"]
    plain_users = " ".join(f'user_{user}="{password}"' for user, password in plain.items())
    broker_password = plain["broker"]
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{HOST}:{controller}",
            f"listeners=SASL_SSL://{HOST}:{sasl},SSL://{HOST}:{tls},CONTROLLER://{HOST}:{controller}",
            f"advertised.listeners=SASL_SSL://{HOST}:{sasl},SSL://{HOST}:{tls}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="broker" password="{broker_password}" {plain_users};',
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.certificate.chain={_inline(pki.server_chain)}",
            f"ssl.keystore.key={_inline(pki.server_key)}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.certificates={_inline(pki.ca)}",
            "listener.name.ssl.ssl.client.auth=required",
            *testenv.single_node_properties(workdir),
        ]
    )


@dataclass
class SecureKafka:
    workdir: Path
    pki: Pki
    ports: dict[str, int] = field(
        default_factory=lambda: {name: free_port() for name in ("SASL_SSL", "SSL", "CONTROLLER")}
    )
    # mechanism -> (user, password)
    users: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "PLAIN": ("dwplain", secrets.token_urlsafe(18)),
            "SCRAM-SHA-512": ("dwscram", secrets.token_urlsafe(18)),
        }
    )
    broker: testenv.KafkaBroker | None = None

    @property
    def sasl_bootstrap(self) -> str:
        return f"{HOST}:{self.ports['SASL_SSL']}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"{HOST}:{self.ports['SSL']}"

    def security(self, mechanism: str, password: str | None = None) -> KafkaSecurity:
        user, real = self.users[mechanism]
        return KafkaSecurity(
            protocol="SASL_SSL",
            sasl_mechanism=mechanism,
            username=user,
            password=Secret(real if password is None else password),
            ssl_cafile=str(self.pki.ca),
        )

    def mutual_tls(self) -> KafkaSecurity:
        return KafkaSecurity(
            protocol="SSL",
            ssl_cafile=str(self.pki.ca),
            ssl_certfile=str(self.pki.client_cert),
            ssl_keyfile=str(self.pki.client_key),
        )

    def start(self) -> None:
        testenv.ensure_kafka_jars()
        plain_user, plain_password = self.users["PLAIN"]
        plain = {"broker": secrets.token_urlsafe(18), plain_user: plain_password}
        scram_user, scram_password = self.users["SCRAM-SHA-512"]
        self.broker = testenv.KafkaBroker(
            self.workdir,
            HOST,
            self.ports["SASL_SSL"],
            properties=kafka_properties(self.workdir, self.pki, self.ports, plain),
            format_args=[
                "--add-scram",
                f"SCRAM-SHA-512=[name={scram_user},password={scram_password}]",
            ],
            client=self.security("PLAIN").kafka_python(),
        )
        self.broker.start()

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()


@dataclass
class SecureRedis:
    workdir: Path
    pki: Pki
    port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    user: str = "distillwatch"
    user_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rediss://{HOST}:{self.port}/0"

    def password_file(self, name: str, password: str) -> Path:
        path = self.workdir / name
        path.write_text(password + "\n")  # as `echo` writes it: the newline is not the password
        path.chmod(0o600)
        return path

    def security(self, password: str | None = None, *, acl_user: bool = True) -> RedisSecurity:
        secret = password or (self.user_password if acl_user else self.admin_password)
        return RedisSecurity(
            username=self.user if acl_user else None,
            password=Secret(secret),
            tls_ca_file=str(self.pki.ca),
        )

    def env(self) -> dict[str, str]:
        """The worker's environment for this Redis: its ACL user, the password in a file."""
        return {
            "DISTILLWATCH_REDIS_USERNAME": self.user,
            "DISTILLWATCH_REDIS_PASSWORD_FILE": str(
                self.password_file("redis-user.password", self.user_password)
            ),
            "DISTILLWATCH_REDIS_TLS_CA_FILE": str(self.pki.ca),
        }

    def start(self) -> None:
        binary = testenv.ensure_redis_server()  # as make test finds (or installs) it
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "redis.conf"
        # A config file: an ACL rule is several words, which the command line would split.
        config.write_text(
            f"user {self.user} on >{self.user_password} ~{KEY_PREFIX}* resetchannels "
            f"{REDIS_ACL_COMMANDS}\n"
            f"requirepass {self.admin_password}\n"
        )
        config.chmod(0o600)
        self.proc = subprocess.Popen(
            [binary, str(config), "--port", "0", "--tls-port", str(self.port), "--bind", HOST,
             "--tls-cert-file", str(self.pki.server_chain),
             "--tls-key-file", str(self.pki.server_key),
             "--tls-ca-cert-file", str(self.pki.ca), "--tls-auth-clients", "optional",
             "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction",
             "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log"),
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        poll_until(self._answers, "the TLS Redis to answer", deadline_s=30)

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.workdir / "redis.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"redis-server exited with {self.proc.returncode}:\n{log}")
        client = redis.Redis(
            host=HOST, port=self.port, ssl=True, ssl_ca_certs=str(self.pki.ca),
            password=self.admin_password, socket_connect_timeout=0.5, socket_timeout=2,
        )  # fmt: skip
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
