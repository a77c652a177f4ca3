"""Vocabulary patterns searched from their literal anchors: fast on ASCII text, exact always.

Python's `re` tries an alternation of many words at every position of the text: a pattern of
twenty rating words costs ~0.1 ms on a 1 KB prompt, most of it spent where no word starts.
An `AnchoredPattern` knows a literal that every Latin-script match starts with ("rat" for
"rate|rating", "assess"), finds those literals with `str.find` (C speed) and tries the full
pattern only there; alternatives in other scripts are found by a pattern of those alone, run
only on text that is not ASCII. The matches are the full pattern's own, so the result is the
same as `pattern.search` / `pattern.finditer` (tests/unit/test_features.py checks it on the
corpus and on generated text); only the time differs.
"""

from __future__ import annotations

import re
import sys

_END = sys.maxsize


class AnchoredPattern:
    """`pattern` (compiled for lower-cased text), whose every match starts with one of
    `anchors` or with a match of `other_scripts` (the alternatives that are not ASCII)."""

    def __init__(
        self, pattern: str, anchors: tuple[str, ...], other_scripts: str | None = None
    ) -> None:
        self.pattern = re.compile(pattern)
        self.anchors = anchors
        self.other_scripts = re.compile(other_scripts) if other_scripts else None

    def _starts(self, text: str, pos: int, endpos: int) -> list[int]:
        """Every position a match could start at, in order."""
        starts = []
        for anchor in self.anchors:
            at = text.find(anchor, pos, endpos)
            while at >= 0:
                starts.append(at)
                at = text.find(anchor, at + 1, endpos)
        if self.other_scripts is not None and not text.isascii():
            found = self.other_scripts.search(text, pos, endpos)
            while found is not None:
                starts.append(found.start())
                found = self.other_scripts.search(text, found.start() + 1, endpos)
        if len(starts) > 1:
            starts = sorted(set(starts))
        return starts

    def search(self, text: str, pos: int = 0, endpos: int = _END) -> bool:
        """Whether the pattern matches anywhere in text[pos:endpos]."""
        match = self.pattern.match
        return any(match(text, at, endpos) for at in self._starts(text, pos, endpos))

    def spans(self, text: str, pos: int = 0, endpos: int = _END) -> list[tuple[int, int]]:
        """The spans `pattern.finditer(text, pos, endpos)` yields: leftmost, non-overlapping."""
        spans: list[tuple[int, int]] = []
        cursor = pos
        match = self.pattern.match
        for at in self._starts(text, pos, endpos):
            if at < cursor:
                continue
            found = match(text, at, endpos)
            if found is not None:
                spans.append(found.span())
                cursor = max(found.end(), at + 1)
        return spans
