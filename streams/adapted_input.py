"""Gateway records (Kafka message values, file lines, HTTP bodies) through their format's
adapter: the v1 events they hold, ready to produce or replay, and the records that did not map.

Each mapped event is checked by the v1 decoder here, so a record whose event would be
dead-lettered downstream is refused now, while its original text is at hand. The original is
what goes to the dead-letter topic, because the gateway's record is what a fix replays. An
adapter that raises (a bug, never a bad record) costs that record only: it becomes a dead
letter with the error's type, and is logged.

Records that are no inference at all (`not_an_inference`: an OTLP export of other spans, a
gateway entry for a request refused before the model) are skipped, not dead-lettered. They
are counted apart: they are normal traffic on a shared topic, not bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from detectors.adapters.base import BAD_VALUE, NOT_AN_INFERENCE, Adapter, Rejected
from detectors.decode import DEFAULT_MAX_EVENT_BYTES, decode_event
from detectors.errors import EventDecodeError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Expanded:
    payloads: list[bytes] = field(default_factory=list)  # v1 events, as JSON
    keys: list[bytes] = field(default_factory=list)  # each event's account id (the Kafka key)
    rejected: list[tuple[int, Rejected]] = field(default_factory=list)  # (record, why)
    skipped: int = 0  # records that are no inference (not dead letters)
    # the parts of records that are no inference, skipped alone or with their whole record: a
    # Kong entry without the AI proxy's statistics, an OTLP export without a model-call span
    skipped_parts: int = 0

    def rejected_by_record(self) -> dict[int, list[Rejected]]:
        """The rejections of each record that had any: one dead letter per record."""
        grouped: dict[int, list[Rejected]] = {}
        for origin, why in self.rejected:
            grouped.setdefault(origin, []).append(why)
        return grouped


def expand(
    adapter: Adapter, records: Sequence[bytes], max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Expanded:
    expanded = Expanded()
    for origin, record in enumerate(records):
        try:
            mapped = adapter(record)
        except Exception as error:  # a bug in an adapter: lose this record, not the batch
            log.exception("input adapter failed on a record (dead-lettered)")
            expanded.rejected.append(
                (origin, Rejected(0, BAD_VALUE, f"adapter error: {type(error).__name__}"))
            )
            continue
        if (
            mapped.rejected
            and not mapped.events
            and all(why.reason == NOT_AN_INFERENCE for why in mapped.rejected)
        ):
            expanded.skipped += 1
            expanded.skipped_parts += len(mapped.rejected)
            continue
        for why in mapped.rejected:
            if why.reason == NOT_AN_INFERENCE:
                expanded.skipped_parts += 1
            else:
                expanded.rejected.append((origin, why))
        for event in mapped.events:
            payload = orjson.dumps(event)
            try:
                decode_event(payload, max_event_bytes)
            except EventDecodeError as error:
                where = f"event_id {str(event.get('event_id'))[:64]!r}"
                expanded.rejected.append(
                    (origin, Rejected(-1, error.reason, f"{where}: {error.detail}"))
                )
                continue
            expanded.payloads.append(payload)
            expanded.keys.append(str(event["account_id"]).encode())
    return expanded
