"""Config and rule files: the shipped ones load; bad ones are refused with file, line, key and
reason; hot reload keeps the last good configuration, and refuses a change of state layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from detectors.errors import ConfigError
from detectors.rules import CATALOG
from streams.cli import main
from streams.config_loader import ConfigWatcher, load_config
from tests.helpers import ROOT

SHIPPED = ROOT / "config" / "detectors.yaml"
SIGNALS = "rules/signals.yaml"
PAGES = "rules/extraction.yaml"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped configuration folder to break."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / "detectors.yaml")
    shutil.copytree(ROOT / "config" / "rules", folder / "rules")
    return folder


def edit(path: Path, old: str, new: str, stamp: int | None = None) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    if stamp is not None:
        os.utime(path, (stamp, stamp))  # a distinct mtime without waiting for the clock


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_shipped_config_is_valid_and_uses_every_detector() -> None:
    config = load_config(SHIPPED)
    assert config.window_names == ("1h", "24h", "7d")
    assert {r.detector for r in config.rules} == set(CATALOG)
    assert {r.mode for r in config.rules} == {"alert", "shadow"}


@pytest.mark.parametrize(
    ("file", "old", "new", "key", "reason"),
    [
        (SIGNALS, "min_share: 0.3}", "min_share: 1.3}", "params.min_share", "less than or equal"),
        (SIGNALS, "    min_concentration: 0.35", "    min_concentraton: 0.35",
         "params.min_concentraton", "Extra inputs are not permitted"),
        (SIGNALS, "mode: shadow", "mode: loud", "key mode", "'alert', 'shadow' or 'off'"),
        (PAGES, "detector: logit_probe", "detector: logit_prob", "(rule)", "unknown detector"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_with_file_line_key_and_reason(
    config_dir: Path, file: str, old: str, new: str, key: str, reason: str
) -> None:
    path = config_dir / file
    edit(path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir / "detectors.yaml")
    message = str(caught.value)
    token = new.strip() if key != "(rule)" else "- id: logit_probe"
    assert f"{path}:{line_of(path, token)}" in message, message
    assert key in message and reason in message, message


def test_rule_set_errors_name_the_rule_and_where_it_is_defined(config_dir: Path) -> None:
    pages = config_dir / PAGES
    edit(pages, "windows: [1h, 24h]", "windows: [1h, 2d]")
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir / "detectors.yaml")
    message = str(caught.value)
    assert f"rule logit_probe ({pages}:{line_of(pages, '- id: logit_probe')})" in message
    assert "unknown window(s) 2d" in message


def test_a_member_that_is_off_drops_out_and_a_missing_one_is_refused(config_dir: Path) -> None:
    signals = config_dir / SIGNALS
    text = signals.read_text()
    rule = "- id: sampling_fingerprint\n  detector: sampling_fingerprint\n"
    rule += "  description: One fixed sampling tuple on most requests.\n"
    off = text.replace(rule + "  mode: shadow", rule + "  mode: off")  # YAML reads off as false
    assert off != text
    signals.write_text(off)
    config = load_config(config_dir / "detectors.yaml")
    assert "sampling_fingerprint" not in {b.rule.id for b in config.bound.rules}
    edit(config_dir / PAGES, "{rule: automation_cadence,", "{rule: automation_cadense,")
    with pytest.raises(ConfigError, match="member 'automation_cadense' is not a rule id"):
        load_config(config_dir / "detectors.yaml")


def test_bad_main_settings_are_refused_with_file_key_and_reason(config_dir: Path) -> None:
    main_file = config_dir / "detectors.yaml"
    edit(main_file, "hold_down_seconds: 21600", "hold_down_secs: 21600")
    with pytest.raises(ConfigError, match=r"detectors\.yaml: key alerting\.hold_down_secs: Extra"):
        load_config(main_file)


def test_a_config_from_before_the_alert_lifecycle_is_refused_with_what_replaced_it(
    config_dir: Path,
) -> None:
    main_file = config_dir / "detectors.yaml"
    edit(main_file, "hold_down_seconds: 21600", "cooldown_seconds: 86400")
    with pytest.raises(ConfigError, match=r"alerting.*replaced by hold_down_seconds"):
        load_config(main_file)


def test_a_hold_down_shorter_than_the_cluster_heartbeat_is_refused(config_dir: Path) -> None:
    main_file = config_dir / "detectors.yaml"
    edit(main_file, "hold_down_seconds: 21600", "hold_down_seconds: 1800")
    with pytest.raises(ConfigError, match=r"hold_down_seconds must be at least twice linkage"):
        load_config(main_file)


def test_invalid_yaml_and_missing_files_are_refused(tmp_path: Path, config_dir: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("windows: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml.*not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "absent.yaml")
    shutil.rmtree(config_dir / "rules")
    with pytest.raises(ConfigError, match="key rule_files: no rule file matches"):
        load_config(config_dir / "detectors.yaml")


def test_rules_validate_exits_non_zero_on_a_bad_file(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "validate", "--config", str(config_dir / "detectors.yaml")]) == 0
    signals = config_dir / SIGNALS
    edit(signals, "min_share: 0.2}", "min_share: -1}")
    status = main(["rules", "validate", str(signals), "--config", str(SHIPPED)])
    captured = capsys.readouterr()
    assert status == 2
    text = " ".join((captured.out + captured.err).split())
    assert f"{signals}:{line_of(signals, 'min_share: -1')}" in text
    assert "rule 'rubric_grading': key params.min_share: Input should be greater than 0" in text


def test_rules_list_prints_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "list"]) == 0
    printed = capsys.readouterr().out
    for rule in load_config(SHIPPED).rules:
        assert rule.id in printed


def test_hot_reload_applies_params_and_keeps_the_last_good_config(config_dir: Path) -> None:
    results: list[str] = []
    watcher = ConfigWatcher(config_dir / "detectors.yaml", on_reload=results.append)
    signals = config_dir / SIGNALS
    edit(signals, "min_share: 0.3}", "min_share: 0.4}", stamp=1)
    assert watcher.maybe_reload() is True
    reasoning = next(r for r in watcher.current.rules if r.id == "reasoning_elicitation")
    assert reasoning.params["min_share"] == 0.4
    edit(signals, "min_share: 0.4}", "min_share: nope}", stamp=2)
    assert watcher.maybe_reload() is False
    reasoning = next(r for r in watcher.current.rules if r.id == "reasoning_elicitation")
    assert reasoning.params["min_share"] == 0.4
    assert results == ["applied", "invalid"]


def test_a_change_of_state_layout_is_refused_on_hot_reload(config_dir: Path) -> None:
    """Changing a window's buckets under live state would freeze it: refused, kept, counted;
    a restart (a new watcher) applies it, under a new layout version."""
    results: list[str] = []
    main_file = config_dir / "detectors.yaml"
    watcher = ConfigWatcher(main_file, on_reload=results.append)
    before = watcher.current.layout.version
    edit(main_file, "{seconds: 3600,   bucket_seconds: 300}",
         "{seconds: 3600,   bucket_seconds: 600}", stamp=3)  # fmt: skip
    assert watcher.maybe_reload() is False
    assert results == ["layout_change"]
    assert watcher.current.windows["1h"].bucket_seconds == 300
    assert watcher.current.layout.version == before
    restarted = ConfigWatcher(main_file)
    assert restarted.current.windows["1h"].bucket_seconds == 600
    assert restarted.current.layout.version != before


def test_switching_a_rule_off_reloads_live(config_dir: Path) -> None:
    """A mode change is not a layout change: on-call can silence a rule without a restart."""
    results: list[str] = []
    watcher = ConfigWatcher(config_dir / "detectors.yaml", on_reload=results.append)
    before = watcher.current.layout.version
    edit(
        config_dir / PAGES,
        "  mode: alert\n  severity: critical",
        "  mode: 'off'\n  severity: critical",
        stamp=5,
    )
    assert watcher.maybe_reload() is True and results == ["applied"]
    assert "logit_probe" not in {b.rule.id for b in watcher.current.bound.rules}
    assert watcher.current.layout.version == before


def test_rules_validate_checks_a_file_with_the_rest_of_the_configured_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The pages alone name signals defined in the other file: validated in place, not alone."""
    assert main(["rules", "validate", str(ROOT / "config" / PAGES)]) == 0
    assert "rules valid with" in capsys.readouterr().out


def test_check_config_names_the_file_it_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator checking the image's configuration ($DISTILLWATCH_CONFIG) sees which file
    was valid, not "default configuration"."""
    copied = tmp_path / "mounted" / "detectors.yaml"
    shutil.copytree(SHIPPED.parent, copied.parent)
    monkeypatch.setenv("DISTILLWATCH_CONFIG", str(copied))
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.startswith(f"{copied}: valid")
