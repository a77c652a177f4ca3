"""Read rule files (config/rules/*.yaml) and refuse a bad rule with file, line, key and reason.

A rule file is a YAML list of rules. Each rule is validated by `detectors.ruleset.Rule` and its
params by its detector's own model; an error is located on the YAML node of the offending key
(found by walking the composed node tree along the error's key path), so an operator is told
`config/rules/signals.yaml:42: rule 'template_concentration': key params.min_share: ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from detectors.errors import ConfigError
from detectors.rules import CATALOG
from detectors.ruleset import Rule


def _line_of(node: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at `path` below `node`, or of its deepest existing parent."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, found = key.start_mark.line + 1, value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            found = node.value[part]
            line = found.start_mark.line + 1
        if found is None:
            break
        node = found
    return line


def _refuse(
    source: str,
    node: yaml.Node | None,
    index: int,
    rule_id: object,
    error: ValidationError,
    prefix: tuple[int | str, ...] = (),
) -> ConfigError:
    problems = []
    for item in error.errors():
        path = (*prefix, *item["loc"])
        line = _line_of(node, (index, *path))
        key = ".".join(str(p) for p in path) or "(rule)"
        where = f"{source}:{line}" if line is not None else source
        name = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{index + 1}"
        problems.append(f"{where}: {name}: key {key}: {item['msg']}")
    return ConfigError("; ".join(problems))


def parse_rules(text: str, source: str) -> list[Rule]:
    return [rule for rule, _ in parse_rules_with_origin(text, source)]


def parse_rules_with_origin(text: str, source: str) -> list[tuple[Rule, str]]:
    """Each rule with where it is defined (`file:line`), for errors about the rule set."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML: {error}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{source}:1: a rule file is a list of rules")
    return [
        (_parse_rule(item, index, node, source), f"{source}:{_line_of(node, (index,))}")
        for index, item in enumerate(data)
    ]


def _parse_rule(item: Any, index: int, node: yaml.Node | None, source: str) -> Rule:
    if not isinstance(item, dict):
        line = _line_of(node, (index,))
        raise ConfigError(f"{source}:{line}: rule #{index + 1}: must be a mapping")
    rule_id = item.get("id")
    detector = CATALOG.get(str(item.get("detector")))
    params = item.get("params", {})
    if detector is not None and isinstance(params, dict):
        # Validated here first so an error points at the param's own line.
        try:
            detector.Params.model_validate(params)
        except ValidationError as error:
            raise _refuse(source, node, index, rule_id, error, ("params",)) from None
    try:
        return Rule.model_validate(item)
    except ValidationError as error:
        raise _refuse(source, node, index, rule_id, error) from None


def load_rule_file(path: Path) -> list[tuple[Rule, str]]:
    """The file's rules, each with its `file:line`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    return parse_rules_with_origin(text, str(path))


def rule_paths(config_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    """The files the configuration's `rule_files` globs name, in a stable order."""
    found: list[Path] = []
    for pattern in patterns:
        matches = (
            sorted(config_dir.glob(pattern))
            if not Path(pattern).is_absolute()
            else sorted(Path(pattern).parent.glob(Path(pattern).name))
        )
        found += [m for m in matches if m not in found]
    return found
