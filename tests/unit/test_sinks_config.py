"""The sinks file: what loads, what is refused (with file, key and reason), and the flags."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest
import yaml

from detectors.errors import ConfigError
from streams.sinks.alertmanager import AlertmanagerSink
from streams.sinks.build import build_sinks, override
from streams.sinks.config import (
    AlertmanagerSinkConfig,
    PagerDutySinkConfig,
    SinksConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
    load_sinks_config,
)
from streams.sinks.pagerduty import PagerDutySink
from streams.sinks.slack import SlackSink
from streams.sinks.webhook import WebhookSink
from tests.helpers import ROOT

OLD = "whsec_" + base64.b64encode(b"old-secret-0123456789").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-0123456789").decode()
ENV = {
    "DISTILLWATCH_WEBHOOK_SECRETS": f"{OLD}, {NEW}",
    "DISTILLWATCH_PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY",
    "DISTILLWATCH_SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T/B/X",
}
GOOD = """
schema_version: 1
delivery: {timeout_seconds: 10, initial_backoff_seconds: 1, max_backoff_seconds: 60,
           horizon_seconds: 3600}
sinks:
  - {name: alertmanager, type: alertmanager, urls: [http://127.0.0.1:9093, http://am-2:9093/],
     min_severity: warning, rules: [], resend_seconds: 60}
  - {name: soc-webhook, type: webhook, url: https://soc.example/hook,
     secrets_env: DISTILLWATCH_WEBHOOK_SECRETS, delivery: {horizon_seconds: 60}}
  - {name: pager, type: pagerduty, url: https://events.pagerduty.com/v2/enqueue,
     routing_key_env: DISTILLWATCH_PAGERDUTY_ROUTING_KEY, min_severity: high}
  - {name: slack, type: slack, url_env: DISTILLWATCH_SLACK_WEBHOOK_URL, rules: [hydra_cluster]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sinks.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sinks_config(path, environ=ENV if environ is None else environ)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def test_good_file_loads_and_resolves_secrets(tmp_path: Path) -> None:
    config = load_sinks_config(write(tmp_path, GOOD), environ=ENV)
    am, hook, pager, slack = config.sinks
    assert isinstance(am, AlertmanagerSinkConfig)
    assert am.urls == ("http://127.0.0.1:9093", "http://am-2:9093")
    assert am.effective_ends_after_seconds == 240.0
    assert isinstance(hook, WebhookSinkConfig)
    assert hook.signing_secrets == (OLD, NEW)  # comma and space separated: both kept
    assert config.delivery_for(hook).horizon_seconds == 60
    assert config.delivery_for(am).horizon_seconds == 3600
    assert isinstance(pager, PagerDutySinkConfig)
    assert pager.resolved_routing_key == "R0UT1NGKEY"
    assert isinstance(slack, SlackSinkConfig)
    assert slack.webhook_url == ENV["DISTILLWATCH_SLACK_WEBHOOK_URL"]
    assert "R0UT1NGKEY" not in repr(config) and "hooks.slack" not in repr(config)


def test_example_file_loads_without_any_environment() -> None:
    config = load_sinks_config(ROOT / "config" / "sinks.yaml", environ={})
    assert {sink.type for sink in config.sinks} == {"alertmanager", "webhook", "pagerduty", "slack"}
    assert config.enabled == ()


def test_the_compose_files_sinks_load_and_name_the_compose_alertmanager() -> None:
    config = load_sinks_config(ROOT / "config" / "sinks.compose.yaml", environ={})
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    (sink,) = config.enabled
    assert isinstance(sink, AlertmanagerSinkConfig) and sink.urls == ("http://alertmanager:9093",)
    assert "alertmanager" in compose["services"]
    assert "/app/config/sinks.compose.yaml" in compose["services"]["dispatcher"]["command"]


def test_unknown_key_refused(tmp_path: Path) -> None:
    text = GOOD.replace("resend_seconds: 60", "resend_secs: 60")
    message = refused(write(tmp_path, text))
    assert "key sinks.0.resend_secs (sink alertmanager): Extra inputs are not permitted" in message


def test_bad_type_refused(tmp_path: Path) -> None:
    message = refused(write(tmp_path, GOOD.replace("timeout_seconds: 10", "timeout_seconds: ten")))
    assert "key delivery.timeout_seconds:" in message and "valid number" in message
    message = refused(write(tmp_path, GOOD.replace("min_severity: high", "min_severity: urgent")))
    assert "key sinks.2.min_severity (sink pager):" in message


def test_duplicate_names_refused(tmp_path: Path) -> None:
    message = refused(write(tmp_path, GOOD.replace("name: slack", "name: pager")))
    assert "key sinks: sink name pager is used twice (items 2 and 3)" in message


def test_bad_name_and_unknown_type_refused(tmp_path: Path) -> None:
    message = refused(write(tmp_path, GOOD.replace("name: pager", "name: Pager_1")))
    assert "key sinks.2.name (sink Pager_1):" in message
    message = refused(write(tmp_path, GOOD.replace("type: slack", "type: teams")))
    assert "key sinks.3 (sink slack):" in message and "teams" in message


def test_missing_env_var_refused_with_sink_and_key(tmp_path: Path) -> None:
    environ = {k: v for k, v in ENV.items() if k != "DISTILLWATCH_PAGERDUTY_ROUTING_KEY"}
    message = refused(write(tmp_path, GOOD), environ)
    assert (
        "key sinks.2.routing_key_env (sink pager): environment variable "
        "DISTILLWATCH_PAGERDUTY_ROUTING_KEY is not set" in message
    )
    disabled = GOOD.replace("min_severity: high}", "min_severity: high, enabled: false}")
    config = load_sinks_config(write(tmp_path, disabled), environ=environ)
    assert [sink.name for sink in config.enabled] == ["alertmanager", "soc-webhook", "slack"]


def test_bad_secret_refused_without_echoing_it(tmp_path: Path) -> None:
    message = refused(write(tmp_path, GOOD), {**ENV, "DISTILLWATCH_WEBHOOK_SECRETS": "hunter2"})
    assert "key sinks.1.secrets_env (sink soc-webhook): secret 1 is not whsec_<base64>" in message
    assert "hunter2" not in message


def test_secret_sources_exclusive(tmp_path: Path) -> None:
    both = GOOD.replace(
        "secrets_env: DISTILLWATCH_WEBHOOK_SECRETS,", f"secrets_env: X, secrets: [{OLD}],"
    )
    assert "give exactly one of secrets_env and secrets" in refused(write(tmp_path, both))
    neither = GOOD.replace("routing_key_env: DISTILLWATCH_PAGERDUTY_ROUTING_KEY,", "")
    message = refused(write(tmp_path, neither))
    assert "key sinks.2.routing_key_env (sink pager): give exactly one of" in message


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_sinks_config(tmp_path / "absent.yaml")
    assert "line 2 is not valid YAML" in refused(write(tmp_path, "a: 1\n b: : 2\n"))
    assert "(top level): must be a mapping" in refused(write(tmp_path, "- 1\n"))


def test_override_flags(tmp_path: Path) -> None:
    config = load_sinks_config(write(tmp_path, GOOD), environ=ENV)
    replaced = override(config, alertmanager_url="http://other:9093", environ=ENV)
    am = replaced.sinks[0]
    assert isinstance(am, AlertmanagerSinkConfig)
    assert (am.name, am.urls, am.min_severity) == ("alertmanager", ("http://other:9093",), "info")
    added = override(config, webhook_url="http://127.0.0.1:1/h", webhook_secret=NEW, environ=ENV)
    assert [sink.name for sink in added.sinks][-1] == "webhook"
    only = override(SinksConfig(), sink_name="webhook", webhook_url="http://h/", webhook_secret=NEW)
    assert [sink.name for sink in only.enabled] == ["webhook"]
    disabled = load_sinks_config(ROOT / "config" / "sinks.yaml", environ={})
    chosen = override(disabled, sink_name="alertmanager", environ={})
    assert [sink.name for sink in chosen.enabled] == ["alertmanager"]
    with pytest.raises(ConfigError, match=r"--sink nope: no such sink \(known: alertmanager"):
        override(config, sink_name="nope", environ=ENV)
    with pytest.raises(ConfigError, match="go together"):
        override(config, webhook_url="http://h/")
    with pytest.raises(ConfigError, match=r"command line: key sinks.0.secrets \(sink webhook\)"):
        override(SinksConfig(), webhook_url="http://h/", webhook_secret="not-a-secret")
    with pytest.raises(ConfigError, match="environment variable DISTILLWATCH_SLACK"):
        override(disabled, sink_name="slack", environ={})  # enabling it needs its variable


async def test_build_sinks_for_enabled_entries(tmp_path: Path) -> None:
    text = GOOD.replace("rules: [hydra_cluster]}", "rules: [hydra_cluster], enabled: false}")
    config = load_sinks_config(write(tmp_path, text), environ=ENV)
    async with aiohttp.ClientSession() as session:
        sinks = build_sinks(config, session)
    assert [type(sink) for sink in sinks] == [AlertmanagerSink, WebhookSink, PagerDutySink]
    assert [sink.name for sink in sinks] == ["alertmanager", "soc-webhook", "pager"]
    assert sinks[1].delivery.horizon_seconds == 60
    assert sinks[2].wants({"severity": "critical", "rule_id": "x"})
    assert not sinks[2].wants({"severity": "warning", "rule_id": "x"})
    slack_config = load_sinks_config(write(tmp_path, GOOD), environ=ENV)
    async with aiohttp.ClientSession() as session:
        slack = build_sinks(slack_config, session)[3]
    assert isinstance(slack, SlackSink)
    assert slack.wants({"severity": "info", "rule_id": "hydra_cluster"})
    assert not slack.wants({"severity": "critical", "rule_id": "reasoning_elicitation"})
