"""Regression estimators on statsmodels: OLS / logistic / Poisson / negative binomial with cluster-robust SEs,
linear mixed models with random intercepts, GEE, and the before/after-rollout design."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

from welfare.analysis._results import (
    AnalysisInputError,
    check_confidence,
    make_result,
    numeric_outcome,
    require_columns,
)

__all__ = ["before_after", "gee", "mixed", "regress"]

Family = Literal["linear", "logistic", "poisson", "negbin"]
_FAMILIES = ("linear", "logistic", "poisson", "negbin")


def _check_formula(formula: str) -> None:
    if not isinstance(formula, str) or "~" not in formula:
        raise AnalysisInputError(
            f"formula must be a string like 'distress_mean ~ C(condition) + C(model)', got {formula!r}"
        )


def _keep_term(name: str, terms: Sequence[str] | None) -> bool:
    if terms is None:
        return name != "Intercept"
    return any(t == name or t in name for t in terms)


def _rows(
    outcome: str, params: pd.Series, bse: pd.Series, pvalues: pd.Series, ci: pd.DataFrame, *,
    terms: Sequence[str] | None, exponentiate: bool, n_clusters: float, n_obs: float, method: str,
) -> list[dict[str, Any]]:
    rows = []
    for name in params.index:
        if name == "alpha" or not _keep_term(str(name), terms):
            continue
        est, se = float(params[name]), float(bse[name])
        low, high = float(ci.loc[name].iloc[0]), float(ci.loc[name].iloc[1])
        if exponentiate:  # report exp(b) with its delta-method SE, and the exponentiated interval
            est, se, low, high = np.exp(est), np.exp(est) * se, np.exp(low), np.exp(high)
        rows.append({"outcome": outcome, "contrast": str(name), "estimate": est, "se": se, "ci_low": low,
                     "ci_high": high, "p_value": float(pvalues[name]), "n_clusters": n_clusters,
                     "n_obs": n_obs, "method": method})
    return rows


def _one_cluster_terms(exog: np.ndarray, groups: np.ndarray) -> dict[int, int]:
    """Coefficients that one cluster alone identifies: column index -> the code of that cluster.

    A coefficient that cannot be estimated once cluster ``g`` is left out (a treatment level seen in one cluster,
    a reference level with one cluster, the arm when there are two clusters) has its robust SE computed without
    ``g``'s variance: the estimating equations force ``g``'s score to zero along the design direction that only
    ``g`` spans, so the sandwich gives 0 or a figure from the other side alone and a p-value near 0.

    With ``X = U S V'`` (columns scaled to unit length, rank ``r``), a combination ``X a`` (``a`` in the row space
    of ``X``, ``a = V S^-1 w``) is non-zero only in cluster ``g`` exactly when ``U_{-g} w = 0``, i.e. when
    ``|U_g w| = |w|``: ``w`` is a right singular vector of ``g``'s rows ``U_g`` with singular value 1. Coefficient
    ``k`` cannot be estimated without ``g`` when such an ``a`` has ``a_k != 0`` (the part of ``e_k`` in the row
    space of ``X`` leaves the row space of ``X`` without ``g``'s rows). The singular values of ``U_g`` come from
    ``g``'s own rows (at most ``n_g x r``), so the check costs about ``n r`` in all rather than ``r^3`` per
    cluster; only clusters with a leverage sum of 1 or more (at most ``r`` of them) can span such a direction.
    """
    x = np.asarray(exog, dtype=float)
    if x.size == 0:
        return {}
    norms = np.sqrt((x**2).sum(axis=0))
    x = x / np.where(norms > 0, norms, 1.0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    keep = s > s[0] * 1e-10 if s.size and s[0] > 0 else np.zeros(s.size, dtype=bool)
    u, s, vt = u[:, keep], s[keep], vt[keep]
    codes = np.asarray(groups)
    leverage = np.bincount(codes, weights=(u**2).sum(axis=1))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(leverage.size + 1))
    found: dict[int, int] = {}
    for g in np.flatnonzero(leverage >= 1 - 1e-7):
        ug = u[order[starts[g]:starts[g + 1]]]
        _, values, right = np.linalg.svd(ug, full_matrices=False)
        spanned = right[values**2 > 1 - 1e-7].T  # w with |U_g w| = |w|: X a lives in g's rows only
        if spanned.shape[1] == 0:
            continue
        directions = np.linalg.qr(vt.T @ (spanned / s[:, None]))[0]  # coefficient directions only g spans
        for k in np.flatnonzero(np.abs(directions).max(axis=1) > 1e-6):
            found.setdefault(int(k), int(g))
    return found


def _without_robust_se(rows: list[dict[str, Any]], exog_names: Sequence[str], exog: np.ndarray,
                       groups: np.ndarray, labels: pd.Index, cluster: str) -> list[dict[str, Any]]:
    """Blank the SE, interval and p-value of the rows :func:`_one_cluster_terms` flags and say why in ``method``."""
    flagged = {str(exog_names[k]): labels[g] for k, g in _one_cluster_terms(exog, groups).items()}
    for row in rows:
        if row["contrast"] in flagged:
            row.update(se=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            row["method"] += (f"; no robust SE: {row['contrast']} cannot be estimated without {cluster} "
                              f"{flagged[row['contrast']]!r}, so fewer than two clusters inform it")
    return rows


def _groups_for(data: pd.DataFrame, model: Any, cluster: str) -> tuple[np.ndarray, pd.Index]:
    """Cluster codes of the rows the model kept, and the cluster id of each code."""
    labels = model.data.row_labels
    ids = data.loc[labels, cluster] if labels is not None else data[cluster]
    if ids.isna().any():
        raise AnalysisInputError(
            f"cluster column {cluster!r} is missing at row {ids.index[ids.isna()][0]!r}; fill it or drop those rows"
        )
    codes, uniques = pd.factorize(ids, sort=True)
    return codes, pd.Index(uniques)


def _prepare(data: pd.DataFrame, formula: str, clusters: Sequence[str | None]) -> pd.DataFrame:
    """A fresh copy of ``data`` ready for a formula fit: a boolean outcome becomes 0/1 (patsy would otherwise
    expand it into two columns and model P(False)), a non-numeric outcome is refused, unused categories are
    dropped (their all-zero indicator makes the design singular), and a missing cluster id is an error rather
    than a silent row drop."""
    data = data.reset_index(drop=True).copy()
    for col in clusters:
        if col is not None and data[col].isna().any():
            raise AnalysisInputError(
                f"cluster column {col!r} is missing in {int(data[col].isna().sum())} of {len(data)} rows; "
                "fill it or drop those rows"
            )
    lhs = formula.split("~", 1)[0].strip()
    if lhs in data.columns:
        data[lhs] = numeric_outcome(data, lhs)
    for col in data.columns:
        if isinstance(data[col].dtype, pd.CategoricalDtype):
            data[col] = data[col].cat.remove_unused_categories()
    return data


def _fit(model: Any, what: str, **kwargs: Any) -> Any:
    try:
        return model.fit(**kwargs)
    except np.linalg.LinAlgError as err:
        raise AnalysisInputError(
            f"cannot fit the {what}: the design is singular ({err}); a covariate is collinear with others "
            "or a level has no rows"
        ) from err


def regress(
    data: pd.DataFrame,
    formula: str,
    *,
    cluster: str | None = None,
    family: Family = "linear",
    terms: Sequence[str] | None = None,
    exponentiate: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Regression with cluster-robust standard errors (statsmodels formula API).

    Parameters
    ----------
    formula
        Patsy-style formula, e.g. ``"distress_mean ~ C(condition) + C(model)"``.
    cluster
        Column of the independent unit; SEs are cluster-robust (``cov_type="cluster"``, CR1 small-sample
        correction; t with ``G - 1`` degrees of freedom for the linear model). ``None``: model-based SEs. A
        coefficient that one cluster alone identifies (a level, or the reference level, seen in a single cluster;
        the arm when there are two clusters) gets no SE, interval or p-value, and ``method`` names that cluster:
        the sandwich leaves out that cluster's variance and would report an SE near 0.
    family
        ``"linear"`` (OLS), ``"logistic"`` (Logit), ``"poisson"`` or ``"negbin"`` (NB2, dispersion estimated;
        its ``alpha`` row is not reported).
    terms
        Keep coefficients whose name equals or contains one of these strings (default: all but the intercept).
    exponentiate
        Report ``exp(b)`` (odds / rate ratios) with the exponentiated interval and the delta-method SE.

    Returns
    -------
    DataFrame
        One row per coefficient; ``contrast`` is the coefficient name, ``outcome`` the formula's left side.
    """
    _check_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise AnalysisInputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    require_columns(data, [cluster])
    confidence = check_confidence(confidence)
    if family not in _FAMILIES:
        raise AnalysisInputError(f"family must be one of {list(_FAMILIES)}, got {family!r}")
    maker = {"linear": smf.ols, "logistic": smf.logit, "poisson": smf.poisson, "negbin": smf.negativebinomial}[family]
    data = _prepare(data, formula, [])
    try:
        model = maker(formula, data=data)
    except Exception as err:  # patsy / formulaic report unknown names here
        raise AnalysisInputError(f"cannot build the model from formula {formula!r}: {err}") from err
    fit_kwargs: dict[str, Any] = {} if family == "linear" else {"disp": 0}
    if cluster is not None:
        groups, group_labels = _groups_for(data, model, cluster)
        fit_kwargs.update(cov_type="cluster", cov_kwds={"groups": groups})
        if family == "linear":
            fit_kwargs["use_t"] = True
        n_clusters: float = float(len(np.unique(groups)))
        se_kind = "cluster-robust CR1" + (", t(G-1)" if family == "linear" else ", z")
    else:
        n_clusters = np.nan
        se_kind = "model-based SEs"
    fit = _fit(model, "regression", **fit_kwargs)
    outcome = str(model.endog_names)
    ci = fit.conf_int(alpha=1 - confidence)
    where = f"; clusters: {cluster}" if cluster else "; rows independent"
    method = f"{ {'linear': 'OLS', 'logistic': 'logistic', 'poisson': 'Poisson', 'negbin': 'negative binomial'}[family] }"
    method = method.strip() + f" regression; {se_kind}" + (", exponentiated" if exponentiate else "") + where
    rows = _rows(outcome, fit.params, fit.bse, fit.pvalues, pd.DataFrame(ci), terms=terms, exponentiate=exponentiate,
                 n_clusters=n_clusters, n_obs=float(fit.nobs), method=method)
    if cluster is not None:
        rows = _without_robust_se(rows, model.exog_names, model.exog, groups, group_labels, cluster)
    return make_result(rows)


def mixed(
    data: pd.DataFrame,
    formula: str,
    group: str,
    *,
    nested: str | None = None,
    terms: Sequence[str] | None = None,
    reml: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Linear mixed model with a random intercept per ``group`` (statsmodels ``MixedLM``).

    ``nested`` adds a variance component for a level inside ``group`` (e.g. ``conversation_id`` within
    ``user_id`` for message rows). Fixed-effect rows only; Wald z intervals and p-values.
    """
    _check_formula(formula)
    require_columns(data, [group, nested])
    confidence = check_confidence(confidence)
    data = _prepare(data, formula, [group, nested])
    vc = {"nested": f"0 + C({nested})"} if nested else None
    try:
        model = smf.mixedlm(formula, data=data, groups=group, vc_formula=vc, missing="drop")
    except Exception as err:
        raise AnalysisInputError(f"cannot build the mixed model from formula {formula!r}: {err}") from err
    fit = _fit(model, "mixed model", reml=reml)
    ci = fit.conf_int(alpha=1 - confidence).loc[fit.fe_params.index]
    extra = f", variance component for {nested}" if nested else ""
    method = f"linear mixed model, random intercept per {group}{extra} ({'REML' if reml else 'ML'}); Wald z"
    rows = _rows(str(model.endog_names), fit.fe_params, fit.bse_fe, fit.pvalues.loc[fit.fe_params.index], ci,
                 terms=terms, exponentiate=False, n_clusters=float(len(model.group_labels)),
                 n_obs=float(fit.nobs), method=method)
    return make_result(rows)


def gee(
    data: pd.DataFrame,
    formula: str,
    group: str,
    *,
    family: Literal["linear", "logistic", "poisson"] = "linear",
    cov_struct: Literal["exchangeable", "independence"] = "exchangeable",
    terms: Sequence[str] | None = None,
    exponentiate: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Generalised estimating equations (statsmodels ``GEE``) with robust (sandwich) SEs clustered on ``group``.

    As in :func:`regress`, a coefficient that cannot be estimated without one particular cluster (e.g. an arm
    with a single user) keeps its estimate but gets NaN SE, interval and p-value, with the reason in ``method``.
    """
    _check_formula(formula)
    require_columns(data, [group])
    confidence = check_confidence(confidence)
    families = {"linear": sm.families.Gaussian(), "logistic": sm.families.Binomial(), "poisson": sm.families.Poisson()}
    if family not in families:
        raise AnalysisInputError(f"family must be one of {list(families)}, got {family!r}")
    structs = {"exchangeable": sm.cov_struct.Exchangeable, "independence": sm.cov_struct.Independence}
    if cov_struct not in structs:
        raise AnalysisInputError(f"cov_struct must be one of {list(structs)}, got {cov_struct!r}")
    data = _prepare(data, formula, [group])
    try:
        model = smf.gee(formula, groups=group, data=data, family=families[family], cov_struct=structs[cov_struct](),
                        missing="drop")
    except Exception as err:
        raise AnalysisInputError(f"cannot build the GEE model from formula {formula!r}: {err}") from err
    fit = _fit(model, "GEE model")
    ci = fit.conf_int(alpha=1 - confidence)
    method = f"GEE ({family}, {cov_struct}), robust SEs clustered on {group}" + (", exponentiated" if exponentiate else "")
    rows = _rows(str(model.endog_names), fit.params, fit.bse, fit.pvalues, pd.DataFrame(ci), terms=terms,
                 exponentiate=exponentiate, n_clusters=float(len(np.unique(model.groups))), n_obs=float(fit.nobs),
                 method=method)
    codes, labels = pd.factorize(np.asarray(model.groups), sort=True)
    return make_result(_without_robust_se(rows, model.exog_names, model.exog, codes, pd.Index(labels), group))


def _period_indicator(data: pd.DataFrame, period: str) -> pd.Series:
    """The period column as 0/1 floats (missing stays missing); anything but boolean or 0/1 is refused, since a
    0/2 coding would silently halve the estimate."""
    col = data[period]
    values = col.dropna()
    if (pd.api.types.is_bool_dtype(col) or all(isinstance(v, (bool, np.bool_)) for v in values)
            or (pd.api.types.is_numeric_dtype(col) and values.isin([0, 1]).all())):
        return col.astype("float64")
    shown = ", ".join(str(v) for v in values.unique()[:5])
    raise AnalysisInputError(
        f"period column {period!r} must be boolean or 0/1 (True/1 = after the rollout); found {shown}"
    )


def _identified(exog: np.ndarray, k: int) -> bool:
    """Whether column ``k`` of the design is not a linear combination of the other columns."""
    others = np.delete(exog, k, axis=1)
    target = exog[:, k]
    if others.shape[1] == 0:
        return bool(np.any(target != 0))
    coef, *_ = np.linalg.lstsq(others, target, rcond=None)
    resid = target - others @ coef
    return bool(np.sqrt(np.mean(resid**2)) > 1e-8 * max(1.0, float(np.sqrt(np.mean(target**2)))))


def before_after(
    data: pd.DataFrame,
    outcome: str | Sequence[str],
    *,
    period: str | None = None,
    time: str = "started_at",
    rollout: str | pd.Timestamp | None = None,
    adjust: Sequence[str] = ("model",),
    user: str | None = "user_id",
    cluster: str | None = "user_id",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Change after a rollout, adjusted for model and compared within users.

    OLS of the outcome on an after-rollout indicator, indicator variables for each ``adjust`` column, and user
    fixed effects (``user``; ``None`` drops them), with SEs clustered on ``cluster``. The period comes from a
    boolean column ``period`` (True = after) or from ``time >= rollout``. Without randomisation this estimates
    the before/after difference among users seen in both periods, which also absorbs anything else that changed
    at the rollout date (see docs/estimands.md).

    Returns
    -------
    DataFrame
        One row per outcome; ``contrast`` is ``"after - before"``.
    """
    outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
    if period is None and rollout is None:
        raise AnalysisInputError("before_after needs period=<boolean column> or rollout=<date> (with time=<column>)")
    require_columns(data, [*outcomes, period, *adjust, user, cluster] + ([time] if period is None else []))
    confidence = check_confidence(confidence)
    if period is None:
        when = pd.to_datetime(data[time], utc=True, errors="coerce")
        cut = pd.Timestamp(str(rollout)) if not isinstance(rollout, pd.Timestamp) else rollout
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
        after: pd.Series = (when >= cut).astype("float64").where(when.notna())
        label = f"{time} >= {rollout}"
    else:
        after = _period_indicator(data, period)
        label = f"{period} is true"
    absorbed = [col for col in adjust if user is not None and data.groupby(user)[col].nunique().max() <= 1]
    adjust = [col for col in adjust if col not in absorbed]  # constant within user: the user effects hold them
    rows = []
    for name in outcomes:
        frame = pd.DataFrame({"y": numeric_outcome(data, name), "after": after.astype("float64")})
        rhs = ["after"]
        for k, col in enumerate(adjust):
            frame[f"adj{k}"] = data[col].astype(str).where(data[col].notna())
            rhs.append(f"C(adj{k})")
        if user is not None:
            frame["user"] = data[user].astype(str).where(data[user].notna())
            rhs.append("C(user)")
        if cluster is not None:
            frame["cluster"] = data[cluster]
        frame = frame.dropna().reset_index(drop=True)
        if frame["after"].nunique() < 2:
            rows.append({"outcome": name, "contrast": "after - before", "n_obs": len(frame),
                         "method": "before/after OLS; needs rows on both sides of the rollout"})
            continue
        adjusted = ", ".join([*adjust, *([f"{user} fixed effects"] if user else [])]) or "nothing"
        if absorbed:
            adjusted += f" ({', '.join(absorbed)} constant within {user}: absorbed)"
        method = f"before/after OLS ({label}); adjusted for {adjusted}; "
        n_clusters = float(frame["cluster"].nunique()) if cluster else np.nan
        model = smf.ols("y ~ " + " + ".join(rhs), data=frame)
        if not _identified(model.exog, model.exog_names.index("after")):
            why = (f"no {user} is seen in both periods" if user is not None
                   and frame.groupby("user")["after"].nunique().max() < 2 else "the period is collinear with "
                   "the adjustment terms")
            rows.append({"outcome": name, "contrast": "after - before", "n_clusters": n_clusters,
                         "n_obs": float(len(frame)), "method": method + f"not estimable: {why}"})
            continue
        if cluster is not None and n_clusters < 2:  # CR1 needs G - 1 > 0: keep the point estimate only
            fit = model.fit()
            rows.append({"outcome": name, "contrast": "after - before", "estimate": fit.params["after"],
                         "n_clusters": n_clusters, "n_obs": fit.nobs,
                         "method": method + f"only one cluster of {cluster}, so no cluster-robust SE"})
            continue
        fit_kwargs: dict[str, Any] = {}
        if cluster is not None:
            fit_kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(frame["cluster"])[0]},
                          "use_t": True}
        fit = model.fit(**fit_kwargs)
        low, high = fit.conf_int(alpha=1 - confidence).loc["after"]
        rows.append({"outcome": name, "contrast": "after - before", "estimate": fit.params["after"],
                     "se": fit.bse["after"], "ci_low": low, "ci_high": high, "p_value": fit.pvalues["after"],
                     "n_clusters": n_clusters, "n_obs": fit.nobs,
                     "method": method + (f"cluster-robust CR1 by {cluster}, t(G-1)" if cluster else "model-based SEs")})
    return make_result(rows)
