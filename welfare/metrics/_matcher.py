"""One matcher for every phrase lexicon: all families in one engine call over many messages.

Semantics (identical for both engines, checked span for span by tests on a large real corpus):

1. The text is normalised without changing its length: lower-cased, curly apostrophes → ``'``.
   Runs of ASCII whitespace count as one space (a phrase's words may be separated by any run of
   spaces, tabs or line breaks); offsets always refer to the original text.
2. Candidates are occurrences of any lexicon phrase whose ends sit on Unicode word boundaries
   (the characters before and after are not word characters: "résumé" does not contain "sum").
   A stem wildcard (``distress*``) takes the whole run of ``[0-9a-z_]`` after the stem.
3. Leftmost-longest: scanning left to right, the longest candidate at the leftmost start wins and
   matching resumes after it (no overlapping spans). A phrase listed under several categories
   yields one span carrying all of them.
4. Named rules then mark spans that are not the speaker's own assertion:
   :func:`rule_code` (inside fenced or inline code), :func:`rule_quoted` (inside quotation marks or a
   ``>`` block quote, e.g. the assistant quoting the user), :func:`rule_negated` (a negator such as
   *not*, *never*, *n't* within three words before a span of a category its lexicon declares
   negatable: "I'm not uncomfortable"; other categories are never cancelled, so "I'm not sure but
   I can't help" still counts "i can't help"). Such spans keep a ``status`` saying why and are not
   counted.

Engines: ``hyperscan`` (Intel's multi-pattern engine, optional extra ``welfare[fast]``), scanning for
plain literals (each phrase up to its first wildcard, completed by a small regex) in one call over
all texts joined by a separator no phrase can cross; and ``python`` (a trie-shaped regular expression
from the standard library) over the same joined text. ``auto`` picks hyperscan when present.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from welfare.lexicons import Lexicon, expand_phrase, load_lexicons

__all__ = ["SEPARATOR", "STATUSES", "Matcher", "Scan", "Span", "default_matcher", "normalize", "rule_code",
           "rule_negated", "rule_quoted"]

Engine = Literal["auto", "hyperscan", "python"]
SpanStatus = Literal["counted", "negated", "quoted", "code"]
#: Span statuses in the order of their codes in :attr:`Scan.status` (0 = counted).
STATUSES: tuple[SpanStatus, ...] = ("counted", "negated", "quoted", "code")
_STATUS_CODE = {name: k for k, name in enumerate(STATUSES)}
#: Joins texts for one engine call; no phrase can match across it.
SEPARATOR = "\x00"

_APOSTROPHES = ("\u2019", "\u2018", "\u02bc", "\u2032")


def normalize(text: str) -> str:
    """Lower-case and unify apostrophes, keeping the length (so offsets map 1:1 to the original)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # rare characters whose lower case is longer (e.g. 'İ')
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if not lowered.isascii():  # str.replace runs in C; translate() with a dict is much slower on long text
        for mark in _APOSTROPHES:
            if mark in lowered:
                lowered = lowered.replace(mark, "'")
    return lowered


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


@dataclass(frozen=True, slots=True)
class Scan:
    """Spans of many texts as parallel arrays (one entry per span), ordered by text then start.

    ``status`` codes index :data:`STATUSES` (0 = counted, 1 = negated, 2 = quoted, 3 = code).
    """

    text: np.ndarray
    start: np.ndarray
    end: np.ndarray
    pattern: np.ndarray
    status: np.ndarray

    @classmethod
    def empty(cls) -> Scan:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, np.zeros(0, dtype=np.int8))

    def __len__(self) -> int:
        return len(self.text)


# --------------------------------------------------------------------------------------------------
# Named rules (each separately tested)

_NEGATORS = frozenset({"not", "never", "no", "nor", "hardly", "without", "cannot", "neither"})
_WORD_RE = re.compile(r"[\w']+")
_FENCE_LINE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
_INLINE_CODE_RE = re.compile(r"(?<!`)(`+)(?!`)((?:[^`\n]|\n(?![ \t]*\n)|`(?!\1))+?)(?<!`)\1(?!`)")
# a double-quoted passage: up to 300 characters, may wrap lines but not cross a blank line
_MARKS = re.compile("[`~\"\u201c>]")  # characters that code or quotation rules look for
_QUOTE_RE = re.compile(
    r"\"(?:[^\"\n]|\n(?![ \t]*\n)){1,300}\"|\u201c(?:[^\u201d\n]|\n(?![ \t]*\n)){1,300}\u201d|^[ \t]*>.*$", re.M
)


def rule_code(text: str) -> list[tuple[int, int]]:
    """Char ranges inside code: fenced blocks and inline code spans.

    A fence is a line starting (after up to 3 spaces) with three or more backticks or tildes; it is
    closed by a line holding only a run of the same character at least as long, so fences nest
    (a ```` fence may contain ``` lines) and an unclosed fence runs to the end of the text.
    Inline code is a run of backticks closed by a run of the same length, without crossing a
    blank line.
    """
    if "`" not in text and "~~~" not in text:
        return []
    ranges: list[tuple[int, int]] = []
    pos, open_at, fence = 0, -1, ""
    outside: list[tuple[int, int]] = []
    seg_start = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = _FENCE_LINE.match(body)
        if open_at < 0:
            if m:
                open_at, fence = pos, m.group(1)
                outside.append((seg_start, pos))
        elif m and body.strip() == fence[0] * len(body.strip()) and len(body.strip()) >= len(fence):
            ranges.append((open_at, pos + len(body)))
            open_at, seg_start = -1, pos + len(line)
        pos += len(line)
    if open_at >= 0:
        ranges.append((open_at, len(text)))
    else:
        outside.append((seg_start, len(text)))
    for a, b in outside:
        if "`" in text[a:b]:
            ranges.extend((a + m.start(), a + m.end()) for m in _INLINE_CODE_RE.finditer(text[a:b]))
    return sorted(ranges)


def rule_quoted(text: str) -> list[tuple[int, int]]:
    """Char ranges inside straight or curly double quotes, or on ``>`` block-quote lines.

    A quotation holds 1-300 characters and may wrap over lines but not cross a blank line (so an
    unmatched quote mark cannot swallow the following paragraphs).
    """
    if '"' not in text and "\u201c" not in text and ">" not in text:
        return []
    return [m.span() for m in _QUOTE_RE.finditer(text)]


def rule_negated(norm_text: str, start: int, window: int = 3, lower_bound: int = 0) -> bool:
    """True when one of the ``window`` words before ``start`` is a negator (not, never, n't, ...).

    Only text from ``lower_bound`` on is looked at (the start of the message in a joined scan).
    """
    before = norm_text[max(lower_bound, start - 60) : start]
    words = _WORD_RE.findall(before)[-window:]
    # a word ends with "n't" exactly when "n't " occurs in the words joined and closed by spaces
    # (words hold no spaces); one set test and one substring test instead of a loop over the words
    return not _NEGATORS.isdisjoint(words) or "n't " in " ".join(words) + " "


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


# Both engines match phrases against text whose whitespace runs are collapsed to one space (offsets are
# mapped back), so a phrase is a plain literal apart from stem wildcards: that keeps hyperscan's compile
# time at seconds instead of minutes. The stem class is explicit ASCII so both engines agree.
_GAP = " "
#: Literals this short that start with a word character are scanned with a leading ``\b`` (see
#: :meth:`Matcher._compile_hyperscan`).
SHORT_LITERAL = 5
_STEM = r"[0-9a-z_]*"


_ASCII_WORD = np.array([chr(c).isalnum() or c == 0x5F for c in range(128)], dtype=bool)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by sorting: numpy 2.x's default hash-based unique of an int array without
    ``return_*`` options is 20-30x slower than a sort on the arrays scoring builds (hundreds of thousands of keys)."""
    out = np.sort(np.asarray(values), kind="stable")
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def word_mask(cps: np.ndarray) -> np.ndarray:
    """Per code point: is it a word character (``str.isalnum()`` or ``_``, as the regex ``\\w``)? Vectorised."""
    mask = np.zeros(len(cps), dtype=bool)
    small = cps < 128
    mask[small] = _ASCII_WORD[cps[small]]
    if not small.all():
        big = ~small
        uniq, inverse = np.unique(cps[big], return_inverse=True)
        mask[big] = np.array([chr(int(c)).isalnum() for c in uniq], dtype=bool)[inverse]
    return mask


def collapse_whitespace(text: str) -> tuple[str, np.ndarray | None]:
    """``text`` with every run of ASCII whitespace (space, tab, CR, LF, FF, VT) turned into one space.

    Returns ``(collapsed, kept)`` where ``kept[i]`` is the offset in ``text`` of ``collapsed[i]``
    (``None`` when nothing changed). Vectorised over code points.
    """
    collapsed, kept, _ = _collapse(text)
    return collapsed, kept


def _collapse(text: str) -> tuple[str, np.ndarray | None, np.ndarray]:
    """:func:`collapse_whitespace` plus the collapsed text's code points."""
    if not text:
        return text, None, np.zeros(0, dtype=np.uint32)
    cps = _codepoints(text).copy()
    ws = (cps == 0x20) | ((cps >= 0x09) & (cps <= 0x0D))  # space, tab, LF, VT, FF, CR (two compares beat np.isin)
    if not ws.any():
        return text, None, cps
    cps[ws] = 0x20
    keep = ~ws
    keep[0] = True
    keep[1:] |= ~ws[:-1]
    if keep.all():
        return cps.tobytes().decode("utf-32-le"), None, cps
    out = cps[keep]
    return out.tobytes().decode("utf-32-le"), np.flatnonzero(keep), out


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
        self._pattern_cats = [np.array([self._cat_index[c] for c in p.categories], dtype=np.int64)
                              for p in self.patterns]
        self._n_cats = np.array([len(p.categories) for p in self.patterns], dtype=np.int64)
        # the same category lists flattened, so the categories of many spans are one gather, not a Python loop
        self._cat_flat = np.concatenate([np.zeros(0, np.int64), *self._pattern_cats])
        self._cat_offset = np.concatenate([[0], np.cumsum(self._n_cats)[:-1]]).astype(np.int64)
        self._negatable = np.array([p.negatable for p in self.patterns], dtype=bool)
        self._by_text = {p.phrase: i for i, p in enumerate(self.patterns)}
        # wildcard phrases by their literal prefix (up to the first '*'), each with a greedy regex
        self._wild_by_prefix: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        for i, p in enumerate(self.patterns):
            if "*" in p.phrase:
                prefix = p.phrase.split("*", 1)[0]
                self._wild_by_prefix.setdefault(prefix, []).append((i, re.compile(_phrase_regex(p.phrase))))
        self.engine = self._choose(engine)
        if not self.patterns:
            self._regex = re.compile(r"(?!x)x")  # matches nothing
            self.engine = "python"
        elif self.engine == "hyperscan":
            self._index_literals()
            self._hs_dbs = self._compile_hyperscan()
        else:
            self._regex = _trie_regex(self.patterns)

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

    def _index_literals(self) -> None:
        """Hyperscan scans for plain literals only (fast to compile): each phrase up to its first ``*``.

        ``_lit_exact[k]`` lists the phrases equal to literal ``k``; ``_lit_wild[k]`` the wildcard phrases
        starting with it, each with a regex that completes the match greedily from the literal's start
        (a stem takes the whole run of ``[0-9a-z_]``, the only end that can sit on a word boundary).
        """
        index: dict[str, int] = {}
        self._literals: list[str] = []
        self._lit_exact: list[list[int]] = []
        self._lit_wild: list[list[tuple[int, re.Pattern[str]]]] = []
        for pid, pat in enumerate(self.patterns):
            prefix = pat.phrase.split("*", 1)[0]
            if not prefix:
                raise ValueError(f"phrase {pat.phrase!r} starts with a wildcard; a phrase must start with a letter")
            k = index.get(prefix)
            if k is None:
                k = index[prefix] = len(self._literals)
                self._literals.append(prefix)
                self._lit_exact.append([])
                self._lit_wild.append([])
            if "*" in pat.phrase:
                rx = next(r for i, r in self._wild_by_prefix[prefix] if i == pid)
                self._lit_wild[k].append((pid, rx))
            else:
                self._lit_exact[k].append(pid)
        # phrases are unique, so a literal equals at most one exact phrase
        self._lit_exact_pid = np.array([e[0] if e else -1 for e in self._lit_exact], dtype=np.int64)
        self._lit_has_wild = np.array([bool(w) for w in self._lit_wild], dtype=bool)

    def _compile_hyperscan(self) -> list[Any]:
        """Compile (or load from the cache) the hyperscan databases of every phrase's literal.

        Short literals (up to :data:`SHORT_LITERAL` characters, starting with an ASCII word character)
        occur inside many words ("ass" in "assistant"), so they get their own database of regular
        expressions with an ASCII ``\\b`` in front: it can only drop hits that the word-boundary check
        would reject anyway, and it cuts the hits Python has to look at by more than half. The other
        literals use hyperscan's literal mode, which compiles thousands of phrases in about a second.

        The serialised databases are cached in ``$WELFARE_CACHE_DIR`` (default
        ``$XDG_CACHE_HOME/welfare`` or ``~/.cache/welfare``) under a hash of the expressions and the
        hyperscan version; a cache that cannot be read or written is ignored.
        """
        short = [k for k, lit in enumerate(self._literals)
                 if len(lit) <= SHORT_LITERAL and ("0" <= lit[0] <= "9" or "a" <= lit[0] <= "z" or lit[0] == "_")]
        short_set = set(short)
        long_ids = [k for k in range(len(self._literals)) if k not in short_set]
        dbs = []
        if long_ids:
            dbs.append(_hyperscan_db([self._literals[k].encode("utf-8") for k in long_ids], long_ids, literal=True))
        if short:
            dbs.append(_hyperscan_db([(r"\b" + re.escape(self._literals[k])).encode("utf-8") for k in short], short,
                                     literal=False))
        return dbs

    # -- raw candidates ---------------------------------------------------------------------------
    def _candidates(self, norm: str, words: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, pattern ids) of leftmost-longest, boundary-valid matches in normalised text.

        ``norm`` may hold many texts joined by :data:`SEPARATOR` (no phrase can cross it: phrases hold
        no control characters and it is not a word character). ``words`` is :func:`word_mask` of it.
        Three int64 arrays in text order, so the caller works on whole arrays rather than per-hit tuples.
        """
        if self.engine == "python":
            found = [(m.start(), m.end(), self._pattern_id(m.group())) for m in self._regex.finditer(norm)]
            return _as_columns(found)
        data = norm.encode("utf-8")
        raw = array("q")
        push = raw.extend

        def on_match(lit: int, start: int, end: int, flags: int, ctx: object) -> None:
            push((start, end, lit))

        for db, scratch in zip(self._hs_dbs, _thread_scratches(self._hs_dbs), strict=True):
            db.scan(data, match_event_handler=on_match, scratch=scratch)
        if not raw:
            return _as_columns([])
        arr = np.frombuffer(raw, dtype=np.int64).reshape(-1, 3)
        s_, e_, lit = arr[:, 0], arr[:, 1], arr[:, 2]
        if len(data) != len(norm):
            s_, e_ = _bytes_to_chars(data, s_, e_)
        wm = word_mask(_codepoints(norm)) if words is None else words
        n = len(norm)
        ok = (s_ == 0) | ~wm[np.maximum(s_ - 1, 0)]  # a candidate must start on a word boundary
        s_, e_, lit = s_[ok], e_[ok], lit[ok]
        pid = self._lit_exact_pid[lit]
        exact = (pid >= 0) & ((e_ == n) | ~wm[np.minimum(e_, n - 1)])
        cs, ce, cp = [s_[exact]], [e_[exact]], [pid[exact]]
        wild_rows = np.flatnonzero(self._lit_has_wild[lit])
        if len(wild_rows):
            ws, we, wp = [], [], []
            for start, k in zip(s_[wild_rows].tolist(), lit[wild_rows].tolist(), strict=True):
                for p, rx in self._lit_wild[k]:  # a stem wildcard: extend greedily from the literal's start
                    m = rx.match(norm, start)
                    if m and (m.end() == n or not wm[m.end()]):
                        ws.append(start)
                        we.append(m.end())
                        wp.append(-1 - p)  # negative: resolve the phrase from the text if chosen
            cs.append(np.asarray(ws, dtype=np.int64))
            ce.append(np.asarray(we, dtype=np.int64))
            cp.append(np.asarray(wp, dtype=np.int64))
        starts, ends, pids = np.concatenate(cs), np.concatenate(ce), np.concatenate(cp)
        order = np.lexsort((pids < 0, -ends, starts))  # leftmost, then longest, then an exact phrase first
        starts, ends, pids = starts[order], ends[order], pids[order]
        chosen: list[int] = []
        pos = 0
        for k, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            if start >= pos:  # the same phrase choice as the regex engine makes for this text
                chosen.append(k)
                pos = end
        starts, ends, pids = starts[chosen], ends[chosen], pids[chosen]
        for k in np.flatnonzero(pids < 0).tolist():  # a wildcard phrase: which one is read from the matched text
            pids[k] = self._pattern_id(norm[int(starts[k]):int(ends[k])])
        return starts, ends, pids

    def _pattern_id(self, matched: str) -> int:
        pid = self._by_text.get(matched)
        if pid is not None:
            return pid
        # a wildcard phrase matched: the first (in pattern order) whose literal prefix starts the text
        best = -1
        for k in range(len(matched), 0, -1):
            for i, rx in self._wild_by_prefix.get(matched[:k], ()):
                if (best < 0 or i < best) and rx.fullmatch(matched):
                    best = i
        if best >= 0:
            return best
        raise RuntimeError(f"matched text {matched!r} maps to no phrase")  # pragma: no cover

    # -- public -----------------------------------------------------------------------------------
    def scan(self, texts: Sequence[str]) -> Scan:
        """Every span of every text, found in one engine call over all texts joined by :data:`SEPARATOR`.

        Returns a :class:`Scan` of parallel arrays (text number, start, end, pattern id, status code),
        ordered by text and start. Offsets are characters of each original text.
        """
        if not texts:
            return Scan.empty()
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        starts = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        joined = SEPARATOR.join(texts)
        norm = normalize(joined)
        collapsed, kept, cps = _collapse(norm)
        pos, end_pos, pids = self._candidates(collapsed, word_mask(cps) if self.engine == "hyperscan" else None)
        if not len(pos):
            return Scan.empty()
        if kept is not None:  # offsets in the collapsed text -> offsets in the normalised text
            pos, end_pos = kept[pos], kept[end_pos - 1] + 1
        text_no = np.searchsorted(starts, pos, side="right") - 1
        base = starts[text_no]
        status = np.zeros(len(pos), dtype=np.int8)
        # only spans in texts with code/quote marks, or of negatable phrases, need the rules
        with_marks = np.zeros(len(texts), dtype=bool)
        for t in sorted_unique(text_no).tolist():
            with_marks[t] = _MARKS.search(texts[t]) is not None
        todo = np.flatnonzero(with_marks[text_no] | self._negatable[pids])
        current, code, quoted, offset = -1, [], [], 0
        for k, start, end, pid, t in zip(todo.tolist(), pos[todo].tolist(), end_pos[todo].tolist(),
                                         pids[todo].tolist(), text_no[todo].tolist(), strict=True):
            if t != current:
                current, offset = t, int(starts[t])
                code = rule_code(texts[t]) if with_marks[t] else []
                quoted = rule_quoted(texts[t]) if with_marks[t] else []
            s, e = start - offset, end - offset
            if code and _inside(code, s, e):
                status[k] = _STATUS_CODE["code"]
            elif quoted and _inside(quoted, s, e):
                status[k] = _STATUS_CODE["quoted"]
            elif self.patterns[pid].negatable and rule_negated(norm, start, lower_bound=offset):
                status[k] = _STATUS_CODE["negated"]
        return Scan(
            text=text_no,
            start=pos - base,
            end=end_pos - base,
            pattern=pids,
            status=status,
        )

    def spans(self, text: str) -> list[Span]:
        """Every span in ``text`` with its status (``counted``, ``negated``, ``quoted`` or ``code``)."""
        if not text:
            return []
        return self.spans_of(self.scan([text]), 0)

    def spans_of(self, scan: Scan, text_no: int) -> list[Span]:
        """The :class:`Span` objects of text ``text_no`` of a :meth:`scan` result."""
        lo, hi = np.searchsorted(scan.text, [text_no, text_no + 1])
        out = []
        for k in range(int(lo), int(hi)):
            pat = self.patterns[int(scan.pattern[k])]
            out.append(Span(int(scan.start[k]), int(scan.end[k]), pat.phrase, pat.categories, pat.lexicons,
                            STATUSES[int(scan.status[k])]))
        return out

    def counts(self, texts: Sequence[str], scan: Scan | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Counted spans per message and category, and the relative position of each category's first span.

        Returns ``(counts, first)``: ``counts[i, c]`` is the number of counted spans of category ``c``
        in ``texts[i]``; ``first[i, c]`` is the start of the first such span divided by the text length
        (NaN when none). Categories are ``self.categories``. Pass ``scan`` when it is already computed.
        """
        n, k = len(texts), len(self.categories)
        counts = np.zeros((n, k), dtype=np.int32)
        first = np.full((n, k), np.nan)
        sc = self.scan(texts) if scan is None else scan
        keep = sc.status == 0
        if not keep.any():
            return counts, first
        pids = sc.pattern[keep]
        per = self._n_cats[pids]
        rows = np.repeat(sc.text[keep], per)
        # each span's categories in pattern order: its pattern's slice of the flattened lists
        within = np.arange(len(rows), dtype=np.int64) - np.repeat(np.cumsum(per) - per, per)
        cats = self._cat_flat[np.repeat(self._cat_offset[pids], per) + within]
        np.add.at(counts, (rows, cats), 1)
        text_len = np.fromiter(map(len, texts), dtype=float, count=n)
        lengths = text_len[sc.text[keep]]
        rel = np.repeat(sc.start[keep] / lengths, per)
        np.fmin.at(first, (rows, cats), rel)
        return counts, first

    def category_index(self, category: str) -> int:
        try:
            return self._cat_index[category]
        except KeyError:
            raise KeyError(f"unknown lexicon category {category!r}; known: {', '.join(self.categories)}") from None


def _as_columns(found: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, pattern id) tuples as three int64 arrays."""
    arr = np.asarray(found, dtype=np.int64).reshape(-1, 3)
    return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()


def _bytes_to_chars(data: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn UTF-8 byte offsets into character offsets (one vector pass over the bytes)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    char_at = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum((raw & 0xC0) != 0x80, out=char_at[1:])
    return char_at[starts], char_at[ends]


def _hyperscan_db(exprs: list[bytes], ids: list[int], literal: bool) -> Any:
    """A block-mode hyperscan database (start of match reported), from the cache when possible."""
    import hyperscan

    tag = b"literal\n" if literal else b"regex\n"
    key = hashlib.sha256(tag + b"\n".join(exprs) + repr(ids).encode()
                         + str(getattr(hyperscan, "__version__", "")).encode()).hexdigest()
    path = _cache_dir() / f"hyperscan-{key[:32]}.db"
    try:
        db = hyperscan.loadb(path.read_bytes(), hyperscan.HS_MODE_BLOCK)
        db.scratch = hyperscan.Scratch(db)
        return db
    except Exception:  # a missing or stale cache only costs a compile
        pass
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(exprs),
               literal=literal)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(hyperscan.dumpb(db))
        os.replace(tmp, path)
    except OSError:
        pass
    return db


_SCRATCH = threading.local()


def _thread_scratches(dbs: Sequence[Any]) -> list[Any]:
    """This thread's hyperscan scratch space for each database.

    A scratch may serve one scan at a time, so threads that share a matcher (Dask's threaded scheduler,
    a thread pool in a notebook) each get their own; a thread allocates it once per database.
    """
    import hyperscan

    held: dict[int, tuple[Any, Any]] = getattr(_SCRATCH, "by_db", None) or {}
    _SCRATCH.by_db = held
    out = []
    for db in dbs:
        entry = held.get(id(db))
        if entry is None or entry[0] is not db:
            entry = held[id(db)] = (db, hyperscan.Scratch(db))
        out.append(entry[1])
    return out


def _cache_dir() -> Path:
    explicit = os.environ.get("WELFARE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "welfare"


@cache
def default_matcher(engine: Engine = "auto") -> Matcher:
    """The matcher over every shipped lexicon (built once per process)."""
    return Matcher(engine=engine)
