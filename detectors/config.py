"""The configuration model: windows, state, alerting and per-detector thresholds.

Frozen pydantic models with `extra="forbid"`, so a misspelt key is refused rather than
ignored. Reading the YAML file is I/O and lives in `streams/config_loader.py`; this module
only says what a valid configuration is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


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


class VolumeLimits(StrictModel):
    """What one account of a tier may do in one window before its volume counts as excessive."""

    requests: PositiveInt
    input_tokens: PositiveInt
    output_tokens: PositiveInt


class VolumeHarvestConfig(StrictModel):
    enabled: bool = True
    shadow: bool = False  # evaluate and count, but emit no alert
    min_requests: PositiveInt = 200  # harvest shape is judged only on this many requests
    harvest_windows: tuple[str, ...] = ("1h", "24h")
    near_max_ratio: float = Field(0.8, gt=0, le=1)  # output >= ratio * max_tokens is "near max"
    # Outputs capped by a tiny max_tokens (evaluation harnesses use 1) are not harvest: the
    # attack collects long outputs, so only requests allowing at least this many count.
    near_max_min_max_tokens: PositiveInt = 256
    near_max_share: float = Field(0.8, gt=0, le=1)
    single_turn_share: float = Field(0.95, gt=0, le=1)
    critical_volume_ratio: float = Field(3.0, gt=1)
    tiers: dict[str, dict[str, VolumeLimits]]

    @model_validator(mode="after")
    def _has_default_tier(self) -> VolumeHarvestConfig:
        if "default" not in self.tiers:
            raise ValueError("tiers must contain a 'default' tier for accounts without one")
        return self


class DetectorsConfig(StrictModel):
    volume_harvest: VolumeHarvestConfig


class StateConfig(StrictModel):
    # Events older than this behind an account's newest event are dropped as late; within it,
    # event ids are remembered so a redelivered event changes nothing.
    dedupe_horizon_seconds: PositiveInt = 3600
    key_prefix: str = Field("dw", pattern=r"^[A-Za-z0-9_.:-]+$")


class AlertingConfig(StrictModel):
    cooldown_seconds: PositiveInt = 3600  # one firing alert per rule and subject per cooldown
    runbook_base_url: str = "https://distillwatch.dev/runbooks/"
    min_severity: Literal["info", "warning", "high", "critical"] = "info"


class DetectionConfig(StrictModel):
    schema_version: Literal[1] = 1
    windows: dict[str, WindowConfig]
    state: StateConfig = Field(default_factory=lambda: StateConfig())
    alerting: AlertingConfig = Field(default_factory=lambda: AlertingConfig())
    max_event_bytes: PositiveInt = 4 * 1024 * 1024
    detectors: DetectorsConfig

    @model_validator(mode="after")
    def _windows_referenced_exist(self) -> DetectionConfig:
        if not self.windows:
            raise ValueError("at least one window is needed")
        vh = self.detectors.volume_harvest
        for name in vh.harvest_windows:
            if name not in self.windows:
                raise ValueError(
                    f"detectors.volume_harvest.harvest_windows names unknown window {name!r}"
                )
        for tier, limits in vh.tiers.items():
            for name in limits:
                if name not in self.windows:
                    raise ValueError(
                        f"detectors.volume_harvest.tiers.{tier} names unknown window {name!r}"
                    )
        return self

    @property
    def window_names(self) -> tuple[str, ...]:
        return tuple(self.windows)
