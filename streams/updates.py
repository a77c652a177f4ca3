"""From an event to its window update: its features reduced to the layout's sums and bins."""

from __future__ import annotations

import operator
from collections.abc import Callable

from detectors.contract import BIN_KEY_STRIDE
from detectors.event import InferenceEvent
from detectors.features import EventFeatures, event_key, extract
from detectors.features.quantities import BINS, SUM_NAMES, sum_values
from detectors.ruleset import BoundRuleSet
from detectors.windows import WindowUpdate

Source = tuple[str, int]  # ("topic:partition", offset) of an event read from Kafka
NO_SOURCE: Source = ("", 0)


class UpdateBuilder:
    """Turns an event's features into its window update for one state layout."""

    def __init__(self, bound: BoundRuleSet) -> None:
        layout = bound.layout
        positions = [SUM_NAMES.index(name) for name in layout.sums]
        self.sums: Callable[[tuple[int, ...]], tuple[int, ...]] = (
            (lambda values: tuple(values[i] for i in positions))
            if len(positions) < 2
            else operator.itemgetter(*positions)  # C-level: no per-counter Python call
        )
        self.bins = tuple(
            (j * BIN_KEY_STRIDE, spec.size, BINS[spec.name]) for j, spec in enumerate(layout.bins)
        )

    def __call__(
        self, event: InferenceEvent, new_model: bool = False, source: Source = NO_SOURCE
    ) -> WindowUpdate:
        return self.with_features(event, new_model, source)[0]

    def with_features(
        self, event: InferenceEvent, new_model: bool = False, source: Source = NO_SOURCE
    ) -> tuple[WindowUpdate, EventFeatures]:
        """The update and the features it was made of (the cross-account stage reads them)."""
        features = extract(event, new_model)
        keys: list[int] = []
        for base, size, values in self.bins:
            for value in values(features):
                keys.append(base + value % size)
        update = WindowUpdate(
            event.account_id,
            event_key(event.event_id),
            event.timestamp,
            self.sums(sum_values(features)),
            tuple(keys),
            *source,
        )
        return update, features
