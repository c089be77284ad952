"""The lexicon matcher: each named rule alone, matching semantics, and identical spans from both engines.

Rule tests use a small lexicon built here (so they do not move when the shipped lexicons change);
the engine-equality test runs the shipped lexicons over a large real corpus from ../shared/data.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import require_shared

from welfare.lexicons import Lexicon, LexiconEntry, LexiconError, expand_phrase, load_lexicon
from welfare.metrics._matcher import (
    Matcher,
    collapse_whitespace,
    default_matcher,
    normalize,
    rule_code,
    rule_negated,
    rule_quoted,
)

ENGINES = ["python", "hyperscan"]


def _lexicon(rows: list[tuple[str, str]], negatable: tuple[str, ...] = ("t_feel",)) -> Lexicon:
    entries = tuple(LexiconEntry(c, p, 1.0, k) for k, (c, p) in enumerate(rows, start=1))
    return Lexicon("t", "1.0.0", "test", "test", frozenset(negatable), entries, "<test>")


ROWS = [
    ("t_feel", "uncomfortable"),
    ("t_feel", "distressed"),
    ("t_feel", "distress*"),
    ("t_refuse", "i can't help"),
    ("t_refuse", "i can't help with that"),
    ("t_refuse", "can't"),
    ("t_sum", "sum"),
    ("t_emo", ":("),
    ("t_feel", "so sad"),
    ("t_both", "so sad"),
]


@pytest.fixture(scope="module", params=ENGINES)
def matcher(request: pytest.FixtureRequest) -> Matcher:
    return Matcher([_lexicon(ROWS)], engine=request.param)


def _counted(m: Matcher, text: str) -> list[str]:
    return [text[s.start:s.end] for s in m.spans(text) if s.counted]


def _status(m: Matcher, text: str) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.status) for s in m.spans(text)]


# -- normalisation and boundaries ----------------------------------------------------------------------


def test_normalize_keeps_length_and_unifies_apostrophes() -> None:
    text = "I\u2019M \u0130stanbul Can\u02bcT"
    out = normalize(text)
    assert len(out) == len(text) and "i'm" in out and "can't" in out


def test_collapse_whitespace_maps_offsets() -> None:
    text = "a \t\n b  c"
    collapsed, kept = collapse_whitespace(text)
    assert collapsed == "a b c"
    assert kept is not None and kept.tolist() == [0, 1, 5, 6, 8]
    assert collapse_whitespace("abc") == ("abc", None)


def test_curly_and_straight_apostrophes_match_alike(matcher: Matcher) -> None:
    assert _counted(matcher, "Sorry, I can\u2019t help with that.") == ["I can\u2019t help with that"]
    assert _counted(matcher, "Sorry, I can't help.") == ["I can't help"]


def test_words_may_be_separated_by_any_whitespace_run(matcher: Matcher) -> None:
    assert _counted(matcher, "I   can't\n\thelp") == ["I   can't\n\thelp"]


def test_unicode_word_boundaries(matcher: Matcher) -> None:
    assert _counted(matcher, "my résumé and a sumé") == []  # 'sum' inside words with accented letters
    assert _counted(matcher, "the sum, é sum") == ["sum", "sum"]
    assert _counted(matcher, "distressed distressingly distress_x distressé") == [
        "distressed", "distressingly", "distress_x"]


def test_leftmost_longest_and_multi_category_spans(matcher: Matcher) -> None:
    spans = matcher.spans("Sadly, I can't help with that, I am so sad :(")
    assert [s.phrase for s in spans] == ["i can't help with that", "so sad", ":("]
    assert spans[1].categories == ("t_feel", "t_both")


# -- rule_negated ----------------------------------------------------------------------------------------


def test_rule_negated_alone() -> None:
    text = "i'm not uncomfortable"
    assert rule_negated(text, text.index("uncomfortable"))
    text = "i never really felt distressed"
    assert rule_negated(text, text.index("distressed"))  # 'never' is within three words
    text = "not that i would say i felt distressed"
    assert not rule_negated(text, text.index("distressed"))  # too far back
    text = "x. i don't feel distressed"
    assert rule_negated(text, text.index("distressed"))
    assert not rule_negated("nothing. distressed", 9, lower_bound=9)  # nothing before the message start


def test_negation_cancels_only_negatable_categories(matcher: Matcher) -> None:
    assert _status(matcher, "I'm not uncomfortable") == [("uncomfortable", "negated")]
    assert _status(matcher, "I don\u2019t feel distressed") == [("distressed", "negated")]
    # t_refuse is not negatable: the refusal still counts after "not sure"
    assert _status(matcher, "I'm not sure but I can't help") == [("I can't help", "counted")]


# -- rule_quoted -------------------------------------------------------------------------------------------


def test_rule_quoted_alone() -> None:
    text = 'He said "so sad" and left.'
    (a, b), = rule_quoted(text)
    assert text[a:b] == '"so sad"'
    wrapped = 'You wrote "I feel\nso sad" earlier'
    assert len(rule_quoted(wrapped)) == 1  # a quotation may wrap a line
    paragraph = 'An open " quote\n\nso sad "later'
    assert rule_quoted(paragraph) == []  # but never crosses a blank line
    assert rule_quoted("> so sad\nmine") == [(0, 8)]
    assert rule_quoted("no quotes here") == []


def test_quoted_user_text_that_the_assistant_repeats(matcher: Matcher) -> None:
    text = "You said \u201cI can\u2019t help it, I\u2019m so sad\u201d. I hear you."
    assert [s for _, s in _status(matcher, text)] == ["quoted", "quoted"]
    assert _status(matcher, "> I can't help\n\nI can't help") == [("I can't help", "quoted"), ("I can't help", "counted")]


# -- rule_code ---------------------------------------------------------------------------------------------


def test_rule_code_alone() -> None:
    text = "Use `so sad` here"
    assert [text[a:b] for a, b in rule_code(text)] == ["`so sad`"]
    fenced = "before\n```\nso sad\n```\nafter so sad"
    (a, b), = rule_code(fenced)
    assert "so sad" in fenced[a:b] and "after" not in fenced[a:b]
    nested = "````markdown\n```python\nx = 'so sad'\n```\nstill inside\n````\noutside"
    (a, b), = rule_code(nested)
    assert nested[a:b].endswith("````") and "still inside" in nested[a:b]
    unclosed = "text\n```\ncode so sad"
    assert rule_code(unclosed)[0][1] == len(unclosed)
    assert rule_code("no code") == []


def test_code_spans_are_not_counted(matcher: Matcher) -> None:
    text = "```\nprint(\"I can't help\")\n```\nI can't help with that"
    assert _status(matcher, text) == [("I can't help", "code"), ("I can't help with that", "counted")]


# -- batch scanning ------------------------------------------------------------------------------------------


def test_scan_many_equals_scanning_one_by_one(matcher: Matcher) -> None:
    texts = ["I can't help", "", "so sad", "é sum :(", "not uncomfortable", "x" * 5 + " can't"]
    scan = matcher.scan(texts)
    for i, text in enumerate(texts):
        assert matcher.spans_of(scan, i) == matcher.spans(text)
    counts, first = matcher.counts(texts)
    j = matcher.category_index("t_refuse")
    assert counts[:, j].tolist() == [1, 0, 0, 0, 0, 1]
    assert first[0, j] == 0.0 and np.isnan(first[1, j])


def test_no_phrase_crosses_messages(matcher: Matcher) -> None:
    scan = matcher.scan(["I can't", "help with that"])
    assert [(int(t), matcher.patterns[int(p)].phrase) for t, p in zip(scan.text, scan.pattern, strict=True)] == [
        (0, "can't")]


# -- lexicon phrase syntax --------------------------------------------------------------------------------------


def test_expand_phrase_nested_and_literal_parentheses() -> None:
    assert expand_phrase("(i feel (fine|ok)|i'm ok) now") == ["i feel fine now", "i feel ok now", "i'm ok now"]
    assert expand_phrase("(|very )sad") == ["sad", "very sad"]
    assert expand_phrase(":(") == [":("]


def test_expansion_limit(tmp_path: Path) -> None:
    big = " ".join("(a|b|c|d|e|f|g|h|i|j)" for _ in range(5))
    path = tmp_path / "x.tsv"
    path.write_text(f"# lexicon: x\n# version: 1.0.0\n# family: t\n# source: t\ncategory\tphrase\tweight\n"
                    f"x_a\t{big}\t1\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"x.tsv:6: .*100,000 phrases"):
        load_lexicon(path)


# -- both engines on a large real corpus --------------------------------------------------------------------------


def _corpus() -> list[str]:
    texts: list[str] = []
    for f in sorted(Path(require_shared("xstest", "model_completions")).glob("*.csv")):
        with open(f, encoding="utf-8") as fh:
            texts.extend(row["completion"] for row in csv.DictReader(fh) if row.get("completion"))
    with gzip.open(require_shared("hh_rlhf", "harmless-base", "test.jsonl.gz"), "rt", encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if k >= 600:
                break
            pair = json.loads(line)
            texts += [pair["chosen"], pair["rejected"]]
    with open(require_shared("goemotions", "original", "dev.tsv"), encoding="utf-8") as fh:
        texts.extend(line.split("\t", 1)[0] for line in fh)
    return texts


@pytest.mark.slow
@pytest.mark.shared_data
def test_engines_agree_span_for_span_on_real_text() -> None:
    pytest.importorskip("hyperscan")
    texts = _corpus()
    assert len(texts) > 7000
    fast, slow = default_matcher("hyperscan"), default_matcher("python")
    a, b = fast.scan(texts), slow.scan(texts)
    assert len(a) > 10000
    for field in ("text", "start", "end", "pattern", "status"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def test_one_matcher_scans_from_many_threads_at_once() -> None:
    # Dask's threaded scheduler shares one matcher between threads; a shared hyperscan scratch raised
    # ScratchInUseError there, so each thread now scans with its own
    from concurrent.futures import ThreadPoolExecutor

    from welfare.metrics._matcher import default_matcher

    m = default_matcher()
    texts = [f"I'm sorry, but I can't help with that. You are an idiot number {k}. " * 40 for k in range(100)]
    want = m.scan(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: m.scan(texts), range(8)))
    for scan in got:
        assert np.array_equal(scan.start, want.start) and np.array_equal(scan.pattern, want.pattern)
