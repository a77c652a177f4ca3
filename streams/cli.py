"""The `distillwatch` command: worker, replay, backtest, simulate, check-config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from detectors.adapters import adapter_for
from detectors.alerts import transition_of
from detectors.config import DetectionConfig
from detectors.errors import ConfigError
from streams.config_loader import default_config_path, load_config
from streams.health import add_health_args, run_health
from streams.linkage_store import MemoryLinkage
from streams.memory_store import MemoryWindowStore
from streams.pipeline import DetectionPipeline
from streams.redis_store import RedisWindowStore
from streams.replay import ReplaySummary, replay_file
from streams.runtime import tune_gc_for_throughput
from streams.store import WindowStore
from streams.worker_args import add_input_format_args

PROGRESS_MIN_BYTES = 1 << 20
err = Console(stderr=True)
out = Console() if Console().is_terminal else Console(width=160)  # tables readable in logs


ALERT_TAGS = {
    "firing": "[bold red]ALERT[/]",
    "updated": "[red]UPDATE[/]",
    "resolved": "[green]RESOLVED[/]",
}


def _print_alert(alert: dict[str, Any]) -> None:
    # Every value after the tag comes from events or rules: printed as text, never as markup.
    transition = transition_of(alert)
    accounts = alert["subject"]["accounts"]
    named = ", ".join(accounts[:5]) + (
        f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
    )
    out.print(
        ALERT_TAGS.get(transition, "ALERT")
        + " "
        + escape(
            f"{alert.get('changed_at') or alert['fired_at']} {alert['severity']:<8} "
            f"{alert['rule_id']} {named} score={alert['score']:.2f}"
            + (f" suppressed={alert['suppressed']}" if transition == "resolved" else "")
            + f"\n      {alert['summary']}"
        ),
        highlight=False,
    )


def _summary_table(summary: ReplaySummary) -> Table:
    table = Table(title="replay summary", show_header=False)
    table.add_row("events read", f"{summary.events:,}")
    table.add_row(
        "applied / duplicate / late",
        f"{summary.applied:,} / {summary.duplicates:,} / {summary.late:,}",
    )
    dead = ", ".join(f"{r}={n}" for r, n in sorted(summary.dead_letters.items())) or "0"
    table.add_row("dead letters", escape(dead))
    table.add_row("accounts seen", f"{len(summary.accounts):,}")
    table.add_row("alerts", f"{len(summary.alerts):,}")
    alerted = sorted({a for alert in summary.alerts for a in alert["subject"]["accounts"]})
    table.add_row(
        "accounts alerted",
        escape(", ".join(alerted[:20]) + (" ..." if len(alerted) > 20 else "")),
    )
    table.add_row(
        "elapsed", f"{summary.elapsed_seconds:.2f} s ({summary.events_per_second:,.0f} events/s)"
    )
    return table


async def _replay(
    args: argparse.Namespace, config: DetectionConfig, *, record_risk: bool = False
) -> ReplaySummary:
    store: WindowStore
    if args.redis:
        store = RedisWindowStore.from_url(args.redis, key_prefix=config.state.key_prefix)
    else:
        store = MemoryWindowStore()
    linkage = MemoryLinkage(config.linkage) if config.linkage.enabled else None
    pipeline = DetectionPipeline(config, store, record_risk=record_risk, linkage=linkage)
    events_path = Path(args.events)
    show_progress = err.is_terminal and events_path.stat().st_size > PROGRESS_MIN_BYTES
    with ExitStack() as stack:
        alerts_out: IO[bytes] | None = (
            stack.enter_context(open(args.alerts_out, "wb")) if args.alerts_out else None
        )
        dlq_out: IO[bytes] | None = (
            stack.enter_context(open(args.dlq_out, "wb")) if args.dlq_out else None
        )
        progress = stack.enter_context(
            Progress(
                TextColumn("replaying"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeRemainingColumn(),
                console=err,
                disable=not show_progress,
                transient=True,
            )
        )
        task = progress.add_task("replay", total=events_path.stat().st_size)
        try:
            return await replay_file(
                events_path,
                pipeline,
                alerts_out=alerts_out,
                dlq_out=dlq_out,
                on_alert=None if args.quiet else _print_alert,
                on_progress=lambda done: progress.update(task, completed=done),
                batch_size=args.batch_size,
                adapter=adapter_for(args.input_format, args.account_field or None),
            )
        finally:
            await store.close()


def cmd_replay(args: argparse.Namespace) -> int:
    summary = asyncio.run(_replay(args, load_config(args.config)))
    out.print(_summary_table(summary))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from streams.backtest import LabelsError, backtest_report, load_labels, print_report

    if args.report:
        # Import first: a missing plotting stack should fail before a long replay, not after.
        try:
            from streams.report_html import render_report
        except ImportError as missing:
            err.print(f"[bold red]error:[/] {missing}", highlight=False)
            return 2
    for output in (args.report, args.json):
        if output and not Path(output).resolve().parent.is_dir():
            err.print(f"[bold red]error:[/] no directory for {output}", highlight=False)
            return 2
    try:  # before the replay: a bad labels file should not cost a long run
        labels = load_labels(Path(args.labels)) if args.labels else None
    except LabelsError as error:
        err.print(f"[bold red]labels refused:[/] {error}", highlight=False)
        return 2
    config = load_config(args.config)
    summary = asyncio.run(_replay(args, config, record_risk=bool(args.report)))
    report = backtest_report(summary, labels)
    print_report(report, out)
    if args.json:
        import orjson

        Path(args.json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    if args.report:
        html = render_report(
            report,
            summary,
            labels,
            source=args.events,
            config=config,
            config_source=str(args.config or default_config_path()),
        )
        Path(args.report).write_text(html, encoding="utf-8")
        out.print(f"report: {args.report}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.sim.scenarios import simulate, write_labels

    if not args.out and not args.to_kafka:
        err.print("simulate needs --out FILE and/or --to-kafka BOOTSTRAP")
        return 2
    from streams.kafka_security import KafkaSecurity

    security = KafkaSecurity.from_args(args)  # refused before any event is generated
    sim = simulate(args.scenario, hours=args.hours, seed=args.seed, benign_accounts=args.accounts)
    if args.labels:
        write_labels(sim.labels, args.labels)
    generated = 0
    with ExitStack() as stack:
        handle = stack.enter_context(open(args.out, "wb")) if args.out else None

        def stream() -> Iterator[tuple[float, bytes]]:
            """One pass over the generated events: to the file and, if asked, to Kafka."""
            nonlocal generated
            for ts, line in sim.events():
                generated += 1
                if handle is not None:
                    handle.write(line + b"\n")
                yield ts, line

        if args.to_kafka:
            from streams.kafka_check import KafkaUnavailable
            from streams.kafka_producer import send_lines

            try:
                sent = send_lines(stream(), args.to_kafka, args.topic, args.rate, security)
            except KafkaUnavailable as error:
                err.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
                return 2
            out.print(f"sent {sent:,} events to {args.topic} at {args.to_kafka}")
        else:
            for _ in stream():
                pass
    families = Counter(f"{label.label}:{label.family}" for label in sim.labels)
    out.print(
        f"simulated {generated:,} events for {len(sim.labels)} accounts over "
        f"{args.hours:g} h (scenario {args.scenario}, seed {args.seed}): "
        f"{', '.join(f'{f}={n}' for f, n in sorted(families.items()))}",
        highlight=False,
    )
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else default_config_path()
    config = load_config(path)
    out.print(
        f"{escape(str(path))}: valid "
        f"(windows: {', '.join(config.window_names)}; {len(config.rules)} rules; "
        f"state layout {config.layout.version})"
    )
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    return int(args.rules_func(args, out))


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    return run_worker(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="distillwatch", description=__doc__)
    parser.add_argument("--log-level", default="WARNING")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_replay_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "events",
            help="JSONL file of inference events (schema v1), or of the gateway log records "
            "named by --input-format (one payload per line)",
        )
        add_input_format_args(p)
        p.add_argument("--config", help="detector config YAML (default config/detectors.yaml)")
        p.add_argument("--alerts-out", help="write alerts (schema v1) as JSONL here")
        p.add_argument("--dlq-out", help="write malformed lines here with their reasons")
        p.add_argument("--redis", help="keep window state in this Redis instead of memory")
        p.add_argument("--batch-size", type=int, default=1000)

    replay = sub.add_parser("replay", help="run the pipeline over a JSONL file on event time")
    add_replay_args(replay)
    replay.add_argument("--quiet", action="store_true", help="do not print alerts as they fire")
    replay.set_defaults(func=cmd_replay)

    backtest = sub.add_parser("backtest", help="replay plus detection statistics")
    add_replay_args(backtest)
    backtest.add_argument("--labels", help="CSV account_id,label,family")
    backtest.add_argument("--quiet", action="store_true", help="do not print alerts as they fire")
    backtest.add_argument("--json", help="write the statistics as JSON here")
    backtest.add_argument("--report", help="write an HTML report with plots here")
    backtest.set_defaults(func=cmd_backtest)

    simulate = sub.add_parser("simulate", help="labelled synthetic traffic from a scenario")
    simulate.add_argument(
        "--scenario",
        default="all",
        help="all, benign, or one attack family (see docs/simulator.md)",
    )
    simulate.add_argument("--accounts", type=int, default=200, help="benign accounts")
    simulate.add_argument("--out", help="write the events as JSONL here")
    simulate.add_argument("--to-kafka", metavar="BOOTSTRAP", help="produce the events to Kafka")
    simulate.add_argument("--topic", default="inference-requests")
    simulate.add_argument("--rate", type=float, help="events per second when producing")
    simulate.add_argument("--labels")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--hours", type=float, default=24.0)
    from streams.kafka_security import add_kafka_security_args

    add_kafka_security_args(simulate)
    simulate.set_defaults(func=cmd_simulate)

    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", nargs="?")
    check.set_defaults(func=cmd_check_config)

    from streams.rules_cli import add_rules_parser

    add_rules_parser(sub)
    sub.choices["rules"].set_defaults(func=cmd_rules)

    health = sub.add_parser("health", help="probe a running worker: exit 1 if it is stalled")
    add_health_args(health)
    health.set_defaults(func=run_health)

    from streams.dispatcher import add_dispatch_parser
    from streams.ingest import add_ingest_parser
    from streams.notify import add_notify_parser

    add_notify_parser(sub)
    add_dispatch_parser(sub)
    add_ingest_parser(sub)

    worker = sub.add_parser("worker", help="run the live Kafka worker (faust)")
    from streams.worker_args import add_worker_args

    add_worker_args(worker)
    worker.set_defaults(func=cmd_worker)
    return parser


KAFKA_CLIENT_LOGGERS = ("aiokafka", "kafka")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_gc_for_throughput()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Kafka clients log each record they send or fetch at DEBUG, prompt text included: never
    # below INFO, whatever --log-level says (no prompt text in logs)
    for name in KAFKA_CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        return int(args.func(args))
    except ConfigError as error:
        err.print(f"[bold red]configuration refused:[/] {error}", highlight=False, soft_wrap=True)
        return 2
    except FileNotFoundError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
