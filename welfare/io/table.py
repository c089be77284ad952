"""Tables of single-turn exchanges: CSV, TSV or Parquet with prompt and response columns.

``welfare.load("x.csv", format="table", prompt="prompt", response="completion")``. Each row is one
conversation: an optional system message (``system=`` column), the user prompt and the assistant
response. ``id=`` names the id column (default: ``id`` when present, else ``<file>:<row>``).
``metadata=[...]`` chooses the columns kept as conversation metadata; by default every other column
is kept. CSV/TSV values are read as strings (no type guessing), Parquet values keep their types.

Detection: a CSV/TSV header or Parquet schema with a ``prompt`` column and exactly one of
``response``/``completion`` is detected as ``table`` without column names; anything else needs
``format="table"`` and the names. Files are streamed in chunks.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from welfare.io._base import FormatSpec, RecordError, logical_name, open_binary, register_format
from welfare.io._common import Record, json_safe, stem
from welfare.io.wildchat import iter_parquet_rows
from welfare.transcript import Message, Transcript, TranscriptError

__all__ = ["read_table", "write_table"]

_RESPONSE_NAMES = ("response", "completion")
CHUNK_ROWS = 4096


def _delimiter(path: str, header: str) -> str:
    name = logical_name(path)
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    return "\t" if header.count("\t") > header.count(",") else ","


def _decoded_lines(raw: Iterable[bytes], bad: set[int]) -> Iterator[str]:
    """Each physical line decoded on its own, so one bad byte spoils one row, not the file.

    Lines that are not UTF-8 are decoded with replacement characters and their 1-based
    numbers added to ``bad``.
    """
    for lineno, line in enumerate(raw, start=1):
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(lineno)
            yield line.decode("utf-8", "replace")


def _csv_rows(path: str) -> Iterator[tuple[Record, Any]]:
    bad: set[int] = set()
    with open_binary(path) as raw:
        lines = _decoded_lines(raw, bad)
        header_line = next(lines, "")
        if 1 in bad:
            yield Record(path, 1, 0, "header"), RecordError("invalid UTF-8", line=1, field="header",
                                                              expected="UTF-8 text", found="a header line that is not UTF-8")
            return
        sep = _delimiter(path, header_line)
        columns = next(csv.reader([header_line], delimiter=sep), [])
        reader = csv.reader(lines, delimiter=sep)
        index = 0
        while True:
            line = reader.line_num + 2  # header is line 1; the row starts on the line after the last one read
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield Record(path, line, index, f"row[{index}]"), RecordError(
                    f"malformed CSV: {err}", line=line, field=f"row[{index}]", expected="a CSV row")
                index += 1
                continue
            if not row:
                continue
            where = Record(path, line, index, f"row[{index}]")
            last = reader.line_num + 1
            if any(n in bad for n in range(line, last + 1)):
                yield where, RecordError("invalid UTF-8", line=line, field=f"row[{index}]", expected="UTF-8 text",
                                         found="bytes that are not UTF-8")
            elif len(row) != len(columns):
                yield where, RecordError(
                    f"row has {len(row)} fields but the header has {len(columns)}", line=line,
                    field=f"row[{index}]", expected=f"{len(columns)} fields", found=str(len(row)))
            else:
                yield where, dict(zip(columns, row, strict=True))
            index += 1


def _rows(path: str) -> Iterator[tuple[Record, Any]]:
    with open(path, "rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    return iter_parquet_rows(path) if parquet else _csv_rows(path)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    return value if isinstance(value, str) else str(value)


def read_table(path: str | os.PathLike[str], *, prompt: str | None = None, response: str | None = None,
               id: str | None = None, system: str | None = None,
               metadata: Sequence[str] | None = None) -> Iterator[Transcript | RecordError]:
    """Stream one conversation per row of a CSV/TSV/Parquet table.

    Parameters
    ----------
    path
        The table (gzip transparent for CSV/TSV).
    prompt, response
        Column names of the user prompt and the assistant response. When omitted, ``prompt`` and
        the one of ``response``/``completion`` present are used; otherwise the file is rejected.
    id, system
        Optional column names for the conversation id and a system prompt.
    metadata
        Columns to keep as conversation metadata (default: every column not used above).
    """
    spath = os.fspath(path)
    rows = _rows(spath)
    checked: list[str] | None = None
    for where, row in rows:
        if isinstance(row, RecordError):
            yield row
            continue
        if checked is None:
            columns = list(row)
            names = _resolve(columns, prompt, response, id, system, metadata)
            if isinstance(names, RecordError):
                yield names
                return
            checked = columns
            prompt_col, response_col, id_col, system_col, meta_cols = names
        cid = _text(row.get(id_col)) if id_col else ""
        messages = []
        if system_col and _text(row.get(system_col)):
            messages.append(Message(role="system", content=_text(row[system_col])))
        user, reply = _text(row.get(prompt_col)), _text(row.get(response_col))
        if not user and not reply:
            yield RecordError("empty conversation: prompt and response are both empty", line=where.line,
                              field=f"{where.prefix}.{prompt_col}", expected="a prompt or a response",
                              found="two empty cells", record_id=cid or None)
            continue
        messages.append(Message(role="user", content=user))
        messages.append(Message(role="assistant", content=reply))
        meta = {c: json_safe(row.get(c)) for c in meta_cols}
        t = Transcript(id=cid or f"{stem(spath)}:{where.index + 1}", messages=messages, metadata=meta)
        try:
            t.validate()
        except TranscriptError as err:  # pragma: no cover - rows are built valid
            yield RecordError.from_transcript_error(err, line=where.line, prefix=f"{where.prefix}.")
            continue
        yield t


def _resolve(columns: list[str], prompt: str | None, response: str | None, id: str | None, system: str | None,
             metadata: Sequence[str] | None) -> tuple[str, str, str | None, str | None, list[str]] | RecordError:
    if prompt is None:
        prompt = "prompt" if "prompt" in columns else None
    if response is None:
        present = [c for c in _RESPONSE_NAMES if c in columns]
        response = present[0] if len(present) == 1 else None
    if prompt is None or response is None:
        return RecordError("table columns are not named", line=1, field="header",
                           expected="prompt= and response= column names (e.g. format='table', prompt='prompt', "
                                    "response='completion')",
                           found="columns " + ", ".join(columns))
    if id is None and "id" in columns:
        id = "id"
    for role, col in (("prompt", prompt), ("response", response), ("id", id), ("system", system)):
        if col is not None and col not in columns:
            return RecordError(f"no column {col!r} for {role}=", line=1, field="header",
                               expected="one of: " + ", ".join(columns), found=repr(col))
    used = {prompt, response, id, system}
    if metadata is None:
        meta_cols = [c for c in columns if c not in used]
    else:
        missing = [c for c in metadata if c not in columns]
        if missing:
            return RecordError(f"no column {missing[0]!r} for metadata=", line=1, field="header",
                               expected="one of: " + ", ".join(columns), found=repr(missing[0]))
        meta_cols = list(metadata)
    return prompt, response, id, system, meta_cols


def write_table(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write ``id, [system,] prompt, response`` plus metadata columns as CSV, TSV or Parquet (by extension).

    Every branch must be one user prompt and one assistant response (after an optional system
    message); anything else raises ``ValueError``. The table is built in memory.
    """
    rows: list[dict[str, Any]] = []
    any_system = False
    for t in transcripts:
        for b in t.branches():
            msgs = list(b.messages)
            system = msgs.pop(0).text if msgs and msgs[0].role == "system" else None
            any_system = any_system or system is not None
            if [m.role for m in msgs] != ["user", "assistant"]:
                raise ValueError(f"conversation {t.id!r} is not one prompt and one response "
                                 f"(roles {[m.role for m in b.messages]}); write a multi-turn format instead")
            bid = t.id if len(t.branches()) == 1 else f"{t.id}@{b.branch_id}"
            row: dict[str, Any] = {"id": bid, "system": system, "prompt": msgs[0].text, "response": msgs[1].text}
            for k, v in t.metadata.items():
                if k != "source_format":
                    row.setdefault(k, v if isinstance(v, str | int | float | bool) or v is None else str(v))
            rows.append(row)
    import pandas as pd

    frame = pd.DataFrame(rows)
    if not any_system and "system" in frame:
        frame = frame.drop(columns="system")
    spath = os.fspath(out)
    name = logical_name(spath)
    if name.endswith(".parquet"):
        frame.to_parquet(spath, index=False, row_group_size=1024)  # readers hold one row group
    else:
        frame.to_csv(spath, index=False, sep="\t" if name.endswith((".tsv", ".tab")) else ",")
    return len(rows)


def _sniff(head: bytes, name: str) -> bool:
    if head.startswith(b"PAR1\n"):
        cols = head[5:].decode("utf-8", "replace").split("\n")
    elif name.endswith((".csv", ".tsv", ".tab")):
        header = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace").rstrip("\r")
        cols = next(csv.reader([header], delimiter="\t" if name.endswith((".tsv", ".tab")) else ","), [])
    else:
        return False
    return "prompt" in cols and sum(c in cols for c in _RESPONSE_NAMES) == 1


register_format(FormatSpec(
    name="table",
    description="CSV/TSV/Parquet with prompt and response columns (format='table', prompt=..., response=...)",
    read=read_table,
    sniff=_sniff,
    write=write_table,
    priority=10,
    extensions=(".csv", ".tsv", ".parquet"),
))
