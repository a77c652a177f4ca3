"""From a batch's counted events to the cross-account stage's input (streams/linkage_store.py).

Each request the per-account stage counted becomes a `LinkEvent`: its time and output tokens,
the account's totals before it (from its longest window: an account enters the linkage graph
at its first extraction-shaped request, with what it sent before), and its link values when it
carries an extraction signal. Embedded runs apply one record per event, in stream order; the
live worker groups a batch's events into one record per account, and the records of one input
partition into one message (streams/link_messages.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors.contract import StateLayout
from detectors.event import InferenceEvent
from detectors.features import EventFeatures
from detectors.features.quantities import TOKEN_CAP
from detectors.linkage import extraction_signal, link_values
from detectors.windows import APPLIED, WindowReading
from streams.link_messages import LinkEvent, LinkRecord
from streams.updates import Source

Linked = tuple[str, str, LinkEvent]  # account, the source partition it was read from, the event


def link_events(
    events: Sequence[InferenceEvent],
    readings: Sequence[WindowReading],
    features: Sequence[EventFeatures],
    sources: Sequence[Source],
    layout: StateLayout,
) -> list[Linked]:
    longest = max(range(len(layout.windows)), key=lambda w: layout.windows[w][1])
    requests, tokens = layout.sum_index("requests"), layout.sum_index("output_tokens")
    linked = []
    for event, reading, event_features, source in zip(
        events, readings, features, sources, strict=True
    ):
        if reading.status != APPLIED:
            continue
        totals = reading.totals[longest]
        out = event.usage.output_tokens
        signalled = extraction_signal(event_features)
        linked.append(
            (
                event.account_id,
                source[0],
                LinkEvent(
                    source[1],
                    event.timestamp,
                    out,
                    max(0, totals[requests] - 1),
                    max(0, totals[tokens] - min(out, TOKEN_CAP)),  # the windows cap it
                    link_values(event, event_features) if signalled else None,
                ),
            )
        )
    return linked


def one_per_event(linked: Sequence[Linked]) -> list[LinkRecord]:
    return [LinkRecord(account, source, (event,)) for account, source, event in linked]


def by_account(linked: Sequence[Linked]) -> list[LinkRecord]:
    """One record per account (and source), its events in order: one message each."""
    grouped: dict[tuple[str, str], list[LinkEvent]] = {}
    for account, source, event in linked:
        grouped.setdefault((account, source), []).append(event)
    return [
        LinkRecord(account, source, tuple(events)) for (account, source), events in grouped.items()
    ]
