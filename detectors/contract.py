"""The detector contract: what a detector declares, reads and returns.

A detector is built from its validated params (`Detector.Params`, a strict pydantic model) and
declares the per-window *measures* it needs:
  - `Sum(name)`: one counter per window (requests, completed outputs, marker hits...);
  - `Bins(name, size)`: a hashed histogram per window. Each event adds 1 to one or more bins
    (a template fingerprint, a token id, an hour of day). The store keeps, per window, how many
    bins are non-zero (`filled`: a linear-counting distinct estimate) and the sum of squared bin
    counts (`sumsq`: sum(c^2) / n^2 is the chance that two requests share a bin, a concentration
    that needs no top-k list). Both are maintained incrementally, so reading them is O(1).
The store lays the state out from the union of the bound rules' declarations (`StateLayout`)
and puts the layout's version in its keys: a change of layout starts fresh keys instead of
reading live ones with the wrong meaning.

`risk(view)` is cheap, runs on every event, and is in threshold units: 1.0 means the rule fires.
`explain(view)` runs only when risk >= 1 and builds the evidence (numbers, thresholds,
fingerprints; never prompt text). The contract suite (tests/contract) holds every entry of
`detectors.rules.CATALOG` to this.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict


class DetectorParams(BaseModel):
    """Base of every detector's params: frozen, and an unknown key is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Sum:
    name: str  # a key of detectors.features.quantities.SUMS


@dataclass(frozen=True, slots=True)
class Bins:
    name: str  # a key of detectors.features.quantities.BINS
    size: int  # number of hashed bins


Measure = Sum | Bins
# A bin's state key is measure index * stride + bin (bin < size <= stride). Small keys keep the
# state small: with up to 8 histograms every key fits MessagePack's 16-bit integers.
BIN_KEY_STRIDE = 1 << 13


@dataclass(frozen=True, slots=True)
class StateLayout:
    """Which counters every window keeps, in order. Totals of one window are a flat tuple:
    the sums, then `filled` per Bins measure, then `sumsq` per Bins measure."""

    sums: tuple[str, ...]
    bins: tuple[Bins, ...]
    windows: tuple[tuple[str, int, int], ...]  # (name, seconds, bucket_seconds)
    _sum_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _bin_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sum_index", {n: i for i, n in enumerate(self.sums)})
        object.__setattr__(self, "_bin_index", {b.name: j for j, b in enumerate(self.bins)})

    @classmethod
    def from_measures(
        cls, measures: Sequence[Measure], windows: Sequence[tuple[str, int, int]]
    ) -> StateLayout:
        sums: dict[str, None] = {"requests": None}  # every layout counts requests
        bins: dict[str, Bins] = {}
        for measure in measures:
            if isinstance(measure, Sum):
                sums.setdefault(measure.name, None)
            else:
                if not 1 <= measure.size <= BIN_KEY_STRIDE:
                    raise ValueError(
                        f"measure {measure.name!r} declared with {measure.size} bins: a "
                        f"histogram has at least 1 and at most {BIN_KEY_STRIDE} bins"
                    )
                known = bins.setdefault(measure.name, measure)
                if known.size != measure.size:
                    raise ValueError(
                        f"measure {measure.name!r} declared with sizes {known.size} and "
                        f"{measure.size}: detectors sharing a histogram must agree on its size"
                    )
        return cls(tuple(sums), tuple(sorted(bins.values(), key=lambda b: b.name)), tuple(windows))

    @property
    def version(self) -> str:
        """Changes whenever the meaning of a stored number would change."""
        bins = [(b.name, b.size) for b in self.bins]
        text = repr((self.sums, bins, self.windows, BIN_KEY_STRIDE))
        return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()

    @property
    def window_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.windows)

    @property
    def width(self) -> int:
        return len(self.sums) + 2 * len(self.bins)

    def window_index(self, name: str) -> int:
        return self.window_names.index(name)

    def sum_index(self, name: str) -> int:
        return self._sum_index[name]

    def bins_index(self, name: str) -> int:
        return self._bin_index[name]

    def filled_index(self, name: str) -> int:
        return len(self.sums) + self._bin_index[name]

    def sumsq_index(self, name: str) -> int:
        return len(self.sums) + len(self.bins) + self._bin_index[name]


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a detector reads for one account right after one of its events was counted."""

    account_id: str
    tier: str
    totals: Sequence[Sequence[int]]  # per window (layout order), the flat totals tuple
    layout: StateLayout
    # (detector id, window) -> window risk, so a combining rule reuses its members' values
    memo: dict[tuple[int, int], float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Explanation:
    """A detector's verdict with its reasons; the pipeline adds the rule's identity."""

    window: str  # the window the evidence covers
    evidence: dict[str, Any]  # numbers, thresholds and fingerprints only
    summary: str  # one sentence for on-call
    severity: str | None = None  # raise the rule's severity (never lowers it)


class Detector(Protocol):
    """One attack's logic. Built by `CATALOG[name](params)`; pure: no I/O, no clock."""

    name: ClassVar[str]
    Params: ClassVar[type[DetectorParams]]
    description: ClassVar[str]

    def measures(self) -> tuple[Measure, ...]:
        """The state this detector reads, in every window."""

    def windows(self) -> tuple[str, ...]:
        """The windows this detector judges (each must be configured)."""

    def bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        """Resolve indexes once; `peers` are the other bound rules by rule id."""

    def window_risk(self, view: AccountView, window: int) -> float:
        """Threshold units in one window (by layout index): 1.0 is the rule's threshold."""

    def cached_window_risk(self, view: AccountView, window: int) -> float:
        """window_risk memoised on the view: a combining rule reuses its members' values."""

    def risk(self, view: AccountView) -> float:
        """max of window_risk over this detector's windows: cheap, runs on every event."""

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        """The numbers behind window_risk in one window, with their thresholds."""

    def severity(self, view: AccountView, numbers: dict[str, Any]) -> str | None:
        """A severity these numbers call for beyond the rule's own, if any."""

    def explain(self, view: AccountView) -> Explanation:
        """Only called when risk(view) >= 1."""


# --- small numeric helpers shared by detectors -------------------------------------------


def share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


def concentration(sumsq: int, total: int) -> float:
    """sum(c^2) / n^2 over a histogram: the chance two random items share a bin (1.0 when all
    items fall in one bin; about 1/k for k equally used bins)."""
    return sumsq / (total * total) if total > 0 else 0.0


def distinct_estimate(filled: int, size: int) -> float:
    """Linear counting: distinct values behind `filled` non-empty bins out of `size`."""
    if filled <= 0:
        return 0.0
    if filled >= size:
        return size * math.log(size)  # saturated: at least this many
    return -size * math.log(1.0 - filled / size)


def ceiling_progress(value: float, ceiling: float) -> float:
    """Threshold units for a "must be at most `ceiling`" condition on a share in [0, 1]:
    1.0 at the ceiling, above 1 below it."""
    room = 1.0 - ceiling
    if room <= 0:
        return math.inf if value <= ceiling else 0.0
    return max(0.0, (1.0 - value) / room)
