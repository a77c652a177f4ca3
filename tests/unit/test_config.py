"""Config validation: the shipped file loads; bad files are refused with file, key, reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from detectors.errors import ConfigError
from streams.config_loader import ConfigWatcher, load_config
from tests.helpers import ROOT

SHIPPED = ROOT / "config" / "detectors.yaml"


def test_shipped_config_is_valid() -> None:
    config = load_config(SHIPPED)
    assert config.window_names == ("1m", "1h", "24h")
    assert set(config.detectors.volume_harvest.tiers) >= {"default", "free", "build"}


@pytest.mark.parametrize(
    ("mutation", "key", "reason"),
    [
        (
            ("min_requests: 200", "min_requests: -3"),
            "detectors.volume_harvest.min_requests",
            "greater than 0",
        ),
        (
            ("near_max_share: 0.5", "near_max_share: 1.5"),
            "detectors.volume_harvest.near_max_share",
            "less than or equal to 1",
        ),
        (
            (
                "  1m:  {seconds: 60,    bucket_seconds: 10}",
                "  1m:  {seconds: 60, bucket_seconds: 7}",
            ),
            "windows.1m",
            "bucket_seconds must divide seconds",
        ),
        (
            ("cooldown_seconds: 86400", "cooldown_secs: 86400"),
            "alerting.cooldown_secs",
            "Extra inputs are not permitted",
        ),
        (
            ("harvest_windows: [1h, 24h]", "harvest_windows: [1h, 7d]"),
            "(top level)",
            "unknown window '7d'",
        ),
    ],
)
def test_bad_values_are_refused_with_file_key_and_reason(
    tmp_path: Path, mutation: tuple[str, str], key: str, reason: str
) -> None:
    text = SHIPPED.read_text()
    assert mutation[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(mutation[0], mutation[1]))
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    message = str(caught.value)
    assert str(bad) in message
    assert key in message
    assert reason in message


def test_invalid_yaml_and_missing_file_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("windows: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml.*not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "absent.yaml")


def test_bad_hot_reload_keeps_the_last_good_config(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    text = SHIPPED.read_text()
    path.write_text(text)
    watcher = ConfigWatcher(path)
    path.write_text(text.replace("min_requests: 200", "min_requests: 150"))
    os.utime(path, (1, 1))  # a distinct mtime without waiting for the clock
    assert watcher.maybe_reload() is True
    assert watcher.current.detectors.volume_harvest.min_requests == 150
    path.write_text(text.replace("min_requests: 200", "min_requests: nope"))
    os.utime(path, (2, 2))
    assert watcher.maybe_reload() is False
    assert watcher.reload_failures == 1
    assert watcher.current.detectors.volume_harvest.min_requests == 150
