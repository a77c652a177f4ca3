"""Kafka transport security from configuration: one `KafkaSecurity` for every Kafka client.

The worker (faust, on aiokafka), its topic admin and the simulator's producer (kafka-python)
and the dispatcher (aiokafka) all take their settings from here, so no client can be left on
PLAINTEXT while the others authenticate. Settings come from `DISTILLWATCH_KAFKA_*` variables,
each also a `--kafka-*` option of the commands that talk to Kafka (docs/security.md); the
password only from the environment or a file, never an option (a command line is visible to
every local user). A combination that cannot work, or would silently ignore a setting, is
refused at start with the setting's name and the reason, never at the first connection.
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn

from streams.secret_values import (
    Secret,
    SecurityConfigError,
    parse_flag,
    readable_file,
    secret_from,
)

log = logging.getLogger(__name__)

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

PROTOCOL = "DISTILLWATCH_KAFKA_SECURITY_PROTOCOL"
MECHANISM = "DISTILLWATCH_KAFKA_SASL_MECHANISM"
USERNAME = "DISTILLWATCH_KAFKA_SASL_USERNAME"
PASSWORD = "DISTILLWATCH_KAFKA_SASL_PASSWORD"  # environment only: no option
PASSWORD_FILE = "DISTILLWATCH_KAFKA_SASL_PASSWORD_FILE"
CAFILE = "DISTILLWATCH_KAFKA_SSL_CAFILE"
CERTFILE = "DISTILLWATCH_KAFKA_SSL_CERTFILE"
KEYFILE = "DISTILLWATCH_KAFKA_SSL_KEYFILE"
CHECK_HOSTNAME = "DISTILLWATCH_KAFKA_SSL_CHECK_HOSTNAME"

# variable -> (option, help)
OPTIONS: dict[str, tuple[str, str]] = {
    PROTOCOL: ("--kafka-security-protocol", f"{' | '.join(PROTOCOLS)} (default PLAINTEXT)"),
    MECHANISM: ("--kafka-sasl-mechanism", f"{' | '.join(MECHANISMS)}, with SASL_* only"),
    USERNAME: ("--kafka-sasl-username", "SASL user"),
    PASSWORD_FILE: (
        "--kafka-sasl-password-file",
        f"file holding the SASL password (or set {PASSWORD})",
    ),
    CAFILE: ("--kafka-ssl-cafile", "PEM CA bundle for the brokers (default: the system's CAs)"),
    CERTFILE: ("--kafka-ssl-certfile", "PEM client certificate (mutual TLS)"),
    KEYFILE: ("--kafka-ssl-keyfile", "PEM client key, unencrypted (mutual TLS)"),
    CHECK_HOSTNAME: (
        "--kafka-ssl-check-hostname",
        "1 (default) or 0: check the broker's certificate names the host connected to",
    ),
}


def setting(variable: str) -> str:
    """How an error names a setting: its variable and, if it has one, its option."""
    option = OPTIONS.get(variable)
    return f"{variable} ({option[0]})" if option else variable


def _dest(variable: str) -> str:
    return OPTIONS[variable][0].removeprefix("--").replace("-", "_")


def add_kafka_security_args(parser: argparse.ArgumentParser) -> None:
    """The `--kafka-*` options, defaulting to their variables."""
    group = parser.add_argument_group(
        "Kafka security",
        f"each defaults to its DISTILLWATCH_KAFKA_* variable (docs/security.md); the password "
        f"only from {PASSWORD} or --kafka-sasl-password-file",
    )
    for variable, (option, help_text) in OPTIONS.items():
        group.add_argument(option, default=os.environ.get(variable, ""), help=help_text)


@dataclass(frozen=True)
class KafkaSecurity:
    """Validated at construction (refused with the setting named); the client libraries'
    keyword arguments come from `kafka_python()`, `aiokafka()` and `faust_credentials()`."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: Secret | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        env = os.environ if environ is None else environ
        names = (*OPTIONS, PASSWORD)
        return cls.load({name: env.get(name, "") for name in names})

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> KafkaSecurity:
        """The options (whose defaults are the variables), the password from the environment.
        A command without the options reads the variables."""
        env = os.environ if environ is None else environ
        values = {PASSWORD: env.get(PASSWORD, "")}
        for name in OPTIONS:
            given = getattr(args, _dest(name), None)
            values[name] = env.get(name, "") if given is None else str(given)
        return cls.load(values)

    @classmethod
    def load(cls, values: Mapping[str, str]) -> KafkaSecurity:
        """From settings by variable name; empty means unset."""
        return cls(
            protocol=values.get(PROTOCOL, "").strip().upper() or "PLAINTEXT",
            sasl_mechanism=values.get(MECHANISM, "").strip().upper() or None,
            username=values.get(USERNAME, "").strip() or None,
            password=secret_from(values, PASSWORD, PASSWORD_FILE, setting(PASSWORD_FILE)),
            ssl_cafile=values.get(CAFILE, "") or None,
            ssl_certfile=values.get(CERTFILE, "") or None,
            ssl_keyfile=values.get(KEYFILE, "") or None,
            ssl_check_hostname=parse_flag(
                values.get(CHECK_HOSTNAME, "") or "1", setting(CHECK_HOSTNAME)
            ),
        )

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            _refuse(
                f"{setting(PROTOCOL)}={self.protocol!r}: expected one of {', '.join(PROTOCOLS)}"
            )
        self._check_sasl()
        self._check_tls()

    def _check_sasl(self) -> None:
        mechanisms = ", ".join(MECHANISMS)
        if not self.uses_sasl:
            given = [
                name
                for name, value in (
                    (setting(MECHANISM), self.sasl_mechanism),
                    (setting(USERNAME), self.username),
                    (f"a password ({PASSWORD} or {setting(PASSWORD_FILE)})", self.password),
                )
                if value is not None
            ]
            if given:
                _refuse(
                    f"{' and '.join(given)} set, but {setting(PROTOCOL)} is {self.protocol}: "
                    "SASL is used only with SASL_SSL or SASL_PLAINTEXT"
                )
            return
        if self.sasl_mechanism is None:
            _refuse(f"{setting(PROTOCOL)}={self.protocol} needs {setting(MECHANISM)}: {mechanisms}")
        if self.sasl_mechanism not in MECHANISMS:
            _refuse(f"{setting(MECHANISM)}={self.sasl_mechanism!r}: expected one of {mechanisms}")
        if self.username is None:
            _refuse(f"{self.protocol} with {self.sasl_mechanism} needs {setting(USERNAME)}")
        if self.password is None:
            _refuse(
                f"{self.protocol} with {self.sasl_mechanism} needs a password: "
                f"{PASSWORD} or {setting(PASSWORD_FILE)}"
            )

    def _check_tls(self) -> None:
        files = (
            (CAFILE, self.ssl_cafile),
            (CERTFILE, self.ssl_certfile),
            (KEYFILE, self.ssl_keyfile),
        )
        if not self.uses_ssl:
            given = [setting(name) for name, value in files if value is not None]
            if not self.ssl_check_hostname:
                given.append(setting(CHECK_HOSTNAME))
            if given:
                _refuse(
                    f"{' and '.join(given)} set, but {setting(PROTOCOL)} is {self.protocol}: "
                    "TLS is used only with SSL or SASL_SSL"
                )
            return
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            _refuse(f"{setting(KEYFILE)} needs {setting(CERTFILE)}, the certificate it belongs to")
        for name, value in files:
            if value is not None:
                readable_file(value, setting(name))
        _ = self.ssl_context  # a CA bundle or key that does not load is refused now
        if not self.ssl_check_hostname:
            log.warning(
                "%s=0: broker certificates are not checked against the host name; any "
                "certificate the CA signed is accepted",
                CHECK_HOSTNAME,
            )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """One verifying TLS context (CA, optional client certificate) shared by the clients."""
        if not self.uses_ssl:
            return None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ssl_cafile)
        except ssl.SSLError as error:
            _refuse(f"{setting(CAFILE)}: {self.ssl_cafile} holds no usable CA certificate: {error}")
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None:
            try:
                context.load_cert_chain(
                    self.ssl_certfile, self.ssl_keyfile, password=self._encrypted_key
                )
            except ssl.SSLError as error:
                _refuse(
                    f"{setting(CERTFILE)} / {setting(KEYFILE)}: the client certificate and key "
                    f"do not load: {error}"
                )
        return context

    def _encrypted_key(self) -> NoReturn:
        # Called only for an encrypted key; without it OpenSSL would prompt on the terminal.
        _refuse(
            f"{setting(KEYFILE) if self.ssl_keyfile else setting(CERTFILE)}: the client key is "
            "encrypted; give an unencrypted key and protect the file instead"
        )

    def _sasl(self) -> dict[str, Any]:
        if not self.uses_sasl or self.password is None:
            return {}
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.for_client(),
        }

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaAdminClient, KafkaProducer, KafkaConsumer."""
        settings: dict[str, Any] = {"security_protocol": self.protocol, **self._sasl()}
        if self.uses_ssl:
            settings["ssl_context"] = self.ssl_context
            settings["ssl_check_hostname"] = self.ssl_check_hostname
        return settings

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaConsumer and AIOKafkaProducer."""
        settings: dict[str, Any] = {"security_protocol": self.protocol, **self._sasl()}
        if self.uses_ssl:
            settings["ssl_context"] = self.ssl_context
        return settings

    def faust_credentials(self) -> Any:
        """faust's `broker_credentials` (None for PLAINTEXT): faust hands them to the aiokafka
        consumer and producer it creates."""
        import faust  # late: only the worker needs faust

        if self.uses_sasl and self.password is not None:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password.for_client(),
                ssl_context=self.ssl_context,  # None: SASL_PLAINTEXT
                mechanism=self.sasl_mechanism,
            )
        if self.uses_ssl:
            return faust.SSLCredentials(self.ssl_context)
        return None

    def describe(self) -> str:
        """For the start-up log: what is used, never the password."""
        parts = [self.protocol]
        if self.uses_sasl:
            parts.append(f"{self.sasl_mechanism} as {self.username!r}")
        if self.uses_ssl:
            parts.append(f"CA {self.ssl_cafile or 'system default'}")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}")
            if not self.ssl_check_hostname:
                parts.append("host names NOT checked")
        return ", ".join(parts)


def _refuse(message: str) -> NoReturn:
    raise SecurityConfigError(message)


PLAINTEXT = KafkaSecurity()
