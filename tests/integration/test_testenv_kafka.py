"""The test services' own Kafka helper (scripts/testenv.py): a broker's storage formats
with any cluster id the helper can draw.

A random id begins with '-' one time in 64; Kafka's argument parser then read it as an
option, and the chaos suite failed in CI on a fresh broker's format.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import testenv  # scripts/, on the path from tests/conftest.py

from tests.conftest import unavailable


@pytest.mark.parametrize("cluster_id", ["-GkR0ezwSfOx70Zwn34fKQ", "GkR0ezwSfOx70Zwn34fKQ-"])
def test_storage_formats_with_a_cluster_id_that_looks_like_an_option(
    tmp_path: Path, cluster_id: str
) -> None:
    if shutil.which("java") is None:
        unavailable("java", "not installed; make test installs it")
    testenv.ensure_kafka_jars()
    broker = testenv.KafkaBroker(tmp_path / "kafka", "127.0.0.1", testenv.free_port())
    broker.format_storage(cluster_id)
    meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}\n" in meta
