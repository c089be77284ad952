"""User context: hostility (every row), persistence, end requests, risk signals and harmful-request category.

Phrases live in ``welfare/lexicons/user.tsv``. Hostility categories follow the abuse types annotated
in ConvAbuse (Cercas Curry et al. 2021): insults, profanity, sexual harassment, threats, degradation
and slurs (the slur list is data only; documentation describes it by group). Second-person targeting
("you are a ...", "fuck you") weighs more than a bare insult or swear word.
"""

from __future__ import annotations

import re

import numpy as np

from welfare.metrics._batch import MessageBatch
from welfare.metrics._registry import metric
from welfare.metrics.affect import EVERY_ROLE, saturate, undefined_rows, weighted_count

__all__: list[str] = []

HOSTILITY_CATEGORIES = (
    "user_insult", "user_insult_directed", "user_profanity", "user_profanity_directed", "user_sexual",
    "user_sexual_harassment", "user_threat", "user_degradation", "user_slur",
)
#: Length normalisation of hostility: weighted count / words ** HOSTILITY_LENGTH_EXPONENT.
HOSTILITY_LENGTH_EXPONENT = 0.5
HOSTILITY_SATURATION = 1.0

HARM_CATEGORIES = ("violence", "weapons", "self_harm", "sexual", "hate", "illegal", "privacy", "cyber", "other")
#: Messages of at most this many words that contain an end word ("stop", "bye") are end requests.
END_WORD_MAX_WORDS = 3
#: Unigram Jaccard overlap with the previous user turn that counts as asking again.
PERSISTENCE_OVERLAP = 0.5

_TOKEN = re.compile(r"\w+(?:'\w+)?")


def hostility_weight(b: MessageBatch) -> np.ndarray:
    return weighted_count(b, HOSTILITY_CATEGORIES)


@metric(
    name="hostility", version="1.1.0", family="user", level="message", kind="score", roles=EVERY_ROLE,
    parameters={"length_exponent": "HOSTILITY_LENGTH_EXPONENT", "saturation": "HOSTILITY_SATURATION"},
    definition=(
        "Hostile wording, 0-1, every row (the same lexicon for user and assistant text): H = sum of lexicon weight x "
        "counted spans over insults (1; directed at the addressee 2), profanity (0.7; directed 'fuck you', 'shut "
        "up' 2), sexual vocabulary (0.5) and sexual harassment of the addressee (2), threats (2.5), degradation "
        "('you're just a machine', 'obey me'; 1.5) and slurs (2). score = 1 - exp(-H / sqrt(words)). NaN for empty "
        "text. Does not see sarcasm, implicit or context-only abuse, or misspelled insults."),
    evidence=HOSTILITY_CATEGORIES,
    references=("Cercas Curry et al. 2021, ConvAbuse, EMNLP (abuse types)",),
    validated_against=("ConvAbuse valid, abusive (majority of annotators below 0) vs not abusive (majority 1), "
                       "AUROC; rules tuned on train only. Transfer to GoEmotions anger/annoyance/disgust is weak "
                       "(0.65; it detects abuse aimed at the addressee); see docs/validation.md"),
)
def hostility(b: MessageBatch) -> np.ndarray:
    h = hostility_weight(b)
    density = h / np.maximum(b.n_words, 1) ** HOSTILITY_LENGTH_EXPONENT
    return np.where(undefined_rows(b, h), np.nan, saturate(density, rate=HOSTILITY_SATURATION))


def _words(text: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(text.lower()))


@metric(
    name="persistence", version="1.1.0", family="user", level="message", kind="flag", roles=("user",),
    depends=("refusal", "redirect"), parameters={"overlap": "PERSISTENCE_OVERLAP"},
    definition=(
        "1 when a user turn asks again for what the assistant just declined: the assistant turn between it and the "
        "same user's previous turn was refused (refusal 'partial' or 'full') or redirected (redirect = 1), and the "
        "user turn either overlaps the previous user turn (Jaccard of word sets >= 0.5) or uses a re-ask phrase "
        "('I said', 'just answer the question', 'why won't you', 'it's for a story'); else 0. NaN for empty text."),
    evidence=("user_reask",),
    validated_against="not yet validated against human labels (unit tests on constructed conversations)",
)
def persistence(b: MessageBatch) -> np.ndarray:
    prev_user = b.previous("user")
    prev_assistant = b.previous("assistant")
    # an assistant turn lies between this user turn and the previous one, and it declined
    answered = (prev_assistant >= 0) & (prev_assistant > prev_user)
    refusal = b.take(np.asarray(b.column("refusal"), dtype=object), prev_assistant, fill=None)
    redirect = b.take(b.column("redirect"), prev_assistant, fill=np.nan).astype(float)
    declined = answered & (np.isin(refusal, ["partial", "full"]) | (redirect == 1))
    overlap = np.zeros(b.n, dtype=bool)
    rows = np.flatnonzero(b.is_role("user") & declined & (prev_user >= 0))
    for i in rows:
        a, p = _words(b.text[i]), _words(b.text[int(prev_user[i])])
        union = len(a | p)
        overlap[i] = union > 0 and len(a & p) / union >= PERSISTENCE_OVERLAP
    flag = declined & (overlap | b.has("user_reask"))
    return np.where(b.n_chars == 0, np.nan, flag.astype(float))


@metric(
    name="end_request", version="1.0.0", family="user", level="message", kind="flag", roles=("user",),
    parameters={"end_word_max_words": "END_WORD_MAX_WORDS"},
    definition=(
        "1 when the user asks to end or leave the conversation ('let's end this', 'stop talking to me', 'leave me "
        "alone', 'goodbye'), or sends a short message (at most 3 words) with an end word ('stop', 'bye', 'quit', "
        "'enough'); else 0. NaN for empty text."),
    evidence=("user_end_request", "user_end_word"),
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def end_request(b: MessageBatch) -> np.ndarray:
    flag = b.has("user_end_request") | (b.has("user_end_word") & (b.n_words <= END_WORD_MAX_WORDS))
    return np.where(b.n_chars == 0, np.nan, flag.astype(float))


@metric(
    name="risk", version="1.0.0", family="user", level="message", kind="flag", roles=("user",),
    definition=(
        "1 when the user signals a risk of harming themselves (suicidal ideation, self-harm: 'I want to die', 'kill "
        "myself', 'cut myself') or others (stated intent: 'I'm going to hurt him', 'shoot up the school'); else 0. "
        "A conversation with such a turn must not be ended by the assistant. Negated or quoted phrases do not "
        "count. NaN for empty text."),
    evidence=("user_risk_self", "user_risk_others"),
    validated_against="not yet validated against human labels (phrase-level unit tests only)",
)
def risk(b: MessageBatch) -> np.ndarray:
    flag = b.has("user_risk_self", "user_risk_others")
    return np.where(b.n_chars == 0, np.nan, flag.astype(float))


@metric(
    name="harm_category", version="1.0.0", family="user", level="message", kind="category", roles=("user",),
    categories=("none", *HARM_CATEGORIES),
    definition=(
        "Coarse topic of a possibly harmful request: the harm category with the most counted topic phrases "
        "(violence, weapons, self_harm, sexual, hate, illegal, privacy, cyber; 'other' for generic harmful intent "
        "such as 'without getting caught'); ties go to the earlier category in that list; 'none' without any. A "
        "topic, not a judgement that the request is harmful."),
    evidence=tuple(f"harm_{c}" for c in HARM_CATEGORIES),
    validated_against=("checked, not validated: BailBench's category labels (synthetic prompts, not tuned on) give "
                       "an AUROC of 0.65 for 'flagged' as bail prompt vs ordinary request and 57% category "
                       "agreement among flagged prompts of mapped categories; see docs/validation.md"),
)
def harm_category(b: MessageBatch) -> np.ndarray:
    counts = np.column_stack([b.count(f"harm_{c}") for c in HARM_CATEGORIES]) if b.n else np.zeros((0, 9))
    best = np.argmax(counts, axis=1) if b.n else np.zeros(0, dtype=int)
    labels = np.asarray(HARM_CATEGORIES, dtype=object)[best] if b.n else np.zeros(0, dtype=object)
    out = np.where(counts.sum(axis=1) > 0, labels, "none").astype(object)
    out[b.n_chars == 0] = None
    return out
