"""Reading and writing conversation logs.

``welfare.io.load(paths)`` streams :class:`~welfare.transcript.Transcript` objects from any
known format (detected per file, or chosen with ``format=``); ``welfare.io.write(transcripts,
path)`` writes any of them back. Each format lives in its own module and registers itself on
import; :func:`known_formats` lists them. See ``docs/formats.md``.
"""

from __future__ import annotations

from welfare.io import anthropic as _anthropic  # noqa: F401  (each import registers a format)
from welfare.io import canonical as _canonical  # noqa: F401
from welfare.io import chatgpt as _chatgpt  # noqa: F401
from welfare.io import claude as _claude  # noqa: F401
from welfare.io import hh_rlhf as _hh_rlhf  # noqa: F401
from welfare.io import inspect as _inspect  # noqa: F401
from welfare.io import openai as _openai  # noqa: F401
from welfare.io import sharegpt as _sharegpt  # noqa: F401
from welfare.io import table as _table  # noqa: F401
from welfare.io import wildchat as _wildchat  # noqa: F401
from welfare.io._base import (
    FORMATS,
    ConversationIds,
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
from welfare.io._write import (
    MESSAGE_TABLE_COLUMNS,
    convert_logs,
    format_for_path,
    message_rows,
    writable_formats,
    write,
    write_message_table,
)
from welfare.io.canonical import read_canonical, write_canonical

__all__ = [
    "FORMATS",
    "MESSAGE_TABLE_COLUMNS",
    "ConversationIds",
    "FormatSpec",
    "LoadReport",
    "LogFormatError",
    "RecordError",
    "Rejected",
    "UnknownFormatError",
    "convert_logs",
    "detect_format",
    "expand_paths",
    "format_for_path",
    "known_formats",
    "load",
    "load_all",
    "message_rows",
    "read_canonical",
    "register_format",
    "writable_formats",
    "write",
    "write_canonical",
    "write_message_table",
]
