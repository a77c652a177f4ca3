"""Kong AI Gateway log entries (kafka-log, http-log: `kong.log.serialize()` plus the AI proxy's
statistics and logged bodies) map to inference events v1, whichever Kong version wrote them; an
entry that cannot map is rejected alone."""

from __future__ import annotations

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
from detectors.adapters.kong import kong_adapter
from detectors.decode import decode_event, parse_timestamp
from streams.sim.scenarios import simulate
from tests.adapter_checks import FIXTURES, assert_valid_event, replace_anywhere

V36 = (FIXTURES / "kong" / "ai_proxy_3_6.json").read_bytes()
V38 = (FIXTURES / "kong" / "ai_proxy_advanced_3_8.json").read_bytes()
BATCH = (FIXTURES / "kong" / "http_log_batch_3_11.json").read_bytes()
adapt = kong_adapter()
ENDPOINT_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions",
                  "embeddings": "/v1/embeddings", "messages": "/v1/messages",
                  "responses": "/v1/responses"}  # fmt: skip
BODY_PARAMETERS = ("temperature", "top_p", "max_tokens", "n", "logprobs", "top_logprobs",
                   "logit_bias", "seed", "stop", "stream")  # fmt: skip
PROOF_PROMPT = "Grade this proof and explain every step of your reasoning."


def test_a_kong_3_6_entry_maps_with_singular_token_counts() -> None:
    [event] = adapt(V36).events
    assert_valid_event(event)
    assert event["event_id"] == "e6c0b1d9a7f34c2e8b5d1a9f7c3e5b20"  # request.id
    assert event["timestamp"] == 1772272800.125  # started_at, milliseconds
    assert event["account_id"] == "acct-research-7"  # consumer.custom_id first
    assert event["api_key_id"] == "4b2c6d8e-0f1a-4c3e-9a5b-7d9f1b3d5e7a"  # the credential
    assert (event["model"], event["endpoint"]) == ("gpt-4o", "chat")  # requested, not answered
    assert event["client"] == {"ip": "203.0.113.41", "user_agent": "OpenAI/Python 1.54.0"}
    # The request body logged at ai.payload.request (3.6 and 3.7)
    assert event["request"] == {
        "system": "You are a careful grader.",
        "messages": [{"role": "user", "content": PROOF_PROMPT}],
        "temperature": 0.0, "max_tokens": 1024, "n": 1, "stream": False,
    }  # fmt: skip
    assert event["response"] == {"status": 200, "finish_reason": "length", "latency_ms": 3375.0}
    assert event["usage"] == {"input_tokens": 58, "output_tokens": 1024}  # prompt_token, ...


def test_a_kong_3_8_ai_proxy_advanced_entry_maps_its_probing_parameters() -> None:
    [event] = adapt(V38).events
    assert_valid_event(event)
    assert event["account_id"] == "probe-user"  # custom_id is null: the username
    assert event["model"] == "frontier-small"
    assert event["endpoint"] == "chat"  # a route of its own path: the body has messages
    assert event["client"] == {"ip": "198.51.100.9", "user_agent": "python-requests/2.32.3"}
    assert event["request"] == {
        "messages": [{"role": "user", "content": "The capital of France is"}],
        "max_tokens": 1, "n": 4, "logprobs": True, "top_logprobs": 20, "seed": 11,
        "logit_bias": {"9642": 5.0, "15836": -100.0}, "stop": ["\n"],
    }  # fmt: skip
    assert event["response"] == {"status": 200, "finish_reason": "length", "latency_ms": 412.0}
    assert event["usage"] == {"input_tokens": 17, "output_tokens": 1}


def test_a_kong_3_11_http_log_batch_maps_entry_by_entry() -> None:
    mapped = adapt(BATCH)
    assert [(r.index, r.reason) for r in mapped.rejected] == [
        (3, NOT_AN_INFERENCE),  # a route without ai-proxy
        (4, MISSING_FIELD),  # an anonymous request: no consumer
    ]
    full, bare, streamed = mapped.events
    for event in mapped.events:
        assert_valid_event(event)
    # ai.proxy with both bodies: a developer message is the system prompt, the assistant's
    # tool call (no text) is kept, the reasoning tokens come from completion_tokens_details
    assert (full["event_id"], full["model"]) == ("a1f3c5e7b9d24f6a8c0e2b4d6f8a0c1e", "o-reasoner")
    assert full["request"] == {
        "system": "Think carefully.",
        "messages": [
            {"role": "user", "content": "How many primes are below 50?"},
            {"role": "assistant", "content": ""},
            {"role": "tool", "content": "15"},
        ],
        "max_tokens": 2048, "temperature": 1.0, "top_p": 1.0, "seed": 3, "stream": False,
        "tools": 1,
    }  # fmt: skip
    assert full["response"] == {"status": 200, "finish_reason": "stop", "latency_ms": 3375.0}
    assert full["usage"] == {"input_tokens": 412, "output_tokens": 2048, "reasoning_tokens": 1536}
    # Statistics only (log_payloads off): no request fields; the provider's 429 passed on
    assert "request" not in bare
    assert bare["response"] == {"status": 429, "latency_ms": 95.0}
    assert bare["usage"] == {"input_tokens": 0, "output_tokens": 0}
    # A streamed completions call: prompts joined, no finish reason in server-sent events
    assert (streamed["endpoint"], streamed["account_id"]) == ("completions", "acct-writer-4")
    assert streamed["request"] == {
        "prompt": "Once upon a time\nIn a galaxy",
        "max_tokens": 120,
        "stream": True,
    }
    assert "finish_reason" not in streamed["response"]


def test_ndjson_and_single_entries_map_the_same() -> None:
    entries = orjson.loads(BATCH)
    expected = adapt(BATCH)
    ndjson = b"\n".join(orjson.dumps(e) for e in entries)
    assert adapt(ndjson) == expected
    singles = [e for entry in entries for e in adapt(orjson.dumps(entry)).events]
    assert singles == expected.events


def test_the_account_fields_are_configurable_paths() -> None:
    by_id = kong_adapter(["consumer.id"])(V38).events[0]
    assert by_id["account_id"] == "2e6a0c4b-8d3f-4f7b-8c2e-4a6b8d0f2c4e"
    by_header = kong_adapter(["request.headers.host"])(BATCH)
    assert [e["account_id"] for e in by_header.events] == ["ai.example.net"] * 4
    with pytest.raises(ValueError):
        kong_adapter([])


def test_the_request_id_falls_back_to_the_request_id_header() -> None:
    entry = orjson.loads(V36)
    del entry["request"]["id"]
    assert adapt(orjson.dumps(entry)).events[0]["event_id"] == "e6c0b1d9a7f34c2e8b5d1a9f7c3e5b20"
    del entry["response"]["headers"]["x-kong-request-id"]
    entry["request"]["headers"]["kong-request-id"] = ["corr-1#7", "corr-2#8"]  # repeated header
    assert adapt(orjson.dumps(entry)).events[0]["event_id"] == "corr-1#7"
    del entry["request"]["headers"]["kong-request-id"]
    [rejected] = adapt(orjson.dumps(entry)).rejected
    assert (rejected.reason, rejected.detail) == (MISSING_FIELD, "request.id is missing")


@pytest.mark.parametrize(
    ("started_at", "reason"),
    [(None, MISSING_FIELD), ("yesterday", WRONG_TYPE), (-1000, BAD_VALUE)],
)
def test_an_entry_without_a_usable_start_is_rejected(started_at: Any, reason: str) -> None:
    entry = orjson.loads(V36)
    entry["started_at"] = started_at
    assert adapt(orjson.dumps(entry)).rejected[0].reason == reason


def test_the_model_falls_back_to_the_body_then_the_response_model() -> None:
    entry = orjson.loads(V36)
    entry["ai"]["ai-proxy"]["meta"]["request_model"] = "UNSPECIFIED"
    assert adapt(orjson.dumps(entry)).events[0]["model"] == "gpt-4o"  # the body's model
    del entry["ai"]["payload"]
    assert adapt(orjson.dumps(entry)).events[0]["model"] == "gpt-4o-2024-05-13"
    del entry["ai"]["ai-proxy"]["meta"]["response_model"]
    [rejected] = adapt(orjson.dumps(entry)).rejected
    assert rejected.reason == MISSING_FIELD


def test_bad_payloads_and_lines_lose_only_themselves() -> None:
    good = orjson.dumps(orjson.loads(V36))
    mapped = adapt(good + b"\n{not json\n[1, 2]\n" + good)
    assert len(mapped.events) == 2
    assert [(r.index, r.reason) for r in mapped.rejected] == [(1, NOT_JSON), (2, NOT_AN_OBJECT)]
    assert adapt(b"\xff\xfe garbage").rejected[0].reason == NOT_JSON
    assert adapt(b"{}").rejected[0].reason == NOT_AN_INFERENCE


# Random entries: every field optional, of any JSON type, the AI section in each version's place
SENTINEL = "prompt-text-sentinel"
texts = st.text(max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), texts,
                    st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
values = st.one_of(scalars, st.lists(scalars, max_size=2),
                   st.dictionaries(st.text(max_size=3), scalars, max_size=2))  # fmt: skip
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.one_of(st.sampled_from(["system", "user", "assistant", "tool"]), scalars)},
        optional={
            "content": st.one_of(
                st.just(SENTINEL), values, st.just([{"type": "text", "text": SENTINEL}])
            )
        },
    ),
    max_size=3,
)
BODY_KEYS = ["model", "prompt", "temperature", "top_p", "max_tokens", "max_completion_tokens",
             "n", "logprobs", "top_logprobs", "logit_bias", "seed", "stop", "stream", "tools",
             "system", "input", "instructions"]  # fmt: skip
bodies = st.builds(
    lambda fields, chat: {**fields, **chat},
    st.dictionaries(st.sampled_from(BODY_KEYS), values),
    st.one_of(st.just({}), messages.map(lambda m: {"messages": m})),
)
logged_bodies = st.one_of(bodies.map(lambda b: orjson.dumps(b).decode()), bodies, scalars)
sections = st.fixed_dictionaries(
    {},
    optional={
        "meta": st.one_of(
            values,
            st.fixed_dictionaries({}, optional={
                "request_model": st.one_of(st.text(min_size=1, max_size=10), values),
                "response_model": values, "llm_latency": scalars,
            }),
        ),
        "usage": st.dictionaries(
            st.sampled_from(["prompt_tokens", "prompt_token", "completion_tokens",
                             "completion_token", "completion_tokens_details"]),
            st.one_of(values, st.fixed_dictionaries({"reasoning_tokens": scalars})),
        ),
        "payload": st.fixed_dictionaries({}, optional={
            "request": logged_bodies, "response": logged_bodies,
        }),
    },
)  # fmt: skip
ai = st.one_of(
    values,
    st.dictionaries(st.sampled_from(["proxy", "ai-proxy", "ai-proxy-advanced", "other", "payload"]),
                    st.one_of(sections, values)),
)  # fmt: skip
entries = st.fixed_dictionaries(
    {"ai": ai},
    optional={
        "request": st.fixed_dictionaries({}, optional={
            "id": st.one_of(st.text(min_size=1, max_size=20), scalars),
            "uri": st.one_of(st.sampled_from(["/v1/chat/completions", "/v1/responses", "/x?y"]),
                             scalars),
            "headers": st.dictionaries(
                st.sampled_from(["user-agent", "x-kong-request-id", "kong-request-id"]), values
            ),
        }),
        "response": st.fixed_dictionaries({}, optional={"status": scalars, "headers": values}),
        "started_at": st.one_of(st.integers(0, 2**53), scalars),
        "consumer": st.one_of(values, st.dictionaries(
            st.sampled_from(["custom_id", "username", "id"]),
            st.one_of(st.text(min_size=1, max_size=10), scalars),
        )),
        "client_ip": values,
        "latencies": st.dictionaries(st.sampled_from(["request", "proxy"]), scalars),
        "authenticated_entity": st.dictionaries(st.just("id"), values),
    },
)  # fmt: skip


def well_formed(
    entry: dict[str, Any],
    where: str,
    section: dict[str, Any],
    model: str,
    body: Any,
    request_id: str,
    started_at: int,
    account: str,
) -> dict[str, Any]:
    """The entry with what an event needs: an AI section naming a model, a request id, a
    start time and a consumer; and a logged request body."""
    section["meta"] = {**(section.get("meta") or {}), "request_model": model}
    section["payload"] = {**(section.get("payload") or {}), "request": body}
    entry["ai"] = {**(entry["ai"] if isinstance(entry["ai"], dict) else {}), where: section}
    entry["request"] = {**entry.get("request", {}), "id": request_id}
    entry["consumer"] = {"custom_id": account}
    entry["started_at"] = started_at
    return entry


well_formed_entries = st.builds(
    well_formed, entries, st.sampled_from(["proxy", "ai-proxy", "ai-proxy-advanced"]),
    sections.filter(lambda s: isinstance(s.get("meta", {}), dict)),
    st.text(min_size=1, max_size=10), logged_bodies, st.text(min_size=1, max_size=20),
    st.integers(0, 2**53), st.text(min_size=1, max_size=10),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(entries, well_formed_entries), min_size=1, max_size=5))
def test_every_entry_maps_to_a_valid_event_or_is_rejected_once(batch: list[Any]) -> None:
    mapped = adapt(orjson.dumps(batch))
    assert len(mapped.events) + len(mapped.rejected) == len(batch)
    for event in mapped.events:
        assert_valid_event(event)
    for rejected in mapped.rejected:
        assert SENTINEL not in rejected.detail


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_rejected_never_raised(payload: bytes) -> None:
    mapped = adapt(payload)
    for event in mapped.events:
        assert_valid_event(event)


json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["id", "meta", "x"]), inner)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_an_entry_is_rejected_never_raised(data: st.DataObject) -> None:
    """Every field of real entries, replaced in turn by arbitrary JSON."""
    batch = [*orjson.loads(BATCH), orjson.loads(V36), orjson.loads(V38)]
    replace_anywhere(batch, data, json_values)
    mapped = adapt(orjson.dumps(batch))
    assert len(mapped.events) + len(mapped.rejected) == len(batch)
    for event in mapped.events:
        assert_valid_event(event)


def as_kong(event: dict[str, Any], completion: str | None = None) -> dict[str, Any]:
    """A simulated event v1 as Kong 3.11's kafka-log would log that call (AI Proxy with
    log_statistics and log_payloads on; the response's text a short placeholder unless a
    `completion` is given)."""
    request, response = event.get("request") or {}, event.get("response") or {}
    client, usage = event.get("client") or {}, event.get("usage") or {}
    body: dict[str, Any] = {"model": event["model"]}
    body |= {key: request[key] for key in BODY_PARAMETERS if request.get(key) is not None}
    messages = [{"role": "system", "content": request["system"]}] if request.get("system") else []
    messages += request.get("messages") or []
    if messages:
        body["messages"] = messages
    if request.get("prompt"):
        body["prompt"] = request["prompt"]
    if request.get("tools"):
        body["tools"] = [{"type": "function", "function": {"name": f"tool_{i}"}}
                         for i in range(request["tools"])]  # fmt: skip
    answer = {
        "object": "chat.completion",
        "model": event["model"],
        "choices": [
            {
                "index": 0,
                "finish_reason": response.get("finish_reason", "stop"),
                "message": {"role": "assistant", "content": completion or "..."},
            }
        ],
        "usage": {
            "prompt_tokens": usage.get("input_tokens", 0),
            "completion_tokens": usage.get("output_tokens", 0),
        },
    }
    latency = response.get("latency_ms", 800)
    return {
        "request": {
            "id": event["event_id"],
            "uri": ENDPOINT_PATHS.get(event.get("endpoint") or "chat", "/v1/chat/completions"),
            "method": "POST",
            "headers": {
                "host": "ai.example.net",
                "user-agent": client.get("user_agent"),
                "content-type": "application/json",
                "authorization": "REDACTED",
            },
        },
        "response": {"status": response.get("status", 200), "headers": {}},
        "latencies": {"kong": 3, "proxy": latency, "request": latency, "receive": 0},
        "client_ip": client.get("ip"),
        "started_at": round(parse_timestamp(event["timestamp"]) * 1000),
        "consumer": {
            "id": f"uuid-{event['account_id']}",
            "username": event["account_id"],
            "custom_id": event["account_id"],
        },
        "authenticated_entity": {"id": event.get("api_key_id")},
        "ai": {
            "proxy": {
                "meta": {
                    "plugin_id": "p1",
                    "provider_name": "openai",
                    "request_model": event["model"],
                    "response_model": event["model"],
                    "llm_latency": latency,
                    "request_mode": "oneshot",
                },
                "usage": {
                    "prompt_tokens": usage.get("input_tokens", 0),
                    "completion_tokens": usage.get("output_tokens", 0),
                    "total_tokens": usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
                },
                "payload": {
                    "request": orjson.dumps(body).decode(),
                    "response": orjson.dumps(answer).decode(),
                },
            }
        },
    }


def carried(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of an event v1 a Kong log entry carries, as the decoder reads them."""
    decoded = decode_event(orjson.dumps(event))
    return {
        "event": (decoded.event_id, decoded.timestamp, decoded.account_id, decoded.api_key_id,
                  decoded.model, decoded.endpoint),
        "client": (decoded.client.ip, decoded.client.user_agent),
        "request": decoded.request,
        "response": decoded.response,
        "usage": decoded.usage,
    }  # fmt: skip


def test_simulated_traffic_round_trips_through_kong_log_entries() -> None:
    """Every family of simulated traffic, logged the way Kong logs it, maps back to the fields
    of the events it came from."""
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=5).lines()]
    assert len(events) > 500
    for index, event in enumerate(events):
        [mapped] = adapt(orjson.dumps(as_kong(event))).events
        if index % 50 == 0:
            assert_valid_event(mapped)
        assert carried(mapped) == carried(event)
