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
from welfare.analysis._latex import to_latex
from welfare.analysis._models import before_after, gee, mixed, regress
from welfare.analysis._plots import (
    OKABE_ITO,
    PALETTE,
    arm_colors,
    event_study_plot,
    forest_plot,
    policy_audit_plot,
    survival_plot,
)
from welfare.analysis._policy import ENDING_POLICIES, after_ending, follow_ups, policy_audit
from welfare.analysis._results import RESULT_COLUMNS, AnalysisInputError
from welfare.analysis._spec import (
    SPEC_FIELDS,
    SpecError,
    analyze,
    load_spec,
    read_score_tables,
    read_spec,
    run_spec,
    validate_spec,
)
from welfare.analysis._survival import cox, kaplan_meier, logrank, time_to_event

__all__ = [
    "ENDING_POLICIES",
    "OKABE_ITO",
    "PALETTE",
    "RESULT_COLUMNS",
    "SPEC_FIELDS",
    "AnalysisInputError",
    "SpecError",
    "adjust_pvalues",
    "after_ending",
    "align_to_anchor",
    "analyze",
    "arm_colors",
    "before_after",
    "compare_arms",
    "cox",
    "effect_sizes",
    "event_study",
    "event_study_plot",
    "follow_ups",
    "forest_plot",
    "gee",
    "kaplan_meier",
    "load_spec",
    "logrank",
    "mixed",
    "paired_effect",
    "policy_audit",
    "policy_audit_plot",
    "read_score_tables",
    "read_spec",
    "regress",
    "run_spec",
    "survival_plot",
    "time_to_event",
    "to_latex",
    "validate_spec",
    "wilson",
]
