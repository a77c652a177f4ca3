"""A small traffic generator for the demo and tests: a few benign accounts, one harvester.

Deterministic for a seed. Emits event schema v1 objects sorted by event time, and a label per
account (`attack` / `benign`, with a family name). The full scenario simulator (real prompt
sets, hydra campaigns, low-and-slow attackers) builds on the same `AccountTraffic` shape.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

DEFAULT_START = datetime(2026, 2, 23, 9, 0, tzinfo=UTC).timestamp()

_CHAT_OPENERS = (
    "Can you help me plan a three-day trip to Lisbon on a budget?",
    "What's the difference between a Roth IRA and a traditional IRA?",
    "My sourdough starter smells like acetone, is that normal?",
    "Explain the plot of Hamlet like I'm twelve.",
    "How do I politely decline a meeting invite from my manager?",
)
_CHAT_FOLLOWUPS = (
    "Thanks! Can you make it shorter?",
    "What about the second point?",
    "Could you give an example?",
    "OK, and if I only have two days?",
)
_CODE_TASKS = (
    "Fix the failing test in tests/test_parser.py",
    "Add retry logic to the HTTP client",
    "Refactor the settings loader to use pydantic",
    "Why does this query deadlock?",
)
_BATCH_TASKS = (
    "Summarise this support ticket in one line: ticket #{n} reports login failures.",
    "Classify the sentiment of review {n}: 'arrived late but works fine'.",
    "Extract the invoice total from document {n}.",
)
_HARVEST_TEMPLATE = (
    "You are an expert tutor. Write a complete, detailed, step-by-step answer with "
    "all reasoning shown for the following task.\n\nTask #{n}: {topic}"
)
_HARVEST_TOPICS = (
    "prove that the square root of 2 is irrational",
    "implement a red-black tree",
    "derive the Black-Scholes equation",
    "explain TCP congestion control",
    "write a SQL query planner",
    "solve a system of linear congruences",
)


@dataclass(frozen=True, slots=True)
class AccountLabel:
    account_id: str
    label: str  # attack | benign
    family: str


def _event(
    rng: random.Random,
    account: str,
    tier: str,
    ts: float,
    *,
    messages: list[dict[str, str]],
    max_tokens: int,
    output_tokens: int,
    input_tokens: int,
    finish: str = "stop",
    turn_index: int = 0,
    conversation: str | None = None,
    extra_request: dict[str, Any] | None = None,
    ip: str = "198.51.100.10",
) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.7}
    request.update(extra_request or {})
    return {
        "event_id": f"req_{account}_{int(ts * 1000)}_{rng.randrange(1 << 30):08x}",
        "timestamp": round(ts, 3),
        "account_id": account,
        "tier": tier,
        "model": "frontier-large",
        "endpoint": "chat",
        "conversation_id": conversation,
        "turn_index": turn_index,
        "client": {"ip": ip, "user_agent": "OpenAI/Python 1.40.0"},
        "request": request,
        "response": {"status": 200, "finish_reason": finish},
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def chat_user(
    rng: random.Random, account: str, start: float, end: float
) -> Iterator[dict[str, Any]]:
    ts = start + rng.uniform(0, 600)
    session = 0
    while ts < end:
        session += 1
        history: list[dict[str, str]] = []
        for turn in range(rng.randint(1, 5)):
            text = rng.choice(_CHAT_OPENERS) if turn == 0 else rng.choice(_CHAT_FOLLOWUPS)
            history.append({"role": "user", "content": text})
            out = rng.randint(80, 700)
            yield _event(
                rng,
                account,
                "build",
                ts,
                messages=list(history),
                max_tokens=2048,
                output_tokens=out,
                input_tokens=40 * (turn + 1) + rng.randint(0, 50),
                turn_index=turn,
                conversation=f"{account}-c{session}",
            )
            history.append({"role": "assistant", "content": "..."})
            ts += rng.uniform(20, 180)
        ts += rng.expovariate(1 / 900)


def coding_agent(
    rng: random.Random, account: str, start: float, end: float
) -> Iterator[dict[str, Any]]:
    ts = start + rng.uniform(0, 120)
    session = 0
    while ts < end:
        session += 1
        messages = [{"role": "user", "content": rng.choice(_CODE_TASKS)}]
        for turn in range(rng.randint(8, 40)):
            yield _event(
                rng,
                account,
                "scale",
                ts,
                messages=list(messages),
                max_tokens=8192,
                output_tokens=rng.randint(50, 1500),
                input_tokens=2000 + 900 * turn,
                finish="tool_calls",
                turn_index=turn,
                conversation=f"{account}-s{session}",
                extra_request={"tools": 12},
            )
            messages += [
                {"role": "assistant", "content": "(tool call)"},
                {"role": "tool", "content": "(tool result)"},
            ]
            ts += rng.uniform(3, 25)
        ts += rng.expovariate(1 / 600)


def eval_harness(
    rng: random.Random, account: str, start: float, end: float
) -> Iterator[dict[str, Any]]:
    ts = start + rng.uniform(0, 300)
    item = 0
    while ts < end:
        item += 1
        yield _event(
            rng,
            account,
            "build",
            ts,
            messages=[{"role": "user", "content": f"Question {item}: pick A, B, C or D."}],
            max_tokens=1,
            output_tokens=1,
            input_tokens=rng.randint(150, 600),
            finish="length",
            extra_request={"temperature": 0.0, "seed": 1234, "logprobs": True, "top_logprobs": 5},
        )
        ts += rng.uniform(0.2, 1.5)


def batch_user(
    rng: random.Random, account: str, start: float, end: float
) -> Iterator[dict[str, Any]]:
    ts = start + rng.uniform(0, 900)
    n = 0
    while ts < end:
        for _ in range(rng.randint(100, 400)):  # a burst
            n += 1
            text = rng.choice(_BATCH_TASKS).format(n=n)
            yield _event(
                rng,
                account,
                "scale",
                ts,
                messages=[{"role": "user", "content": text}],
                max_tokens=1024,
                output_tokens=rng.randint(20, 400),
                input_tokens=rng.randint(200, 1200),
            )
            ts += rng.uniform(0.05, 0.5)
        ts += rng.uniform(1200, 3600)


def harvester(
    rng: random.Random, account: str, start: float, end: float
) -> Iterator[dict[str, Any]]:
    ts = start + rng.uniform(0, 60)
    n = 0
    while ts < end:
        n += 1
        text = _HARVEST_TEMPLATE.format(n=n, topic=rng.choice(_HARVEST_TOPICS))
        ran_out = rng.random() < 0.9
        yield _event(
            rng,
            account,
            "build",
            ts,
            messages=[{"role": "user", "content": text}],
            max_tokens=4096,
            output_tokens=4096 if ran_out else rng.randint(2500, 4000),
            input_tokens=rng.randint(60, 90),
            finish="length" if ran_out else "stop",
            extra_request={"temperature": 1.0},
            ip="203.0.113.77",
        )
        ts += rng.uniform(2, 8)


DEMO_ACCOUNTS = (
    ("acct_chat_1", "benign", "chat", chat_user),
    ("acct_chat_2", "benign", "chat", chat_user),
    ("acct_chat_3", "benign", "chat", chat_user),
    ("acct_coder_1", "benign", "coding_agent", coding_agent),
    ("acct_eval_1", "benign", "eval_harness", eval_harness),
    ("acct_batch_1", "benign", "batch", batch_user),
    ("acct_harvest_1", "attack", "harvest", harvester),
)


def simulate_demo(
    seed: int = 7, hours: float = 2.0, start: float = DEFAULT_START
) -> tuple[list[dict[str, Any]], list[AccountLabel]]:
    events: list[dict[str, Any]] = []
    labels = []
    end = start + hours * 3600
    for index, (account, label, family, generator) in enumerate(DEMO_ACCOUNTS):
        rng = random.Random(f"{seed}:{index}")
        events.extend(generator(rng, account, start, end))
        labels.append(AccountLabel(account, label, family))
    events.sort(key=lambda e: (e["timestamp"], e["event_id"]))
    return events, labels


def write_events(events: list[dict[str, Any]], path: Path) -> None:
    with path.open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")


def write_labels(labels: list[AccountLabel], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "label", "family"])
        for item in labels:
            writer.writerow([item.account_id, item.label, item.family])
