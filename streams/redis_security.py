"""Redis credentials and TLS from the environment, for every Redis client distillwatch opens.

    DISTILLWATCH_REDIS_USERNAME                 an ACL user (default: the `default` user)
    DISTILLWATCH_REDIS_PASSWORD[_FILE]          its password (requirepass for `default`)
    DISTILLWATCH_REDIS_TLS_CA_FILE              PEM CA bundle (default: the system's CAs)
    DISTILLWATCH_REDIS_TLS_CERT_FILE, _KEY_FILE client certificate (tls-auth-clients yes)
    DISTILLWATCH_REDIS_TLS_CHECK_HOSTNAME       1 (default) or 0

The URL's scheme decides TLS (rediss://, rediss-cluster://, rediss-sentinel://); credentials
may also be in the URL's userinfo, but a URL sits on a command line that every local user can
read, so a file is the way for production. Given both in the URL and here, or TLS files for a
URL without TLS (the password would go in clear), the settings are refused at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.secret_values import (
    Secret,
    SecurityConfigError,
    parse_flag,
    readable_file,
    secret_from,
)

USERNAME = "DISTILLWATCH_REDIS_USERNAME"
PASSWORD = "DISTILLWATCH_REDIS_PASSWORD"
PASSWORD_FILE = "DISTILLWATCH_REDIS_PASSWORD_FILE"
CA_FILE = "DISTILLWATCH_REDIS_TLS_CA_FILE"
CERT_FILE = "DISTILLWATCH_REDIS_TLS_CERT_FILE"
KEY_FILE = "DISTILLWATCH_REDIS_TLS_KEY_FILE"
CHECK_HOSTNAME = "DISTILLWATCH_REDIS_TLS_CHECK_HOSTNAME"
VARIABLES = (USERNAME, PASSWORD, PASSWORD_FILE, CA_FILE, CERT_FILE, KEY_FILE, CHECK_HOSTNAME)


@dataclass(frozen=True)
class RedisSecurity:
    """Checked alone at construction, and against a URL by `check` (connect_* call it)."""

    username: str | None = None
    password: Secret | None = None
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_check_hostname: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RedisSecurity:
        env = os.environ if environ is None else environ
        values = {name: env.get(name, "") for name in VARIABLES}
        return cls(
            username=values[USERNAME].strip() or None,
            password=secret_from(values, PASSWORD, PASSWORD_FILE, PASSWORD_FILE),
            tls_ca_file=values[CA_FILE] or None,
            tls_cert_file=values[CERT_FILE] or None,
            tls_key_file=values[KEY_FILE] or None,
            tls_check_hostname=parse_flag(values[CHECK_HOSTNAME] or "1", CHECK_HOSTNAME),
        )

    def __post_init__(self) -> None:
        if self.username is not None and self.password is None:
            raise SecurityConfigError(
                f"{USERNAME} is set without a password: {PASSWORD} or {PASSWORD_FILE}"
            )
        if self.tls_key_file is not None and self.tls_cert_file is None:
            raise SecurityConfigError(f"{KEY_FILE} needs {CERT_FILE}, the certificate it signs")
        for name, path in self._tls_files():
            readable_file(path, name)

    def _tls_files(self) -> list[tuple[str, str]]:
        files = ((CA_FILE, self.tls_ca_file), (CERT_FILE, self.tls_cert_file))
        return [(name, path) for name, path in (*files, (KEY_FILE, self.tls_key_file)) if path]

    def check(self, scheme: str, url_username: str | None, url_password: str | None) -> None:
        """Refuse settings that conflict with the URL's, or that it would ignore."""
        if self.password is not None and url_password is not None:
            raise SecurityConfigError(
                f"the Redis URL carries a password and {PASSWORD} or {PASSWORD_FILE} is set: "
                "give it one way (a file, for production)"
            )
        if self.username is not None and url_username is not None:
            raise SecurityConfigError(
                f"the Redis URL names a user and {USERNAME} is set: give it one way"
            )
        ignored = [name for name, _ in self._tls_files()]
        if not self.tls_check_hostname:
            ignored.append(CHECK_HOSTNAME)
        if ignored and not scheme.startswith("rediss"):
            raise SecurityConfigError(
                f"{' and '.join(ignored)} set, but the Redis URL is {scheme}:// (no TLS): use "
                "rediss://, rediss-cluster:// or rediss-sentinel://"
            )

    def client_kwargs(self, tls: bool) -> dict[str, Any]:
        """redis-py keyword arguments (sync and asyncio, single, cluster and Sentinel-managed
        clients take the same ones); credentials only when set, so a URL's still apply."""
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password.for_client()
        if tls:
            kwargs.update(
                ssl_cert_reqs="required",
                ssl_ca_certs=self.tls_ca_file,
                ssl_certfile=self.tls_cert_file,
                ssl_keyfile=self.tls_key_file,
                ssl_check_hostname=self.tls_check_hostname,
            )
        return kwargs
