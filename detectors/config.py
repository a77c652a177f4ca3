"""The configuration model: windows, state, alerting, and the rules (detectors/ruleset.py).

Frozen pydantic models with `extra="forbid"`, so a misspelt key is refused rather than
ignored. Reading the YAML file is I/O and lives in `streams/config_loader.py`; this module
only says what a valid configuration is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    PrivateAttr,
    model_validator,
)

from detectors.contract import StateLayout
from detectors.ruleset import BoundRuleSet, Rule, RuleSetError, bind_rules


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowConfig(StrictModel):
    """A sliding window kept as `seconds / bucket_seconds` buckets with a running total."""

    seconds: PositiveInt
    bucket_seconds: PositiveInt

    @model_validator(mode="after")
    def _buckets_divide_window(self) -> WindowConfig:
        if self.seconds % self.bucket_seconds:
            raise ValueError("bucket_seconds must divide seconds")
        if self.seconds // self.bucket_seconds > 720:
            raise ValueError("at most 720 buckets per window (state size)")
        return self


class StateConfig(StrictModel):
    # Events older than this behind an account's newest event are dropped as late; within it,
    # event ids are remembered so a redelivered event changes nothing.
    dedupe_horizon_seconds: PositiveInt = 3600
    # An event stamped further ahead of the stream (live: of the wall clock) is a producer's
    # clock error, sent to the dead-letter topic as bad_timestamp (detectors/stream_clock.py).
    max_future_skew_seconds: PositiveInt = 3600
    # Event keys are kept this long for re-sends of the same event upstream (a gateway's
    # retry); redeliveries from Kafka are recognised by their offsets at any distance.
    resend_horizon_seconds: PositiveInt = 300
    # Redis keys expire on the wall clock while windows run on event time: state outlives its
    # windows by this much, so a consumer outage up to this long resumes on intact windows.
    max_lag_seconds: NonNegativeInt = 86400
    key_prefix: str = Field("dw", pattern=r"^[A-Za-z0-9_.:-]+$")


class ModelsConfig(StrictModel):
    """When a model counts as newly released (the model-pivot signal): first seen by the
    registry at least `warmup_hours` after the registry began (every model is "first seen" on
    the day distillwatch is installed), and requested within `new_for_hours` of that."""

    warmup_hours: float = Field(6.0, ge=0)
    new_for_hours: float = Field(72.0, gt=0)


class AlertingConfig(StrictModel):
    """Alert lifecycle (detectors/lifecycle.py): an incident per rule and subject, firing at
    its first crossing, resolved once no crossing came for `hold_down_seconds` (event time)."""

    hold_down_seconds: PositiveInt = 6 * 3600
    runbook_base_url: str = "https://distillwatch.dev/runbooks/"
    min_severity: Literal["info", "warning", "high", "critical"] = "info"

    @model_validator(mode="before")
    @classmethod
    def _no_cooldown(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cooldown_seconds" in data:
            raise ValueError(
                "cooldown_seconds was replaced by hold_down_seconds: an alert now stays active "
                "(repeat crossings counted as suppressed) until clear that long (docs/alerting.md)"
            )
        return data


class LinkageConfig(StrictModel):
    """Cross-account clusters (detectors/linkage.py, docs/linkage.md): in memory in replay and
    backtest, in Redis behind the linkage topic in the live worker."""

    enabled: bool = True
    min_members: PositiveInt = 20  # detection.md: >= 20 linked accounts...
    critical_members: PositiveInt = 200  # ...>= 200 severe
    # Share of the members' requests that carry an extraction signal: a shared frame and
    # sampling tuple on a few requests of ordinary traffic is not a campaign (the benign
    # clusters of the survey: 0.01; the simulated campaigns: 0.27-0.95).
    min_signal_share: float = Field(0.1, gt=0, le=1)
    # Re-emitted (same dedup_key: an update, not a new page) when the cluster grew by this
    # factor, or has new members this long (event time) after it was last emitted.
    growth: float = Field(1.25, gt=1)
    refresh_seconds: PositiveInt = 3600
    # Links and clusters are kept per window of event time (a fresh graph each window, the
    # previous one kept while the next fills): the stage's state stays bounded, and a campaign
    # that runs on re-forms in minutes, under the name its alerts already carry.
    window_seconds: PositiveInt = 7 * 86400
    severity: Literal["info", "warning", "high", "critical"] = "high"
    tags: tuple[str, ...] = ("mitre-atlas:AML.T0024.002", "distillation:hydra")


class DetectionConfig(StrictModel):
    _bound: BoundRuleSet | None = PrivateAttr(default=None)
    schema_version: Literal[1] = 1
    windows: dict[str, WindowConfig]
    state: StateConfig = Field(default_factory=lambda: StateConfig())
    alerting: AlertingConfig = Field(default_factory=lambda: AlertingConfig())
    models: ModelsConfig = Field(default_factory=lambda: ModelsConfig())
    linkage: LinkageConfig = Field(default_factory=lambda: LinkageConfig())
    max_event_bytes: PositiveInt = 4 * 1024 * 1024
    # Rule files (globs relative to this file); the loader reads them into `rules`.
    rule_files: tuple[str, ...] = ("rules/*.yaml",)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _rules_fit_together(self) -> DetectionConfig:
        if not self.windows:
            raise ValueError("at least one window is needed")
        if self.alerting.hold_down_seconds < 2 * self.linkage.refresh_seconds:
            # An active cluster is re-reported at its first extraction request refresh_seconds
            # after the last report: a hold-down without margin over that would resolve a
            # campaign between two of its reports.
            raise ValueError(
                "alerting.hold_down_seconds must be at least twice linkage.refresh_seconds"
            )
        try:
            bound = bind_rules(self.rules, self.window_triples)
        except RuleSetError as error:
            raise ValueError(str(error)) from None
        object.__setattr__(self, "_bound", bound)
        return self

    @property
    def window_names(self) -> tuple[str, ...]:
        return tuple(self.windows)

    @property
    def window_triples(self) -> tuple[tuple[str, int, int], ...]:
        return tuple((n, w.seconds, w.bucket_seconds) for n, w in self.windows.items())

    @property
    def bound(self) -> BoundRuleSet:
        """The rules built and bound to the state layout (done once, at validation)."""
        bound: BoundRuleSet | None = getattr(self, "_bound", None)
        if bound is None:  # a copy made without validation
            bound = bind_rules(self.rules, self.window_triples)
            object.__setattr__(self, "_bound", bound)
        return bound

    @property
    def layout(self) -> StateLayout:
        return self.bound.layout
