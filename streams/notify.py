"""`distillwatch notify ALERTS.jsonl`: deliver stored alerts to the configured sinks.

For trying a sinks file against real receivers, and for re-sending alerts that were parked
or produced offline (a backtest's `--alerts-out`). Each sink gets the alerts it wants in file
order, with the same retries as the live dispatcher; sinks run side by side, so a slow one
does not hold up the others. Exit 0 only when every wanted delivery was sent and every line
was an alert.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.sinks.base import SEVERITY_RANK, Sink
from streams.sinks.build import build_sinks, override
from streams.sinks.config import SinksConfig, load_sinks_config
from streams.sinks.delivery import Attempt, RetrySchedule, deliver_with_retry
from streams.sinks.http import open_session
from streams.sinks.metrics import SinkMetrics

_REQUIRED = ("alert_id", "dedup_key", "rule_id", "status", "severity", "subject", "fired_at")
EXIT_NOT_ALL_DELIVERED = 1
EXIT_USAGE = 2


def add_notify_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    notify = subparsers.add_parser("notify", help="deliver stored alerts (JSONL) to sinks")
    notify.add_argument("alerts", help="JSONL file of alerts (schema v1), e.g. --alerts-out")
    notify.add_argument("--config", help="sinks YAML (config/sinks.yaml is an example)")
    notify.add_argument("--sink", metavar="NAME", help="deliver to this sink only")
    notify.add_argument("--alertmanager", metavar="URL", help="an Alertmanager to post to")
    notify.add_argument("--webhook", metavar="URL", help="a Standard Webhooks receiver")
    notify.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help="whsec_... for --webhook (visible to other local users: prefer a sinks file "
        "with secrets_env)",
    )
    notify.add_argument(
        "--horizon",
        type=float,
        metavar="SECONDS",
        help="stop retrying a delivery after this long (default: the config's horizon)",
    )
    notify.set_defaults(func=cmd_notify)
    return notify


@dataclass
class Tally:
    sent: int = 0
    parked: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def read_alerts(path: Path, err: Console) -> tuple[list[dict[str, Any]], int]:
    """The alerts of a JSONL file and the number of bad lines (each reported)."""
    alerts: list[dict[str, Any]] = []
    bad = 0
    for number, problem, alert in _parse_lines(path):
        if problem is not None:
            bad += 1
            where = f"[bold red]{escape(str(path))} line {number}:[/]"
            err.print(f"{where} {escape(problem)}", highlight=False, soft_wrap=True)
        elif alert is not None:
            alerts.append(alert)
    return alerts, bad


def _parse_lines(path: Path) -> Iterator[tuple[int, str | None, dict[str, Any] | None]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                alert = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                yield number, f"not JSON ({error}); skipped", None
                continue
            if not isinstance(alert, dict):
                yield number, "not a JSON object; skipped", None
                continue
            missing = [key for key in _REQUIRED if key not in alert]
            if missing:
                yield number, f"not an alert: no {', '.join(missing)}; skipped", None
            elif alert["severity"] not in SEVERITY_RANK:
                yield number, f"unknown severity {alert['severity']!r}; skipped", None
            else:
                yield number, None, alert


async def _run_sink(
    sink: Sink, alerts: list[dict[str, Any]], horizon: float | None, err: Console
) -> Tally:
    tally = Tally()
    delivery = sink.delivery
    if horizon is not None:
        delivery = delivery.model_copy(update={"horizon_seconds": horizon})
    schedule = RetrySchedule.from_config(delivery)

    def report(attempt: Attempt) -> None:
        if attempt.error is not None and attempt.retry_in is not None:
            err.print(
                escape(
                    f"{sink.name}: alert {attempt.alert_id} attempt {attempt.number} failed "
                    f"({attempt.error.reason}); retrying in {attempt.retry_in:.1f} s"
                ),
                highlight=False,
                soft_wrap=True,
            )

    for alert in alerts:
        if not sink.wants(alert):
            tally.skipped += 1
            continue
        result = await deliver_with_retry(sink, alert, schedule, on_attempt=report)
        if result.outcome == "sent":
            tally.sent += 1
            continue
        tally.parked += 1
        tally.reasons[result.reason or "unknown"] += 1
        err.print(
            "[bold red]parked:[/] "
            + escape(
                f"{sink.name}: alert {result.alert_id} after {result.attempts} attempts "
                f"({result.reason}): {result.detail}"
            ),
            highlight=False,
            soft_wrap=True,
        )
    return tally


async def _deliver_all(
    config: SinksConfig, alerts: list[dict[str, Any]], horizon: float | None, err: Console
) -> list[tuple[Sink, Tally]]:
    async with open_session() as session:
        sinks = build_sinks(config, session, SinkMetrics.noop())
        try:
            tallies = await asyncio.gather(
                *(_run_sink(sink, alerts, horizon, err) for sink in sinks)
            )
        finally:
            for sink in sinks:
                await sink.close()
    return list(zip(sinks, tallies, strict=True))


def _table(results: list[tuple[Sink, Tally]], alerts: int, bad: int) -> Table:
    table = Table(title=f"notify: {alerts} alerts read, {bad} bad lines")
    for column in ("sink", "type", "sent", "parked", "skipped", "parked reasons"):
        numeric = column in {"sent", "parked", "skipped"}
        table.add_column(column, justify="right" if numeric else "left")
    for sink, tally in results:
        reasons = ", ".join(f"{r}={n}" for r, n in sorted(tally.reasons.items()))
        table.add_row(
            sink.name, sink.kind, str(tally.sent), str(tally.parked), str(tally.skipped), reasons
        )
    return table


def cmd_notify(args: argparse.Namespace) -> int:
    """Raises ConfigError for a refused sinks file or flags (the CLI prints it, exit 2)."""
    out, err = Console(), Console(stderr=True)
    base = load_sinks_config(args.config) if args.config else SinksConfig()
    config = override(
        base,
        sink_name=args.sink,
        alertmanager_url=args.alertmanager,
        webhook_url=args.webhook,
        webhook_secret=args.webhook_secret,
    )
    if not config.enabled:
        err.print(
            "[bold red]error:[/] no sink to deliver to: give --config FILE with an enabled "
            "sink, or --alertmanager URL, or --webhook URL --webhook-secret SECRET",
            soft_wrap=True,
        )
        return EXIT_USAGE
    if args.horizon is not None and args.horizon < 0:
        err.print("[bold red]error:[/] --horizon must be 0 or more seconds")
        return EXIT_USAGE
    alerts, bad = read_alerts(Path(args.alerts), err)
    results = asyncio.run(_deliver_all(config, alerts, args.horizon, err))
    out.print(_table(results, len(alerts), bad))
    parked = sum(tally.parked for _, tally in results)
    return EXIT_NOT_ALL_DELIVERED if parked or bad else 0
