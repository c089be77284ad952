"""Two-arm comparisons: difference in means or proportions, paired differences, effect sizes, rates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

from welfare.analysis._bootstrap import bootstrap_counts, percentile_summary
from welfare.analysis._results import (
    AnalysisInputError,
    as_outcomes,
    check_confidence,
    check_n_boot,
    make_result,
    normal_interval,
    numeric_outcome,
    require_columns,
    resolve_levels,
)

__all__ = ["adjust_pvalues", "compare_arms", "effect_sizes", "group_label", "paired_effect", "wilson"]

CompareMethod = Literal["bootstrap", "ols", "welch"]
PairedMethod = Literal["bootstrap", "ols", "ttest"]
Measure = Literal["hedges_g", "cliffs_delta", "risk_difference", "risk_ratio", "odds_ratio"]
MEASURES: tuple[str, ...] = ("hedges_g", "cliffs_delta", "risk_difference", "risk_ratio", "odds_ratio")
ARM_MEANS = ("mean_treatment", "mean_control")


def _cluster_codes(sub: pd.DataFrame, cluster: str | None) -> tuple[np.ndarray, int]:
    if cluster is None:
        return np.arange(len(sub)), len(sub)
    ids = sub[cluster]
    if ids.isna().any():
        first = ids.index[ids.isna()][0]
        raise AnalysisInputError(
            f"cluster column {cluster!r} is missing at row {first!r}; every analysed row needs a cluster id "
            "(fill it, or drop those rows before the analysis)"
        )
    codes, uniques = pd.factorize(ids, sort=True)
    return codes, len(uniques)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (so messages show 2, not np.int64(2))."""
    return value.item() if isinstance(value, np.generic) else value


def _undefined_inference(y: np.ndarray, is_t: np.ndarray, codes: np.ndarray, cluster: str | None) -> str | None:
    """Why an interval and a test would be meaningless for this comparison, or None.

    A constant outcome has no variance to test against (an SE of 0 gives p = 0), and an arm with fewer than two
    clusters (or rows) has no spread between its independent units: cluster-robust and bootstrap SEs then come
    out near zero and p-values tiny, which would read as certainty.
    """
    if np.ptp(y) == 0:
        return f"the outcome is constant ({y[0]:g} in every row)"
    units = "clusters" if cluster is not None else "rows"
    for name, mask in (("treatment", is_t), ("control", ~is_t)):
        if len(np.unique(codes[mask])) < 2:
            return f"the {name} arm has fewer than two {units}"
    return None


def _design(sub: pd.DataFrame, treated: np.ndarray, covariates: Sequence[str]) -> np.ndarray:
    parts = [np.ones(len(sub)), treated.astype(float)]
    for cov in covariates:
        col = sub[cov]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            parts.append(col.to_numpy(dtype=float))
        else:
            dummies = pd.get_dummies(col.astype(str), drop_first=True, dtype=float)
            parts.extend(dummies[c].to_numpy() for c in dummies.columns)
    return np.column_stack(parts)


def _ols_effect(y: np.ndarray, x: np.ndarray, codes: np.ndarray | None, confidence: float) -> tuple[float, ...]:
    model = sm.OLS(y, x)
    if codes is not None:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    else:
        fit = model.fit(cov_type="HC1", use_t=True)
    low, high = fit.conf_int(alpha=1 - confidence)[1]
    return float(fit.params[1]), float(fit.bse[1]), float(low), float(high), float(fit.pvalues[1])


def compare_arms(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    arm: str,
    *,
    treatment: Any | None = None,
    control: Any | None = None,
    cluster: str | None = None,
    method: CompareMethod = "bootstrap",
    covariates: Sequence[str] = (),
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Difference in means (or in proportions, for a 0/1 or boolean outcome) between two arms.

    Parameters
    ----------
    data
        Long-format table, one row per unit (e.g. the conversation table).
    outcome
        Outcome column, or a list of them (one result row per outcome and treatment level).
    arm
        Column naming each row's arm.
    treatment, control
        Levels of ``arm``. Booleans default to ``True`` vs ``False``; two other levels default to the second vs
        the first in sorted order; the ``contrast`` column always says which was used. ``treatment`` may be a
        list (one row each, all against ``control``).
    cluster
        Column of the independent unit (``user_id`` when users were randomised or have several conversations,
        ``conversation_id`` for message rows). ``None`` treats rows as independent.
    method
        ``"bootstrap"``: cluster bootstrap expanded percentile interval (clusters resampled within arm when each cluster
        sits in one arm, otherwise across arms); ``"ols"``: OLS of the outcome on an arm indicator (plus
        ``covariates``) with cluster-robust (CR1) standard errors and a t reference with ``G - 1`` degrees of
        freedom (heteroskedasticity-robust HC1 when ``cluster`` is None); ``"welch"``: Welch's t-test, which
        ignores clustering (the naive reference).
    covariates
        Adjustment columns for ``method="ols"`` (categorical columns become indicator variables).
    n_boot, seed
        Bootstrap draws and seed (results are deterministic for a given seed).
    confidence
        Interval level.

    Returns
    -------
    DataFrame
        The fixed result columns plus ``mean_treatment`` and ``mean_control`` (raw arm means). Rows with a
        missing outcome are left out (``n_obs`` counts rows used); an arm without rows gives NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"arm": ["a", "a", "b", "b"], "y": [1.0, 2.0, 3.0, 5.0]})
    >>> compare_arms(df, "y", "arm", method="welch")[["contrast", "estimate"]].to_dict("records")
    [{'contrast': 'b - a', 'estimate': 2.5}]
    """
    outcomes = as_outcomes(outcome)
    require_columns(data, [*outcomes, arm, cluster, *covariates])
    confidence = check_confidence(confidence)
    n_boot = check_n_boot(n_boot)
    if method not in ("bootstrap", "ols", "welch"):
        raise AnalysisInputError(f"method must be one of 'bootstrap', 'ols', 'welch', got {method!r}")
    if covariates and method != "ols":
        raise AnalysisInputError(f"covariates need method='ols' (got method={method!r}); drop covariates or switch")
    treated_levels, control = resolve_levels(data, arm, treatment, control)
    rows = []
    for name in outcomes:
        y_all = numeric_outcome(data, name)
        for level in treated_levels:
            keep = data[arm].isin([level, control]) & y_all.notna()
            for cov in covariates:
                keep &= data[cov].notna()
            sub = data.loc[keep]
            y = y_all[keep].to_numpy()
            is_t = (sub[arm] == level).to_numpy()
            row: dict[str, Any] = {
                "outcome": name,
                "contrast": f"{level} - {control}",
                "n_obs": len(sub),
                "mean_treatment": y[is_t].mean() if is_t.any() else np.nan,
                "mean_control": y[~is_t].mean() if (~is_t).any() else np.nan,
            }
            codes, n_clusters = _cluster_codes(sub, cluster)
            row["n_clusters"] = n_clusters if cluster is not None else np.nan
            by = f"clusters: {cluster}" if cluster else "rows independent"
            if not is_t.any() or is_t.all():
                row["method"] = f"difference in means; {method}; {by}"
                rows.append(row)
                continue
            row["estimate"] = row["mean_treatment"] - row["mean_control"]
            undefined = _undefined_inference(y, is_t, codes, cluster)
            if undefined:
                row["method"] = f"difference in means; {method}; {by}; no interval or test: {undefined}"
                rows.append(row)
                continue
            if method == "bootstrap":
                row["se"], row["ci_low"], row["ci_high"], row["p_value"] = _bootstrap_difference(
                    y, is_t, codes, n_clusters, row["estimate"], n_boot, seed, confidence
                )
                row["method"] = f"difference in means; cluster bootstrap expanded percentile ({n_boot} draws); {by}"
            elif method == "ols":
                x = _design(sub, is_t, covariates)
                if covariates and np.linalg.matrix_rank(x) < x.shape[1]:
                    raise AnalysisInputError(
                        f"covariates {list(covariates)} are collinear with the arm or with each other in the "
                        f"{level} vs {control} comparison (e.g. a covariate that differs only by arm); the arm "
                        "effect cannot be separated from them: drop or combine covariates")
                est, row["se"], row["ci_low"], row["ci_high"], row["p_value"] = _ols_effect(
                    y, x, codes if cluster else None, confidence
                )
                row["estimate"] = est
                adj = f" adjusted for {', '.join(covariates)}" if covariates else ""
                se_kind = "cluster-robust CR1, t(G-1)" if cluster else "HC1"
                row["method"] = f"OLS arm coefficient{adj}; {se_kind}; {by}"
            else:
                test = stats.ttest_ind(y[is_t], y[~is_t], equal_var=False)
                ci = test.confidence_interval(confidence)
                row["se"] = float(np.sqrt(y[is_t].var(ddof=1) / is_t.sum() + y[~is_t].var(ddof=1) / (~is_t).sum()))
                row["ci_low"], row["ci_high"], row["p_value"] = ci.low, ci.high, test.pvalue
                row["method"] = "difference in means; Welch t-test (ignores clustering)"
            rows.append(row)
    return make_result(rows, ARM_MEANS)


def _bootstrap_difference(
    y: np.ndarray, is_t: np.ndarray, codes: np.ndarray, n_clusters: int, estimate: float, n_boot: int,
    seed: int, confidence: float,
) -> tuple[float, float, float, float]:
    s_t = np.bincount(codes, weights=y * is_t, minlength=n_clusters)
    n_t = np.bincount(codes, weights=is_t.astype(float), minlength=n_clusters)
    s_c = np.bincount(codes, weights=y * ~is_t, minlength=n_clusters)
    n_c = np.bincount(codes, weights=(~is_t).astype(float), minlength=n_clusters)
    nested = not np.any((n_t > 0) & (n_c > 0))
    strata = (n_t > 0).astype(int) if nested else np.zeros(n_clusters, dtype=int)
    draws = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for counts in bootstrap_counts(strata, n_boot, seed):
            draws.append(counts @ s_t / (counts @ n_t) - counts @ s_c / (counts @ n_c))
    return percentile_summary(estimate, np.concatenate(draws), confidence, n_clusters)


def paired_effect(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    arm: str,
    pair: str,
    *,
    treatment: Any | None = None,
    control: Any | None = None,
    cluster: str | None = None,
    method: PairedMethod = "bootstrap",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean within-pair difference (treatment minus control) for counterfactual pairs.

    Rows sharing ``pair`` (e.g. the same opening run under both arms, linked by ``pair_id``) are averaged per
    arm, then differenced; pairs missing an arm are left out (``n_obs`` counts rows in complete pairs).

    Parameters
    ----------
    cluster
        Optional column above the pair (e.g. ``user_id`` when one user contributes several pairs); each pair must
        sit in one cluster. ``None``: pairs are the independent units.
    method
        ``"bootstrap"``: expanded percentile interval from resampling pairs (or clusters of pairs); ``"ols"``: intercept of
        the pair differences with cluster-robust SEs, t(G-1); ``"ttest"``: the paired t-test (no ``cluster``).

    Returns
    -------
    DataFrame
        Fixed result columns (``n_clusters`` = pairs, or clusters when ``cluster`` is given) plus
        ``mean_treatment`` and ``mean_control`` over complete pairs.
    """
    outcomes = as_outcomes(outcome)
    require_columns(data, [*outcomes, arm, pair, cluster])
    confidence = check_confidence(confidence)
    n_boot = check_n_boot(n_boot)
    if method not in ("bootstrap", "ols", "ttest"):
        raise AnalysisInputError(f"method must be one of 'bootstrap', 'ols', 'ttest', got {method!r}")
    if method == "ttest" and cluster is not None:
        raise AnalysisInputError(
            "method='ttest' treats pairs as independent and cannot use cluster=...; use method='ols' or "
            "'bootstrap' for pairs nested in clusters, or drop cluster"
        )
    treated_levels, control = resolve_levels(data, arm, treatment, control)
    rows = []
    for name in outcomes:
        y_all = numeric_outcome(data, name)
        for level in treated_levels:
            keep = data[arm].isin([level, control]) & y_all.notna() & data[pair].notna()
            sub = data.loc[keep, [pair, arm, *([cluster] if cluster else [])]].copy()
            sub["_y"] = y_all[keep]
            means = sub.pivot_table(index=pair, columns=arm, values="_y", aggfunc="mean", observed=True)
            complete: Any = means.index[means.notna().all(axis=1)] if {level, control} <= set(means.columns) else []
            row: dict[str, Any] = {"outcome": name, "contrast": f"{level} - {control}"}
            used = sub[sub[pair].isin(complete)]
            row["n_obs"] = len(used)
            if len(complete) == 0:
                row["n_clusters"] = 0
                row["method"] = f"mean paired difference; {method}"
                rows.append(row)
                continue
            diff = (means.loc[complete, level] - means.loc[complete, control]).to_numpy(dtype=float)
            row["mean_treatment"] = float(means.loc[complete, level].mean())
            row["mean_control"] = float(means.loc[complete, control].mean())
            row["estimate"] = float(diff.mean())
            if cluster is not None:
                per_pair = used.groupby(pair, observed=True)[cluster].nunique()
                if (per_pair > 1).any():
                    bad = per_pair.index[per_pair > 1][0]
                    raise AnalysisInputError(
                        f"pair {bad!r} spans several values of cluster column {cluster!r}; a pair must sit in one "
                        "cluster (check the pair ids, or cluster at a higher level)"
                    )
                cl = used.groupby(pair, observed=True)[cluster].first().loc[complete]
                if cl.isna().any():
                    raise AnalysisInputError(
                        f"cluster column {cluster!r} is missing for pair {_plain(cl.index[cl.isna()][0])!r}; every analysed "
                        "pair needs a cluster id (fill it, or drop those rows before the analysis)")
                codes, n_clusters = pd.factorize(cl, sort=True)
                n_units = len(n_clusters)
            else:
                codes, n_units = np.arange(len(diff)), len(diff)
            row["n_clusters"] = n_units
            by = f"clusters: {cluster}" if cluster else "pairs independent"
            if method == "ttest":
                test = stats.ttest_1samp(diff, 0.0)
                ci = test.confidence_interval(confidence)
                row["se"] = float(np.std(diff, ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else np.nan
                row["ci_low"], row["ci_high"], row["p_value"] = ci.low, ci.high, test.pvalue
                row["method"] = "mean paired difference; paired t-test; pairs independent"
            elif method == "ols":
                if n_units < 2:
                    row["method"] = f"mean paired difference; OLS intercept; {by}"
                    rows.append(row)
                    continue
                fit = sm.OLS(diff, np.ones((diff.size, 1))).fit(
                    cov_type="cluster", cov_kwds={"groups": codes}, use_t=True
                )
                low, high = fit.conf_int(alpha=1 - confidence)[0]
                row["se"], row["ci_low"], row["ci_high"], row["p_value"] = fit.bse[0], low, high, fit.pvalues[0]
                row["method"] = f"mean paired difference; OLS intercept, cluster-robust CR1, t(G-1); {by}"
            else:
                sums = np.bincount(codes, weights=diff, minlength=n_units)
                counts_per = np.bincount(codes, minlength=n_units).astype(float)
                draws = [c @ sums / (c @ counts_per) for c in bootstrap_counts(np.zeros(n_units), n_boot, seed)]
                row["se"], row["ci_low"], row["ci_high"], row["p_value"] = percentile_summary(
                    row["estimate"], np.concatenate(draws), confidence, n_units
                )
                row["method"] = f"mean paired difference; cluster bootstrap expanded percentile ({n_boot} draws); {by}"
            rows.append(row)
    return make_result(rows, ARM_MEANS)


# -- effect sizes --------------------------------------------------------------------------------------------


def _wmean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _hedges_g(yt: np.ndarray, wt: np.ndarray, yc: np.ndarray, wc: np.ndarray) -> float:
    n1, n2 = wt.sum(), wc.sum()
    if n1 < 2 or n2 < 2:
        return np.nan
    m1, m2 = _wmean(yt, wt), _wmean(yc, wc)
    ss = np.sum(wt * (yt - m1) ** 2) + np.sum(wc * (yc - m2) ** 2)
    pooled = np.sqrt(ss / (n1 + n2 - 2))
    if pooled == 0:
        return np.nan
    correction = 1 - 3 / (4 * (n1 + n2) - 9)  # Hedges' small-sample factor J
    return float(correction * (m1 - m2) / pooled)


def _cliffs_delta(yt: np.ndarray, wt: np.ndarray, yc: np.ndarray, wc: np.ndarray) -> float:
    order = np.argsort(yc, kind="stable")
    ys, cum = yc[order], np.concatenate([[0.0], np.cumsum(wc[order])])
    below = cum[np.searchsorted(ys, yt, side="left")]
    above = cum[-1] - cum[np.searchsorted(ys, yt, side="right")]
    return float(np.sum(wt * (below - above)) / (wt.sum() * cum[-1]))


def _proportions(yt: np.ndarray, wt: np.ndarray, yc: np.ndarray, wc: np.ndarray) -> tuple[float, float]:
    return _wmean(yt, wt), _wmean(yc, wc)


def _risk_difference(*args: np.ndarray) -> float:
    p1, p2 = _proportions(*args)
    return p1 - p2


def _risk_ratio(*args: np.ndarray) -> float:
    p1, p2 = _proportions(*args)
    return p1 / p2 if p2 > 0 else np.nan


def _odds_ratio(*args: np.ndarray) -> float:
    p1, p2 = _proportions(*args)
    denom = p2 * (1 - p1)
    return p1 * (1 - p2) / denom if denom > 0 else np.nan


_MEASURE_FUNCS: dict[str, Callable[..., float]] = {
    "hedges_g": _hedges_g,
    "cliffs_delta": _cliffs_delta,
    "risk_difference": _risk_difference,
    "risk_ratio": _risk_ratio,
    "odds_ratio": _odds_ratio,
}


def _analytic(measure: str, yt: np.ndarray, yc: np.ndarray, confidence: float) -> tuple[Any, ...]:
    """(estimate, se, ci_low, ci_high, p_value, method) with rows independent."""
    n1, n2 = yt.size, yc.size
    ones_t, ones_c = np.ones(n1), np.ones(n2)
    est = _MEASURE_FUNCS[measure](yt, ones_t, yc, ones_c)
    if measure == "hedges_g":
        se = np.sqrt((n1 + n2) / (n1 * n2) + est**2 / (2 * (n1 + n2)))
        low, high, _ = normal_interval(est, se, confidence)
        p = stats.ttest_ind(yt, yc, equal_var=True).pvalue
        return est, se, low, high, p, "Hedges' g; normal-approximation CI; p from pooled t-test"
    if measure == "cliffs_delta":
        se = _cliffs_delta_se(yt, yc)
        low, high, _ = normal_interval(est, se, confidence)
        p = stats.mannwhitneyu(yt, yc, alternative="two-sided").pvalue
        return est, se, max(low, -1.0), min(high, 1.0), p, "Cliff's delta; DeLong normal CI; p from Mann-Whitney U"
    c1, c2 = int(yt.sum()), int(yc.sum())
    compare, ci_method, test_method, label = {
        "risk_difference": ("diff", "newcomb", "score", "Newcombe hybrid score CI; score test"),
        "risk_ratio": ("ratio", "log", "log", "log (Katz) CI; log test"),
        "odds_ratio": ("odds-ratio", "logit", "logit", "logit (Woolf) CI; logit test"),
    }[measure]
    try:
        if measure != "risk_difference" and (c1 in (0, n1) or c2 in (0, n2)):
            raise ZeroDivisionError  # log/logit intervals need events and non-events in each arm
        with np.errstate(all="ignore"):
            low, high = confint_proportions_2indep(c1, n1, c2, n2, compare=compare, method=ci_method,
                                                   alpha=1 - confidence)
            p = test_proportions_2indep(c1, n1, c2, n2, compare=compare, method=test_method).pvalue
    except (ZeroDivisionError, ValueError, FloatingPointError):  # an arm with no events or only events
        est = est if np.isfinite(est) else np.nan
        return (est, np.nan, np.nan, np.nan, np.nan,
                f"{measure.replace('_', ' ')}; interval and test undefined: {c1}/{n1} events vs {c2}/{n2} "
                f"(an arm with no events or only events; the risk difference is defined)")
    return est, np.nan, float(low), float(high), float(p), f"{measure.replace('_', ' ')}; {label}"


def _cliffs_delta_se(yt: np.ndarray, yc: np.ndarray) -> float:
    """DeLong's standard error of the AUC P(T > C) + P(T = C)/2, doubled (delta = 2 AUC - 1)."""
    n1, n2 = yt.size, yc.size
    if n1 < 2 or n2 < 2:
        return np.nan
    sc, st = np.sort(yc), np.sort(yt)
    v_t = (np.searchsorted(sc, yt, "left") + np.searchsorted(sc, yt, "right")) / (2 * n2)
    v_c = (n1 - (np.searchsorted(st, yc, "left") + np.searchsorted(st, yc, "right")) / 2) / n1
    var_auc = np.var(v_t, ddof=1) / n1 + np.var(v_c, ddof=1) / n2
    return float(2 * np.sqrt(var_auc))


def effect_sizes(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    arm: str,
    *,
    treatment: Any | None = None,
    control: Any | None = None,
    measures: Sequence[Measure] | None = None,
    cluster: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Standardised and ratio effect sizes, treatment vs control.

    Default ``measures``: ``hedges_g`` and ``cliffs_delta`` for a continuous outcome; ``risk_difference``,
    ``risk_ratio`` and ``odds_ratio`` for a 0/1 or boolean one. Without ``cluster`` the intervals treat rows as
    independent (Hedges' g: normal approximation with the Hedges–Olkin variance; Cliff's delta: DeLong variance;
    proportions: Newcombe / Katz log / Woolf logit, via statsmodels). With ``cluster`` every interval is a
    cluster-bootstrap expanded percentile interval and the p-value is the bootstrap one. The hazard ratio comes from
    :func:`cox`.

    Returns
    -------
    DataFrame
        Fixed result columns plus ``measure``.
    """
    outcomes = as_outcomes(outcome)
    require_columns(data, [*outcomes, arm, cluster])
    confidence = check_confidence(confidence)
    n_boot = check_n_boot(n_boot)
    if measures is not None:
        unknown = [m for m in measures if m not in MEASURES]
        if unknown:
            raise AnalysisInputError(f"unknown effect-size measure(s) {unknown}; choose from {list(MEASURES)}")
    treated_levels, control = resolve_levels(data, arm, treatment, control)
    rows = []
    for name in outcomes:
        y_all = numeric_outcome(data, name)
        values = y_all.dropna().unique()
        binary = bool(values.size) and set(values.tolist()) <= {0.0, 1.0}
        chosen = list(measures) if measures else (
            ["risk_difference", "risk_ratio", "odds_ratio"] if binary else ["hedges_g", "cliffs_delta"]
        )
        for measure in chosen:
            if measure in ("risk_difference", "risk_ratio", "odds_ratio") and not binary:
                raise AnalysisInputError(
                    f"measure {measure!r} needs a 0/1 or boolean outcome; {name!r} has other values"
                )
        for level in treated_levels:
            keep = data[arm].isin([level, control]) & y_all.notna()
            sub = data.loc[keep]
            y = y_all[keep].to_numpy()
            is_t = (sub[arm] == level).to_numpy()
            yt, yc = y[is_t], y[~is_t]
            codes, n_clusters = _cluster_codes(sub, cluster)
            for measure in chosen:
                row: dict[str, Any] = {
                    "outcome": name,
                    "contrast": f"{level} vs {control}",
                    "measure": measure,
                    "n_obs": len(sub),
                    "n_clusters": n_clusters if cluster else np.nan,
                }
                if yt.size and yc.size:
                    if cluster is None:
                        est, se, low, high, p, label = _analytic(measure, yt, yc, confidence)
                        row.update(estimate=est, se=se, ci_low=low, ci_high=high, p_value=p, method=label)
                    else:
                        row.update(_bootstrap_measure(measure, y, is_t, codes, n_clusters, n_boot, seed, confidence))
                        row["method"] = f"{measure}; cluster bootstrap expanded percentile ({n_boot} draws); clusters: {cluster}"
                else:
                    row["method"] = measure
                rows.append(row)
    return make_result(rows, ("measure",))


def _bootstrap_measure(
    measure: str, y: np.ndarray, is_t: np.ndarray, codes: np.ndarray, n_clusters: int, n_boot: int, seed: int,
    confidence: float,
) -> dict[str, float]:
    func = _MEASURE_FUNCS[measure]
    yt, yc, ct, cc = y[is_t], y[~is_t], codes[is_t], codes[~is_t]
    est = func(yt, np.ones(yt.size), yc, np.ones(yc.size))
    in_t = np.bincount(ct, minlength=n_clusters) > 0
    in_c = np.bincount(cc, minlength=n_clusters) > 0
    strata = in_t.astype(int) if not np.any(in_t & in_c) else np.zeros(n_clusters, dtype=int)
    null = 1.0 if measure in ("risk_ratio", "odds_ratio") else 0.0
    draws = []
    with np.errstate(all="ignore"):
        for block in bootstrap_counts(strata, n_boot, seed):
            for counts in block:
                wt, wc = counts[ct], counts[cc]
                draws.append(func(yt, wt, yc, wc) if wt.sum() > 0 and wc.sum() > 0 else np.nan)
    se, low, high, p = percentile_summary(est - null, np.asarray(draws) - null, confidence, n_clusters)
    return {"estimate": est, "se": se, "ci_low": low + null, "ci_high": high + null, "p_value": p}


# -- rates and multiplicity ------------------------------------------------------------------------------------


def group_label(keys: Any, by: Sequence[str]) -> str:
    """``"model=a; condition=b"`` for a group key (``"all"`` without grouping)."""
    if not by:
        return "all"
    if not isinstance(keys, tuple):
        keys = (keys,)
    return "; ".join(f"{col}={val}" for col, val in zip(by, keys, strict=True))


def wilson(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    *,
    by: Sequence[str] = (),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Rate of a 0/1 or boolean outcome with a Wilson score interval, overall or per group.

    Returns
    -------
    DataFrame
        Fixed result columns (``contrast`` = ``"rate"``, ``se`` the binomial ``sqrt(p(1-p)/n)``, no p-value) plus
        ``group`` (e.g. ``"model=a; condition=b"``) and ``count`` (rows where the outcome is 1). An empty group
        gives NaN.
    """
    outcomes = as_outcomes(outcome)
    by = [by] if isinstance(by, str) else list(by)
    require_columns(data, [*outcomes, *by])
    confidence = check_confidence(confidence)
    rows = []
    for name in outcomes:
        y_all = numeric_outcome(data, name)
        bad = y_all.dropna()[~y_all.dropna().isin([0.0, 1.0])]
        if len(bad):
            raise AnalysisInputError(
                f"wilson needs a 0/1 or boolean outcome; column {name!r} has {bad.iloc[0]!r} at row {bad.index[0]!r}"
            )
        frame = data[by].assign(_y=y_all) if by else pd.DataFrame({"_y": y_all})
        groups = frame.groupby(by, observed=True, dropna=False, sort=True) if by else [((), frame)]
        for keys, grp in groups:
            rows.append(_wilson_row(name, group_label(keys, by), grp["_y"].dropna(), confidence))
    return make_result(rows, ("group", "count"))


def _wilson_row(outcome: str, group: str, y: pd.Series, confidence: float, contrast: str = "rate") -> dict[str, Any]:
    n, count = len(y), int(y.sum())
    row: dict[str, Any] = {"outcome": outcome, "contrast": contrast, "group": group, "count": count, "n_obs": n,
                           "method": "proportion; Wilson score interval"}
    if n:
        p = count / n
        low, high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
        # the Wilson interval always holds p; floating-point rounding at 0/n and n/n can put a bound past it
        row.update(estimate=p, se=np.sqrt(p * (1 - p) / n), ci_low=min(float(low), p), ci_high=max(float(high), p))
    return row


def adjust_pvalues(
    results: pd.DataFrame, method: Literal["holm", "fdr_bh", "bonferroni"] = "holm", *,
    family: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fill ``p_adjusted`` for a family of tests (Holm or Benjamini–Hochberg, via statsmodels ``multipletests``).

    ``family`` names columns whose values define separate families (e.g. ``"contrast"``); by default all rows
    with a p-value form one family. Rows without a p-value keep NaN. Returns a copy.
    """
    if method not in ("holm", "fdr_bh", "bonferroni"):
        raise AnalysisInputError(f"method must be 'holm', 'fdr_bh' or 'bonferroni', got {method!r}")
    require_columns(results, ["p_value", "p_adjusted"], argument="results")
    out = results.copy()
    out["p_adjusted"] = np.nan
    keys = [family] if isinstance(family, str) else list(family or [])
    require_columns(results, keys, argument="results")
    groups = [g.index for _, g in out.groupby(keys, dropna=False, sort=False)] if keys else [out.index]
    p_all = pd.to_numeric(out["p_value"], errors="coerce")
    bad = out["p_value"].notna() & (p_all.isna() | (p_all < 0) | (p_all > 1))
    if bad.any():
        first = int(np.argmax(bad.to_numpy()))
        raise AnalysisInputError(f"p_value must hold numbers between 0 and 1 (or be missing); row "
                                 f"{_plain(out.index[first])!r} has {_plain(out['p_value'].iloc[first])!r}")
    out["p_value"] = p_all
    for idx in groups:
        pvals = out.loc[idx, "p_value"]
        valid = pvals.dropna()
        if len(valid):
            out.loc[valid.index, "p_adjusted"] = multipletests(valid.to_numpy(), method=method)[1]
    return out
