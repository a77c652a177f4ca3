"""Text the receivers show on-call: the evidence's numbers, compact and in a stable order.

Evidence is an object of numbers by signal, possibly nested (`{"reasoning": {"share": 0.8}}`).
Only numbers are shown: strings there are fingerprints (no use on a phone) and lists can be
long. Order is deterministic: top-level numbers sorted by key, then nested ones by dotted key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 3


def format_number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def _nested(evidence: Mapping[str, Any], prefix: str, depth: int) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    for key, value in evidence.items():
        path = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found.append((path, value))
        elif isinstance(value, Mapping) and depth < _MAX_DEPTH:
            found += _nested(value, f"{path}.", depth + 1)
    return found


def numeric_evidence(evidence: object) -> list[tuple[str, float]]:
    """(key, number) pairs: top-level numbers by key, then nested numbers by dotted key."""
    if not isinstance(evidence, Mapping):
        return []
    pairs = _nested(evidence, "", 0)
    return sorted(pairs, key=lambda pair: ("." in pair[0], pair[0]))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_value_lines(pairs: list[tuple[str, float]], limit: int) -> str:
    """`key=value` lines, whole lines only, within `limit` characters including a last line
    saying how many were left out."""
    budget = limit - len("... 999999 more") - 1
    lines: list[str] = []
    used = 0
    for index, (key, value) in enumerate(pairs):
        line = truncate(f"{key}={format_number(value)}", budget)
        if used + len(line) > budget:
            lines.append(f"... {len(pairs) - index} more")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)
