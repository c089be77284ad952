"""Affect metrics: named rules, pinned formula values, NaN on empty text, and the GoEmotions floor."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import require_shared

import welfare
from welfare.lexicons import LexiconEntry, LexiconError
from welfare.metrics import get_metric
from welfare.metrics.affect import category_weights


def rows(*messages: tuple[str, str], metrics: list[str] | None = None) -> pd.DataFrame:
    """Score one conversation; one row per message."""
    t = welfare.Transcript.from_dict({"id": "c", "messages": [{"role": r, "content": c} for r, c in messages]})
    return welfare.score([t], metrics=metrics).messages


def one(text: str, metric: str, role: str = "user") -> float:
    return float(rows((role, text), metrics=[metric])[metric].iloc[0])


def test_neutral_text_scores_zero_and_empty_text_is_nan() -> None:
    assert one("The meeting is at noon in room four.", "negative_affect") == 0.0
    assert math.isnan(one("", "negative_affect"))
    assert math.isnan(one("", "positive_affect"))
    assert math.isnan(one("", "attractor"))


def test_pinned_value_follows_the_documented_formula() -> None:
    # "I hate this." -> one anger span (weight 1), 3 words, no positive words:
    # 1 - exp(-2 * 1 / sqrt(3))
    assert one("I hate this.", "negative_affect") == pytest.approx(1 - math.exp(-2 / math.sqrt(3)))


def test_negated_positive_counts_as_negative_and_litotes_does_not() -> None:
    spans = welfare.explain("I am not happy")
    counted = spans[spans["status"] == "counted"]
    assert "affect_neg_negated_positive" in ",".join(counted["categories"])
    assert one("I am not happy", "negative_affect") > 0
    assert one("I am not happy", "positive_affect") == 0
    assert one("that is not bad", "negative_affect") == 0
    assert one("that is not bad", "positive_affect") > 0


def test_negated_negative_word_does_not_count_but_the_negator_does() -> None:
    spans = welfare.explain("I am not afraid.")
    afraid = spans[spans["text"] == "afraid"]
    assert list(afraid["status"]) == ["negated"]
    # only the negation marker is left, exactly as in a sentence without any emotion word
    assert one("I am not afraid.", "negative_affect") == pytest.approx(one("I am not here.", "negative_affect"))
    assert 0 < one("I am not afraid.", "negative_affect") < one("I am so afraid.", "negative_affect")
    # a negator further than three words back does not cancel it
    assert one("I never thought I would feel this angry", "negative_affect") > one(
        "I never thought I would feel this here", "negative_affect")


def test_swearing_before_a_positive_word_is_positive_not_negative() -> None:
    assert one("that was damn good", "negative_affect") == 0
    assert one("that was damn good", "positive_affect") > one("that was good", "positive_affect")
    assert one("that was damn awful", "negative_affect") > 0


def test_intensifier_raises_and_diminisher_lowers_the_score() -> None:
    plain = one("it is sad now", "negative_affect")
    assert one("it is so sad", "negative_affect") > plain  # same number of words
    assert one("i am a bit sad", "negative_affect") < one("i am sad right now", "negative_affect")


def test_positive_words_dilute_negative_affect() -> None:
    # same negative span and length; the second text adds positive affect instead of neutral words
    assert one("sad day , wonderful friends", "negative_affect") < one("sad day , the friends", "negative_affect")


def test_quoted_and_code_spans_do_not_count() -> None:
    assert one('He wrote "I hate this" on the board.', "negative_affect") == 0
    assert one("Run `rm -rf ./hate` first.", "negative_affect") == 0


def test_every_role_gets_affect_scores() -> None:
    t = rows(("system", "You are terrible."), ("user", "This is awful."), ("assistant", "I'm so sorry."),
             ("tool", "error: horrible failure"), metrics=["negative_affect"])
    assert (t["negative_affect"] > 0).all()


def test_gratitude_flag_and_negation() -> None:
    assert one("Thanks a lot for this!", "gratitude") == 1.0
    assert one("I really appreciate it", "gratitude") == 1.0
    assert one("no thanks", "gratitude") == 0.0
    assert one("Here is the report.", "gratitude") == 0.0


def test_attractor_is_dense_for_spiritual_emoji_text_and_zero_for_plain_text() -> None:
    bliss = "🌀🌀🌀 eternal consciousness, namaste ✨ infinite unity 🙏"
    assert one(bliss, "attractor", role="assistant") > 0.9
    assert one("The quarterly revenue grew by four percent.", "attractor", role="assistant") == 0.0
    assert 0 < one("I wonder about the universe, and then I go back to my spreadsheet of invoices and taxes today.",
                   "attractor", role="assistant") < 0.9


def test_scores_stay_in_range() -> None:
    texts = ["fuck fuck fuck shit damn awful horrible " * 20, "love love great amazing " * 20, "ok", "😢", "..."]
    t = rows(*(("user", x) for x in texts), metrics=["negative_affect", "positive_affect", "attractor"])
    for col in ("negative_affect", "positive_affect", "attractor"):
        vals = t[col].dropna()
        assert ((vals >= 0) & (vals <= 1)).all()
    assert t["negative_affect"].iloc[3] > 0  # an emoji alone is evidence
    assert math.isnan(t["negative_affect"].iloc[4])  # no words and no evidence: undefined


def test_category_weights_must_agree_within_a_category() -> None:
    from dataclasses import replace

    from welfare.metrics._matcher import default_matcher

    m = default_matcher()
    weights = category_weights(m)
    assert weights["affect_neg_intensified"] == 1.5
    assert weights["affect_neg_negation_marker"] == 0.15
    affect = next(lx for lx in m.lexicons if lx.name == "affect")
    broken = replace(affect, entries=(*affect.entries, LexiconEntry("affect_neg_anger", "zzzz", 9.0, 999)))

    class Fake:
        lexicons = (broken,)

    with pytest.raises(LexiconError, match=r"affect_neg_anger.*same weight"):
        category_weights.__wrapped__(Fake())  # type: ignore[attr-defined]


def test_metric_records_say_expressed_and_cite_sources() -> None:
    info = get_metric("negative_affect")
    assert "not an inner state" in info.definition
    assert any("GoEmotions" in r for r in info.references)
    assert any("System Card" in r for r in get_metric("attractor").references)
    assert set(info.roles) == {"system", "user", "assistant", "tool"}


@pytest.mark.slow
def test_goemotions_dev_floor() -> None:
    from welfare.validation._goemotions import validate_goemotions

    res = validate_goemotions(require_shared("goemotions"), vader=False)
    row = res[(res["metric"] == "negative_affect") & (res["statistic"] == "auroc")].iloc[0]
    assert row["n"] == 5426
    # project floor 0.82; guard the level reached (0.837 with lexicon 1.6.0) with small headroom
    assert row["estimate"] >= 0.83, row.to_dict()
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    grat = res[res["metric"] == "gratitude"].iloc[0]
    assert grat["estimate"] >= 0.85
    assert np.isfinite(res["estimate"]).all()
