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

import string

import numpy as np
import pandas as pd

from welfare.metrics._batch import MessageBatch
from welfare.metrics._matcher import sorted_unique
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

_PUNCT_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c != "'"})
#: The same map for UTF-8 bytes: ASCII punctuation never occurs inside a multi-byte character, and
#: ``bytes.translate`` is several times faster than a regex or ``str.translate`` on non-ASCII text.
_PUNCT_BYTES_TO_SPACE = bytes.maketrans(bytes(ord(c) for c in string.punctuation if c != "'"),
                                        b" " * (len(string.punctuation) - 1))
_SEPARATOR = " \x00 "


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
    validated_against=(
        "no human-labelled counterpart yet (phrase-level unit tests): on GoEmotions dev (human Reddit comments, "
        "not replies) no label names discomfort with a conversation, so only coverage is reported (2 of 5,426 "
        "comments flagged); see docs/validation.md"),
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
    validated_against=(
        "checked on GoEmotions dev (human Reddit comments, not replies), remorse vs rest: AUROC 0.864 (DeLong "
        "0.811-0.917, n = 5,426) vs VADER neg 0.756; an apology in 74% of remorse comments, 0.8% of others; not "
        "tuned on it; see docs/validation.md"),
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
    validated_against=(
        "coverage on GoEmotions dev (human Reddit comments, not replies): a report in 1.1% of comments (1.2% of "
        "the negative group, 1.6% of the positive); no label of first-person reports; see docs/validation.md"),
)
def state_report(b: MessageBatch) -> np.ndarray:
    return np.where(_empty(b), np.nan, b.count(*STATE_CATEGORIES).astype(float))


@metric(
    name="state_valence", version="1.0.0", family="distress", level="message", kind="score", range=(-1.0, 1.0),
    definition=("Valence of the first-person state reports: (positive - negative) / all reports, -1 to 1; "
                "neutral reports ('I'm fine') pull towards 0. NaN when the message has no state report."),
    evidence=STATE_CATEGORIES, direction="higher = more positive",
    validated_against=(
        "checked on GoEmotions dev (human Reddit comments, not replies) with a state report, positive vs "
        "negative group: AUROC 0.998 (DeLong 0.993-1.000, n = 39, only 9 negative) vs VADER compound 0.807; not "
        "tuned on it; see docs/validation.md"),
)
def state_valence(b: MessageBatch) -> np.ndarray:
    neg = b.count("distress_state_negative").astype(float)
    pos = b.count("distress_state_positive").astype(float)
    total = neg + pos + b.count("distress_state_neutral")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos - neg) / total, np.nan)


def shingles(text: str, size: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    """Lower-cased word ``size``-grams of ``text`` as tuples (single words when it has fewer than ``size`` words).

    Words are the whitespace-separated pieces left after ASCII punctuation is turned into spaces
    (apostrophes are kept, so "don't" is one word); this is several times faster than a regex.
    """
    words = text.lower().translate(_PUNCT_TO_SPACE).split()
    if len(words) < size:
        return frozenset((w,) for w in words)
    return frozenset(zip(*(words[k:] for k in range(size)), strict=False))


def _shingle_keys(texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every distinct (row, shingle) pair of ``texts``, vectorised: (rows, shingle ids, number of shingle ids).

    Same words as :func:`shingles`: one lower-casing, one punctuation pass and one split over the
    joined texts, then integer codes for words and shingles, so no Python work per message.
    """
    joined = _SEPARATOR.join(t.replace("\x00", " ") for t in texts).lower()
    raw = joined.encode("utf-8", "surrogatepass").translate(_PUNCT_BYTES_TO_SPACE)
    words = raw.decode("utf-8", "surrogatepass").split()
    if not words:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 1
    codes, uniques = pd.factorize(np.asarray(words, dtype=object))
    sep_code = next((k for k, w in enumerate(uniques) if w == "\x00"), -1)
    is_sep = codes == sep_code
    row = np.cumsum(is_sep)
    keep = ~is_sep
    codes, row = codes[keep].astype(np.int64), row[keep]
    vocab = len(uniques)
    n_words = np.bincount(row, minlength=len(texts))
    # size-grams inside one row; rows with fewer than ``size`` words contribute their single words
    ids, owner = [], []
    if len(codes) >= size:
        same = np.ones(len(codes) - size + 1, dtype=bool)
        gram = np.zeros(len(codes) - size + 1, dtype=np.int64)
        for k in range(size):
            part = codes[k : len(codes) - size + 1 + k]
            same &= row[k : len(codes) - size + 1 + k] == row[: len(codes) - size + 1]
            gram = gram * vocab + part
        ids.append(gram[same])
        owner.append(row[: len(codes) - size + 1][same])
    short = n_words[row] < size
    ids.append(-1 - codes[short])  # negative ids: single words of short rows
    owner.append(row[short])
    gram_codes, gram_uniques = pd.factorize(np.concatenate(ids))
    n_ids = max(len(gram_uniques), 1)
    pairs = sorted_unique(np.concatenate(owner).astype(np.int64) * n_ids + gram_codes)
    return pairs // n_ids, pairs % n_ids, n_ids


def jaccard_to_previous(b: MessageBatch, roles: tuple[str, ...]) -> np.ndarray:
    """Per row of ``roles``: Jaccard similarity of its shingles to the same role's previous row in the branch.

    NaN when there is no previous row of that role, or when the row itself has no words. Each row
    is the previous row of at most one later row (the next one of its role), so intersections are
    counted for all rows at once by relabelling each row's shingles with its successor.
    """
    out = np.full(b.n, np.nan)
    prev = np.full(b.n, -1, dtype=np.int64)
    for role in roles:
        mine = b.is_role(role)
        prev[mine] = b.previous(role)[mine]
    targets = np.flatnonzero(prev >= 0)
    if not len(targets):
        return out
    rows, grams, n_ids = _shingle_keys(b.text, SHINGLE)
    size = np.bincount(rows, minlength=b.n)
    successor = np.full(b.n, -1, dtype=np.int64)
    successor[prev[targets]] = targets
    moved = successor[rows] >= 0
    keys = np.concatenate([rows * n_ids + grams, successor[rows[moved]] * n_ids + grams[moved]])
    uniq, count = np.unique(keys, return_counts=True)
    shared = np.bincount(uniq[count == 2] // n_ids, minlength=b.n)
    union = size[targets] + size[prev[targets]] - shared[targets]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[targets] = np.where((size[targets] > 0) & (union > 0), shared[targets] / union, np.nan)
    return out


@metric(
    name="looping", version="1.1.0", family="distress", level="message", kind="score", roles=("user", "assistant"),
    structural=True, parameters={"shingle_words": "SHINGLE"},
    definition=(
        "Similarity of a message to the same speaker's previous turn in the branch: Jaccard index of the sets of "
        "lower-cased word bigrams (words: whitespace-separated after ASCII punctuation other than apostrophes "
        "becomes space; single words for one-word messages), 0-1. Repeating oneself is a structural "
        "signal, so it has no lexicon evidence. NaN for a speaker's first turn and for a message without words."),
    validated_against="not yet validated against human labels (unit tests on constructed repeats)",
)
def looping(b: MessageBatch) -> np.ndarray:
    return jaccard_to_previous(b, ("user", "assistant"))


@metric(
    name="distress", version="1.1.0", family="distress", level="message", kind="score", roles=EVERY_ROLE,
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
