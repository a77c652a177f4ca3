"""LiteLLM proxy logs (`StandardLoggingPayload`) to inference events v1.

LiteLLM's `generic_api` callback posts its batches as a JSON array (the default), NDJSON or
single objects; all three are read. Each payload object is one LLM call. Every field is optional
in practice: older LiteLLM versions lack some, and with message logging off
(`turn_off_message_logging`) `messages` is a redaction string. Such an event carries no text,
so the text-reading detectors see nothing and their evidence says so.

The account is the first present of a configurable list of metadata keys. The default is
team, then organisation, then user, then the hash of the virtual key: the team is who pays.
docs/adapters.md has the field table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detectors.adapters.base import (
    MISSING_FIELD,
    NOT_AN_OBJECT,
    Adapter,
    Mapped,
    RecordError,
)
from detectors.adapters.fields import (
    as_bool,
    as_float,
    as_id,
    as_int,
    as_str,
    compact,
    content_text,
    dig,
    first_address,
    map_each,
    required_str,
    required_timestamp,
    string_list,
)

DEFAULT_ACCOUNT_KEYS = (
    "user_api_key_team_id",
    "user_api_key_org_id",
    "user_api_key_user_id",
    "user_api_key_hash",
)
# LiteLLM's call types (`acompletion`, `litellm.completion`, `atext_completion`, ...) by the
# word that names the API
ENDPOINTS = (
    ("text_completion", "completions"),
    ("embedding", "embeddings"),
    ("anthropic_messages", "messages"),
    ("responses", "responses"),
    ("completion", "chat"),
)


def litellm_adapter(account_keys: Sequence[str] = DEFAULT_ACCOUNT_KEYS) -> Adapter:
    keys = tuple(account_keys)

    def adapt(payload: bytes) -> Mapped:
        return map_each(payload, lambda record: _event(record, keys))

    return adapt


def _event(record: Any, account_keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise RecordError(NOT_AN_OBJECT, "the record is not a JSON object")
    metadata = record.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    event_id = required_str(record.get("litellm_call_id") or record.get("id"), "litellm_call_id")
    start = required_timestamp(
        as_float(record.get("startTime")), "startTime", record.get("startTime") is not None
    )
    end = as_float(record.get("endTime"))
    found = next((metadata[key] for key in account_keys if metadata.get(key)), None)
    if found is None:
        raise RecordError(MISSING_FIELD, f"none of metadata.{', metadata.'.join(account_keys)}")
    account = required_str(found, "the account")
    model = required_str(record.get("model_group") or record.get("model"), "model_group")
    params = record.get("model_parameters")
    params = params if isinstance(params, Mapping) else {}
    messages, system, prompt = _conversation(record.get("messages"))
    error_code = as_int(dig(record, "error_information", "error_code"))
    failed = record.get("status") == "failure"
    event: dict[str, Any] = compact(
        {
            "schema_version": 1,
            "event_id": event_id,
            "timestamp": start,
            "account_id": account,
            "org_id": as_id(metadata.get("user_api_key_org_id")),
            "api_key_id": as_id(metadata.get("user_api_key_hash")),
            "model": model,
            "endpoint": _endpoint(record.get("call_type")),
            "client": {
                "ip": first_address(
                    record.get("requester_ip_address") or metadata.get("requester_ip_address")
                ),
                "user_agent": as_str(
                    record.get("user_agent")
                    or metadata.get("user_agent")
                    or dig(metadata, "requester_metadata", "user_agent")
                ),
            },
            "request": _request(params, messages, system, prompt),
            "response": {
                "status": error_code if failed and error_code else (None if failed else 200),
                "finish_reason": as_id(_finish_reason(record.get("response"))),
                "latency_ms": (end - start) * 1000.0 if end is not None and end >= start else None,
            },
            "usage": {
                "input_tokens": _count(record.get("prompt_tokens")),
                "output_tokens": _count(record.get("completion_tokens")),
            },
        }
    )
    return event


def _endpoint(call_type: Any) -> str | None:
    if not isinstance(call_type, str):
        return None
    for word, endpoint in ENDPOINTS:
        if word in call_type:
            return endpoint
    return "other"


def _conversation(value: Any) -> tuple[list[dict[str, str]] | None, str | None, str | None]:
    """(chat messages, system prompt, completions prompt) from LiteLLM's `messages`: a list of
    chat messages, a prompt string, or the redaction string when message logging is off."""
    if isinstance(value, str):
        if value.startswith("redacted"):  # "redacted-by-litellm": message logging is off
            return None, None, None
        return None, None, value
    if not isinstance(value, list):
        return None, None, None
    messages: list[dict[str, str]] = []
    system: list[str] = []
    for message in value:
        if not isinstance(message, Mapping):
            continue
        role, text = message.get("role"), content_text(message.get("content"))
        if not isinstance(role, str) or text is None:
            continue
        if role in ("system", "developer"):
            system.append(text)
        else:
            messages.append({"role": role, "content": text})
    return messages or None, "\n".join(system) or None, None


def _request(
    params: Mapping[str, Any],
    messages: list[dict[str, str]] | None,
    system: str | None,
    prompt: str | None,
) -> dict[str, Any]:
    tools = params.get("tools")
    logit_bias = params.get("logit_bias")
    return {
        "system": system,
        "messages": messages,
        "prompt": prompt,
        "temperature": as_float(params.get("temperature")),
        "top_p": as_float(params.get("top_p")),
        "max_tokens": _count(params.get("max_completion_tokens", params.get("max_tokens"))),
        "n": _count(params.get("n")),
        "logprobs": as_bool(params.get("logprobs")),
        "top_logprobs": _count(params.get("top_logprobs")),
        "logit_bias": _logit_bias(logit_bias),
        "seed": as_int(params.get("seed")),
        "stop": string_list(params.get("stop")),
        "stream": as_bool(params.get("stream")),
        "tools": len(tools) if isinstance(tools, list) else None,
    }


def _logit_bias(value: Any) -> dict[str, float] | None:
    if not isinstance(value, Mapping) or not value:
        return None
    try:  # the common case: numbers (a probe sends hundreds of token ids)
        bias = {str(token): float(raw) for token, raw in value.items()}
        if all(number - number == 0.0 for number in bias.values()):
            return bias
    except (TypeError, ValueError):
        pass
    bias = {
        str(token): number for token, raw in value.items() if (number := as_float(raw)) is not None
    }
    return bias or None


def _count(value: Any) -> int | None:
    number = as_int(value)
    return number if number is not None and number >= 0 else None


def _finish_reason(response: Any) -> Any:
    choices = dig(response, "choices")
    if isinstance(choices, list) and choices:
        return dig(choices[0], "finish_reason")
    return None
