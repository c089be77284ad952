"""Presenting results: the safe transcript viewer, notebook execution with parameters, and the
rerunnable report (`welfare report`, `welfare demo`, `welfare view`).

See docs/report.md.
"""

from __future__ import annotations

from welfare.report._checks import AnalysisArms, check_analysis_inputs
from welfare.report._html import sanitize_html
from welfare.report._notebook import (
    NotebookExecutionError,
    NotebookParameterError,
    execute_notebook,
    find_notebook,
    inject_parameters,
    notebook_parameters,
    read_notebook,
)
from welfare.report._notes import bootstrap_p_floor, note_bootstrap_floor
from welfare.report._outputs import ReportOutputError, ReportOutputs, frame_to_latex
from welfare.report._report_html import render_report_html
from welfare.report._runner import DEFAULT_NOTEBOOK, ReportError, ReportResult, run_demo, run_report, sample_data_path
from welfare.report._viewer import ViewerInputError, render_transcript_html, write_transcript_html

__all__ = [
    "DEFAULT_NOTEBOOK",
    "AnalysisArms",
    "NotebookExecutionError",
    "NotebookParameterError",
    "ReportError",
    "ReportOutputError",
    "ReportOutputs",
    "ReportResult",
    "ViewerInputError",
    "bootstrap_p_floor",
    "check_analysis_inputs",
    "execute_notebook",
    "find_notebook",
    "frame_to_latex",
    "inject_parameters",
    "note_bootstrap_floor",
    "notebook_parameters",
    "read_notebook",
    "render_report_html",
    "render_transcript_html",
    "run_demo",
    "run_report",
    "sample_data_path",
    "sanitize_html",
    "write_transcript_html",
]
