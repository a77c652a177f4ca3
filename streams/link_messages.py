"""The linkage topic's messages: link records, numbers and fingerprints only.

One message per source partition and batch of the per-account stage, keyed by that partition:
every event of an account comes from one input partition, so its records stay in order on one
linkage partition, and a batch costs a few messages instead of one per account (faust's cost
per message is most of what this stage would cost the worker otherwise; docs/benchmarks.md).

    {"v": 1, "records": [{"a": account, "s": "topic:partition",
                          "e": [[offset, ts, output tokens, prior requests, prior tokens,
                                 [[class, value], ...] or null], ...]}, ...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from detectors.linkage import LINK_CLASSES, LinkValue

MESSAGE_VERSION = 1


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One counted request as the linkage stage sees it."""

    offset: int  # in its source partition (0 without one)
    ts: float
    output_tokens: int
    prior_requests: int  # the account's requests in its longest window before this one
    prior_tokens: int  # ...and output tokens
    values: tuple[LinkValue, ...] | None  # its link values if extraction-shaped, else None


@dataclass(frozen=True, slots=True)
class LinkRecord:
    account: str
    source: str  # "topic:partition" of its events, "" without one
    events: tuple[LinkEvent, ...]


def event_row(event: LinkEvent, no_values: Any) -> list[Any]:
    values = no_values if event.values is None else [list(v) for v in event.values]
    e = event
    return [e.offset, e.ts, e.output_tokens, e.prior_requests, e.prior_tokens, values]


def encode_records(records: Sequence[LinkRecord]) -> bytes:
    return orjson.dumps(
        {
            "v": MESSAGE_VERSION,
            "records": [
                {"a": r.account, "s": r.source, "e": [event_row(e, None) for e in r.events]}
                for r in records
            ],
        }
    )


def decode_records(raw: bytes) -> list[LinkRecord]:
    """Raises ValueError naming what is wrong (the worker dead-letters the message)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError("not JSON") from error
    if not isinstance(doc, dict) or doc.get("v") != MESSAGE_VERSION:
        raise ValueError("not a link message of version 1")
    records = doc.get("records")
    if not isinstance(records, list):
        raise ValueError("records")
    return [_record(record) for record in records]


def _record(doc: Any) -> LinkRecord:
    if not isinstance(doc, dict):
        raise ValueError("record")
    account, source, events = doc.get("a"), doc.get("s"), doc.get("e")
    if not isinstance(account, str) or not account or not isinstance(source, str):
        raise ValueError("account or source")
    if not isinstance(events, list):
        raise ValueError("events")
    return LinkRecord(account, source, tuple(_event(event) for event in events))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _event(row: Any) -> LinkEvent:
    if not (isinstance(row, list) and len(row) == 6):
        raise ValueError("event")
    offset, ts, tokens, prior_requests, prior_tokens, values = row
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ValueError("offset")
    if not all(_number(n) for n in (ts, tokens, prior_requests, prior_tokens)):
        raise ValueError("event numbers")
    link_values: tuple[LinkValue, ...] | None = None
    if values is not None:
        if not isinstance(values, list) or not all(
            isinstance(v, list) and len(v) == 2 and v[0] in LINK_CLASSES and isinstance(v[1], str)
            for v in values
        ):
            raise ValueError("link values")
        link_values = tuple((v[0], v[1]) for v in values)
    return LinkEvent(offset, float(ts), int(tokens), int(prior_requests), int(prior_tokens),
                     link_values)  # fmt: skip
