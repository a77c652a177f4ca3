"""Backtest measures over a replay (detection.md, "How detection quality is measured").

Per attack family: account recall, requests and output tokens before each account's first
alert (median, p90). Per campaign (all accounts of an attack family): detected or not, and the
event time from its first request to its first alert. Per benign family: false-positive rate.
Overall: alert load per 1,000 accounts per day. Without labels: alerts by rule and accounts.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from detectors.alerts import transition_of
from streams.replay import ReplaySummary

ACCOUNTS_LISTED = 20  # on the console; --json has them all


LABEL_COLUMNS = ("account_id", "label", "family")
LABEL_VALUES = ("attack", "benign")


class LabelsError(ValueError):
    """A labels file that cannot be used; says the file, the line and what is wrong."""


def load_labels(path: Path) -> dict[str, tuple[str, str]]:
    """account_id -> (label, family), from a CSV with the columns account_id,label,family."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise LabelsError(f"{path}: header lacks column(s) {', '.join(missing)}")
        labels: dict[str, tuple[str, str]] = {}
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            account, label, family = (row[c] or "" for c in LABEL_COLUMNS)
            if not account or not family:
                raise LabelsError(f"{where}: account_id and family must not be empty")
            if label not in LABEL_VALUES:
                raise LabelsError(f"{where}: label must be attack or benign, not {label!r}")
            if labels.get(account, (label, family)) != (label, family):
                raise LabelsError(f"{where}: {account} is labelled twice, differently")
            labels[account] = (label, family)
    return labels


def accounts_by_family(
    labels: dict[str, tuple[str, str]], seen: set[str]
) -> dict[tuple[str, str], list[str]]:
    """(label, family) -> the labelled accounts that appear in the events, sorted by key."""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account, key in labels.items():
        if account in seen:
            grouped[key].append(account)
    return dict(sorted(grouped.items()))


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p90": p90}


def backtest_report(
    summary: ReplaySummary, labels: dict[str, tuple[str, str]] | None
) -> dict[str, Any]:
    # Pages: incidents opened. Accounts alerted: named by any firing message (a cluster's
    # update names the accounts it gained).
    firing = [a for a in summary.alerts if transition_of(a) == "firing"]
    alerted = {
        acct
        for alert in summary.alerts
        if alert["status"] == "firing"
        for acct in alert["subject"]["accounts"]
    }
    span_days = max(1 / 24, ((summary.last_event_ts or 0) - (summary.first_event_ts or 0)) / 86400)
    report: dict[str, Any] = {
        "events": summary.events,
        "accounts": len(summary.accounts),
        "alerts": len(firing),
        "alerts_by_rule": dict(Counter(a["rule_id"] for a in firing)),
        "accounts_alerted": sorted(alerted),
        "alert_load_per_1000_accounts_per_day": round(
            len(firing) / max(1, len(summary.accounts)) * 1000 / span_days, 2
        ),
        "event_days": round(span_days, 3),
        "events_per_second": round(summary.events_per_second),
        "shadow_findings_by_rule": {
            rule: len(accounts) for rule, accounts in sorted(summary.shadow_accounts.items())
        },
    }
    if labels is None:
        return report
    by_family = accounts_by_family(labels, summary.accounts)
    families = []
    for (label, family), accounts in by_family.items():
        hits = [a for a in accounts if a in alerted]
        row: dict[str, Any] = {
            "label": label,
            "family": family,
            "accounts": len(accounts),
            "alerted": len(hits),
            "rate": round(len(hits) / len(accounts), 4),
        }
        if label == "attack":
            detected = [summary.first_alert[a] for a in hits if a in summary.first_alert]
            row["requests_to_detect"] = _quantiles([d[0] for d in detected])
            row["output_tokens_to_detect"] = _quantiles([d[1] for d in detected])
            first_request = min(summary.account_totals[a][0] for a in accounts)
            first_alert = min((d[2] for d in detected), default=None)
            row["campaign_detected"] = first_alert is not None
            row["campaign_seconds_to_detect"] = (
                round(first_alert - first_request, 1) if first_alert is not None else None
            )
        families.append(row)
    if summary.risk_trace is not None and summary.risk_trace.rule_ids:
        report["signals_by_family"] = signals_by_family(summary, by_family)
    attack = [a for a, (lab, _) in labels.items() if lab == "attack" and a in summary.accounts]
    benign = [a for a, (lab, _) in labels.items() if lab == "benign" and a in summary.accounts]
    campaigns = [f for f in families if f["label"] == "attack"]
    report.update(
        {
            "families": families,
            # Seen but not in the labels file: in the alert load, in no recall or FPR.
            "unlabelled_accounts": len(summary.accounts - labels.keys()),
            "account_recall": round(sum(a in alerted for a in attack) / len(attack), 4)
            if attack
            else None,
            "campaign_recall": (
                round(sum(f["campaign_detected"] for f in campaigns) / len(campaigns), 4)
                if campaigns
                else None
            ),
            "false_positive_rate": (
                round(sum(a in alerted for a in benign) / len(benign), 4) if benign else None
            ),
        }
    )
    return report


def signals_by_family(
    summary: ReplaySummary, by_family: dict[tuple[str, str], list[str]]
) -> list[dict[str, Any]]:
    """Per family and rule: how many accounts reached the rule's threshold, and the median of
    their peak risks: which signals carried the attacks, which came close on look-alikes."""
    trace = summary.risk_trace
    assert trace is not None  # checked by the caller
    rows = []
    for (label, family), accounts in by_family.items():
        peaks = [trace.rule_peaks[a] for a in accounts if a in trace.rule_peaks]
        signals = {}
        for index, rule in enumerate(trace.rule_ids):
            values = sorted(p[index] for p in peaks)
            signals[rule] = {
                "at_threshold": sum(v >= 1.0 for v in values),
                "median_peak": round(statistics.median(values), 3) if values else None,
            }
        rows.append({"label": label, "family": family, "accounts": len(peaks), "signals": signals})
    return rows


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}"


def _pct(share: float | None, digits: int) -> str:
    """A share as a percentage; "-" when the labels have no account to compute it on (a
    labels file of attackers only has no false-positive rate)."""
    return "-" if share is None else f"{share:.{digits}%}"


def print_report(report: dict[str, Any], console: Console) -> None:
    if report.get("families"):
        table = Table(title="backtest")
        for column in (
            "label",
            "family",
            "accounts",
            "alerted",
            "recall / FPR",
            "requests to detect\nmedian / p90",
            "output tokens to detect\nmedian / p90",
            "campaign time\nto detect",
        ):
            table.add_column(column, justify="left" if column in ("label", "family") else "right")
        for row in report["families"]:
            attack = row["label"] == "attack"
            requests = row.get("requests_to_detect") or {}
            tokens = row.get("output_tokens_to_detect") or {}
            seconds = row.get("campaign_seconds_to_detect")
            table.add_row(
                escape(row["label"]),  # from the labels file: text, not markup
                escape(row["family"]),
                str(row["accounts"]),
                str(row["alerted"]),
                f"{row['rate']:.0%}",
                f"{_fmt(requests.get('median'))} / {_fmt(requests.get('p90'))}" if attack else "",
                f"{_fmt(tokens.get('median'))} / {_fmt(tokens.get('p90'))}" if attack else "",
                _fmt(seconds / 60 if seconds is not None else None, " min") if attack else "",
            )
        console.print(table)
    console.print(
        f"alerts by rule: {escape(str(report['alerts_by_rule'] or 'none'))}; accounts alerted: "
        f"{len(report['accounts_alerted'])}; alert load "
        f"{report['alert_load_per_1000_accounts_per_day']} per 1,000 accounts per day; "
        f"{report['events']:,} events at {report['events_per_second']:,} events/s",
        highlight=False,
    )
    if "families" not in report and report["accounts_alerted"]:
        shown = report["accounts_alerted"][:ACCOUNTS_LISTED]
        more = len(report["accounts_alerted"]) - len(shown)
        console.print(
            "accounts alerted: " + escape(", ".join(shown)) + (f" and {more} more" if more else ""),
            highlight=False,
        )
    if report.get("unlabelled_accounts"):
        console.print(
            f"[yellow]{report['unlabelled_accounts']} accounts in the events are not in the "
            "labels file: they count in the alert load, not in recall or false-positive rate",
            highlight=False,
        )
    if report.get("account_recall") is not None:
        console.print(
            f"account recall {_pct(report['account_recall'], 1)}, campaign recall "
            f"{_pct(report['campaign_recall'], 0)}, false-positive rate "
            f"{_pct(report['false_positive_rate'], 2)}",
            highlight=False,
        )
