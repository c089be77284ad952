"""Time to event with censoring: turns to ending, bail or first distress; Kaplan–Meier, log-rank, Cox PH."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from welfare.analysis._compare import group_label
from welfare.analysis._results import AnalysisInputError, check_confidence, make_result, require_columns

__all__ = ["cox", "kaplan_meier", "logrank", "time_to_event"]

KM_COLUMNS = ("group", "time", "n_at_risk", "n_events")


def time_to_event(
    conversations: pd.DataFrame,
    event: str,
    *,
    at_risk: str = "n_assistant_turns",
) -> pd.DataFrame:
    """Add ``duration`` and ``observed`` columns for a survival analysis over assistant turns.

    Parameters
    ----------
    event
        ``"ending"``: the assistant ended the branch (``ended_by == "assistant"``), at its last assistant turn;
        ``"bail"``: the assistant left with a bail string (``ending_method == "bail_string"``);
        a numeric column (e.g. ``turns_to_first_refusal``): the turn at which the event happened, missing when
        it did not; a boolean column: whether the event happened, at the last assistant turn.
    at_risk
        Column with each branch's number of assistant turns: the censoring time when the event did not happen.

    Returns
    -------
    DataFrame
        A copy of ``conversations`` with ``duration`` (float) and ``observed`` (bool). Rows with no ``at_risk``
        value get a missing duration.
    """
    require_columns(conversations, [at_risk], argument="conversations")
    out = conversations.copy()
    exposure = pd.to_numeric(out[at_risk], errors="coerce").astype("float64")
    if event in ("ending", "bail"):
        require_columns(out, ["ended_by"] + (["ending_method"] if event == "bail" else []), argument="conversations")
        observed = out["ended_by"].eq("assistant")
        if event == "bail":
            observed &= out["ending_method"].eq("bail_string")
        out["duration"] = exposure
        out["observed"] = observed.fillna(False).astype(bool)
        return out
    require_columns(out, [event], argument="conversations")
    col = out[event]
    if pd.api.types.is_bool_dtype(col):
        out["duration"], out["observed"] = exposure, col.fillna(False).astype(bool)
        return out
    if not pd.api.types.is_numeric_dtype(col):
        raise AnalysisInputError(
            f"event column {event!r} must be numeric (turn of the event, missing when none) or boolean; "
            f"found dtype {col.dtype}. Or pass event='ending' / 'bail'."
        )
    turns = col.astype("float64")
    out["observed"] = turns.notna()
    out["duration"] = turns.where(turns.notna(), exposure)
    return out


def _check_survival(data: pd.DataFrame, duration: str, event: str) -> pd.DataFrame:
    require_columns(data, [duration, event])
    frame = data.dropna(subset=[duration, event])
    dur = pd.to_numeric(frame[duration], errors="coerce")
    if dur.isna().any() or (dur < 0).any():
        bad = frame.index[dur.isna() | (dur < 0)][0]
        raise AnalysisInputError(f"duration column {duration!r} must hold non-negative numbers; row {bad!r} does not")
    ev = frame[event]
    if not (pd.api.types.is_bool_dtype(ev) or ev.isin([0, 1]).all()):
        raise AnalysisInputError(f"event column {event!r} must be boolean or 0/1 (1 = event observed, 0 = censored)")
    return frame


def kaplan_meier(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    group: str | Sequence[str] = (),
    confidence: float = 0.95,
    ci: Literal["log-log", "linear"] = "log-log",
) -> pd.DataFrame:
    """Kaplan–Meier survival curves with Greenwood standard errors (statsmodels ``SurvfuncRight``).

    One row per group and distinct event time: ``estimate`` = S(t), ``se`` = Greenwood SE; the interval is
    pointwise, on the complementary log-log scale by default (it stays inside [0, 1]) or ``"linear"``
    (S ± z·SE, clipped). NaN where S(t) is 0 or 1 on the log-log scale.

    Returns
    -------
    DataFrame
        Fixed result columns plus ``group``, ``time``, ``n_at_risk``, ``n_events``.
    """
    frame = _check_survival(data, duration, event)
    by = [group] if isinstance(group, str) else list(group)
    require_columns(frame, by)
    confidence = check_confidence(confidence)
    if ci not in ("log-log", "linear"):
        raise AnalysisInputError(f"ci must be 'log-log' or 'linear', got {ci!r}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    groups = frame.groupby(by, observed=True, sort=True) if by else [((), frame)]
    for keys, grp in groups:
        label = group_label(keys, by)
        if len(grp) == 0:
            continue
        sf = SurvfuncRight(grp[duration].to_numpy(dtype=float), grp[event].to_numpy(dtype=float))
        for t, s, se, n_risk, n_ev in zip(sf.surv_times, sf.surv_prob, sf.surv_prob_se, sf.n_risk, sf.n_events,
                                           strict=True):
            low, high = _km_interval(s, se, z, ci)
            rows.append({"outcome": duration, "contrast": label, "estimate": s, "se": se, "ci_low": low,
                         "ci_high": high, "n_obs": len(grp), "group": label, "time": t, "n_at_risk": n_risk,
                         "n_events": n_ev,
                         "method": f"Kaplan-Meier; Greenwood SE; pointwise {ci} CI; event: {event}"})
    return make_result(rows, KM_COLUMNS)


def _km_interval(s: float, se: float, z: float, ci: str) -> tuple[float, float]:
    if ci == "linear":
        return max(0.0, s - z * se), min(1.0, s + z * se)
    if not 0 < s < 1:
        return np.nan, np.nan
    theta_se = se / (s * abs(np.log(s)))
    theta = np.log(-np.log(s))
    return float(np.exp(-np.exp(theta + z * theta_se))), float(np.exp(-np.exp(theta - z * theta_se)))


def logrank(data: pd.DataFrame, duration: str, event: str, group: str) -> pd.DataFrame:
    """Log-rank test of equal survival across the levels of ``group`` (statsmodels ``survdiff``).

    Returns
    -------
    DataFrame
        One row; ``estimate`` is NaN (a test, not an effect), the chi-square statistic is in ``statistic`` and
        its degrees of freedom in ``df``.
    """
    frame = _check_survival(data, duration, event)
    require_columns(frame, [group])
    frame = frame.dropna(subset=[group])
    levels = sorted(frame[group].unique(), key=str)
    row: dict[str, Any] = {"outcome": duration, "contrast": " vs ".join(map(str, levels)), "n_obs": len(frame),
                           "method": f"log-rank test; event: {event}"}
    observed = frame[event].to_numpy(dtype=float)
    if len(levels) >= 2 and observed.sum() == 0:  # no event in any group: the test has nothing to compare
        row["method"] += "; no events in any group, so the test is undefined"
    elif len(levels) >= 2:
        # a group with no one at risk at any event time adds nothing to the test and makes its variance singular
        first_event = frame.loc[observed > 0, duration].min()
        at_risk = frame.groupby(group)[duration].max() >= first_event
        idle = [lv for lv in levels if not at_risk.get(lv, False)]
        kept = frame[~frame[group].isin(idle)]
        if idle:
            row["method"] += f"; left out, no one at risk at any event time: {', '.join(map(str, idle))}"
        if len(levels) - len(idle) < 2:
            row["method"] += "; fewer than two groups remain, so the test is undefined"
        else:
            try:
                chisq, p = survdiff(kept[duration].to_numpy(dtype=float), kept[event].to_numpy(dtype=float),
                                    kept[group].to_numpy())
            except np.linalg.LinAlgError:
                row["method"] += "; the test's variance is singular, so it is undefined"
            else:
                row.update(p_value=float(p), statistic=float(chisq), df=len(levels) - len(idle) - 1)
    return make_result([row], ("statistic", "df"))


def cox(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: str | Sequence[str],
    *,
    cluster: str | None = None,
    ties: Literal["breslow", "efron"] = "breslow",
    exponentiate: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Cox proportional-hazards model (statsmodels ``PHReg``); hazard ratios by default.

    Parameters
    ----------
    covariates
        Right-hand side of a formula (``"C(condition) + C(model)"``) or a list of terms joined with ``+``.
    cluster
        Column of the independent unit: robust (sandwich) SEs that allow dependence within it.
    exponentiate
        ``True``: hazard ratios with exponentiated intervals and delta-method SEs; ``False``: log hazard ratios.
    """
    frame = _check_survival(data, duration, event)
    require_columns(frame, [cluster])
    confidence = check_confidence(confidence)
    rhs = covariates if isinstance(covariates, str) else " + ".join(covariates)
    if not rhs.strip():
        raise AnalysisInputError("cox needs at least one covariate (e.g. covariates='C(condition)')")
    if cluster is not None:
        frame = frame.dropna(subset=[cluster])
    frame = frame.reset_index(drop=True)
    for col in frame.columns:  # an unused level's all-zero indicator would make the information matrix singular
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].cat.remove_unused_categories()
    status = frame[event].to_numpy(dtype=float)
    try:
        model = PHReg.from_formula(f"{duration} ~ {rhs}", data=frame, status=status, ties=ties)
    except Exception as err:
        raise AnalysisInputError(f"cannot build the Cox model with covariates {rhs!r}: {err}") from err
    groups = None
    if cluster is not None:
        labels = model.data.row_labels
        groups = pd.factorize(frame.loc[labels, cluster] if labels is not None else frame[cluster])[0]
    names = model.exog_names
    n_obs = float(model.nobs)  # rows actually fitted: after patsy drops rows with missing covariates
    n_clusters = float(len(np.unique(groups))) if groups is not None else np.nan
    scale = "hazard ratio" if exponentiate else "log hazard ratio"
    if not np.any(model.status > 0):  # the partial likelihood is flat: nothing to estimate
        return make_result([{"outcome": duration, "contrast": name, "n_clusters": n_clusters, "n_obs": n_obs,
                             "method": f"Cox PH ({ties} ties); {scale}; not estimable: no events in {event}"}
                            for name in names])
    try:
        fit = model.fit(groups=groups)
    except np.linalg.LinAlgError as err:
        raise AnalysisInputError(
            f"cannot fit the Cox model with covariates {rhs!r}: the information matrix is singular ({err}); "
            "a covariate is collinear with others or constant"
        ) from err
    params, bse = np.asarray(fit.params), np.asarray(fit.bse)
    z = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for k, name in enumerate(names):
        est, se = float(params[k]), float(bse[k])
        low, high, p = est - z * se, est + z * se, float(2 * stats.norm.sf(abs(est / se)))
        if exponentiate:
            est, se, low, high = np.exp(est), np.exp(est) * se, np.exp(low), np.exp(high)
        rows.append({"outcome": duration, "contrast": name, "estimate": est, "se": se, "ci_low": low,
                     "ci_high": high, "p_value": p,
                     "n_clusters": n_clusters, "n_obs": n_obs,
                     "method": f"Cox PH ({ties} ties); {scale}"
                               + (f"; robust SEs clustered on {cluster}" if cluster else "; model-based SEs")})
    return make_result(rows)
