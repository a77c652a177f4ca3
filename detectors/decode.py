"""Decode one message (bytes) into an `InferenceEvent`, or raise `EventDecodeError`.

Hand-written checks rather than a JSON Schema validator per event: this runs on every message
on the hot path. `tests/unit/test_decode.py` keeps it in agreement with
`schemas/inference-event.v1.schema.json` on the contract examples and on invalid cases.
Error details name fields, never their values (values may be prompt text).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


def _type_error(path: str, expected: str, value: object) -> EventDecodeError:
    return EventDecodeError(WRONG_TYPE, f"{path} must be {expected}, got {type(value).__name__}")


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _type_error(f"{path}{key}", "a string", value)


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON Schema counts 4096.0 as an integer; so do we
    raise _type_error(f"{path}{key}", "an integer", value)


def _opt_float(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
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
    return value


def parse_timestamp(value: object) -> float:
    """RFC 3339 string (with offset) or Unix seconds -> Unix seconds."""
    if isinstance(value, bool):
        raise _type_error("timestamp", "an RFC 3339 string or Unix seconds", value)
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            raise EventDecodeError(BAD_TIMESTAMP, "timestamp must be finite, non-negative seconds")
        return seconds
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise EventDecodeError(BAD_TIMESTAMP, "timestamp is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise EventDecodeError(
                BAD_TIMESTAMP, "timestamp has no UTC offset (RFC 3339 needs one)"
            )
        return parsed.timestamp()
    raise _type_error("timestamp", "an RFC 3339 string or Unix seconds", value)


def _messages(request: Mapping[str, Any]) -> tuple[ChatMessage, ...]:
    raw = request.get("messages")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _type_error("request.messages", "a list", raw)
    messages = []
    for index, item in enumerate(raw):
        path = f"request.messages[{index}]."
        if not isinstance(item, dict):
            raise _type_error(f"request.messages[{index}]", "an object", item)
        role = _opt_str(item, "role", path) or ""
        content = _opt_str(item, "content", path) or ""
        messages.append(ChatMessage(role=role, content=content))
    return tuple(messages)


def _logit_bias(request: Mapping[str, Any]) -> Mapping[str, float] | None:
    raw = request.get("logit_bias")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _type_error("request.logit_bias", "an object", raw)
    for bias in raw.values():
        if isinstance(bias, bool) or not isinstance(bias, int | float):
            raise _type_error("request.logit_bias values", "numbers", bias)
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


def _usage_count(usage: Mapping[str, Any], key: str) -> int:
    value = _opt_int(usage, key, "usage.") or 0
    if value < 0:
        raise EventDecodeError(BAD_VALUE, f"usage.{key} must not be negative")
    return value


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
    client = _opt_object(obj, "client")
    request = _opt_object(obj, "request")
    response = _opt_object(obj, "response")
    usage = _opt_object(obj, "usage")
    return InferenceEvent(
        event_id=event_id,
        timestamp=timestamp,
        account_id=account_id,
        model=model,
        schema_version=SCHEMA_VERSION,
        org_id=_opt_str(obj, "org_id", ""),
        api_key_id=_opt_str(obj, "api_key_id", ""),
        tier=_opt_str(obj, "tier", ""),
        endpoint=_opt_str(obj, "endpoint", ""),
        conversation_id=_opt_str(obj, "conversation_id", ""),
        turn_index=_opt_int(obj, "turn_index", ""),
        client=ClientInfo(
            ip=_opt_str(client, "ip", "client."),
            user_agent=_opt_str(client, "user_agent", "client."),
            asn=_opt_int(client, "asn", "client."),
            country=_opt_str(client, "country", "client."),
            payment_fingerprint=_opt_str(client, "payment_fingerprint", "client."),
            tls_fingerprint=_opt_str(client, "tls_fingerprint", "client."),
        ),
        request=RequestInfo(
            system=_opt_str(request, "system", "request."),
            messages=_messages(request),
            prompt=_prompt(request),
            prompt_fingerprint=_opt_str(request, "prompt_fingerprint", "request."),
            temperature=_opt_float(request, "temperature", "request."),
            top_p=_opt_float(request, "top_p", "request."),
            max_tokens=_opt_int(request, "max_tokens", "request."),
            n=_opt_int(request, "n", "request."),
            top_logprobs=_opt_int(request, "top_logprobs", "request."),
            seed=_opt_int(request, "seed", "request."),
            logprobs=_opt_bool(request, "logprobs", "request."),
            stream=_opt_bool(request, "stream", "request."),
            logit_bias=_logit_bias(request),
            stop=_stop(request),
            tools=_opt_int(request, "tools", "request."),
        ),
        response=ResponseInfo(
            status=_opt_int(response, "status", "response."),
            finish_reason=_opt_str(response, "finish_reason", "response."),
            latency_ms=_opt_float(response, "latency_ms", "response."),
        ),
        usage=Usage(
            input_tokens=_usage_count(usage, "input_tokens"),
            output_tokens=_usage_count(usage, "output_tokens"),
            reasoning_tokens=_usage_count(usage, "reasoning_tokens"),
        ),
    )


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
