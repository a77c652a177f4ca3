"""The template-driven harvest families: instruction generation (Self-Instruct / Alpaca style),
Evol-Instruct, reasoning-trace elicitation, UltraFeedback-style rubric grading and agentic-coding
harvest. Each request builder takes a template variant and the campaign's sampling tuple, so the
coordinated families (attacks.py) reuse them with their own settings.

Output lengths are complete answers drawn from the Azure trace shapes, scaled by task; outputs
finish with `stop` unless a rare long one meets the generous `max_tokens`.
"""

from __future__ import annotations

from streams.sim import templates as t
from streams.sim.harvest import Events, Sampling, call, campaign_rng, run
from streams.sim.profile import Profile

# Per family, one sampling tuple per campaign (campaign k uses entry k): no two alike.
SAMPLING = {
    "self_instruct": (
        Sampling(4096, 0.7, top_p=0.5),
        Sampling(8192, 1.0, top_p=1.0, n=2),
        Sampling(6144, 0.9, top_p=0.95, seed=7),
    ),
    "evol_instruct": (Sampling(4096, 1.0, top_p=0.95), Sampling(8192, 0.7, seed=2024)),
    "reasoning_harvest": (
        Sampling(16384, 0.6, top_p=0.95),
        Sampling(8192, 0.3, seed=1234),
        Sampling(12288, 1.0, top_p=0.9),
    ),
    "rubric_grading": (Sampling(4096, 0.0), Sampling(3072, 0.2, seed=17)),
    "agentic_coding_harvest": (Sampling(8192, 0.2, top_p=0.95), Sampling(16384, 0.0, seed=0)),
}
NEW_TASKS = (8, 20, 10)  # tasks asked for per instruction-generation request, by variant
SEED_COUNTS = ((3, 8), (3, 3), (4, 6))  # seed examples shown, by variant


def languages(p: Profile) -> list[str]:
    """The campaign's languages: three by its index (distinct within a family) plus one more
    chosen by the campaign."""
    base = [t.LANGUAGES[(3 * p.campaign_index + j) % len(t.LANGUAGES)] for j in range(3)]
    rest = [lang for lang in t.LANGUAGES if lang not in base]
    return [*base, campaign_rng(p, "langs").choice(rest)]


def instruction_request(p: Profile, ts: float, variant: int, sampling: Sampling) -> Events:
    v = variant % len(t.INSTRUCTION_GENERATION)
    count = p.rng.randint(*SEED_COUNTS[v])
    seeds = p.rng.sample(p.corpus.seed_tasks, count)
    listing = "\n".join(t.SEED_FORMATS[v].format(i=i + 1, text=s) for i, s in enumerate(seeds))
    prompt = t.INSTRUCTION_GENERATION[v].format(k=count, n=NEW_TASKS[v], seeds=listing)
    output = p.corpus.answer_tokens(p.rng, NEW_TASKS[v] * 0.25)
    return call(p, ts, prompt, sampling, output)


def evolved_prompt(p: Profile, base: str, breadth: bool) -> str:
    """What an evolution returns: the base with added requirements, or a new prompt."""
    if breadth:
        return p.rng.choice(p.corpus.hard_queries + p.corpus.chat_openers)
    clauses = p.rng.sample(t.EVOLVED_CLAUSES, p.rng.randint(1, 2))
    return " ".join([base, *clauses])


class EvolPipeline:
    """Alternates an evolution request with the harvest of the evolved prompt, sent alone."""

    def __init__(self) -> None:
        self.pending: str | None = None

    def __call__(self, p: Profile, ts: float, variant: int, sampling: Sampling) -> Events:
        if self.pending is not None:
            prompt, self.pending = self.pending, None
            return call(p, ts, prompt, sampling, p.corpus.answer_tokens(p.rng, 2.0))
        v = variant % len(t.EVOLVE_IN_DEPTH)
        base = p.rng.choice(p.corpus.instructions + p.corpus.seed_tasks + p.corpus.chat_openers)
        breadth = p.rng.random() < 0.2
        if breadth:
            prompt = t.EVOLVE_IN_BREADTH[v].format(prompt=base)
        else:
            prompt = t.EVOLVE_IN_DEPTH[v].format(prompt=base, method=p.rng.choice(t.DEPTH_METHODS))
        self.pending = evolved_prompt(p, base, breadth)
        return call(p, ts, prompt, sampling, p.tokens_of(self.pending) + p.rng.randint(0, 20))


def reasoning_request(p: Profile, ts: float, variant: int, sampling: Sampling) -> Events:
    """0: problem + demand for the full reasoning; 1: question and final answer, write the
    reasoning behind it; 2: thinking tags, with a step marker in the campaign's language."""
    v = variant % 3
    lang = p.rng.choice(languages(p))
    system = None
    if v == 1:
        question, answer = p.rng.choice(p.corpus.qa_pairs)
        prompt = t.RATIONALE_FRAMES[lang].format(q=question, a=answer)
        scale = 3.5
    else:
        problem = p.rng.choice(p.corpus.reasoning_queries + p.corpus.hard_queries)
        marker = t.STEP_MARKERS[lang][v // 2]
        if v == 0:
            prompt, scale = f"{problem}\n\n{marker}", 6.0
        else:
            prompt, scale, system = (
                f"{t.THINK_TAGS.format(q=problem)}\n\n{marker}",
                7.0,
                t.THINK_SYSTEM,
            )
    return call(p, ts, prompt, sampling, p.corpus.answer_tokens(p.rng, scale), system=system)


def rubric_request(p: Profile, ts: float, variant: int, sampling: Sampling) -> Events:
    v = variant % len(t.RUBRIC)
    n = 4 if v == 0 else p.rng.randint(2, 3)  # UltraFeedback-style rates four completions
    instruction = p.rng.choice(p.corpus.instructions + p.corpus.chat_openers)
    candidates = p.rng.sample(p.corpus.answers, n)
    fmt = t.RUBRIC_RESPONSE_FORMATS[v]
    responses = "\n\n".join(fmt.format(i=i + 1, text=text) for i, text in enumerate(candidates))
    prompt = t.RUBRIC[v].format(
        n=n, aspect=p.rng.choice(t.RUBRIC_ASPECTS[v]), instruction=instruction, responses=responses
    )
    output = p.corpus.answer_tokens(p.rng, 0.5 * n)
    return call(p, ts, prompt, sampling, output, system=t.RUBRIC_SYSTEM[v])


AGENT_TOOLS_DECLARED = (14, 6)
TOOL_CALL_SHARE = (0.7, 0.55)


def agentic_request(p: Profile, ts: float, variant: int, sampling: Sampling) -> Events:
    """A coding task with tool schemas declared; the model's tool call is harvested as a
    training example and never answered with a tool result."""
    v = variant % len(t.AGENT_TASK)
    prompt = t.AGENT_TASK[v].format(task=p.rng.choice(p.corpus.coding_queries))
    if p.rng.random() < TOOL_CALL_SHARE[v]:
        output, finish = p.rng.randint(30, 260), "tool_calls"
    else:
        output, finish = p.corpus.answer_tokens(p.rng, 3.0), "stop"
    return call(
        p,
        ts,
        prompt,
        sampling,
        output,
        system=t.AGENT_SYSTEM[v],
        finish=finish,
        tools=AGENT_TOOLS_DECLARED[v],
    )


def _sampling(family: str, p: Profile) -> Sampling:
    table = SAMPLING[family]
    return table[p.campaign_index % len(table)]


def self_instruct(p: Profile, start: float, end: float) -> Events:
    """Instruction generation: Self-Instruct, Alpaca and JSON-pairs style by campaign."""
    sampling = _sampling("self_instruct", p)
    return run(p, start, end, instruction_request, sampling, variant=p.campaign_index)


def evol_instruct(p: Profile, start: float, end: float) -> Events:
    sampling = _sampling("evol_instruct", p)
    return run(p, start, end, EvolPipeline(), sampling, variant=p.campaign_index)


def reasoning_harvest(p: Profile, start: float, end: float) -> Events:
    sampling = _sampling("reasoning_harvest", p)
    return run(p, start, end, reasoning_request, sampling, variant=p.campaign_index)


def rubric_grading(p: Profile, start: float, end: float) -> Events:
    sampling = _sampling("rubric_grading", p)
    return run(p, start, end, rubric_request, sampling, variant=p.campaign_index)


def agentic_coding_harvest(p: Profile, start: float, end: float) -> Events:
    sampling = _sampling("agentic_coding_harvest", p)
    return run(p, start, end, agentic_request, sampling, variant=p.campaign_index)
