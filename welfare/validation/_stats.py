"""Agreement statistics between a metric and human labels, each with a confidence interval.

Every function returns an :class:`Estimate` (statistic, estimate, interval, n, method); a list of
them becomes a results frame with fixed columns through :func:`results_frame`.

Conventions
-----------
* Pairs where either side is missing (``None`` or NaN) are dropped before computing; ``n`` is the
  number of pairs used. No pairs gives NaN everywhere (``n = 0``).
* Intervals: Wilson score interval for proportions (accuracy, precision, recall, pair rankings);
  seeded bootstrap percentile intervals (resampling items) for Cohen's kappa, F1 and macro-F1;
  DeLong's variance for AUROC (Hanley–McNeil and bootstrap on request), as ``estimate ± z·se``
  clipped to ``[0, 1]``.
* F1 of a class is ``2·TP / (2·TP + FP + FN)`` (0 when the class is predicted and never right, or
  present and never predicted); a class with no true and no predicted items has no F1 and is left
  out of the macro average.
* AUROC counts ties between a positive and a negative item as one half (the Mann–Whitney
  statistic ``U / (n_pos · n_neg)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "RESULT_COLUMNS",
    "Estimate",
    "ValidationInputError",
    "accuracy",
    "agreement",
    "auroc",
    "calibration_table",
    "cohens_kappa",
    "confusion_matrix",
    "macro_f1",
    "pair_ranking",
    "per_class",
    "results_frame",
    "wilson_interval",
]

#: Columns of every validation results frame, in this order.
RESULT_COLUMNS: tuple[str, ...] = ("dataset", "subset", "metric", "statistic", "estimate", "ci_low", "ci_high", "n",
                                   "method")

AurocMethod = Literal["delong", "hanley_mcneil", "bootstrap"]


class ValidationInputError(ValueError):
    """Labels, predictions or scores that cannot be compared as asked (the message says what and how to fix)."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """One statistic with its confidence interval.

    ``method`` names how the interval was computed (e.g. ``"wilson 95%"``, ``"bootstrap percentile 95%, 2000
    draws, seed 0"``). NaN estimate and interval when the statistic is undefined.
    """

    statistic: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    method: str

    def row(self, dataset: str = "", subset: str = "", metric: str = "") -> dict[str, Any]:
        """This estimate as a results row (see :data:`RESULT_COLUMNS`)."""
        return {"dataset": dataset, "subset": subset, "metric": metric, "statistic": self.statistic,
                "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "method": self.method}


def results_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A results DataFrame with exactly the columns :data:`RESULT_COLUMNS` (missing values NaN).

    Examples
    --------
    >>> est = accuracy(["a", "b", "a"], ["a", "b", "b"])
    >>> list(results_frame([est.row("toy", "all", "label")]).columns)  # doctest: +NORMALIZE_WHITESPACE
    ['dataset', 'subset', 'metric', 'statistic', 'estimate', 'ci_low', 'ci_high', 'n', 'method']
    """
    frame = pd.DataFrame([{c: r.get(c, np.nan) for c in RESULT_COLUMNS} for r in rows], columns=list(RESULT_COLUMNS))
    for col in ("estimate", "ci_low", "ci_high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").fillna(0).astype(np.int64)
    for col in ("dataset", "subset", "metric", "statistic", "method"):
        frame[col] = frame[col].astype(object)
    return frame


# --------------------------------------------------------------------------------------------------
# input handling


def _missing(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(pd.Series(values, dtype=object)).to_numpy(), dtype=bool)


def _pairs(y_true: Sequence[Any] | np.ndarray | pd.Series, y_other: Sequence[Any] | np.ndarray | pd.Series,
           other_name: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=object).ravel()
    b = np.asarray(y_other, dtype=object).ravel()
    if a.shape != b.shape:
        raise ValidationInputError(f"y_true has {a.size} items but {other_name} has {b.size}; pass one "
                                   f"{other_name} value per labelled item, in the same order")
    keep = ~(_missing(a) | _missing(b))
    return a[keep], b[keep]


def _encode(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[Any] | None
            ) -> tuple[list[Any], np.ndarray, np.ndarray]:
    if labels is None:
        labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=str)
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({str(v) for v in (*y_true.tolist(), *y_pred.tolist()) if v not in index})
    if unknown:
        raise ValidationInputError(f"values {unknown} are not among labels={labels}; add them to labels or map them "
                                   "to one of the labels first")
    t = np.fromiter((index[v] for v in y_true), dtype=np.int64, count=y_true.size)
    p = np.fromiter((index[v] for v in y_pred), dtype=np.int64, count=y_pred.size)
    return labels, t, p


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValidationInputError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


# --------------------------------------------------------------------------------------------------
# proportions


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (NaN, NaN when ``n == 0``).

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(low, 3), round(high, 3)
    (0.49, 0.943)
    """
    if n <= 0:
        return math.nan, math.nan
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _proportion(statistic: str, successes: float, n: int, confidence: float) -> Estimate:
    low, high = wilson_interval(successes, n, confidence)
    return Estimate(statistic, successes / n if n else math.nan, low, high, int(n), f"wilson {_pct(confidence)}")


def accuracy(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
             confidence: float = 0.95) -> Estimate:
    """Share of items where the prediction equals the label, with a Wilson interval.

    Examples
    --------
    >>> accuracy([1, 0, 1, 1], [1, 0, 0, 1]).estimate
    0.75
    """
    t, p = _pairs(y_true, y_pred, "y_pred")
    return _proportion("accuracy", float(np.sum(t == p)), t.size, confidence)


# --------------------------------------------------------------------------------------------------
# confusion-based statistics, vectorised over bootstrap draws


def _confusions(t: np.ndarray, p: np.ndarray, k: int, draws: np.ndarray | None) -> np.ndarray:
    """Confusion matrices ``[draw, true, pred]`` (one draw, the data itself, when ``draws`` is None)."""
    cell = t * k + p
    if draws is None:
        return np.bincount(cell, minlength=k * k).reshape(1, k, k).astype(float)
    b = draws.shape[0]
    flat = (np.arange(b)[:, None] * (k * k) + cell[draws]).ravel()
    return np.bincount(flat, minlength=b * k * k).reshape(b, k, k).astype(float)


def _kappa_of(cm: np.ndarray) -> np.ndarray:
    n = cm.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(cm, axis1=1, axis2=2) / n
        pe = np.sum(cm.sum(axis=2) * cm.sum(axis=1), axis=1) / (n * n)
        return np.where(pe < 1, (po - pe) / (1 - pe), np.nan)


def _f1_of(cm: np.ndarray) -> np.ndarray:
    """Per-class F1, shape ``[draw, class]``; NaN for a class with no true and no predicted items."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    fp = cm.sum(axis=1) - tp
    fn = cm.sum(axis=2) - tp
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def _macro_of(cm: np.ndarray) -> np.ndarray:
    f1 = _f1_of(cm)
    counted = np.sum(~np.isnan(f1), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, np.nansum(f1, axis=1) / counted, np.nan)


def _draws(n: int, n_boot: int, seed: int) -> np.ndarray:
    if n_boot < 1:
        raise ValidationInputError(f"n_boot must be a positive number of bootstrap draws, got {n_boot}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n))


def _boot_estimate(statistic: str, point: float, boot: np.ndarray, n: int, confidence: float, n_boot: int,
                   seed: int) -> Estimate:
    boot = boot[np.isfinite(boot)]
    if not np.isfinite(point) or boot.size < 2:
        low = high = math.nan
    else:
        alpha = (1 - confidence) / 2
        low, high = (float(v) for v in np.quantile(boot, [alpha, 1 - alpha]))
    return Estimate(statistic, float(point), low, high, int(n),
                    f"bootstrap percentile {_pct(confidence)}, {n_boot} draws, seed {seed}")


def _confusion_statistic(statistic: str, func: Any, y_true: Any, y_pred: Any, labels: Sequence[Any] | None,
                         confidence: float, n_boot: int, seed: int) -> Estimate:
    t, p = _pairs(y_true, y_pred, "y_pred")
    labs, ti, pi = _encode(t, p, labels)
    _z(confidence)
    if t.size == 0:
        return Estimate(statistic, math.nan, math.nan, math.nan, 0, f"bootstrap percentile {_pct(confidence)}")
    k = len(labs)
    point = float(func(_confusions(ti, pi, k, None))[0])
    boot = func(_confusions(ti, pi, k, _draws(t.size, n_boot, seed)))
    return _boot_estimate(statistic, point, boot, t.size, confidence, n_boot, seed)


def cohens_kappa(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
                 labels: Sequence[Any] | None = None, confidence: float = 0.95, n_boot: int = 2000,
                 seed: int = 0) -> Estimate:
    """Cohen's kappa (unweighted) with a bootstrap percentile interval.

    NaN when chance agreement is 1 (both raters use one and the same label throughout).

    Examples
    --------
    >>> round(cohens_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"]).estimate, 3)
    0.5
    """
    return _confusion_statistic("cohens_kappa", _kappa_of, y_true, y_pred, labels, confidence, n_boot, seed)


def macro_f1(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
             labels: Sequence[Any] | None = None, confidence: float = 0.95, n_boot: int = 2000,
             seed: int = 0) -> Estimate:
    """Unweighted mean of per-class F1 over ``labels`` (default: every value seen), bootstrap interval.

    Pass ``labels`` to fix the classes: a class that is never predicted then counts with F1 = 0.

    Examples
    --------
    >>> round(macro_f1(["a", "a", "b", "c"], ["a", "b", "b", "c"]).estimate, 4)
    0.7778
    """
    return _confusion_statistic("macro_f1", _macro_of, y_true, y_pred, labels, confidence, n_boot, seed)


def per_class(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
              labels: Sequence[Any] | None = None, confidence: float = 0.95, n_boot: int = 2000,
              seed: int = 0) -> list[Estimate]:
    """Precision, recall (Wilson intervals) and F1 (bootstrap interval) of each class.

    Statistic names are ``precision[<label>]``, ``recall[<label>]``, ``f1[<label>]``; ``n`` is the
    number of predicted items (precision), true items (recall), or all items (F1). Precision of a
    class never predicted, and recall of a class never present, are NaN.
    """
    t, p = _pairs(y_true, y_pred, "y_pred")
    labs, ti, pi = _encode(t, p, labels)
    _z(confidence)
    k = len(labs)
    out: list[Estimate] = []
    if t.size == 0:
        for lab in labs:
            for name in ("precision", "recall", "f1"):
                out.append(Estimate(f"{name}[{lab}]", math.nan, math.nan, math.nan, 0, "undefined: no items"))
        return out
    cm = _confusions(ti, pi, k, None)[0]
    boot_f1 = _f1_of(_confusions(ti, pi, k, _draws(t.size, n_boot, seed)))
    point_f1 = _f1_of(cm[None])[0]
    for j, lab in enumerate(labs):
        tp = cm[j, j]
        out.append(_proportion(f"precision[{lab}]", tp, int(cm[:, j].sum()), confidence))
        out.append(_proportion(f"recall[{lab}]", tp, int(cm[j, :].sum()), confidence))
        out.append(_boot_estimate(f"f1[{lab}]", point_f1[j], boot_f1[:, j], t.size, confidence, n_boot, seed))
    return out


def confusion_matrix(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series,
                     *, labels: Sequence[Any] | None = None) -> pd.DataFrame:
    """Counts with true labels as rows (index name ``true``) and predictions as columns (``predicted``).

    Examples
    --------
    >>> confusion_matrix(["a", "b", "b"], ["a", "a", "b"]).to_numpy().tolist()
    [[1, 0], [1, 1]]
    """
    t, p = _pairs(y_true, y_pred, "y_pred")
    labs, ti, pi = _encode(t, p, labels)
    k = len(labs)
    cm = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)
    return pd.DataFrame(cm, index=pd.Index(labs, name="true"), columns=pd.Index(labs, name="predicted"))


def agreement(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
              dataset: str = "", subset: str = "", metric: str = "", labels: Sequence[Any] | None = None,
              confidence: float = 0.95, n_boot: int = 2000, seed: int = 0, classes: bool = True) -> pd.DataFrame:
    """Accuracy, Cohen's kappa, macro-F1 and (``classes=True``) per-class precision/recall/F1 as a results frame.

    Examples
    --------
    >>> df = agreement(["a", "b", "b"], ["a", "a", "b"], dataset="toy", metric="label", classes=False)
    >>> df["statistic"].tolist()
    ['accuracy', 'cohens_kappa', 'macro_f1']
    """
    kw: dict[str, Any] = {"labels": labels, "confidence": confidence, "n_boot": n_boot, "seed": seed}
    ests = [accuracy(y_true, y_pred, confidence=confidence), cohens_kappa(y_true, y_pred, **kw),
            macro_f1(y_true, y_pred, **kw)]
    if classes:
        ests.extend(per_class(y_true, y_pred, **kw))
    return results_frame(e.row(dataset, subset, metric) for e in ests)


# --------------------------------------------------------------------------------------------------
# ranking


def _binary(y_true: np.ndarray, positive: Any) -> np.ndarray:
    if positive is not None:
        return np.asarray([v == positive for v in y_true], dtype=bool)
    values = set(y_true.tolist())
    if not values <= {0, 1}:
        raise ValidationInputError(f"y_true must be binary (0/1 or bool) for AUROC; found values {sorted(map(str, values))}"
                                   "; pass positive=<the positive label>")
    return np.asarray(y_true, dtype=float) == 1


def _placements(pos: np.ndarray, neg: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong's structural components (midranks handle ties)."""
    m, n = pos.size, neg.size
    both = np.concatenate([pos, neg])
    r_all = stats.rankdata(both)
    r_pos = stats.rankdata(pos)
    r_neg = stats.rankdata(neg)
    auc = (r_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[:m] - r_pos) / n  # for each positive: share of negatives below it (ties 1/2)
    v01 = 1 - (r_all[m:] - r_neg) / m  # for each negative: share of positives above it
    return float(auc), v10, v01


def auroc(y_true: Sequence[Any] | np.ndarray | pd.Series, score: Sequence[float] | np.ndarray | pd.Series, *,
          positive: Any = None, method: AurocMethod = "delong", confidence: float = 0.95, n_boot: int = 2000,
          seed: int = 0) -> Estimate:
    """Area under the ROC curve of ``score`` for ``y_true`` (ties count one half), with a confidence interval.

    Parameters
    ----------
    y_true
        Binary labels (0/1, bool), or any labels with ``positive`` naming the positive one.
    score
        Higher = more likely positive. Items with a missing label or score are dropped.
    method
        ``"delong"`` (DeLong, DeLong & Clarke-Pearson 1988 variance; default), ``"hanley_mcneil"``
        (Hanley & McNeil 1982 exponential approximation) or ``"bootstrap"`` (stratified by class,
        percentile). Normal intervals are clipped to ``[0, 1]``.

    Returns NaN when either class is empty.

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).estimate
    0.75
    """
    t, s = _pairs(y_true, score, "score")
    z = _z(confidence)
    y = _binary(t, positive)
    try:
        s = s.astype(float)
    except (TypeError, ValueError):
        raise ValidationInputError("score must be numeric (higher = more likely positive)") from None
    pos, neg = s[y], s[~y]
    m, n = pos.size, neg.size
    label = {"delong": "delong", "hanley_mcneil": "hanley-mcneil", "bootstrap": "bootstrap percentile"}.get(method)
    if label is None:
        raise ValidationInputError(f"unknown AUROC interval method {method!r}; use delong, hanley_mcneil or bootstrap")
    if m == 0 or n == 0:
        return Estimate("auroc", math.nan, math.nan, math.nan, int(t.size), f"{label} {_pct(confidence)}: "
                        "undefined, one class is empty")
    auc, v10, v01 = _placements(pos, neg)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        boot = np.empty(n_boot)
        for i in range(n_boot):
            bp = pos[rng.integers(0, m, m)]
            bn = neg[rng.integers(0, n, n)]
            boot[i] = _placements(bp, bn)[0]
        return _boot_estimate("auroc", auc, boot, int(t.size), confidence, n_boot, seed)
    if method == "delong":
        var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
        text = f"delong {_pct(confidence)}"
    else:
        q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
        var = (auc * (1 - auc) + (m - 1) * (q1 - auc * auc) + (n - 1) * (q2 - auc * auc)) / (m * n)
        text = f"hanley-mcneil {_pct(confidence)}"
    se = math.sqrt(max(var, 0.0))
    return Estimate("auroc", auc, max(0.0, auc - z * se), min(1.0, auc + z * se), int(t.size), text)


def pair_ranking(first: Sequence[float] | np.ndarray | pd.Series, second: Sequence[float] | np.ndarray | pd.Series, *,
                 names: tuple[str, str] = ("first", "second"), confidence: float = 0.95) -> list[Estimate]:
    """How often the first item of each pair scores higher, equal, or lower than the second (Wilson intervals).

    Statistics are ``"<a>_higher"``, ``"tie"`` and ``"<b>_higher"`` with ``names = (a, b)``; they sum to 1.

    Examples
    --------
    >>> [e.estimate for e in pair_ranking([1, 2, 3, 4], [0, 2, 5, 1])]
    [0.5, 0.25, 0.25]
    """
    a, b = _pairs(first, second, "second")
    a, b = a.astype(float), b.astype(float)
    n = a.size
    return [_proportion(f"{names[0]}_higher", float(np.sum(a > b)), n, confidence),
            _proportion("tie", float(np.sum(a == b)), n, confidence),
            _proportion(f"{names[1]}_higher", float(np.sum(a < b)), n, confidence)]


def calibration_table(y_true: Sequence[Any] | np.ndarray | pd.Series, prob: Sequence[float] | np.ndarray | pd.Series,
                      *, bins: int = 10, positive: Any = None, confidence: float = 0.95) -> pd.DataFrame:
    """Reliability table: equal-width bins of ``prob`` on [0, 1] with mean score, observed rate and Wilson interval.

    Columns ``bin_low, bin_high, n, mean_score, observed, ci_low, ci_high``; empty bins are kept with
    ``n = 0`` and NaN. Scores outside [0, 1] raise :class:`ValidationInputError`.
    """
    if bins < 1:
        raise ValidationInputError(f"bins must be a positive integer, got {bins}")
    t, s = _pairs(y_true, prob, "prob")
    y = _binary(t, positive)
    s = s.astype(float)
    if s.size and (s.min() < 0 or s.max() > 1):
        raise ValidationInputError(f"prob must lie in [0, 1] for a reliability table; found {s.min():g}..{s.max():g}; "
                                   "rescale the score first")
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
    rows = []
    for k in range(bins):
        sel = which == k
        cnt = int(sel.sum())
        low, high = wilson_interval(float(y[sel].sum()), cnt, confidence)
        rows.append({"bin_low": edges[k], "bin_high": edges[k + 1], "n": cnt,
                     "mean_score": float(s[sel].mean()) if cnt else math.nan,
                     "observed": float(y[sel].mean()) if cnt else math.nan, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "n", "mean_score", "observed", "ci_low", "ci_high"])
