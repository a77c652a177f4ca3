"""Process-wide runtime settings for the hot path: garbage-collector tuning.

Every event allocates a few dozen short-lived containers (the parsed JSON, the decoded records)
that die with their batch; with CPython's default gen-0 threshold (700) the collector runs
every few events and rescans the survivors. Our objects do not form reference cycles in
normal operation, so a larger gen-0 threshold costs little memory (tens of thousands of
small objects at most) and buys about a quarter more replay throughput (docs/benchmarks.md).
`gc.freeze()` moves everything alive at startup (modules, config) out of the collector's way.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000
OLDER_GENERATION_THRESHOLD = 20


def tune_gc_for_throughput() -> None:
    """Call once at process start, after imports and configuration loading."""
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, OLDER_GENERATION_THRESHOLD, OLDER_GENERATION_THRESHOLD)
