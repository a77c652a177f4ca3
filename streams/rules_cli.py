"""`distillwatch rules validate|list`: check rule files before they reach a worker, and show
what the configured rules are."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from detectors.config import DetectionConfig
from detectors.errors import ConfigError
from streams.config_loader import config_files, load_config, locate_rules_in
from streams.rule_files import load_rule_file


def cmd_rules_validate(args: argparse.Namespace, out: Console) -> int:
    """Validate the named rule files in place of their configured namesakes, with the rest of
    the configured rules and windows; without files, the whole configuration. Raises
    ConfigError (file, line, rule, key, reason)."""
    if not args.files:
        config = load_config(args.config)
        out.print(f"{len(config.rules)} rules valid (layout {config.layout.version})")
        return 0
    base = load_config(args.config)
    named = [Path(path).resolve() for path in args.files]
    configured = [p.resolve() for p in config_files(args.config)[1:]]
    # The named files replace their configured namesakes, beside the other configured files:
    # the rule set a worker would load if these files were deployed.
    files = [p for p in configured if p not in named] + named
    located = [pair for path in files for pair in load_rule_file(path)]
    data = base.model_dump(exclude={"rules"})
    try:
        checked = DetectionConfig.model_validate({**data, "rules": [r for r, _ in located]})
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]) for e in error.errors())
        raise ConfigError(locate_rules_in(problems, located)) from None
    out.print(f"{len(checked.rules)} rules valid with {', '.join(args.files)}")
    return 0


def cmd_rules_list(args: argparse.Namespace, out: Console) -> int:
    config = load_config(args.config)
    table = Table(title=f"rules (layout {config.layout.version})")
    for column in ("id", "detector", "mode", "severity", "windows", "tags"):
        table.add_column(column)
    for rule in config.rules:
        windows = rule.params.get("windows", ["24h"])
        table.add_row(
            rule.id,
            rule.detector,
            rule.mode,
            rule.severity,
            ", ".join(map(str, windows)),
            ", ".join(rule.tags),
        )
    out.print(table)
    return 0


def add_rules_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = sub.add_parser("rules", help="validate or list detection rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    validate = rules_sub.add_parser("validate", help="check rule files; exit 2 on any error")
    validate.add_argument("files", nargs="*", help="rule files (default: the configured ones)")
    validate.add_argument("--config", help="detector config YAML (windows, rule files)")
    validate.set_defaults(rules_func=cmd_rules_validate)
    listing = rules_sub.add_parser("list", help="print id, detector, mode, severity, tags")
    listing.add_argument("--config", help="detector config YAML")
    listing.set_defaults(rules_func=cmd_rules_list)
