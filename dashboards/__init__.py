"""distillwatch's Grafana dashboards as code (grafana-foundation-sdk, built for Grafana 11.6).

`python -m dashboards` writes the JSON to config/grafana/dashboards/ and docs/dashboards.md;
`python -m dashboards --check` fails if either differs from what the code builds.
"""

from __future__ import annotations

from dashboards.delivery import DELIVERY_DASHBOARD
from dashboards.gateways import GATEWAYS
from dashboards.overview import OVERVIEW
from dashboards.panels import DashboardSpec

DASHBOARDS: tuple[DashboardSpec, ...] = (OVERVIEW, DELIVERY_DASHBOARD, GATEWAYS)
