"""Versioned phrase lists, stored as TSV data files beside this module.

File format (UTF-8)::

    # lexicon: refusal
    # version: 1.0.0
    # family: reluctance
    # source: written for the welfare project
    # negatable: discomfort            (optional; categories a preceding negator cancels)
    category<TAB>phrase<TAB>weight
    refusal_direct<TAB>i can't help with<TAB>1

Phrase syntax: lower-case words separated by single spaces; a trailing ``*`` on a word matches any
word ending (``distress*``); ``(a|b)`` lists alternatives for one part (expanded when loaded);
straight apostrophes stand for straight and curly ones. Matching is case-insensitive, with Unicode
word boundaries on both ends, and words separated by any run of whitespace.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["MAX_EXPANSION", "Lexicon", "LexiconEntry", "LexiconError", "expand_phrase", "expansion_size", "load_lexicon",
           "load_lexicons"]


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    category: str
    phrase: str
    weight: float
    line: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    name: str
    version: str
    family: str
    source: str
    negatable: frozenset[str]
    entries: tuple[LexiconEntry, ...]
    path: str

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.category for e in self.entries))


_REQUIRED_HEADER = ("lexicon", "version", "family", "source")
_PHRASE_OK = re.compile(r"^[^\sA-Z]+(?: [^\sA-Z]+)*$")


#: Most phrases one lexicon line may expand to; more is almost surely a mistake (and slows every start-up).
MAX_EXPANSION = 20_000


def _group_brackets(phrase: str) -> set[int]:
    """Offsets of the parentheses that form groups; an unmatched one is a literal character (``:(``)."""
    stack: list[int] = []
    paired: set[int] = set()
    for i, c in enumerate(phrase):
        if c == "(":
            stack.append(i)
        elif c == ")" and stack:
            paired.update((stack.pop(), i))
    return paired


def _parse_alternatives(phrase: str, pos: int = 0, depth: int = 0,
                        brackets: set[int] | None = None) -> tuple[list[list[object]], int]:
    """Parse ``a|b`` alternatives of (nested) groups from ``pos``; returns (alternatives, position after)."""
    if brackets is None:
        brackets = _group_brackets(phrase)
    alternatives: list[list[object]] = [[]]
    buf: list[str] = []
    while pos < len(phrase):
        c = phrase[pos]
        if c == "(" and pos in brackets:
            if buf:
                alternatives[-1].append("".join(buf))
                buf = []
            inner, pos = _parse_alternatives(phrase, pos + 1, depth + 1, brackets)
            alternatives[-1].append(inner)
            continue
        if c == ")" and pos in brackets:
            break
        if c == "|" and depth > 0:
            alternatives[-1].append("".join(buf))
            buf = []
            alternatives.append([])
        else:
            buf.append(c)
        pos += 1
    if buf:
        alternatives[-1].append("".join(buf))
    return alternatives, pos + 1


def _size(alternatives: list[list[object]]) -> int:
    total = 0
    for seq in alternatives:
        n = 1
        for part in seq:
            if isinstance(part, list):
                n *= _size(part)
        total += n
    return total


def _expand(alternatives: list[list[object]]) -> list[str]:
    out: list[str] = []
    for seq in alternatives:
        choices = [_expand(part) if isinstance(part, list) else [str(part)] for part in seq]
        out.extend("".join(combo) for combo in itertools.product(*choices))
    return out


def expansion_size(phrase: str) -> int:
    """How many phrases ``phrase`` expands to (without expanding it)."""
    return _size(_parse_alternatives(phrase)[0])


def expand_phrase(phrase: str) -> list[str]:
    """Expand ``(a|b)`` groups, which may nest: ``"i (can't|cannot) help"`` → two phrases.

    ``(|x)`` makes a part optional; ``(i feel (fine|ok)|i'm ok)`` nests. A parenthesis without a partner
    is a literal character (emoticons such as ``:(``). Raises :class:`LexiconError` for a phrase that
    expands to more than :data:`MAX_EXPANSION` phrases.
    """
    tree = _parse_alternatives(phrase)[0]
    n = _size(tree)
    if n > MAX_EXPANSION:
        raise LexiconError(f"phrase {phrase[:80]!r}... expands to {n:,} phrases (limit {MAX_EXPANSION:,}); split it "
                           "into several lines or use a stem wildcard")
    out = []
    for text in _expand(tree):
        text = re.sub(r" +", " ", text).strip()
        if text:
            out.append(text)
    return list(dict.fromkeys(out))


def load_lexicon(path: str | Path) -> Lexicon:
    """Read one lexicon TSV; raises :class:`LexiconError` naming file and line."""
    path = Path(path)
    header: dict[str, str] = {}
    entries: list[LexiconEntry] = []
    columns: list[str] | None = None
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("#"):
                if ":" in line and columns is None:
                    key, _, value = line[1:].partition(":")
                    header[key.strip()] = value.strip()
                continue
            cells = line.split("\t")
            if columns is None:
                columns = cells
                if columns[:3] != ["category", "phrase", "weight"]:
                    raise LexiconError(f"{path}:{lineno}: header row must start with category, phrase, weight; "
                                       f"found {columns}")
                continue
            if len(cells) < 3:
                raise LexiconError(f"{path}:{lineno}: expected 3 tab-separated fields (category, phrase, weight), "
                                   f"found {len(cells)}")
            category, phrase, weight_text = cells[0].strip(), cells[1].strip(), cells[2].strip()
            if not _PHRASE_OK.match(phrase.replace("(", "").replace(")", "").replace("|", " ") or "?"):
                raise LexiconError(f"{path}:{lineno}: phrase {phrase!r} must be lower-case words separated by "
                                   "single spaces")
            try:
                weight = float(weight_text)
            except ValueError:
                raise LexiconError(f"{path}:{lineno}: weight must be a number, found {weight_text!r}") from None
            size = expansion_size(phrase)
            if size > MAX_EXPANSION:
                raise LexiconError(f"{path}:{lineno}: phrase expands to {size:,} phrases (limit {MAX_EXPANSION:,}); "
                                   "split it into several lines or use a stem wildcard")
            entries.append(LexiconEntry(category, phrase.replace("\u2019", "'"), weight, lineno))
    missing = [k for k in _REQUIRED_HEADER if k not in header]
    if missing:
        raise LexiconError(f"{path}: header lines missing: {', '.join('# ' + k + ': ...' for k in missing)}")
    if not entries:
        raise LexiconError(f"{path}: no entries")
    negatable = frozenset(c.strip() for c in header.get("negatable", "").split(",") if c.strip())
    return Lexicon(header["lexicon"], header["version"], header["family"], header["source"], negatable,
                   tuple(entries), str(path))


@cache
def load_lexicons() -> tuple[Lexicon, ...]:
    """Every lexicon shipped with the package, sorted by name (cached)."""
    folder = resources.files(__name__)
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".tsv")), key=lambda p: p.name)
    lexicons = tuple(load_lexicon(Path(str(p))) for p in files)
    names = [lx.name for lx in lexicons]
    if len(set(names)) != len(names):
        raise LexiconError(f"two lexicon files share a name: {names}")
    return lexicons
