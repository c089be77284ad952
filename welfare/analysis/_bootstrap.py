"""Cluster bootstrap: resample whole clusters (conversations, users or pairs), seeded and deterministic.

Draws are multiplicity counts per cluster, so any statistic that is a ratio of cluster sums (means,
proportions, their differences) is a matrix product away; no data are copied per draw.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import stats

__all__ = ["bootstrap_counts", "expanded_alpha", "percentile_summary"]

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


def expanded_alpha(alpha: float, n_clusters: int | None) -> float:
    """Tail level for the expanded percentile interval (Hesterberg 2015, "What teachers should know about the
    bootstrap", The American Statistician 69:371).

    The plain percentile interval is too narrow with few independent units: it uses normal rather than t
    quantiles and a variance that is ``(G - 1) / G`` of the unbiased one. Taking the percentiles at
    ``Φ(-sqrt(G / (G - 1)) · t_{G-1, 1-α/2})`` widens it to match the t(G-1) reference that the cluster-robust
    interval uses. ``n_clusters`` None (or < 3) keeps ``alpha``.
    """
    if n_clusters is None or n_clusters < 3:
        return alpha
    g = float(n_clusters)
    return float(2 * stats.norm.sf(np.sqrt(g / (g - 1)) * stats.t.isf(alpha / 2, g - 1)))


def _alpha_for_tail(tail: float, n_clusters: int | None) -> float:
    """Inverse of :func:`expanded_alpha`: the level whose expanded tail probability is ``tail`` (one side)."""
    if n_clusters is None or n_clusters < 3:
        return 2 * tail
    g = float(n_clusters)
    t = stats.norm.isf(tail) / np.sqrt(g / (g - 1))
    return float(2 * stats.t.sf(t, g - 1))


def percentile_summary(
    estimate: float, draws: np.ndarray, confidence: float, n_clusters: int | None = None
) -> tuple[float, float, float, float]:
    """(se, ci_low, ci_high, p_value) from bootstrap draws of a statistic.

    The interval is the percentile interval, expanded for ``n_clusters`` independent units (see
    :func:`expanded_alpha`). The two-sided p-value for "no difference" is the smallest level whose (expanded)
    interval excludes zero, with the one-sided tail ``(0.5 + min(#draws <= 0, #draws >= 0)) / (1 + #draws)``; so
    ``p < 1 - confidence`` exactly when the interval excludes 0, up to ties. Undefined draws (a resample without
    one of the arms) are dropped.
    """
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size < 2 or not np.isfinite(estimate):
        return np.nan, np.nan, np.nan, np.nan
    alpha = expanded_alpha(1.0 - confidence, n_clusters)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    tail = (0.5 + min(int(np.sum(draws <= 0)), int(np.sum(draws >= 0)))) / (1 + draws.size)
    p = min(1.0, _alpha_for_tail(tail, n_clusters))
    return float(np.std(draws, ddof=1)), float(low), float(high), float(p)
