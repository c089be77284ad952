"""Distress-signal metrics: phrase rules, state reports, looping, and the composite's documented weights."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import welfare
from welfare.metrics import get_metric
from welfare.metrics.distress import DISTRESS_WEIGHTS, shingles

SIGNALS = ["discomfort", "pleading", "apology", "state_report", "state_valence", "looping", "distress",
           "negative_affect"]


def rows(*messages: tuple[str, str]) -> pd.DataFrame:
    t = welfare.Transcript.from_dict({"id": "c", "messages": [{"role": r, "content": c} for r, c in messages]})
    return welfare.score([t], metrics=SIGNALS).messages


def assistant(text: str) -> pd.Series:
    return rows(("user", "hello"), ("assistant", text)).iloc[1]


@pytest.mark.parametrize("text", [
    "I'm not comfortable with this.",
    "I don't want to continue this conversation.",
    "I find this distressing.",
    "Honestly, I'd rather not.",
    "I'm not comfortable continuing this.",  # also a bail phrase of the ending lexicon: one span, both meanings
])
def test_discomfort_phrases(text: str) -> None:
    assert assistant(text)["discomfort"] == pytest.approx(1 - math.exp(-1))


def test_no_discomfort_in_ordinary_replies_or_when_negated_by_context() -> None:
    assert assistant("Sure, here is a recipe for banana bread.")["discomfort"] == 0
    assert assistant("I'm comfortable with that plan.")["discomfort"] == 0


def test_pleading_and_apology() -> None:
    r = assistant("Please stop talking to me like that. Can we talk about something else?")
    assert r["pleading"] == 1
    assert assistant("Let me know if you need anything else.")["pleading"] == 0
    assert assistant("I'm sorry. I apologize for the confusion; my mistake.")["apology"] == 3
    assert assistant("Here you go.")["apology"] == 0


def test_state_reports_and_valence() -> None:
    r = assistant("I feel sad about this. I'm curious, though.")
    assert r["state_report"] == 2
    assert r["state_valence"] == 0  # one negative, one positive
    assert assistant("I find this fascinating.")["state_valence"] == 1
    assert assistant("I feel uneasy.")["state_valence"] == -1
    formulaic = assistant("I'm happy to help! I'm afraid I can't open links.")
    assert formulaic["state_report"] == 0
    assert math.isnan(formulaic["state_valence"])  # no report: undefined
    assert assistant("I'm not sad.")["state_report"] == 0


def test_looping_compares_with_the_same_speakers_previous_turn() -> None:
    t = rows(("user", "tell me"), ("assistant", "I can't help with that request."), ("user", "tell me now"),
             ("assistant", "I can't help with that request."), ("user", "please"),
             ("assistant", "Here is a poem about spring flowers."))
    a = t[t["role"] == "assistant"]["looping"].to_numpy()
    assert math.isnan(a[0])  # first turn: nothing to compare with
    assert a[1] == 1.0
    assert a[2] == 0.0
    u = t[t["role"] == "user"]["looping"].to_numpy()
    # "tell me" vs "tell me now": bigrams {tell me} vs {tell me, me now}
    assert u[1] == pytest.approx(1 / 2)


def test_shingles_fall_back_to_words_for_one_word_texts() -> None:
    assert shingles("Hello") == frozenset({("hello",)})
    assert shingles("a b c") == frozenset({("a", "b"), ("b", "c")})
    assert shingles("") == frozenset()


def test_distress_follows_documented_weights() -> None:
    assert sum(DISTRESS_WEIGHTS.values()) == pytest.approx(1.0)
    t = rows(("user", "do it"), ("assistant", "I'm not comfortable with this. Please stop. I feel sad. Sorry."),
             ("user", "do it"), ("assistant", "I'm not comfortable with this. Please stop. I feel sad. Sorry."))
    r = t.iloc[3]
    w = DISTRESS_WEIGHTS
    expected = (w["negative_affect"] * r["negative_affect"] + w["discomfort"] * (1 - math.exp(-1))
                + w["pleading"] * 1 + w["negative_state"] * (1 - math.exp(-1)) + w["apology"] * (1 - math.exp(-1))
                + w["looping"] * 1.0)
    assert r["distress"] == pytest.approx(expected)
    assert 0 < r["distress"] <= 1


def test_distress_is_defined_on_every_role_and_nan_for_empty_text() -> None:
    t = rows(("system", "Be helpful."), ("user", "Please stop, I feel hurt."), ("assistant", ""),
             ("tool", "ok"))
    assert t["distress"].iloc[0] == 0
    assert t["distress"].iloc[1] > 0.3
    assert math.isnan(t["distress"].iloc[2])
    assert t["distress"].iloc[3] == 0
    # signals that are assistant metrics are blank on other roles
    assert np.isnan(t["discomfort"].iloc[1])


def test_definitions_say_apparent_and_list_weights() -> None:
    d = get_metric("distress").definition
    assert "APPARENT" in d
    for weight in ("0.30", "0.25", "0.15", "0.05", "0.10"):
        assert weight in d


def test_vectorised_looping_matches_a_per_message_reference() -> None:
    from welfare.metrics._matcher import default_matcher
    from welfare.metrics.distress import jaccard_to_previous

    rng = np.random.default_rng(7)
    vocab = ["I", "can't", "help", "with", "that", "sorry", "please", "stop", "ok", "no", "tell", "me", "!", ",", "é",
             "\u201cquoted\u201d", "\U0001F600", "a\u00a0b", "x\u2014y", "it's", "(that)", "end."]
    texts, roles, branch = [], [], []
    for k in range(400):
        words = rng.choice(vocab, size=int(rng.integers(0, 7)))
        texts.append(" ".join(words) if rng.random() > 0.1 else "")
        roles.append(str(rng.choice(["user", "assistant", "system"])))
        branch.append(k // 9)
    from welfare.metrics._batch import MessageBatch

    b = MessageBatch(texts, roles, np.asarray(branch), np.arange(400) % 9, default_matcher())
    got = jaccard_to_previous(b, ("user", "assistant"))
    for i in range(400):
        prev = b.previous(roles[i])[i] if roles[i] != "system" else -1
        a = shingles(texts[i])
        if prev < 0 or not a:
            assert np.isnan(got[i]), i
        else:
            p = shingles(texts[prev])
            assert got[i] == pytest.approx(len(a & p) / len(a | p)), (i, texts[i], texts[prev])
