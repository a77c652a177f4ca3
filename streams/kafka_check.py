"""Start-up check of the Kafka connection: the reason at once, not a vague timeout.

kafka-python retries a refused login until its bootstrap timeout and then reports "Unable to
bootstrap" (to it, a broker closing the socket after a failed SASL login is a network error),
and aiokafka's clients log the cause and raise a generic error. So the worker, the dispatcher
and the simulator first open one connection to each bootstrap server themselves (aiokafka's
`create_conn`: TCP, TLS handshake, SASL login) with the settings every client will use. A
refused login or certificate can never succeed by waiting: it ends the check at once, named.
A broker not (yet) listening is retried until the deadline, as a starting cluster may be.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from aiokafka import errors as kafka_errors
from aiokafka.conn import create_conn

from detectors.errors import DistillwatchError
from streams.kafka_security import PROTOCOL, KafkaSecurity, setting

DEADLINE_S = 30.0
ATTEMPT_TIMEOUT_S = 10.0
# Errors that waiting does not fix: the credentials, the mechanism, or a certificate.
FATAL: tuple[type[BaseException], ...] = (
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
    ssl.SSLError,  # certificate verification included
)


class KafkaUnavailable(DistillwatchError):
    """No bootstrap server accepted the connection with the configured security."""


def bootstrap_hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for item in bootstrap.split(","):
        address = item.strip().removeprefix("kafka://")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise KafkaUnavailable(f"Kafka bootstrap {address!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


async def _connect(host: str, port: int, security: KafkaSecurity) -> None:
    conn = await asyncio.wait_for(
        create_conn(
            host,
            port,
            client_id="distillwatch-check",
            request_timeout_ms=int(ATTEMPT_TIMEOUT_S * 1000),
            **security.aiokafka(),
        ),
        ATTEMPT_TIMEOUT_S,
    )
    conn.close()


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, kafka_errors.KafkaConnectionError) and "closed" in text:
        # What a broker does to a client speaking the wrong protocol (TLS or not, SASL or
        # not) or without the client certificate its listener requires.
        text += (
            f" (the broker hung up at once: does its listener speak {setting(PROTOCOL)} as "
            "set, and does it require a client certificate?)"
        )
    return text


async def check_kafka(
    bootstrap: str, security: KafkaSecurity, deadline_s: float = DEADLINE_S
) -> None:
    """Return once a bootstrap server accepted a connection (TLS and login included); raise
    KafkaUnavailable with the reason otherwise."""
    hosts = bootstrap_hosts(bootstrap)
    end = time.monotonic() + deadline_s
    delay = 0.2
    while True:
        reasons = []
        for host, port in hosts:
            try:
                await _connect(host, port, security)
                return
            except FATAL as error:
                raise KafkaUnavailable(
                    f"cannot connect to Kafka at {host}:{port} ({security.describe()}): "
                    f"{_reason(error)}"
                ) from None
            except (TimeoutError, OSError, kafka_errors.KafkaError) as error:
                reasons.append(f"{host}:{port}: {_reason(error)}")
        if time.monotonic() + delay > end:
            raise KafkaUnavailable(
                f"no Kafka bootstrap server accepted a connection within {deadline_s:.0f} s "
                f"({security.describe()}): {'; '.join(reasons)}"
            )
        await asyncio.sleep(delay)  # backoff between attempts at a broker that is not up yet
        delay = min(delay * 2, 5.0)


def check_kafka_sync(
    bootstrap: str, security: KafkaSecurity, deadline_s: float = DEADLINE_S
) -> None:
    """check_kafka from synchronous code, on a loop of its own: asyncio.run would leave the
    thread without a current loop, and faust takes the current one when it starts."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(check_kafka(bootstrap, security, deadline_s))
    finally:
        loop.close()
