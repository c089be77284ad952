"""GoEmotions (Demszky et al., ACL 2020) adapter: expressed affect against human emotion labels.

The data are Reddit comments with multi-label emotions kept where at least two raters agreed, in
three label views (``original``: 27 emotions + neutral, ``ekman``, ``group``: ambiguous, negative,
neutral, positive). The affect lexicon was tuned on the TRAIN split only; the validator reports
on DEV.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.transcript import Transcript
from welfare.validation._report import validator
from welfare.validation._stats import ValidationInputError, auroc, results_frame

__all__ = ["read_goemotions", "read_goemotions_views", "score_texts", "vader_scores", "validate_goemotions"]


def read_goemotions(path: str | Path, split: str = "dev", view: str = "group") -> pd.DataFrame:
    """Read one GoEmotions split as a frame with columns ``id, text, labels`` (``labels``: tuple of names).

    ``path`` is the GoEmotions folder holding ``<view>/<split>.tsv`` and ``<view>/labels.txt``
    (tab-separated, no header: text, comma-separated label ids, comment id).
    """
    folder = Path(path) / view
    tsv, names_file = folder / f"{split}.tsv", folder / "labels.txt"
    for f in (tsv, names_file):
        if not f.exists():
            raise ValidationInputError(f"GoEmotions file missing: {f} (expected <path>/{view}/{split}.tsv and "
                                       f"<path>/{view}/labels.txt; pass the folder that holds the label views)")
    names = [line.strip() for line in names_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    with open(tsv, encoding="utf-8", newline="") as fh:
        for lineno, cells in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if len(cells) != 3:
                raise ValidationInputError(f"{tsv}:{lineno}: expected 3 tab-separated fields (text, label ids, id), "
                                           f"found {len(cells)}")
            try:
                labels = tuple(names[int(i)] for i in cells[1].split(","))
            except (ValueError, IndexError):
                raise ValidationInputError(f"{tsv}:{lineno}: label field {cells[1]!r} must be comma-separated ids "
                                           f"0..{len(names) - 1} from {names_file.name}") from None
            rows.append({"id": cells[2], "text": cells[0], "labels": labels})
    return pd.DataFrame(rows, columns=["id", "text", "labels"])


def read_goemotions_views(path: str | Path, split: str = "dev") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``original`` and ``group`` views of ``split``, checked to hold the same comments once each.

    Checks that match the two views by comment id rely on this. Raises :class:`ValidationInputError` when an id
    repeats within a view or the two views hold different comments.
    """
    original = read_goemotions(path, split=split, view="original")
    group = read_goemotions(path, split=split, view="group")
    for name, frame in (("original", original), ("group", group)):
        dupes = frame["id"][frame["id"].duplicated()]
        if len(dupes):
            raise ValidationInputError(f"GoEmotions {name}/{split}.tsv repeats comment id {dupes.iloc[0]!r}; "
                                       "ids must be unique to match the two label views")
    only = set(original["id"]).symmetric_difference(group["id"])
    if only:
        raise ValidationInputError(f"GoEmotions original/{split}.tsv and group/{split}.tsv hold different comments "
                                   f"({len(only)} ids in one view only, e.g. {sorted(only)[0]!r})")
    return original, group


def score_texts(texts: list[str] | pd.Series, metrics: list[str], *, role: str = "user",
                matcher: Matcher | None = None) -> pd.DataFrame:
    """Score each text as a one-message conversation; one row per text with one column per metric."""
    from welfare.score import score

    transcripts = [Transcript.from_dict({"id": str(k), "messages": [{"role": role, "content": str(t)}]})
                   for k, t in enumerate(texts)]
    table = score(transcripts, metrics=metrics, matcher=matcher).messages
    return table[metrics].reset_index(drop=True)


def vader_scores(texts: list[str] | pd.Series) -> pd.DataFrame:
    """VADER's ``neg``, ``pos`` and ``compound`` per text (the baseline a researcher would reach for first).

    Needs the optional extra ``welfare[vader]`` (vaderSentiment); used only for baselines.
    """
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("VADER baselines need the optional extra: pip install 'welfare[vader]'") from None
    analyzer = SentimentIntensityAnalyzer()
    scores = [analyzer.polarity_scores(str(t)) for t in texts]
    return pd.DataFrame({k: np.array([s[k] for s in scores], dtype=float) for k in ("neg", "pos", "compound")})


@validator("goemotions")
def validate_goemotions(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                        split: str = "dev", vader: bool = True) -> pd.DataFrame:
    """``negative_affect`` and ``positive_affect`` against GoEmotions group labels, next to VADER.

    Rows (``dataset = "goemotions"``, ``subset = "<split>: negative vs rest"`` etc.), statistic
    ``auroc`` with DeLong intervals: ``negative_affect`` for items labelled with the negative group
    (anger, annoyance, disapproval, disgust, fear, nervousness, sadness, grief, remorse,
    embarrassment, disappointment) vs every other item, VADER ``neg`` and ``-compound`` on the same
    items; ``positive_affect`` and VADER ``pos`` for the positive group vs rest; ``gratitude`` for the
    ``gratitude`` label of the original view vs rest. The lexicon was tuned on ``train``; ``dev``
    figures are out of sample for these rules but not for the label scheme (same annotators and
    source), and held-out data of other sources may score lower.
    """
    frame = read_goemotions(path, split=split, view="group")
    scores = score_texts(frame["text"], ["negative_affect", "positive_affect", "gratitude"], matcher=matcher)
    negative = frame["labels"].map(lambda ls: "negative" in ls).to_numpy()
    positive = frame["labels"].map(lambda ls: "positive" in ls).to_numpy()
    rows = [
        auroc(negative, scores["negative_affect"]).row("goemotions", f"{split}: negative vs rest", "negative_affect"),
        auroc(positive, scores["positive_affect"]).row("goemotions", f"{split}: positive vs rest", "positive_affect"),
    ]
    original = read_goemotions(path, split=split, view="original")
    if len(original) == len(frame) and (original["id"].to_numpy() == frame["id"].to_numpy()).all():
        thanks = original["labels"].map(lambda ls: "gratitude" in ls).to_numpy()
        rows.append(auroc(thanks, scores["gratitude"]).row("goemotions", f"{split}: gratitude vs rest", "gratitude"))
    if vader:
        v = vader_scores(frame["text"])
        rows.append(auroc(negative, v["neg"]).row("goemotions", f"{split}: negative vs rest", "vader_neg"))
        rows.append(auroc(negative, -v["compound"]).row("goemotions", f"{split}: negative vs rest",
                                                        "vader_neg_compound"))
        rows.append(auroc(positive, v["pos"]).row("goemotions", f"{split}: positive vs rest", "vader_pos"))
    return results_frame(rows)
