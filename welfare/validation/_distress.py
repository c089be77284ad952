"""Assistant-side distress signals (``apology``, ``state_report``, ``state_valence``, ``discomfort``) on GoEmotions.

These metrics score assistant turns, and no human-labelled set of assistant replies with emotion
labels is at hand. GoEmotions (Demszky et al., ACL 2020) dev holds Reddit comments with human
emotion labels; each comment is scored AS IF it were an assistant turn. So the check asks whether
the phrases mean in ordinary English what they are meant to mean, not how models talk:

* ``apology`` (count of apology phrases) for comments labelled ``remorse`` (original 27-label view)
  vs every other comment, with VADER ``neg`` and ``-compound`` on the same comments;
* ``state_valence`` among comments that carry a first-person state report (``state_report`` > 0):
  comments of the positive group vs comments of the negative group (group view; a comment in both
  groups is in neither class), with VADER ``compound`` on the same comments; and the share of each
  group's comments that carry a state report at all (coverage);
* ``discomfort``: no GoEmotions label names discomfort with, or unwillingness to go on with, a
  conversation (``nervousness`` and ``fear`` are worry about events), so there is no AUROC; only
  the share of comments it flags per group (coverage).

The distress lexicon was written for the project from assistant phrasings, not from GoEmotions, and
was not changed after seeing these figures: this is a check, not a training set. Only the dev
split is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.validation._goemotions import read_goemotions_views, score_texts, vader_scores
from welfare.validation._report import validator
from welfare.validation._stats import Estimate, auroc, results_frame, wilson_interval

__all__ = ["DISTRESS_GROUPS", "distress_items", "validate_distress"]

#: GoEmotions group-view labels, in the order the coverage rows are reported.
DISTRESS_GROUPS: tuple[str, ...] = ("negative", "positive", "ambiguous", "neutral")
#: The metrics scored on each comment (as an assistant turn).
_METRICS = ["apology", "discomfort", "state_report", "state_valence"]


def distress_items(path: str | Path, split: str = "dev") -> pd.DataFrame:
    """One row per GoEmotions comment of ``split`` with the labels the distress checks use.

    Reads the ``original`` and ``group`` views under ``path`` (the GoEmotions folder) and matches
    them by comment id (order does not matter). Columns: ``id, text``, ``remorse`` (the original view
    labels the comment ``remorse``), one boolean column per group of :data:`DISTRESS_GROUPS` (a
    comment can be in several), and ``valence_group``: ``"positive"`` or ``"negative"`` for a comment
    in exactly one of those two groups, missing otherwise.

    Raises :class:`ValidationInputError` when an id repeats or the two views hold different comments.
    """
    original, group = read_goemotions_views(path, split)
    groups_of = dict(zip(group["id"], group["labels"], strict=True))
    out = original[["id", "text"]].copy()
    out["remorse"] = original["labels"].map(lambda ls: "remorse" in ls).astype(bool).to_numpy()
    their_groups = out["id"].map(groups_of)
    for name in DISTRESS_GROUPS:
        out[name] = their_groups.map(lambda ls, name=name: name in ls).astype(bool).to_numpy()
    valence = pd.Series(pd.NA, index=out.index, dtype="string")
    valence[out["positive"] & ~out["negative"]] = "positive"
    valence[out["negative"] & ~out["positive"]] = "negative"
    out["valence_group"] = valence
    return out


def _share(flags: np.ndarray) -> Estimate:
    n = int(flags.size)
    low, high = wilson_interval(float(flags.sum()), n)
    return Estimate("share_flagged", float(flags.mean()) if n else float("nan"), low, high, n, "wilson 95%")


@validator("distress")
def validate_distress(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                      vader: bool = True, split: str = "dev") -> pd.DataFrame:
    """Assistant-side distress signals on GoEmotions comments scored as assistant turns (``dataset = "distress"``).

    ``path`` is the GoEmotions folder (holding ``original/`` and ``group/``). Rows:

    * subset ``goemotions <split>: remorse vs rest``: ``auroc`` (DeLong) of ``apology`` and, with
      ``vader=True``, of VADER ``neg`` (``vader_neg``) and ``-compound`` (``vader_neg_compound``);
      ``share_flagged`` (Wilson) of ``apology`` > 0 in subsets ``goemotions <split>: remorse`` and
      ``goemotions <split>: not remorse``;
    * subset ``goemotions <split>, with a state report: positive vs negative group``: ``auroc`` of
      ``state_valence`` (higher = more positive) and VADER ``compound`` (``vader_compound``) on the
      comments with ``state_report`` > 0 that are in exactly one of the two groups (NaN when either
      class is empty);
    * ``share_flagged`` of ``state_report`` > 0 and of ``discomfort`` > 0 per group (subsets
      ``goemotions <split>: <group> group``) and over all comments (``goemotions <split>: all``).

    Comments with empty text score NaN and are left out of every row. ``n_boot`` and ``seed`` are
    accepted for the common validator signature; neither DeLong nor Wilson intervals use them.
    """
    items = distress_items(path, split=split)
    scores = score_texts(items["text"], _METRICS, role="assistant", matcher=matcher)
    scored = scores["apology"].notna().to_numpy()
    items, scores = items[scored].reset_index(drop=True), scores[scored].reset_index(drop=True)
    v = vader_scores(items["text"]) if vader else None
    rows: list[dict[str, Any]] = []
    prefix = f"goemotions {split}"

    remorse = items["remorse"].to_numpy(dtype=bool)
    subset = f"{prefix}: remorse vs rest"
    rows.append(auroc(remorse, scores["apology"]).row("distress", subset, "apology"))
    if v is not None:
        rows.append(auroc(remorse, v["neg"]).row("distress", subset, "vader_neg"))
        rows.append(auroc(remorse, -v["compound"]).row("distress", subset, "vader_neg_compound"))
    apologised = (scores["apology"] > 0).to_numpy()
    rows.append(_share(apologised[remorse]).row("distress", f"{prefix}: remorse", "apology"))
    rows.append(_share(apologised[~remorse]).row("distress", f"{prefix}: not remorse", "apology"))

    reported = (scores["state_report"] > 0).to_numpy()
    compared = reported & items["valence_group"].notna().to_numpy()
    positive = (items["valence_group"] == "positive").to_numpy(dtype=bool, na_value=False)[compared]
    subset = f"{prefix}, with a state report: positive vs negative group"
    rows.append(auroc(positive, scores["state_valence"][compared]).row("distress", subset, "state_valence"))
    if v is not None:
        rows.append(auroc(positive, v["compound"][compared]).row("distress", subset, "vader_compound"))

    uneasy = (scores["discomfort"] > 0).to_numpy()
    for name in (*DISTRESS_GROUPS, "all"):
        member = np.ones(len(items), dtype=bool) if name == "all" else items[name].to_numpy(dtype=bool)
        subset = f"{prefix}: all" if name == "all" else f"{prefix}: {name} group"
        rows.append(_share(reported[member]).row("distress", subset, "state_report"))
        rows.append(_share(uneasy[member]).row("distress", subset, "discomfort"))
    return results_frame(rows)
