"""The alerting rules for distillwatch's own health (config/prometheus/rules/distillwatch.yml):
accepted by `promtool check rules`, and their unit tests (tests/prometheus/distillwatch_test.yml)
pass `promtool test rules`. Both checks are shown able to fail. promtool comes from Debian's
prometheus package (scripts/testenv.py: `DISTILLWATCH_PROMTOOL`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

pytestmark = pytest.mark.integration

RULES = ROOT / "config" / "prometheus" / "rules" / "distillwatch.yml"
UNIT_TESTS = ROOT / "tests" / "prometheus" / "distillwatch_test.yml"
RUNBOOK_BASE = "https://distillwatch.dev/runbooks/ops/"


def promtool(promtool_path: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded


def alerting_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def unit_test_copy(tmp_path: Path) -> dict[str, Any]:
    """The unit tests, to be written elsewhere: rule_files made absolute."""
    tests = load_yaml(UNIT_TESTS)
    assert tests["rule_files"] == ["../../config/prometheus/rules/distillwatch.yml"]
    tests["rule_files"] = [str(RULES)]
    return tests


def test_rule_file_passes_promtool_check_rules(promtool_path: str) -> None:
    result = promtool(promtool_path, "check", "rules", str(RULES.relative_to(ROOT)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool check rules failed:\n{output}"
    assert f"SUCCESS: {len(alerting_rules())} rules found" in output, output


def test_rule_unit_tests_pass(promtool_path: str) -> None:
    result = promtool(promtool_path, "test", "rules", str(UNIT_TESTS.relative_to(ROOT)))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool test rules failed:\n{output}"
    assert "SUCCESS" in output, output


def test_promtool_check_rules_refuses_a_broken_expression(
    promtool_path: str, tmp_path: Path
) -> None:
    """The check above can fail: a copy with one expression that does not parse."""
    text = RULES.read_text()
    good = 'expr: up{job="distillwatch-worker"} == 0\n'
    assert text.count(good) == 1
    broken = tmp_path / "distillwatch.yml"
    broken.write_text(text.replace(good, 'expr: up{job="distillwatch-worker"} == == 0\n'))
    result = promtool(promtool_path, "check", "rules", str(broken))
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"promtool accepted the broken rule file:\n{output}"
    assert "parse error" in output, output


def test_promtool_test_rules_fails_when_an_expected_alert_does_not_fire(
    promtool_path: str, tmp_path: Path
) -> None:
    """The unit tests can fail: a copy expecting DistillwatchWorkerDown one minute early (the
    target has been down for 1 of its 2 minutes: pending, not firing). The unchanged copy
    passes, so the failure is the expectation's."""
    tests = unit_test_copy(tmp_path)
    unchanged = tmp_path / "unchanged_test.yml"
    unchanged.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool(promtool_path, "test", "rules", str(unchanged), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    firing = [
        case
        for group in tests["tests"]
        for case in group["alert_rule_test"]
        if case["alertname"] == "DistillwatchWorkerDown" and case["exp_alerts"]
    ]
    assert [case["eval_time"] for case in firing] == ["4m"]
    firing[0]["eval_time"] = "3m"
    early = tmp_path / "early_test.yml"
    early.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool(promtool_path, "test", "rules", str(early), cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"promtool passed a test expecting a pending alert:\n{output}"
    assert "alertname: DistillwatchWorkerDown, time: 3m" in output, output


def test_every_rule_is_labelled_annotated_and_unit_tested() -> None:
    """Conventions promtool does not check: severity, annotations, the runbook of the alert,
    no account label; and every alert (each severity) fires in a unit test and is expected
    silent in another."""
    rules = alerting_rules()
    fired: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for group in load_yaml(UNIT_TESTS)["tests"]:
        for case in group["alert_rule_test"]:
            if not case["exp_alerts"]:
                silent.add(case["alertname"])
            for alert in case["exp_alerts"]:
                fired.add((case["alertname"], alert["exp_labels"]["severity"]))
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"Distillwatch[A-Z][A-Za-z]+", name), name
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert annotations["runbook_url"] == RUNBOOK_BASE + name, name
        assert "account" not in rule["expr"], name
        assert (name, rule["labels"]["severity"]) in fired, f"{name} never fires in a unit test"
        assert name in silent, f"{name} is never expected silent in a unit test"
