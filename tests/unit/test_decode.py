"""The decoder against contracts.md and the JSON Schema file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import decode
from detectors.decode import decode_event
from detectors.errors import EventDecodeError
from detectors.event import ClientInfo, InferenceEvent, RequestInfo, ResponseInfo, Usage
from tests.helpers import FIXTURES, ROOT, make_event

SCHEMA = json.loads((ROOT / "detectors/schemas/inference-event.v1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
CONTRACT_EXAMPLE = (FIXTURES / "contract_event_example.json").read_bytes()


def test_contract_example_decodes_and_validates() -> None:
    VALIDATOR.validate(json.loads(CONTRACT_EXAMPLE))
    event = decode_event(CONTRACT_EXAMPLE)
    assert event.event_id == "req_01H9"
    assert event.account_id == "acct_42"
    assert event.timestamp == datetime(2026, 2, 23, 10, 0, 0, 123000, tzinfo=UTC).timestamp()
    assert event.client.ip == "203.0.113.7"
    assert event.request.max_tokens == 4096
    assert event.request.messages[0].role == "user"
    assert event.response.finish_reason == "length"
    assert (event.usage.input_tokens, event.usage.output_tokens) == (312, 4096)


def test_epoch_seconds_timestamp_and_defaults() -> None:
    raw = {"event_id": "e", "timestamp": 1771840800.5, "account_id": "a", "model": "m"}
    VALIDATOR.validate(raw)
    event = decode_event(orjson.dumps(raw))
    assert event.timestamp == 1771840800.5
    assert event.schema_version == 1
    assert event.usage.output_tokens == 0
    assert event.request.messages == ()


def test_rfc3339_offsets_are_honoured() -> None:
    raw = make_event(ts=0)
    raw["timestamp"] = "2026-02-23T11:00:00+01:00"
    assert (
        decode_event(orjson.dumps(raw)).timestamp
        == datetime(2026, 2, 23, 10, tzinfo=UTC).timestamp()
    )


def test_nested_optional_objects_may_be_null_and_unknown_fields_are_ignored() -> None:
    raw = {
        "event_id": "e",
        "timestamp": 1,
        "account_id": "a",
        "model": "m",
        "client": None,
        "request": {"prompt": ["one", "two"], "logit_bias": {"50256": -100}, "stop": ["\n"]},
        "usage": None,
        "gateway_region": "eu-west-1",
    }
    VALIDATOR.validate(raw)
    event = decode_event(orjson.dumps(raw))
    assert event.request.prompt == "one\ntwo"
    assert event.request.logit_bias == {"50256": -100}
    assert event.client.ip is None


INVALID: list[tuple[str, bytes]] = [
    ("not_json", b"{not json"),
    ("invalid_utf8", b'{"event_id": "\xff\xfe"}'),
    ("not_an_object", b"[1, 2]"),
    ("missing_field", orjson.dumps({"timestamp": 1, "account_id": "a", "model": "m"})),
    ("missing_field", orjson.dumps({"event_id": "e", "timestamp": 1, "model": "m"})),
    ("missing_field", orjson.dumps({"event_id": "e", "account_id": "a", "model": "m"})),
    ("wrong_type", orjson.dumps({"event_id": 5, "timestamp": 1, "account_id": "a", "model": "m"})),
    ("wrong_type", orjson.dumps(make_event(usage={"output_tokens": "many"}))),
    ("wrong_type", orjson.dumps(make_event(request={"max_tokens": 1.5}))),
    ("wrong_type", orjson.dumps(make_event(request={"logprobs": "yes"}))),
    ("wrong_type", orjson.dumps(make_event(request={"messages": "hello"}))),
    ("wrong_type", orjson.dumps(make_event(client={"asn": True}))),
    ("wrong_type", orjson.dumps(make_event(turn_index="0"))),
    ("bad_timestamp", orjson.dumps(make_event(timestamp="yesterday"))),
    ("bad_timestamp", orjson.dumps(make_event(timestamp="2026-02-23T10:00:00"))),
    ("bad_timestamp", orjson.dumps(make_event(timestamp=-5))),
    ("bad_value", orjson.dumps(make_event(account_id=""))),
    # Integers beyond 2^53 are not exact as doubles (JSON's numbers, Redis's Lua).
    ("bad_value", orjson.dumps(make_event(usage={"input_tokens": 1e300, "output_tokens": 1}))),
    ("bad_value", orjson.dumps(make_event(request={"max_tokens": 2**60}))),
    ("bad_value", orjson.dumps(make_event(turn_index=-(2**63)))),
    ("bad_value", orjson.dumps(make_event(account_id="a" * 257))),
    ("bad_value", orjson.dumps(make_event(event_id="e" * 300))),
    ("bad_value", orjson.dumps(make_event(model="m" * 1000))),
    ("bad_timestamp", orjson.dumps(make_event(timestamp="20260223T100000Z"))),  # ISO basic
    ("bad_timestamp", orjson.dumps(make_event(timestamp="2026-02-23T10:00Z"))),  # no seconds
    ("bad_timestamp", orjson.dumps(make_event(timestamp="2026-W09-1T10:00:00Z"))),  # week date
    ("bad_timestamp", orjson.dumps(make_event(timestamp="1969-12-31T23:59:59Z"))),  # negative
    ("bad_timestamp", orjson.dumps(make_event(timestamp=1e300))),
    ("bad_timestamp", orjson.dumps(make_event(timestamp=1_771_840_800_123))),  # milliseconds
    ("unsupported_schema_version", orjson.dumps(make_event(schema_version=2))),
]


@pytest.mark.parametrize(("reason", "raw"), INVALID)
def test_invalid_messages_are_refused_with_their_reason(reason: str, raw: bytes) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert caught.value.reason == reason
    assert caught.value.reason in decode.REASONS


@pytest.mark.parametrize(
    ("reason", "raw"), [c for c in INVALID if c[0] not in ("not_json", "invalid_utf8")]
)
def test_the_json_schema_refuses_what_the_decoder_refuses(reason: str, raw: bytes) -> None:
    assert not VALIDATOR.is_valid(json.loads(raw)), reason


def test_oversized_message_is_refused_before_parsing() -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(b" " * 2048, max_bytes=1024)
    assert caught.value.reason == "too_large"


def test_error_details_never_repeat_field_values() -> None:
    secret = "my secret prompt text"
    raw = orjson.dumps(make_event(request={"messages": secret}))
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert secret not in str(caught.value)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_a_decode_error(raw: bytes) -> None:
    try:
        decode_event(raw)
    except EventDecodeError as error:
        assert error.reason in decode.REASONS


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.sampled_from(
        ["timestamp", "account_id", "request", "usage", "client", "turn_index", "model", "response"]
    ),
    json_values,
)
def test_decoder_and_schema_agree_on_mutated_fields(field: str, value: Any) -> None:
    raw = make_event()
    raw[field] = value
    encoded = orjson.dumps(raw)
    try:
        decode_event(encoded)
        accepted = True
    except EventDecodeError:
        accepted = False
    assert accepted == VALIDATOR.is_valid(json.loads(encoded))


@pytest.mark.parametrize(
    ("group", "record"),
    [
        (decode._TOP, InferenceEvent),
        (decode._CLIENT, ClientInfo),
        (decode._REQUEST, RequestInfo),
        (decode._RESPONSE, ResponseInfo),
        (decode._USAGE, Usage),
    ],
)
def test_scalar_groups_follow_record_field_order(group: Any, record: Any) -> None:
    # The decoder builds records positionally; a reordered field would silently swap values.
    fields = record._fields
    start = fields.index(group.keys[0])
    assert fields[start : start + len(group.keys)] == group.keys


def test_every_field_lands_in_its_own_attribute() -> None:
    # Distinct values everywhere, so a value landing in a neighbouring field cannot pass.
    raw: dict[str, Any] = {
        "event_id": "e1", "timestamp": 1_771_840_800, "account_id": "a1", "model": "m1",
        "org_id": "o1", "api_key_id": "k1", "tier": "t1", "endpoint": "chat",
        "conversation_id": "c1", "turn_index": 7,
        "client": {"ip": "203.0.113.9", "user_agent": "ua", "asn": 64500, "country": "NL",
                   "payment_fingerprint": "pf", "tls_fingerprint": "tf"},
        "request": {"system": "sys", "prompt_fingerprint": "fp", "temperature": 0.25,
                    "top_p": 0.5, "max_tokens": 11, "n": 2, "top_logprobs": 3, "seed": 4,
                    "logprobs": True, "stream": False, "tools": 5,
                    "logit_bias": {"17": -100}},
        "response": {"status": 201, "finish_reason": "length", "latency_ms": 12.5},
        "usage": {"input_tokens": 21, "output_tokens": 22, "reasoning_tokens": 23},
    }  # fmt: skip
    VALIDATOR.validate(raw)
    event = decode_event(orjson.dumps(raw))
    for section in ("client", "request", "response", "usage"):
        for key, value in raw[section].items():
            assert getattr(getattr(event, section), key) == value, f"{section}.{key}"
    for key, value in raw.items():
        if not isinstance(value, dict) and key != "timestamp":
            assert getattr(event, key) == value, key


def test_integral_floats_become_ints_even_after_the_signature_is_seen() -> None:
    # The first event teaches the fast path a signature; the second must not reuse it blindly.
    for _ in range(2):
        raw = make_event(max_tokens=4096)
        raw["request"]["max_tokens"] = 4096.0
        raw["usage"]["output_tokens"] = 12.0
        event = decode_event(orjson.dumps(raw))
        assert type(event.request.max_tokens) is int
        assert type(event.usage.output_tokens) is int


def test_a_wrong_type_is_refused_after_valid_events_of_the_same_shape() -> None:
    decode_event(orjson.dumps(make_event()))
    raw = make_event()
    raw["request"]["max_tokens"] = "4096"
    with pytest.raises(EventDecodeError) as caught:
        decode_event(orjson.dumps(raw))
    assert caught.value.reason == "wrong_type"
    assert "request.max_tokens" in caught.value.detail


def test_ids_are_capped_in_utf8_bytes_not_characters() -> None:
    fits = "é" * 128  # 256 bytes
    assert decode_event(orjson.dumps(make_event(account_id=fits))).account_id == fits
    with pytest.raises(EventDecodeError) as caught:
        decode_event(orjson.dumps(make_event(account_id="é" * 129)))
    assert caught.value.reason == "bad_value"
    assert "account_id" in str(caught.value) and "é" not in str(caught.value)


@pytest.mark.parametrize(
    "stamp",
    ["2026-02-23T10:00:00Z", "2026-02-23t10:00:00.123456z", "2026-02-23T11:00:00.5+01:00"],
)
def test_rfc3339_forms_are_accepted(stamp: str) -> None:
    VALIDATOR.validate(make_event(timestamp=stamp))
    assert decode_event(orjson.dumps(make_event(timestamp=stamp))).timestamp > 0


def test_the_largest_exact_integer_is_accepted() -> None:
    event = decode_event(orjson.dumps(make_event(request={"seed": 2**53 - 1})))
    assert event.request.seed == 2**53 - 1
    # ...also once its type signature is known (the fast path must check values too)
    with pytest.raises(EventDecodeError):
        decode_event(orjson.dumps(make_event(request={"seed": 2**53})))
