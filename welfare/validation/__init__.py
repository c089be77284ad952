"""Validation of metrics against human labels: agreement statistics with intervals, plots, dataset adapters.

Statistics return :class:`Estimate` records (or results frames with the fixed columns
:data:`RESULT_COLUMNS`); dataset adapters read public datasets from local paths into tidy frames.
"""

from __future__ import annotations

from welfare.validation._plots import plot_calibration, plot_confusion
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

__all__ = [
    "RESULT_COLUMNS",
    "Estimate",
    "ValidationInputError",
    "accuracy",
    "agreement",
    "auroc",
    "calibration_table",
    "cohens_kappa",
    "confusion_matrix",
    "macro_f1",
    "pair_ranking",
    "per_class",
    "plot_calibration",
    "plot_confusion",
    "results_frame",
    "wilson_interval",
]
