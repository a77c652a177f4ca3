"""From a sinks configuration to sink objects, and the command line's changes to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from detectors.errors import ConfigError
from streams.sinks.alertmanager import AlertmanagerSink
from streams.sinks.base import Sink, SinkOptions
from streams.sinks.config import (
    AlertmanagerSinkConfig,
    PagerDutySinkConfig,
    SinkConfig,
    SinksConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
    validate_sinks,
)
from streams.sinks.metrics import SinkMetrics
from streams.sinks.pagerduty import PagerDutySink
from streams.sinks.slack import SlackSink
from streams.sinks.webhook import WebhookSink

FLAG_SOURCE = "command line"


def build_sink(
    config: SinksConfig,
    sink: SinkConfig,
    session: aiohttp.ClientSession,
    metrics: SinkMetrics | None = None,
) -> Sink:
    options: SinkOptions = {
        "delivery": config.delivery_for(sink),
        "min_severity": sink.min_severity,
        "rules": sink.rules,
        "metrics": metrics,
    }
    match sink:
        case AlertmanagerSinkConfig():
            ends_after = sink.effective_ends_after_seconds
            return AlertmanagerSink(
                sink.name, sink.urls, session, ends_after_seconds=ends_after, **options
            )
        case WebhookSinkConfig():
            return WebhookSink(sink.name, sink.url, sink.signing_secrets, session, **options)
        case PagerDutySinkConfig():
            key = sink.resolved_routing_key
            return PagerDutySink(sink.name, key, session, url=sink.url, **options)
        case SlackSinkConfig():
            return SlackSink(sink.name, sink.webhook_url, session, **options)


def build_sinks(
    config: SinksConfig,
    session: aiohttp.ClientSession,
    metrics: SinkMetrics | None = None,
) -> list[Sink]:
    """One sink per enabled entry, in file order, all sharing `session`."""
    return [build_sink(config, sink, session, metrics) for sink in config.enabled]


def _replace(sinks: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    for index, sink in enumerate(sinks):
        if sink.get("name") == entry["name"]:
            sinks[index] = entry
            return
    sinks.append(entry)


def override(
    config: SinksConfig,
    sink_name: str | None = None,
    alertmanager_url: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SinksConfig:
    """The configuration with the command line's flags applied, validated again.

    `--alertmanager URL` and `--webhook URL --webhook-secret SECRET` replace (or add) the
    sinks named `alertmanager` and `webhook`, with default settings. `--sink NAME` then keeps
    only that sink, enabled even if the file disables it (asking for a sink by name is asking
    to send to it). Raises ConfigError."""
    if (webhook_url is None) != (webhook_secret is None):
        raise ConfigError(f"{FLAG_SOURCE}: --webhook and --webhook-secret go together")
    data = config.model_dump(exclude_defaults=True)
    sinks: list[dict[str, Any]] = list(data.get("sinks", []))
    if alertmanager_url is not None:
        _replace(
            sinks, {"name": "alertmanager", "type": "alertmanager", "urls": [alertmanager_url]}
        )
    if webhook_url is not None:
        _replace(
            sinks,
            {"name": "webhook", "type": "webhook", "url": webhook_url, "secrets": [webhook_secret]},
        )
    if sink_name is not None:
        chosen = [sink for sink in sinks if sink.get("name") == sink_name]
        if not chosen:
            known = ", ".join(str(sink.get("name")) for sink in sinks) or "none"
            raise ConfigError(f"{FLAG_SOURCE}: --sink {sink_name}: no such sink (known: {known})")
        sinks = [{**chosen[0], "enabled": True}]
    return validate_sinks({**data, "sinks": sinks}, FLAG_SOURCE, environ)
