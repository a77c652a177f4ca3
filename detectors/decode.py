"""Decode one message (bytes) into an `InferenceEvent`, or raise `EventDecodeError`.

Hand-written checks rather than a JSON Schema validator per event: this runs on every message
on the hot path. `tests/unit/test_decode.py` keeps it in agreement with
`schemas/inference-event.v1.schema.json` on the contract examples and on invalid cases.
Error details name fields, never their values (values may be prompt text).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import orjson

from detectors.errors import EventDecodeError
from detectors.event import (
    SCHEMA_VERSION,
    ChatMessage,
    ClientInfo,
    InferenceEvent,
    RequestInfo,
    ResponseInfo,
    Usage,
)

# Reasons are part of the dead-letter contract: dashboards and replays group by them.
TOO_LARGE = "too_large"
INVALID_UTF8 = "invalid_utf8"
NOT_JSON = "not_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_VALUE = "bad_value"
BAD_TIMESTAMP = "bad_timestamp"
UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
REASONS = (
    TOO_LARGE,
    INVALID_UTF8,
    NOT_JSON,
    NOT_AN_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    BAD_VALUE,
    BAD_TIMESTAMP,
    UNSUPPORTED_SCHEMA_VERSION,
)

DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024
# The largest integer exact as a double: JSON numbers and Redis's Lua numbers are doubles, and
# a value past it (a token count of 1e300) cannot be counted exactly anywhere downstream.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_ID_BYTES = 256  # ids are kept in state and alerts: bounded whatever the gateway sends
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z
# RFC 3339 date-time (section 5.6), nothing looser: no ISO basic or week forms, no missing
# seconds, an offset always.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_NUMBER_TYPES = frozenset((int, float))  # exact types: bool is an int subclass, and not a number


def _type_error(path: str, expected: str, value: object) -> EventDecodeError:
    return EventDecodeError(WRONG_TYPE, f"{path} must be {expected}, got {type(value).__name__}")


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise _type_error(f"{path}{key}", "a string", value)


def _out_of_range(path: str) -> EventDecodeError:
    return EventDecodeError(BAD_VALUE, f"{path} is beyond +/-2^53-1, not an exact count")


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)  # JSON Schema counts 4096.0 as an integer; so do we
    else:
        raise _type_error(f"{path}{key}", "an integer", value)
    if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        raise _out_of_range(f"{path}{key}")
    return number


def _opt_id(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = _opt_str(obj, key, path)
    return value if value is None else _check_id(f"{path}{key}", value)


def _check_id(key: str, value: str) -> str:
    # Four bytes per character at most: only long ids need encoding to be measured.
    if len(value) * 4 > MAX_ID_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise EventDecodeError(BAD_VALUE, f"{key} is longer than {MAX_ID_BYTES} bytes")
    return value


def _opt_float(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value  # an int is a valid float (PEP 484); kept as is, like the fast path does
    raise _type_error(f"{path}{key}", "a number", value)


def _opt_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _type_error(f"{path}{key}", "a boolean", value)


def _opt_object(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _type_error(key, "an object", value)


def _required_str(obj: Mapping[str, Any], key: str) -> str:
    if key not in obj or obj[key] is None:
        raise EventDecodeError(MISSING_FIELD, f"required field {key} is missing")
    value = obj[key]
    if not isinstance(value, str):
        raise _type_error(key, "a string", value)
    if not value:
        raise EventDecodeError(BAD_VALUE, f"{key} must not be empty")
    return _check_id(key, value)


def parse_timestamp(value: object) -> float:
    """RFC 3339 string (with offset) or Unix seconds -> Unix seconds, from 1970 to 9999."""
    if isinstance(value, bool):
        raise _type_error("timestamp", "an RFC 3339 string or Unix seconds", value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _rfc3339_seconds(value)
    else:
        raise _type_error("timestamp", "an RFC 3339 string or Unix seconds", value)
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_TIMESTAMP):
        raise EventDecodeError(BAD_TIMESTAMP, "timestamp must be between 1970 and 9999")
    return seconds


def _rfc3339_seconds(text: str) -> float:
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise EventDecodeError(BAD_TIMESTAMP, "timestamp is not RFC 3339")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m))
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )  # fmt: skip
    except ValueError:  # month 13, 25:00, an offset of 24 hours or more, a leap second
        raise EventDecodeError(BAD_TIMESTAMP, "timestamp is not a valid RFC 3339 time") from None
    return moment.timestamp()


def _messages(request: Mapping[str, Any]) -> tuple[ChatMessage, ...]:
    raw = request.get("messages")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _type_error("request.messages", "a list", raw)
    messages = []
    for index, item in enumerate(raw):
        # Hot loop (agent transcripts carry dozens of messages): exact type checks first, and
        # the field path is only formatted when there is an error to report.
        if type(item) is not dict:
            raise _type_error(f"request.messages[{index}]", "an object", item)
        role = item.get("role")
        content = item.get("content")
        if type(role) is not str:
            role = _opt_str(item, "role", f"request.messages[{index}].") or ""
        if type(content) is not str:
            content = _opt_str(item, "content", f"request.messages[{index}].") or ""
        messages.append(ChatMessage(role, content))
    return tuple(messages)


def _logit_bias(request: Mapping[str, Any]) -> Mapping[str, float] | None:
    raw = request.get("logit_bias")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _type_error("request.logit_bias", "an object", raw)
    # Probing requests carry maps of hundreds of ids: check the value types in one C-level pass.
    value_types = set(map(type, raw.values()))
    if not value_types <= _NUMBER_TYPES:
        wrong = next(iter(value_types - _NUMBER_TYPES))
        raise EventDecodeError(
            WRONG_TYPE, f"request.logit_bias values must be numbers, got {wrong.__name__}"
        )
    return raw


def _stop(request: Mapping[str, Any]) -> tuple[str, ...] | None:
    raw = request.get("stop")
    if raw is None:
        return None
    if isinstance(raw, str):  # OpenAI accepts a single string; the gateway may pass it on
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _type_error("request.stop", "a list of strings", raw)
    return tuple(raw)


def _prompt(request: Mapping[str, Any]) -> str | None:
    raw = request.get("prompt")
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return "\n".join(raw)  # contracts.md: a list of prompts is joined with newlines
    return _opt_str(request, "prompt", "request.")


class _ScalarGroup:
    """The optional scalar fields of one JSON object, validated together, in record order.

    Fast path: the tuple of exact value types is looked up among signatures already seen to be
    valid (orjson yields exact types; real traffic has a handful of signatures). Anything else
    takes the per-field path, which names the field at fault or converts an integral float where
    an integer belongs, and remembers the signature if it needed no conversion."""

    _CHECKS: ClassVar[dict[str, Callable[[Mapping[str, Any], str, str], Any]]] = {
        "str": _opt_str,
        "id": _opt_id,
        "int": _opt_int,
        "float": _opt_float,
        "bool": _opt_bool,
    }
    _MAX_SIGNATURES = 4096  # bound the cache against adversarial type mixes

    def __init__(self, path: str, fields: Sequence[tuple[str, str]]) -> None:
        self.path = path
        self.fields = tuple(fields)
        self.keys = tuple(key for key, _ in fields)
        self._valid_signatures: set[tuple[type, ...]] = set()
        # Values a known signature does not vouch for: integers within 2^53, ids within bytes.
        self._ints = tuple(i for i, (_, kind) in enumerate(fields) if kind == "int")
        self._ids = tuple(i for i, (_, kind) in enumerate(fields) if kind == "id")

    def _in_bounds(self, values: list[Any]) -> bool:
        for i in self._ints:
            number = values[i]
            if number is not None and not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
                return False
        return all(values[i] is None or len(values[i]) * 4 <= MAX_ID_BYTES for i in self._ids)

    def read(self, obj: Mapping[str, Any]) -> list[Any]:
        values = list(map(obj.get, self.keys))
        signature = tuple(map(type, values))
        if signature in self._valid_signatures and self._in_bounds(values):
            return values
        checked = [self._CHECKS[kind](obj, key, self.path) for key, kind in self.fields]
        unchanged = all(map(operator.is_, checked, values))
        if unchanged and len(self._valid_signatures) < self._MAX_SIGNATURES:
            self._valid_signatures.add(signature)
        return checked


_TOP = _ScalarGroup(
    "",
    [
        ("org_id", "id"),
        ("api_key_id", "id"),
        ("tier", "id"),
        ("endpoint", "id"),
        ("conversation_id", "id"),
        ("turn_index", "int"),
    ],
)
_CLIENT = _ScalarGroup(
    "client.",
    [
        ("ip", "id"),
        ("user_agent", "str"),
        ("asn", "int"),
        ("country", "str"),
        ("payment_fingerprint", "id"),
        ("tls_fingerprint", "id"),
    ],
)
_REQUEST = _ScalarGroup(
    "request.",
    [
        ("system", "str"),
        ("prompt_fingerprint", "id"),
        ("temperature", "float"),
        ("top_p", "float"),
        ("max_tokens", "int"),
        ("n", "int"),
        ("top_logprobs", "int"),
        ("seed", "int"),
        ("logprobs", "bool"),
        ("stream", "bool"),
        ("tools", "int"),
    ],
)
_RESPONSE = _ScalarGroup(
    "response.",
    [("status", "int"), ("finish_reason", "id"), ("latency_ms", "float")],
)
_USAGE = _ScalarGroup(
    "usage.",
    [("input_tokens", "int"), ("output_tokens", "int"), ("reasoning_tokens", "int")],
)


def _usage(usage: Mapping[str, Any]) -> Usage:
    counts = _USAGE.read(usage)
    for position, value in enumerate(counts):
        if value is None:
            counts[position] = 0
        elif value < 0:
            raise EventDecodeError(BAD_VALUE, f"usage.{_USAGE.keys[position]} must not be negative")
    return Usage._make(counts)


def event_from_mapping(obj: object) -> InferenceEvent:
    """Validate a parsed JSON value and build the event."""
    if not isinstance(obj, dict):
        raise EventDecodeError(
            NOT_AN_OBJECT, f"top level must be an object, got {type(obj).__name__}"
        )
    version = obj.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int | float):
        raise _type_error("schema_version", "an integer", version)
    if version != SCHEMA_VERSION:
        raise EventDecodeError(UNSUPPORTED_SCHEMA_VERSION, f"schema_version {version} is not 1")
    event_id = _required_str(obj, "event_id")
    account_id = _required_str(obj, "account_id")
    model = _required_str(obj, "model")
    if obj.get("timestamp") is None:
        raise EventDecodeError(MISSING_FIELD, "required field timestamp is missing")
    timestamp = parse_timestamp(obj["timestamp"])
    request = _opt_object(obj, "request")
    request_values = _REQUEST.read(request)
    request_values += (_messages(request), _prompt(request), _logit_bias(request), _stop(request))
    top_values = [event_id, timestamp, account_id, model, *_TOP.read(obj)]
    top_values += (
        ClientInfo._make(_CLIENT.read(_opt_object(obj, "client"))),
        RequestInfo._make(request_values),
        ResponseInfo._make(_RESPONSE.read(_opt_object(obj, "response"))),
        _usage(_opt_object(obj, "usage")),
        SCHEMA_VERSION,
    )
    # Positional construction in record field order: the fast way to build a NamedTuple.
    return InferenceEvent._make(top_values)


def decode_event(raw: bytes, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> InferenceEvent:
    """Parse and validate one message."""
    if len(raw) > max_bytes:
        raise EventDecodeError(TOO_LARGE, f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventDecodeError(INVALID_UTF8, "message is not valid UTF-8") from None
        raise EventDecodeError(NOT_JSON, "message is not valid JSON") from None
    return event_from_mapping(obj)
