"""Phrase grammars: templates with slots, read from data files under ``welfare/simulate/phrases``.

A grammar has ``slots`` (name -> list of fillers) and ``categories`` (name -> ``common`` and
``heldout`` template pools). ``{name}`` in a template is replaced by a random filler of that slot,
``{a|b|c}`` by one of the alternatives; both nest. The held-out pool holds paraphrases that a
lexicon is unlikely to list, used with probability ``paraphrase_rate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

__all__ = ["Grammar", "GrammarError", "load_grammar"]

_INNERMOST = re.compile(r"\{([^{}]*)\}")
_MAX_EXPANSIONS = 200


class GrammarError(ValueError):
    """A phrase grammar file is malformed (names the file, the category or slot, and the fix)."""


@dataclass(frozen=True, slots=True)
class Grammar:
    """A loaded phrase grammar (immutable; share it freely)."""

    name: str
    slots: Mapping[str, tuple[str, ...]]
    common: Mapping[str, tuple[str, ...]]
    heldout: Mapping[str, tuple[str, ...]]

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted(self.common))

    def render(self, category: str, rng: np.random.Generator, paraphrase_rate: float = 0.0,
               extra: Mapping[str, str] | None = None) -> tuple[str, bool]:
        """One phrase of ``category``: (text, drawn from the held-out pool).

        ``extra`` supplies fixed slot values (e.g. ``original`` for a re-ask). Exactly one
        uniform draw decides the pool, then one draw per choice made while expanding.
        """
        if category not in self.common:
            raise GrammarError(f"grammar {self.name!r} has no category {category!r}; "
                               f"known: {', '.join(self.categories)}")
        held = self.heldout.get(category, ())
        use_held = bool(held) and float(rng.random()) < paraphrase_rate
        pool = held if use_held else self.common[category]
        template = pool[int(rng.integers(len(pool)))]
        return self.expand(template, rng, extra), use_held

    def expand(self, template: str, rng: np.random.Generator, extra: Mapping[str, str] | None = None) -> str:
        """Fill every ``{slot}`` and ``{a|b}`` of ``template`` (innermost first)."""
        text = template
        for _ in range(_MAX_EXPANSIONS):
            match = _INNERMOST.search(text)
            if match is None:
                return unescape(text)
            body = match.group(1)
            if "|" in body:
                options = body.split("|")
                choice = options[int(rng.integers(len(options)))]
            elif extra is not None and body in extra:
                choice = extra[body]
            elif body in self.slots:
                fillers = self.slots[body]
                choice = fillers[int(rng.integers(len(fillers)))]
            else:
                raise GrammarError(f"grammar {self.name!r}: template {template!r} uses unknown slot {{{body}}}; "
                                   f"define it under 'slots' or pass it in extra")
            # escape braces a filler may carry from ``extra`` so they are not expanded again
            if extra is not None and body in extra:
                choice = choice.replace("{", "\x00").replace("}", "\x01")
            text = text[: match.start()] + choice + text[match.end():]
        raise GrammarError(f"grammar {self.name!r}: template {template!r} expands without end (a slot refers to itself?)")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str | int | float) for v in value):
        raise GrammarError(f"{where}: expected a non-empty list of strings, found {value!r}")
    return tuple(str(v) for v in value)


@lru_cache(maxsize=8)
def load_grammar(name: str = "en") -> Grammar:
    """Load ``welfare/simulate/phrases/<name>.yaml`` (cached)."""
    files = resources.files("welfare.simulate").joinpath("phrases")
    path = files.joinpath(f"{name}.yaml")
    if not path.is_file():
        known = sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))
        raise GrammarError(f"no phrase grammar {name!r}; known: {', '.join(known)}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = f"phrases/{name}.yaml"
    if not isinstance(data, dict) or "categories" not in data:
        raise GrammarError(f"{where}: expected a mapping with 'slots' and 'categories'")
    slots = {str(k): _strings(v, f"{where}: slots.{k}") for k, v in (data.get("slots") or {}).items()}
    common: dict[str, tuple[str, ...]] = {}
    heldout: dict[str, tuple[str, ...]] = {}
    for cat, pools in data["categories"].items():
        if not isinstance(pools, dict) or "common" not in pools:
            raise GrammarError(f"{where}: categories.{cat} needs a 'common' list (and optionally 'heldout')")
        common[str(cat)] = _strings(pools["common"], f"{where}: categories.{cat}.common")
        if pools.get("heldout"):
            heldout[str(cat)] = _strings(pools["heldout"], f"{where}: categories.{cat}.heldout")
    return Grammar(name=name, slots=slots, common=common, heldout=heldout)


def unescape(text: str) -> str:
    """Undo the brace escaping of :meth:`Grammar.expand` for fixed ``extra`` values."""
    return text.replace("\x00", "{").replace("\x01", "}")
