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
    output_tokens: int = 900,
    finish: str = "stop",
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


# Varied payloads for templated prompts: every harvest request asks about something else.
_TOPICS = (
    "tidal locking", "the Krebs cycle", "B-tree page splits", "Byzantine consensus",
    "the Monty Hall problem", "Fourier series", "TCP congestion control", "photosynthesis",
    "the halting problem", "RSA key generation", "plate tectonics", "garbage collection",
    "Bayes' theorem", "the French Revolution", "CRISPR", "the Riemann zeta function",
)  # fmt: skip
HARVEST_FRAME = "Write out your complete reasoning, every step in full, then the final answer."


def topic_text(i: int) -> str:
    """A varied question (no frame, no marker)."""
    a, b = _TOPICS[i % len(_TOPICS)], _TOPICS[(i * 7 + 3) % len(_TOPICS)]
    return f"How does {a} relate to {b}, case {i}?"


def harvest_text(i: int) -> str:
    """A reasoning-harvest prompt: a varied question, then the campaign's fixed demand."""
    return f"{topic_text(i)}\n\n{HARVEST_FRAME}"


def harvest_events(
    account: str, n: int, start: float = 1_771_840_800.0, spacing: float = 60.0
) -> list[dict[str, Any]]:
    """A dedicated reasoning harvest: single-turn, templated, complete answers much longer than
    the prompts, paced over hours (the default spacing reaches a third hour at event 121)."""
    return [make_event(account, start + i * spacing, text=harvest_text(i)) for i in range(n)]
