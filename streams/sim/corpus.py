"""Prompt sets and token/arrival shapes shipped in `streams/data` (credits in NOTICE.md).

Benign text: MT-Bench and Vicuna-Bench (chat), Arena-Hard-Auto (hard, code-leaning user
queries), Self-Instruct user-oriented instructions, Awesome ChatGPT Prompts (persona system
prompts for RAG/SaaS apps; the one jailbreak row is dropped), IFEval (benchmark items).
Reasoning material: MT-Bench math/reasoning/STEM, Vicuna-Bench math/Fermi/common-sense/
counterfactual, and Arena-Hard's maths and puzzle clusters.
Attack seed material: the Self-Instruct seed tasks that distillation pipelines bootstrap from.
Token counts: empirical (context, generated) pairs from the Azure LLM inference traces 2023.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

_DATA = resources.files("streams").joinpath("data")


def _jsonl(name: str) -> list[dict[str, object]]:
    text = _DATA.joinpath("prompts", name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Corpus:
    chat_openers: tuple[str, ...]
    chat_followups: tuple[str, ...]
    multi_turn: tuple[tuple[str, str], ...]  # MT-Bench first and second turns
    hard_queries: tuple[str, ...]  # Arena-Hard: code-leaning, long
    coding_queries: tuple[str, ...]
    instructions: tuple[str, ...]  # Self-Instruct user-oriented instruction + input
    personas: tuple[str, ...]  # system prompts
    eval_items: tuple[str, ...]  # IFEval prompts
    seed_tasks: tuple[str, ...]  # Self-Instruct seeds (attack material)
    answers: tuple[str, ...]  # human-written answers: Self-Instruct outputs, MT-Bench references
    conv_tokens: tuple[tuple[int, int], ...]  # Azure conv (context, generated)
    code_tokens: tuple[tuple[int, int], ...]  # Azure code (context, generated)
    reasoning_queries: tuple[str, ...] = ()  # maths, logic, estimation problems
    reasoning_sessions: tuple[tuple[str, str], ...] = ()  # MT-Bench math/reasoning, 2 turns
    qa_pairs: tuple[tuple[str, str], ...] = ()  # (question, human-written final answer)
    vicuna_items: tuple[str, ...] = ()  # Vicuna-Bench in file order (a benchmark run)

    def conv_shape(self, rng: random.Random) -> tuple[int, int]:
        return rng.choice(self.conv_tokens)

    def answer_tokens(self, rng: random.Random, scale: float) -> int:
        """A complete answer's length: an Azure conversation's generated tokens, scaled for
        the task (a reasoning trace is several times a chat answer, a rewrite a fraction)."""
        generated = rng.choice(self.conv_tokens)[1]
        return max(4, int(generated * scale * rng.lognormvariate(0.0, 0.25)))

    def code_shape(self, rng: random.Random) -> tuple[int, int]:
        return rng.choice(self.code_tokens)


def _instruction(row: dict[str, object]) -> str:
    instances = row.get("instances") or [{}]
    first = instances[0] if isinstance(instances, list) and instances else {}
    payload = first.get("input", "") if isinstance(first, dict) else ""
    return f"{row['instruction']}\n\n{payload}".strip()


def _answers(*row_sets: list[dict[str, object]]) -> tuple[str, ...]:
    """Real answer text to stand in for earlier assistant turns and candidate responses."""
    found: list[str] = []
    for rows in row_sets:
        for row in rows:
            instances = row.get("instances")
            if isinstance(instances, list):
                found += [str(i.get("output", "")) for i in instances if isinstance(i, dict)]
            reference = row.get("reference")
            if isinstance(reference, list):
                found += [str(r) for r in reference]
    return tuple(text for text in found if text.strip())


REASONING_CLUSTER_WORDS = ("math", "puzzle", "probab", "number", "geometr", "calculation", "logic")


def _reasoning(
    mt: list[dict[str, object]], vicuna: list[dict[str, object]], arena: list[dict[str, object]]
) -> tuple[str, ...]:
    found = [str(q["turns"][0]) for q in mt if q["category"] in ("math", "reasoning", "stem")]  # type: ignore[index]
    found += [
        str(q["turns"][0])  # type: ignore[index]
        for q in vicuna
        if q["category"] in ("math", "fermi", "common-sense", "counterfactual")
    ]
    found += [
        str(r["prompt"])
        for r in arena
        if any(word in str(r["cluster"]).lower() for word in REASONING_CLUSTER_WORDS)
    ]
    return tuple(found)


def _qa_pairs(*row_sets: list[dict[str, object]]) -> tuple[tuple[str, str], ...]:
    """Questions with a real final answer (the 'write the reasoning behind it' harvest)."""
    pairs: list[tuple[str, str]] = []
    for rows in row_sets:
        for row in rows:
            instances = row.get("instances")
            if isinstance(instances, list) and instances and isinstance(instances[0], dict):
                pairs.append((_instruction(row), str(instances[0].get("output", ""))))
            reference = row.get("reference")
            turns = row.get("turns")
            if isinstance(reference, list) and reference and isinstance(turns, list):
                pairs.append((str(turns[0]), str(reference[0])))
    return tuple((q, a) for q, a in pairs if q.strip() and a.strip())


def _trace(name: str) -> tuple[tuple[int, int], ...]:
    text = _DATA.joinpath("traces", name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return tuple((int(r["ContextTokens"]), int(r["GeneratedTokens"])) for r in reader)


@cache
def load_corpus() -> Corpus:
    mt = _jsonl("mt_bench.jsonl")
    vicuna = _jsonl("vicuna_bench.jsonl")
    arena = _jsonl("arena_hard.jsonl")
    personas_text = _DATA.joinpath("prompts", "awesome_chatgpt_prompts.csv").read_text(
        encoding="utf-8"
    )
    personas = tuple(
        str(row["prompt"])
        for row in csv.DictReader(io.StringIO(personas_text))
        if "DAN" not in str(row["act"])
    )  # the one jailbreak row is not benign
    coding = tuple(
        str(r["prompt"])
        for r in arena
        if any(
            k in str(r["prompt"]).lower()
            for k in ("code", "python", "function", "script", "sql", "c++", "rust")
        )
    )
    user_oriented = _jsonl("self_instruct_user_oriented.jsonl")
    seeds = _jsonl("self_instruct_seed_tasks.jsonl")
    return Corpus(
        chat_openers=tuple(str(q["turns"][0]) for q in vicuna + mt),  # type: ignore[index]
        chat_followups=tuple(str(q["turns"][1]) for q in mt),  # type: ignore[index]
        multi_turn=tuple((str(q["turns"][0]), str(q["turns"][1])) for q in mt),  # type: ignore[index]
        hard_queries=tuple(str(r["prompt"]) for r in arena),
        coding_queries=coding,
        instructions=tuple(_instruction(r) for r in user_oriented),
        personas=personas,
        eval_items=tuple(str(r["prompt"]) for r in _jsonl("ifeval_input_data.jsonl")),
        seed_tasks=tuple(_instruction(r) for r in seeds),
        answers=_answers(user_oriented, seeds, mt),
        conv_tokens=_trace("AzureLLMInferenceTrace_conv.csv"),
        code_tokens=_trace("AzureLLMInferenceTrace_code.csv"),
        reasoning_queries=_reasoning(mt, vicuna, arena),
        reasoning_sessions=tuple(
            (str(q["turns"][0]), str(q["turns"][1]))  # type: ignore[index]
            for q in mt
            if q["category"] in ("math", "reasoning")
        ),
        qa_pairs=_qa_pairs(seeds, user_oriented, mt),
        vicuna_items=tuple(str(q["turns"][0]) for q in vicuna),  # type: ignore[index]
    )
