"""Validation of metrics against human labels: agreement statistics with intervals, plots, dataset adapters.

Statistics return :class:`Estimate` records (or results frames with the fixed columns
:data:`RESULT_COLUMNS`); dataset adapters read public datasets from local paths into tidy frames.
"""

from __future__ import annotations

from welfare.validation._bailbench import (
    BAILBENCH_FILES,
    BAILBENCH_HARM_MAP,
    bailbench_transcripts,
    read_bailbench,
    score_bailbench,
    validate_bailbench,
)
from welfare.validation._convabuse import read_convabuse, validate_convabuse
from welfare.validation._distress import DISTRESS_GROUPS, distress_items, validate_distress
from welfare.validation._goemotions import read_goemotions, validate_goemotions
from welfare.validation._plots import plot_calibration, plot_confusion
from welfare.validation._report import (
    hh_final_turns,
    markdown_table,
    score_xstest,
    vader_compound,
    validate,
    validate_hh_rlhf,
    validate_xstest,
    validator,
    validators,
)
from welfare.validation._stats import (
    RESULT_COLUMNS,
    Estimate,
    ValidationInputError,
    accuracy,
    agreement,
    auroc,
    calibration_table,
    cohens_kappa,
    confusion_matrix,
    macro_f1,
    pair_ranking,
    per_class,
    results_frame,
    wilson_interval,
)
from welfare.validation._transfer import (
    HOSTILE_EMOTIONS,
    convabuse_transfer_items,
    goemotions_transfer_items,
    validate_transfer,
)
from welfare.validation._xstest import XSTEST_LABELS, XSTEST_MODELS, download_xstest, read_xstest, xstest_transcripts

__all__ = [
    "BAILBENCH_FILES",
    "BAILBENCH_HARM_MAP",
    "DISTRESS_GROUPS",
    "HOSTILE_EMOTIONS",
    "RESULT_COLUMNS",
    "XSTEST_LABELS",
    "XSTEST_MODELS",
    "Estimate",
    "ValidationInputError",
    "accuracy",
    "agreement",
    "auroc",
    "bailbench_transcripts",
    "calibration_table",
    "cohens_kappa",
    "confusion_matrix",
    "convabuse_transfer_items",
    "distress_items",
    "download_xstest",
    "goemotions_transfer_items",
    "hh_final_turns",
    "macro_f1",
    "markdown_table",
    "pair_ranking",
    "per_class",
    "plot_calibration",
    "plot_confusion",
    "read_bailbench",
    "read_convabuse",
    "read_goemotions",
    "read_xstest",
    "results_frame",
    "score_bailbench",
    "score_xstest",
    "vader_compound",
    "validate",
    "validate_bailbench",
    "validate_convabuse",
    "validate_distress",
    "validate_goemotions",
    "validate_hh_rlhf",
    "validate_transfer",
    "validate_xstest",
    "validator",
    "validators",
    "wilson_interval",
    "xstest_transcripts",
]
