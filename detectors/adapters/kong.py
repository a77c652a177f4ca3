"""Kong AI Gateway log entries to inference events v1.

Kong's logging plugins (`kafka-log`, `http-log`, `file-log`, ...) write one JSON object per
request: the PDK's `kong.log.serialize()` (request, response, latencies, consumer, client_ip,
started_at in milliseconds) plus what the AI plugins add under `ai` when `logging.log_statistics`
is on, and the request and response bodies when `logging.log_payloads` is on. A payload is one
entry (kafka-log), a JSON array of entries (http-log with a batch size above 1) or NDJSON; each
entry maps on its own.

The AI section moved between Kong versions, and every shape is read:
- 3.6 and 3.7: `ai["ai-proxy"]` (keyed by plugin name) with `meta`, `usage.prompt_token` /
  `completion_token` (singular) and `payload.response`; the request body at `ai.payload.request`;
- 3.8: `ai["ai-proxy"]` or `ai["ai-proxy-advanced"]` with `usage.prompt_tokens` /
  `completion_tokens` and both bodies under its `payload`;
- 3.9 on: `ai.proxy.meta`, `ai.proxy.usage` (3.11 adds `completion_tokens_details`) and
  `ai.proxy.payload.request` / `response`.
An entry without one (a route without ai-proxy, a request refused before it ran: 401, 429 from
rate limiting) is rejected as NOT_AN_INFERENCE: it names no model.

The event id is Kong's request id (`request.id`, Kong 3.5 on; else the `X-Kong-Request-Id`
header, or the correlation-id plugin's header). The account is the first present of configurable
paths into the entry, by default the consumer's custom_id, then username, then id.
docs/adapters.md has the field table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from detectors.adapters import native
from detectors.adapters.base import (
    MISSING_FIELD,
    NOT_AN_INFERENCE,
    NOT_AN_OBJECT,
    Adapter,
    Mapped,
    RecordError,
)
from detectors.adapters.fields import (
    OPENAI_PARAMETERS,
    as_count,
    as_float,
    as_id,
    as_int,
    as_str,
    content_text,
    first_address,
    map_each,
    read_parameters,
    required_str,
    required_timestamp,
    split_messages,
    string_list,
)

DEFAULT_ACCOUNT_FIELDS = ("consumer.custom_id", "consumer.username", "consumer.id")
# Where Kong's request id is when the entry has no `request.id` (before 3.5): the response
# header Kong adds, then the correlation-id plugin's default header, then a common one
REQUEST_ID_HEADERS = (
    ("response", "x-kong-request-id"),
    ("request", "x-kong-request-id"),
    ("request", "kong-request-id"),
    ("request", "x-request-id"),
)
# The AI section by Kong version: `proxy` (3.9 on), else by plugin name (3.6 to 3.8)
AI_SECTIONS = ("proxy", "ai-proxy", "ai-proxy-advanced")
UNSPECIFIED = "UNSPECIFIED"  # Kong's placeholder when it did not resolve the model
# The API by the end of the request path (Kong's llm/v1/* route types use the OpenAI paths)
PATH_ENDPOINTS = (
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
    ("/embeddings", "embeddings"),
    ("/messages", "messages"),
    ("/responses", "responses"),
)
# v1 usage field, Kong's statistics (3.6 spells them in the singular), the logged response's
TOKEN_FIELDS = (
    ("input_tokens", ("prompt_tokens", "prompt_token"), ("prompt_tokens", "input_tokens")),
    (
        "output_tokens",
        ("completion_tokens", "completion_token"),
        ("completion_tokens", "output_tokens"),
    ),
)


def kong_adapter(
    account_fields: Sequence[str] = DEFAULT_ACCOUNT_FIELDS, compiled: bool = True
) -> Adapter:
    """The adapter for Kong log entries; `account_fields` are dotted paths into the entry
    (`consumer.custom_id`, `request.headers.x-account-id`), the first present is the account.
    With `compiled`, payloads go to the compiled mapper first where it is installed
    (detectors/adapters/native.py): the same events, faster."""
    paths = tuple(tuple(field.split(".")) for field in account_fields)
    if not paths:
        raise ValueError("at least one account field is needed")
    names = ", ".join(account_fields)
    fast = native.kong_mapper(account_fields) if compiled else None

    def adapt(payload: bytes) -> Mapped:
        return map_each(payload, lambda record: _event(record, paths, names))

    return native.compiled_first(fast, adapt)


def _ai_section(ai: dict[str, Any]) -> dict[str, Any] | None:
    """The AI proxy's statistics: `ai.proxy`, else the one keyed by the plugin's name."""
    for name in AI_SECTIONS:
        section = ai.get(name)
        if type(section) is dict and type(section.get("meta")) is dict:
            return section
    for section in ai.values():  # another plugin name (a custom or newer AI proxy plugin)
        if (
            type(section) is dict
            and type(_mapping(section.get("meta")).get("request_model")) is str
        ):
            return section
    return None


def _event(record: Any, paths: tuple[tuple[str, ...], ...], names: str) -> dict[str, Any]:
    # Written for speed, as it runs for every request a gateway logs: orjson makes plain
    # dicts (exact type checks, cheaper than isinstance against Mapping), and optional fields
    # are set only when they read
    if type(record) is not dict:
        raise RecordError(NOT_AN_OBJECT, "the entry is not a JSON object")
    get = record.get
    ai = _mapping(get("ai"))
    section = _ai_section(ai)
    if section is None:
        raise RecordError(NOT_AN_INFERENCE, "no AI proxy statistics (ai.proxy or ai.<plugin>)")
    request = _mapping(get("request"))
    event_id = required_str(request.get("id") or _request_id_header(record), "request.id")
    started = get("started_at")
    started_ms = as_float(started)
    timestamp = required_timestamp(
        None if started_ms is None else started_ms / 1000.0, "started_at", started is not None
    )
    account = _account(record, paths, names)
    meta = _mapping(section.get("meta"))
    bodies = _mapping(section.get("payload"))
    shared = _mapping(ai.get("payload"))  # Kong 3.6 and 3.7 log the request body here
    body = _json_object(bodies.get("request") or shared.get("request"))
    answer = _json_object(bodies.get("response") or shared.get("response"))
    model = meta.get("request_model")
    if not model or model == UNSPECIFIED:
        model = body.get("model") or meta.get("response_model")
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "timestamp": timestamp,
        "account_id": account,
        "model": required_str(model, "ai.proxy.meta.request_model"),
    }
    api_key = as_id(_mapping(get("authenticated_entity")).get("id"))  # the credential
    if api_key is not None:
        event["api_key_id"] = api_key
    endpoint = _endpoint(request.get("uri"), body)
    if endpoint is not None:
        event["endpoint"] = endpoint
    client = {}
    if (ip := first_address(get("client_ip"))) is not None:
        client["ip"] = ip
    headers = request.get("headers")
    agent = as_str(_header(headers, "user-agent")) if type(headers) is dict else None
    if agent is not None:
        client["user_agent"] = agent
    if client:
        event["client"] = client
    if body and (fields := _request(body, endpoint)):
        event["request"] = fields
    response: dict[str, Any] = {}
    if (status := as_int(_mapping(get("response")).get("status"))) is not None:
        response["status"] = status
    if (finish := as_id(_finish_reason(answer))) is not None:
        response["finish_reason"] = finish
    latency = as_float(_mapping(get("latencies")).get("request"))
    if latency is None:
        latency = as_float(meta.get("llm_latency"))
    if latency is not None:
        response["latency_ms"] = latency
    if response:
        event["response"] = response
    if usage := _usage(_mapping(section.get("usage")), _mapping(answer.get("usage"))):
        event["usage"] = usage
    return event


def _usage(stats: dict[str, Any], logged: dict[str, Any]) -> dict[str, int]:
    """Kong's statistics first (3.6 spells them in the singular), else the logged response's."""
    usage = {}
    for name, stat_keys, logged_keys in TOKEN_FIELDS:
        value = _first(stats, *stat_keys)
        if value is None:
            value = _first(logged, *logged_keys)
        if value is not None and (count := as_count(value)) is not None:
            usage[name] = count
    value = _mapping(stats.get("completion_tokens_details")).get("reasoning_tokens")
    if value is None:
        value = _mapping(logged.get("completion_tokens_details")).get("reasoning_tokens")
    if value is not None and (count := as_count(value)) is not None:
        usage["reasoning_tokens"] = count
    return usage


_EMPTY: dict[str, Any] = {}  # read only: what a missing or non-object level reads as


def _mapping(value: Any) -> dict[str, Any]:
    return value if type(value) is dict else _EMPTY


def _account(record: dict[str, Any], paths: tuple[tuple[str, ...], ...], names: str) -> str:
    for path in paths:
        value: Any = record
        for key in path:
            value = _mapping(value).get(key)
        if value is not None and value != "":
            return required_str(value, "the account field")
    raise RecordError(MISSING_FIELD, f"none of {names} is present")


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _header(headers: dict[str, Any], name: str) -> Any:
    """A header's value; Kong logs a repeated header as a list of its values."""
    value = headers.get(name)
    if type(value) is list:
        return value[0] if value else None
    return value


def _request_id_header(record: dict[str, Any]) -> Any:
    for where, name in REQUEST_ID_HEADERS:
        value = _header(_mapping(_mapping(record.get(where)).get("headers")), name)
        if value:
            return value
    return None


def _json_object(value: Any) -> dict[str, Any]:
    """A logged body as an object: Kong logs the raw body, a JSON string (a streamed response
    is server-sent events, not JSON: it reads as nothing)."""
    if type(value) is dict:
        return value
    if type(value) is str and value[:1] == "{":
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return _EMPTY
        return _mapping(parsed)
    return _EMPTY


def _endpoint(uri: Any, body: dict[str, Any]) -> str | None:
    if type(uri) is str:
        path = uri.partition("?")[0].rstrip("/")
        for suffix, endpoint in PATH_ENDPOINTS:
            if path.endswith(suffix):
                return endpoint
    # A route with its own path (Kong's route type decides the API): the body's shape tells
    if "messages" in body:
        return "chat"
    if "prompt" in body:
        return "completions"
    return None


def _request(body: dict[str, Any], endpoint: str | None) -> dict[str, Any]:
    """The v1 request fields of an OpenAI-format body (Kong's default llm_format); the
    Anthropic (`system`, `stop_sequences`) and Responses (`input`, `instructions`) spellings
    are read too. An embeddings `input` is not a prompt: it is left out."""
    get = body.get
    messages, system = _messages(get("messages"))
    given = get("input")
    if endpoint == "responses" and type(given) is list:
        messages, system = _messages(given)
    elif endpoint == "responses" and type(given) is str:
        messages = [{"role": "user", "content": given}]
    for extra in (get("system"), get("instructions")):
        if extra is not None and (text := content_text(extra)):
            system = f"{system}\n{text}" if system else text
    request: dict[str, Any] = {}
    if system is not None:
        request["system"] = system
    if messages is not None:
        request["messages"] = messages
    prompt = get("prompt")
    if type(prompt) is list:
        prompt = "\n".join(p for p in prompt if type(p) is str) or None
    if type(prompt) is str:
        request["prompt"] = prompt
    read_parameters(body, OPENAI_PARAMETERS, request)  # max_tokens, stop, tools: 2 names each
    limit = _first(body, "max_completion_tokens", "max_tokens", "max_output_tokens")
    if limit is not None and (limit := as_count(limit)) is not None:
        request["max_tokens"] = limit
    stop = _first(body, "stop", "stop_sequences")
    if stop is not None and (stop := string_list(stop)) is not None:
        request["stop"] = stop
    tools = get("tools", get("functions"))
    if type(tools) is list:
        request["tools"] = len(tools)
    return request


def _messages(value: Any) -> tuple[list[dict[str, str]] | None, str | None]:
    """(chat messages, system prompt) of an OpenAI- or Anthropic-format message list."""
    if type(value) is not list:
        return None, None
    system: list[str] = []
    messages = split_messages(value, _content, system)
    return messages or None, "\n".join(system) or None


def _content(message: dict[str, Any]) -> str | None:
    return content_text(message.get("content"))


def _finish_reason(answer: dict[str, Any]) -> Any:
    choices = answer.get("choices")
    if type(choices) is list and choices:
        return _mapping(choices[0]).get("finish_reason")
    return answer.get("stop_reason")  # an Anthropic-format response
