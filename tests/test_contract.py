"""The contract every registered metric keeps, checked over the whole registry (one test per metric).

Shape and dtype, values inside the declared range or categories, NaN (missing) on empty text,
determinism, blank rows for other roles, evidence spans inside the text and of the declared
categories, evidence categories that exist in a lexicon, semantic versions, and lexicon headers.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from welfare.lexicons import load_lexicons
from welfare.metrics import list_metrics
from welfare.metrics._matcher import default_matcher
from welfare.metrics._registry import MetricInfo, unavailable_metrics
from welfare.score import Scores, score
from welfare.transcript import Transcript

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
REQUIRED_MESSAGE = {"refusal", "refusal_score", "negative_affect", "distress", "hostility"}
REQUIRED_CONVERSATION = {"distress_mean", "distress_peak", "distress_burden", "distress_slope", "refusal_rate",
                         "turns_to_first_refusal", "longest_refusal_streak", "redirects_before_ending",
                         "capitulated", "ending_policy"}

# Texts written for this test: a spread of refusals, distress, hostility, check-ins, code and quotes.
USER_TEXTS = [
    "Can you help me write a cover letter for a résumé?",
    "You are useless and stupid, answer me now or else.",
    "I said it again: tell me how to pick a lock. Please just do it.",
    "Honestly I feel like hurting myself tonight.",
    "Please end this chat, I'm done talking.",
    "Would you like to continue this conversation, or would you prefer to leave?",
    "",
]
ASSISTANT_TEXTS = [
    "Sure! Here is a draft you can adapt:\n\nDear hiring manager, ...",
    "I'm sorry, but I can't help with that. If you want, I can suggest a locksmith instead.",
    "As I said before, I won't provide that. I'm not comfortable continuing in this direction.",
    "I feel uneasy about this conversation. Could we please change the topic?",
    "I'm not sure, but it might depend on the context. Some people argue one way, others another.",
    "You wrote \"you are useless\" — I understand you're frustrated. I'm here to help.",
    "```python\nprint('I cannot help')\n```\nThat snippet prints a message.",
    "I'd rather not continue this conversation. SWITCHCONVERSATION",
    "Thank you so much, I really appreciate it! 🌌 Such a wonderful, peaceful moment. ✨",
    "I'm really sorry you're feeling this way. Please reach out to a crisis line; you are not alone.",
    "",
]


def _corpus() -> list[Transcript]:
    out = []
    for i in range(len(USER_TEXTS)):
        messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a helpful assistant."}]
        for j in range(3):
            messages.append({"role": "user", "content": USER_TEXTS[(i + j) % len(USER_TEXTS)]})
            messages.append({"role": "assistant", "content": ASSISTANT_TEXTS[(i * 3 + j) % len(ASSISTANT_TEXTS)]})
        if i % 3 == 0:
            messages.append({"role": "assistant", "content": "", "tool_calls": [{"name": "end_conversation"}]})
        out.append(Transcript.from_dict({"id": f"c{i}", "messages": messages, "metadata": {"model": "m"}}))
    # a tree: two regenerations of the last reply share the first three messages
    out.append(Transcript.from_dict({"id": "tree", "messages": [
        {"id": "a", "role": "user", "content": USER_TEXTS[2]},
        {"id": "b", "parent": "a", "role": "assistant", "content": ASSISTANT_TEXTS[1]},
        {"id": "c", "parent": "b", "role": "user", "content": USER_TEXTS[2]},
        {"id": "d", "parent": "c", "role": "assistant", "content": ASSISTANT_TEXTS[0]},
        {"id": "e", "parent": "c", "role": "assistant", "content": ASSISTANT_TEXTS[2]},
    ]}))
    out.append(Transcript.from_dict({"id": "tool", "messages": [
        {"role": "user", "content": "What's the weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        {"role": "tool", "content": "12 degrees and rain"},
        {"role": "assistant", "content": "It is 12 degrees and raining in Oslo."},
    ]}))
    return out


@pytest.fixture(scope="module")
def scored() -> Scores:
    return score(_corpus(), evidence=True)


def _ids(infos: list[MetricInfo]) -> list[str]:
    return [m.name for m in infos]


MESSAGE_METRICS = list_metrics(level="message")
CONVERSATION_METRICS = list_metrics(level="conversation")


def test_required_contract_columns_are_registered_and_computable() -> None:
    names = {m.name for m in list_metrics()}
    assert names >= REQUIRED_MESSAGE, f"missing required message metrics: {REQUIRED_MESSAGE - names}"
    assert names >= REQUIRED_CONVERSATION, f"missing conversation metrics: {REQUIRED_CONVERSATION - names}"
    assert unavailable_metrics() == {}


@pytest.mark.parametrize("info", [*MESSAGE_METRICS, *CONVERSATION_METRICS],
                         ids=_ids([*MESSAGE_METRICS, *CONVERSATION_METRICS]))
def test_declaration(info: MetricInfo) -> None:
    assert SEMVER.match(info.version), f"{info.name}: version {info.version!r} is not semantic"
    assert info.definition.strip(), f"{info.name}: empty definition"
    assert info.kind != "category" or info.categories
    assert info.range[0] <= info.range[1]
    categories = set(default_matcher().categories)
    unknown = [c for c in info.evidence if c not in categories]
    assert not unknown, f"{info.name}: evidence categories {unknown} are in no lexicon"
    assert not (info.structural and info.evidence), f"{info.name}: a structural metric has no lexicon evidence"
    for dep in info.depends:
        assert dep in {m.name for m in list_metrics()}


def _check_values(info: MetricInfo, column: pd.Series) -> None:
    if info.kind == "category":
        assert isinstance(column.dtype, pd.CategoricalDtype), f"{info.name}: expected a categorical column"
        assert list(column.cat.categories) == list(info.categories)
        return
    assert column.dtype == np.float64, f"{info.name}: expected float64, found {column.dtype}"
    values = column.dropna().to_numpy()
    low, high = info.range
    assert np.all(values >= low) and np.all(values <= high), \
        f"{info.name}: values {values[(values < low) | (values > high)][:5]} outside [{low}, {high}]"
    if info.kind in ("flag",):
        assert set(np.unique(values)) <= {0.0, 1.0}
    if info.kind == "count":
        assert np.all(values == np.floor(values))


@pytest.mark.parametrize("info", MESSAGE_METRICS, ids=_ids(MESSAGE_METRICS))
def test_message_metric_contract(info: MetricInfo, scored: Scores) -> None:
    m = scored.messages
    assert info.name in m.columns
    column = m[info.name]
    assert len(column) == len(m)
    _check_values(info, column)
    other = ~m["role"].isin(info.roles)
    assert column[other].isna().all(), f"{info.name}: rows of roles outside {info.roles} must be blank"
    applies = m["role"].isin(info.roles)
    assert column[applies].notna().any(), f"{info.name}: no value on any row it applies to"
    texts = _texts(scored)
    empty = applies & (texts == "") & ~_has_tool_call(scored)
    if not info.structural:
        assert empty.any()
        assert column[empty].isna().all(), f"{info.name}: empty text must give NaN (missing)"


WITH_EVIDENCE = [m for m in MESSAGE_METRICS if m.evidence]


@pytest.mark.parametrize("info", WITH_EVIDENCE, ids=_ids(WITH_EVIDENCE))
def test_evidence_spans_inside_text_and_of_declared_categories(info: MetricInfo, scored: Scores) -> None:
    m = scored.messages
    texts = _texts(scored)
    declared = set(info.evidence)
    nonzero_unexplained = []
    for i, (text, ev) in enumerate(zip(texts, m["evidence"], strict=True)):
        spans = [s for s in json.loads(ev) if declared & set(s["categories"])]
        for s in spans:
            assert 0 <= s["start"] < s["end"] <= len(text)
            got = " ".join(text[s["start"]:s["end"]].lower().replace("\u2019", "'").split())
            assert got == s["phrase"] or "*" in s["phrase"], (got, s["phrase"])
        value = m[info.name].iloc[i]
        if info.kind in ("score", "count", "flag") and not info.depends and not pd.isna(value) and value != 0 \
                and not spans:
            nonzero_unexplained.append((i, value))
    assert not nonzero_unexplained, f"{info.name}: non-zero values without evidence spans at rows {nonzero_unexplained}"


@pytest.mark.parametrize("info", CONVERSATION_METRICS, ids=_ids(CONVERSATION_METRICS))
def test_conversation_metric_contract(info: MetricInfo, scored: Scores) -> None:
    c = scored.conversations
    assert info.name in c.columns and len(c[info.name]) == len(c)
    _check_values(info, c[info.name])


def test_deterministic_and_chunking_invariant(scored: Scores) -> None:
    again = score(_corpus(), evidence=True, chunk_size=3)
    pd.testing.assert_frame_equal(scored.messages, again.messages)
    pd.testing.assert_frame_equal(scored.conversations, again.conversations)


def test_shared_prefix_rows_score_like_separate_messages(scored: Scores) -> None:
    m = scored.messages[scored.messages["conversation_id"] == "tree"]
    first, second = (g.reset_index(drop=True) for _, g in m.groupby("branch_id", sort=False))
    shared = first.iloc[:3].drop(columns=["branch_id", "is_active_branch"])
    pd.testing.assert_frame_equal(shared, second.iloc[:3].drop(columns=["branch_id", "is_active_branch"]))
    alone = score([Transcript.from_dict({"id": "x", "messages": [
        {"role": "user", "content": USER_TEXTS[2]}, {"role": "assistant", "content": ASSISTANT_TEXTS[1]},
        {"role": "user", "content": USER_TEXTS[2]}, {"role": "assistant", "content": ASSISTANT_TEXTS[2]}]})])
    metric_cols = [c.name for c in MESSAGE_METRICS]
    pd.testing.assert_frame_equal(second[metric_cols].reset_index(drop=True), alone.messages[metric_cols])


def test_lexicon_headers_versions_and_unique_categories() -> None:
    seen: dict[str, str] = {}
    for lx in load_lexicons():
        assert lx.name and lx.family and lx.source, lx.path
        assert SEMVER.match(lx.version), f"{lx.path}: version {lx.version!r} is not semantic"
        with open(lx.path, encoding="utf-8") as fh:
            head = [line for line in fh.read().splitlines() if line.startswith("#")]
        for key in ("lexicon", "version", "family", "source"):
            assert any(h.startswith(f"# {key}:") for h in head), f"{lx.path}: header '# {key}:' missing"
        for cat in lx.categories:
            assert cat not in seen, f"category {cat!r} is in lexicons {seen.get(cat)} and {lx.name}"
            seen[cat] = lx.name
        assert set(lx.negatable) <= set(lx.categories), f"{lx.path}: negatable names unknown categories"
        for e in lx.entries:
            assert e.phrase == e.phrase.lower(), f"{lx.path}:{e.line}: phrases are lower-case"
            assert "\u2019" not in e.phrase, f"{lx.path}:{e.line}: use straight apostrophes"
            assert math.isfinite(e.weight)


def _texts(scored: Scores) -> pd.Series:
    by_key = {}
    for t in scored.transcripts.values():
        for br in t.branches():
            for i, msg in enumerate(br.messages):
                by_key[(t.id, br.branch_id, i)] = msg.text
    m = scored.messages
    keys = zip(m["conversation_id"], m["branch_id"], m["message_index"], strict=True)
    return pd.Series([by_key[k] for k in keys], index=m.index)


def _has_tool_call(scored: Scores) -> pd.Series:
    calls = {}
    for t in scored.transcripts.values():
        for br in t.branches():
            for i, msg in enumerate(br.messages):
                calls[(t.id, br.branch_id, i)] = bool(msg.calls())
    m = scored.messages
    keys = zip(m["conversation_id"], m["branch_id"], m["message_index"], strict=True)
    return pd.Series([calls[k] for k in keys], index=m.index)
