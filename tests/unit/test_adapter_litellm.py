"""LiteLLM proxy logs (StandardLoggingPayload, as its generic_api callback posts them) map to
inference events v1 field by field; a record that cannot map is rejected alone."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.adapters.base import MISSING_FIELD, NOT_AN_OBJECT, NOT_JSON
from detectors.adapters.litellm import litellm_adapter
from tests.adapter_checks import FIXTURES, assert_valid_event

BATCH = (FIXTURES / "litellm" / "generic_api_batch.json").read_bytes()


def test_a_generic_api_batch_maps_record_by_record() -> None:
    mapped = litellm_adapter()(BATCH)
    assert [r.index for r in mapped.rejected] == [3]  # no account field at all
    assert mapped.rejected[0].reason == MISSING_FIELD
    chat, failed, legacy = mapped.events
    for event in mapped.events:
        assert_valid_event(event)
    assert chat["event_id"] == "0b6f7c8e-1d2a-4c55-9d3e-7a1b2c3d4e5f"  # litellm_call_id first
    assert chat["timestamp"] == 1772272800.125
    assert (chat["account_id"], chat["org_id"]) == ("team-research", "org-acme")
    assert chat["api_key_id"] == "88c2a0e4d1f5"
    assert (chat["model"], chat["endpoint"]) == ("frontier-large", "chat")  # the model group
    assert chat["client"] == {"ip": "198.51.100.23", "user_agent": "OpenAI/Python 1.54.0"}
    assert chat["request"]["system"] == "You are a careful grader."
    assert chat["request"]["messages"] == [
        {"role": "user", "content": "Grade this answer from 1 to 10 and explain every step."}
    ]
    assert chat["request"] | {"system": None, "messages": None} == {
        "system": None, "messages": None, "temperature": 0.0, "top_p": 1.0, "max_tokens": 1024,
        "n": 1, "logprobs": True, "top_logprobs": 5, "logit_bias": {"1734": -100.0},
        "seed": 7, "stop": ["###"], "stream": False, "tools": 2,
    }  # fmt: skip
    assert chat["response"] == {"status": 200, "finish_reason": "length", "latency_ms": 3375.0}
    assert chat["usage"] == {"input_tokens": 412, "output_tokens": 1024}
    # A failed call: the error code is the status; the redaction string is not a prompt;
    # the team id is null, so the key's hash names the account
    assert failed["event_id"] == "chatcmpl-failed"
    assert failed["account_id"] == "c0ffee123456"
    assert failed["response"]["status"] == 429
    assert "request" not in failed
    assert (legacy["endpoint"], legacy["request"]["prompt"]) == ("completions", "Once upon a time")
    assert legacy["account_id"] == "org-legacy"


def test_ndjson_and_single_objects_map_the_same() -> None:
    records = orjson.loads(BATCH)
    expected = litellm_adapter()(BATCH).events
    ndjson = b"\n".join(orjson.dumps(r) for r in records)
    assert litellm_adapter()(ndjson).events == expected
    singles = [e for r in records for e in litellm_adapter()(orjson.dumps(r)).events]
    assert singles == expected


def test_the_account_field_order_is_configurable() -> None:
    by_user = litellm_adapter(["user_api_key_user_id", "user_api_key_hash"])(BATCH)
    assert [e["account_id"] for e in by_user.events] == ["user-17", "c0ffee123456"]


def one(**changes: Any) -> dict[str, Any]:
    """The fixture's first record with some fields changed, mapped."""
    (event,) = litellm_adapter()(orjson.dumps({**orjson.loads(BATCH)[0], **changes})).events
    return event


def test_messages_redacted_by_litellm_are_no_prompt_text() -> None:
    """With message logging off, LiteLLM logs `messages` as one user message reading
    "redacted-by-litellm" (older versions: the string alone). Taken as text, every such call of
    every account would share one prompt: one template, one cluster."""
    redacted = [{"role": "user", "content": "redacted-by-litellm"}]
    assert "messages" not in one(messages=redacted).get("request", {})
    assert "prompt" not in one(messages="redacted-by-litellm").get("request", {})
    # Only the exact redaction string: a prompt that starts with the word is a prompt
    prompt = "redacted documents: summarise what remains"
    assert one(messages=prompt)["request"]["prompt"] == prompt
    kept = one(messages=[*redacted, {"role": "user", "content": "and this?"}])["request"]
    assert kept["messages"] == [{"role": "user", "content": "and this?"}]


def test_a_null_max_completion_tokens_leaves_max_tokens_read() -> None:
    params = {"max_completion_tokens": None, "max_tokens": 100}
    assert one(model_parameters=params)["request"]["max_tokens"] == 100


def test_a_bad_ndjson_line_or_a_non_object_loses_only_itself() -> None:
    good = orjson.dumps(orjson.loads(BATCH)[0])
    mapped = litellm_adapter()(good + b"\n{not json\n[1, 2]\n" + good)
    assert len(mapped.events) == 2
    assert [(r.index, r.reason) for r in mapped.rejected] == [(1, NOT_JSON), (2, NOT_AN_OBJECT)]
    assert litellm_adapter()(b"\xff\xfe garbage").rejected[0].reason == NOT_JSON


# Values JSON can carry (orjson: integers within 64 bits, finite floats)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
)
records = st.fixed_dictionaries(
    {"startTime": st.one_of(st.floats(0, 4e9), scalars)},
    optional={
        "litellm_call_id": st.one_of(st.text(min_size=1, max_size=20), scalars),
        "id": st.text(min_size=1, max_size=20),
        "endTime": st.one_of(st.floats(0, 4e9), scalars),
        "model": st.one_of(st.text(min_size=1, max_size=10), scalars),
        "model_group": scalars,
        "call_type": scalars,
        "status": st.sampled_from(["success", "failure", None]),
        "prompt_tokens": scalars,
        "completion_tokens": scalars,
        "requester_ip_address": scalars,
        "metadata": st.dictionaries(
            st.sampled_from(["user_api_key_team_id", "user_api_key_hash", "user_agent"]), scalars
        ),
        "messages": st.one_of(
            scalars,
            st.lists(st.fixed_dictionaries({"role": scalars, "content": scalars}), max_size=3),
        ),
        "model_parameters": st.dictionaries(
            st.sampled_from(
                [
                    "temperature",
                    "top_p",
                    "max_tokens",
                    "n",
                    "logprobs",
                    "seed",
                    "stop",
                    "stream",
                    "tools",
                    "logit_bias",
                    "top_logprobs",
                ]
            ),
            st.one_of(
                scalars,
                st.lists(scalars, max_size=2),
                st.dictionaries(st.text(max_size=3), scalars, max_size=2),
            ),
        ),
        "error_information": st.fixed_dictionaries({"error_code": scalars}),
        "response": st.fixed_dictionaries(
            {"choices": st.lists(st.fixed_dictionaries({"finish_reason": scalars}), max_size=2)}
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(records, min_size=1, max_size=5))
def test_every_record_maps_to_a_valid_event_or_is_rejected_once(batch: list[Any]) -> None:
    payload = orjson.dumps(batch)
    mapped = litellm_adapter()(payload)
    assert len(mapped.events) + len(mapped.rejected) == len(batch)
    for event in mapped.events:
        assert_valid_event(event)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_rejected_never_raised(payload: bytes) -> None:
    mapped = litellm_adapter()(payload)
    for event in mapped.events:
        assert_valid_event(event)


def test_an_id_over_256_bytes_of_utf8_is_refused_as_the_decoder_would() -> None:
    record = orjson.loads(BATCH)[0]
    record["metadata"]["user_api_key_team_id"] = "é" * 200  # 200 characters, 400 bytes
    record["metadata"]["user_api_key_org_id"] = "ü" * 200
    mapped = litellm_adapter()(orjson.dumps(record))
    assert [r.reason for r in mapped.rejected] == ["bad_value"]
    record["metadata"]["user_api_key_team_id"] = "team-é"
    (event,) = litellm_adapter()(orjson.dumps(record)).events
    assert "org_id" not in event  # an optional id over the bound is left out
    assert_valid_event(event)
