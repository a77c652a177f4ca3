"""The value readers the adapters share (detectors/adapters/fields.py): their fast paths for the
common JSON types must read exactly as their general paths do."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from detectors.adapters.base import RecordError
from detectors.adapters.fields import (
    MAX_ID_LENGTH,
    as_count,
    as_float,
    as_id,
    as_logit_bias,
    required_str,
)
from detectors.decode import decode_event

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["5", " -2.5 ", "nan", "inf", "1e400", ""]),
)


def reference_logit_bias(value: Any) -> dict[str, float] | None:
    """The definition: each entry whose bias reads as a finite number, as a float."""
    if not isinstance(value, dict):
        return None
    bias = {token: number for token, raw in value.items() if (number := as_float(raw)) is not None}
    return bias or None


@given(st.dictionaries(st.text(max_size=6), json_scalars, max_size=12))
def test_logit_bias_reads_as_its_definition(value: dict[str, Any]) -> None:
    parsed = orjson.loads(orjson.dumps(value))  # as an adapter gets it: parsed JSON
    read = as_logit_bias(parsed)
    assert read == reference_logit_bias(parsed)
    assert read is None or all(
        type(bias) is float and math.isfinite(bias) for bias in read.values()
    )


def test_logit_bias_of_numbers_reads_as_floats_and_drops_what_is_not_a_number() -> None:
    assert as_logit_bias({"50256": -100, "13": 5.5}) == {"50256": -100.0, "13": 5.5}
    assert as_logit_bias({"1": True, "2": "x", "3": None, "4": "7"}) == {"4": 7.0}
    assert as_logit_bias({"1": True}) is None
    assert as_logit_bias({}) is None
    assert as_logit_bias([1, 2]) is None


@given(json_scalars)
def test_a_count_is_a_non_negative_exact_integer(value: Any) -> None:
    count = as_count(value)
    if count is not None:
        assert type(count) is int and 0 <= count <= 2**53 - 1
    if type(value) is int and 0 <= value <= 2**53 - 1:
        assert count == value


def test_a_count_reads_numbers_sent_as_strings_and_refuses_the_rest() -> None:
    assert as_count("42") == 42
    assert as_count(3.0) == 3
    assert as_count(-1) is None
    assert as_count(2**53) is None
    assert as_count(True) is None
    assert as_count("4.5") is None


def test_an_int_reads_as_a_float() -> None:
    assert as_float(7) == 7.0 and type(as_float(7)) is float
    assert as_float(False) is None


@given(st.text(min_size=1, max_size=80))
def test_identifiers_are_bounded_in_utf8_bytes_like_the_decoder(text: str) -> None:
    fits = len(text.encode("utf-8", "surrogatepass")) <= MAX_ID_LENGTH
    assert (as_id(text) == text) is fits
    try:
        assert required_str(text, "the account") == text
        read = True
    except RecordError:
        read = False
    assert read is fits


def test_the_short_string_fast_path_ends_where_four_byte_characters_still_fit() -> None:
    # 64 four-byte characters are exactly the schema's 256 bytes; 65 are over it
    assert required_str("\U0001f600" * 64, "id") == "\U0001f600" * 64
    assert as_id("\U0001f600" * 65) is None
    assert as_id("a" * 256) == "a" * 256
    assert as_id("a" * 257) is None
    event = {
        "schema_version": 1,
        "event_id": "\U0001f600" * 64,
        "timestamp": 1.0,
        "account_id": "a" * 256,
        "model": "m",
    }
    decode_event(orjson.dumps(event))  # what the adapters accept, the decoder accepts
