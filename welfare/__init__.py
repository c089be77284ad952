"""welfare: distress-signal and reluctance metrics for chat transcripts, and intervention analysis.

Public API (notebooks import only these names)::

    import welfare
    convs = welfare.load("logs/")            # any known log format
"""

from __future__ import annotations

from welfare._version import __version__
from welfare.io import LoadReport, LogFormatError, known_formats, load, load_all, write_canonical
from welfare.metrics import get_metric, list_metrics
from welfare.score import Scores, explain, score
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
    "__version__",
    "explain",
    "get_metric",
    "known_formats",
    "list_metrics",
    "load",
    "load_all",
    "score",
    "write_canonical",
]
