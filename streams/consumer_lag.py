"""Consumer lag per partition: how many messages of each partition this worker holds it has not
processed yet (the partition's high watermark minus the next offset to process).

The worker notes the next offset after each delivered batch; a timer reads the consumer's high
watermarks (known from its fetches, no request) and publishes the difference. A partition the
worker no longer holds loses its series, so a rebalance leaves no stale lag behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from prometheus_client import Gauge


class TopicPartition(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


class ConsumerLag:
    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._next: dict[tuple[str, int], int] = {}
        self._published: set[tuple[str, int]] = set()

    def processed(self, events: Sequence[Any]) -> None:
        """After a delivered batch of faust events: the next offset of each partition."""
        for event in events:
            message = event.message
            key = (message.topic, message.partition)
            self._next[key] = max(self._next.get(key, 0), message.offset + 1)

    def publish(
        self, assignment: Iterable[TopicPartition], highwater: Callable[[Any], int | None]
    ) -> None:
        held: set[tuple[str, int]] = set()
        for tp in assignment:
            key = (tp.topic, tp.partition)
            held.add(key)
            try:
                end = highwater(tp)
            except Exception:  # revoked since assignment() was read (a rebalance)
                continue  # aiokafka asserts the partition is assigned; the next tick has it
            if end is None or key not in self._next:
                continue  # nothing fetched or nothing processed yet: no figure to give
            self._gauge.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(0, end - self._next[key])
            )
            self._published.add(key)
        for topic, partition in self._published - held:
            self._gauge.remove(topic, str(partition))
            self._next.pop((topic, partition), None)
        self._published &= held
