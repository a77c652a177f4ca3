"""docs/metrics.md names every metric the worker and the dispatcher export, and no label
could hold an account id."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.ingest import IngestMetrics
from streams.metrics import Metrics, register_build_info
from streams.sinks.metrics import SinkMetrics
from tests.helpers import ROOT

BOUNDED_LABELS = {
    "outcome", "reason", "rule_id", "severity", "transition", "result", "stage", "kind",
    "sink", "then", "le", "version", "python", "component", "operation", "topic",
    # bounded by the topics' partition counts
    "partition", "format", "code",
}  # fmt: skip


def exported() -> dict[str, set[str]]:
    """Metric family name -> its label names, as registered."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    SinkMetrics.create(registry)
    IngestMetrics.create(registry)
    register_build_info(registry, "worker")
    families: dict[str, set[str]] = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        name += "_info" if family.type == "info" else ""
        labels = families.setdefault(name, set())
        for sample in family.samples:
            labels.update(sample.labels)
    # Labelled families without a child yet have no samples: read their declared labels.
    for collector in list(registry._collector_to_names):
        declared = getattr(collector, "_labelnames", ())
        for name in registry._collector_to_names[collector]:
            if name in families:
                families[name].update(declared)
    return families


def test_every_exported_metric_is_documented() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text()
    missing = sorted(name for name in exported() if f"`{name}`" not in text)
    assert not missing, f"docs/metrics.md lacks {missing}"


def test_no_label_can_hold_an_unbounded_value() -> None:
    for name, labels in exported().items():
        assert labels <= BOUNDED_LABELS, (name, labels - BOUNDED_LABELS)
