"""Intervention analysis: effects of e.g. an end-conversation tool on expressed distress and reluctance.

Every estimator takes long-format DataFrames (the score tables of docs/architecture.md) with column names as
arguments and returns a DataFrame whose first columns are always :data:`RESULT_COLUMNS`
(``outcome, contrast, estimate, se, ci_low, ci_high, p_value, p_adjusted, n_clusters, n_obs, method``), so
results from different estimators concatenate. What each design estimates is in docs/estimands.md.

    from welfare.analysis import compare_arms, adjust_pvalues
    res = compare_arms(convs, ["distress_burden", "distress_mean"], "condition", cluster="user_id")
    res = adjust_pvalues(res, "holm")
"""

from __future__ import annotations

from welfare.analysis._compare import adjust_pvalues, compare_arms, effect_sizes, paired_effect, wilson
from welfare.analysis._event import align_to_anchor, event_study
from welfare.analysis._models import before_after, gee, mixed, regress
from welfare.analysis._policy import ENDING_POLICIES, after_ending, follow_ups, policy_audit
from welfare.analysis._results import RESULT_COLUMNS, AnalysisInputError
from welfare.analysis._survival import cox, kaplan_meier, logrank, time_to_event

__all__ = [
    "ENDING_POLICIES",
    "RESULT_COLUMNS",
    "AnalysisInputError",
    "adjust_pvalues",
    "after_ending",
    "align_to_anchor",
    "before_after",
    "compare_arms",
    "cox",
    "effect_sizes",
    "event_study",
    "follow_ups",
    "gee",
    "kaplan_meier",
    "logrank",
    "mixed",
    "paired_effect",
    "policy_audit",
    "regress",
    "time_to_event",
    "wilson",
]
