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
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from welfare.io._base import FormatSpec, RecordError, logical_name, open_binary, register_format
from welfare.io._common import Record, json_safe, open_text_out, stem
from welfare.io.wildchat import iter_parquet_rows
from welfare.transcript import Message, Transcript, TranscriptError

__all__ = ["read_table", "write_table"]

_RESPONSE_NAMES = ("response", "completion")
#: Rows per Parquet row group written; the writer holds one row group of rows at a time.
ROW_GROUP_ROWS = 1024


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


def _table_rows(transcripts: Iterable[Transcript]) -> Iterator[dict[str, Any]]:
    """``{id, system, prompt, response, metadata...}`` for each branch; metadata values kept when scalar."""
    for t in transcripts:
        branches = t.branches()
        for b in branches:
            msgs = list(b.messages)
            system = msgs.pop(0).text if msgs and msgs[0].role == "system" else None
            if [m.role for m in msgs] != ["user", "assistant"]:
                raise ValueError(f"conversation {t.id!r} is not one prompt and one response "
                                 f"(roles {[m.role for m in b.messages]}); write a multi-turn format instead")
            bid = t.id if len(branches) == 1 else f"{t.id}@{b.branch_id}"
            row: dict[str, Any] = {"id": bid, "system": system, "prompt": msgs[0].text, "response": msgs[1].text}
            for k, v in t.metadata.items():
                if k != "source_format":
                    if isinstance(v, float) and v != v:
                        v = None  # NaN is a missing value, as in a data frame
                    row.setdefault(k, v if isinstance(v, str | int | float | bool) or v is None else str(v))
            yield row


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    return "integer" if isinstance(value, int) else "number"


def _arrow_type(column: str, kinds: set[str]) -> Any:
    import pyarrow as pa

    if not kinds:
        return pa.null()
    if kinds <= {"integer", "number"}:
        return pa.int64() if kinds == {"integer"} else pa.float64()
    if len(kinds) == 1:
        return pa.large_string() if kinds == {"text"} else pa.bool_()
    raise ValueError(f"column {column!r} holds values of more than one type ({', '.join(sorted(kinds))}); a Parquet "
                     "column has one type: make the metadata values one type, or write CSV/TSV")


def _csv_cell(value: Any) -> str:
    """A cell as a data frame writes it: missing → empty, ``True``/``False``, shortest float repr."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return int.__repr__(value)
    return float.__repr__(value)


_OTHER_COMPRESSION = (".bz2", ".xz", ".zip", ".zst", ".tar")


def write_table(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write ``id, [system,] prompt, response`` plus metadata columns as CSV, TSV or Parquet (by extension).

    Every branch must be one user prompt and one assistant response (after an optional system
    message); anything else raises ``ValueError``, as does text UTF-8 cannot encode (a lone
    surrogate), naming the conversation and column. On any error nothing is written: the table
    goes to a temporary file beside ``out`` that replaces it only when complete, so a file already
    at ``out`` is left as it was, never cut short. Metadata keys become
    columns in order of first appearance; a row without a key has an empty cell (null in Parquet);
    ``system`` is a column only when some conversation has a system message. Values other than
    text, numbers, true/false and null are written as their ``str()``.

    Streams: rows go to a temporary file while the columns are collected (the header needs all of
    them), then are written one row at a time (CSV/TSV, ``.gz`` compresses) or in row groups of
    :data:`ROW_GROUP_ROWS` rows (Parquet, one type per column: text as ``large_string``, whole
    numbers as ``int64``, numbers with a fraction as ``double``), so memory does not grow with the
    number of conversations.
    """
    import pickle
    import tempfile

    spath = os.fspath(out)
    name = logical_name(spath)
    if name.endswith(_OTHER_COMPRESSION):
        raise ValueError(f"cannot write {spath}: the table writer compresses only with gzip; "
                         "name the file .csv, .tsv, .csv.gz, .tsv.gz or .parquet")
    columns: dict[str, set[str]] = {"id": {"text"}, "system": {"text"}, "prompt": {"text"}, "response": {"text"}}
    any_system = False
    n = 0
    with tempfile.TemporaryFile(prefix="welfare-table-") as spill:
        for row in _table_rows(transcripts):
            any_system = any_system or row["system"] is not None
            for key, value in row.items():
                kinds = columns.setdefault(key, set())
                if value is not None:
                    kinds.add(_kind(value))
                if isinstance(value, str) and not value.isascii():
                    _check_encodable(value, row["id"], key)
            pickle.dump(list(row.items()), spill, protocol=pickle.HIGHEST_PROTOCOL)
            n += 1
        if not any_system:
            del columns["system"]
        spill.seek(0)
        rows = (dict(pickle.load(spill)) for _ in range(n))
        # a row can still fail now (a number too big for Parquet, a full disk, an interrupt): welfare.io.write,
        # the only caller, gives a temporary path that replaces the user's file only once the table is whole
        if name.endswith(".parquet"):
            _write_parquet(rows, spath, columns)
        else:
            with open_text_out(spath) as fh:
                writer = csv.writer(fh, delimiter="\t" if name.endswith((".tsv", ".tab")) else ",",
                                    lineterminator="\n")
                writer.writerow(columns)
                writer.writerows([_csv_cell(row.get(c)) for c in columns] for row in rows)
    return n


def _check_encodable(text: str, conversation: str, column: str) -> None:
    """Raise ``ValueError`` naming the conversation and column when ``text`` cannot be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"conversation {conversation!r}: the {column!r} text holds {text[err.start]!r} at character {err.start}, "
            "a lone surrogate that UTF-8 cannot encode (e.g. an unpaired \\ud800 escape in JSON); replace it "
            "before writing, e.g. text.encode('utf-8', 'replace').decode('utf-8')") from err


def _write_parquet(rows: Iterator[dict[str, Any]], path: str, columns: dict[str, set[str]]) -> None:
    """Row groups of ``rows`` to ``path``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(c, kinds)) for c, kinds in columns.items()])
    try:
        with pq.ParquetWriter(path, schema) as writer:
            while group := list(itertools.islice(rows, ROW_GROUP_ROWS)):
                arrays = [pa.array([row.get(c) for row in group], type=field.type)
                          for c, field in zip(columns, schema, strict=True)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=ROW_GROUP_ROWS)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        raise ValueError(f"cannot write {path} as Parquet: {err} (e.g. a whole number beyond 64 bits); "
                         "write CSV/TSV instead") from err


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
