"""Builders shared by tests: valid events with only the fields a test cares about."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_ids = itertools.count()


def make_event(
    account: str = "acct_1",
    ts: float = 1_771_840_800.0,
    *,
    single_turn: bool = True,
    max_tokens: int = 4096,
    output_tokens: int = 4096,
    finish: str = "length",
    tier: str | None = "build",
    event_id: str | None = None,
    text: str = "Explain the proof in full detail.",
    **extra: Any,
) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    if not single_turn:
        messages += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "more"}]
    event: dict[str, Any] = {
        "event_id": event_id or f"evt-{next(_ids)}",
        "timestamp": ts,
        "account_id": account,
        "model": "frontier-large",
        "turn_index": 0 if single_turn else 1,
        "request": {"messages": messages, "max_tokens": max_tokens},
        "response": {"status": 200, "finish_reason": finish},
        "usage": {"input_tokens": 100, "output_tokens": output_tokens},
    }
    if tier is not None:
        event["tier"] = tier
    event.update(extra)
    return event


def encode(events: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


def harvest_events(
    account: str, n: int, start: float = 1_771_840_800.0, spacing: float = 5.0
) -> list[dict[str, Any]]:
    return [make_event(account, start + i * spacing) for i in range(n)]
