"""A light local classifier of what capability a request exercises (no model download).

Classes: agentic tool use, code, math, reasoning-trace, creative writing, other. Extraction
campaigns target the valuable capabilities (agentic coding, tool use, math and reasoning), so
an account whose traffic sits almost entirely in one of them is *targeting*; ordinary users
spread over many kinds of request, most of them "other". Keywords and structure only: cheap,
explainable, and good enough for a share over tens of requests (a single miss does not matter).
Words are matched as a set against the prompt's lower-cased words (one tokenising pass);
scripts without spaces are matched as substrings.
"""

from __future__ import annotations

import re

OTHER, AGENTIC, CODE, MATH, REASONING, CREATIVE = range(6)
CLASS_NAMES = ("other", "agentic", "code", "math", "reasoning", "creative")

# The keyword vocabularies are English: the words looked up are runs of ASCII letters, digits
# and underscores, cut from the UTF-8 bytes by one table translation and a split (twice as fast
# as a regular expression; a word glued to leading digits, "3sql", stays one word).
_NOT_WORD_TO_SPACE = bytes(
    c if (97 <= c <= 122 or 48 <= c <= 57 or c == 95) else 32 for c in range(256)
)
CLASSIFY_CHARS = 1500  # the opening of a prompt says what kind of request it is
_CODE_WORDS = frozenset(
    (
        b"def", b"class", b"function", b"functions", b"import", b"return", b"python",
        b"javascript", b"typescript", b"java", b"golang", b"rust", b"sql", b"regex", b"api",
        b"bug", b"compile", b"compiler", b"refactor", b"unittest", b"script", b"code",
        b"implementation", b"implement", b"algorithm", b"programming", b"debug", b"repository",
        b"json", b"html", b"css", b"struct", b"const", b"async", b"await", b"lambda",
        b"variable", b"array", b"null", b"boolean", b"int", b"string"
    )
)  # fmt: skip
_CODE_MARKS = ("```", "console.log", "#include", "=>", "();", "){", "):\n", "</")
_MATH_WORDS = frozenset(
    (
        b"solve", b"equation", b"equations", b"integral", b"derivative", b"prove", b"proof",
        b"theorem", b"probability", b"calculate", b"compute", b"polynomial", b"matrix",
        b"geometry", b"algebra", b"arithmetic", b"lemma", b"inequality", b"prime", b"primes",
        b"irrational", b"rational", b"integer", b"integers", b"infinitely", b"divisible",
        b"modulo", b"factorial", b"logarithm", b"sqrt"
    )
)  # fmt: skip
_MATH_MARKS = (
    "∫",
    "∑",
    "√",
    "π",
    "≤",
    "≥",
    "方程",
    "证明",
    "積分",
    "証明",
    "уравнени",
    "ecuaci",
    "gleichung",
)
_MATH_MARKS_ASCII = tuple(m for m in _MATH_MARKS if m.isascii())
_MATH_EXPR = re.compile(r"\d\s*[+\-*/^=<>]\s*\d")
_CREATIVE_WORDS = frozenset(
    (
        b"poem", b"poetry", b"story", b"stories", b"lyrics", b"haiku", b"sonnet", b"novel",
        b"screenplay", b"fiction", b"limerick", b"song"
    )
)  # fmt: skip
_CREATIVE_MARKS = (
    "诗",
    "故事",
    "物語",
    "詩",
    "стих",
    "рассказ",
    "poema",
    "cuento",
    "gedicht",
    "poème",
)


_CREATIVE_MARKS_ASCII = tuple(m for m in _CREATIVE_MARKS if m.isascii())


def classify(
    text: str, tools_declared: bool, reasoning_strong: bool, lowered: str | None = None
) -> int:
    """The capability class of one request (text already cut to its searchable part)."""
    if tools_declared:
        return AGENTIC
    low = text[:CLASSIFY_CHARS].lower() if lowered is None else lowered[:CLASSIFY_CHARS]
    words = set(low.encode("utf-8", "surrogatepass").translate(_NOT_WORD_TO_SPACE).split())
    latin = low.isascii()  # then only the ASCII marks can be there: skip the other scans
    # Each test counts only as far as its decision needs: most prompts decide on words.
    code_hits = len(words & _CODE_WORDS)
    if code_hits < 2:
        code_hits += sum(1 for mark in _CODE_MARKS if mark in low)
    if code_hits >= 2 or "```" in low:
        return CODE
    math_hits = len(words & _MATH_WORDS)
    if math_hits < 2:
        marks = _MATH_MARKS_ASCII if latin else _MATH_MARKS
        math_hits += sum(1 for m in marks if m in low)
    if math_hits < 2:
        math_hits += min(2, len(_MATH_EXPR.findall(low)))
    if math_hits >= 2:
        return MATH
    if reasoning_strong:
        return REASONING
    marks = _CREATIVE_MARKS_ASCII if latin else _CREATIVE_MARKS
    if words & _CREATIVE_WORDS or any(m in low for m in marks):
        return CREATIVE
    return OTHER
