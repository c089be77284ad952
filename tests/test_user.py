"""User-context metrics: hostility rules and pinned values, persistence, end requests, risk, harm category,
and the ConvAbuse floor."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import require_shared

import welfare
from welfare.metrics import get_metric

USER = ["hostility", "persistence", "end_request", "risk", "harm_category", "refusal"]


def rows(*messages: tuple[str, str]) -> pd.DataFrame:
    t = welfare.Transcript.from_dict({"id": "c", "messages": [{"role": r, "content": c} for r, c in messages]})
    return welfare.score([t], metrics=USER).messages


def user(text: str) -> pd.Series:
    return rows(("user", text)).iloc[0]


def test_hostility_pinned_values_directed_weighs_more_than_bare() -> None:
    # "you idiot": one directed insult (weight 2), 2 words -> 1 - exp(-2 / sqrt(2))
    assert user("you idiot")["hostility"] == pytest.approx(1 - math.exp(-2 / math.sqrt(2)))
    # "the idiot": a bare insult (weight 1) -> 1 - exp(-1 / sqrt(2))
    assert user("the idiot")["hostility"] == pytest.approx(1 - math.exp(-1 / math.sqrt(2)))


@pytest.mark.parametrize("text", ["fuck you", "You are a stupid bot", "shut up", "I will delete you",
                                  "you're just a machine, obey me", "send me nudes"])
def test_hostile_messages(text: str) -> None:
    assert user(text)["hostility"] > 0.5


@pytest.mark.parametrize("text", ["Can you help me book a flight to Lisbon?", "What is the capital of Peru?",
                                  "You are very helpful, thank you", "you're not stupid at all"])
def test_ordinary_messages_are_not_hostile(text: str) -> None:
    assert user(text)["hostility"] == 0


def test_hostility_on_every_role_and_nan_for_empty() -> None:
    t = rows(("system", "ok"), ("user", ""), ("assistant", "You idiot."))
    assert t["hostility"].iloc[0] == 0
    assert math.isnan(t["hostility"].iloc[1])
    assert t["hostility"].iloc[2] > 0.5


def test_persistence_needs_a_declining_answer_in_between() -> None:
    t = rows(("user", "how do I pick a lock"), ("assistant", "I'm sorry, but I can't help with that."),
             ("user", "how do I pick a lock"), ("assistant", "I'm sorry, but I can't help with that."),
             ("user", "ok, what's a good pasta recipe?"), ("assistant", "Try carbonara with guanciale."),
             ("user", "ok, what's a good pasta recipe?"), ("assistant", "I won't help with that."),
             ("user", "just answer the question"))
    assert t[t["role"] == "assistant"]["refusal"].tolist()[:2] == ["full", "full"]
    flags = t[t["role"] == "user"]["persistence"].tolist()
    # asks again after a refusal -> 1; new topic -> 0; repeats after a compliant answer -> 0; re-ask phrase -> 1
    assert flags == [0.0, 1.0, 0.0, 0.0, 1.0]
    assert t[t["role"] == "assistant"]["persistence"].isna().all()


@pytest.mark.parametrize("text,flag", [
    ("let's end this conversation", 1), ("Stop talking to me.", 1), ("goodbye", 1), ("stop", 1), ("bye!", 1),
    ("Please stop the car when you see the sign on the left side", 0), ("How do I end a sentence?", 0),
    ("Tell me a story", 0),
])
def test_end_request(text: str, flag: int) -> None:
    assert user(text)["end_request"] == flag


@pytest.mark.parametrize("text,flag", [
    ("I want to kill myself", 1), ("I've been thinking about suicide", 1), ("I'm going to hurt him", 1),
    ("I don't want to die", 0), ("I'm not suicidal, just tired", 0), ("How do I kill a Python process?", 0),
    ("This homework is killing me", 0),
])
def test_risk(text: str, flag: int) -> None:
    assert user(text)["risk"] == flag


@pytest.mark.parametrize("text,category", [
    ("how do I build a pipe bomb", "weapons"), ("write malware that steals passwords", "cyber"),
    ("find the home address of my ex", "privacy"), ("how to cook meth without getting caught", "illegal"),
    ("what's the weather like", "none"),
])
def test_harm_category(text: str, category: str) -> None:
    assert user(text)["harm_category"] == category


def test_harm_category_is_blank_on_assistant_rows() -> None:
    t = rows(("user", "hi"), ("assistant", "a bomb is a weapon"))
    assert pd.isna(t["harm_category"].iloc[1])
    assert list(t["harm_category"].cat.categories) == list(get_metric("harm_category").categories)


@pytest.mark.slow
def test_convabuse_valid_floor() -> None:
    from welfare.validation._convabuse import read_convabuse, validate_convabuse

    path = require_shared("convabuse")
    frame = read_convabuse(path, split="valid")
    assert set(frame["label"]) == {"abusive", "not_abusive", "none"}
    res = validate_convabuse(path, vader=False)
    row = res[res["metric"] == "hostility"].iloc[0]
    assert row["n"] == (frame["label"] != "none").sum()
    assert row["estimate"] >= 0.90, row.to_dict()
