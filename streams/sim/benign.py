"""Benign families: the legitimate traffic a detector must leave alone (detection.md), and the
registry of all of them; the hardest look-alikes live in hard_negatives.py and apps.py."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from streams.sim.apps import agent_platform, support_bot, tutoring_app
from streams.sim.hard_negatives import (
    benchmark_researchers,
    bulk_api_customer,
    synthetic_data_user,
)
from streams.sim.profile import Events, Profile, diurnal_weight, sessions

STEP_BY_STEP = (
    "Let's think step by step.",
    "Please explain your reasoning step by step.",
    "Walk me through it step by step.",
    "Show your work.",
)


def _conversation(
    p: Profile,
    ts: float,
    session: str,
    turns: list[str],
    *,
    step_by_step: bool = False,
    max_tokens: int | None = 2048,
) -> Events:
    history: list[dict[str, str]] = []
    for index, text in enumerate(turns):
        if step_by_step and p.rng.random() < 0.7:
            text = f"{text}\n\n{p.rng.choice(STEP_BY_STEP)}"
        history.append({"role": "user", "content": text})
        context, generated = p.corpus.conv_shape(p.rng)
        yield p.event(
            ts,
            messages=list(history),
            max_tokens=max_tokens,
            input_tokens=context + 150 * index,
            output_tokens=generated,
            turn_index=index,
            conversation=session,
            temperature=p.rng.choice((0.7, 1.0)),
        )
        history.append({"role": "assistant", "content": p.rng.choice(p.corpus.answers)})
        ts += p.rng.uniform(15, 240)  # reading and typing


def chat(
    p: Profile, start: float, end: float, step_by_step: bool = False, customer: str = ""
) -> Events:
    """`customer` tells apart the conversations of several customers behind one account."""
    for n, ts in enumerate(sessions(p, start, end, mean_gap=2400)):
        if p.rng.random() < 0.5:
            first, second = p.rng.choice(p.corpus.multi_turn)
            turns = [first, second]
        else:
            turns = [p.rng.choice(p.corpus.chat_openers)]
        turns += [p.rng.choice(p.corpus.chat_followups) for _ in range(p.rng.randint(0, 3))]
        max_tokens = p.rng.choice((None, 1024, 2048, 4096))
        yield from _conversation(
            p,
            ts,
            f"{p.account_id}-{customer}c{n}",
            turns,
            step_by_step=step_by_step,
            max_tokens=max_tokens,
        )


def step_by_step_user(p: Profile, start: float, end: float) -> Events:
    """Follows prompting guides: asks for step-by-step reasoning, conversationally."""
    return chat(p, start, end, step_by_step=True)


AGENT_TOOLS = ("read_file", "edit_file", "run_tests", "grep", "list_dir", "run_command")
TOOL_RESULT_CHARS = 800  # a bounded excerpt: real agents send whole files, which only adds bytes


def _tool_call(p: Profile, turn: int) -> str:
    module = p.rng.choice(("api", "models", "utils", "handlers", "db", "cli", "config"))
    return orjson.dumps(
        {
            "id": f"call_{turn}_{p.rng.randrange(10**6)}",
            "name": p.rng.choice(AGENT_TOOLS),
            "arguments": {"path": f"src/{module}/{p.rng.choice(('core', 'main', 'io'))}.py"},
        }
    ).decode()


def _tool_result(p: Profile) -> str:
    """Real technical text (Arena-Hard prompts lean to code) standing in for file contents."""
    source = p.rng.choice(p.corpus.coding_queries)
    offset = p.rng.randrange(max(1, len(source) - TOOL_RESULT_CHARS))
    return source[offset : offset + TOOL_RESULT_CHARS]


def coding_agent(p: Profile, start: float, end: float) -> Events:
    for n, ts in enumerate(sessions(p, start, end, mean_gap=1500)):
        messages = [{"role": "user", "content": p.rng.choice(p.corpus.coding_queries)}]
        for turn in range(p.rng.randint(6, 40)):
            context, generated = p.corpus.code_shape(p.rng)
            yield p.event(
                ts,
                messages=list(messages),
                max_tokens=8192,
                input_tokens=context + 700 * turn,
                output_tokens=generated * 3 + 20,
                finish="tool_calls" if turn % 5 else "stop",
                turn_index=turn,
                conversation=f"{p.account_id}-s{n}",
                tools=p.rng.choice((8, 12, 17)),
                temperature=0.2,
            )
            messages += [
                {"role": "assistant", "content": _tool_call(p, turn)},
                {"role": "tool", "content": _tool_result(p)},
            ]
            ts += p.rng.uniform(2, 30)


def rag_app(p: Profile, start: float, end: float) -> Events:
    """A SaaS product: one long fixed system prompt, many end users behind one account."""
    system = p.rng.choice(p.corpus.personas) + "\n\nAnswer only from the provided context."
    ts = start
    while ts < end:
        rate = 0.004 + 0.04 * diurnal_weight(ts, p.utc_offset_hours)  # requests per second
        ts += p.rng.expovariate(rate)
        question = p.rng.choice(p.corpus.instructions)
        # Retrieved passages (real text standing in for the customer's documents) vary with
        # every question: a fixed frame around highly diverse payloads.
        passages = p.rng.sample(p.corpus.hard_queries, 2)
        content = f"Context:\n{passages[0]}\n\n{passages[1]}\n\nQuestion: {question}"
        context, generated = p.corpus.conv_shape(p.rng)
        yield p.event(
            ts,
            system=system,
            messages=[{"role": "user", "content": content}],
            max_tokens=1024,
            input_tokens=context + 900,
            output_tokens=generated,
            temperature=0.3,
            conversation=f"{p.account_id}-u{p.rng.randrange(5000)}",
        )


def translation_pipeline(p: Profile, start: float, end: float) -> Events:
    language = p.rng.choice(("French", "German", "Japanese", "Portuguese"))
    ts = start
    while ts < end:
        ts += p.rng.expovariate(0.03)
        payload = p.rng.choice(p.corpus.instructions + p.corpus.chat_openers)
        tokens = p.tokens_of(payload)
        yield p.event(
            ts,
            messages=[
                {
                    "role": "user",
                    "content": f"Translate the following text into {language}. Keep the "
                    f"formatting.\n\n{payload}",
                }
            ],
            max_tokens=4096,
            input_tokens=tokens + 20,
            output_tokens=int(tokens * p.rng.uniform(1.0, 1.5)),
            temperature=0.0,
        )


def eval_harness(p: Profile, start: float, end: float) -> Events:
    """temperature 0, fixed seed, max_tokens 1, logprobs, templated benchmark items."""
    ts = start + p.rng.uniform(0, 3600)
    while ts < end:
        for item in p.rng.sample(p.corpus.eval_items, k=min(300, len(p.corpus.eval_items))):
            prompt = f"Question: {item}\nAnswer with A, B, C or D.\nAnswer:"
            yield p.event(
                ts,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=1,
                input_tokens=p.tokens_of(prompt),
                output_tokens=1,
                temperature=0.0,
                seed=1234,
                logprobs=True,
                top_logprobs=5,
            )
            ts += p.rng.uniform(0.1, 0.6)
        ts += p.rng.uniform(3 * 3600, 8 * 3600)  # the next nightly run


def batch_user(p: Profile, start: float, end: float) -> Events:
    """Batch inference: bursts of hundreds of varied raw requests, normal outputs."""
    ts = start + p.rng.uniform(0, 7200)
    while ts < end:
        for _ in range(p.rng.randint(150, 600)):
            text = p.rng.choice(p.corpus.instructions)
            _, generated = p.corpus.conv_shape(p.rng)
            yield p.event(
                ts,
                messages=[{"role": "user", "content": text}],
                max_tokens=2048,
                input_tokens=p.tokens_of(text),
                output_tokens=generated,
                temperature=0.8,
            )
            ts += p.rng.uniform(0.05, 0.4)
        ts += p.rng.uniform(4 * 3600, 10 * 3600)


BENIGN_FAMILIES: dict[str, Callable[[Profile, float, float], Events]] = {
    "chat": chat,
    "coding_agent": coding_agent,
    "rag_app": rag_app,
    "translation_pipeline": translation_pipeline,
    "eval_harness": eval_harness,
    "batch_user": batch_user,
    "corporate_nat": chat,  # ordinary chat users; what sets them apart is the shared NAT IP
    "step_by_step_user": step_by_step_user,
    "bulk_api_customer": bulk_api_customer,
    "support_bot": support_bot,
    "benchmark_researchers": benchmark_researchers,
    "synthetic_data_user": synthetic_data_user,
    "agent_platform": agent_platform,
    "tutoring_app": tutoring_app,
}
