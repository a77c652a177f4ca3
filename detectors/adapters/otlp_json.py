"""OpenTelemetry GenAI spans, as OTLP/JSON, to inference events v1.

The payload is one `ExportTraceServiceRequest` in the OTLP/JSON encoding: what the
OpenTelemetry Collector's Kafka exporter writes with `encoding: otlp_json` (one request per
message), and the body of an OTLP/HTTP `POST /v1/traces` with `Content-Type: application/json`.
The encoding's rules (opentelemetry-proto, docs/specification.md, "JSON Protobuf Encoding"):
lowerCamelCase keys, 64-bit integers as decimal strings (numbers are accepted too), trace and
span ids in hex, enums as integers, attribute values as `AnyValue` objects, unknown fields
ignored.

Each GenAI inference span (semantic conventions, gen-ai-spans: one with `gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.provider.name` or the deprecated `gen_ai.system`) maps to one
event; other spans (HTTP server spans, database calls, tool executions) are context, not
records, and are skipped without a rejection. A payload without a single inference span is one
NOT_AN_INFERENCE rejection, so a topic fed the wrong signal is noticed. A rejection's index is
the span's position among all the payload's spans, in document order.

The event id is `<traceId>-<spanId>`: span ids are made by the instrumentation for every span
and are redelivered unchanged, so the id is stable across retries of the same export and unique
per call, where `gen_ai.response.id` is missing on errors and streams and comes from the
provider (it is the fallback when a span has no ids).

The account, the client address and user agent are looked up on the span, then on its ancestors
in the same payload (same traceId, following parentSpanId: the gateway's SERVER span usually
carries `enduser.id`, `client.address` and `user_agent.original`), and the account last on the
resource. A parent exported in another payload cannot be seen: docs/adapters.md shows how to
keep a trace's spans in one export (or put the account on the GenAI span itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from detectors.adapters import native
from detectors.adapters.base import (
    MISSING_FIELD,
    NOT_AN_INFERENCE,
    NOT_AN_OBJECT,
    NOT_JSON,
    WRONG_TYPE,
    Adapter,
    Mapped,
    RecordError,
    Rejected,
)
from detectors.adapters.fields import (
    as_bool,
    as_count,
    as_float,
    as_id,
    as_int,
    as_str,
    content_text,
    first_address,
    required_str,
    required_timestamp,
    split_messages,
    string_list,
)

# Who pays: semantic conventions' end-user and user ids (registry: enduser, user)
DEFAULT_ACCOUNT_KEYS = ("enduser.id", "user.id")
# Current name first, then the names older HTTP and network conventions used
CLIENT_ADDRESS_KEYS = ("client.address", "http.client_ip", "net.peer.ip", "network.peer.address")
USER_AGENT_KEYS = ("user_agent.original", "http.user_agent")
STATUS_KEYS = ("http.response.status_code", "http.status_code")
# The requested model; the answering one when an instrumentation records only that
MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
SEED_KEYS = ("gen_ai.request.seed", "gen_ai.openai.request.seed")
# Current name first, then the deprecated one, or the spelling some instrumentations use
# for reasoning tokens
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
REASONING_TOKEN_KEYS = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")
TOKEN_KEYS = (
    ("input_tokens", INPUT_TOKEN_KEYS),
    ("output_tokens", OUTPUT_TOKEN_KEYS),
    ("reasoning_tokens", REASONING_TOKEN_KEYS),
)
# An attribute that makes a span a GenAI span
GENAI_KEYS = frozenset(
    ("gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name", "gen_ai.system")
)
ENDPOINTS = {"chat": "chat", "text_completion": "completions", "embeddings": "embeddings"}
# GenAI operations that are not a call to a model: an agent or tool span around the chat
# spans would count the same call twice
NOT_INFERENCE = frozenset(
    (
        "execute_tool",
        "create_agent",
        "invoke_agent",
        "invoke_workflow",
        "retrieval",
        "plan",
        "search_memory",
        "create_memory",
        "update_memory",
        "upsert_memory",
        "delete_memory",
        "create_memory_store",
        "delete_memory_store",
    )
)
# Deprecated per-message span events (gen-ai-events before v1.37) and the role each carries
EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
SPAN_KIND_SERVER = 2
_SERVER_KINDS = (SPAN_KIND_SERVER, "SPAN_KIND_SERVER")
MAX_ANCESTORS = 32  # a parent chain is short; this bounds a cycle or a hostile payload
MAX_VALUE_DEPTH = 16  # nesting of AnyValue arrays and kvlists read (messages need 4)
MAX_INDEXED_MESSAGES = 1000  # OpenLLMetry's gen_ai.prompt.<i>.* attributes read at most
_INT64 = 2**63


def otlp_json_adapter(
    account_keys: Sequence[str] = DEFAULT_ACCOUNT_KEYS, compiled: bool = True
) -> Adapter:
    """The adapter for OTLP/JSON trace exports; the account is the first of `account_keys`
    found on the span, then on its ancestors in the payload, then on its resource. With
    `compiled`, payloads go to the compiled mapper first where it is installed
    (detectors/adapters/native.py): the same events, faster."""
    keys = tuple(account_keys)
    if not keys:
        raise ValueError("at least one account attribute is needed")
    fast = native.otlp_mapper(keys) if compiled else None

    def adapt(payload: bytes) -> Mapped:
        mapped = Mapped()
        try:
            request = orjson.loads(payload)
        except orjson.JSONDecodeError:
            mapped.rejected.append(Rejected(0, NOT_JSON, "the payload is not JSON"))
            return mapped
        if type(request) is not dict:
            mapped.rejected.append(Rejected(0, NOT_AN_OBJECT, "the payload is not a JSON object"))
            return mapped
        try:
            spans = _spans(request)
        except RecordError as error:
            mapped.rejected.append(Rejected(0, error.reason, error.detail))
            return mapped
        trace = _Trace(spans)
        inferences = 0
        for index, (span, resource) in enumerate(spans):
            attrs = _genai_attributes(span)
            if attrs is None or _operation(attrs) in NOT_INFERENCE:
                continue
            inferences += 1
            try:
                mapped.events.append(_event(span, attrs, resource, trace, keys))
            except RecordError as error:
                mapped.rejected.append(Rejected(index, error.reason, error.detail))
        if not inferences:
            mapped.rejected.append(
                Rejected(0, NOT_AN_INFERENCE, "the payload holds no GenAI inference span")
            )
        return mapped

    return native.compiled_first(fast, adapt)


# Exact type checks (`type(x) is dict`) throughout: orjson makes plain dicts, lists and strs,
# and this runs for every span of every export.


def _spans(request: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Every span of the request with its resource's raw attributes, in document order."""
    resource_spans = request.get("resourceSpans")
    if resource_spans is None:
        return []
    if type(resource_spans) is not list:
        raise RecordError(WRONG_TYPE, "resourceSpans is not a list")
    found: list[tuple[Any, Any]] = []
    for group in resource_spans:
        if type(group) is not dict:
            continue
        resource = group.get("resource")
        resource_attrs = resource.get("attributes") if type(resource) is dict else None
        # instrumentationLibrarySpans: the name before OTLP 0.15, still sent by old SDKs
        scopes = group.get("scopeSpans", group.get("instrumentationLibrarySpans"))
        if type(scopes) is not list:
            continue
        for scope in scopes:
            spans = scope.get("spans") if type(scope) is dict else None
            if type(spans) is list:
                found.extend((span, resource_attrs) for span in spans)
    return found


class _Trace:
    """The payload's spans by (traceId, spanId), indexed on first use, and the attributes of
    the ancestors looked at (several GenAI spans share one server span)."""

    def __init__(self, spans: list[tuple[Any, Any]]) -> None:
        self._spans = spans
        self._by_id: dict[tuple[str, str], dict[str, Any]] | None = None
        self._attrs: dict[int, dict[str, Any]] = {}

    def ancestors(self, span: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
        """(attributes, is a SERVER span) of the span's ancestors, nearest first."""
        trace_id = span.get("traceId")
        parent = span.get("parentSpanId")
        if not (type(trace_id) is str and type(parent) is str and parent):
            return []
        if self._by_id is None:
            self._by_id = {}
            for candidate, _ in self._spans:
                if type(candidate) is dict:
                    in_trace, span_id = candidate.get("traceId"), candidate.get("spanId")
                    if type(in_trace) is str and type(span_id) is str:
                        self._by_id[in_trace, span_id] = candidate
        found: list[tuple[dict[str, Any], bool]] = []
        own = span.get("spanId")
        seen = {own} if type(own) is str else set()
        while parent not in seen and len(found) < MAX_ANCESTORS:
            ancestor = self._by_id.get((trace_id, parent))
            if ancestor is None:
                break
            seen.add(parent)
            attrs = self._attrs.get(id(ancestor))
            if attrs is None:
                attrs = self._attrs[id(ancestor)] = _attributes(ancestor.get("attributes"))
            found.append((attrs, ancestor.get("kind") in _SERVER_KINDS))
            parent = ancestor.get("parentSpanId")
            if type(parent) is not str or not parent:
                break
        return found


def _genai_attributes(span: Any) -> dict[str, Any] | None:
    """The span's attributes if it is a GenAI span, else None (told by the keys alone: most
    spans of a trace are not GenAI spans)."""
    if type(span) is not dict:
        return None
    raw = span.get("attributes")
    if type(raw) is not list:
        return None
    for pair in raw:
        if type(pair) is dict:
            key = pair.get("key")
            if type(key) is str and key in GENAI_KEYS:
                return _attributes(raw)
    return None


def _operation(attrs: dict[str, Any]) -> str | None:
    operation = attrs.get("gen_ai.operation.name")
    return operation if type(operation) is str else None


def _attributes(raw: Any) -> dict[str, Any]:
    """A KeyValue list as a dict of plain values (the last of a repeated key wins)."""
    attrs: dict[str, Any] = {}
    if type(raw) is list:
        for pair in raw:
            if type(pair) is dict:
                key = pair.get("key")
                if type(key) is str:
                    value = pair.get("value")
                    # Most attributes are strings: read without a call
                    text = value.get("stringValue") if type(value) is dict else None
                    attrs[key] = text if type(text) is str else _value(value, 0)
    return attrs


def _value(value: Any, depth: int) -> Any:
    """An AnyValue as a plain value: str, int, float, bool, list or dict (None if empty or
    unusable). intValue is int64 as a string or a number; doubleValue may be "NaN"."""
    if type(value) is not dict:
        return None
    for kind, inner in value.items():  # one field is set; the first known one wins
        if kind == "stringValue":
            return inner if type(inner) is str else None
        if kind == "intValue":
            return _int64(inner)
        if kind == "doubleValue":
            return inner if type(inner) is float else as_float(inner)
        if kind == "boolValue":
            return inner if type(inner) is bool else None
        if kind == "arrayValue" or kind == "kvlistValue":
            items = inner.get("values") if type(inner) is dict else None
            if depth >= MAX_VALUE_DEPTH or type(items) is not list:
                return None
            if kind == "arrayValue":
                return [_value(item, depth + 1) for item in items]
            return {
                pair["key"]: _value(pair.get("value"), depth + 1)
                for pair in items
                if type(pair) is dict and type(pair.get("key")) is str
            }
    return None  # empty, or bytesValue only


def _int64(value: Any) -> int | None:
    """An int64 as OTLP/JSON sends it: a decimal string, or a number."""
    if type(value) is str:
        if len(value) > 20:
            return None
        try:
            number = int(value)
        except ValueError:
            return None
    elif type(value) is int:
        number = value
    elif type(value) is float and value.is_integer():
        number = int(value)
    else:
        return None
    return number if -_INT64 <= number < _INT64 else None


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of `keys` the attributes have (empty strings count as absent)."""
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _search(scopes: list[dict[str, Any]], keys: tuple[str, ...]) -> Any:
    """`_first` on each scope in turn (the span, then its ancestors)."""
    for attrs in scopes:
        value = _first(attrs, keys)
        if value is not None:
            return value
    return None


def _event(
    span: dict[str, Any],
    attrs: dict[str, Any],
    resource: Any,
    trace: _Trace,
    account_keys: tuple[str, ...],
) -> dict[str, Any]:
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if type(trace_id) is str and trace_id and type(span_id) is str and span_id:
        event_id = required_str(f"{trace_id}-{span_id}", "traceId-spanId")
    else:
        event_id = required_str(attrs.get("gen_ai.response.id"), "traceId/spanId")
    raw_start = span.get("startTimeUnixNano")
    start = _int64(raw_start)
    if start == 0:
        start = None  # 0 is the proto default: unset
    timestamp = required_timestamp(
        # microseconds are exact in a double: one rounding, where nanoseconds would take two
        None if start is None else start // 1000 / 1e6,
        "startTimeUnixNano",
        raw_start not in (None, 0, "0"),
    )
    model = required_str(_first(attrs, MODEL_KEYS), "gen_ai.request.model")
    ancestors = trace.ancestors(span)
    scopes = [attrs, *(ancestor for ancestor, _ in ancestors)]
    account = _search(scopes, account_keys)
    if account is None:
        account = _first(_attributes(resource), account_keys)
    if account is None:
        raise RecordError(
            MISSING_FIELD,
            f"none of {', '.join(account_keys)} on the span, its ancestors or its resource",
        )
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id,
        "timestamp": timestamp,
        "account_id": required_str(account, "the account attribute"),
        "model": model,
    }
    # Optional fields are set only when they read: this runs for every GenAI span
    operation = attrs.get("gen_ai.operation.name")
    if type(operation) is str:
        event["endpoint"] = ENDPOINTS.get(operation, "other")
    conversation = as_id(attrs.get("gen_ai.conversation.id"))
    if conversation is not None:
        event["conversation_id"] = conversation
    client = {}
    address, agent = _search(scopes, CLIENT_ADDRESS_KEYS), _search(scopes, USER_AGENT_KEYS)
    if address is None or agent is None:  # an SDK exporting its own calls: its resource
        on_resource = _attributes(resource)
        address = _first(on_resource, CLIENT_ADDRESS_KEYS) if address is None else address
        agent = _first(on_resource, USER_AGENT_KEYS) if agent is None else agent
    if (ip := first_address(address)) is not None:
        client["ip"] = ip
    if (agent := as_str(agent)) is not None:
        client["user_agent"] = agent
    if client:
        event["client"] = client
    if request := _request(attrs, span):
        event["request"] = request
    response: dict[str, Any] = {}
    if (status := as_int(_status(span, attrs, ancestors))) is not None:
        response["status"] = status
    finish = attrs.get("gen_ai.response.finish_reasons")
    if type(finish) is list:
        finish = finish[0] if finish else None
    if (finish := as_id(finish)) is not None:
        response["finish_reason"] = finish
    end = _int64(span.get("endTimeUnixNano"))
    if start is not None and end is not None and end >= start:
        response["latency_ms"] = (end - start) / 1e6
    if response:
        event["response"] = response
    usage = {}
    for name, keys in TOKEN_KEYS:
        if (count := as_count(_first(attrs, keys))) is not None:
            usage[name] = count
    if usage:
        event["usage"] = usage
    return event


def _request(attrs: dict[str, Any], span: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {}
    messages, system = _conversation(attrs, span)
    if system is not None:
        request["system"] = system
    if messages is not None:
        request["messages"] = messages
    get = attrs.get
    for name, key, read in REQUEST_ATTRIBUTES:
        value = get(key)
        if value is not None and (value := read(value)) is not None:
            request[name] = value
    if (seed := as_int(_first(attrs, SEED_KEYS))) is not None:
        request["seed"] = seed
    return request


def _tool_count(value: Any) -> int | None:
    """The number of tool definitions (a list, or its JSON string)."""
    value = _structured(value)
    return len(value) if type(value) is list else None


# v1 request field, the attribute, how it reads (seed, which has two names, is read on its own)
REQUEST_ATTRIBUTES: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "gen_ai.request.temperature", as_float),
    ("top_p", "gen_ai.request.top_p", as_float),
    ("max_tokens", "gen_ai.request.max_tokens", as_count),
    ("n", "gen_ai.request.choice.count", as_count),
    ("stop", "gen_ai.request.stop_sequences", string_list),
    ("stream", "gen_ai.request.stream", as_bool),
    ("tools", "gen_ai.tool.definitions", _tool_count),
)


def _status(
    span: dict[str, Any], attrs: dict[str, Any], ancestors: list[tuple[dict[str, Any], bool]]
) -> Any:
    """The HTTP status the client got: the server span's (the gateway's answer), else the
    GenAI span's own (the provider's answer, which a gateway usually passes on)."""
    if span.get("kind") not in _SERVER_KINDS:
        for ancestor, server in ancestors:
            if server and (status := _first(ancestor, STATUS_KEYS)) is not None:
                return status
    return _first(attrs, STATUS_KEYS)


def _structured(value: Any) -> Any:
    """A content attribute as structure: the semantic conventions allow a JSON string where an
    SDK cannot record structured attributes."""
    if type(value) is str and value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _conversation(
    attrs: dict[str, Any], span: dict[str, Any]
) -> tuple[list[dict[str, str]] | None, str | None]:
    """(chat messages, system prompt), from the first form the span uses: the
    `gen_ai.input.messages` attribute (current), the per-message span events (deprecated), or
    OpenLLMetry's indexed `gen_ai.prompt.<i>.role/content` attributes."""
    system: list[str] = []
    instructions = _structured(attrs.get("gen_ai.system_instructions"))
    if type(instructions) is str:
        system.append(instructions)  # plain text where the JSON form was meant
    elif type(instructions) is list and (text := _parts_text(instructions)) is not None:
        system.append(text)
    raw = _structured(attrs.get("gen_ai.input.messages"))
    if type(raw) is not list:
        raw = _event_messages(span.get("events")) or _indexed_messages(attrs)
    messages = split_messages(raw, _message_text, system)
    return messages or None, "\n".join(system) or None


def _message_text(message: dict[str, Any]) -> str | None:
    """A GenAI message's text: its text parts (current), or its `content` (older forms)."""
    parts = message.get("parts")
    if type(parts) is list:
        return _parts_text(parts)
    return content_text(message.get("content"))


def _parts_text(parts: list[Any]) -> str | None:
    """The text parts of a GenAI message (`{"type": "text", "content": ...}`); tool calls,
    blobs (base64 content) and files are not text the model was asked."""
    texts = [
        part["content"]
        for part in parts
        if type(part) is dict
        and part.get("type", "text") == "text"
        and type(part.get("content")) is str
    ]
    return "\n".join(texts) if texts else None


def _event_messages(events: Any) -> list[dict[str, Any]]:
    """Messages from the deprecated span events, one per message, content in a `content`
    attribute (a string, or the message's content parts)."""
    if type(events) is not list:
        return []
    messages: list[dict[str, Any]] = []
    for event in events:
        if type(event) is not dict:
            continue
        name = event.get("name")
        role = EVENT_ROLES.get(name) if type(name) is str else None
        if role is None:
            continue
        attrs = _attributes(event.get("attributes"))
        given_role = attrs.get("role")
        messages.append(
            {
                "role": given_role if type(given_role) is str else role,
                "content": attrs.get("content"),
            }
        )
    return messages


def _indexed_messages(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenLLMetry's `gen_ai.prompt.<i>.role` / `.content` attributes, in index order."""
    messages: list[dict[str, Any]] = []
    if "gen_ai.prompt.0.role" not in attrs and "gen_ai.prompt.0.content" not in attrs:
        return messages
    for index in range(MAX_INDEXED_MESSAGES):
        role = attrs.get(f"gen_ai.prompt.{index}.role")
        content = attrs.get(f"gen_ai.prompt.{index}.content")
        if role is None and content is None:
            break
        messages.append({"role": role if role is not None else "user", "content": content})
    return messages
