"""Consumer lag per partition (streams/consumer_lag.py): high watermark minus the next offset
to process, published only for the partitions the worker holds."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from streams.consumer_lag import ConsumerLag
from streams.metrics import Metrics


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Event:
    message: Message


def lag_series(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in registry.collect()
        if family.name == "distillwatch_consumer_lag_messages"
        for sample in family.samples
    }


def test_lag_is_the_high_watermark_minus_the_next_offset_and_follows_the_assignment() -> None:
    registry = CollectorRegistry()
    lag = ConsumerLag(Metrics.create(registry).consumer_lag)
    ends = {TP("requests", 0): 120, TP("requests", 1): 40, TP("requests", 2): None}
    lag.processed([Event(Message("requests", 0, offset)) for offset in (7, 99, 12)])
    lag.processed([Event(Message("requests", 1, 39))])

    lag.publish(ends, ends.get)
    # partition 2: nothing fetched yet, so no figure rather than a wrong one
    assert lag_series(registry) == {("requests", "0"): 20.0, ("requests", "1"): 0.0}

    lag.publish([TP("requests", 1)], ends.get)  # partition 0 moved to another worker
    assert lag_series(registry) == {("requests", "1"): 0.0}


def test_a_partition_revoked_while_publishing_is_skipped_not_raised() -> None:
    registry = CollectorRegistry()
    lag = ConsumerLag(Metrics.create(registry).consumer_lag)
    lag.processed([Event(Message("requests", 0, 5)), Event(Message("requests", 1, 5))])

    def highwater(tp: TP) -> int:
        if tp.partition == 0:
            raise AssertionError("Partition is not assigned")  # aiokafka, mid-rebalance
        return 10

    lag.publish([TP("requests", 0), TP("requests", 1)], highwater)
    assert lag_series(registry) == {("requests", "1"): 4.0}
