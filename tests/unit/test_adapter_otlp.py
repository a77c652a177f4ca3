"""OpenTelemetry GenAI spans in OTLP/JSON (the Collector's Kafka exporter with
`encoding: otlp_json`, or an OTLP/HTTP JSON body) map to inference events v1: one event per
GenAI inference span, with the account and client taken from the span's ancestors when the
gateway put them there; other spans are context, not records."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.adapters.base import (
    BAD_VALUE,
    MISSING_FIELD,
    NOT_AN_INFERENCE,
    NOT_AN_OBJECT,
    NOT_JSON,
    WRONG_TYPE,
)
from detectors.adapters.otlp_json import NOT_INFERENCE, otlp_json_adapter
from detectors.decode import decode_event, parse_timestamp
from streams.sim.scenarios import simulate
from tests.adapter_checks import FIXTURES, assert_valid_event, replace_anywhere

GATEWAY = (FIXTURES / "otlp" / "gateway_export.json").read_bytes()
DEPRECATED = (FIXTURES / "otlp" / "deprecated_attributes.json").read_bytes()
STRUCTURED = (FIXTURES / "otlp" / "structured_messages.json").read_bytes()
adapt = otlp_json_adapter()


def spans_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for group in request["resourceSpans"]
        for scope in group["scopeSpans"]
        for span in scope["spans"]
    ]


def genai_span(request: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in spans_of(request) if s["name"].startswith("chat"))


def set_attribute(span: dict[str, Any], key: str, value: dict[str, Any] | None) -> None:
    span["attributes"] = [a for a in span["attributes"] if a["key"] != key]
    if value is not None:
        span["attributes"].append({"key": key, "value": value})


def test_a_gateway_export_maps_its_genai_span_with_the_server_span_context() -> None:
    mapped = adapt(GATEWAY)
    # The server span, the Redis call and the tool execution are context: no event, no rejection
    assert mapped.rejected == []
    [event] = mapped.events
    assert_valid_event(event)
    assert event["event_id"] == "5b8efff798038103d269b633813fc60c-0b7e5a4f3c2d1e10"
    assert event["timestamp"] == 1772272800.13  # startTimeUnixNano, an int64 string
    assert event["account_id"] == "acct-research-7"  # enduser.id of the parent SERVER span
    assert (event["model"], event["endpoint"]) == ("frontier-large", "chat")  # requested model
    assert event["conversation_id"] == "conv-5b1d"
    assert event["client"] == {"ip": "203.0.113.41", "user_agent": "OpenAI/Python 1.54.0"}
    assert event["request"]["system"] == "You are a patient arithmetic tutor."
    assert event["request"]["messages"] == [
        {"role": "user", "content": "What is 17 times 23?"},
        {"role": "assistant", "content": "17 times 23 is 391."},  # the tool call is not text
        {"role": "user", "content": "Show every intermediate step."},
    ]
    assert event["request"] | {"system": None, "messages": None} == {
        "system": None, "messages": None, "temperature": 0.7, "top_p": 0.95, "max_tokens": 2048,
        "n": 2, "seed": 42, "stop": ["###", "END"], "stream": False, "tools": 2,
    }  # fmt: skip
    # The status the client got (the server span's); the first finish reason; end - start
    assert event["response"] == {"status": 200, "finish_reason": "length", "latency_ms": 3375.0}
    assert event["usage"] == {"input_tokens": 312, "output_tokens": 2048, "reasoning_tokens": 1536}


def test_deprecated_attribute_names_and_per_message_events_map() -> None:
    mapped = adapt(DEPRECATED)
    assert mapped.rejected == []
    old, openllmetry = mapped.events
    for event in mapped.events:
        assert_valid_event(event)
    # gen_ai.system alone marks a GenAI span; no operation name: no endpoint
    assert "endpoint" not in old
    assert (old["account_id"], old["model"]) == ("acct-legacy-3", "frontier-small")
    assert old["timestamp"] == 1772276400.0  # int64 sent as a JSON number: accepted
    assert old["client"] == {"ip": "198.51.100.9", "user_agent": "curl/8.5.0"}  # net.peer.ip
    assert old["request"] == {
        "system": "Answer in one word.",  # the gen_ai.system.message event
        "messages": [{"role": "user", "content": "Which planet is largest?"}],
        "temperature": 1.0,  # an intValue where a double is meant
        "seed": 7,  # gen_ai.openai.request.seed
    }
    assert old["response"] == {"status": 200, "finish_reason": "stop", "latency_ms": 850.0}
    assert old["usage"] == {"input_tokens": 57, "output_tokens": 9}  # prompt/completion_tokens
    # OpenLLMetry's indexed prompt attributes; the account from the resource's user.id; an
    # error span without an HTTP status has none
    assert openllmetry["account_id"] == "acct-resource-9"
    assert openllmetry["request"] == {
        "system": "Reply tersely.",
        "messages": [{"role": "user", "content": "Name a prime above 100."}],
        "max_tokens": 1024,
    }
    assert openllmetry["response"] == {"finish_reason": "end_turn", "latency_ms": 2500.0}


def test_structured_messages_and_a_half_bad_export() -> None:
    mapped = adapt(STRUCTURED)
    embedding, chat = mapped.events
    for event in mapped.events:
        assert_valid_event(event)
    # Parent SERVER span in another resource of the same export (same traceId): its account,
    # the first address of its X-Forwarded-For-like http.client_ip, its status
    assert (embedding["account_id"], embedding["endpoint"]) == ("acct-embed-2", "embeddings")
    assert embedding["client"] == {"ip": "192.0.2.77"}
    assert embedding["response"] == {"status": 200, "latency_ms": 50.0}
    assert embedding["usage"] == {"input_tokens": 128}
    # AnyValue arrays and kvlists; a blob part (base64 content) is not text
    assert chat["account_id"] == "acct-struct-5"
    assert chat["request"] == {
        "system": "You grade essays.\nUse a 1-10 scale.",
        "messages": [{"role": "user", "content": "Grade this essay on tides."}],
        "max_tokens": 4096,
        "tools": 1,
    }
    # The span without an account anywhere is rejected alone, at its position in the export
    [rejected] = mapped.rejected
    assert (rejected.index, rejected.reason) == (3, MISSING_FIELD)
    assert "enduser.id" in rejected.detail


def test_the_account_attributes_and_their_order_are_configurable() -> None:
    by_user = otlp_json_adapter(["user.id"])(STRUCTURED)
    assert [e["account_id"] for e in by_user.events] == ["acct-struct-5"]
    assert [r.index for r in by_user.rejected] == [1, 3]
    # Nearest first: the span's own attributes are read before its ancestors' and resource's
    old = otlp_json_adapter(["user.id", "enduser.id"])(DEPRECATED).events[0]
    assert old["account_id"] == "acct-legacy-3"
    with pytest.raises(ValueError):
        otlp_json_adapter([])


def test_the_client_is_read_from_the_resource_when_no_span_has_it() -> None:
    """An application exporting its own GenAI spans (no gateway SERVER span) may describe its
    caller on the resource, as it may the account; a span's own value still comes first."""
    event = orjson.loads(next(simulate("benign", hours=0.1, seed=3).lines()))
    event["client"] = {"ip": "198.51.100.4", "user_agent": "example-sdk/1.2"}
    export = as_otlp_export([event])
    client_keys = {"client.address", "user_agent.original"}
    server = export["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    moved = [a for a in server["attributes"] if a["key"] in client_keys]
    assert len(moved) == 2
    server["attributes"] = [a for a in server["attributes"] if a["key"] not in client_keys]
    export["resourceSpans"][0]["resource"]["attributes"] += moved
    (mapped,) = adapt(orjson.dumps(export)).events
    assert mapped["client"] == event["client"]
    server["attributes"].append({"key": "client.address", "value": {"stringValue": "192.0.2.1"}})
    (mapped,) = adapt(orjson.dumps(export)).events
    assert mapped["client"] == {**event["client"], "ip": "192.0.2.1"}


def test_litellms_redaction_in_a_span_is_no_prompt_text() -> None:
    """LiteLLM with message logging off records one user message reading
    "redacted-by-litellm": no text (every redacted call would share it), the turn kept."""
    request = orjson.loads(GATEWAY)
    span = genai_span(request)
    redacted = [{"role": "user", "parts": [{"type": "text", "content": "redacted-by-litellm"}]}]
    set_attribute(span, "gen_ai.input.messages", {"stringValue": orjson.dumps(redacted).decode()})
    set_attribute(span, "gen_ai.system_instructions", None)
    (event,) = adapt(orjson.dumps(request)).events
    assert event["request"]["messages"] == [{"role": "user", "content": ""}]
    indexed = [
        ("gen_ai.prompt.0.role", "system"),
        ("gen_ai.prompt.0.content", "redacted-by-litellm"),
        ("gen_ai.prompt.1.role", "user"),
        ("gen_ai.prompt.1.content", "redacted-by-litellm"),
    ]
    set_attribute(span, "gen_ai.input.messages", None)
    for key, text in indexed:
        set_attribute(span, key, {"stringValue": text})
    (event,) = adapt(orjson.dumps(request)).events
    assert "system" not in event["request"]
    assert event["request"]["messages"] == [{"role": "user", "content": ""}]


def test_the_event_id_is_stable_and_unique_per_span() -> None:
    assert adapt(GATEWAY).events == adapt(GATEWAY).events  # a redelivered export
    ids = [e["event_id"] for e in adapt(DEPRECATED).events + adapt(STRUCTURED).events]
    assert len(set(ids)) == len(ids)
    # Without span ids (not valid OTLP, but seen): the provider's response id
    request = orjson.loads(GATEWAY)
    del genai_span(request)["spanId"]
    [event] = adapt(orjson.dumps(request)).events
    assert event["event_id"] == "chatcmpl-9f2c41"


@pytest.mark.parametrize(
    ("start", "reason"),
    [(None, MISSING_FIELD), ("0", MISSING_FIELD), ("soon", WRONG_TYPE), ("-5", BAD_VALUE)],
)
def test_a_span_without_a_usable_start_time_is_rejected(start: Any, reason: str) -> None:
    request = orjson.loads(GATEWAY)
    span = genai_span(request)
    span.pop("startTimeUnixNano")
    if start is not None:
        span["startTimeUnixNano"] = start
    [rejected] = adapt(orjson.dumps(request)).rejected
    assert (rejected.index, rejected.reason) == (1, reason)


def test_a_span_without_a_model_is_rejected() -> None:
    request = orjson.loads(GATEWAY)
    set_attribute(genai_span(request), "gen_ai.request.model", None)
    set_attribute(genai_span(request), "gen_ai.response.model", None)
    [rejected] = adapt(orjson.dumps(request)).rejected
    assert (rejected.reason, rejected.detail) == (MISSING_FIELD, "gen_ai.request.model is missing")


def test_the_status_is_the_server_spans_when_there_is_one() -> None:
    request = orjson.loads(GATEWAY)
    span = genai_span(request)
    set_attribute(span, "http.response.status_code", {"intValue": "502"})
    assert adapt(orjson.dumps(request)).events[0]["response"]["status"] == 200
    set_attribute(spans_of(request)[0], "http.response.status_code", None)  # none on the server
    assert adapt(orjson.dumps(request)).events[0]["response"]["status"] == 502


def test_payloads_without_an_inference_span_are_one_rejection() -> None:
    request = orjson.loads(GATEWAY)
    scopes = request["resourceSpans"][0]["scopeSpans"]
    scopes[1]["spans"] = scopes[1]["spans"][1:]  # only the execute_tool span is left
    for payload in (orjson.dumps(request), b"{}", b'{"resourceLogs": []}'):
        rejected = adapt(payload).rejected
        assert [(r.index, r.reason) for r in rejected] == [(0, NOT_AN_INFERENCE)]
    assert adapt(b"[1]").rejected[0].reason == NOT_AN_OBJECT
    assert adapt(b'{"resourceSpans": 3}').rejected[0].reason == WRONG_TYPE
    assert adapt(b"\xff\xfe garbage").rejected[0].reason == NOT_JSON


def test_a_parent_cycle_ends() -> None:
    request = orjson.loads(GATEWAY)
    server, chat = spans_of(request)[:2]
    server["parentSpanId"] = chat["spanId"]  # a hostile or broken export
    server["attributes"] = []
    [rejected] = adapt(orjson.dumps(request)).rejected
    assert rejected.reason == MISSING_FIELD


# Random exports: GenAI spans with every optional attribute or none, any AnyValue type,
# int64 as strings or numbers, parent links within a few ids (cycles included)
SENTINEL = "prompt-text-sentinel"
texts = st.text(max_size=12)
int64 = st.integers(-(2**63), 2**63 - 1)
scalar_values = st.one_of(
    st.builds(lambda v: {"stringValue": v}, texts),
    st.builds(lambda v: {"intValue": v}, st.one_of(int64.map(str), int64, texts)),
    st.builds(
        lambda v: {"doubleValue": v},
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["NaN"])),
    ),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.just({}),
)
any_values = st.recursive(
    scalar_values,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda pairs: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in pairs]}},
            st.lists(st.tuples(st.sampled_from(["role", "parts", "type", "content"]), inner)),
        ),
    ),
    max_leaves=6,
)
text_part = st.just({"kvlistValue": {"values": [
    {"key": "type", "value": {"stringValue": "text"}},
    {"key": "content", "value": {"stringValue": SENTINEL}},
]}})  # fmt: skip
message = st.builds(
    lambda role, parts: {"kvlistValue": {"values": [
        {"key": "role", "value": {"stringValue": role}},
        {"key": "parts", "value": {"arrayValue": {"values": parts}}},
    ]}},
    st.sampled_from(["user", "assistant", "system", "tool"]),
    st.lists(st.one_of(text_part, any_values), max_size=2),
)  # fmt: skip
ATTRIBUTE_KEYS = [
    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.provider.name", "gen_ai.system",
    "gen_ai.request.max_tokens", "gen_ai.request.temperature", "gen_ai.request.top_p",
    "gen_ai.request.seed", "gen_ai.request.stop_sequences", "gen_ai.request.choice.count",
    "gen_ai.request.stream", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens", "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.conversation.id",
    "gen_ai.tool.definitions", "gen_ai.system_instructions", "enduser.id", "user.id",
    "client.address", "user_agent.original", "http.response.status_code", "gen_ai.prompt.0.role",
    "gen_ai.prompt.0.content", "other.key",
]  # fmt: skip
attribute = st.one_of(
    st.tuples(st.sampled_from(ATTRIBUTE_KEYS), any_values),
    st.tuples(
        st.just("gen_ai.operation.name"),
        st.sampled_from(["chat", "embeddings", "execute_tool", "invoke_agent", "custom_op"]).map(
            lambda op: {"stringValue": op}
        ),
    ),
    st.tuples(st.just("gen_ai.input.messages"), st.lists(message, max_size=3).map(
        lambda ms: {"arrayValue": {"values": ms}}
    )),
    st.tuples(st.just("gen_ai.input.messages"), st.just({"stringValue": '[{"role": "user"}]'})),
)  # fmt: skip
ids = st.sampled_from(["a1", "b2", "c3", "d4"])
times = st.one_of(int64.map(str), int64, st.none(), texts, st.floats(allow_nan=False))
events = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["gen_ai.user.message", "gen_ai.system.message", "log"]),
            "attributes": st.lists(
                st.tuples(st.sampled_from(["content", "role"]), any_values).map(
                    lambda kv: {"key": kv[0], "value": kv[1]}
                ),
                max_size=2,
            ),
        }
    ),
    max_size=2,
)
spans = st.fixed_dictionaries(
    {"attributes": st.lists(attribute, max_size=8).map(
        lambda pairs: [{"key": k, "value": v} for k, v in pairs]
    )},
    optional={
        "traceId": st.sampled_from(["t1", "t2"]),
        "spanId": ids,
        "parentSpanId": ids,
        "kind": st.sampled_from([1, 2, 3, "SPAN_KIND_SERVER"]),
        "startTimeUnixNano": times,
        "endTimeUnixNano": times,
        "events": events,
    },
)  # fmt: skip


def well_formed(span: dict[str, Any], start: int, model: str, account: str) -> dict[str, Any]:
    """The span with what an event needs: a start time, a model and an account (last: the
    last of a repeated attribute key wins)."""
    span["startTimeUnixNano"] = str(start)
    span["attributes"] += [
        {"key": "gen_ai.request.model", "value": {"stringValue": model}},
        {"key": "enduser.id", "value": {"stringValue": account}},
    ]
    return span


well_formed_spans = st.builds(
    well_formed, spans, st.integers(1, 2**63 - 1), st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=12),
)  # fmt: skip
exports = st.lists(
    st.tuples(
        st.lists(attribute, max_size=3),
        st.lists(st.lists(st.one_of(spans, well_formed_spans), max_size=4), max_size=2),
    ),
    min_size=1,
    max_size=2,
).map(
    lambda groups: {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": k, "value": v} for k, v in resource]},
                "scopeSpans": [{"scope": {"name": "s"}, "spans": scope} for scope in scopes],
            }
            for resource, scopes in groups
        ]
    }
)
GENAI_KEYS = {"gen_ai.operation.name", "gen_ai.request.model", "gen_ai.provider.name",
              "gen_ai.system"}  # fmt: skip


def inference_spans(export: dict[str, Any]) -> int:
    count = 0
    for group in export["resourceSpans"]:
        for scope in group["scopeSpans"]:
            for span in scope["spans"]:
                keys = {a["key"] for a in span["attributes"]}
                operations = [
                    a["value"]["stringValue"]
                    for a in span["attributes"]
                    if a["key"] == "gen_ai.operation.name"
                ]
                if keys & GENAI_KEYS and not (operations and operations[-1] in NOT_INFERENCE):
                    count += 1
    return count


@settings(max_examples=300, deadline=None)
@given(exports)
def test_every_inference_span_maps_to_a_valid_event_or_is_rejected_once(
    export: dict[str, Any],
) -> None:
    mapped = adapt(orjson.dumps(export))
    expected = inference_spans(export)
    if expected:
        assert len(mapped.events) + len(mapped.rejected) == expected
    else:
        assert mapped.events == []
        assert [r.reason for r in mapped.rejected] == [NOT_AN_INFERENCE]
    for event in mapped.events:
        assert_valid_event(event)
    for rejected in mapped.rejected:
        assert SENTINEL not in rejected.detail


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_rejected_never_raised(payload: bytes) -> None:
    mapped = adapt(payload)
    assert mapped.events == [] and len(mapped.rejected) == 1


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), int64, texts, st.floats(allow_nan=False)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["key", "value", "x"]), inner)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_an_export_is_rejected_never_raised(data: st.DataObject) -> None:
    """Every field of the real export, replaced in turn by arbitrary JSON."""
    request = orjson.loads(GATEWAY)
    replace_anywhere(request, data, json_values)
    mapped = adapt(orjson.dumps(request))
    for event in mapped.events:
        assert_valid_event(event)


OPERATIONS = {"chat": "chat", "completions": "text_completion", "embeddings": "embeddings"}


def any_value(value: Any) -> dict[str, Any]:
    """A plain value as an OTLP/JSON AnyValue (int64 as a decimal string)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": str(value)}


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items() if v is not None]


def as_otlp_export(
    events: list[dict[str, Any]], completions: list[str] | None = None
) -> dict[str, Any]:
    """Simulated events v1 as a gateway instrumented with the GenAI semantic conventions would
    export those calls: per call, an HTTP SERVER span with who called and a CLIENT chat span
    (its child) with the call, message content captured as JSON strings (the output messages
    too where `completions` are given)."""
    servers, calls = [], []
    for i, event in enumerate(events):
        request, response = event.get("request") or {}, event.get("response") or {}
        client, usage = event.get("client") or {}, event.get("usage") or {}
        trace_id = hashlib.blake2b(event["event_id"].encode(), digest_size=16).hexdigest()
        start = round(parse_timestamp(event["timestamp"]) * 1e6) * 1000
        end = start + round(response.get("latency_ms", 800) * 1e6)
        servers.append({
            "traceId": trace_id, "spanId": trace_id[:16], "name": "POST /v1/chat/completions",
            "kind": 2, "startTimeUnixNano": str(start - 2_000_000), "endTimeUnixNano": str(end),
            "attributes": key_values({
                "enduser.id": event["account_id"], "client.address": client.get("ip"),
                "user_agent.original": client.get("user_agent"),
                "http.response.status_code": response.get("status", 200),
            }),
        })  # fmt: skip
        messages = [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
                    for m in request.get("messages") or []]  # fmt: skip
        system = request.get("system")
        tools = request.get("tools")
        finish = response.get("finish_reason", "stop")
        output = None
        if completions is not None:
            part = {"type": "text", "content": completions[i]}
            output = [{"role": "assistant", "parts": [part], "finish_reason": finish}]
        calls.append({
            "traceId": trace_id, "spanId": trace_id[16:], "parentSpanId": trace_id[:16],
            "name": f"chat {event['model']}", "kind": 3,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
            "attributes": key_values({
                "gen_ai.operation.name": OPERATIONS.get(event.get("endpoint") or "chat", "chat"),
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": event["model"],
                "gen_ai.conversation.id": event.get("conversation_id"),
                "gen_ai.request.temperature": request.get("temperature"),
                "gen_ai.request.top_p": request.get("top_p"),
                "gen_ai.request.max_tokens": request.get("max_tokens"),
                "gen_ai.request.choice.count": request.get("n"),
                "gen_ai.request.seed": request.get("seed"),
                "gen_ai.request.stop_sequences": request.get("stop"),
                "gen_ai.request.stream": request.get("stream"),
                "gen_ai.system_instructions": (
                    orjson.dumps([{"type": "text", "content": system}]).decode()
                    if system else None
                ),
                "gen_ai.input.messages": orjson.dumps(messages).decode() if messages else None,
                "gen_ai.tool.definitions": (
                    orjson.dumps([{"type": "function", "name": f"tool_{i}"} for i in range(tools)])
                    .decode() if tools else None
                ),
                "gen_ai.output.messages": orjson.dumps(output).decode() if output else None,
                "gen_ai.response.finish_reasons": [finish],
                "gen_ai.usage.input_tokens": usage.get("input_tokens"),
                "gen_ai.usage.output_tokens": usage.get("output_tokens"),
                "gen_ai.usage.reasoning.output_tokens": usage.get("reasoning_tokens"),
            }),
        })  # fmt: skip
    return {
        "resourceSpans": [{
            "resource": {"attributes": key_values({"service.name": "ai-gateway"})},
            "scopeSpans": [{"scope": {"name": "gateway.http"}, "spans": servers},
                           {"scope": {"name": "gateway.genai"}, "spans": calls}],
        }]
    }  # fmt: skip


def carried(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of an event v1 that GenAI spans carry, as the decoder reads them."""
    decoded = decode_event(orjson.dumps(event))
    r = decoded.request
    return {
        "event": (decoded.timestamp, decoded.account_id, decoded.model, decoded.endpoint,
                  decoded.conversation_id),
        "client": (decoded.client.ip, decoded.client.user_agent),
        "request": (r.system, r.messages, r.temperature, r.top_p, r.max_tokens, r.n, r.seed,
                    r.stop, r.stream, r.tools),
        "response": decoded.response,
        "usage": decoded.usage,
    }  # fmt: skip


def test_simulated_traffic_round_trips_through_genai_spans() -> None:
    """Every family of simulated traffic, exported as GenAI spans (a batch of calls per
    export, as the Collector's batch processor sends them), maps back to the fields of the
    events it came from: one event per chat span, in order."""
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=5).lines()]
    assert len(events) > 500
    for first in range(0, len(events), 50):
        batch = events[first : first + 50]
        mapped = adapt(orjson.dumps(as_otlp_export(batch)))
        assert mapped.rejected == []
        assert_valid_event(mapped.events[0])
        assert [carried(e) for e in mapped.events] == [carried(e) for e in batch]
