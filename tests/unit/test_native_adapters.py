"""The compiled adapters (native/, detectors/adapters/native.py) against the Python adapters
they stand in for: the same events, byte for byte once encoded, for every payload they take on;
every payload they do not take on mapped by Python, rejections included; and the everyday
payloads (simulated traffic of every family, the published examples) all taken on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.adapters import native, otlp_json
from detectors.adapters.base import NOT_JSON, Adapter
from detectors.adapters.kong import DEFAULT_ACCOUNT_FIELDS, kong_adapter
from detectors.adapters.litellm import DEFAULT_ACCOUNT_KEYS as LITELLM_ACCOUNT_KEYS
from detectors.adapters.litellm import litellm_adapter
from detectors.adapters.otlp_json import DEFAULT_ACCOUNT_KEYS, otlp_json_adapter
from streams.sim.scenarios import simulate
from tests.adapter_checks import as_litellm, replace_anywhere, replies
from tests.conftest import IN_CI
from tests.unit import test_adapter_kong as kong_cases
from tests.unit import test_adapter_litellm as litellm_cases
from tests.unit import test_adapter_otlp as otlp_cases


@pytest.fixture(autouse=True)
def _compiled_installed() -> None:
    if not native.AVAILABLE:
        message = "distillwatch_native (make venv builds it from native/)"
        if IN_CI:
            pytest.fail(f"CI requires {message}", pytrace=False)
        pytest.skip(f"needs {message}")


@dataclass(frozen=True)
class Format:
    python: Adapter  # the Python path alone
    adapter: Adapter  # as distillwatch runs it: the compiled path first
    compiled: Callable[[], native.FastMapper | None]

    def taken_on_alike(self, payload: bytes) -> bool:
        """Whether the compiled mapper takes the payload on; if it does, its events are
        Python's (compared encoded: key order, int or float, the sign of a zero) and Python
        rejects none of the payload's records."""
        mapper = self.compiled()
        assert mapper is not None
        events = mapper(payload)
        reference = self.python(payload)
        if events is None:
            return False
        assert reference.rejected == []
        assert orjson.dumps(events) == orjson.dumps(reference.events)
        return True

    def assert_agree(self, payload: bytes) -> None:
        """The adapter with its compiled path answers as the Python one, rejections included."""
        mapped, reference = self.adapter(payload), self.python(payload)
        assert mapped == reference
        assert orjson.dumps(mapped.events) == orjson.dumps(reference.events)


KONG = Format(
    kong_adapter(compiled=False), kong_adapter(), lambda: native.kong_mapper(DEFAULT_ACCOUNT_FIELDS)
)
OTLP = Format(
    otlp_json_adapter(compiled=False),
    otlp_json_adapter(),
    lambda: native.otlp_mapper(DEFAULT_ACCOUNT_KEYS),
)


LITELLM = Format(
    litellm_adapter(compiled=False),
    litellm_adapter(),
    lambda: native.litellm_mapper(LITELLM_ACCOUNT_KEYS),
)


# LiteLLM


def test_simulated_litellm_traffic_is_all_taken_on_and_maps_alike() -> None:
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=11).lines()]
    logged = [as_litellm(e, reply) for e, reply in zip(events, replies(events), strict=True)]
    for record in logged:
        assert LITELLM.taken_on_alike(orjson.dumps(record))
    assert LITELLM.taken_on_alike(orjson.dumps(logged[:100]))  # a generic_api batch


LITELLM_MAPPABLE = orjson.dumps(orjson.loads(litellm_cases.BATCH)[:3])  # the last is rejected


def test_the_published_litellm_batch_maps_alike() -> None:
    assert LITELLM.taken_on_alike(LITELLM_MAPPABLE)
    assert not LITELLM.taken_on_alike(litellm_cases.BATCH)
    LITELLM.assert_agree(litellm_cases.BATCH)


def litellm_record(**changes: Any) -> bytes:
    return orjson.dumps({**orjson.loads(LITELLM_MAPPABLE)[0], **changes})


@pytest.mark.parametrize(
    "payload",
    [
        litellm_record(startTime="1700000000.5"),
        litellm_record(startTime=-0.0),
        litellm_record(messages="redacted-by-litellm"),
        litellm_record(messages="redacted-by-litellm "),
        litellm_record(messages=[{"role": "user", "content": "redacted-by-litellm"}]),
        litellm_record(
            messages=[
                {"role": "system", "content": [{"text": "redacted-by-litellm"}]},
                {"role": "user", "content": "redacted documents"},
            ]
        ),
        litellm_record(messages=""),
        litellm_record(messages=[{"role": "system", "content": ""}, {"role": "user"}]),
        litellm_record(model_parameters={"stream": "true", "max_tokens": 5}),
        litellm_record(model_parameters={"max_completion_tokens": None, "max_tokens": 5}),
        litellm_record(model_parameters={"logit_bias": {"1": True, "2": -100}}),
        litellm_record(status="failure", error_information={"error_code": "429"}),
        litellm_record(status="failure", error_information={"error_code": 0}),
        litellm_record(status="failure", error_information={"error_code": " +429 "}),
        litellm_record(status="failure", error_information={"error_code": "4_29"}),
        litellm_record(status="failure", error_information={"error_code": "\u0664\u0662\u0669"}),
        litellm_record(status="failure", error_information={"error_code": "1" * 21}),
        litellm_record(status="failure", error_information={"error_code": "9" * 17}),
        litellm_record(call_type="litellm.atext_completion"),
        litellm_record(call_type="something_else"),
        litellm_record(requester_ip_address=["198.51.100.7, 10.0.0.1"]),
        litellm_record(metadata={"user_api_key_team_id": 7}),
        LITELLM_MAPPABLE + b"\n" + LITELLM_MAPPABLE,
    ],
)
def test_litellm_payloads_off_the_everyday_path_map_as_python_maps_them(payload: bytes) -> None:
    LITELLM.assert_agree(payload)


@settings(max_examples=400, deadline=None)
@given(st.lists(litellm_cases.records, min_size=1, max_size=4))
def test_random_litellm_records_map_alike(batch: list[Any]) -> None:
    payload = orjson.dumps(batch)
    LITELLM.taken_on_alike(payload)
    LITELLM.assert_agree(payload)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_a_litellm_record_maps_alike(data: st.DataObject) -> None:
    batch = orjson.loads(LITELLM_MAPPABLE)
    replace_anywhere(batch, data, kong_cases.json_values)
    for record in batch:
        LITELLM.taken_on_alike(orjson.dumps(record))
    LITELLM.assert_agree(orjson.dumps(batch))


# Kong


def test_simulated_kong_traffic_is_all_taken_on_and_maps_alike() -> None:
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=11).lines()]
    logged = [
        kong_cases.as_kong(e, reply) for e, reply in zip(events, replies(events), strict=True)
    ]
    for entry in logged:
        assert KONG.taken_on_alike(orjson.dumps(entry))
    assert KONG.taken_on_alike(orjson.dumps(logged[:100]))  # an http-log batch


MAPPABLE_BATCH = orjson.dumps(orjson.loads(kong_cases.BATCH)[:3])  # the rest are rejected


@pytest.mark.parametrize("payload", [kong_cases.V36, kong_cases.V38, MAPPABLE_BATCH])
def test_the_published_kong_shapes_are_taken_on_and_map_alike(payload: bytes) -> None:
    assert KONG.taken_on_alike(payload)


def test_a_kong_batch_with_rejected_entries_is_left_to_python() -> None:
    assert not KONG.taken_on_alike(kong_cases.BATCH)
    KONG.assert_agree(kong_cases.BATCH)


def kong_entry(**changes: Any) -> bytes:
    return orjson.dumps({**orjson.loads(kong_cases.V38), **changes})


def kong_with_request_body(body: str) -> bytes:
    entry = orjson.loads(kong_cases.V38)
    entry["ai"]["ai-proxy-advanced"]["payload"] = {"request": body}
    return orjson.dumps(entry)


@pytest.mark.parametrize(
    "payload",
    [
        # LiteLLM's redaction string where a message's text is: no text
        kong_with_request_body(
            '{"messages": [{"role": "system", "content": "redacted-by-litellm"}, '
            '{"role": "user", "content": [{"type": "text", "text": "redacted-by-litellm"}]}]}'
        ),
        # a key repeated: orjson keeps the last value, at the first place
        kong_cases.V38[:-1] + b', "started_at": 1700000000000}',
        b'{"ai": {"proxy": {"meta": {"request_model": "m"}}}, "ai": 1}',
        # numbers: -0 is orjson's integer 0; integers past 64 bits are floats; as strings
        kong_entry(started_at="1700000000000"),
        kong_cases.V38.replace(b'"started_at"', b'"started_at": -0, "x"'),
        kong_entry(latencies={"request": -0.0}),
        kong_entry(started_at=1.7e12),
        kong_cases.V38[:-1] + b', "latencies": {"request": 123456789012345678901234567890}}',
        kong_entry(consumer={"custom_id": 12345}),
        kong_entry(client_ip=" \u2003203.0.113.9, 10.0.0.1"),
        kong_entry(client_ip="\x1c203.0.113.9\x1f"),
        # JSON only orjson judges: NDJSON, invalid UTF-8, lone surrogates, deep nesting
        kong_cases.V38 + b"\n" + kong_cases.V36,
        kong_cases.V38[:-1] + b', "x": "\xff"}',
        kong_cases.V38[:-1] + b', "x": "\\ud800"}',
        kong_cases.V38[:-1] + b', "x": "a\\ud800\\u0041"}',
        kong_cases.V38[:-1] + b', "x": "\\udc00"}',
        kong_cases.V38[:-1] + b', "x": "\\ud83d\\ude00", "\\ud83d\\ude00": 1}',
        kong_cases.V38[:-1] + b', "x": "\\\\ud800"}',  # an escaped backslash, then "ud800"
        kong_with_request_body('{"model": "m", "messages": [{"content": "\\ud800"}]}'),
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 127 + b"]" * 127 + b"}",
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 128 + b"]" * 128 + b"}",
        kong_cases.V38[:-1] + b', "x": [18446744073709551615, -9223372036854775808, 1E2]}',
        kong_cases.V38[:-1] + b', "x": 18446744073709551616}',
        kong_cases.V38[:-1] + b', "x": -9223372036854775809}',
        kong_cases.V38[:-1] + b', "x": 1e400}',
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 1100 + b"]" * 1100 + b"}",
        b"[]",
        b"[1, 2]",
        b"",
    ],
)
def test_kong_payloads_off_the_everyday_path_map_as_python_maps_them(payload: bytes) -> None:
    KONG.assert_agree(payload)


def test_a_payload_that_is_not_bytes_goes_the_python_way() -> None:
    mapped = KONG.adapter(bytearray(kong_cases.V38))  # type: ignore[arg-type]
    assert mapped == KONG.python(kong_cases.V38)
    assert KONG.adapter(b"{").rejected[0].reason == NOT_JSON


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(kong_cases.entries, kong_cases.well_formed_entries), min_size=1, max_size=4)
)
def test_random_kong_entries_map_alike(batch: list[Any]) -> None:
    payload = orjson.dumps(batch)
    KONG.taken_on_alike(payload)
    KONG.assert_agree(payload)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_a_kong_entry_maps_alike(data: st.DataObject) -> None:
    """Fields of real entries replaced by arbitrary JSON (strings for numbers, lists for
    strings, nesting, non-ASCII): taken on and alike, or left to Python."""
    batch = [*orjson.loads(MAPPABLE_BATCH), orjson.loads(kong_cases.V36)]
    replace_anywhere(batch, data, kong_cases.json_values)
    for entry in batch:  # one by one, so that one rejected entry leaves the others taken on
        KONG.taken_on_alike(orjson.dumps(entry))
    KONG.assert_agree(orjson.dumps(batch))


# OTLP/JSON


def test_simulated_otlp_traffic_is_all_taken_on_and_maps_alike() -> None:
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=11).lines()]
    completions = replies(events)
    for event, reply in zip(events, completions, strict=True):
        assert OTLP.taken_on_alike(orjson.dumps(otlp_cases.as_otlp_export([event], [reply])))
    export = otlp_cases.as_otlp_export(events[:100], completions[:100])
    assert OTLP.taken_on_alike(orjson.dumps(export))


@pytest.mark.parametrize("payload", [otlp_cases.GATEWAY, otlp_cases.DEPRECATED])
def test_the_published_otlp_shapes_are_taken_on_and_map_alike(payload: bytes) -> None:
    assert OTLP.taken_on_alike(payload)


def test_an_otlp_export_with_a_rejected_span_is_left_to_python() -> None:
    assert not OTLP.taken_on_alike(otlp_cases.STRUCTURED)
    OTLP.assert_agree(otlp_cases.STRUCTURED)


GATEWAY_START = otlp_cases.genai_span(orjson.loads(otlp_cases.GATEWAY))["startTimeUnixNano"]


def fullwidth(number: int) -> str:
    """The number in fullwidth digits (U+FF10 on): 3 bytes of UTF-8 each."""
    return "".join(chr(0xFF10 + int(digit)) for digit in str(number))


def otlp_with(key: str, value: dict[str, Any] | None, **span_changes: Any) -> bytes:
    """The gateway export with one attribute of its chat span set (None: removed)."""
    request = orjson.loads(otlp_cases.GATEWAY)
    span = otlp_cases.genai_span(request)
    otlp_cases.set_attribute(span, key, value)
    span.update(span_changes)
    return orjson.dumps(request)


CLIENT_KEYS = {"client.address", "http.client_ip", "net.peer.ip", "network.peer.address",
               "user_agent.original", "http.user_agent"}  # fmt: skip


def otlp_client_on_resource(**attributes: dict[str, Any]) -> bytes:
    """The gateway export with no client attribute on any span, and these on its resource."""
    request = orjson.loads(otlp_cases.GATEWAY)
    for group in request["resourceSpans"]:
        for scope in group["scopeSpans"]:
            for span in scope["spans"]:
                kept = [a for a in span.get("attributes", []) if a["key"] not in CLIENT_KEYS]
                span["attributes"] = kept
        group.setdefault("resource", {}).setdefault("attributes", []).extend(
            {"key": key, "value": value} for key, value in attributes.items()
        )
    return orjson.dumps(request)


@pytest.mark.parametrize(
    "payload",
    [
        # LiteLLM's redaction string in each of the message forms: no text
        otlp_with(
            "gen_ai.input.messages",
            {"stringValue": '[{"role": "user", "parts": [{"content": "redacted-by-litellm"}]}]'},
        ),
        otlp_with("gen_ai.prompt.0.content", {"stringValue": "redacted-by-litellm"}),
        otlp_with("gen_ai.system_instructions", {"stringValue": "redacted-by-litellm"}),
        # the client read from the resource when no span has it
        otlp_client_on_resource(**{"client.address": {"stringValue": "203.0.113.9, 10.0.0.1"}}),
        otlp_client_on_resource(
            **{"http.user_agent": {"stringValue": "sdk/2"}, "net.peer.ip": {"intValue": "7"}}
        ),
        # int64 as Python's int() reads it, or not at all
        otlp_with("gen_ai.usage.input_tokens", {"intValue": " 12"}),
        otlp_with("gen_ai.usage.input_tokens", {"intValue": "+12"}),
        otlp_with("gen_ai.usage.input_tokens", {"intValue": "1_2"}),
        otlp_with("gen_ai.usage.input_tokens", {"intValue": "9223372036854775808"}),
        otlp_with("gen_ai.usage.input_tokens", {"intValue": "-0"}),
        otlp_with("gen_ai.usage.input_tokens", {"intValue": 12.0}),
        # Unicode digits: int() reads them; counted in characters, not UTF-8 bytes
        otlp_with(
            "gen_ai.usage.input_tokens", {"intValue": "\uff11\uff12\uff13\uff14\uff15\uff16\uff17"}
        ),
        otlp_with("x", None, endTimeUnixNano=fullwidth(int(GATEWAY_START) + 5_000_000)),
        otlp_with("gen_ai.request.temperature", {"doubleValue": "NaN"}),
        otlp_with("gen_ai.request.temperature", {"doubleValue": 1}),
        otlp_with("gen_ai.request.temperature", {"doubleValue": True}),
        otlp_with("gen_ai.request.temperature", {"intValue": "1", "stringValue": "x"}),
        otlp_with("gen_ai.request.temperature", {"boolValue": True, "intValue": "1"}),
        otlp_with("gen_ai.request.stop_sequences", {"arrayValue": {"values": [{}]}}),
        otlp_with("gen_ai.input.messages", {"stringValue": "[{"}),
        otlp_with("gen_ai.input.messages", {"stringValue": '[{"role": "user"}]'}),
        otlp_with("gen_ai.system_instructions", {"stringValue": ""}),
        otlp_with("gen_ai.system_instructions", {"stringValue": "{}"}),
        otlp_with("gen_ai.tool.definitions", {"stringValue": "[1, 2]"}),
        otlp_with("gen_ai.prompt.0.role", {"intValue": "3"}),
        otlp_with("enduser.id", {"intValue": "42"}),
        otlp_with("gen_ai.request.model", None),
        otlp_with("x", None, startTimeUnixNano="0"),
        otlp_with("x", None, startTimeUnixNano=-5),
        otlp_with("x", None, endTimeUnixNano="1"),
        otlp_with("x", None, kind=2.0),
        otlp_with("x", None, kind=True),
        otlp_with("x", None, spanId="s" * 300),
        # a key repeated in an AnyValue, whose fields are read in order
        otlp_cases.GATEWAY.replace(b'{"stringValue"', b'{"x": 1, "x": 2, "stringValue"', 1),
        b'{"resourceSpans": null}',
        b'{"resourceSpans": 3}',
        b"[1]",
        b"\xff",
    ],
)
def test_otlp_payloads_off_the_everyday_path_map_as_python_maps_them(payload: bytes) -> None:
    OTLP.assert_agree(payload)


@settings(max_examples=400, deadline=None)
@given(otlp_cases.exports)
def test_random_otlp_exports_map_alike(export: dict[str, Any]) -> None:
    payload = orjson.dumps(export)
    OTLP.taken_on_alike(payload)
    OTLP.assert_agree(payload)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_an_otlp_export_maps_alike(data: st.DataObject) -> None:
    request = orjson.loads(
        otlp_cases.DEPRECATED if data.draw(st.booleans()) else otlp_cases.GATEWAY
    )
    replace_anywhere(request, data, otlp_cases.json_values)
    payload = orjson.dumps(request)
    OTLP.taken_on_alike(payload)
    OTLP.assert_agree(payload)


@pytest.mark.parametrize(
    "operation", sorted({*otlp_json.NOT_INFERENCE, *otlp_json.ENDPOINTS, "generate_content"})
)
def test_every_operation_python_names_is_read_alike(operation: str) -> None:
    """The compiled twin's tables (operations skipped, endpoints) follow the Python ones."""
    payload = otlp_with("gen_ai.operation.name", {"stringValue": operation})
    OTLP.assert_agree(payload)
    if operation not in otlp_json.NOT_INFERENCE:
        assert OTLP.taken_on_alike(payload)


@pytest.mark.parametrize("name", sorted(otlp_json.EVENT_ROLES))
def test_every_message_event_python_reads_is_read_alike(name: str) -> None:
    request = orjson.loads(otlp_cases.DEPRECATED)
    for span in otlp_cases.spans_of(request):
        for event in span.get("events", []):
            event["name"] = name
    assert OTLP.taken_on_alike(orjson.dumps(request))
