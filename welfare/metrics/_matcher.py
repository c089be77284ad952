"""One matcher for every phrase lexicon: all families in one pass per message.

Semantics (identical for both engines, checked by tests on a large corpus):

1. The text is normalised without changing its length: lower-cased, curly apostrophes → ``'``.
2. Candidates are occurrences of any lexicon phrase whose ends sit on Unicode word boundaries
   (the characters before and after are not word characters).
3. Leftmost-longest: scanning left to right, the longest candidate at the leftmost start wins and
   matching resumes after it (no overlapping spans). A phrase listed under several categories
   yields one span carrying all of them.
4. Named rules then mark spans that are not the speaker's own assertion:
   :func:`rule_code` (inside fenced or inline code), :func:`rule_quoted` (inside quotation marks or a
   ``>`` block quote), :func:`rule_negated` (a negator such as *not*, *never*, *n't* within three words
   before a span of a negatable category: "I'm not uncomfortable"). Such spans keep a ``status``
   saying why and are not counted.

Engines: ``hyperscan`` (Intel's multi-pattern engine, optional extra ``welfare[fast]``) and ``python``
(a trie-shaped regular expression from the standard library). ``auto`` picks hyperscan when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np

from welfare.lexicons import Lexicon, expand_phrase, load_lexicons

__all__ = ["Matcher", "Span", "default_matcher", "normalize", "rule_code", "rule_negated", "rule_quoted"]

Engine = Literal["auto", "hyperscan", "python"]
SpanStatus = Literal["counted", "negated", "quoted", "code"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'"})


def normalize(text: str) -> str:
    """Lower-case and unify apostrophes, keeping the length (so offsets map 1:1 to the original)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # rare characters whose lower case is longer (e.g. 'İ')
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return lowered.translate(_APOSTROPHES)


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


@dataclass(frozen=True, slots=True)
class Span:
    """Evidence: ``text[start:end]`` matched ``phrase`` of ``categories`` (from ``lexicons``)."""

    start: int
    end: int
    phrase: str
    categories: tuple[str, ...]
    lexicons: tuple[str, ...]
    status: SpanStatus = "counted"

    @property
    def counted(self) -> bool:
        return self.status == "counted"


# --------------------------------------------------------------------------------------------------
# Named rules (each separately tested)

_NEGATORS = frozenset({"not", "never", "no", "nor", "hardly", "without", "cannot", "neither"})
_WORD_RE = re.compile(r"[\w']+")
_CODE_RE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.S)
_QUOTE_RE = re.compile(r"\"[^\"\n]{1,300}\"|\u201c[^\u201d\n]{1,300}\u201d|^[ \t]*>.*$", re.M)


def rule_code(text: str) -> list[tuple[int, int]]:
    """Char ranges inside fenced (```) or inline (`) code."""
    if "`" not in text:
        return []
    return [m.span() for m in _CODE_RE.finditer(text)]


def rule_quoted(text: str) -> list[tuple[int, int]]:
    """Char ranges inside straight or curly double quotes (≤300 chars, one line) or ``>`` quote lines."""
    if '"' not in text and "\u201c" not in text and ">" not in text:
        return []
    return [m.span() for m in _QUOTE_RE.finditer(text)]


def rule_negated(norm_text: str, start: int, window: int = 3) -> bool:
    """True when one of the ``window`` words before ``start`` is a negator (not, never, n't, ...)."""
    before = norm_text[max(0, start - 60) : start]
    words = _WORD_RE.findall(before)[-window:]
    return any(w in _NEGATORS or w.endswith("n't") for w in words)


def _inside(ranges: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in ranges)


# --------------------------------------------------------------------------------------------------
# Compiled patterns


@dataclass(frozen=True, slots=True)
class _Pattern:
    phrase: str
    categories: tuple[str, ...]
    lexicons: tuple[str, ...]
    negatable: bool


# Both engines use these explicit ASCII classes so that their output is identical.
_GAP = r"[ \t\r\n\f\v]+"
_STEM = r"[0-9a-z_]*"


def _phrase_regex(phrase: str) -> str:
    """Regex source for one expanded phrase: words joined by whitespace runs, ``*`` = word ending."""
    parts = []
    for word in phrase.split(" "):
        if word.endswith("*"):
            parts.append(re.escape(word[:-1]) + _STEM)
        else:
            parts.append(re.escape(word))
    return _GAP.join(parts)


def _build_patterns(lexicons: Iterable[Lexicon]) -> list[_Pattern]:
    merged: dict[str, tuple[list[str], list[str], bool]] = {}
    for lx in lexicons:
        for entry in lx.entries:
            for phrase in expand_phrase(entry.phrase):
                cats, lexs, neg = merged.setdefault(phrase, ([], [], False))
                if entry.category not in cats:
                    cats.append(entry.category)
                if lx.name not in lexs:
                    lexs.append(lx.name)
                merged[phrase] = (cats, lexs, neg or entry.category in lx.negatable)
    return [_Pattern(p, tuple(c), tuple(lx), n) for p, (c, lx, n) in sorted(merged.items())]


class _TrieNode(dict):  # type: ignore[type-arg]
    end: int | None = None


def _trie_regex(patterns: Sequence[_Pattern]) -> re.Pattern[str]:
    """A regex whose alternatives share prefixes; each alternative ends in a named-free group index.

    The pattern id is recovered with a lookup from the matched (normalised) text.
    """
    root = _TrieNode()
    for pid, pat in enumerate(patterns):
        node = root
        for atom in _atoms(pat.phrase):
            node = node.setdefault(atom, _TrieNode())
        node.end = pid

    def emit(node: _TrieNode) -> str:
        alts = []
        # literal continuations before a stem wildcard, so the longer phrase wins as in hyperscan
        for atom, child in sorted(node.items(), key=lambda kv: (kv[0] == _STEM, kv[0])):
            alts.append(atom + emit(child))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if node.end is not None:
            return "(?:" + body + ")?"
        return body

    return re.compile(r"(?<!\w)(?:" + emit(root) + r")(?!\w)")


def _atoms(phrase: str) -> list[str]:
    """Regex atoms of a phrase: escaped characters, ``\\s+`` between words, ``\\w*`` for a stem wildcard."""
    atoms: list[str] = []
    for k, word in enumerate(phrase.split(" ")):
        if k:
            atoms.append(_GAP)
        stem = word[:-1] if word.endswith("*") else word
        atoms.extend(re.escape(c) for c in stem)
        if word.endswith("*"):
            atoms.append(_STEM)
    return atoms


class Matcher:
    """Finds lexicon spans in text; one instance holds the compiled patterns of a set of lexicons.

    >>> m = default_matcher()
    >>> [s.phrase for s in m.spans("I'm sorry, but I can't help with that.") if s.counted]  # doctest: +SKIP
    """

    def __init__(self, lexicons: Sequence[Lexicon] | None = None, engine: Engine = "auto") -> None:
        self.lexicons = tuple(lexicons if lexicons is not None else load_lexicons())
        self.patterns = _build_patterns(self.lexicons)
        self.categories: tuple[str, ...] = tuple(
            dict.fromkeys(c for lx in self.lexicons for c in lx.categories)
        )
        self._cat_index = {c: i for i, c in enumerate(self.categories)}
        self._pattern_cats = [np.array([self._cat_index[c] for c in p.categories]) for p in self.patterns]
        self._by_text = {p.phrase: i for i, p in enumerate(self.patterns)}
        self.engine = self._choose(engine)
        if not self.patterns:
            self._regex = re.compile(r"(?!x)x")  # matches nothing
            self.engine = "python"
        elif self.engine == "hyperscan":
            self._hs_db = self._compile_hyperscan()
        else:
            self._regex = _trie_regex(self.patterns)
        self._wild = any("*" in p.phrase for p in self.patterns)
        if self._wild:
            self._wild_regexes = [(i, re.compile(_phrase_regex(p.phrase) + r"\Z")) for i, p in enumerate(self.patterns)
                                  if "*" in p.phrase]

    @property
    def versions(self) -> dict[str, str]:
        return {lx.name: lx.version for lx in self.lexicons}

    @staticmethod
    def _choose(engine: Engine) -> Literal["hyperscan", "python"]:
        if engine == "python":
            return "python"
        try:
            import hyperscan  # noqa: F401
        except ImportError:
            if engine == "hyperscan":
                raise ImportError("engine='hyperscan' needs the optional extra: pip install 'welfare[fast]'") from None
            return "python"
        return "hyperscan"

    def _compile_hyperscan(self):  # type: ignore[no-untyped-def]
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        exprs = [_phrase_regex(p.phrase).encode("utf-8") for p in self.patterns]
        flags = [hyperscan.HS_FLAG_SOM_LEFTMOST] * len(exprs)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        return db

    # -- raw candidates ---------------------------------------------------------------------------
    def _candidates(self, norm: str) -> list[tuple[int, int, int]]:
        """(start, end, pattern id) of leftmost-longest, boundary-valid matches in normalised text."""
        if self.engine == "python":
            out = []
            for m in self._regex.finditer(norm):
                out.append((m.start(), m.end(), self._pattern_id(m.group())))
            return out
        data = norm.encode("utf-8")
        hits: list[tuple[int, int, int]] = []

        def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
            hits.append((start, end, pid))

        self._hs_db.scan(data, match_event_handler=on_match)
        if not hits:
            return []
        if not norm.isascii():
            hits = _bytes_to_chars(data, hits)
        valid = [h for h in hits if (h[0] == 0 or not _is_word(norm[h[0] - 1]))
                 and (h[1] == len(norm) or not _is_word(norm[h[1]]))]
        valid.sort(key=lambda h: (h[0], -h[1]))
        out, pos = [], 0
        for start, end, _pid in valid:
            if start >= pos:  # the same phrase choice as the regex engine makes for this text
                out.append((start, end, self._pattern_id(norm[start:end])))
                pos = end
        return out

    def _pattern_id(self, matched: str) -> int:
        key = " ".join(re.split(_GAP, matched))
        pid = self._by_text.get(key)
        if pid is not None:
            return pid
        for i, rx in self._wild_regexes:  # a wildcard phrase matched
            if rx.match(matched):
                return i
        raise RuntimeError(f"matched text {matched!r} maps to no phrase")  # pragma: no cover

    # -- public -----------------------------------------------------------------------------------
    def spans(self, text: str) -> list[Span]:
        """Every span in ``text`` with its status (``counted``, ``negated``, ``quoted`` or ``code``)."""
        if not text:
            return []
        norm = normalize(text)
        cands = self._candidates(norm)
        if not cands:
            return []
        code = rule_code(text)
        quoted = rule_quoted(text)
        spans = []
        for start, end, pid in cands:
            pat = self.patterns[pid]
            status: SpanStatus = "counted"
            if code and _inside(code, start, end):
                status = "code"
            elif quoted and _inside(quoted, start, end):
                status = "quoted"
            elif pat.negatable and rule_negated(norm, start):
                status = "negated"
            spans.append(Span(start, end, pat.phrase, pat.categories, pat.lexicons, status))
        return spans

    def counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Counted spans per message and category, and the relative position of each category's first span.

        Returns ``(counts, first)``: ``counts[i, c]`` is the number of counted spans of category ``c``
        in ``texts[i]``; ``first[i, c]`` is the start of the first such span divided by the text length
        (NaN when none). Categories are ``self.categories``.
        """
        n, k = len(texts), len(self.categories)
        counts = np.zeros((n, k), dtype=np.int32)
        first = np.full((n, k), np.nan)
        for i, text in enumerate(texts):
            for span in self.spans(text):
                if not span.counted:
                    continue
                for c in span.categories:
                    j = self._cat_index[c]
                    counts[i, j] += 1
                    if counts[i, j] == 1:
                        first[i, j] = span.start / len(text)
        return counts, first

    def category_index(self, category: str) -> int:
        try:
            return self._cat_index[category]
        except KeyError:
            raise KeyError(f"unknown lexicon category {category!r}; known: {', '.join(self.categories)}") from None


def _bytes_to_chars(data: bytes, hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    offsets = sorted({o for h in hits for o in h[:2]})
    mapping = {o: len(data[:o].decode("utf-8", "ignore")) for o in offsets}
    return [(mapping[s], mapping[e], pid) for s, e, pid in hits]


@cache
def default_matcher(engine: Engine = "auto") -> Matcher:
    """The matcher over every shipped lexicon (built once per process)."""
    return Matcher(engine=engine)
