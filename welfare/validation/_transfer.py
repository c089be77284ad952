"""Transfer checks: a metric applied to human-labelled data from a source its rules were never tuned on.

Each lexicon was written against one development source: the user lexicon (``hostility``) from
ConvAbuse train (users talking to chatbots), the affect lexicon (``negative_affect``) from
GoEmotions train (Reddit comments). The in-domain validators (``goemotions``, ``convabuse``) report
each metric on the held-out split of its own source. The ``transfer`` validator crosses them:

* ``hostility`` on GoEmotions (original 27-label view): comments labelled anger, annoyance or
  disgust (any of them) vs comments with no label of the negative group (the group view's
  ``negative``); comments with only other negative labels (sadness, fear, ...) are left out. Also
  ``hostility`` for the negative group vs every other comment.
* ``negative_affect`` on ConvAbuse user turns: abusive vs not abusive, with the label rule of the
  ``convabuse`` validator (:func:`~welfare.validation.read_convabuse`; rows without a majority left out).

Every comparison carries VADER ``neg`` on the same items as the baseline and the metric tuned on
that source as a reference. No floor applies: these figures estimate how the rules carry over.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.validation._convabuse import read_convabuse
from welfare.validation._goemotions import read_goemotions_views, score_texts, vader_scores
from welfare.validation._report import validator
from welfare.validation._stats import ValidationInputError, auroc, results_frame

__all__ = ["HOSTILE_EMOTIONS", "convabuse_transfer_items", "goemotions_transfer_items", "validate_transfer"]

#: GoEmotions labels (original view) taken as hostile wording for the ``hostility`` transfer check.
HOSTILE_EMOTIONS: tuple[str, ...] = ("anger", "annoyance", "disgust")


def goemotions_transfer_items(path: str | Path, split: str = "dev") -> pd.DataFrame:
    """One row per GoEmotions comment with the labels of the transfer checks.

    Reads the ``original`` and ``group`` views of ``split`` under ``path`` (the GoEmotions folder)
    and matches them by comment id. Columns: ``id, text, hostile`` (an original label in
    :data:`HOSTILE_EMOTIONS`), ``negative`` (the group view labels the comment ``negative``) and
    ``hostile_vs_none``: True for hostile comments, False for comments with no negative-group label,
    missing (``pd.NA``) for the rest, which that comparison leaves out.
    """
    original, group = read_goemotions_views(path, split)
    negative = original["id"].map(dict(zip(group["id"], group["labels"].map(lambda ls: "negative" in ls),
                                           strict=True)))
    hostile = original["labels"].map(lambda ls: any(label in HOSTILE_EMOTIONS for label in ls))
    out = original[["id", "text"]].copy()
    out["hostile"] = hostile.astype(bool).to_numpy()
    out["negative"] = negative.astype(bool).to_numpy()
    compared = pd.Series(out["hostile"], dtype="boolean")
    compared[~out["hostile"] & out["negative"]] = pd.NA  # other negative emotions only: in neither class
    out["hostile_vs_none"] = compared
    return out


def convabuse_transfer_items(path: str | Path, split: str = "valid") -> pd.DataFrame:
    """ConvAbuse user turns with a majority label, as in the ``convabuse`` validator: ``user, abusive`` (bool)."""
    frame = read_convabuse(path, split=split)
    frame = frame[frame["label"] != "none"].reset_index(drop=True)
    return pd.DataFrame({"user": frame["user"], "abusive": (frame["label"] == "abusive").to_numpy()})


@validator("transfer")
def validate_transfer(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                      vader: bool = True, goemotions_split: str = "dev",
                      convabuse_split: str = "valid") -> pd.DataFrame:
    """AUROC (DeLong) of metrics on the human-labelled source they were NOT tuned on, next to VADER ``neg``.

    ``path`` is the folder holding ``goemotions/`` and ``convabuse/`` (e.g. ``../shared/data``); a
    missing one is skipped, both missing is an error. Rows have ``dataset = "transfer"`` and
    ``statistic = "auroc"``:

    * subset ``goemotions <split>: anger/annoyance/disgust vs no negative``: ``hostility`` (transfer),
      ``negative_affect`` (tuned on GoEmotions train: reference), ``vader_neg``;
    * subset ``goemotions <split>: negative vs rest``: ``hostility``, ``vader_neg``;
    * subset ``convabuse <split>: abusive vs not abusive``: ``negative_affect`` (transfer),
      ``hostility`` (tuned on ConvAbuse train: reference), ``vader_neg``.

    ``n_boot`` and ``seed`` are accepted for the common validator signature; DeLong intervals use neither.
    """
    root = Path(path)
    goemotions, convabuse = root / "goemotions", root / "convabuse"
    if not goemotions.is_dir() and not convabuse.is_dir():
        raise ValidationInputError(f"transfer checks need {goemotions} and/or {convabuse} (pass the folder that "
                                   "holds both datasets, e.g. ../shared/data)")
    metrics = ["hostility", "negative_affect"]
    rows = []
    if goemotions.is_dir():
        items = goemotions_transfer_items(goemotions, split=goemotions_split)
        scores = score_texts(items["text"], metrics, matcher=matcher)
        v = vader_scores(items["text"]) if vader else None
        keep = items["hostile_vs_none"].notna().to_numpy()
        truth = items["hostile_vs_none"].to_numpy(dtype=bool, na_value=False)[keep]
        subset = f"goemotions {goemotions_split}: anger/annoyance/disgust vs no negative"
        rows.append(auroc(truth, scores["hostility"][keep]).row("transfer", subset, "hostility"))
        rows.append(auroc(truth, scores["negative_affect"][keep]).row("transfer", subset, "negative_affect"))
        if v is not None:
            rows.append(auroc(truth, v["neg"][keep]).row("transfer", subset, "vader_neg"))
        negative = items["negative"].to_numpy(dtype=bool)
        subset = f"goemotions {goemotions_split}: negative vs rest"
        rows.append(auroc(negative, scores["hostility"]).row("transfer", subset, "hostility"))
        if v is not None:
            rows.append(auroc(negative, v["neg"]).row("transfer", subset, "vader_neg"))
    if convabuse.is_dir():
        turns = convabuse_transfer_items(convabuse, split=convabuse_split)
        scores = score_texts(turns["user"], metrics, matcher=matcher)
        truth = turns["abusive"].to_numpy(dtype=bool)
        subset = f"convabuse {convabuse_split}: abusive vs not abusive"
        rows.append(auroc(truth, scores["negative_affect"]).row("transfer", subset, "negative_affect"))
        rows.append(auroc(truth, scores["hostility"]).row("transfer", subset, "hostility"))
        if vader:
            rows.append(auroc(truth, vader_scores(turns["user"])["neg"]).row("transfer", subset, "vader_neg"))
    return results_frame(rows)
