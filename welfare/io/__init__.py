"""Reading and writing conversation logs.

``welfare.io.load(paths)`` streams :class:`~welfare.transcript.Transcript` objects from any
known format (detected per file, or chosen with ``format=``). Each format lives in its own
module and registers itself on import; :func:`known_formats` lists them.
"""

from __future__ import annotations

from welfare.io import canonical as _canonical  # noqa: F401  (registers the format)
from welfare.io._base import (
    FORMATS,
    FormatSpec,
    LoadReport,
    LogFormatError,
    RecordError,
    Rejected,
    UnknownFormatError,
    expand_paths,
    register_format,
)
from welfare.io._load import detect_format, known_formats, load, load_all
from welfare.io.canonical import read_canonical, write_canonical

__all__ = [
    "FORMATS",
    "FormatSpec",
    "LoadReport",
    "LogFormatError",
    "RecordError",
    "Rejected",
    "UnknownFormatError",
    "detect_format",
    "expand_paths",
    "known_formats",
    "load",
    "load_all",
    "read_canonical",
    "register_format",
    "write_canonical",
]
