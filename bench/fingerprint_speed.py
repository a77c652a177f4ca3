"""Benchmark: text features per prompt of about 1 KB of real corpus text.

    .venv/bin/python bench/fingerprint_speed.py [--prompts 5000]

Issue 7's target: fingerprinting <= 60 us per 1 KB prompt. Reports the template skeleton
fingerprints alone, each marker, the capability classifier, and the whole `extract` of an
event carrying the prompt (what the pipeline pays per event for text). Best of 3 passes.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import orjson

from detectors.decode import decode_event
from detectors.features import extract
from detectors.features.capability import classify
from detectors.features.text import (
    is_instruction_generation,
    is_rubric,
    reasoning_markers,
    skeleton_fingerprints,
)
from streams.sim.corpus import load_corpus


def prompts(count: int, size: int = 1024) -> list[str]:
    corpus = load_corpus()
    pool = list(corpus.hard_queries + corpus.instructions + corpus.chat_openers)
    rng = random.Random(7)
    out = []
    for _ in range(count):
        text = rng.choice(pool)
        while len(text.encode()) < size:
            text += "\n\n" + rng.choice(pool)
        out.append(text.encode()[:size].decode(errors="ignore"))
    return out


def best_us(function: Callable[[str], object], texts: list[str]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            function(text)
        best = min(best, (time.perf_counter() - started) / len(texts) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=5000)
    args = parser.parse_args()
    texts = prompts(args.prompts)
    events = {
        text: decode_event(
            orjson.dumps(
                {"event_id": f"e{i}", "timestamp": 1.0, "account_id": "a", "model": "m",
                 "request": {"messages": [{"role": "user", "content": text}]}}
            )
        )
        for i, text in enumerate(texts)
    }  # fmt: skip
    rows = {
        "skeleton fingerprints (template)": skeleton_fingerprints,
        "reasoning markers": lambda t: reasoning_markers(t, t.lower()),
        "rubric": lambda t: is_rubric(t, t.lower()),
        "instruction generation": lambda t: is_instruction_generation(t.lower()),
        "capability class": lambda t: classify(t, False, False),
        "whole extract() of an event": lambda t: extract(events[t]),
    }
    for name, function in rows.items():
        print(f"{name:34s} {best_us(function, texts):6.1f} us per 1 KB prompt")


if __name__ == "__main__":
    main()
