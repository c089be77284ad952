"""Writing transcripts: any registered format, and the Parquet message table."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from typing import Any

from welfare.io._base import (
    FORMATS,
    LoadReport,
    UnknownFormatError,
    expand_paths,
    logical_name,
    refuse_overwriting_inputs,
)
from welfare.io._common import atomic_output
from welfare.io._json import dumps
from welfare.io._load import load
from welfare.transcript import Transcript

__all__ = ["MESSAGE_TABLE_COLUMNS", "convert_logs", "format_for_path", "message_rows", "writable_formats", "write", "write_message_table"]

#: Columns of :func:`write_message_table`, in order.
MESSAGE_TABLE_COLUMNS: tuple[str, ...] = (
    "conversation_id", "branch_id", "message_index", "role", "message_id", "parent", "is_active_branch", "text",
    "created_at", "name", "tool_call_id", "content_json", "tool_calls_json", "metadata_json",
    "conversation_metadata_json",
)

#: Output format chosen from a file name (checked in order; ``.gz`` is stripped first).
_BY_SUFFIX: tuple[tuple[str, str], ...] = (
    ("conversations.json", "chatgpt"),
    (".eval", "inspect"),
    (".parquet", "message_table"),
    (".csv", "table"),
    (".tsv", "table"),
    (".jsonl", "canonical"),
)


def writable_formats() -> list[str]:
    """Formats :func:`write` can produce: every registered format with a writer, plus ``message_table``."""
    return sorted([name for name, spec in FORMATS.items() if spec.write is not None] + ["message_table"])


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The output format implied by a file name (``x.jsonl`` → canonical, ``x.parquet`` → message_table, ...).

    ``conversations.json`` is ambiguous (ChatGPT and Claude exports share the name) and maps to
    ``chatgpt``; pass ``format=`` for anything else. Raises :class:`UnknownFormatError`.
    """
    name = logical_name(path)
    for suffix, fmt in _BY_SUFFIX:
        if name.endswith(suffix):
            return fmt
    raise UnknownFormatError("cannot tell the output format from the file name", path=os.fspath(path),
                             expected="a name ending in " + ", ".join(s for s, _ in _BY_SUFFIX),
                             found=repr(name), hint="Pass format=... (CLI: --to NAME): "
                             + ", ".join(writable_formats()))


def write(transcripts: Iterable[Transcript], path: str | os.PathLike[str], *, format: str | None = None,
          **options: Any) -> int:
    """Write transcripts to ``path`` in ``format`` (default: from the file name). Returns the records written.

    Parameters
    ----------
    transcripts
        Any iterable of transcripts (streamed where the format allows).
    path
        Output file; a ``.gz`` suffix compresses the JSON-based formats.
    format
        One of :func:`writable_formats`; ``None`` picks it from the extension (:func:`format_for_path`).
    options
        Passed to the format's writer (e.g. ``branches="active"`` for linear formats).

    Examples
    --------
    >>> import welfare.io
    >>> t = welfare.Transcript.from_dict({"id": "c", "messages": [{"role": "user", "content": "hi"}]})
    >>> welfare.io.write([t], "out.jsonl")  # doctest: +SKIP
    1
    """
    fmt = format or format_for_path(path)
    if fmt == "message_table":
        with atomic_output(path) as partial:
            return write_message_table(transcripts, partial)
    spec = FORMATS.get(fmt)
    if spec is None or spec.write is None:
        raise UnknownFormatError(f"cannot write format {fmt!r}", path=os.fspath(path),
                                 expected="one of: " + ", ".join(writable_formats()), found=repr(fmt))
    accepted = [p.name for p in inspect.signature(spec.write).parameters.values() if p.kind == p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"the {fmt} writer takes no option {unknown[0]!r}; its options: "
                         + (", ".join(accepted) or "none"))
    # every format writes to a temporary file renamed into place when complete: a record that fails half-way
    # (or an interrupt) leaves no shorter file that reads back without error, and keeps any file already there
    with atomic_output(path) as partial:
        return int(spec.write(transcripts, partial, **options))


def message_rows(t: Transcript) -> list[dict[str, Any]]:
    """One row per message per branch of ``t`` (the columns of :data:`MESSAGE_TABLE_COLUMNS`)."""
    rows = []
    conv_meta = dumps(t.metadata) if t.metadata else None
    for b in t.branches():
        for i, m in enumerate(b.messages):
            rows.append({
                "conversation_id": t.id, "branch_id": b.branch_id, "message_index": i, "role": m.role,
                "message_id": m.id, "parent": m.parent, "is_active_branch": b.is_active, "text": m.text,
                "created_at": m.created_at, "name": m.name, "tool_call_id": m.tool_call_id,
                "content_json": dumps(m.content),
                "tool_calls_json": dumps([c.to_dict() for c in m.tool_calls]) if m.tool_calls else None,
                "metadata_json": dumps(m.metadata) if m.metadata else None,
                "conversation_metadata_json": conv_meta,
            })
    return rows


def write_message_table(transcripts: Iterable[Transcript], path: str | os.PathLike[str], *,
                        batch_rows: int = 65536) -> int:
    """Write a Parquet table with one row per message per branch; returns the number of rows.

    Columns: :data:`MESSAGE_TABLE_COLUMNS` (``content_json``, ``tool_calls_json``, ``metadata_json`` and
    ``conversation_metadata_json`` hold JSON text). Rows are written in batches, so memory stays flat.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([
        ("conversation_id", pa.string()), ("branch_id", pa.string()), ("message_index", pa.int32()),
        ("role", pa.string()), ("message_id", pa.string()), ("parent", pa.string()),
        ("is_active_branch", pa.bool_()), ("text", pa.large_string()), ("created_at", pa.string()),
        ("name", pa.string()), ("tool_call_id", pa.string()), ("content_json", pa.large_string()),
        ("tool_calls_json", pa.string()), ("metadata_json", pa.string()), ("conversation_metadata_json", pa.string()),
    ])
    total = 0
    pending: list[dict[str, Any]] = []
    with pq.ParquetWriter(os.fspath(path), schema) as writer:
        for t in transcripts:
            pending.extend(message_rows(t))
            if len(pending) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(pending, schema=schema))
                total += len(pending)
                pending = []
        writer.write_table(pa.Table.from_pylist(pending, schema=schema))
        total += len(pending)
    return total


def convert_logs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                 to: str | None = None, format: str | None = None, strict: bool = True,
                 report: LoadReport | None = None, read_options: dict[str, Any] | None = None,
                 write_options: dict[str, Any] | None = None) -> tuple[int, str]:
    """Stream logs from ``paths`` into ``out`` in format ``to`` (default: from the name). Returns (written, format).

    The output's folder is created when missing; :func:`write` writes to a temporary file there and renames it
    when complete, so a strict load that fails half-way leaves no partial output. ``report`` receives the load
    counts.
    """
    fmt = to or format_for_path(out)
    if fmt not in writable_formats():
        raise UnknownFormatError(f"cannot write format {fmt!r}", path=os.fspath(out),
                                 expected="one of: " + ", ".join(writable_formats()), found=repr(fmt))
    folder = os.path.dirname(os.fspath(out))
    if folder:
        os.makedirs(folder, exist_ok=True)  # the output's folder is created, like the output itself
    files = expand_paths(paths)  # walked once: the check and the load read the same list
    refuse_overwriting_inputs([out], files)
    stream = load(files, format=format, strict=strict, report=report, **(read_options or {}))
    return write(stream, out, format=fmt, **(write_options or {})), fmt
