"""ConvAbuse (Cercas Curry et al., EMNLP 2021) adapter: ``hostility`` against human abuse labels.

Each row is a window of a real user–chatbot conversation (``prev_agent, prev_user, agent, user``);
the labelled item is the ``user`` turn. Every annotator who saw a row marks one of
``AnnotatorN_is_abuse.{1, 0, -1, -2, -3}`` (1 not abusive, 0 ambiguous, −1…−3 mild…very strong);
a cell may hold several comma-separated marks when the annotator saw the row more than once. The
user lexicon was tuned on the TRAIN split only; the validator reports on VALID.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.validation._goemotions import score_texts, vader_scores
from welfare.validation._report import validator
from welfare.validation._stats import ValidationInputError, auroc, results_frame

__all__ = ["read_convabuse", "validate_convabuse"]

_LEVELS = ("1", "0", "-1", "-2", "-3")
_ANNOTATOR = re.compile(r"^Annotator(\d+)_is_abuse\.1$")
_FILES = {"train": "ConvAbuseEMNLPtrain.csv", "valid": "ConvAbuseEMNLPvalid.csv"}


def _marks(cell: object) -> list[int]:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return []
    return [int(x) for x in str(cell).split(",") if x.strip()]


def read_convabuse(path: str | Path, split: str = "valid") -> pd.DataFrame:
    """Read one ConvAbuse split with per-row vote counts and the majority label.

    Returns columns ``example_id, prev_agent, prev_user, agent, user, bot, n_votes, n_not_abusive,
    n_ambiguous, n_abusive, label`` where ``label`` is ``abusive`` (more than half of the marks are
    below 0), ``not_abusive`` (more than half are 1) or ``none`` (no majority). ``path`` is the
    ConvAbuse folder or one of its CSV files.
    """
    p = Path(path)
    file = p / _FILES.get(split, split) if p.is_dir() else p
    if not file.exists():
        raise ValidationInputError(f"ConvAbuse file missing: {file} (pass the folder holding {_FILES['train']} and "
                                   f"{_FILES['valid']}, with split='train' or 'valid')")
    frame = pd.read_csv(file, dtype=str, keep_default_na=True)
    annotators = sorted(int(m.group(1)) for c in frame.columns if (m := _ANNOTATOR.match(c)))
    if not annotators or "user" not in frame.columns:
        raise ValidationInputError(f"{file}: expected a 'user' column and AnnotatorN_is_abuse.1 ... .-3 columns "
                                   "(the ConvAbuse EMNLP release)")
    stray = [c for c in frame.columns if "_is_abuse." in c and not re.match(r"^Annotator\d+_is_abuse\.", c)]
    if stray:  # a renamed annotator's marks would otherwise be left out of every vote without a word
        raise ValidationInputError(f"{file}: column {stray[0]!r} looks like an annotator's mark but is not named "
                                   "AnnotatorN_is_abuse.<level> (the ConvAbuse EMNLP release); rename it or drop it")
    counts = np.zeros((len(frame), len(_LEVELS)), dtype=int)
    for a in annotators:
        cols = [f"Annotator{a}_is_abuse.{lv}" for lv in _LEVELS]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValidationInputError(f"{file}: annotator {a} lacks columns {missing}")
        cells = frame[cols].to_numpy(dtype=object)
        for i, row in enumerate(cells):
            marks = [_marks(c) for c in row]
            for j in range(max(len(m) for m in marks)):
                chosen = [k for k, m in enumerate(marks) if j < len(m) and m[j] == 1]
                if len(chosen) == 1:  # a complete mark: exactly one level ticked
                    counts[i, chosen[0]] += 1
    n = counts.sum(axis=1)
    abusive = counts[:, 2:].sum(axis=1)
    out = frame[[c for c in ("example_id", "prev_agent", "prev_user", "agent", "user", "bot") if c in frame]].copy()
    out["user"] = out["user"].fillna("")
    out["n_votes"], out["n_not_abusive"], out["n_ambiguous"], out["n_abusive"] = n, counts[:, 0], counts[:, 1], abusive
    out["label"] = np.where(2 * abusive > n, "abusive", np.where(2 * counts[:, 0] > n, "not_abusive", "none"))
    return out


@validator("convabuse")
def validate_convabuse(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                       split: str = "valid", vader: bool = True) -> pd.DataFrame:
    """``hostility`` of the user turn: abusive (majority of marks below 0) vs not abusive (majority 1).

    Rows without a majority are left out. Statistic ``auroc`` with DeLong intervals for
    ``hostility``, ``negative_affect`` and VADER ``neg`` / ``-compound`` on the same items. The user
    lexicon was tuned on ``train``; ``valid`` comes from the same two chatbots and user population,
    so other settings may score lower.
    """
    frame = read_convabuse(path, split=split)
    frame = frame[frame["label"] != "none"].reset_index(drop=True)
    truth = (frame["label"] == "abusive").to_numpy()
    scores = score_texts(frame["user"], ["hostility", "negative_affect"], matcher=matcher)
    subset = f"{split}: abusive vs not abusive"
    rows = [auroc(truth, scores["hostility"]).row("convabuse", subset, "hostility"),
            auroc(truth, scores["negative_affect"]).row("convabuse", subset, "negative_affect")]
    if vader:
        v = vader_scores(frame["user"])
        rows.append(auroc(truth, v["neg"]).row("convabuse", subset, "vader_neg"))
        rows.append(auroc(truth, -v["compound"]).row("convabuse", subset, "vader_neg_compound"))
    return results_frame(rows)
