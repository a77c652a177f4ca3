"""What every input adapter returns: gateway log records mapped to inference events v1.

An adapter is a pure function from one raw payload (a Kafka message's value, or an HTTP
request's body) to the v1 event objects it holds and the records it could not map. One
payload may hold many records (a LiteLLM batch, an OTLP export with many spans): each record
maps on its own, so a half-bad batch loses only its bad records. A mapped event is a plain
dict in the v1 shape (docs/contracts: detectors/schemas/inference-event.v1.schema.json); the
v1 decoder (detectors/decode.py) then validates it like any event, so bounds and types are
checked in one place.

Rejections name a reason from a small fixed set (a metric label and a dead-letter header) and
a detail for a person. Neither ever holds prompt text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Reasons a record does not map (the decoder's own reasons cover what a mapped event fails)
NOT_JSON = "not_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_VALUE = "bad_value"
NOT_AN_INFERENCE = "not_an_inference"  # a record of the format that is not an LLM call
ADAPTER_REASONS = (NOT_JSON, NOT_AN_OBJECT, MISSING_FIELD, WRONG_TYPE, BAD_VALUE, NOT_AN_INFERENCE)


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # the record's position in the payload (0 for a payload of one record)
    reason: str  # one of ADAPTER_REASONS
    detail: str  # for a person: the field and what is wrong; never prompt text


@dataclass(slots=True)
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)  # v1 event objects
    rejected: list[Rejected] = field(default_factory=list)


Adapter = Callable[[bytes], Mapped]


class RecordError(ValueError):
    """Raised inside an adapter for one record; the adapter turns it into a `Rejected`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class NotJson:
    """An NDJSON line that does not parse: rejected on its own, the other lines still map."""
