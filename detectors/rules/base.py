"""Shared machinery of windowed detectors: params with windows and a minimum of requests,
index binding, and risk as the best window. Each detector module supplies its own logic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field, PositiveInt

from detectors.contract import (
    AccountView,
    Detector,
    DetectorParams,
    Explanation,
    Measure,
    StateLayout,
    Sum,
)

# Counted by every windowed detector: requests whose newest user input was logged as text
PROMPT_TEXT = "prompt_text"
# Below this share of requests with prompt text, an alert's summary says the text signals saw
# only part of the window (a gateway with message logging off, or one that redacts it)
MOSTLY_TEXT = 0.5


class WindowedParams(DetectorParams):
    windows: tuple[str, ...] = Field(("24h",), min_length=1)  # judged in each, best one counts
    # Shares are judged only over this many requests of the window: decisions within tens of
    # requests, never on a handful.
    min_requests: PositiveInt = 20


def rounded(value: float, digits: int = 4) -> float:
    return round(value, digits)


class WindowedDetector:
    """Base of the catalogue's detectors. Subclasses set `name`, `Params`, `description`,
    `MEASURES`, and implement `window_risk` and `describe`."""

    name: ClassVar[str]
    Params: ClassVar[type[DetectorParams]] = WindowedParams
    description: ClassVar[str]
    MEASURES: ClassVar[tuple[Measure, ...]] = ()

    def __init__(self, params: DetectorParams) -> None:
        if not isinstance(params, self.Params):
            raise TypeError(f"{self.name} takes {self.Params.__name__}")
        self.params = params
        self.layout: StateLayout | None = None
        self._windows: tuple[int, ...] = ()

    def measures(self) -> tuple[Measure, ...]:
        return (*self.MEASURES, Sum(PROMPT_TEXT))

    def windows(self) -> tuple[str, ...]:
        windows: tuple[str, ...] = getattr(self.params, "windows", ("24h",))
        return windows

    def bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self.layout = layout
        self._windows = tuple(layout.window_index(name) for name in self.windows())
        self._req = layout.sum_index("requests")
        self._text = layout.sum_index(PROMPT_TEXT)
        self._bind(layout, peers)

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        """Resolve the indexes of the declared measures."""

    def window_risk(self, view: AccountView, window: int) -> float:
        """Below `min_requests` the window is not judged yet, and its risk is the progress to
        that minimum; from there on, the detector's own conditions."""
        t = view.totals[window]
        requests = t[self._req]
        minimum: int = getattr(self.params, "min_requests", 1)
        if requests < minimum:
            return requests / minimum
        return self.judged_risk(view, window, t, requests)

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        """Threshold units of the detector's conditions, on a window with enough requests."""
        raise NotImplementedError

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        """The numbers behind window_risk in one window, with their thresholds."""
        raise NotImplementedError

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        raise NotImplementedError

    def severity(self, view: AccountView, numbers: dict[str, Any]) -> str | None:
        return None

    def cached_window_risk(self, view: AccountView, window: int) -> float:
        """window_risk, computed once per event however many rules read it."""
        key = (id(self), window)
        value = view.memo.get(key)
        if value is None:
            value = view.memo[key] = self.window_risk(view, window)
        return value

    def risk(self, view: AccountView) -> float:
        best = 0.0
        for window in self._windows:  # a loop, not max(genexpr): this runs on every event
            value = self.cached_window_risk(view, window)
            if value > best:
                best = value
        return best

    def best_window(self, view: AccountView) -> int:
        return max(self._windows, key=lambda w: self.window_risk(view, w))

    def explain(self, view: AccountView) -> Explanation:
        window = self.best_window(view)
        name = view.layout.window_names[window]
        numbers = self.describe(view, window)
        numbers["window"] = name
        numbers["risk"] = rounded(self.window_risk(view, window), 3)
        requests, with_text = view.totals[window][self._req], view.totals[window][self._text]
        numbers["requests_with_prompt_text"] = with_text
        summary = self.summary(view, name, numbers)
        if with_text < requests * MOSTLY_TEXT:
            # The text signals (templates, reasoning, rubric, instruction and capability
            # markers) are blind without it: their silence is no evidence of innocence
            summary += (
                f" Prompt text was logged for only {with_text} of {requests} requests: the "
                "signals read from it saw those alone."
            )
        return Explanation(
            window=name,
            evidence={self.name: numbers},
            summary=summary,
            severity=self.severity(view, numbers),
        )


class ShareParams(WindowedParams):
    min_share: float = Field(0.3, gt=0, le=1)


class ShareDetector(WindowedDetector):
    """A marker's share of the window's requests: `COUNTER` / requests >= min_share."""

    COUNTER: ClassVar[str]
    WHAT: ClassVar[str]  # how the summary names the marked requests
    Params = ShareParams
    params: ShareParams

    def _bind(self, layout: StateLayout, peers: Mapping[str, Detector]) -> None:
        self._hits = layout.sum_index(self.COUNTER)

    def judged_risk(self, view: AccountView, window: int, t: Sequence[int], requests: int) -> float:
        return t[self._hits] / requests / self.params.min_share

    def describe(self, view: AccountView, window: int) -> dict[str, Any]:
        t = view.totals[window]
        return {
            "requests": t[self._req],
            f"{self.COUNTER}_requests": t[self._hits],
            "share": rounded(t[self._hits] / t[self._req]) if t[self._req] else 0.0,
            "thresholds": {
                "min_requests": self.params.min_requests,
                "min_share": self.params.min_share,
            },
        }

    def summary(self, view: AccountView, window: str, numbers: dict[str, Any]) -> str:
        return (
            f"In the last {window}, {numbers['share']:.0%} of {numbers['requests']} requests "
            f"{self.WHAT}."
        )
