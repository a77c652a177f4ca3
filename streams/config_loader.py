"""Load and validate the YAML configuration; refuse a bad file with file, key and reason.

`ConfigWatcher` supports hot reload: it re-reads the file when it changes and keeps the last
good configuration when the new one is bad.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from detectors.config import DetectionConfig
from detectors.errors import ConfigError

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


def parse_config(text: str, source: str) -> DetectionConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}:{where} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: (top level): must be a mapping of settings")
    try:
        return DetectionConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"key {_key_path(e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: str | Path | None = None) -> DetectionConfig:
    resolved = Path(path) if path is not None else default_config_path()
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{resolved}: cannot be read: {error.strerror}") from None
    return parse_config(text, str(resolved))


class ConfigWatcher:
    """Holds the current configuration; `maybe_reload()` picks up a changed file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_config_path()
        self._config = load_config(self.path)
        self._mtime = self._stat()
        self.reload_failures = 0

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return -1.0

    @property
    def current(self) -> DetectionConfig:
        return self._config

    def maybe_reload(self) -> bool:
        """True when a new configuration was loaded; a bad file keeps the last good one."""
        mtime = self._stat()
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            self._config = load_config(self.path)
        except ConfigError as error:
            self.reload_failures += 1
            log.error("config reload refused, keeping the last good configuration: %s", error)
            return False
        log.info("configuration reloaded from %s", self.path)
        return True
