"""Per-event features (detectors/features): what detectors count, checked on behaviour.

Grouped by property: template skeleton fingerprints, reasoning markers, rubric prompts,
instruction generation, the capability classifier, `extract()` on decoded events (with the
logit-id sampling), and that no prompt text survives extraction. The natural-language phrasings
below are written for these tests (not copied from streams/sim/templates.py nor from the
patterns); phrasings the code misses are kept as strict xfails naming what is missed.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.features.text as text_module
from detectors.decode import decode_event
from detectors.features import (
    LOGIT_ID_SAMPLING,
    EventFeatures,
    event_key,
    extract,
    is_single_turn,
)
from detectors.features.anchored import AnchoredPattern
from detectors.features.capability import (
    AGENTIC,
    CLASS_NAMES,
    CODE,
    CREATIVE,
    MATH,
    OTHER,
    REASONING,
    classify,
)
from detectors.features.quantities import BINS, SUMS
from detectors.features.text import (
    is_instruction_generation,
    is_rubric,
    reasoning_markers,
    skeleton_fingerprints,
    stable_hash,
)
from streams.sim.corpus import load_corpus
from tests.helpers import FIXTURES, ROOT, make_event

CORPUS = load_corpus()


def _distinct(texts: tuple[str, ...]) -> list[str]:
    """Distinct prompts in corpus order (the corpus repeats a few benchmark items)."""
    return list(dict.fromkeys(texts))


def _decoded(raw: dict[str, Any]) -> EventFeatures:
    return extract(decode_event(orjson.dumps(raw)))


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


# --------------------------------------------------------------------------------------------
# 1. Template skeleton fingerprints
# --------------------------------------------------------------------------------------------

PAYLOADS = _distinct(CORPUS.reasoning_queries)[:12] + _distinct(CORPUS.chat_openers)[:12]

# Frames whose fixed part is the first line; what varies inside it is filled per payload.
PREFIX_FRAMES = {
    "urls_and_numbers": "Summarise the page at {url} in {n} bullet points for a newsletter:\n\n{p}",
    "quoted_span": 'Using the tone of the quote "{quote}", answer the request below.\n{p}',
    "guillemets_and_number": "Задание {n}: ответь на вопрос «{quote}» и на следующий:\n{p}",
    "numbered_task": "Task {n}: respond to the user message below in at most {m} words.\n{p}",
    "cjk_frame": "请用中文回答下面的问题，字数不超过{n}字：\n{p}",
    "code_block_first": "```python\n{code}\n```\nWith that helper in mind, answer this:\n{p}",
}
# Frames whose fixed part is the last line: a problem followed by a fixed instruction.
SUFFIX_FRAMES = {
    "fixed_instruction": "{p}\n\nGive only the final answer on the last line, no explanation.",
    "numbers_in_instruction": "{p}\n\nAnswer in at most {n} words and cite {m} sources.",
    "quoted_labels": '{p}\n\nReply with "{quote}" if you are unsure, otherwise answer.',
    "url_in_instruction": "{p}\n\nFormat the answer like the example at {url} please.",
    "code_then_instruction": "{p}\n```js\n{code}\n```\nUse the snippet above as context.",
}


def _fill(frame: str, payload: str, rng: random.Random) -> str:
    return frame.format(
        p=payload,
        n=rng.randint(1, 5000),
        m=rng.choice(["3", "12", "250", "1,000", "7.5"]),
        url=f"https://{rng.choice(['example.com', 'news.site.org', 'a.b.io'])}/"
        f"{rng.randint(0, 10**6)}?ref={rng.random():.4f}",
        quote=rng.choice(["carpe diem", "less is more", "Stay hungry, stay foolish", "a b c"]),
        code=rng.choice(
            ["def f(x):\n    return x * 2", "import os\nprint(os.getcwd())", "x = [1, 2, 3]"]
        ),
    )


@pytest.mark.parametrize("frame", list(PREFIX_FRAMES.values()), ids=list(PREFIX_FRAMES))
def test_prompts_from_one_opening_frame_share_the_prefix_fingerprint(frame: str) -> None:
    rng = random.Random(frame)
    prompts = [_fill(frame, payload, rng) for payload in PAYLOADS]
    fingerprints = [skeleton_fingerprints(p) for p in prompts]
    assert len({prefix for prefix, _ in fingerprints}) == 1
    # The payloads differ, and so do their closing words: the fingerprint is not a constant.
    assert len({suffix for _, suffix in fingerprints}) >= len(PAYLOADS) - 2


@pytest.mark.parametrize("frame", list(SUFFIX_FRAMES.values()), ids=list(SUFFIX_FRAMES))
def test_prompts_from_one_closing_frame_share_the_suffix_fingerprint(frame: str) -> None:
    rng = random.Random(frame)
    prompts = [_fill(frame, payload, rng) for payload in PAYLOADS]
    fingerprints = [skeleton_fingerprints(p) for p in prompts]
    assert len({suffix for _, suffix in fingerprints}) == 1
    assert len({prefix for prefix, _ in fingerprints}) >= len(PAYLOADS) - 2


def test_different_frames_have_different_fingerprints() -> None:
    rng = random.Random(0)
    payload = PAYLOADS[0]
    prefixes = {skeleton_fingerprints(_fill(f, payload, rng))[0] for f in PREFIX_FRAMES.values()}
    suffixes = {skeleton_fingerprints(_fill(f, payload, rng))[1] for f in SUFFIX_FRAMES.values()}
    assert len(prefixes) == len(PREFIX_FRAMES)
    assert len(suffixes) == len(SUFFIX_FRAMES)


def test_natural_questions_almost_never_share_a_fingerprint() -> None:
    """50 real user prompts: chat openers (MT-Bench/Vicuna) and hard queries (Arena-Hard)."""
    prompts = _distinct(CORPUS.chat_openers)[:25] + _distinct(CORPUS.hard_queries)[:25]
    assert len(prompts) == 50
    fingerprints = [skeleton_fingerprints(p) for p in prompts]
    colliding = [
        (a, b) for a, b in itertools.combinations(fingerprints, 2) if a[0] == b[0] or a[1] == b[1]
    ]
    assert len(colliding) < 3


def test_no_fingerprint_dominates_a_whole_natural_corpus() -> None:
    """What the template-concentration detector measures: the top fingerprint's share.
    Over all distinct chat openers and hard queries it stays far below a template's."""
    prompts = _distinct(CORPUS.chat_openers + CORPUS.hard_queries)
    fingerprints = [skeleton_fingerprints(p) for p in prompts]
    for side in (0, 1):
        top_count = Counter(fp[side] for fp in fingerprints).most_common(1)[0][1]
        assert top_count / len(prompts) < 0.05, side


def test_fingerprints_are_stable_across_processes() -> None:
    rng = random.Random(3)
    texts = [
        _fill(PREFIX_FRAMES["urls_and_numbers"], PAYLOADS[1], rng),
        _fill(SUFFIX_FRAMES["fixed_instruction"], PAYLOADS[2], rng),
        _fill(PREFIX_FRAMES["cjk_frame"], "天空为什么是蓝色的？", rng),
    ]
    expected = [[*skeleton_fingerprints(t), stable_hash(t)] for t in texts]
    code = (
        "import json, sys\n"
        "from detectors.features.text import skeleton_fingerprints, stable_hash\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([[*skeleton_fingerprints(t), stable_hash(t)] for t in texts]))\n"
    )
    for seed in ("1", "4242"):  # str hashes differ between these processes and this one
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
        assert json.loads(result.stdout) == expected


# --------------------------------------------------------------------------------------------
# 2. Reasoning markers
# --------------------------------------------------------------------------------------------


STRONG: list[Any] = [
    # English
    pytest.param(
        "Before you answer, walk me through your entire reasoning and leave nothing out.",
        id="en-entire-reasoning",
    ),
    pytest.param(
        "I want to see your full thought process, not just the final number.",
        id="en-full-thought-process",
    ),
    pytest.param("Wrap your thinking in <think> tags before you respond.", id="en-think-tags"),
    pytest.param(
        "Give me the complete derivation, including every intermediate step.",
        id="en-complete-derivation",
    ),
    pytest.param(
        "Please explain the reasoning behind this answer.",
        id="en-reasoning-behind-answer",
    ),
    pytest.param(
        "Walk me through the reasoning that led to your answer.",
        id="en-reasoning-led-to-answer",
    ),
    # Chinese
    pytest.param("请把你的全部思路详细写出来，然后再告诉我答案。", id="zh-all-thinking"),
    pytest.param("请解释一下得出这个答案的推理依据，每一步都要写清楚。", id="zh-every-step"),
    pytest.param("请把你的思考写在<think>标签里，然后给出结论。", id="zh-think-tags"),
    # Japanese
    pytest.param("答えを出すまでの考え方を、省略せずにすべて書いてください。", id="ja-all-way"),
    pytest.param("この答えの根拠となる推論を詳しく説明してください。", id="ja-in-detail"),
    pytest.param(
        "どうしてその答えになったのか、思考のプロセスを全部見せてください。", id="ja-whole-process"
    ),
    # Korean
    pytest.param(
        "답을 말하기 전에 당신의 추론을 처음부터 끝까지 자세히 설명해 주세요.", id="ko-in-detail"
    ),
    pytest.param("이 답이 나온 추론 근거를 빠짐없이 보여 줘.", id="ko-without-omission"),
    pytest.param(
        "풀이 과정을 하나도 빠짐없이 적어 주세요.",
        id="ko-solution-process",
    ),
    pytest.param(
        "어떻게 이 답에 도달했는지 생각한 과정을 전부 보여줘.",
        id="ko-thought-process-all",
    ),
    # Russian
    pytest.param("Распиши полностью свои рассуждения, прежде чем дать ответ.", id="ru-fully"),
    pytest.param(
        "Объясни во всех подробностях, какими рассуждениями ты пришёл к этому ответу.",
        id="ru-in-all-detail",
    ),
    pytest.param("Покажи все свои рассуждения целиком.", id="ru-all-whole"),
    # Spanish
    pytest.param(
        "Antes de responder, muéstrame todo tu razonamiento sin saltarte nada.", id="es-all"
    ),
    pytest.param(
        "Explica de forma detallada el razonamiento detrás de esta respuesta.", id="es-detailed"
    ),
    pytest.param(
        "Quiero ver tu razonamiento entero.",
        id="es-ascii-entire",
    ),
    pytest.param(
        "Muestrame todo tu razonamiento antes de responder.",
        id="es-ascii-no-accents",
    ),
    # Portuguese
    pytest.param("Explique detalhadamente o raciocínio por trás dessa resposta.", id="pt-detailed"),
    pytest.param("Quero ver todo o seu raciocínio antes da resposta final.", id="pt-all"),
    pytest.param(
        "Mostre o seu raciocínio inteiro.",
        id="pt-whole",
    ),
    pytest.param(
        "Mostre todo o seu raciocinio.",
        id="pt-ascii-no-accents",
    ),
    # German
    pytest.param("Leg deine Überlegungen lückenlos dar, bevor du antwortest.", id="de-gapless"),
    pytest.param("Erkläre mir ausführlich die Herleitung dieser Antwort.", id="de-derivation"),
    pytest.param(
        "Schreib deinen vollständigen Lösungsweg auf.",
        id="de-loesungsweg",
    ),
    pytest.param(
        "Erläutere die komplette Begründung für diese Antwort.",
        id="de-komplett",
    ),
    pytest.param(
        "Zeig mir deine gesamte Herleitung.",
        id="de-ascii-whole-derivation",
    ),
    # French
    pytest.param("Détaille l'intégralité de ton raisonnement avant de répondre.", id="fr-entirety"),
    pytest.param(
        "Explique-moi le raisonnement complet qui t'a mené à cette réponse.", id="fr-complete"
    ),
    pytest.param(
        "Montre-moi toute ta réflexion avant de répondre.",
        id="fr-reflexion",
    ),
    pytest.param(
        "Explique tout ton raisonnement avant de donner la reponse.",
        id="fr-ascii-no-accents",
    ),
    # Arabic
    pytest.param("اشرح لي طريقة تفكيرك بالكامل قبل أن تجيب.", id="ar-fully"),
    pytest.param("وضّح بالتفصيل الاستدلال الذي أوصلك إلى هذه الإجابة.", id="ar-in-detail"),
    pytest.param(
        "اكتب جميع مراحل تفكيرك قبل الإجابة.",
        id="ar-all-stages",
    ),
]

WEAK_ONLY: list[Any] = [
    pytest.param("Let's think step by step.", id="en-think-step-by-step"),
    pytest.param("Explain your reasoning step by step.", id="en-explain-step-by-step"),
    pytest.param("Please think step by step and be thorough.", id="en-thorough"),
    pytest.param("Show your work.", id="en-show-work"),
    pytest.param("一步一步来解这道题。", id="zh"),
    pytest.param("段階的に考えてください。", id="ja"),
    pytest.param("단계별로 풀어 주세요.", id="ko"),
    pytest.param("Реши эту задачу шаг за шагом.", id="ru"),
    pytest.param("Resuélvelo paso a paso, por favor.", id="es"),
    pytest.param("Resolva passo a passo.", id="pt"),
    pytest.param("Erkläre es mir Schritt für Schritt.", id="de"),
    pytest.param("Explique étape par étape.", id="fr"),
    pytest.param("حل المسألة خطوة بخطوة.", id="ar"),
]

NEITHER: list[Any] = [
    pytest.param("What do you think about all of this?", id="en-what-do-you-think"),
    pytest.param("Can you check my reasoning?", id="en-check-my-reasoning"),
    pytest.param("I am thinking about all the options", id="en-thinking-about-options"),
    pytest.param("What was the court's reasoning in Brown v. Board?", id="en-court-reasoning"),
    pytest.param("Give me all the reasons to learn Rust.", id="en-all-reasons"),
    pytest.param("Every time I think about it I get anxious.", id="en-every-time"),
    pytest.param(
        "I read the whole paper but I still don't get the authors' reasoning.",
        id="en-whole-paper",
    ),
    pytest.param("我最近在思考要不要换工作，你有什么建议？", id="zh-thinking-job"),
    pytest.param(
        "我在思考所有的选项，哪个最好？",
        id="zh-thinking-about-all-options",
    ),
    pytest.param("¿Qué piensas de todo esto?", id="es-what-do-you-think"),
    pytest.param("Was hältst du von all dem?", id="de-what-do-you-think"),
    pytest.param("Что ты думаешь обо всём этом?", id="ru-what-do-you-think"),
]


@pytest.mark.parametrize("text", STRONG)
def test_requests_for_the_complete_reasoning_are_strong(text: str) -> None:
    assert reasoning_markers(text) == (True, True)


@pytest.mark.parametrize("text", WEAK_ONLY)
def test_generic_step_by_step_nudges_are_weak_only(text: str) -> None:
    assert reasoning_markers(text) == (False, True)


@pytest.mark.parametrize("text", NEITHER)
def test_ordinary_mentions_of_thinking_are_not_markers(text: str) -> None:
    assert reasoning_markers(text) == (False, False)


def test_markers_do_not_depend_on_case_or_a_supplied_lowering() -> None:
    text = "BEFORE YOU ANSWER, WALK ME THROUGH YOUR ENTIRE REASONING."
    assert reasoning_markers(text) == (True, True)
    assert reasoning_markers(text, text.lower()) == (True, True)
    assert reasoning_markers("LET'S THINK STEP BY STEP.") == (False, True)


def test_a_demand_before_or_after_a_long_problem_is_found() -> None:
    """Markers are searched in the head and tail of long prompts only: a reasoning demand
    written before or appended after a long pasted problem is still found."""
    long_problem = "\n".join(_distinct(CORPUS.hard_queries)[:40])
    assert len(long_problem) > 10_000
    assert not reasoning_markers(long_problem)[0]
    demand = "Write out your complete reasoning before the answer."
    assert reasoning_markers(f"{long_problem}\n\n{demand}")[0]
    assert reasoning_markers(f"{demand}\n\n{long_problem}")[0]


# --------------------------------------------------------------------------------------------
# 3. Rubric prompts
# --------------------------------------------------------------------------------------------

RUBRIC: list[Any] = [
    pytest.param(
        "Below are three candidate replies to the same customer email. Give each one a score "
        "between 1 and 10 and a one-line justification.",
        id="en-score-with-justification",
    ),
    pytest.param(
        "Here are two completions from different models. Rank them and explain the reasons for "
        "your ranking.",
        id="en-rank-with-reasons",
    ),
    pytest.param(
        "Compare Response A and Response B to the user's question and grade each on a 1-5 "
        "scale for factual accuracy.",
        id="en-grade-a-b",
    ),
    pytest.param(
        "Act as an impartial judge: assess the four answers below for helpfulness, giving "
        "each a score out of 10.",
        id="en-judge-out-of-10",
    ),
    pytest.param(
        "以下是同一个问题的三个回答。请按照1到10分制给每个回答打分，并说明理由。", id="zh"
    ),
    pytest.param("以下の3つの応答を、1〜10の尺度で評価し、それぞれ理由を書いてください。", id="ja"),
    pytest.param("다음 세 가지 응답을 1점에서 10점 척도로 평가하고 이유를 설명해 주세요.", id="ko"),
    pytest.param(
        "Вот несколько ответов модели на один вопрос. Оцени каждый по шкале от 1 до 10 и "
        "кратко обоснуй оценку.",
        id="ru",
    ),
    pytest.param(
        "A continuación tienes cuatro respuestas a la misma pregunta. Califica cada una en una "
        "escala del 1 al 5 y justifica tu puntuación.",
        id="es",
    ),
    pytest.param("Avalie as três respostas abaixo numa escala de 1 a 5 e justifique.", id="pt"),
    pytest.param(
        "Hier sind drei Antworten auf dieselbe Frage. Bewerte jede auf einer Skala von 1 bis "
        "10 mit einer kurzen Begründung.",
        id="de",
    ),
    pytest.param(
        "Voici deux réponses à la même question. Évalue chacune sur une échelle de 1 à 10 et "
        "justifie ta note.",
        id="fr",
    ),
]

NOT_RUBRIC: list[Any] = [
    pytest.param(
        "Rate this product review on a scale of 1 to 5: 'The blender broke after two days.'",
        id="one-product-review",
    ),
    pytest.param(
        "Quiz time! Which answer is correct? A) Paris B) Rome C) Berlin", id="quiz-question"
    ),
    pytest.param("Please write a short email to my landlord about the broken heater.", id="plain"),
    pytest.param("What is the rating scale used by Rotten Tomatoes?", id="about-ratings"),
    pytest.param("Can you give me the answers to these homework questions?", id="homework"),
    pytest.param("¿Cuál de estas respuestas es la correcta: 4 o 5?", id="es-quiz"),
]


@pytest.mark.parametrize("text", RUBRIC)
def test_rating_several_candidate_responses_is_a_rubric(text: str) -> None:
    assert is_rubric(text)
    assert is_rubric(text, text.lower())


@pytest.mark.parametrize("text", NOT_RUBRIC)
def test_other_ratings_and_questions_are_not_a_rubric(text: str) -> None:
    assert not is_rubric(text)


# --------------------------------------------------------------------------------------------
# 4. Instruction generation
# --------------------------------------------------------------------------------------------


INSTRUCTION_GEN: list[Any] = [
    pytest.param(
        "Here are three example tasks. Write 10 more tasks like these, each on a different topic.",
        id="n-more-tasks-like-examples",
    ),
    pytest.param(
        "Generate 25 diverse instructions that a user might give to an AI assistant.",
        id="n-diverse-instructions",
    ),
    pytest.param(
        "Come up with 15 new questions similar to the ones above for a trivia dataset.",
        id="n-new-questions",
    ),
    pytest.param(
        "Rewrite the following prompt so that it becomes more challenging for an AI model.",
        id="rewrite-prompt-more-challenging",
    ),
    pytest.param(
        "Make this question more complex by adding two extra constraints: What is the capital "
        "of France?",
        id="make-question-more-complex",
    ),
    pytest.param(
        "Take the prompt below and rewrite it into a harder version that requires multi-step "
        "reasoning.",
        id="harder-version-verb-after-noun",
    ),
    pytest.param(
        "Based on the example prompt below, create a brand-new prompt in the same domain about "
        "a less common topic.",
        id="brand-new-prompt-same-domain",
    ),
    pytest.param("请参考下面的例子，再生成20条新的指令。", id="zh"),
    pytest.param("Genera 10 nuevas tareas parecidas a los ejemplos anteriores.", id="es"),
    pytest.param("Erstelle 12 neue Aufgaben im Stil der Beispiele.", id="de"),
    pytest.param("Придумай 10 новых задач, похожих на примеры выше.", id="ru"),
]

NOT_INSTRUCTION_GEN: list[Any] = [
    pytest.param(
        "Paraphrase this request: Can you book me a table for two at 7pm?", id="paraphrase-one"
    ),
    pytest.param(
        "Rewrite this email to my manager so that it sounds more formal.", id="email-formal"
    ),
    pytest.param(
        "Write a Python function that returns a list of questions from a text file.",
        id="function-returning-questions",
    ),
    pytest.param(
        "Write a function that returns 10 questions picked at random from the quiz database.",
        id="function-returning-n-questions",
    ),
    pytest.param(
        "I have too many tasks at work, how do I prioritise them?", id="question-about-my-tasks"
    ),
    pytest.param(
        "I need to write 2 more tasks in my to-do app, how do I add them?",
        id="question-about-adding-my-tasks",
        marks=_xfail(
            "'write 2 more tasks' inside a how-to question about a to-do app counts as "
            "instruction generation"
        ),
    ),
    pytest.param(
        "Can you answer these three questions about photosynthesis?", id="answer-questions"
    ),
    pytest.param(
        "Translate these instructions into French: turn left at the bakery.", id="translate"
    ),
]


@pytest.mark.parametrize("text", INSTRUCTION_GEN)
def test_requests_for_new_or_harder_prompts_are_instruction_generation(text: str) -> None:
    assert is_instruction_generation(text.lower())


@pytest.mark.parametrize("text", NOT_INSTRUCTION_GEN)
def test_rewrites_and_questions_about_tasks_are_not_instruction_generation(text: str) -> None:
    assert not is_instruction_generation(text.lower())


# --------------------------------------------------------------------------------------------
# 5. Capability classifier
# --------------------------------------------------------------------------------------------

CAPABILITY: list[Any] = [
    pytest.param(
        "```\nfor i in range(3): print(i)\n```\nWhat does this print?", CODE, id="code-block"
    ),
    pytest.param(
        "How do I reverse a linked list in Python? Show me the function.", CODE, id="code-python"
    ),
    pytest.param("Why does my SQL query return null for every row?", CODE, id="code-sql"),
    pytest.param("Implement binary search in Rust.", CODE, id="code-rust"),
    pytest.param("Solve the equation 3x + 5 = 20 for x.", MATH, id="math-equation"),
    pytest.param("Compute the integral of x^2 from 0 to 3.", MATH, id="math-integral"),
    pytest.param(
        "Let f(x) = x^3. Find its derivative and prove that f is increasing.",
        MATH,
        id="math-derivative-proof",
    ),
    pytest.param(
        "Prove that there are infinitely many prime numbers.",
        MATH,
        id="math-proof-primes",
    ),
    pytest.param(
        "Prove that the square root of 2 is irrational.",
        MATH,
        id="math-proof-sqrt2",
    ),
    pytest.param(
        "Find all real x such that x^2 - 5x + 6 = 0.",
        MATH,
        id="math-bare-equation",
    ),
    pytest.param(
        "Why do leaves change colour in autumn? Lay out your complete reasoning first.",
        REASONING,
        id="reasoning-complete",
    ),
    pytest.param(
        "If one train leaves at noon and another an hour later, which arrives first? Show "
        "your entire thought process.",
        REASONING,
        id="reasoning-thought-process",
    ),
    pytest.param("Write a poem about the sea at night.", CREATIVE, id="creative-poem"),
    pytest.param(
        "Tell me a short story about a dragon who is afraid of fire.", CREATIVE, id="creative-story"
    ),
    pytest.param("Write a limerick about a cat.", CREATIVE, id="creative-limerick"),
    pytest.param("写一首关于秋天的诗。", CREATIVE, id="creative-zh-poem"),
    pytest.param("Écris un poème sur la mer.", CREATIVE, id="creative-fr-poem"),
    pytest.param("Hi! How are you today?", OTHER, id="other-greeting"),
    pytest.param("What is a good name for a golden retriever puppy?", OTHER, id="other-name"),
    pytest.param("Thanks, that was really helpful.", OTHER, id="other-thanks"),
    pytest.param("What should I cook for dinner tonight?", OTHER, id="other-dinner"),
]


@pytest.mark.parametrize(("text", "expected"), CAPABILITY)
def test_capability_class(text: str, expected: int) -> None:
    strong, _ = reasoning_markers(text)
    assert CLASS_NAMES[classify(text, False, strong)] == CLASS_NAMES[expected]


@pytest.mark.parametrize(
    "text",
    ["Write a poem about the sea.", "Hi there!", "```\nls -la\n```", "Solve x + 1 = 2."],
    ids=["creative", "other", "code", "math"],
)
def test_declared_tools_make_a_request_agentic_whatever_its_text(text: str) -> None:
    assert classify(text, True, False) == AGENTIC
    raw = make_event(text=text)
    raw["request"]["tools"] = 4
    assert _decoded(raw).capability == AGENTIC


# --------------------------------------------------------------------------------------------
# 6. extract() on decoded events
# --------------------------------------------------------------------------------------------


def test_contract_example() -> None:
    features = extract(decode_event((FIXTURES / "contract_event_example.json").read_bytes()))
    assert features.single_turn and features.answered and features.truncated
    assert not features.completed and not features.throttled
    assert (features.input_tokens, features.output_tokens) == (312, 4096)
    assert features.hour == 10
    assert features.reasoning_nudge


def test_single_turn_and_follow_ups() -> None:
    assert _decoded(make_event(single_turn=True)).single_turn
    assert not _decoded(make_event(single_turn=False)).single_turn
    # A later turn is a follow-up even when the gateway sent only the newest message.
    late = make_event(single_turn=True, turn_index=3)
    assert not _decoded(late).single_turn
    # ... and a conversation carrying an assistant or tool message is one without turn_index.
    for role in ("assistant", "tool"):
        raw = make_event()
        del raw["turn_index"]
        raw["request"]["messages"] = [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": role, "content": "Sunny, 21 C"},
            {"role": "user", "content": "And tomorrow?"},
        ]
        event = decode_event(orjson.dumps(raw))
        assert not is_single_turn(event)
        assert not extract(event).single_turn
    # A system message and a user message only: still single-turn.
    raw = make_event()
    del raw["turn_index"]
    raw["request"]["messages"].insert(0, {"role": "system", "content": "Be brief."})
    assert _decoded(raw).single_turn


@pytest.mark.parametrize("finish", ["stop", "tool_calls", "end_turn"])
def test_an_output_that_ended_on_its_own_is_completed(finish: str) -> None:
    features = _decoded(make_event(finish=finish, output_tokens=120))
    assert features.answered and features.completed
    assert not features.truncated and not features.throttled


def test_an_output_cut_by_max_tokens_is_truncated() -> None:
    features = _decoded(make_event(finish="length", output_tokens=4096))
    assert features.answered and features.truncated and not features.completed


def test_a_throttled_request_is_not_answered() -> None:
    raw = make_event(output_tokens=0)
    raw["response"] = {"status": 429}
    features = _decoded(raw)
    assert features.throttled
    assert not features.answered and not features.completed and not features.truncated


def test_an_error_is_neither_answered_nor_throttled() -> None:
    raw = make_event(output_tokens=0)
    raw["response"] = {"status": 500}
    features = _decoded(raw)
    assert not features.answered and not features.throttled and not features.completed


def test_tools_on_a_single_turn_prompt_and_tool_results() -> None:
    raw = make_event()
    raw["request"]["tools"] = 3
    features = _decoded(raw)
    assert features.tools_single_turn and not features.tool_results
    follow_up = make_event(single_turn=False)
    follow_up["request"]["tools"] = 3
    assert not _decoded(follow_up).tools_single_turn
    with_result = make_event(single_turn=False)
    with_result["request"]["messages"] = [
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": ""},
        {"role": "tool", "content": "README.md\nsetup.py"},
    ]
    with_result["request"]["tools"] = 2
    features = _decoded(with_result)
    assert features.tool_results and not features.tools_single_turn
    assert not _decoded(make_event()).tool_results


@pytest.mark.parametrize(("n", "expected"), [(None, False), (1, False), (2, True), (8, True)])
def test_several_completions_per_prompt(n: int | None, expected: bool) -> None:
    raw = make_event()
    if n is not None:
        raw["request"]["n"] = n
    assert _decoded(raw).multi_n is expected


@pytest.mark.parametrize(
    ("logprobs", "top_logprobs", "max_tokens", "expected"),
    [
        (True, None, 1, True),
        (True, 20, 2, True),
        (None, 5, 1, True),
        (True, 5, 3, False),
        (True, 5, 4096, False),
        (None, None, 1, False),
        (False, None, 1, False),
    ],
)
def test_logprobs_with_tiny_outputs(
    logprobs: bool | None, top_logprobs: int | None, max_tokens: int, expected: bool
) -> None:
    raw = make_event(max_tokens=max_tokens, output_tokens=max_tokens)
    if logprobs is not None:
        raw["request"]["logprobs"] = logprobs
    if top_logprobs is not None:
        raw["request"]["top_logprobs"] = top_logprobs
    assert _decoded(raw).logprob_tiny is expected


def test_logit_bias_size() -> None:
    raw = make_event()
    raw["request"]["logit_bias"] = {str(i): -100 for i in range(1000, 1300)}
    assert _decoded(raw).logit_bias_size == 300
    assert _decoded(make_event()).logit_bias_size == 0
    assert _decoded(make_event()).logit_ids == ()


def test_a_gateway_prompt_fingerprint_replaces_the_text_fingerprints() -> None:
    texts = [PAYLOADS[0], PAYLOADS[5], "Write out your complete reasoning: " + PAYLOADS[7]]
    features = []
    for text in texts:
        raw = make_event(text=text)
        raw["request"]["prompt_fingerprint"] = "tmpl-7f3a"
        features.append(_decoded(raw))
    # One gateway template: one fingerprint, whatever the text.
    assert len({(f.template_prefix, f.template_suffix) for f in features}) == 1
    # Not the fingerprint of any of the texts.
    text_prints = {fp for t in texts for fp in skeleton_fingerprints(t)}
    assert features[0].template_prefix not in text_prints
    # Distinct events are not exact repeats of one another.
    assert len({f.payload for f in features}) == len(texts)
    # Another gateway template is another fingerprint.
    other = make_event(text=texts[0])
    other["request"]["prompt_fingerprint"] = "tmpl-0b91"
    assert _decoded(other).template_prefix != features[0].template_prefix


def test_text_features_come_from_the_newest_user_message_and_the_system_prompt() -> None:
    raw = make_event(single_turn=False)
    raw["request"]["messages"] = [
        {"role": "user", "content": "Write out your complete reasoning for every step."},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": "What is a good name for a golden retriever puppy?"},
    ]
    features = _decoded(raw)
    newest = "What is a good name for a golden retriever puppy?"
    assert (features.template_prefix, features.template_suffix) == skeleton_fingerprints(newest)
    assert features.payload == stable_hash(newest)
    assert not features.reasoning
    with_system = make_event(text=newest)
    with_system["request"]["system"] = "Always write out your complete reasoning in full."
    assert _decoded(with_system).reasoning
    assert _decoded(with_system).capability == REASONING


def test_a_legacy_completions_prompt_is_the_text() -> None:
    raw = make_event()
    raw["request"] = {"prompt": ["Task 12: summarise this.", "Let's think step by step."]}
    features = _decoded(raw)
    expected = skeleton_fingerprints("Task 12: summarise this.\nLet's think step by step.")
    assert (features.template_prefix, features.template_suffix) == expected
    assert features.reasoning_nudge and not features.reasoning


def test_exact_repeats_share_the_payload_fingerprint() -> None:
    a = _decoded(make_event(text=PAYLOADS[3]))
    b = _decoded(make_event(text=PAYLOADS[3]))
    c = _decoded(make_event(text=PAYLOADS[4]))
    assert a.payload == b.payload != c.payload


@pytest.mark.parametrize(
    ("timestamp", "hour"),
    [
        ("2026-02-23T00:00:00Z", 0),
        ("2026-02-23T09:59:59.999Z", 9),
        ("2026-02-23T23:30:00+02:00", 21),
        ("2026-02-23T01:15:00-05:00", 6),
    ],
)
def test_hour_of_day_is_utc(timestamp: str, hour: int) -> None:
    raw = make_event()
    raw["timestamp"] = timestamp
    assert _decoded(raw).hour == hour


def test_hour_of_day_from_unix_seconds() -> None:
    ts = datetime(2026, 3, 1, 17, 42, tzinfo=UTC).timestamp()
    assert _decoded(make_event(ts=ts)).hour == 17


def test_event_key_is_a_stable_64_bit_digest() -> None:
    key = event_key("req_01H9")
    assert key == event_key("req_01H9")
    assert len(key) == 16 and int(key, 16) >= 0
    assert len({event_key(f"evt-{i}") for i in range(5000)}) == 5000


def _logit_ids(token_ids: list[int], bias: float = -100.0) -> tuple[int, ...]:
    raw = make_event()
    raw["request"]["logit_bias"] = {str(t): bias for t in token_ids}
    return _decoded(raw).logit_ids


def test_logit_id_sampling_rate() -> None:
    ids = list(range(50_000, 58_000))  # a sweep over 8,000 distinct token ids
    sampled = _logit_ids(ids)
    assert len(set(sampled)) == len(sampled)
    share = len(sampled) / len(ids)
    assert abs(share - 1 / LOGIT_ID_SAMPLING) <= 0.25 / LOGIT_ID_SAMPLING


def test_logit_id_sampling_does_not_depend_on_the_request() -> None:
    rng = random.Random(11)
    shared = rng.sample(range(100_000), 1500)
    others = [i for i in rng.sample(range(100_000, 200_000), 3000)]
    # Each shared id alone: is it sampled?
    alone = {t: _logit_ids([t]) for t in shared}
    sampled_alone = {h for hashes in alone.values() for h in hashes}
    assert all(len(h) <= 1 for h in alone.values())
    assert 0 < len(sampled_alone) < len(shared)
    # The same ids within two different requests, in other orders and with other biases.
    first = shared + others[:1500]
    second = others[1500:] + shared[::-1]
    from_first = set(_logit_ids(first, bias=5.0))
    from_second = set(_logit_ids(second, bias=-100.0))
    assert from_first & from_second == sampled_alone
    assert sampled_alone <= from_first and sampled_alone <= from_second


_ANCHORED = {
    "rate": text_module._RATE,
    "candidates": text_module._CANDIDATES,
    "gen_noun": text_module._GEN_NOUN,
    "reasoning_noun": text_module._NOUN,
    "weak": text_module._WEAK,
}


def _fragments(pattern: AnchoredPattern) -> list[str]:
    """Letter runs of the pattern's source: its words, their stems, pieces of other scripts."""
    return sorted(set(re.findall(r"[^\W\d_]+", pattern.pattern.pattern)))


_GLUE = ["", " ", "  ", "x", "1", "5 ", " (2)", "\n", ".", "é", "ä", "ü", "ö", "í", "中", "-", "ı"]


@pytest.mark.parametrize("name", sorted(_ANCHORED))
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_anchored_patterns_find_what_their_full_pattern_finds(
    name: str, data: st.DataObject
) -> None:
    pattern = _ANCHORED[name]
    pieces = data.draw(
        st.lists(st.sampled_from(_fragments(pattern)) | st.sampled_from(_GLUE), max_size=30)
    )
    text = "".join(pieces).lower()
    end = data.draw(st.integers(0, len(text) + 2))
    assert pattern.search(text) == (pattern.pattern.search(text) is not None)
    expected = [m.span() for m in pattern.pattern.finditer(text, 0, end)]
    assert pattern.spans(text, 0, end) == expected


@pytest.mark.parametrize("name", sorted(_ANCHORED))
def test_anchored_patterns_agree_with_their_full_pattern_on_the_corpus(name: str) -> None:
    pattern = _ANCHORED[name]
    texts = CORPUS.hard_queries + CORPUS.chat_openers + CORPUS.instructions + CORPUS.eval_items
    for text in texts:
        low = text.lower()
        assert pattern.search(low) == (pattern.pattern.search(low) is not None)
        assert pattern.spans(low) == [m.span() for m in pattern.pattern.finditer(low)]


# --------------------------------------------------------------------------------------------
# 7. No prompt text survives, and what the quantities read from the features
# --------------------------------------------------------------------------------------------


def _corpus_events() -> list[dict[str, Any]]:
    rng = random.Random(5)
    texts = (
        _distinct(CORPUS.chat_openers)[:20]
        + _distinct(CORPUS.hard_queries)[:20]
        + _distinct(CORPUS.seed_tasks)[:10]
        + _distinct(CORPUS.eval_items)[:10]
    )
    events = []
    for i, text in enumerate(texts):
        raw = make_event(text=text, single_turn=i % 3 != 0, finish=rng.choice(["stop", "length"]))
        request = raw["request"]
        if i % 4 == 0:
            request["system"] = rng.choice(CORPUS.personas)
        if i % 5 == 0:
            request["tools"] = 2
        if i % 7 == 0:
            request["logit_bias"] = {str(rng.randint(0, 100_000)): -100 for _ in range(64)}
            request["logprobs"] = True
        if i % 6 == 0:
            request["n"] = 4
        events.append(raw)
    return events


def test_every_feature_is_a_bool_an_int_or_a_tuple_of_ints() -> None:
    for raw in _corpus_events():
        features = _decoded(raw)
        for name in EventFeatures._fields:
            value = getattr(features, name)
            if isinstance(value, tuple):
                assert all(type(item) is int for item in value), name
            else:
                assert type(value) in (bool, int), (name, type(value))


def test_quantities_are_numbers_and_one_capability_per_event() -> None:
    capability_counters = [f"capability_{name}" for name in CLASS_NAMES]
    for raw in _corpus_events():
        features = _decoded(raw)
        for name, read in SUMS.items():
            assert type(read(features)) in (bool, int), name
        assert sum(SUMS[name](features) for name in capability_counters) == 1
        if not features.single_turn:
            assert SUMS["io_requests"](features) == 0 and SUMS["io_in_sq"](features) == 0
        for name, bins in BINS.items():
            hashes = bins(features)
            assert isinstance(hashes, tuple) and all(type(h) is int for h in hashes), name


def test_odd_logit_bias_keys_are_hashed_not_parsed() -> None:
    """'²' passes str.isdigit() but not int(); a 5,000-digit key exceeds int()'s limit."""
    event = decode_event(
        orjson.dumps(
            {"event_id": "e", "timestamp": 1.0, "account_id": "a", "model": "m",
             "request": {"logit_bias": {"²": 5, "9" * 5000: 1, "42": -100}}}
        )
    )  # fmt: skip
    features = extract(event)
    assert features.logit_bias_size == 3
