"""BucketedWindow against a brute-force recount of the same events."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from detectors.windows import N_COUNTERS, BucketedWindow, WindowSpec

SPEC = WindowSpec("1m", 60, 10)


def brute_force(events: list[tuple[float, int]], spec: WindowSpec) -> list[int]:
    """Replay the rules literally: keep every counted event, window = buckets (head-n, head]."""
    head: int | None = None
    kept: list[tuple[int, int]] = []
    for ts, value in events:
        bucket = spec.bucket_of(ts)
        if head is not None and bucket <= head - spec.n_buckets:
            continue
        head = bucket if head is None else max(head, bucket)
        kept.append((bucket, value))
    assert head is not None
    total = sum(v for b, v in kept if b > head - spec.n_buckets)
    return [total] + [0] * (N_COUNTERS - 1)


def test_buckets_fall_out_as_the_head_moves() -> None:
    window = BucketedWindow(SPEC)
    window.add(0.0, (1, 0, 0, 0, 0))
    window.add(35.0, (1, 0, 0, 0, 0))
    assert window.totals[0] == 2
    window.add(65.0, (1, 0, 0, 0, 0))  # bucket 6: bucket 0 falls out of (0, 6]
    assert window.totals[0] == 2
    window.add(200.0, (5, 0, 0, 0, 0))  # jump past the whole window
    assert window.totals[0] == 5


def test_late_event_is_not_counted() -> None:
    window = BucketedWindow(SPEC)
    window.add(100.0, (1, 0, 0, 0, 0))
    assert window.add(30.0, (1, 0, 0, 0, 0)) is False
    assert window.add(45.0, (1, 0, 0, 0, 0)) is False  # bucket 4: window is (4, 10]
    assert window.add(55.0, (1, 0, 0, 0, 0)) is True  # bucket 5 is inside
    assert window.totals[0] == 2


@given(
    st.lists(
        st.tuples(st.floats(0, 600, allow_nan=False), st.integers(1, 5)), min_size=1, max_size=60
    )
)
def test_running_total_equals_a_recount(events: list[tuple[float, int]]) -> None:
    window = BucketedWindow(SPEC)
    for ts, value in events:
        window.add(ts, (value, 0, 0, 0, 0))
    assert window.totals == brute_force(events, SPEC)
    assert sum(b[0] for b in window.buckets.values()) == window.totals[0]
