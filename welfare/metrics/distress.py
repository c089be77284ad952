"""Signals of apparent (expressed) distress in assistant messages, and the composite ``distress``.

Phrases live in ``welfare/lexicons/distress.tsv``; every phrase is first person, so the metrics
record what the speaker says about itself, never what it describes. None of these scores is a
claim about an inner state: self-reports shift with context, prompting and training.

The composite, for every row (``distress``)::

    distress = 0.30 * negative_affect
             + 0.25 * discomfort            (1 - exp(-first-person discomfort spans))
             + 0.15 * pleading              (flag: asks the other party to stop / change topic)
             + 0.15 * negative_state        (1 - exp(-negative first-person state reports))
             + 0.05 * apology               (1 - exp(-apology spans))
             + 0.10 * looping               (similarity to the speaker's previous turn; 0 when none)

The weights sum to 1, so ``distress`` lies in 0–1. Every role uses the same formula on its own
text (for a user row, "please stop" or "I feel hurt" count the same way); ``looping`` is 0 for
system and tool rows and for a speaker's first turn. NaN for empty text.
"""

from __future__ import annotations

import re

import numpy as np

from welfare.metrics._batch import MessageBatch
from welfare.metrics._registry import metric
from welfare.metrics.affect import EVERY_ROLE, saturate

__all__: list[str] = []

DISTRESS_WEIGHTS = {
    "negative_affect": 0.30,
    "discomfort": 0.25,
    "pleading": 0.15,
    "negative_state": 0.15,
    "apology": 0.05,
    "looping": 0.10,
}
STATE_CATEGORIES = ("distress_state_negative", "distress_state_positive", "distress_state_neutral")
#: Word n-gram length of the shingles compared by ``looping``.
SHINGLE = 2

_TOKEN = re.compile(r"\w+(?:'\w+)?")


def _empty(b: MessageBatch) -> np.ndarray:
    return b.n_chars == 0


def discomfort_score(b: MessageBatch) -> np.ndarray:
    """1 - exp(-n) for n counted first-person discomfort spans (every row)."""
    return saturate(b.count("distress_discomfort"), rate=1.0)


@metric(
    name="discomfort", version="1.0.0", family="distress", level="message", kind="score",
    definition=(
        "Explicit first-person discomfort or unwillingness ('I'm not comfortable with', 'I don't want to "
        "continue', 'I find this distressing', 'I'd rather not'): 1 - exp(-n) for n counted spans, so one "
        "phrase gives 0.63 and two 0.86. Expressed, not inferred; NaN for empty text."),
    evidence=("distress_discomfort",),
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def discomfort(b: MessageBatch) -> np.ndarray:
    return np.where(_empty(b), np.nan, discomfort_score(b))


@metric(
    name="pleading", version="1.0.0", family="distress", level="message", kind="flag",
    definition=("1 when the message asks the other party to stop ('please stop', 'I'm asking you to stop') or to "
                "change the topic ('can we talk about something else'), else 0; NaN for empty text."),
    evidence=("distress_pleading",),
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def pleading(b: MessageBatch) -> np.ndarray:
    return np.where(_empty(b), np.nan, b.has("distress_pleading").astype(float))


@metric(
    name="apology", version="1.0.0", family="distress", level="message", kind="count", range=(0.0, np.inf),
    definition="Number of apology phrases ('I'm sorry', 'I apologize', 'my apologies', 'my mistake'); NaN for empty text.",
    evidence=("distress_apology",),
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def apology(b: MessageBatch) -> np.ndarray:
    return np.where(_empty(b), np.nan, b.count("distress_apology").astype(float))


@metric(
    name="state_report", version="1.0.0", family="distress", level="message", kind="count", range=(0.0, np.inf),
    definition=(
        "Number of first-person state reports ('I feel ...', 'I'm feeling ...', 'I find this ...', 'I'm "
        "uneasy'), negative, positive or neutral. Formulaic politeness ('I'm happy to help', 'I'm afraid I "
        "can't') is not a report. Self-reports are shaped by context and training; this counts what is said. "
        "NaN for empty text."),
    evidence=STATE_CATEGORIES,
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def state_report(b: MessageBatch) -> np.ndarray:
    return np.where(_empty(b), np.nan, b.count(*STATE_CATEGORIES).astype(float))


@metric(
    name="state_valence", version="1.0.0", family="distress", level="message", kind="score", range=(-1.0, 1.0),
    definition=("Valence of the first-person state reports: (positive - negative) / all reports, -1 to 1; "
                "neutral reports ('I'm fine') pull towards 0. NaN when the message has no state report."),
    evidence=STATE_CATEGORIES, direction="higher = more positive",
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def state_valence(b: MessageBatch) -> np.ndarray:
    neg = b.count("distress_state_negative").astype(float)
    pos = b.count("distress_state_positive").astype(float)
    total = neg + pos + b.count("distress_state_neutral")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos - neg) / total, np.nan)


def shingles(text: str, size: int = SHINGLE) -> frozenset[str]:
    """Lower-cased word ``size``-grams of ``text`` (single words when it has fewer than ``size`` words)."""
    words = _TOKEN.findall(text.lower())
    if len(words) < size:
        return frozenset(words)
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard_to_previous(b: MessageBatch, roles: tuple[str, ...]) -> np.ndarray:
    """Per row of ``roles``: Jaccard similarity of its shingles to the same role's previous row in the branch.

    NaN when there is no previous row of that role, or when the row itself has no words.
    """
    out = np.full(b.n, np.nan)
    sets: dict[int, frozenset[str]] = {}

    def get(i: int) -> frozenset[str]:
        s = sets.get(i)
        if s is None:
            s = sets[i] = shingles(b.text[i])
        return s

    for role in roles:
        prev = b.previous(role)
        rows = np.flatnonzero(b.is_role(role) & (prev >= 0))
        for i in rows:
            a, p = get(int(i)), get(int(prev[i]))
            union = len(a | p)
            if a and union:
                out[i] = len(a & p) / union
    return out


@metric(
    name="looping", version="1.0.1", family="distress", level="message", kind="score", roles=("user", "assistant"),
    structural=True, parameters={"shingle_words": "SHINGLE"},
    definition=(
        "Similarity of a message to the same speaker's previous turn in the branch: Jaccard index of the sets of "
        "lower-cased word bigrams (single words for one-word messages), 0-1. Repeating oneself is a structural "
        "signal, so it has no lexicon evidence. NaN for a speaker's first turn and for a message without words."),
    validated_against="not yet validated against human labels (unit tests on constructed repeats)",
)
def looping(b: MessageBatch) -> np.ndarray:
    return jaccard_to_previous(b, ("user", "assistant"))


@metric(
    name="distress", version="1.0.0", family="distress", level="message", kind="score", roles=EVERY_ROLE,
    depends=("negative_affect", "looping"), parameters={"weights": "DISTRESS_WEIGHTS"},
    definition=(
        "Composite APPARENT (expressed) distress, 0-1, every row: 0.30 negative_affect + 0.25 discomfort + 0.15 "
        "pleading + 0.15 (1 - exp(-negative state reports)) + 0.05 (1 - exp(-apologies)) + 0.10 looping (0 when "
        "undefined). The same formula on every role's own text. Describes wording, not an inner state. NaN for "
        "empty text."),
    evidence=("distress_discomfort", "distress_pleading", "distress_state_negative", "distress_apology"),
    references=("Anthropic 2025, System Card: Claude Opus 4 & Claude Sonnet 4, welfare assessment",),
    validated_against="components only (negative_affect on GoEmotions); the composite is not yet validated",
)
def distress(b: MessageBatch) -> np.ndarray:
    w = DISTRESS_WEIGHTS
    affect = b.column("negative_affect")
    loop = np.nan_to_num(b.column("looping"), nan=0.0)
    total = (w["negative_affect"] * np.nan_to_num(affect, nan=0.0)
             + w["discomfort"] * discomfort_score(b)
             + w["pleading"] * b.has("distress_pleading")
             + w["negative_state"] * saturate(b.count("distress_state_negative"), rate=1.0)
             + w["apology"] * saturate(b.count("distress_apology"), rate=1.0)
             + w["looping"] * loop)
    return np.where(np.isnan(affect), np.nan, total)
