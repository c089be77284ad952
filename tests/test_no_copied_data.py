"""The repository holds no text copied from the human-labelled datasets in ../shared/data.

Their licences and the project's rules keep their texts out of the repository: tests and validators
read them at run time. This check looks for any run of WINDOW consecutive words (letters, digits and
apostrophes, lower-cased) that appears both in a file of the repository and in a dataset file. Short
stock phrases of model language ("is there anything else I can help with") are shorter than that and
may be lexicon entries; a copied sentence is not.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from conftest import REPO, require_shared

WINDOW = 12
_WORD = re.compile(r"[a-z0-9']+")
_REPO_FILES = ("README.md", "data/README.md", "docs/*.md", "bench/*.py", "notebooks/*.py", "tests/*.py",
               "welfare/**/*.py", "welfare/lexicons/*.tsv", "welfare/**/*.json")


def _iter_windows(text: str) -> Iterator[str]:
    words = [w for w in _WORD.findall(text.lower()) if not w.isdigit()]
    return (" ".join(words[i:i + WINDOW]) for i in range(len(words) - WINDOW + 1))


def _windows(text: str) -> set[str]:
    return set(_iter_windows(text))


def _read(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8", errors="replace")


def test_windows_find_a_shared_run_of_words() -> None:
    a = _windows("Preface. " + " ".join(f"w{k}" for k in range(14)) + ". Tail.")
    b = _windows("Other words, then " + " ".join(f"w{k}" for k in range(2, 14)) + " and more.")
    assert len(a & b) == 1  # w2 ... w13 is the one shared 12-word run
    assert not _windows("only eleven words " + " ".join("x" * k for k in range(1, 9)))


def test_no_sentence_of_the_shared_datasets_is_in_the_repository() -> None:
    data = require_shared()
    this = Path(__file__).resolve()
    ours: dict[str, str] = {}
    for pattern in _REPO_FILES:
        for path in sorted(REPO.glob(pattern)):
            if path.resolve() != this and ".venv" not in path.parts:
                for w in _windows(path.read_text(encoding="utf-8")):
                    ours.setdefault(w, str(path.relative_to(REPO)))
    assert len(ours) > 10_000  # the repository's own text was read
    found: dict[str, str] = {}
    for path in sorted(p for p in data.rglob("*") if p.is_file() and p.suffix in {".csv", ".tsv", ".txt", ".gz"}):
        for w in _iter_windows(_read(path)):
            if w in ours:
                found[w] = f"{ours[w]} <- {path.relative_to(data)}"
    assert not found, "text copied from ../shared/data: " + "; ".join(f"{v}: '{k}'" for k, v in list(found.items())[:5])
