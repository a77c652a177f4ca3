"""Secrets (Kafka and Redis passwords) as values that never print, read from the environment
or from a file.

A `Secret` shows as '***' in repr, str and f-strings, so a settings object can be logged or
end up in a traceback safely; `reveal()` is the one way to the value. Client libraries log
what they send at DEBUG (aiokafka prints the SASL PLAIN login bytes, password included), so
every secret (of 6 characters or more) also joins a process-wide redaction: each log record,
whatever its logger or handler, has the secret's text replaced by '***' as it is created.
A file is the usual way
to hand a password to a container (a Kubernetes or Docker secret mounted read-only); an
environment variable is the other. Given both ways, a setting is refused rather than one of
them silently winning: an operator rotating one would not know the other is in use.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detectors.errors import ConfigError

MASK = "***"
# Shorter values would mask ordinary words all over the logs; such a password is weak anyway.
MIN_REDACTED_LENGTH = 6
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class SecurityConfigError(ConfigError):
    """A security setting is refused: the message names the variable (or option) and why,
    never a secret's value."""


class MaskedStr(str):
    """A secret as the plain `str` a client library needs, whose repr is masked.

    Client libraries log their configuration as a dict (kafka-python's admin client does at
    DEBUG), and a dict shows its values' repr; the library itself still reads the characters.
    str() is left alone on purpose: a library may call it to build the authentication bytes.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


class _Redaction:
    """The log record factory that masks registered secrets: a factory, not a handler filter,
    because faust replaces the handlers when its worker starts and each library has its own
    loggers; every record of the process goes through the factory."""

    def __init__(self) -> None:
        self.forms: tuple[str, ...] = ()  # replaced whole, never mutated: read without a lock
        self._lock = threading.Lock()
        self._previous: Any = None

    def add(self, value: str) -> None:
        # As written, inside a str's repr, inside a bytes' repr (a logged request's payload).
        forms = {value, repr(value)[1:-1], repr(value.encode())[2:-1]} - {""}
        with self._lock:
            if self._previous is None:
                self._previous = logging.getLogRecordFactory()
                logging.setLogRecordFactory(self._make)
            self.forms = tuple(sorted(set(self.forms) | forms, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, MASK)
        return text

    def _make(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self._previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return record
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            masked = self.mask(text)
            if masked != text:  # else the handler's own formatter renders it, as usual
                record.exc_text = masked
        return record


REDACTION = _Redaction()


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= MIN_REDACTED_LENGTH:
            REDACTION.add(value)
        elif value:
            logging.getLogger(__name__).warning(
                "a password shorter than %d characters is not masked in client libraries' "
                "debug logs; use a longer one",
                MIN_REDACTED_LENGTH,
            )

    def reveal(self) -> str:
        return self._value

    def for_client(self) -> MaskedStr:
        """The value for a client library's password argument (masked in its logged config)."""
        return MaskedStr(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret_file(path: str, setting: str) -> Secret:
    """The secret in a file; the final line break an editor or `echo` adds is not part of it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SecurityConfigError(f"{setting}: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SecurityConfigError(f"{setting}: {path} is not UTF-8 text") from None
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise SecurityConfigError(f"{setting}: {path} is empty")
    return Secret(value)


def secret_from(
    values: Mapping[str, str], variable: str, file_variable: str, file_setting: str
) -> Secret | None:
    """A secret given as `variable` or as a file named by `file_variable` (one way only).
    `file_setting` names the file's setting in errors (its variable and option)."""
    value = values.get(variable, "")
    path = values.get(file_variable, "")
    if value and path:
        raise SecurityConfigError(
            f"{variable} and {file_setting} are both set: give the password one way"
        )
    if path:
        return read_secret_file(path, file_setting)
    return Secret(value) if value else None


def parse_flag(text: str, setting: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SecurityConfigError(f"{setting}={text!r}: expected 1/true/yes or 0/false/no")


def readable_file(path: str, setting: str) -> str:
    """`path` if it can be opened for reading (checked at start, not at the first connection)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise SecurityConfigError(f"{setting}: cannot read {path}: {error.strerror}") from None
    return path
