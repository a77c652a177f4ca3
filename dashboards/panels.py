"""The panel vocabulary of distillwatch's dashboards: a panel is a title, what it tells the
operator, and its PromQL queries; `build_dashboard` lays them out with grafana-foundation-sdk.

Describing panels as data first keeps one source for the JSON (built by the SDK, never written
by hand), for docs/dashboards.md (generated from the same descriptions) and for the end-to-end
test that runs every query against a real Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grafana_foundation_sdk.builders import dashboard, stat, timeseries
from grafana_foundation_sdk.builders import prometheus as promql
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableOption

# Grafana lays a dashboard out on a grid 24 units wide
GRID_WIDTH = 24
PANEL_HEIGHT = 8
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# Job names the scrape configuration gives the processes (config/prometheus/prometheus.yml);
# dashboard variables, so a deployment with other job names edits them in Grafana
WORKER = 'job=~"$worker_job"'
DISPATCHER = 'job=~"$dispatcher_job"'
INGEST = 'job=~"$ingest_job"'
# variable -> (its label, the default job name)
JOB_VARIABLES = {
    "worker_job": ("Worker job", "distillwatch-worker"),
    "dispatcher_job": ("Dispatcher job", "distillwatch-dispatcher"),
    "ingest_job": ("Ingest job", "distillwatch-ingest"),
}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    description: str  # for the operator: what it shows, what is normal, what to do
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = 12


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    jobs: tuple[str, ...] = ("worker_job", "dispatcher_job")  # the job variables it offers
    file_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "file_name", f"{self.uid}.json")

    def panels(self) -> list[Panel]:
        return [panel for row in self.rows for panel in row.panels]


def rate(metric: str, selector: str, by: str = "") -> str:
    grouping = f"sum by ({by}) " if by else "sum "
    return f"{grouping}(rate({metric}{{{selector}}}[$__rate_interval]))"


def quantile(q: float, metric: str, selector: str, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({labels}) "
        f"(rate({metric}_bucket{{{selector}}}[$__rate_interval])))"
    )


def median_and_p99(metric: str, selector: str, by: str = "") -> tuple[Query, Query]:
    """A histogram's p50 and p99, by `by` (one label) when given."""
    prefix = f"{{{{{by}}}}} " if by else ""
    return (
        Query(quantile(0.5, metric, selector, by), f"{prefix}p50"),
        Query(quantile(0.99, metric, selector, by), f"{prefix}p99"),
    )


def _panel(spec: Panel, panel_id: int) -> timeseries.Panel | stat.Panel:
    built = timeseries.Panel() if spec.kind == "timeseries" else stat.Panel()
    built = (
        built.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .height(PANEL_HEIGHT)
        .span(spec.width)
    )
    for index, query in enumerate(spec.queries):
        target = promql.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index))
        if query.legend:
            target = target.legend_format(query.legend)
        built = built.with_target(target)
    return built


def job_variable(name: str, label: str, job: str) -> dashboard.TextBoxVariable:
    return (
        dashboard.TextBoxVariable(name)
        .label(label)
        .default_value(job)
        .current(VariableOption(selected=True, text=job, value=job))
    )


def build_dashboard(spec: DashboardSpec) -> dashboard.Dashboard:
    built = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(["distillwatch"])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("utc")
        .editable()
        .with_variable(
            dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )
    )
    for variable in spec.jobs:
        built = built.with_variable(job_variable(variable, *JOB_VARIABLES[variable]))
    panel_id = 0
    for row in spec.rows:
        panel_id += 1
        built = built.with_row(dashboard.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            built = built.with_panel(_panel(panel, panel_id))
    return built
