"""Backtest statistics over a replay: alerts by rule, accounts alerted, and with labels the
measures of detection.md (account recall per attack family, false-positive rate per benign
family, requests before the first alert)."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.replay import ReplaySummary


def load_labels(path: Path) -> dict[str, tuple[str, str]]:
    """account_id -> (label, family)."""
    labels = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels[row["account_id"]] = (row["label"], row["family"])
    return labels


def backtest_report(
    summary: ReplaySummary, labels: dict[str, tuple[str, str]] | None
) -> dict[str, Any]:
    alerted: set[str] = set()
    by_rule: Counter[str] = Counter()
    for alert in summary.alerts:
        if alert["status"] == "firing":
            by_rule[alert["rule_id"]] += 1
            alerted.update(alert["subject"]["accounts"])
    report: dict[str, Any] = {
        "events": summary.events,
        "accounts": len(summary.accounts),
        "alerts": len(summary.alerts),
        "alerts_by_rule": dict(by_rule),
        "accounts_alerted": sorted(alerted),
        "events_per_second": round(summary.events_per_second),
    }
    if labels is None:
        return report
    families: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account, (label, family) in labels.items():
        families[(label, family)].append(account)
    rows = []
    for (label, family), accounts in sorted(families.items()):
        hit = sum(1 for a in accounts if a in alerted)
        rows.append(
            {
                "label": label,
                "family": family,
                "accounts": len(accounts),
                "alerted": hit,
                "rate": round(hit / len(accounts), 4),
            }
        )
    attack = [a for a, (lab, _) in labels.items() if lab == "attack"]
    benign = [a for a, (lab, _) in labels.items() if lab == "benign"]
    report["families"] = rows
    report["account_recall"] = (
        round(sum(a in alerted for a in attack) / len(attack), 4) if attack else None
    )
    report["false_positive_rate"] = (
        round(sum(a in alerted for a in benign) / len(benign), 4) if benign else None
    )
    return report


def print_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title="backtest")
    table.add_column("label")
    table.add_column("family")
    table.add_column("accounts", justify="right")
    table.add_column("alerted", justify="right")
    table.add_column("recall / FPR", justify="right")
    for row in report.get("families", []):
        table.add_row(
            row["label"],
            row["family"],
            str(row["accounts"]),
            str(row["alerted"]),
            f"{row['rate']:.0%}",
        )
    if report.get("families"):
        console.print(table)
    console.print(
        f"alerts by rule: {report['alerts_by_rule'] or 'none'}; "
        f"accounts alerted: {len(report['accounts_alerted'])}; "
        f"{report['events']:,} events at {report['events_per_second']:,} events/s"
    )
    if report.get("account_recall") is not None:
        console.print(
            f"account recall {report['account_recall']:.0%}, "
            f"false-positive rate {report['false_positive_rate']:.0%}"
        )
