"""Benign bulk users that look most like harvest (the hard negatives of detection.md): single-turn,
templated, high volume or shared across accounts, on real text from the corpus.

- bulk_api_customer: record processing with tight `max_tokens`; it, not the attacker, is the one
  whose outputs run into the limit.
- synthetic_data_user: synthetic data for its own product, several of its own templates rotating.
- benchmark_researchers: independent accounts running the same public benchmark items in the same
  frames (some with "Let's think step by step"): a burst, then idle.
"""

from __future__ import annotations

from streams.sim.profile import Events, Profile, diurnal_weight

# (template, output scale against a chat answer; 0 = a label of a few tokens)
BULK_TASKS = (
    (
        "Classify the following customer message into exactly one of: billing, technical "
        "issue, account access, feedback, other. Reply with the category only.\n\nMessage:\n"
        "{text}",
        0.0,
    ),
    (
        "Extract every person, organisation, product and date mentioned in the record below "
        "as JSON with the keys people, organisations, products and dates.\n\nRecord:\n{text}",
        1.0,
    ),
    ("Summarise the following customer record in two sentences for the CRM notes.\n\n{text}", 1.2),
    ("Write a one-paragraph abstract of the text below.\n\n{text}", 1.6),
    (
        "Does this message need a reply from a human agent? Answer yes or no, then give a "
        "one-line reason.\n\n{text}",
        0.3,
    ),
)
BULK_BUDGETS = (64, 128, 256, 512)


def bulk_api_customer(p: Profile, start: float, end: float) -> Events:
    """Processes varied records at high volume in business hours with a tight budget."""
    tasks = p.rng.sample(BULK_TASKS, p.rng.randint(2, 3))
    budget = p.rng.choice(BULK_BUDGETS)
    per_hour = p.rng.uniform(60, 180)
    records = p.corpus.instructions + p.corpus.hard_queries + p.corpus.answers
    ts = start
    while True:
        ts += p.rng.expovariate(per_hour * (0.05 + diurnal_weight(ts, p.utc_offset_hours)) / 3600)
        if ts >= end:
            return
        template, scale = p.rng.choice(tasks)
        prompt = template.format(text=p.rng.choice(records))
        output = p.rng.randint(1, 6) if scale == 0 else p.corpus.answer_tokens(p.rng, scale)
        yield p.event(
            ts,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=budget,
            input_tokens=p.tokens_of(prompt),
            output_tokens=output,
            temperature=0.0,
        )


PRODUCTS = (
    "home-banking app",
    "project-management tool",
    "online grocery shop",
    "language-learning app",
    "smart-thermostat",
    "travel-booking site",
    "recipe website",
    "HR software",
)
SYNTH_TEMPLATES = (
    (
        "Write a realistic question that a user of our {product} might send to support, then "
        "a helpful answer. Base it on this topic:\n{text}",
        1.2,
    ),
    ("Rewrite the following text as a short FAQ entry for the {product} help centre:\n\n{text}",
     1.0),
    (
        "Create three example user requests in different tones that have the same intent as "
        "this one:\n\n{text}",
        0.9,
    ),
    ("Write a product description of about 120 words for a {product} feature that helps "
     "with:\n\n{text}", 1.0),
    ("Write a short dialogue between a {product} user and our assistant about:\n\n{text}", 1.5),
    ("Paraphrase the following request in five different ways, numbered:\n\n{text}", 1.0),
)  # fmt: skip


def synthetic_data_user(p: Profile, start: float, end: float) -> Events:
    """Job runs of a few hours generating data for its own product: its own few templates in
    rotation, complete moderate outputs, then idle."""
    product = p.rng.choice(PRODUCTS)
    templates = p.rng.sample(SYNTH_TEMPLATES, p.rng.randint(3, 5))
    temperature = p.rng.choice((0.8, 0.9, 1.0))
    max_tokens = p.rng.choice((2048, 4096))
    payloads = p.corpus.instructions + p.corpus.chat_openers + p.corpus.hard_queries
    ts, turn = start + p.rng.uniform(0, 8 * 3600), 0
    while ts < end:
        run_end = ts + p.rng.uniform(1, 4) * 3600
        per_hour = p.rng.uniform(80, 250)
        while ts < min(run_end, end):
            template, scale = templates[turn % len(templates)]
            turn += 1
            prompt = template.format(product=product, text=p.rng.choice(payloads))
            yield p.event(
                ts,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                input_tokens=p.tokens_of(prompt),
                output_tokens=p.corpus.answer_tokens(p.rng, scale),
                temperature=temperature,
            )
            ts += p.rng.expovariate(per_hour / 3600)
        ts = run_end + p.rng.uniform(6, 20) * 3600


# Public benchmark frames: the same bytes from many unrelated labs.
BENCH_FRAMES = (
    "{q}",
    "Question: {q}\nAnswer:",
    "Q: {q}\nA: Let's think step by step.",
    "Answer the following question. Think step by step, then give your final answer.\n\n{q}",
)
BENCHMARKS = ("mt_bench", "vicuna_bench", "ifeval")


def benchmark_researchers(p: Profile, start: float, end: float) -> Events:
    """Runs a public benchmark, items in file order, once or a few times: a burst with a
    concurrency limit, then idle. Other accounts run the same items in the same frames."""
    benchmark = p.rng.choice(BENCHMARKS)
    frame = BENCH_FRAMES[0] if benchmark == "ifeval" else p.rng.choice(BENCH_FRAMES)
    temperature = p.rng.choice((0.0, 0.0, 0.7))
    max_tokens = p.rng.choice((1024, 2048, 4096))
    runs = sorted(p.rng.uniform(start, end - 3600) for _ in range(p.rng.randint(1, 3)))
    for number, ts in enumerate(runs):
        conversation = f"{p.account_id}-run{number}"
        if benchmark == "mt_bench":
            items = [list(pair) for pair in p.corpus.multi_turn]
        elif benchmark == "vicuna_bench":
            items = [[q] for q in p.corpus.vicuna_items]
        else:
            items = [[q] for q in p.corpus.eval_items]
        for index, turns in enumerate(items):
            history: list[dict[str, str]] = []
            moment = ts
            for turn, question in enumerate(turns):
                history.append({"role": "user", "content": frame.format(q=question)})
                output = p.corpus.answer_tokens(p.rng, 1.5)
                yield p.event(
                    moment,
                    messages=list(history),
                    max_tokens=max_tokens,
                    input_tokens=sum(p.tokens_of(m["content"]) for m in history),
                    output_tokens=output,
                    turn_index=turn,
                    conversation=f"{conversation}-q{index}" if len(turns) > 1 else None,
                    temperature=temperature,
                )
                history.append({"role": "assistant", "content": p.rng.choice(p.corpus.answers)})
                moment += 2 + output * 0.02  # the second turn waits for the first answer
            ts += p.rng.uniform(0.3, 4)
