"""The backtest's HTML report: plots and tables a person would rather look at than read.

One self-contained file (inline SVG from matplotlib, no JavaScript, no network): the headline
measures, one risk timeline per attack campaign against the alert threshold with the first
alert marked, each cross-account cluster's growth (accounts named against time), peak-risk
distributions of benign and attack accounts (overall and per family), the per-family table,
and the alerts. Account ids and numbers only: no prompt text exists in what it is given.
Rendering goes through Jinja2 with autoescaping, since account ids come from the events.
"""

from __future__ import annotations

import io
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from detectors.alerts import changed_at, transition_of
from detectors.config import DetectionConfig
from streams.backtest import accounts_by_family
from streams.replay import ReplaySummary
from streams.risk_trace import RiskTrace

try:
    import jinja2
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
except ImportError as missing:  # the worker image does not ship the plotting stack
    raise ImportError(
        f"the HTML report needs the 'report' extra ({missing.name} is not installed): "
        "pip install 'distillwatch[report]'"
    ) from missing

ATTACK_COLOUR = "#c0392b"
BENIGN_COLOUR = "#2471a3"
THRESHOLD_COLOUR = "#7f8c8d"
ACCOUNT_LINES_PER_CAMPAIGN = 5
MAX_ALERT_ROWS = 200
TEMPLATE = "backtest_report.html.j2"

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: smaller files, searchable labels
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def campaign_timelines(
    summary: ReplaySummary, trace: RiskTrace, campaigns: dict[str, list[str]]
) -> str:
    """Small multiples: each campaign's highest account risk over hours since its start."""
    columns = 2
    rows = max(1, -(-len(campaigns) // columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(11, 2.6 * rows), squeeze=False, constrained_layout=True
    )
    for index, (family, accounts) in enumerate(campaigns.items()):
        ax = axes[index // columns][index % columns]
        start = min(summary.account_totals[a][0] for a in accounts)
        accounts_by_start = sorted(accounts, key=lambda a: summary.account_totals[a][0])
        for account in accounts_by_start[:ACCOUNT_LINES_PER_CAMPAIGN]:
            points = trace.series([account])
            ax.plot(
                [(t - start) / 3600 for t, _ in points],
                [r for _, r in points],
                color=ATTACK_COLOUR,
                alpha=0.25,
                linewidth=0.8,
            )
        points = trace.series(accounts)
        top = max([1.2, *(1.05 * r for _, r in points)])
        ax.step(
            [(t - start) / 3600 for t, _ in points],
            [r for _, r in points],
            where="post",
            color=ATTACK_COLOUR,
            linewidth=1.6,
            label="highest account" if len(accounts) > 1 else "account",
        )
        ax.axhline(
            1.0, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1, label="alert threshold"
        )
        alerts = [summary.first_alert[a][2] for a in accounts if a in summary.first_alert]
        if alerts:
            first = (min(alerts) - start) / 3600
            ax.axvline(first, color="black", linewidth=1)
            ax.annotate(
                f"first alert +{first * 60:.0f} min",
                xy=(first, top * 0.92),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=8,
            )
            title = f"{family}: {len(alerts)}/{len(accounts)} accounts alerted"
        else:
            title = f"{family}: not detected ({len(accounts)} accounts)"
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylim(0, top)
        ax.set_xlabel("hours since the campaign's first request")
        ax.set_ylabel("risk (1 = threshold)")
        if index == 0:
            ax.legend(loc="lower right", fontsize=7, frameon=False)
    for index in range(len(campaigns), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    return _svg(figure)


def peak_distribution(peaks_by_label: dict[str, list[float]]) -> str:
    """Histogram of each account's peak risk, one colour per label, log counts."""
    figure, ax = plt.subplots(figsize=(11, 3), constrained_layout=True)
    every = [r for peaks in peaks_by_label.values() for r in peaks]
    top = max([1.2, *every])
    bins = [top * i / 60 for i in range(61)]
    colours = {"attack": ATTACK_COLOUR, "benign": BENIGN_COLOUR}
    for label, peaks in sorted(peaks_by_label.items()):
        ax.hist(
            peaks,
            bins=bins,
            alpha=0.6,
            color=colours.get(label, THRESHOLD_COLOUR),
            label=f"{label} ({len(peaks)} accounts)",
        )
    ax.axvline(1.0, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1, label="alert threshold")
    ax.set_yscale("log")
    ax.set_xlabel("peak risk over the replay (1 = alert threshold)")
    ax.set_ylabel("accounts")
    ax.legend(frameon=False)
    return _svg(figure)


SEVERITY_COLOURS = {
    "info": "#95a5a6",
    "warning": "#f1c40f",
    "high": "#e67e22",
    "critical": "#c0392b",
}


def alert_load(alerts: Sequence[dict[str, Any]], first_ts: float, last_ts: float) -> str:
    """Pages (incidents opened) per hour of event time, stacked by severity: what on-call would
    see."""
    hours = max(1, int((last_ts - first_ts) // 3600) + 1)
    counts = {severity: [0] * hours for severity in SEVERITY_COLOURS}
    for alert in alerts:
        fired = changed_at(alert)
        hour = min(hours - 1, max(0, int((fired - first_ts) // 3600)))
        counts[alert["severity"]][hour] += 1
    figure, ax = plt.subplots(figsize=(11, 2.4), constrained_layout=True)
    bottom = [0] * hours
    for severity, colour in SEVERITY_COLOURS.items():
        if any(counts[severity]):
            ax.bar(range(hours), counts[severity], bottom=bottom, color=colour, label=severity)
            bottom = [b + c for b, c in zip(bottom, counts[severity], strict=True)]
    ax.set_xlabel("hours since the first event")
    ax.set_ylabel("firing alerts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if alerts:
        ax.legend(frameon=False, fontsize=8)
    return _svg(figure)


def cluster_growth(
    alerts: Sequence[dict[str, Any]],
    first_ts: float,
    labels: dict[str, tuple[str, str]] | None,
) -> str | None:
    """Per cluster alert subject (`hydra_cluster`): members named against event time, the
    first alert marked, and with labels the size of the family most of them belong to."""
    named: dict[str, list[tuple[float, int]]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        subject = alert["subject"]
        if subject["kind"] != "cluster":
            continue
        if alert["status"] != "firing":
            continue
        hours = (changed_at(alert) - first_ts) / 3600
        members[subject["cluster_id"]].update(subject["accounts"])
        named[subject["cluster_id"]].append((hours, len(members[subject["cluster_id"]])))
    if not named:
        return None
    family_sizes: dict[tuple[str, str], int] = defaultdict(int)
    for key in (labels or {}).values():
        family_sizes[key] += 1
    figure, ax = plt.subplots(figsize=(11, 3.2), constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for index, (cluster_id, points) in enumerate(sorted(named.items())):
        colour = colours(index % 10)
        times, sizes = zip(*points, strict=True)
        label = cluster_id
        if labels:
            families = [labels[a] for a in members[cluster_id] if a in labels]
            if families:
                family = max(set(families), key=families.count)
                label = f"{cluster_id} ({family[1]}, {family[0]})"
                ax.axhline(family_sizes[family], color=colour, linestyle=":", linewidth=0.8)
        ax.step(times, sizes, where="post", color=colour, label=label)
        ax.plot(times[0], sizes[0], marker="o", color=colour)
    ax.set_xlabel("hours since the first event (dot: first alert; dotted: the family's accounts)")
    ax.set_ylabel("accounts named")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=8)
    return _svg(figure)


def family_strips(peaks_by_family: dict[tuple[str, str], list[float]]) -> str:
    """One row per family, one dot per account at its peak risk: where the hard negatives sit."""
    figure, ax = plt.subplots(
        figsize=(11, 0.32 * len(peaks_by_family) + 1.2), constrained_layout=True
    )
    jitter = random.Random(0)  # fixed: the same input draws the same picture
    names = []
    for row, ((label, family), peaks) in enumerate(peaks_by_family.items()):
        colour = ATTACK_COLOUR if label == "attack" else BENIGN_COLOUR
        ax.scatter(
            peaks,
            [row + jitter.uniform(-0.25, 0.25) for _ in peaks],
            s=9,
            color=colour,
            alpha=0.6,
            linewidths=0,
        )
        names.append(f"{family} ({label})")
    ax.axvline(1.0, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("peak risk per account (1 = alert threshold)")
    return _svg(figure)


def _table_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for family in report.get("families", []):
        to_detect = family.get("requests_to_detect") or {}
        tokens = family.get("output_tokens_to_detect") or {}
        seconds = family.get("campaign_seconds_to_detect")
        rows.append(
            {
                **family,
                "requests_median": to_detect.get("median"),
                "requests_p90": to_detect.get("p90"),
                "tokens_median": tokens.get("median"),
                "tokens_p90": tokens.get("p90"),
                "campaign_minutes": seconds / 60 if seconds is not None else None,
            }
        )
    return rows


def _alert_rows(alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "fired_at": alert["fired_at"],
            "rule_id": alert["rule_id"],
            "severity": alert["severity"],
            "accounts": ", ".join(alert["subject"]["accounts"]),
            "score": alert["score"],
            "summary": alert["summary"],
        }
        for alert in alerts[:MAX_ALERT_ROWS]
    ]


def _rule_settings(config: DetectionConfig) -> dict[str, dict[str, Any]]:
    """Each rule's mode, detector and params except per-tier limits and combined members:
    what risk 1.0 meant in this run."""
    return {
        rule.id: {
            "detector": rule.detector,
            "mode": rule.mode,
            "severity": rule.severity,
            **{k: v for k, v in rule.params.items() if k not in ("tiers", "members")},
        }
        for rule in config.rules
    }


def render_report(
    report: dict[str, Any],
    summary: ReplaySummary,
    labels: dict[str, tuple[str, str]] | None,
    *,
    source: str,
    config: DetectionConfig,
    config_source: str,
) -> str:
    trace = summary.risk_trace
    if trace is None:
        raise ValueError("the HTML report needs a replay that recorded risk (record_risk=True)")
    figures: dict[str, str] = {}
    firing = [a for a in summary.alerts if transition_of(a) == "firing"]
    if summary.first_event_ts is not None and summary.last_event_ts is not None:
        figures["alert_load"] = alert_load(firing, summary.first_event_ts, summary.last_event_ts)
        growth = cluster_growth(summary.alerts, summary.first_event_ts, labels)
        if growth is not None:
            figures["cluster_growth"] = growth
    if labels:
        families = accounts_by_family(labels, summary.accounts)
        campaigns = {fam: accts for (label, fam), accts in families.items() if label == "attack"}
        if campaigns:
            figures["timelines"] = campaign_timelines(summary, trace, campaigns)
        peaks_by_label: dict[str, list[float]] = defaultdict(list)
        for (label, _), accounts in families.items():
            peaks_by_label[label] += [trace.peak.get(a, 0.0) for a in accounts]
        figures["distribution"] = peak_distribution(dict(peaks_by_label))
        figures["strips"] = family_strips(
            {key: [trace.peak.get(a, 0.0) for a in accts] for key, accts in families.items()}
        )
    else:
        figures["distribution"] = peak_distribution({"all": list(trace.peak.values())})
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("streams", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = lambda value: "-" if value is None else f"{value:,.0f}"
    return environment.get_template(TEMPLATE).render(
        report=report,
        source=source,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        labelled=labels is not None,
        figures=figures,
        families=_table_rows(report),
        alerts=_alert_rows(firing),
        alerts_total=len(firing),
        max_alert_rows=MAX_ALERT_ROWS,
        config_source=config_source,
        rules=_rule_settings(config),
        windows={name: w.seconds for name, w in config.windows.items()},
        hold_down_seconds=config.alerting.hold_down_seconds,
    )
