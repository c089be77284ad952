"""welfare: distress-signal and reluctance metrics for chat transcripts, and intervention analysis.

Public API (notebooks import only these names)::

    import welfare
    convs = welfare.load("logs/")            # any known log format, detected per file
    scores = welfare.score(convs)            # .messages and .conversations tables
    welfare.explain("I can't help with that.")   # the evidence spans behind a score
    welfare.write_scores(convs, "scores.parquet")  # both tables streamed to files, chunk by chunk

``welfare.score`` is the scoring function, not a module attribute path: its helpers are
``welfare.write_scores`` and ``welfare.iter_score`` (or ``from welfare.score import ...``).

Analysis lives in :mod:`welfare.analysis`, validation in :mod:`welfare.validation`, the simulator
in :mod:`welfare.simulate`, figures in :mod:`welfare.plots` and the report and viewer in
:mod:`welfare.report`.
"""

from __future__ import annotations

from welfare._version import __version__
from welfare.io import (
    LoadReport,
    LogFormatError,
    UnknownFormatError,
    convert_logs,
    detect_format,
    known_formats,
    load,
    load_all,
    writable_formats,
    write,
    write_canonical,
)
from welfare.metrics import get_metric, list_metrics
from welfare.score import Scores, explain, iter_score, score, write_scores
from welfare.transcript import Branch, Ending, Message, ToolCall, Transcript, TranscriptError

__all__ = [
    "Branch",
    "Ending",
    "LoadReport",
    "LogFormatError",
    "Message",
    "Scores",
    "ToolCall",
    "Transcript",
    "TranscriptError",
    "UnknownFormatError",
    "__version__",
    "convert_logs",
    "detect_format",
    "explain",
    "get_metric",
    "iter_score",
    "known_formats",
    "list_metrics",
    "load",
    "load_all",
    "score",
    "writable_formats",
    "write",
    "write_canonical",
    "write_scores",
]
