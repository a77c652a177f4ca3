"""Secure transport (issue 11): every Kafka client over SASL_SSL, with PLAIN and with
SCRAM-SHA-512, and over mutual TLS; Redis over TLS with a password and an ACL user.

The module starts a broker and a Redis of its own (tests/integration/secure_services.py), with
certificates made here by trustme, so it needs only what `make test` provides anyway: java,
the Kafka jars and redis-server. Settings reach the processes the way an operator gives them:
variables, options and password files. Each secret is random per run, and the logs of the real
worker and dispatcher (at DEBUG, where client libraries print their configuration) must never
contain one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import InvalidReplicationFactorError

from streams.dispatcher import dispatch
from streams.kafka_admin import (
    DLQ_MAX_MESSAGE_BYTES,
    admin_client,
    dlq_topic_config,
    ensure_topics,
    topic_max_message_bytes,
)
from streams.kafka_check import KafkaUnavailable, check_kafka
from streams.kafka_producer import send_lines
from streams.kafka_security import KafkaSecurity
from streams.redis_connect import connect_async, connect_sync
from streams.redis_security import RedisSecurity
from streams.secret_values import Secret, SecurityConfigError
from streams.sinks.config import validate_sinks
from tests.conftest import unavailable
from tests.helpers import ROOT, harvest_events, make_event
from tests.http_receivers import NEW_SECRET, Receiver, webhook_judge
from tests.integration.harness import (
    TopicReader,
    Topics,
    committed_everything,
    poll_until,
    produce,
    start_worker,
)
from tests.integration.secure_services import KEY_PREFIX, Pki, SecureKafka, SecureRedis
from tests.integration.test_worker_kafka import window_total

pytestmark = pytest.mark.integration
MECHANISMS = ["PLAIN", "SCRAM-SHA-512"]
REFUSAL_S = 10.0  # a refused login must be reported well within this (no retry loop)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[SecureKafka]:
    if shutil.which("java") is None:
        unavailable("java", "not installed; make test installs it")
    kafka = SecureKafka(tmp_path_factory.mktemp("secure-kafka"), pki)
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[SecureRedis]:
    server = SecureRedis(tmp_path_factory.mktemp("secure-redis"), pki)
    try:
        try:
            server.start()
        except AssertionError as error:  # e.g. a redis-server built without TLS
            unavailable("redis-server with TLS", str(error)[-500:])
        yield server
    finally:
        server.stop()


@pytest.fixture
def secure_prefix() -> str:
    """A fresh key namespace the ACL user may write (its key pattern is KEY_PREFIX*)."""
    return f"{KEY_PREFIX}-{uuid.uuid4().hex[:8]}"


def topic_configs(kafka: SecureKafka, security: KafkaSecurity, topic: str) -> dict[str, str]:
    """The topic's whole configuration, once the broker describes it: just after its creation
    the broker may answer before its metadata has caught up, with no entries."""
    admin = admin_client(kafka.sasl_bootstrap, security)
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)

    def described() -> dict[str, str] | None:
        entries = admin.describe_configs([resource], config_filter="all")["topic"].get(topic, {})
        configs = {name: entry["value"] for name, entry in entries.items()}
        return configs if "retention.ms" in configs else None

    try:
        return poll_until(described, f"the configuration of topic {topic}")
    finally:
        admin.close()


def replicas(kafka: SecureKafka, security: KafkaSecurity, topic: str) -> list[int]:
    """The replica count of each partition of `topic`."""
    admin = admin_client(kafka.sasl_bootstrap, security)
    try:
        (described,) = admin.describe_topics([topic])
        return [len(p["replica_nodes"]) for p in described["partitions"]]
    finally:
        admin.close()


# --- Kafka: each client over SASL_SSL ----------------------------------------------------


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_admin_creates_topics_with_the_replication_factor_and_the_dlq_retention(
    secure_kafka: SecureKafka, mechanism: str
) -> None:
    security = secure_kafka.security(mechanism)
    run = uuid.uuid4().hex[:8]
    events, dlq = f"sec-{run}-requests", f"sec-{run}-requests.dlq"
    ensure_topics(
        secure_kafka.sasl_bootstrap,
        {events: {}, dlq: dlq_topic_config(36)},
        partitions=2,
        replication_factor=1,
        security=security,
    )
    configs = topic_configs(secure_kafka, security, dlq)
    assert configs["retention.ms"] == str(36 * 3600 * 1000)
    assert configs["max.message.bytes"] == str(DLQ_MAX_MESSAGE_BYTES)
    assert topic_configs(secure_kafka, security, events)["retention.ms"] != configs["retention.ms"]
    assert replicas(secure_kafka, security, events) == [1, 1]
    assert topic_max_message_bytes(secure_kafka.sasl_bootstrap, dlq, security) == (
        DLQ_MAX_MESSAGE_BYTES
    )
    # The factor reaches the broker: two replicas cannot be placed on its one broker.
    with pytest.raises(InvalidReplicationFactorError):
        ensure_topics(
            secure_kafka.sasl_bootstrap,
            {f"sec-{run}-rf2": {}},
            partitions=1,
            replication_factor=2,
            security=security,
        )


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_the_producer_and_the_dispatchers_consumer_carry_events_over_sasl_ssl(
    secure_kafka: SecureKafka, mechanism: str
) -> None:
    security = secure_kafka.security(mechanism)
    topic = f"sec-{uuid.uuid4().hex[:8]}-requests"
    ensure_topics(secure_kafka.sasl_bootstrap, {topic: {}}, partitions=1, security=security)
    lines = [
        (0.0, orjson.dumps(make_event(f"acct_sec_{i % 3}", 1_771_840_800 + i))) for i in range(25)
    ]
    sent = await asyncio.to_thread(
        send_lines, lines, secure_kafka.sasl_bootstrap, topic, None, security
    )
    assert sent == 25
    consumer = AIOKafkaConsumer(  # as the dispatcher builds its consumers
        topic,
        bootstrap_servers=secure_kafka.sasl_bootstrap,
        group_id=f"sec-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **security.aiokafka(),
    )
    await consumer.start()
    try:
        received: list[bytes] = []
        end = time.monotonic() + 60
        while len(received) < 25 and time.monotonic() < end:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                received += [record.value for record in batch]
    finally:
        await consumer.stop()
    assert received == [line for _, line in lines]


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_a_wrong_password_is_refused_at_once_and_named(
    secure_kafka: SecureKafka, mechanism: str
) -> None:
    wrong = secure_kafka.security(mechanism, password="not-the-password")
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="SaslAuthenticationFailed") as refused:
        await check_kafka(secure_kafka.sasl_bootstrap, wrong, deadline_s=60)
    assert time.monotonic() - started < REFUSAL_S
    assert "not-the-password" not in str(refused.value)
    assert wrong.username is not None and wrong.username in str(refused.value)
    # The producer (kafka-python would retry until its bootstrap timeout, then say only
    # "Unable to bootstrap") and the dispatcher fail the same way, as quickly.
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="SaslAuthenticationFailed"):
        await asyncio.to_thread(send_lines, [], secure_kafka.sasl_bootstrap, "unused", None, wrong)
    config = validate_sinks(
        {"sinks": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/",
                    "secrets": [NEW_SECRET]}]},
        "test",
    )  # fmt: skip
    with pytest.raises(KafkaUnavailable, match="SaslAuthenticationFailed"):
        await dispatch(
            config, secure_kafka.sasl_bootstrap, "redis://127.0.0.1:1/0",
            alerts_topic="unused", parked_topic="unused.parked", security=wrong,
        )  # fmt: skip
    assert time.monotonic() - started < 2 * REFUSAL_S


def test_mutual_tls_connects_with_the_client_certificate_and_not_without(
    secure_kafka: SecureKafka,
) -> None:
    security = secure_kafka.mutual_tls()
    topic = f"sec-{uuid.uuid4().hex[:8]}-mtls"
    ensure_topics(secure_kafka.ssl_bootstrap, {topic: {}}, partitions=1, security=security)
    produce(secure_kafka.ssl_bootstrap, topic, [(b"k", b"over mutual TLS")], security)
    reader = TopicReader(secure_kafka.ssl_bootstrap, topic, security)
    try:
        records = poll_until(reader.poll, "the record over mutual TLS", deadline_s=60)
    finally:
        reader.close()
    assert [r.value for r in records] == [b"over mutual TLS"]
    anonymous = KafkaSecurity(protocol="SSL", ssl_cafile=str(secure_kafka.pki.ca))
    with pytest.raises(KafkaUnavailable, match="client certificate"):
        asyncio.run(check_kafka(secure_kafka.ssl_bootstrap, anonymous, deadline_s=2))


def test_a_certificate_from_another_authority_is_refused(
    secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    stranger = Pki(tmp_path / "stranger")
    user, password = secure_kafka.users["PLAIN"]
    security = KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        username=user,
        password=Secret(password),
        ssl_cafile=str(stranger.ca),
    )
    with pytest.raises(KafkaUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(check_kafka(secure_kafka.sasl_bootstrap, security, deadline_s=60))


# --- Redis: TLS, a password file, an ACL user --------------------------------------------


def test_tls_redis_takes_the_acl_user_and_its_password_file_sync_and_async(
    secure_redis: SecureRedis, secure_prefix: str
) -> None:
    security = RedisSecurity.from_env(secure_redis.env())
    client = connect_sync(secure_redis.url, security)
    try:
        client.set(f"{secure_prefix}:probe", b"1", ex=60)
        # Connected as the ACL user (the default user may do anything): no other key space,
        # no administration.
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.get("elsewhere")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
    finally:
        client.close()

    async def read_async() -> Any:
        aclient = connect_async(secure_redis.url, security)
        try:
            return await aclient.get(f"{secure_prefix}:probe")
        finally:
            await aclient.aclose()

    assert asyncio.run(read_async()) == b"1"


def test_tls_redis_refuses_a_wrong_password_an_unknown_authority_and_plain_text(
    secure_redis: SecureRedis, tmp_path: Path
) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        connect_sync(secure_redis.url, secure_redis.security("not-the-password")).ping()
    stranger = Pki(tmp_path / "stranger")
    foreign = RedisSecurity(
        password=Secret(secure_redis.admin_password), tls_ca_file=str(stranger.ca)
    )
    with pytest.raises(redis.exceptions.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        connect_sync(secure_redis.url, foreign).ping()
    # A CA file with a redis:// URL would send the password in clear: refused before connecting.
    plain_url = secure_redis.url.replace("rediss://", "redis://")
    with pytest.raises(SecurityConfigError, match="no TLS"):
        connect_sync(plain_url, secure_redis.security())


def test_the_environment_reaches_connect_without_arguments(
    secure_redis: SecureRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the worker, the dispatcher and the replay do: connect(url) alone."""
    for name, value in secure_redis.env().items():
        monkeypatch.setenv(name, value)
    client = connect_sync(secure_redis.url)
    try:
        assert client.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):  # the ACL user, not default
            client.get("elsewhere")
    finally:
        client.close()


# --- The real worker and dispatcher, end to end ------------------------------------------


@dataclass
class Dispatcher:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_dispatcher(
    tmp_path: Path,
    kafka: SecureKafka,
    redis_server: SecureRedis,
    alerts: str,
    prefix: str,
    url: str,
) -> Dispatcher:
    """`distillwatch dispatch` with PLAIN credentials as options and a password file."""
    sinks = tmp_path / "sinks.yaml"  # JSON is YAML
    sinks.write_bytes(
        orjson.dumps(
            {"sinks": [{"name": "hook", "type": "webhook", "url": url, "secrets": [NEW_SECRET],
                        "delivery": {"initial_backoff_seconds": 0.05, "horizon_seconds": 60}}]}
        )
    )  # fmt: skip
    user, password = kafka.users["PLAIN"]
    password_file = tmp_path / "kafka-plain.password"
    password_file.write_text(password + "\n")
    log_path = tmp_path / "dispatcher.log"
    command = [
        sys.executable, "-m", "streams.cli", "--log-level", "DEBUG", "dispatch",
        "--sinks", str(sinks), "--kafka", kafka.sasl_bootstrap, "--redis", redis_server.url,
        "--alerts-topic", alerts, "--parked-topic", f"{alerts}.parked",
        "--group-prefix", f"{prefix}-sink", "--key-prefix", prefix,
        "--kafka-security-protocol", "SASL_SSL", "--kafka-sasl-mechanism", "PLAIN",
        "--kafka-sasl-username", user, "--kafka-sasl-password-file", str(password_file),
        "--kafka-ssl-cafile", str(kafka.pki.ca),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **redis_server.env(), "PYTHONUNBUFFERED": "1"},
        )
    return Dispatcher(proc, log_path)


def worker_env(kafka: SecureKafka, redis_server: SecureRedis, password: str) -> dict[str, str]:
    """SCRAM-SHA-512 from variables, the password in a file (the user comes as an option)."""
    password_file = redis_server.workdir / f"kafka-scram-{uuid.uuid4().hex[:6]}.password"
    password_file.write_text(password + "\n")
    return {
        "DISTILLWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "DISTILLWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "DISTILLWATCH_KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "DISTILLWATCH_KAFKA_SSL_CAFILE": str(kafka.pki.ca),
        **redis_server.env(),
    }


def test_events_in_pages_out_with_every_hop_authenticated_and_encrypted(
    tmp_path: Path, secure_kafka: SecureKafka, secure_redis: SecureRedis, secure_prefix: str
) -> None:
    """Events over SASL_SSL, the worker (SCRAM) keeping its state in TLS Redis as the ACL
    user, alerts over SASL_SSL to the dispatcher (PLAIN) and on to a webhook."""
    admin = secure_kafka.security("SCRAM-SHA-512")
    topics = Topics.fresh()
    produce(
        secure_kafka.sasl_bootstrap,
        topics.input,
        [(e["account_id"].encode(), orjson.dumps(e)) for e in harvest_events("acct_sec", 230)],
        admin,
    )
    state = connect_sync(secure_redis.url, secure_redis.security(acl_user=False))
    assert isinstance(state, redis.Redis)
    scram_user, scram_password = secure_kafka.users["SCRAM-SHA-512"]
    worker = start_worker(
        tmp_path, secure_kafka.sasl_bootstrap, secure_redis.url, topics, f"sec-{secure_prefix}",
        secure_prefix, log_level="DEBUG",
        extra_args=["--kafka-sasl-username", scram_user, "--replication-factor", "1",
                    "--dlq-retention-hours", "36"],
        env=worker_env(secure_kafka, secure_redis, scram_password),
    )  # fmt: skip
    receiver = Receiver(judge=webhook_judge([NEW_SECRET]))
    dispatcher: Dispatcher | None = None
    try:
        poll_until(
            lambda: window_total(state, secure_prefix, "acct_sec") == 230,
            "the worker's state in the TLS Redis",
            worker=worker,
        )
        poll_until(
            lambda: committed_everything(
                secure_kafka.sasl_bootstrap, f"sec-{secure_prefix}", topics.input, admin
            ),
            "the worker's offsets committed",
            worker=worker,
        )
        alerts = TopicReader(secure_kafka.sasl_bootstrap, topics.alerts, admin)
        try:
            records = poll_until(alerts.poll, "an alert on the alerts topic", worker=worker)
        finally:
            alerts.close()
        assert orjson.loads(records[0].value)["subject"]["accounts"] == ["acct_sec"]
        dlq = topic_configs(secure_kafka, admin, topics.dlq)
        assert dlq["retention.ms"] == str(36 * 3600 * 1000)
        with receiver:
            running = start_dispatcher(
                tmp_path, secure_kafka, secure_redis, topics.alerts, secure_prefix, receiver.url
            )
            dispatcher = running

            def delivered() -> list[Any]:
                if running.proc.poll() is not None:
                    raise AssertionError(f"the dispatcher exited:\n{running.log()[-4000:]}")
                return receiver.requests()

            pages = poll_until(delivered, "the page at the webhook")
            assert pages[0].json()["subject"]["accounts"] == ["acct_sec"]
            running.stop()
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        worker.stop()
        state.close()
    # Client libraries print their configuration at DEBUG: no secret may be in it.
    logs = {"worker": worker.log_path.read_text(errors="replace")}
    if dispatcher is not None:
        logs["dispatcher"] = dispatcher.log()
    secrets = [
        scram_password,
        secure_kafka.users["PLAIN"][1],
        secure_redis.user_password,
        secure_redis.admin_password,
    ]
    for name, text in logs.items():
        assert "DEBUG" in text, name  # the level that prints configurations was on
        assert not [s for s in secrets if s in text], f"a secret in the {name}'s log"
        # The Kafka clients print every record they send at DEBUG, prompt text included:
        # they are held at INFO whatever --log-level says
        assert "Sending (key=" not in text, name


def test_the_worker_refuses_to_start_on_a_wrong_kafka_password(
    tmp_path: Path, secure_kafka: SecureKafka, secure_redis: SecureRedis, secure_prefix: str
) -> None:
    scram_user, _ = secure_kafka.users["SCRAM-SHA-512"]
    worker = start_worker(
        tmp_path, secure_kafka.sasl_bootstrap, secure_redis.url, Topics.fresh(),
        f"sec-{secure_prefix}", secure_prefix,
        extra_args=["--kafka-sasl-username", scram_user],
        env=worker_env(secure_kafka, secure_redis, "not-the-password"),
    )  # fmt: skip
    try:
        poll_until(lambda: worker.proc.poll() is not None, "the worker to exit", REFUSAL_S * 3)
    finally:
        worker.stop()
    log = worker.log_tail()
    assert worker.proc.returncode == 2, log
    assert "refusing to start" in log and "SaslAuthenticationFailed" in log, log
    assert "not-the-password" not in log


def test_the_worker_refuses_a_bad_security_setting_by_name(
    tmp_path: Path, secure_kafka: SecureKafka, secure_redis: SecureRedis, secure_prefix: str
) -> None:
    env = worker_env(secure_kafka, secure_redis, "unused")
    env["DISTILLWATCH_KAFKA_SASL_PASSWORD"] = "also-given"  # and the file: two ways
    worker = start_worker(
        tmp_path, secure_kafka.sasl_bootstrap, secure_redis.url, Topics.fresh(),
        f"sec-{secure_prefix}", secure_prefix, extra_args=["--kafka-sasl-username", "x"], env=env,
    )  # fmt: skip
    try:
        poll_until(lambda: worker.proc.poll() is not None, "the worker to exit", REFUSAL_S * 3)
    finally:
        worker.stop()
    log = worker.log_tail()
    assert worker.proc.returncode == 2, log
    assert "DISTILLWATCH_KAFKA_SASL_PASSWORD and DISTILLWATCH_KAFKA_SASL_PASSWORD_FILE" in log
    assert "also-given" not in log
