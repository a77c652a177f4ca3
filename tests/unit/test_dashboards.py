"""The Grafana dashboards (dashboards/, grafana-foundation-sdk): the committed JSON and
docs/dashboards.md are what the code builds, every panel explains itself, and every query
reads documented metrics through the provisioned data source."""

from __future__ import annotations

import json
import re

import yaml

from dashboards import DASHBOARDS
from dashboards.render import expected_files
from tests.helpers import ROOT

GRAFANA = ROOT / "config" / "grafana"


def test_committed_files_are_what_the_code_builds() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in expected_files().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"run `python -m dashboards`: {stale} differ"


def test_every_panel_has_a_description_and_a_query() -> None:
    for spec in DASHBOARDS:
        for panel in spec.panels():
            assert len(panel.description) > 40, (spec.uid, panel.title)
            assert panel.queries, (spec.uid, panel.title)


def test_every_metric_a_query_reads_is_documented() -> None:
    documented = (ROOT / "docs" / "metrics.md").read_text()
    for spec in DASHBOARDS:
        for panel in spec.panels():
            for query in panel.queries:
                for name in re.findall(r"\bdistillwatch_[a-z_]+", query.expr):
                    family = re.sub(r"_(bucket|count|sum)$", "", name)
                    assert f"`{family}`" in documented, (panel.title, name)


def test_panels_use_the_provisioned_data_source_and_unique_ids() -> None:
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "distillwatch.yml").read_text()
    )["providers"]
    assert providers[0]["type"] == "file"
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert {p["datasource"]["uid"] for p in panels} == {"${datasource}"}, path.name
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        assert path.name == f"{board['uid']}.json"
