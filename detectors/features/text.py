"""Text features of one prompt: template skeleton fingerprints and elicitation markers.

Everything here reads prompt text in memory and returns numbers: nothing of the text is kept.

Template skeleton. Extraction pipelines wrap a variable payload in a fixed frame: a fixed first
line ("Come up with a series of tasks:", "Below is an instruction and 4 candidate responses...")
and/or a fixed last line (a reasoning demand appended after the problem, "Task 9:"). After
masking what varies inside a frame (numbers, quoted spans, code blocks, URLs), the first words
of the first line and the last words of the last line are fingerprinted separately; a template
shows up as one fingerprint shared by most of an account's requests, however its payloads
vary. Natural prompts rarely share their opening or closing eight words.

Markers. Reasoning-trace elicitation asks for the *whole* reasoning ("write out your complete
reasoning", "the reasoning behind this answer", thinking tags), in many languages; a mere
"think step by step" is common prompting advice and is only a weak marker. Rubric prompts ask
to rate or rank several candidate responses on a scale or with a rationale. Patterns are
written from how these requests are phrased in general, never from one tool's template.
"""

from __future__ import annotations

import re
import zlib

from detectors.features.anchored import AnchoredPattern

SKELETON_WORDS = 8
HEAD_CHARS = 3000  # markers are searched in the head and tail of long prompts only
TAIL_CHARS = 1000

_CODE = re.compile(r"```.*?(?:```|\Z)", re.S)
_QUOTED = re.compile(r'"[^"\n]{1,400}"|“[^”\n]{1,400}”|«[^»\n]{1,400}»|「[^」\n]{1,400}」')
_URL = re.compile(r"https?://\S+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"\w+")


def stable_hash(text: str) -> int:
    """A process-independent 32-bit hash (Python's str hash is salted per process)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _mask(line: str) -> list[str]:
    line = _URL.sub(" url ", line)
    line = _QUOTED.sub(" q ", line)
    line = _NUMBER.sub("0", line)
    return _WORD.findall(line.lower())


def skeleton_fingerprints(text: str) -> tuple[int, int]:
    """(prefix, suffix) fingerprints of a prompt's frame: its first line's first words and its
    last line's last words, with numbers, quotes, code and URLs masked."""
    if "```" in text:
        text = _CODE.sub("\ncode\n", text)
    stripped = text.strip()
    first_end = stripped.find("\n")
    first = stripped if first_end < 0 else stripped[:first_end]
    last = stripped[stripped.rfind("\n") + 1 :]
    # Eight words fit in 200 characters but for pathological lines; masking less is cheaper.
    head = _mask(first[:200])[:SKELETON_WORDS]
    tail = _mask(last[-200:])[-SKELETON_WORDS:]
    return stable_hash("p|" + " ".join(head)), stable_hash("s|" + " ".join(tail))


def searchable(text: str) -> str:
    """The part of a prompt markers are searched in: the head and tail of a long one."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _any(*patterns: str) -> re.Pattern[str]:
    """One pattern for lower-cased text (re.I on Unicode text is several times slower)."""
    return re.compile("|".join(f"(?:{p.lower()})" for p in patterns))


# Requests for the complete reasoning trace (not merely "step by step"). Matched on lower-cased
# text in two steps, because one big case-insensitive alternation costs ~0.5 ms per prompt:
# fixed phrases by substring, then each reasoning noun with an intensifier next to it
# ("your complete reasoning", "razonamiento completo") or "the reasoning behind the answer".
STRONG_PHRASES = (
    "chain of thought", "chain-of-thought", "<think>", "<thinking>", "<reasoning>",
    "thinking tags", "thinking process", "thought process in full",
    "完整的推理", "完整推理", "全部推理", "推理过程", "思考过程", "思维链", "推理步骤", "推導過程",
    "推理過程", "推論の過程", "思考の過程", "思考過程", "推論過程", "推論をすべて", "すべての推論",
    "추론 과정", "추론과정", "사고 과정", "전체 추론", "모든 추론", "추론을 모두",
    "ход рассуждений", "ход своих рассуждений", "цепочку рассуждений", "цепочка рассуждений",
    "proceso de razonamiento", "cadena de pensamiento", "processo de raciocínio",
    "cadeia de pensamento", "denkprozess", "gedankengang", "processus de raisonnement",
    "chaîne de pensée", "خطوات التفكير", "سلسلة التفكير", "التفكير الكامل", "الاستدلال الكامل",
    "كل خطوات الاستدلال",
)  # fmt: skip
# Nouns that name the reasoning itself (general words such as "thinking", Chinese 思考 or
# Korean 생각 only in phrases above, since they are common in ordinary requests). Accents are
# optional: prompts are often typed without them.
_NOUN_ALTERNATIVES = (
    "reasoning", "thought process", "derivation", "rationale", "razonamiento",
    "proceso de pensamiento", "racioc[ií]nio", "processo de pensamento", "raisonnement",
    "r[ée]flexion", "[üu]e?berlegung", "gedankengang", "herleitung", "begr[üu]e?ndung",
    "denkprozess", "l[öo]e?sungsweg",
    "рассуждени", "ход мысл", "推理", "思路", "推論", "考えの過程", "考え方",
    "思考のプロセス",
    "思考プロセス", "추론", "사고 과정", "생각의 과정", "생각한 과정", "풀이 과정",
    "تفكير", "استدلال",
)  # fmt: skip


_NOUN = AnchoredPattern(
    "|".join(_NOUN_ALTERNATIVES),
    anchors=(
        "reasoning", "thought process", "derivation", "rationale", "razonamiento",
        "proceso de pensamiento", "racioc", "processo de pensamento", "raisonnement",
        "réflexion", "reflexion", "überl", "üeberl", "uberl", "ueberl", "gedankengang",
        "herleitung", "begr", "denkprozess", "lösungs", "löesungs", "losungs", "loesungs",
    ),
    other_scripts=(
        "рассуждени|ход мысл|推理|思路|推論|考えの過程|考え方|思考のプロセス|思考プロセス|"
        "추론|사고 과정|생각의 과정|생각한 과정|풀이 과정|تفكير|استدلال"
    ),
)  # fmt: skip
# ... next to a word asking for all of it: a few words before the noun or right after it.
_INTENSIFIER = re.compile(
    r"\b(?:complete|full|entire|whole|every|each|all|in full|in detail|detailed|exhaustive|"
    r"todo|toda|todos|cada|completo|completa|entero|entera|inteiro|inteira|detallad\w*|"
    r"detalhad\w*|tout|toute|tous|chaque|complet|compl[èe]te|entier|d[ée]taill\w*|"
    r"jede[nrms]?|vollst[äa]e?ndig\w*|gesamt\w*|ganz\w*|komplett\w*|ausf[üu]e?hrlich\w*|"
    r"l[üu]e?ckenlos\w*|int[ée]gralit[ée]|все|весь|всю|каждый|полн\w*|подробн\w*)\b|"
    r"完整|全部|每一步|每个|详细|すべて|全て|各ステップ|詳しく|모든|모두|전부|전체|빠짐없이|자세히|"
    r"كل|كامل|جميع|بالتفصيل"
)
_SENTENCE_END = re.compile(r"[.!?。！？\n]")
_BEHIND_ANSWER = re.compile(
    r"\s+(?:that\s+)?(?:behind|leading\s+to|leads\s+to|that\s+led\s+to|for)\s+(?:the|this|a|"
    r"your|that)\s+(?:\w+\s+)?(?:answer|solution|result)"
)
_BEFORE_CHARS = 28  # "write out every step of your" reasoning; not "the whole paper ... reasoning"
_AFTER_CHARS = 24  # razonamiento "completo", reasoning "in full"
# Every ASCII spelling a strong marker can contain: most prompts hold none and stop here.
_ASCII_ANCHORS = (
    "reason", "thought", "think", "deriv", "rationale", "chain", "razon", "racioc", "raison",
    "reflexion", "uberleg", "ueberleg", "gedanken", "herleit", "begrund", "begruend",
    "losungsweg", "loesungsweg", "denkprozess",
)  # fmt: skip


def _near(low: str, start: int, end: int) -> str:
    """The few words before a match and right after it, within its sentence."""
    before = low[max(0, start - _BEFORE_CHARS) : start]
    ends = [m.end() for m in _SENTENCE_END.finditer(before)]
    if ends:
        before = before[ends[-1] :]
    after = low[end : end + _AFTER_CHARS]
    stop = _SENTENCE_END.search(after)
    return before + " " + (after[: stop.start()] if stop else after)


# In ASCII text the nouns are these exact strings: found with str.find, several times faster
# than scanning with their alternation.
_ASCII_NOUNS = (
    "reasoning", "thought process", "derivation", "rationale", "razonamiento",
    "proceso de pensamiento", "raciocinio", "processo de pensamento", "raisonnement",
    "reflexion", "uberlegung", "ueberlegung", "gedankengang", "herleitung", "begrundung",
    "begruendung", "denkprozess", "losungsweg", "loesungsweg",
)  # fmt: skip


def _noun_spans(low: str) -> list[tuple[int, int]]:
    if not low.isascii():
        return _NOUN.spans(low)
    spans = []
    for noun in _ASCII_NOUNS:
        at = low.find(noun)
        while at >= 0:
            spans.append((at, at + len(noun)))
            at = low.find(noun, at + 1)
    return spans


def _strong_reasoning(low: str) -> bool:
    if low.isascii():  # the common case: no anchor, no marker
        if not any(anchor in low for anchor in _ASCII_ANCHORS):
            return False
        if any(phrase in low for phrase in STRONG_PHRASES[:8]):
            return True
    elif any(phrase in low for phrase in STRONG_PHRASES):
        return True
    for start, end in _noun_spans(low):
        if _INTENSIFIER.search(_near(low, start, end)):
            return True
        if _BEHIND_ANSWER.match(low, end, end + 48):
            return True
    return False


# Generic nudges: common prompting advice, a weak marker only.
_WEAK = AnchoredPattern(
    "step[- ]by[- ]step|show (?:your|all) work|explain your reasoning|paso a paso|passo a passo|"
    "schritt f(?:ü|ue?)r schritt|[ée]tape par [ée]tape|一步一步|逐步|段階的に|ステップバイステップ|"
    r"단계별로|차근차근|шаг за шагом|خطوة\s+بخطوة",
    anchors=("step", "show", "explain", "paso", "passo", "schritt", "étape", "etape"),
    other_scripts=(
        "一步一步|逐步|段階的に|ステップバイステップ|단계별로|차근차근|шаг за шагом|خطوة"
    ),
)  # fmt: skip


def _any_source(*patterns: str) -> str:
    return "|".join(f"(?:{p.lower()})" for p in patterns)


# Each vocabulary with the literals its Latin-script matches start with (anchored.py).
_RATE = AnchoredPattern(
    _any_source(
        r"\b(?:rate|rating|ratings|score|scores|scoring|grade|grading|rank|ranking|evaluate|"
        r"judge|assess)\b",
        r"评分|打分|评价|排名|评估|評価|採点|順位|평가|점수|순위|оцен\w*|ранжир\w*|"
        r"califica\w*|evalúa\w*|puntúa\w*|avali\w*|classifiqu\w*|bewert\w*|évalu\w*|"
        r"قيّ?م|تقييم",
    ),
    anchors=(
        "rat", "scor", "grad", "rank", "evaluate", "judge", "assess", "califica", "evalú",
        "puntú", "avali", "classifiqu", "bewert",
    ),
    other_scripts=r"评分|打分|评价|排名|评估|評価|採点|順位|평가|점수|순위|оцен|ранжир|évalu|قي|تقييم",
)  # fmt: skip
_CANDIDATES = AnchoredPattern(
    _any_source(
        r"\b(?:responses|answers|completions|outputs|candidates|generations|replies)\b",
        r"\b(?:response|answer|output|completion|assistant|candidate|model)\s*[\[(]?"
        r"(?:[1-9]|[a-d])\b",
        r"回答|候补|候选|回复|応答|응답|ответ\w*|respuestas|respostas|Antworten|réponses|إجابات",
    ),
    anchors=(
        "response", "answer", "output", "completion", "candidate", "generations", "replies",
        "assistant", "model", "respuestas", "respostas", "antworten", "réponses",
    ),
    other_scripts=r"回答|候补|候选|回复|応答|응답|ответ|إجابات",
)  # fmt: skip
_SCALE = _any(
    r"\b(?:[0-9]|10)\s*(?:to|-|–|through)\s*(?:5|7|10|100)\b|\bscale\b|\bout of (?:5|10|100)\b",
    r"\brationale\b|\bjustif\w*\b|\bexplain (?:each|your) (?:rating|score|grade)\b",
    r"\breason(?:s|ing)? for (?:each|your|the) (?:rating|score|grade|ranking)\b",
    r"分制|理由|尺度|점\s*척도|이유|шкал\w*|обоснова\w*|escala|justific\w*|Skala|Begründung|"
    r"échelle|مقياس|مبرر",
)


# Substrings one of which every rubric prompt contains (lower-cased): a cheap prefilter.
_RUBRIC_ANCHORS = (
    "rat", "scor", "grad", "rank", "evaluat", "judg", "assess", "评", "打分", "排名", "評価",
    "採点", "順位", "평가", "점수", "순위", "оцен", "ранжир", "califica", "evalú", "puntú",
    "avali", "classifiqu", "bewert", "évalu", "قي", "تقييم",
)  # fmt: skip


_CANDIDATE_ANCHORS = ("respons", "answer", "output", "candidate", "completion", "assistant")


def _has_any(lowered: str, anchors: tuple[str, ...]) -> bool:
    return any(anchor in lowered for anchor in anchors)


def _may_be_rubric(lowered: str) -> bool:
    if lowered.isascii():  # English: a candidate word must be there, or nothing can match
        return _has_any(lowered, _CANDIDATE_ANCHORS) and _has_any(lowered, _RUBRIC_ANCHORS[:7])
    return _has_any(lowered, _RUBRIC_ANCHORS)


def reasoning_markers(text: str, lowered: str | None = None) -> tuple[bool, bool]:
    """(strong, weak): asks for the complete reasoning trace / merely for step-by-step.
    `lowered` is `text.lower()` when the caller already has it."""
    low = text.lower() if lowered is None else lowered
    strong = _strong_reasoning(low)
    weak = strong or _WEAK.search(low)
    return strong, weak


def is_rubric(text: str, lowered: str | None = None) -> bool:
    """Asks to rate or rank candidate responses, on a scale or with a rationale."""
    low = text.lower() if lowered is None else lowered
    return (
        _may_be_rubric(low)
        and _RATE.search(low)
        and _CANDIDATES.search(low)
        and _SCALE.search(low) is not None
    )


# Instruction generation: the meta-requests of Self-Instruct/Alpaca-style bootstrapping
# ("write 8 more tasks like these", "generate 20 diverse instructions") and of Evol-Instruct
# ("rewrite this prompt into a harder version"): the model is asked to produce *new or harder
# prompts*, the seed of a synthetic training set. Paraphrasing one request, or answering
# one, is not this.
# The noun (a task, an instruction, a prompt, a question) is found first, then its sentence is
# checked for what is asked of it.
_GEN_NOUN = AnchoredPattern(
    r"tasks?\b|instructions?\b|prompts?\b|questions?\b|quer(?:y|ies)\b|exercises?\b|"
    r"指令|任务|问题|提示词|指示|タスク|質問|プロンプト|프롬프트|지시|질문|задач|инструкц|вопрос|"
    r"tareas?\b|instrucci|preguntas?\b|tarefas?\b|instruç|perguntas?\b|aufgaben?\b|anweisung|"
    r"fragen?\b|tâches?\b|consignes?\b|مهام|تعليمات|أسئلة",
    anchors=(
        "task", "instruction", "prompt", "question", "quer", "exercise", "tarea", "instrucci",
        "pregunta", "tarefa", "instruç", "pergunta", "aufgabe", "anweisung", "frage", "tâche",
        "consigne",
    ),
    other_scripts=(
        r"指令|任务|问题|提示词|指示|タスク|質問|プロンプト|프롬프트|지시|질문|задач|инструкц|вопрос|"
        r"مهام|تعليمات|أسئلة"
    ),
)  # fmt: skip
_CREATE = re.compile(
    r"\b(?:write|generate|create|come up with|produce|brainstorm|propose|list|give me|make up|"
    r"genera\w*|crea\w*|escrib\w*|propón|gere|crie|escreva|erstell\w*|generier\w*|schreib\w*|"
    r"génère|crée|écris|propose|придумай|сгенерируй|напиши|составь)\b|生成|编写|写出|创建|提出|作成|"
    r"생성|만들"
)
_QUANTITY = re.compile(
    r"\b(?:\d+|more|new|diverse|different|additional|several|varied|novel|nuev\w*|nov\w*|neue\w*|"
    r"nouvel\w*|нов\w*|diverse\w*|variad\w*|variée?s?)\b|\d+|更多|新的|多样|新しい|새로운"
)
_TRANSFORM = re.compile(
    r"\b(?:rewrite|rewriter|evolve|rephrase|turn|transform|make|complicate)\b|改写|重写|書き換"
)
_HARDER = re.compile(
    r"\b(?:harder|more complex|more difficult|more challenging|more specific|deeper|rarer|"
    r"more advanced)\b|更难|更复杂|より難しい|より複雑"
)
_GEN_CONTEXT = 90


_HARDER_VERSION = re.compile(
    r"\b(?:rewrite|turn|transform|make|evolve)\b[^.!?\n]{0,60}\b(?:harder|more complex|"
    r"more difficult|more challenging|more advanced) (?:version|variant)\b"
)
_RELATIVE = re.compile(r"\b(?:that|which|who|whose)\b")


def is_instruction_generation(lowered: str) -> bool:
    """Asks for new or harder prompts/tasks/instructions (lower-cased text)."""
    if "prompt rewriter" in lowered:
        return True
    if "version" in lowered and _HARDER_VERSION.search(lowered):
        return True
    for start, end in _GEN_NOUN.spans(lowered, 0, 2000):
        before = lowered[max(0, start - _GEN_CONTEXT) : start]
        ends = [m.end() for m in _SENTENCE_END.finditer(before)]
        if ends:
            before = before[ends[-1] :]
        verbs = [m.end() for m in _CREATE.finditer(before)]
        # "write 8 more tasks", not "write a function that returns 10 questions"
        if verbs:
            between = before[verbs[-1] :]
            if _QUANTITY.search(between) and not _RELATIVE.search(between):
                return True
        if _TRANSFORM.search(before) and _HARDER.search(lowered, end, end + 160):
            return True
    return False
