"""The compiled adapters (native/, detectors/adapters/native.py) against the Python adapters
they stand in for: the same events, byte for byte once encoded, for every payload they take on;
every payload they do not take on mapped by Python, rejections included; and the everyday
payloads (simulated traffic of every family, the published examples) all taken on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.adapters import native
from detectors.adapters.base import NOT_JSON
from detectors.adapters.kong import DEFAULT_ACCOUNT_FIELDS, kong_adapter
from streams.sim.scenarios import simulate
from tests.adapter_checks import replace_anywhere
from tests.conftest import IN_CI
from tests.unit import test_adapter_kong as kong_cases


@pytest.fixture(autouse=True)
def _compiled_installed() -> None:
    if not native.AVAILABLE:
        message = "distillwatch_native (make venv builds it from native/)"
        if IN_CI:
            pytest.fail(f"CI requires {message}", pytrace=False)
        pytest.skip(f"needs {message}")


python_kong = kong_adapter(compiled=False)
with_compiled_kong = kong_adapter()


def compiled_kong(payload: bytes) -> list[dict[str, Any]] | None:
    mapper = native.kong_mapper(DEFAULT_ACCOUNT_FIELDS)
    assert mapper is not None
    return mapper(payload)


def taken_on_alike(payload: bytes) -> bool:
    """Whether the compiled mapper takes the payload on; if it does, its events are Python's
    (compared encoded: key order, int or float, the sign of a zero) and Python rejects none."""
    events = compiled_kong(payload)
    reference = python_kong(payload)
    if events is None:
        return False
    assert reference.rejected == []
    assert orjson.dumps(events) == orjson.dumps(reference.events)
    return True


def assert_adapters_agree(payload: bytes) -> None:
    """The adapter with its compiled path answers as the Python one, rejections included."""
    assert with_compiled_kong(payload) == python_kong(payload)
    assert orjson.dumps(with_compiled_kong(payload).events) == orjson.dumps(
        python_kong(payload).events
    )


def test_simulated_kong_traffic_is_all_taken_on_and_maps_alike() -> None:
    events = [orjson.loads(line) for line in simulate("all", hours=0.02, seed=11).lines()]
    logged = [kong_cases.as_kong(event) for event in events]
    for entry in logged:
        assert taken_on_alike(orjson.dumps(entry))
    assert taken_on_alike(orjson.dumps(logged[:100]))  # an http-log batch


MAPPABLE_BATCH = orjson.dumps(orjson.loads(kong_cases.BATCH)[:3])  # the rest are rejected


@pytest.mark.parametrize("payload", [kong_cases.V36, kong_cases.V38, MAPPABLE_BATCH])
def test_the_published_kong_shapes_are_taken_on_and_map_alike(payload: bytes) -> None:
    assert taken_on_alike(payload)


def test_a_batch_with_rejected_entries_is_left_to_python() -> None:
    assert compiled_kong(kong_cases.BATCH) is None
    assert_adapters_agree(kong_cases.BATCH)


ENTRY = orjson.loads(kong_cases.V38)


def fresh_entry() -> dict[str, Any]:
    return orjson.loads(kong_cases.V38)  # type: ignore[no-any-return]


def entry_with(**changes: Any) -> bytes:
    return orjson.dumps({**ENTRY, **changes})


@pytest.mark.parametrize(
    "payload",
    [
        # a key repeated: orjson keeps the last value, at the first place
        kong_cases.V38[:-1] + b', "started_at": 1700000000000}',
        b'{"ai": {"proxy": {"meta": {"request_model": "m"}}}, "ai": 1}',
        # numbers: -0 is orjson's integer 0; integers past 64 bits are floats; as strings
        entry_with(started_at="1700000000000"),
        kong_cases.V38.replace(b'"started_at"', b'"started_at": -0, "x"'),
        entry_with(latencies={"request": -0.0}),
        entry_with(started_at=1.7e12),
        kong_cases.V38[:-1] + b', "latencies": {"request": 123456789012345678901234567890}}',
        entry_with(consumer={"custom_id": 12345}),
        entry_with(client_ip=" \u2003203.0.113.9, 10.0.0.1"),
        entry_with(client_ip="\x1c203.0.113.9\x1f"),
        # JSON only orjson judges: NDJSON, invalid UTF-8, lone surrogates, deep nesting
        kong_cases.V38 + b"\n" + kong_cases.V36,
        kong_cases.V38[:-1] + b', "x": "\xff"}',
        kong_cases.V38[:-1] + b', "x": "\\ud800"}',
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        kong_cases.V38[:-1] + b', "x": ' + b"[" * 1100 + b"]" * 1100 + b"}",
        b"[]",
        b"[1, 2]",
        b"",
    ],
)
def test_payloads_off_the_everyday_path_map_as_python_maps_them(payload: bytes) -> None:
    assert_adapters_agree(payload)


def test_a_payload_that_is_not_bytes_goes_the_python_way() -> None:
    mapped = with_compiled_kong(bytearray(kong_cases.V38))  # type: ignore[arg-type]
    assert mapped == python_kong(kong_cases.V38)
    assert with_compiled_kong(b"{").rejected[0].reason == NOT_JSON


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(kong_cases.entries, kong_cases.well_formed_entries), min_size=1, max_size=4)
)
def test_random_kong_entries_map_alike(batch: list[Any]) -> None:
    for entry in batch:  # one by one, so that one rejected entry leaves the others taken on
        taken_on_alike(orjson.dumps(entry))
    assert_adapters_agree(orjson.dumps(batch))


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_json_anywhere_in_a_kong_entry_maps_alike(data: st.DataObject) -> None:
    """Fields of real entries replaced by arbitrary JSON (strings for numbers, lists for
    strings, nesting, non-ASCII): taken on and alike, or left to Python."""
    batch = [*orjson.loads(MAPPABLE_BATCH), orjson.loads(kong_cases.V36), fresh_entry()]
    replace_anywhere(batch, data, kong_cases.json_values)
    for entry in batch:  # one by one, so that one rejected entry leaves the others taken on
        taken_on_alike(orjson.dumps(entry))
    assert_adapters_agree(orjson.dumps(batch))
