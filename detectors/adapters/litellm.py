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

from collections.abc import Sequence
from typing import Any

from detectors.adapters import native
from detectors.adapters.base import (
    MISSING_FIELD,
    NOT_AN_OBJECT,
    Adapter,
    Mapped,
    RecordError,
)
from detectors.adapters.fields import (
    OPENAI_PARAMETERS,
    REDACTED,
    SYSTEM_ROLES,
    as_count,
    as_float,
    as_id,
    as_int,
    as_str,
    content_text,
    dig,
    first_address,
    map_each,
    read_parameters,
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
# The call types LiteLLM names today, looked up before the word search above
KNOWN_ENDPOINTS = {
    call_type: endpoint
    for prefixes, word, endpoint in (
        (("", "a"), "completion", "chat"),
        (("", "a"), "text_completion", "completions"),
        (("", "a"), "embedding", "embeddings"),
        (("", "a"), "anthropic_messages", "messages"),
        (("", "a"), "responses", "responses"),
    )
    for prefix in prefixes
    for call_type in (f"{prefix}{word}", f"litellm.{prefix}{word}")
}


def litellm_adapter(
    account_keys: Sequence[str] = DEFAULT_ACCOUNT_KEYS, compiled: bool = True
) -> Adapter:
    """The adapter for LiteLLM's logs; the account is the first present of the metadata keys
    `account_keys`. With `compiled`, payloads go to the compiled mapper first where it is
    installed (detectors/adapters/native.py): the same events, faster."""
    keys = tuple(account_keys)
    fast = native.litellm_mapper(keys) if compiled else None

    def adapt(payload: bytes) -> Mapped:
        return map_each(payload, lambda record: _event(record, keys))

    return native.compiled_first(fast, adapt)


def _event(record: Any, account_keys: tuple[str, ...]) -> dict[str, Any]:
    # Written for speed, as it runs for every call a gateway logs: orjson makes plain dicts
    # (exact type checks, cheaper than isinstance against Mapping), and optional fields are
    # set only when they read, instead of built and then stripped of their Nones
    if type(record) is not dict:
        raise RecordError(NOT_AN_OBJECT, "the record is not a JSON object")
    get = record.get
    metadata = get("metadata")
    if type(metadata) is not dict:
        metadata = _EMPTY
    event_id = required_str(get("litellm_call_id") or get("id"), "litellm_call_id")
    raw_start = get("startTime")
    start = required_timestamp(as_float(raw_start), "startTime", raw_start is not None)
    found = None
    for key in account_keys:
        if value := metadata.get(key):
            found = value
            break
    if found is None:
        raise RecordError(MISSING_FIELD, f"none of metadata.{', metadata.'.join(account_keys)}")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "timestamp": start,
        "account_id": required_str(found, "the account"),
    }
    if (org := as_id(metadata.get("user_api_key_org_id"))) is not None:
        event["org_id"] = org
    if (api_key := as_id(metadata.get("user_api_key_hash"))) is not None:
        event["api_key_id"] = api_key
    event["model"] = required_str(get("model_group") or get("model"), "model_group")
    if (endpoint := _endpoint(get("call_type"))) is not None:
        event["endpoint"] = endpoint
    client = {}
    ip = first_address(get("requester_ip_address") or metadata.get("requester_ip_address"))
    if ip is not None:
        client["ip"] = ip
    agent = as_str(
        get("user_agent")
        or metadata.get("user_agent")
        or dig(metadata, "requester_metadata", "user_agent")
    )
    if agent is not None:
        client["user_agent"] = agent
    if client:
        event["client"] = client
    params = get("model_parameters")
    request = _request(params if type(params) is dict else _EMPTY, get("messages"))
    if request:
        event["request"] = request
    response: dict[str, Any] = {}
    if get("status") == "failure":
        error = get("error_information")
        code = as_int(error.get("error_code")) if type(error) is dict else None
        if code:
            response["status"] = code
    else:
        response["status"] = 200
    if (finish := as_id(_finish_reason(get("response")))) is not None:
        response["finish_reason"] = finish
    end = as_float(get("endTime"))
    if end is not None and end >= start:
        response["latency_ms"] = (end - start) * 1000.0
    if response:
        event["response"] = response
    usage = {}
    if (tokens := as_count(get("prompt_tokens"))) is not None:
        usage["input_tokens"] = tokens
    if (tokens := as_count(get("completion_tokens"))) is not None:
        usage["output_tokens"] = tokens
    if usage:
        event["usage"] = usage
    return event


_EMPTY: dict[str, Any] = {}  # read only: what a missing or non-object level reads as


def _endpoint(call_type: Any) -> str | None:
    if type(call_type) is not str:
        return None
    known = KNOWN_ENDPOINTS.get(call_type)
    if known is not None:
        return known
    for word, endpoint in ENDPOINTS:
        if word in call_type:
            return endpoint
    return "other"


def _conversation(value: Any) -> tuple[list[dict[str, str]] | None, str | None, str | None]:
    """(chat messages, system prompt, completions prompt) from LiteLLM's `messages`: a list of
    chat messages, a prompt string, or the redaction string when message logging is off."""
    if type(value) is str:
        return None, None, (None if value == REDACTED else value)
    if type(value) is not list:
        return None, None, None
    messages: list[dict[str, str]] = []
    system: list[str] = []
    for message in value:
        if type(message) is not dict:
            continue
        role, content = message.get("role"), message.get("content")
        text = content if type(content) is str else content_text(content)
        if type(role) is not str or text is None or text == REDACTED:
            continue
        if role in SYSTEM_ROLES:
            system.append(text)
        else:
            messages.append({"role": role, "content": text})
    return messages or None, "\n".join(system) or None, None


def _request(params: dict[str, Any], raw_messages: Any) -> dict[str, Any]:
    request: dict[str, Any] = {}
    messages, system, prompt = _conversation(raw_messages)
    if system is not None:
        request["system"] = system
    if messages is not None:
        request["messages"] = messages
    if prompt is not None:
        request["prompt"] = prompt
    if not params:
        return request
    read_parameters(params, _PARAMETERS, request)
    get = params.get
    limit = get("max_completion_tokens")  # the newer name first; null is not given
    if limit is None:
        limit = get("max_tokens")
    if limit is not None and (limit := as_count(limit)) is not None:
        request["max_tokens"] = limit
    return request


def _tool_count(value: Any) -> int | None:
    return len(value) if type(value) is list else None


def _finish_reason(response: Any) -> Any:
    choices = response.get("choices") if type(response) is dict else None
    if type(choices) is list and choices and type(choices[0]) is dict:
        return choices[0].get("finish_reason")
    return None


# model_parameters read, and how (max_tokens, which has two names, is read on its own)
_PARAMETERS = {**OPENAI_PARAMETERS, "stop": string_list, "tools": _tool_count}
