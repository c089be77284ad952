"""The fixed shape of every analysis result, and the input checks shared by the estimators."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["RESULT_COLUMNS", "AnalysisInputError", "empty_result", "make_result"]

#: Columns every result DataFrame starts with, in this order (docs/architecture.md).
RESULT_COLUMNS: tuple[str, ...] = (
    "outcome",
    "contrast",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "n_clusters",
    "n_obs",
    "method",
)

_FLOAT_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_clusters", "n_obs")


class AnalysisInputError(ValueError):
    """The data or the arguments given to an estimator cannot be analysed as asked.

    The message says what is wrong, where (column, argument, spec field), what was expected and how to fix it.
    """


def make_result(rows: Iterable[Mapping[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    """Build a result frame: the fixed columns, then ``extra`` descriptive columns, missing values as NaN."""
    columns = [*RESULT_COLUMNS, *extra]
    frame = pd.DataFrame([{c: row.get(c, np.nan) for c in columns} for row in rows], columns=columns)
    for col in _FLOAT_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in ("outcome", "contrast", "method"):
        frame[col] = frame[col].astype(object)
    return frame


def empty_result(extra: Sequence[str] = ()) -> pd.DataFrame:
    """A result frame with no rows (same columns and dtypes as :func:`make_result`)."""
    return make_result([], extra)


def require_columns(data: pd.DataFrame, columns: Iterable[str | None], *, argument: str = "data") -> None:
    """Raise :class:`AnalysisInputError` listing every missing column and the ones that exist."""
    if not isinstance(data, pd.DataFrame):
        raise AnalysisInputError(f"{argument} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        available = ", ".join(map(str, data.columns[:40]))
        raise AnalysisInputError(
            f"{argument} has no column(s) {', '.join(map(repr, missing))}; available columns: {available}. "
            "Pass the name of an existing column (score tables are described in docs/architecture.md)."
        )


def check_confidence(confidence: float) -> float:
    if not isinstance(confidence, (int, float)) or not 0 < float(confidence) < 1:
        raise AnalysisInputError(f"confidence must be a number strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return float(confidence)


def check_n_boot(n_boot: int) -> int:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise AnalysisInputError(f"n_boot must be a positive integer (e.g. 2000), got {n_boot!r}")
    return int(n_boot)


def numeric_outcome(data: pd.DataFrame, outcome: str) -> pd.Series:
    """The outcome column as float; booleans become 0/1. Raises when it is not numeric."""
    col = data[outcome]
    if pd.api.types.is_bool_dtype(col) or (col.dtype == object and all(isinstance(v, bool) for v in col.dropna())):
        return col.astype("float64")
    if not pd.api.types.is_numeric_dtype(col):
        raise AnalysisInputError(
            f"outcome column {outcome!r} must be numeric or boolean, found dtype {col.dtype}; "
            "convert it first (e.g. data[col] == 'full' for a refusal label)."
        )
    return col.astype("float64")


def normal_interval(estimate: float, se: float, confidence: float) -> tuple[float, float, float]:
    """(ci_low, ci_high, two-sided p-value) of a normal approximation; NaN when ``se`` is not positive."""
    if not np.isfinite(se) or se <= 0 or not np.isfinite(estimate):
        return np.nan, np.nan, np.nan
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = 2 * stats.norm.sf(abs(estimate / se))
    return estimate - z * se, estimate + z * se, float(p)


def resolve_levels(
    data: pd.DataFrame, arm: str, treatment: Any | None, control: Any | None
) -> tuple[list[Any], Any]:
    """Treatment levels and the control level of ``arm``.

    Booleans: ``True`` is treatment. Otherwise, with neither given and two levels, the first level in sorted
    order is the control (the ``contrast`` column names the order used). ``treatment`` may be a list.
    """
    values = data[arm].dropna()
    levels = list(pd.unique(values))
    if not levels and treatment is not None and control is not None:
        return _as_list(treatment), control  # empty input: the estimators return NaN rows
    if not levels:
        raise AnalysisInputError(f"arm column {arm!r} has no non-missing values; nothing to compare")
    try:
        levels = sorted(levels)
    except TypeError:
        levels = sorted(levels, key=str)
    # a real boolean arm: True is treatment (0/1 numbers compare equal to booleans, so test the type, not the set)
    is_bool = pd.api.types.is_bool_dtype(values) or all(isinstance(v, bool | np.bool_) for v in levels)
    if control is None and treatment is None and is_bool:
        control, treatment = False, True
    if control is None:
        others = [lv for lv in levels if treatment is None or lv not in _as_list(treatment)]
        if treatment is None and len(levels) > 2:
            raise AnalysisInputError(
                f"arm column {arm!r} has {len(levels)} levels {levels}; say which is the control "
                "(control=...) and optionally which are treatments (treatment=...)"
            )
        control = others[0] if others else None
    if control not in levels:
        raise AnalysisInputError(f"control level {control!r} does not occur in arm column {arm!r}; levels: {levels}")
    treated = [lv for lv in levels if lv != control] if treatment is None else _as_list(treatment)
    for lv in treated:
        if lv not in levels:
            raise AnalysisInputError(f"treatment level {lv!r} does not occur in arm column {arm!r}; levels: {levels}")
        if lv == control:
            raise AnalysisInputError(f"treatment and control are both {lv!r}; pick two different levels of {arm!r}")
    if not treated:
        raise AnalysisInputError(f"arm column {arm!r} has only the control level {control!r}; nothing to compare")
    return treated, control


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_outcomes(outcome: str | Sequence[str]) -> list[str]:
    if isinstance(outcome, str):
        return [outcome]
    outcomes = list(outcome)
    if not outcomes or not all(isinstance(o, str) for o in outcomes):
        raise AnalysisInputError(f"outcome must be a column name or a non-empty list of names, got {outcome!r}")
    return outcomes
