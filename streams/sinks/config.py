"""The sinks file: which receivers get alerts, filtered how, retried how long.

Frozen pydantic models with `extra="forbid"` (a misspelt key is refused), one model per sink
`type` behind a discriminated union. Secrets are read from the environment at load
(`secrets_env`, `routing_key_env`, `url_env`); inline values are accepted but belong in test
set-ups only. A disabled sink never needs its variables, so the example file loads anywhere.

`load_sinks_config(path)` refuses a bad file with a `ConfigError` naming the file, the key
path (with the sink's name) and the reason, never a secret's value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PositiveFloat,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from detectors.config import StrictModel
from detectors.errors import ConfigError
from streams.config_loader import parse_yaml

Severity = Literal["info", "warning", "high", "critical"]
SinkName = Annotated[str, Field(pattern=r"^[a-z0-9-]+$", min_length=1, max_length=63)]
_URL = re.compile(r"^https?://\S+$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]+={0,2}$")
_SEPARATORS = re.compile(r"[\s,]+")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class KeyedValueError(ValueError):
    """A refusal that concerns one key of the model it is raised in (the loader adds the key
    to the location pydantic reports)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _check_url(value: str, key: str) -> str:
    if not _URL.match(value):
        raise KeyedValueError(key, "must be an http:// or https:// URL")
    return value


def _environ(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context
    if isinstance(context, Mapping) and "environ" in context:
        environ: Mapping[str, str] = context["environ"]
        return environ
    return os.environ


def _from_env(info: ValidationInfo, variable: str, key: str) -> str:
    """The variable's value; the loader's message names the sink beside the key."""
    value = _environ(info).get(variable)
    if value is None:
        raise KeyedValueError(key, f"environment variable {variable} is not set")
    if not value.strip():
        raise KeyedValueError(key, f"environment variable {variable} is empty")
    return value.strip()


def _exactly_one(env_value: object, inline: object, env_key: str, inline_key: str) -> None:
    if (env_value is None) == (not inline):
        raise KeyedValueError(env_key, f"give exactly one of {env_key} and {inline_key}")


class DeliveryConfig(StrictModel):
    """Retries of one alert to one sink: exponential backoff with full jitter from
    `initial_backoff_seconds` doubling up to `max_backoff_seconds`, for at most
    `horizon_seconds` from the first attempt; then the alert is parked (counted, logged)."""

    timeout_seconds: PositiveFloat = 10.0  # one HTTP request, connect to last byte
    initial_backoff_seconds: PositiveFloat = 1.0
    max_backoff_seconds: PositiveFloat = 60.0
    horizon_seconds: float = Field(3600.0, ge=0)  # 0: one attempt, no retry

    @model_validator(mode="after")
    def _backoff_grows(self) -> DeliveryConfig:
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise KeyedValueError("max_backoff_seconds", "must be >= initial_backoff_seconds")
        return self


class SinkBase(StrictModel):
    name: SinkName  # unique; used in consumer group names and metric labels
    enabled: bool = True
    min_severity: Severity = "info"
    rules: tuple[str, ...] = ()  # rule ids; empty: every rule
    delivery: DeliveryConfig | None = None  # None: the file's `delivery`


class AlertmanagerSinkConfig(SinkBase):
    type: Literal["alertmanager"]
    urls: tuple[str, ...] = Field(min_length=1)  # every instance of an HA pair, each posted to
    resend_seconds: PositiveFloat = 60.0  # active alerts re-posted this often
    # endsAt = now + this on every post of an active alert, so an alert resolves by itself if
    # distillwatch stops posting; None: 4 x resend_seconds (what Prometheus does).
    ends_after_seconds: PositiveFloat | None = None

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            _check_url(url, "urls")
        if len(set(urls)) != len(urls):
            raise KeyedValueError("urls", "lists an instance twice")
        return tuple(url.rstrip("/") for url in urls)

    @model_validator(mode="after")
    def _ends_after_resend(self) -> AlertmanagerSinkConfig:
        if self.ends_after_seconds is not None and self.ends_after_seconds <= self.resend_seconds:
            raise KeyedValueError(
                "ends_after_seconds", "must exceed resend_seconds (or alerts flap resolved)"
            )
        return self

    @property
    def effective_ends_after_seconds(self) -> float:
        return self.ends_after_seconds or 4 * self.resend_seconds


class WebhookSinkConfig(SinkBase):
    """Standard Webhooks: each secret `whsec_<base64>`; several (rotation) sign every message."""

    _secrets: tuple[str, ...] = PrivateAttr(default=())
    type: Literal["webhook"]
    url: str
    secrets_env: str | None = None  # variable holding secrets separated by spaces or commas
    secrets: tuple[str, ...] = Field((), repr=False)  # inline: discouraged outside tests

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> WebhookSinkConfig:
        _check_url(self.url, "url")
        _exactly_one(self.secrets_env, self.secrets, "secrets_env", "secrets")
        if not self.enabled:
            return self
        if self.secrets_env is not None:
            raw = _from_env(info, self.secrets_env, "secrets_env")
            secrets = tuple(part for part in _SEPARATORS.split(raw) if part)
            key = "secrets_env"
        else:
            secrets, key = tuple(s.strip() for s in self.secrets), "secrets"
        for position, secret in enumerate(secrets, 1):
            if not _WEBHOOK_SECRET.match(secret):
                raise KeyedValueError(key, f"secret {position} is not whsec_<base64>")
        object.__setattr__(self, "_secrets", secrets)
        return self

    @property
    def signing_secrets(self) -> tuple[str, ...]:
        """The secrets resolved at load (empty for a disabled sink)."""
        return self._secrets


class PagerDutySinkConfig(SinkBase):
    _routing_key: str = PrivateAttr(default="")
    type: Literal["pagerduty"]
    url: str = PAGERDUTY_EVENTS_URL
    routing_key_env: str | None = None
    routing_key: str | None = Field(None, repr=False)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> PagerDutySinkConfig:
        _check_url(self.url, "url")
        _exactly_one(self.routing_key_env, self.routing_key, "routing_key_env", "routing_key")
        if not self.enabled:
            return self
        if self.routing_key_env is not None:
            key = _from_env(info, self.routing_key_env, "routing_key_env")
        else:
            key = (self.routing_key or "").strip()
        if not key or any(char.isspace() for char in key):
            raise KeyedValueError("routing_key", "must be one word (the integration key)")
        object.__setattr__(self, "_routing_key", key)
        return self

    @property
    def resolved_routing_key(self) -> str:
        return self._routing_key


class SlackSinkConfig(SinkBase):
    """A Slack incoming webhook; its URL is the credential, so prefer `url_env`."""

    _url: str = PrivateAttr(default="")
    type: Literal["slack"]
    url_env: str | None = None
    url: str | None = Field(None, repr=False)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> SlackSinkConfig:
        _exactly_one(self.url_env, self.url, "url_env", "url")
        if not self.enabled:
            return self
        if self.url_env is not None:
            url = _check_url(_from_env(info, self.url_env, "url_env"), "url_env")
        else:
            url = _check_url(self.url or "", "url")
        object.__setattr__(self, "_url", url)
        return self

    @property
    def webhook_url(self) -> str:
        return self._url


SinkConfig = Annotated[
    AlertmanagerSinkConfig | WebhookSinkConfig | PagerDutySinkConfig | SlackSinkConfig,
    Field(discriminator="type"),
]


class SinksConfig(StrictModel):
    schema_version: Literal[1] = 1
    delivery: DeliveryConfig = Field(default_factory=lambda: DeliveryConfig())
    sinks: tuple[SinkConfig, ...] = ()

    @field_validator("sinks")
    @classmethod
    def _unique_names(cls, sinks: tuple[SinkConfig, ...]) -> tuple[SinkConfig, ...]:
        seen: dict[str, int] = {}
        for index, sink in enumerate(sinks):
            if sink.name in seen:
                first = seen[sink.name]
                raise ValueError(f"sink name {sink.name} is used twice (items {first} and {index})")
            seen[sink.name] = index
        return sinks

    def delivery_for(self, sink: SinkBase) -> DeliveryConfig:
        return sink.delivery or self.delivery

    @property
    def enabled(self) -> tuple[SinkConfig, ...]:
        return tuple(sink for sink in self.sinks if sink.enabled)


def _where(loc: tuple[int | str, ...], data: object) -> str:
    """`sinks.1.url (sink soc-webhook)`: the key path without the union's tag, and the name."""
    parts = list(loc)
    sink_name = None
    if len(parts) >= 2 and parts[0] == "sinks" and isinstance(parts[1], int):
        raw = data.get("sinks") if isinstance(data, Mapping) else None
        item = raw[parts[1]] if isinstance(raw, list) and parts[1] < len(raw) else None
        if isinstance(item, Mapping):
            sink_name = item.get("name")
            if len(parts) >= 3 and parts[2] == item.get("type"):
                del parts[2]
    path = ".".join(str(part) for part in parts) or "(top level)"
    return f"{path} (sink {sink_name})" if isinstance(sink_name, str) else path


def validate_sinks(
    data: object, source: str, environ: Mapping[str, str] | None = None
) -> SinksConfig:
    """Validate parsed sinks settings; `source` names where they came from in errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: (top level): must be a mapping of settings")
    context = {"environ": os.environ if environ is None else environ}
    try:
        return SinksConfig.model_validate(data, context=context)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            loc, reason = tuple(item["loc"]), str(item["msg"]).removeprefix("Value error, ")
            cause: Any = (item.get("ctx") or {}).get("error")
            if isinstance(cause, KeyedValueError):
                loc, reason = (*loc, cause.key), cause.reason
            problems.append(f"key {_where(loc, data)}: {reason}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def load_sinks_config(path: str | Path, environ: Mapping[str, str] | None = None) -> SinksConfig:
    """Read and validate a sinks file; secrets from `environ` (default: the process's)."""
    resolved = Path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{resolved}: cannot be read: {error.strerror}") from None
    return validate_sinks(parse_yaml(text, str(resolved)), str(resolved), environ)
