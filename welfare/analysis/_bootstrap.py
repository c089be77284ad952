"""Cluster bootstrap: resample whole clusters (conversations, users or pairs), seeded and deterministic.

Draws are multiplicity counts per cluster, so any statistic that is a ratio of cluster sums (means,
proportions, their differences) is a matrix product away; no data are copied per draw.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["bootstrap_counts", "percentile_summary"]

_BLOCK = 256


def bootstrap_counts(strata: np.ndarray, n_boot: int, seed: int | np.random.Generator) -> Iterator[np.ndarray]:
    """Yield blocks of cluster multiplicities, shape ``(block, n_clusters)``, ``n_boot`` rows in all.

    ``strata`` gives each cluster's stratum (integer codes); clusters are resampled with replacement within
    their stratum, so each stratum keeps its number of clusters (e.g. arms randomised per user keep their
    number of users). One stratum for all clusters is the plain cluster bootstrap.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    strata = np.asarray(strata)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    done = 0
    while done < n_boot:
        b = min(_BLOCK, n_boot - done)
        counts = np.zeros((b, strata.size), dtype=np.float64)
        for idx in groups:
            counts[:, idx] = rng.multinomial(idx.size, np.full(idx.size, 1.0 / idx.size), size=b)
        done += b
        yield counts


def percentile_summary(estimate: float, draws: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """(se, ci_low, ci_high, p_value) from bootstrap draws of a statistic.

    The interval is the percentile interval. The two-sided p-value for "no difference" is
    ``(1 + 2 * min(#draws <= 0, #draws >= 0)) / (1 + #draws)``, capped at 1: the smallest level at which the
    matching percentile interval would exclude zero (so p < 1 - confidence exactly when the interval excludes 0,
    up to ties). Draws that are undefined (a resample without one of the arms) are dropped.
    """
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size < 2 or not np.isfinite(estimate):
        return np.nan, np.nan, np.nan, np.nan
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    tail = min(int(np.sum(draws <= 0)), int(np.sum(draws >= 0)))
    p = min(1.0, (1 + 2 * tail) / (1 + draws.size))
    return float(np.std(draws, ddof=1)), float(low), float(high), float(p)
