"""BucketedWindow against a brute-force recount of the same events."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.contract import BIN_KEY_STRIDE, Bins, StateLayout
from detectors.windows import BucketedWindow, WindowSpec

SPEC = WindowSpec("1m", 60, 10)
N_SUMS, N_BINS = 2, 2


def window() -> BucketedWindow:
    return BucketedWindow(SPEC, N_SUMS, N_BINS)


def brute_force(events: list[tuple[float, int, tuple[int, ...]]]) -> tuple[int, ...]:
    """Replay the rules literally: keep every counted event, window = buckets (head-n, head];
    recount the sums and every histogram's filled bins and sum of squares from scratch."""
    head: int | None = None
    kept: list[tuple[int, int, tuple[int, ...]]] = []
    for ts, value, keys in events:
        bucket = SPEC.bucket_of(ts)
        if head is not None and bucket <= head - SPEC.n_buckets:
            continue
        head = bucket if head is None else max(head, bucket)
        kept.append((bucket, value, keys))
    assert head is not None
    live = [(v, keys) for b, v, keys in kept if b > head - SPEC.n_buckets]
    bins = Counter(key for _, keys in live for key in keys)
    filled = [sum(1 for k in bins if k // BIN_KEY_STRIDE == j) for j in range(N_BINS)]
    sumsq = [sum(c * c for k, c in bins.items() if k // BIN_KEY_STRIDE == j) for j in range(N_BINS)]
    return (sum(v for v, _ in live), len(live), *filled, *sumsq)


def test_buckets_fall_out_as_the_head_moves() -> None:
    w = window()
    w.add(0.0, (1, 0), (3,))
    w.add(35.0, (1, 0), (3,))
    assert w.totals() == (2, 0, 1, 0, 4, 0)
    w.add(65.0, (1, 0), ())  # bucket 6: bucket 0 falls out of (0, 6]
    assert w.totals() == (2, 0, 1, 0, 1, 0)
    w.add(200.0, (5, 0), (BIN_KEY_STRIDE + 1,))  # jump past the whole window
    assert w.totals() == (5, 0, 0, 1, 0, 1)


def test_late_event_is_not_counted() -> None:
    w = window()
    w.add(100.0, (1, 0))
    assert w.add(30.0, (1, 0)) is False
    assert w.add(45.0, (1, 0)) is False  # bucket 4: window is (4, 10]
    assert w.add(55.0, (1, 0)) is True  # bucket 5 is inside
    assert w.totals()[0] == 2


keys_strategy = st.lists(
    st.one_of(st.integers(0, 4), st.integers(BIN_KEY_STRIDE, BIN_KEY_STRIDE + 3)), max_size=4
).map(tuple)


@given(
    st.lists(
        st.tuples(st.floats(0, 600, allow_nan=False), st.integers(1, 5), keys_strategy),
        min_size=1,
        max_size=60,
    )
)
def test_running_totals_equal_a_recount(events: list[tuple[float, int, tuple[int, ...]]]) -> None:
    w = window()
    for ts, value, keys in events:
        w.add(ts, (value, 1), keys)
    assert w.totals() == brute_force(events)
    assert sum(b.sums[0] for b in w.buckets.values()) == w.totals()[0]


def test_a_histogram_larger_than_the_bin_key_stride_is_refused() -> None:
    """A bin key is measure index * stride + bin: a histogram with more bins than the stride
    would count into its neighbour's bins."""
    windows = [("1h", 3600, 300)]
    assert StateLayout.from_measures([Bins("payload", BIN_KEY_STRIDE)], windows).bins
    with pytest.raises(ValueError, match=r"payload.*at most"):
        StateLayout.from_measures([Bins("payload", BIN_KEY_STRIDE + 1)], windows)
    with pytest.raises(ValueError, match=r"payload.*at least 1"):
        StateLayout.from_measures([Bins("payload", 0)], windows)
