"""Raw input records (Kafka message values, file lines, HTTP bodies) through the input
format's adapter: the v1 payloads the pipeline reads, where each came from, and the records
that did not map (dead letters with their reason).

For `v1` input there is no adapter, and the records are the payloads. An adapter that raises
(a bug, never a bad record) costs that record only. The record becomes a dead letter with the
error's type, and the batch goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from detectors.adapters.base import BAD_VALUE, Adapter, Rejected

# Events one input record may hold: a sub-offset below this keeps each event's position for
# exactly-once (offset * MAX_EVENTS_PER_RECORD + position stays exact in a double)
MAX_EVENTS_PER_RECORD = 4096


@dataclass(slots=True)
class Expanded:
    payloads: list[bytes] = field(default_factory=list)  # v1 events, as JSON
    origins: list[int] = field(default_factory=list)  # the input record of each payload
    positions: list[int] = field(default_factory=list)  # its place among that record's events
    rejected: list[tuple[int, Rejected]] = field(default_factory=list)  # (record, why)


def expand(adapter: Adapter | None, records: Sequence[bytes]) -> Expanded:
    expanded = Expanded()
    if adapter is None:
        expanded.payloads = list(records)
        expanded.origins = list(range(len(records)))
        expanded.positions = [0] * len(records)
        return expanded
    for origin, record in enumerate(records):
        try:
            mapped = adapter(record)
        except Exception as error:  # a bug in an adapter: lose this record, not the batch
            expanded.rejected.append(
                (origin, Rejected(0, BAD_VALUE, f"adapter error: {type(error).__name__}"))
            )
            continue
        expanded.rejected += [(origin, rejection) for rejection in mapped.rejected]
        for position, event in enumerate(mapped.events):
            if position >= MAX_EVENTS_PER_RECORD:
                expanded.rejected.append(
                    (origin, Rejected(position, BAD_VALUE, "more events than one record may hold"))
                )
                break
            expanded.payloads.append(orjson.dumps(event))
            expanded.origins.append(origin)
            expanded.positions.append(position)
    return expanded


def sub_offset(offset: int, position: int, adapted: bool) -> int:
    """The offset an event is applied under: its record's, or for an adapted record holding
    several events, one per event (the state recognises a redelivered event by its offset)."""
    return offset * MAX_EVENTS_PER_RECORD + position if adapted else offset
