"""Presenting results: the safe transcript viewer, notebook execution with parameters, and the
rerunnable report (`welfare report`, `welfare demo`, `welfare view`).

See docs/report.md.
"""

from __future__ import annotations

from welfare.report._html import sanitize_html
from welfare.report._viewer import ViewerInputError, render_transcript_html, write_transcript_html

__all__ = [
    "ViewerInputError",
    "render_transcript_html",
    "sanitize_html",
    "write_transcript_html",
]
