"""Rules as data: a rule binds a catalogue detector to params, a mode, a severity, tags, a
runbook and exceptions; a bound rule set is what the pipeline runs.

Modes: `alert` findings become alerts; `shadow` findings are counted and reported by backtest,
never alerted (and never consume the live rule's cooldown); `off` rules are not evaluated.
A combining rule (extraction_score) evaluates its members whatever their mode, except `off`.
Exceptions (approved evaluation partners, internal red teams) name accounts or orgs with an
expiry date and a reason; an expired exception no longer applies (judged on event time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from detectors.contract import Measure, StateLayout
from detectors.features.quantities import BINS, SUMS
from detectors.rules import CATALOG
from detectors.rules.base import WindowedDetector

Mode = Literal["alert", "shadow", "off"]
Severity = Literal["info", "warning", "high", "critical"]


class RuleException(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    accounts: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    expires: date  # the exception stops applying at the start of this day (UTC)
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _names_someone(self) -> RuleException:
        if not self.accounts and not self.orgs:
            raise ValueError("an exception names at least one account or org")
        return self

    @property
    def expires_at(self) -> float:
        return datetime(
            self.expires.year, self.expires.month, self.expires.day, tzinfo=UTC
        ).timestamp()


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    detector: str
    description: str = Field(min_length=1)
    mode: Mode = "alert"
    severity: Severity = "warning"
    params: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    runbook: str | None = None  # URL; default: the configured runbook base + rule id
    exceptions: tuple[RuleException, ...] = ()

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML 1.1 reads an unquoted `off` as false: `mode: off` means off."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _detector_and_params(self) -> Rule:
        detector = CATALOG.get(self.detector)
        if detector is None:
            raise ValueError(
                f"unknown detector {self.detector!r}; choose from {', '.join(sorted(CATALOG))}"
            )
        try:
            detector.Params.model_validate(self.params)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"params.{where}: {first['msg']}") from None
        return self

    def build(self) -> WindowedDetector:
        detector = CATALOG[self.detector]
        return detector(detector.Params.model_validate(self.params))

    def excepted(self, account_id: str, org_id: str | None, at: float) -> bool:
        for exception in self.exceptions:
            if at < exception.expires_at and (
                account_id in exception.accounts
                or (org_id is not None and org_id in exception.orgs)
            ):
                return True
        return False


class RuleSetError(ValueError):
    """Rules that are each valid but do not fit together (ids, windows, members)."""


@dataclass(frozen=True)
class BoundRule:
    rule: Rule
    detector: WindowedDetector


@dataclass(frozen=True)
class BoundRuleSet:
    layout: StateLayout
    rules: tuple[BoundRule, ...]  # every rule not `off`, in file order


def bind_rules(rules: Sequence[Rule], windows: Sequence[tuple[str, int, int]]) -> BoundRuleSet:
    """Build every rule's detector, lay the state out, bind; refuse what does not fit."""
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise RuleSetError(f"rule id {rule.id!r} is defined twice")
        seen.add(rule.id)
    for rule in rules:
        for member in rule.params.get("members") or ():
            name = member.get("rule") if isinstance(member, dict) else None
            if name not in seen:
                raise RuleSetError(f"rule {rule.id}: member {name!r} is not a rule id")
    live = [rule for rule in rules if rule.mode != "off"]
    built = {rule.id: rule.build() for rule in rules}
    window_names = {name for name, _, _ in windows}
    measures: list[Measure] = []
    # The layout holds the measures of every rule, `off` ones too: switching a rule off or on
    # is a hot-reloadable change of mode, not a change of state layout.
    for rule in rules:
        detector = built[rule.id]
        unknown = [w for w in detector.windows() if w not in window_names]
        if unknown:
            raise RuleSetError(f"rule {rule.id}: unknown window(s) {', '.join(unknown)}")
        for measure in detector.measures():
            if measure.name not in (SUMS if not hasattr(measure, "size") else BINS):
                raise RuleSetError(f"rule {rule.id}: unknown measure {measure.name!r}")
        measures += detector.measures()
    layout = StateLayout.from_measures(measures, windows)
    peers = {rule.id: built[rule.id] for rule in live}
    for rule in live:
        try:
            built[rule.id].bind(layout, peers)
        except (KeyError, ValueError) as error:
            raise RuleSetError(f"rule {rule.id}: {error}") from None
    return BoundRuleSet(layout, tuple(BoundRule(rule, built[rule.id]) for rule in live))
