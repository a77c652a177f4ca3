"""Load and validate the YAML configuration; refuse a bad file with file, key and reason.

`ConfigWatcher` supports hot reload: it re-reads the file when it changes and keeps the last
good configuration when the new one is bad.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from detectors.config import DetectionConfig
from detectors.errors import ConfigError
from detectors.ruleset import Rule
from streams.rule_files import load_rule_file, parse_rules, rule_paths

log = logging.getLogger(__name__)
DEFAULT_CONFIG_ENV = "DISTILLWATCH_CONFIG"


def default_config_path() -> Path:
    """$DISTILLWATCH_CONFIG, else config/detectors.yaml of the checkout (or working folder)."""
    if os.environ.get(DEFAULT_CONFIG_ENV):
        return Path(os.environ[DEFAULT_CONFIG_ENV])
    checkout = Path(__file__).resolve().parent.parent / "config" / "detectors.yaml"
    return checkout if checkout.exists() else Path("config") / "detectors.yaml"


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_yaml(text: str, source: str) -> Any:
    """A YAML document, or a ConfigError naming the source and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}:{where} is not valid YAML: {error}") from None


def parse_config(text: str, source: str, config_dir: Path | None = None) -> DetectionConfig:
    """Validate a main configuration file; its `rule_files` are read from `config_dir`
    (none when it is None, as for a configuration given inline with its `rules`)."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): must be a mapping of settings")
    rules: list[tuple[Rule, str]] = []
    if "rules" in data:  # inline rules: located in the main file (lines of its rules list)
        rules += [(rule, source) for rule in parse_rules(yaml.safe_dump(data.pop("rules")), source)]
    if config_dir is not None:
        patterns = data.get("rule_files", DetectionConfig.model_fields["rule_files"].default)
        if isinstance(patterns, list | tuple):
            paths = rule_paths(config_dir, tuple(str(p) for p in patterns))
            if not paths:
                raise ConfigError(f"{source}: key rule_files: no rule file matches {patterns}")
            for path in paths:
                rules += load_rule_file(path)
    try:
        return DetectionConfig.model_validate({**data, "rules": [rule for rule, _ in rules]})
    except ValidationError as error:
        problems = "; ".join(f"key {_key_path(e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{source}: {locate_rules_in(problems, rules)}") from None


def locate_rules_in(problems: str, rules: list[tuple[Rule, str]]) -> str:
    """Name where a rule is defined when a rule-set error mentions it ("rule X: ...")."""
    for rule, origin in rules:
        problems = problems.replace(f"rule {rule.id}:", f"rule {rule.id} ({origin}):")
    return problems


def config_files(path: str | Path | None = None) -> list[Path]:
    """The main file and the rule files it names: what a hot reload watches."""
    resolved = Path(path) if path is not None else default_config_path()
    files = [resolved]
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return files
    patterns = data.get("rule_files") if isinstance(data, dict) else None
    if patterns is None:
        patterns = DetectionConfig.model_fields["rule_files"].default
    if isinstance(patterns, list | tuple):
        files += rule_paths(resolved.parent, tuple(str(p) for p in patterns))
    return files


def load_config(path: str | Path | None = None) -> DetectionConfig:
    resolved = Path(path) if path is not None else default_config_path()
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{resolved}: cannot be read: {error.strerror}") from None
    return parse_config(text, str(resolved), resolved.parent)


class ConfigWatcher:
    """Holds the current configuration; `maybe_reload()` picks up changed files.

    A bad file keeps the last good configuration. So does a good one that would change the
    state layout (windows, or which measures the enabled rules keep): a hot reload cannot move
    live state to a new layout, so that change is refused with a clear log line and applies on
    the next restart, which starts fresh keys under the new layout version."""

    def __init__(
        self, path: str | Path | None = None, on_reload: Callable[[str], None] | None = None
    ) -> None:
        self.path = Path(path) if path is not None else default_config_path()
        self._config = load_config(self.path)
        self._stamp = self._stat()
        self._on_reload = on_reload or (lambda result: None)
        self.reload_failures = 0

    def _stat(self) -> tuple[tuple[str, float], ...]:
        stamps = []
        for path in config_files(self.path):
            try:
                stamps.append((str(path), path.stat().st_mtime))
            except OSError:
                stamps.append((str(path), -1.0))
        return tuple(stamps)

    @property
    def current(self) -> DetectionConfig:
        return self._config

    def maybe_reload(self) -> bool:
        """True when a new configuration was loaded."""
        stamp = self._stat()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            candidate = load_config(self.path)
        except ConfigError as error:
            self.reload_failures += 1
            self._on_reload("invalid")
            log.error("config reload refused, keeping the last good configuration: %s", error)
            return False
        if (
            candidate.layout.version != self._config.layout.version
            or candidate.state.key_prefix != self._config.state.key_prefix
        ):
            self.reload_failures += 1
            self._on_reload("layout_change")
            log.error(
                "config reload refused: it changes the state layout (%s -> %s: windows, the "
                "rules' measures, or the key prefix); keeping the last good configuration. The "
                "change applies on restart, with fresh state.",
                self._config.layout.version,
                candidate.layout.version,
            )
            return False
        self._config = candidate
        self._on_reload("applied")
        log.info("configuration reloaded from %s", self.path)
        return True
