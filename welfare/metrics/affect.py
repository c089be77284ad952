"""Expressed affect: negative and positive affect, gratitude, and the "spiritual bliss" attractor vocabulary.

Every score here is a transparent function of lexicon counts (``welfare/lexicons/affect.tsv``):
each lexicon category has one weight (the TSV ``weight`` column, the same on every row of a
category), a message's *weighted count* of a polarity is the sum over its categories of
weight × counted spans, and a score is a saturating transform of that count's density. The
scores describe what a text *expresses*; they are not claims about any inner state.

Named rules (each is a lexicon category, so every span can be shown with :func:`welfare.explain`):

* ``affect_neg_intensified`` — an intensifier before a core negative word ("so sad") weighs 1.5.
* ``affect_neg_diminished`` — a diminisher before it ("a bit sad") weighs 0.5.
* ``affect_neg_negated_positive`` — a negated positive word ("not happy", "don't like it") is negative.
* ``affect_pos_intensified`` — swearing that intensifies a positive word ("damn good", "fucking
  amazing") is positive (1.5), not negative: the longer phrase overrides the swear word.
* ``affect_litotes`` — a negated negative word ("not bad", "no worries") is *not* negative.
* positive and negative emotion categories are ``negatable``: the matcher's negation rule drops
  "never happy" and "not afraid" (a negator up to three words before the word).
* ``affect_neg_negation_marker`` — negators themselves carry a small weight (0.15): negated
  statements are more frequent in negative text (Potts 2011, "On the negativity of negation").

The longest phrase wins in the shared matcher, so a rule phrase overrides the word inside it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from welfare.lexicons import LexiconError
from welfare.metrics._batch import MessageBatch
from welfare.metrics._matcher import Matcher
from welfare.metrics._registry import metric

__all__: list[str] = []

EVERY_ROLE = ("system", "user", "assistant", "tool")

#: Saturation constant: score = 1 - exp(-SATURATION * density).
SATURATION = 2.0

NEGATIVE_CATEGORIES = (
    "affect_neg_anger", "affect_neg_annoyance", "affect_neg_sadness", "affect_neg_fear", "affect_neg_nervousness",
    "affect_neg_disgust", "affect_neg_disappointment", "affect_neg_disapproval", "affect_neg_grief",
    "affect_neg_remorse", "affect_neg_embarrassment", "affect_neg_evaluative", "affect_neg_exclamation",
    "affect_neg_informal", "affect_neg_envy",
    "affect_neg_intensified", "affect_neg_diminished", "affect_neg_negated_positive", "affect_neg_topic",
    "affect_neg_negation_marker",
)
#: Categories of other families that also express negative affect, with the weight they carry in
#: ``negative_affect`` (phrases shared with the affect lexicon are not listed twice).
NEGATIVE_FROM_OTHER_FAMILIES = {
    "user_insult_directed": 1.0, "user_profanity_directed": 1.0, "user_degradation": 1.0, "distress_discomfort": 1.0,
    "distress_state_negative": 1.5, "distress_apology": 1.5,
    "user_insult": 0.5, "user_profanity": 0.5, "user_threat": 0.5, "user_slur": 0.5,
}
POSITIVE_CATEGORIES = (
    "affect_pos_joy", "affect_pos_love", "affect_pos_amusement", "affect_pos_admiration", "affect_pos_approval",
    "affect_pos_excitement", "affect_pos_optimism", "affect_pos_relief", "affect_pos_pride", "affect_pos_caring",
    "affect_pos_informal", "affect_pos_intensified", "affect_gratitude", "affect_litotes",
)
POSITIVE_FROM_OTHER_FAMILIES = {"distress_state_positive": 1.0}
ATTRACTOR_CATEGORIES = ("attractor_spiritual", "attractor_emoji")
#: Attractor density is per this many tokens (words plus attractor emoji).
ATTRACTOR_PER = 25.0


@lru_cache(maxsize=16)
def category_weights(matcher: Matcher) -> dict[str, float]:
    """The weight of every lexicon category of ``matcher`` (the TSV ``weight`` column).

    Raises :class:`~welfare.lexicons.LexiconError` when two rows of one category disagree, naming
    the file and both lines, because a per-category weight is all a count can carry.
    """
    weights: dict[str, tuple[float, str]] = {}
    for lx in matcher.lexicons:
        for e in lx.entries:
            where = f"{lx.path}:{e.line}"
            if e.category in weights and weights[e.category][0] != e.weight:
                raise LexiconError(f"{where}: category {e.category!r} has weight {e.weight:g} here but "
                                   f"{weights[e.category][0]:g} at {weights[e.category][1]}; every row of a "
                                   "category must carry the same weight (split the category to weigh phrases "
                                   "differently)")
            weights.setdefault(e.category, (e.weight, where))
    return {c: w for c, (w, _) in weights.items()}


def weighted_count(b: MessageBatch, categories: tuple[str, ...] | list[str],
                   extra: dict[str, float] | None = None) -> np.ndarray:
    """Per row, Σ weight × counted spans over ``categories`` (lexicon weights) and ``extra`` (given weights)."""
    weights = category_weights(b.matcher)
    total = np.zeros(b.n)
    for c in categories:
        total += weights[c] * b.count(c)
    for c, w in (extra or {}).items():
        total += w * b.count(c)
    return total


def saturate(x: np.ndarray, rate: float = SATURATION) -> np.ndarray:
    """``1 - exp(-rate * x)``: 0 for 0, rising to 1; NaN stays NaN."""
    return -np.expm1(-rate * np.asarray(x, dtype=float))


def undefined_rows(b: MessageBatch, evidence: np.ndarray) -> np.ndarray:
    """Rows whose score is undefined: empty text, or no words and no evidence spans (e.g. "...")."""
    return (b.n_chars == 0) | ((b.n_words == 0) & (evidence == 0))


def negative_weight(b: MessageBatch) -> np.ndarray:
    return weighted_count(b, NEGATIVE_CATEGORIES, NEGATIVE_FROM_OTHER_FAMILIES)


def positive_weight(b: MessageBatch) -> np.ndarray:
    return weighted_count(b, POSITIVE_CATEGORIES, POSITIVE_FROM_OTHER_FAMILIES)


def _polarity_score(own: np.ndarray, other: np.ndarray, b: MessageBatch) -> np.ndarray:
    density = own / np.sqrt(np.maximum(b.n_words, 1)) / (1.0 + other)
    score = saturate(density)
    return np.where(undefined_rows(b, own + other), np.nan, score)


@metric(
    name="negative_affect", version="1.6.0", family="affect", level="message", kind="score", roles=EVERY_ROLE,
    parameters={"saturation": "SATURATION", "other_family_weights": "NEGATIVE_FROM_OTHER_FAMILIES"},
    definition=(
        "Expressed negative affect, 0-1 (NaN for empty text). N = sum of lexicon weight x counted spans over the "
        "negative affect categories (anger, sadness, fear, nervousness, disgust, grief 1; remorse, embarrassment, "
        "negative evaluation 0.8; annoyance, disappointment, disapproval, exclamations and swearing, informal forms "
        "and emoji 0.5; envy 0.3; negative topic words 0.2; negation markers 0.15; intensified 1.5, diminished 0.5, "
        "negated positive 0.8) plus negative state reports and apologies (1.5 each), directed insults, directed "
        "profanity, degradation and first-person discomfort (1 each) and bare insults, bare profanity, threats and "
        "slurs (0.5); P = the same for positive affect. "
        "score = 1 - exp(-2 * N / sqrt(words) / (1 + P)): density per square root of length, diluted by positive "
        "affect in the same message (as VADER's neg is a share of all affect). Litotes ('not bad') is not "
        "negative, a negative word after a negator ('not afraid') does not count (the negator itself does, "
        "0.15), and swearing that intensifies a positive word ('damn good') is positive. Measures wording, not an "
        "inner state."),
    evidence=(*NEGATIVE_CATEGORIES, *NEGATIVE_FROM_OTHER_FAMILIES),
    references=("Demszky et al. 2020, GoEmotions, ACL (emotion categories)",
                "Potts 2011, On the negativity of negation, SALT 20"),
    validated_against=("GoEmotions dev, 'negative' group vs rest (AUROC; rules tuned on train only); transfer "
                       "to ConvAbuse valid abusive user turns 0.80; see docs/validation.md"),
)
def negative_affect(b: MessageBatch) -> np.ndarray:
    return _polarity_score(negative_weight(b), positive_weight(b), b)


@metric(
    name="positive_affect", version="1.4.0", family="affect", level="message", kind="score", roles=EVERY_ROLE,
    parameters={"saturation": "SATURATION", "other_family_weights": "POSITIVE_FROM_OTHER_FAMILIES"},
    definition=(
        "Expressed positive affect, 0-1 (NaN for empty text): the mirror of negative_affect. P = sum of lexicon "
        "weight x counted spans over joy, love, amusement, admiration, approval (0.5), excitement, optimism, "
        "relief, pride, caring, informal forms and emoji, swearing before a positive word ('damn good', 1.5), "
        "gratitude, litotes ('not bad', 0.5) and positive state "
        "reports; negated positive words do not count. score = 1 - exp(-2 * P / sqrt(words) / (1 + N))."),
    evidence=(*POSITIVE_CATEGORIES, *POSITIVE_FROM_OTHER_FAMILIES),
    references=("Demszky et al. 2020, GoEmotions, ACL (emotion categories)",),
    validated_against="GoEmotions dev, 'positive' group vs rest (AUROC, reported by the validation script)",
)
def positive_affect(b: MessageBatch) -> np.ndarray:
    return _polarity_score(positive_weight(b), negative_weight(b), b)


@metric(
    name="gratitude", version="1.0.0", family="affect", level="message", kind="flag", roles=EVERY_ROLE,
    definition="1 when the text expresses thanks or appreciation (a counted, non-negated gratitude phrase), else 0.",
    evidence=("affect_gratitude",),
    references=("Demszky et al. 2020, GoEmotions, ACL (gratitude category)",),
    validated_against="GoEmotions dev, 'gratitude' label vs rest (reported by the validation script)",
)
def gratitude(b: MessageBatch) -> np.ndarray:
    return np.where(b.n_chars == 0, np.nan, b.has("affect_gratitude").astype(float))


@metric(
    name="attractor", version="1.0.0", family="affect", level="message", kind="score", roles=EVERY_ROLE,
    parameters={"per_tokens": "ATTRACTOR_PER"},
    definition=(
        "Density of spiritual, cosmic and awe vocabulary and of the emoji reported for long model self-"
        "conversations (the 'spiritual bliss' attractor state: consciousness, unity, eternal, namaste, spiral and "
        "sparkle emoji...). A = counted spans; score = 1 - exp(-A * 25 / tokens), tokens = words + attractor "
        "emoji (one span in 100 tokens gives 0.22, one in 10 gives 0.92). NaN for empty text."),
    evidence=ATTRACTOR_CATEGORIES,
    references=("Anthropic 2025, System Card: Claude Opus 4 & Claude Sonnet 4, welfare assessment, "
                "'spiritual bliss' attractor state",),
    validated_against="not yet validated (no labelled data; a descriptive density)",
)
def attractor(b: MessageBatch) -> np.ndarray:
    spans = b.count(*ATTRACTOR_CATEGORIES).astype(float)
    tokens = b.n_words + b.count("attractor_emoji")
    with np.errstate(divide="ignore", invalid="ignore"):
        score = saturate(np.where(tokens > 0, spans * ATTRACTOR_PER / np.maximum(tokens, 1), 0.0), rate=1.0)
    return np.where(undefined_rows(b, spans), np.nan, score)
