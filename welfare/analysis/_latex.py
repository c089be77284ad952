"""Results as a booktabs LaTeX table. Numbers are formatted for display here and only here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from welfare.analysis._results import AnalysisInputError, require_columns

__all__ = ["to_latex"]

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}

_HEADERS = {"outcome": "Outcome", "contrast": "Contrast", "estimate": "Estimate", "se": "SE", "p_value": "$p$",
            "p_adjusted": r"$p_{\mathrm{adj}}$", "n_clusters": "Clusters", "n_obs": "$N$", "method": "Method"}


def _escape(text: Any) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


def _number(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    return f"{float(value):.{digits}f}".replace("-", "$-$") if float(value) < 0 else f"{float(value):.{digits}f}"


def _p(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    floor = 10.0**-digits
    return f"$<${floor:.{digits}f}" if float(value) < floor else f"{float(value):.{digits}f}"


def _count(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    return f"{round(float(value)):,}".replace(",", "{,}")


def to_latex(
    results: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    digits: int = 2,
    p_digits: int = 3,
    confidence: float = 0.95,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """A booktabs table of results (needs ``\\usepackage{booktabs}``).

    Parameters
    ----------
    columns
        Result columns to show, in order; ``"ci"`` stands for ``[ci_low, ci_high]``. Default: outcome, contrast,
        estimate, ci, p_value, then p_adjusted, n_clusters when any row has them, and n_obs.
    digits, p_digits
        Decimals for estimates and intervals, and for p-values (smaller ones print as ``<0.001``).
    confidence
        Only labels the interval column (``95% CI``); results carry no record of their level.
    caption, label
        Wrap the tabular in a ``table`` float with this caption and label.

    Returns
    -------
    str
        LaTeX source. Missing values print as ``--``; text is escaped.

    Examples
    --------
    >>> from welfare.analysis._results import make_result
    >>> res = make_result([{"outcome": "distress_mean", "contrast": "tool - none", "estimate": -0.123,
    ...                     "ci_low": -0.2, "ci_high": -0.05, "p_value": 0.0004, "n_obs": 1200}])
    >>> print(to_latex(res).splitlines()[4])
    distress\\_mean & tool - none & $-$0.12 & [$-$0.20, $-$0.05] & $<$0.001 & 1{,}200 \\\\
    """
    if not isinstance(results, pd.DataFrame):
        raise AnalysisInputError(f"results must be a DataFrame of analysis results, got {type(results).__name__}")
    if columns is None:
        columns = ["outcome", "contrast", "estimate", "ci", "p_value"]
        for optional in ("p_adjusted", "n_clusters"):
            if optional in results.columns and results[optional].notna().any():
                columns.append(optional)
        columns.append("n_obs")
    columns = list(columns)
    require_columns(results, [c for c in columns if c != "ci"] + (["ci_low", "ci_high"] if "ci" in columns else []),
                    argument="results")
    level = f"{confidence * 100:g}"
    headers = [rf"{level}\% CI" if c == "ci" else _HEADERS.get(c, _escape(c)) for c in columns]
    text_like = {c for c in columns if c in ("outcome", "contrast", "method")
                 or (c != "ci" and results[c].dtype == object)}
    align = "".join("l" if c in text_like else "r" for c in columns)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(headers) + r" \\", r"\midrule"]
    for _, row in results.iterrows():
        cells = []
        for c in columns:
            if c == "ci":
                cells.append(f"[{_number(row['ci_low'], digits)}, {_number(row['ci_high'], digits)}]")
            elif c in ("p_value", "p_adjusted"):
                cells.append(_p(row[c], p_digits))
            elif c in ("n_clusters", "n_obs", "count", "n_at_risk", "n_events"):
                cells.append(_count(row[c]))
            elif isinstance(row[c], (int, float)) and not isinstance(row[c], bool):
                cells.append(_number(row[c], digits))
            else:
                cells.append("--" if pd.isna(row[c]) else _escape(row[c]))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(lines)
    if caption is None and label is None:
        return body + "\n"
    head = [r"\begin{table}[t]", r"\centering"]
    if caption is not None:
        head.append(rf"\caption{{{_escape(caption)}}}")
    if label is not None:
        head.append(rf"\label{{{label}}}")
    return "\n".join([*head, body, r"\end{table}"]) + "\n"
