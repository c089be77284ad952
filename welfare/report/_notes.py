"""Notes the report adds to result tables where a number is a bound rather than an estimate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["bootstrap_p_floor", "note_bootstrap_floor"]


def bootstrap_p_floor(n_boot: int, n_clusters: float | None) -> float:
    """The smallest p-value a cluster bootstrap with ``n_boot`` draws and ``n_clusters`` clusters can give.

    The bootstrap p-value (``welfare.analysis``: the smallest level whose expanded percentile interval excludes 0)
    has the one-sided tail ``(0.5 + draws on the far side of 0) / (1 + n_boot)``; with no draw there it is
    ``0.5 / (1 + n_boot)``, turned into a level through the t(G-1) expansion. 400 draws and 15 clusters give
    0.0112, 2000 draws 0.0046; without clusters it is ``1 / (1 + n_boot)``.

    >>> round(bootstrap_p_floor(400, 15), 4)
    0.0112
    """
    from welfare.analysis._bootstrap import percentile_summary

    g = None if n_clusters is None or not math.isfinite(n_clusters) else int(n_clusters)
    return percentile_summary(1.0, np.ones(max(int(n_boot), 2)), 0.95, g)[3]


def note_bootstrap_floor(effects: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """``effects`` with the ``method`` of every bootstrap row whose p-value sits at its floor saying so.

    Such a p-value means that no draw crossed 0: the true p is below the floor, not equal to it, and an adjusted
    p-value computed from it (Holm, ...) is an upper bound. The rows' numbers are unchanged. Returns a copy.
    """
    out = effects.copy()
    if out.empty or "method" not in out.columns:
        return out
    for i, row in out.iterrows():
        if "bootstrap" not in str(row["method"]) or not np.isfinite(row["p_value"]):
            continue
        clusters = row["n_clusters"] if "n_clusters" in out.columns else None
        floor = bootstrap_p_floor(n_boot, None if pd.isna(clusters) else float(clusters))
        if row["p_value"] <= floor * (1 + 1e-9):
            adjusted = ("; p_adjusted is an upper bound too" if "p_adjusted" in out.columns
                        and np.isfinite(row["p_adjusted"]) else "")
            bound = math.ceil(floor / 10 ** (e := math.floor(math.log10(floor)) - 1)) * 10**e  # 2 digits, rounded up
            out.at[i, "method"] = (f"{row['method']}; no draw crossed 0: p < {bound:.2g}, the least {n_boot} draws "
                                   f"can show{adjusted} (more draws, -p n_boot, lower the bound)")
    return out
