"""WildChat / LMSYS-Chat-1M rows from JSON Lines or Parquet.

A row is ``{"conversation_hash" | "conversation_id", "model", "conversation": [{"role",
"content", ...}], "openai_moderation", "detoxify_moderation", "toxic", "redacted", "language",
"timestamp", ...}``. The id is ``conversation_hash`` (WildChat), else ``conversation_id`` (LMSYS),
else ``id``. Every other row field is kept in the conversation metadata (timestamps as ISO 8601
strings, ``timestamp`` also as ``started_at``), so moderation results and flags travel with the
conversation. Per-turn fields beside ``role``/``content`` (``timestamp``, ``turn_identifier``,
``toxic``, ``redacted``, ``language``, ...) go to ``message.metadata``; a turn ``timestamp`` is also
the message's ``created_at``.

Parquet files are streamed in record batches with pyarrow; JSON Lines line by line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from welfare.io._base import FormatSpec, RecordError, register_format
from welfare.io._common import (
    Record,
    as_dict,
    as_list,
    convert_records,
    fail,
    iter_json_records,
    json_safe,
    linear_views,
    open_text_out,
    short,
    sniff_first_object,
    type_name,
)
from welfare.io._json import dumps
from welfare.transcript import Message, Transcript

__all__ = ["iter_parquet_rows", "read_wildchat", "write_wildchat"]

_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "system": "system",
          "tool": "tool"}
_ID_KEYS = ("conversation_hash", "conversation_id", "id")
#: Rows per Parquet row group written; a reader holds about one row group in memory.
ROW_GROUP_ROWS = 1024
#: Rows the Parquet writer holds at once (a multiple of ROW_GROUP_ROWS, so row groups do not depend on it).
SPILL_ROWS = 8 * ROW_GROUP_ROWS


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    raw = as_list(obj.get("conversation"), "conversation", optional=False)
    messages = []
    for i, turn in enumerate(raw):
        field = f"conversation[{i}]"
        turn = as_dict(turn, field, optional=False)
        role = turn.get("role")
        if role not in _ROLES:
            raise fail(f"unknown role {role!r}", f"{field}.role", "user | assistant | system", short(role))
        content = turn.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise fail("content must be a string", f"{field}.content", "string", type_name(content))
        meta = {k: json_safe(v) for k, v in turn.items() if k not in ("role", "content")}
        created = meta.get("timestamp")
        messages.append(Message(role=_ROLES[role], content=content, metadata=meta,
                                created_at=created if isinstance(created, str) else None))
    id_key = next((k for k in _ID_KEYS if obj.get(k) not in (None, "")), None)
    metadata = {k: json_safe(v) for k, v in obj.items() if k != "conversation" and k != id_key}
    if isinstance(metadata.get("timestamp"), str):
        metadata.setdefault("started_at", metadata["timestamp"])
    if id_key not in (None, "conversation_id"):
        metadata["id_field"] = id_key
    cid = str(obj[id_key]) if id_key else where.default_id()
    return Transcript(id=cid, messages=messages, metadata=metadata)


def iter_parquet_rows(path: str | os.PathLike[str], batch_size: int = 1024) -> Iterator[tuple[Record, Any]]:
    """(where, row dict) for each row of a Parquet file, read in record batches (memory flat in rows)."""
    import pyarrow.parquet as pq

    spath = os.fspath(path)
    index = 0
    try:
        reader = pq.ParquetFile(spath)
        for batch in reader.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield Record(spath, None, index, f"row[{index}]"), row
                index += 1
    except (OSError, ValueError) as err:  # pyarrow raises ArrowInvalid (a ValueError) / ArrowIOError (an OSError)
        yield Record(spath, None, index, f"row[{index}]"), RecordError(
            f"cannot read Parquet: {err}", field=f"row[{index}]", expected="a readable Parquet file")


def _is_parquet(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def read_wildchat(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream WildChat/LMSYS rows from JSON Lines (gzip transparent) or Parquet."""
    spath = os.fspath(path)
    rows = iter_parquet_rows(spath) if _is_parquet(spath) else iter_json_records(spath)
    return convert_records(rows, _convert, expected="a row with a 'conversation' list")


def _rows(transcripts: Iterable[Transcript], branches: str) -> Iterator[dict[str, Any]]:
    for t in transcripts:
        for cid, msgs, meta in linear_views(t, branches):
            id_key = meta.get("id_field", "conversation_id")
            row: dict[str, Any] = {id_key: cid}
            turns = []
            for m in msgs:
                turn: dict[str, Any] = {"role": m.role, "content": m.text}
                for k, v in m.metadata.items():
                    turn.setdefault(k, v)
                if m.created_at is not None:
                    turn.setdefault("timestamp", m.created_at)
                turns.append(turn)
            row["conversation"] = turns
            row["turn"] = sum(1 for m in msgs if m.role == "user")
            for k, v in meta.items():
                if k not in ("id_field", "source_format") and not (k == "started_at" and "timestamp" in meta):
                    row.setdefault(k, v)
            yield row


def write_wildchat(transcripts: Iterable[Transcript], out: str | os.PathLike[str], *, branches: str = "all") -> int:
    """Write WildChat-style rows: JSON Lines, or Parquet when ``out`` ends in ``.parquet``.

    Both stream: JSON Lines row by row; Parquet in pieces of :data:`SPILL_ROWS` rows spilled to temporary
    files, then joined under one schema (a column for every key of any row, in order of first appearance;
    types promoted across pieces, e.g. all-null to string), so memory does not grow with the input.
    """
    spath = os.fspath(out)
    if spath.endswith(".parquet"):
        return _write_parquet_rows(_rows(transcripts, branches), spath)
    n = 0
    with open_text_out(spath) as fh:
        for row in _rows(transcripts, branches):
            fh.write(dumps(row) + "\n")
            n += 1
    return n


def _write_parquet_rows(rows: Iterable[dict[str, Any]], path: str) -> int:
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="welfare-wildchat-") as tmp:
        parts: list[str] = []
        schemas: list[Any] = []
        n = 0

        def spill(chunk: list[dict[str, Any]]) -> None:
            # the piece's inferred schema is kept; its rows wait as JSON Lines until every piece's schema is known
            columns = list(dict.fromkeys(k for row in chunk for k in row))  # from_pylist reads the first row's keys
            schemas.append(pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in chunk]).schema)
            part = os.path.join(tmp, f"{len(parts)}.jsonl")
            with open(part, "w", encoding="utf-8") as fh:
                fh.writelines(dumps(row) + "\n" for row in chunk)
            parts.append(part)

        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            n += 1
            if len(chunk) == SPILL_ROWS:
                spill(chunk)
                chunk = []
        if chunk or not parts:
            spill(chunk)
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
            with pq.ParquetWriter(path, schema) as writer:
                for part in parts:
                    with open(part, encoding="utf-8") as fh:
                        piece = [json.loads(line) for line in fh]
                    writer.write_table(pa.Table.from_pylist(piece, schema=schema), row_group_size=ROW_GROUP_ROWS)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            raise ValueError(f"cannot write {path} as Parquet: {err} (a field has values of incompatible types "
                             f"in different rows, or only empty objects); write JSON Lines instead") from err
    return n


def _sniff(head: bytes, name: str) -> bool:
    if head.startswith(b"PAR1\n"):  # detection hands Parquet files over as their column names
        cols = set(head[5:].decode("utf-8", "replace").split("\n"))
        return "conversation" in cols and bool(cols & {"conversation_hash", "conversation_id", "openai_moderation"})
    obj = sniff_first_object(head)
    if obj is not None:
        conv = obj.get("conversation")
        return isinstance(conv, list) and any(k in obj for k in (*_ID_KEYS[:2], "openai_moderation", "turn"))
    first = head.lstrip()[:4096]
    return first.startswith(b"{") and b'"conversation"' in first and (
        b'"conversation_hash"' in head or b'"conversation_id"' in head or b'"openai_moderation"' in head)


register_format(FormatSpec(
    name="wildchat",
    description="WildChat / LMSYS-Chat-1M rows (conversation list, moderation flags) from JSONL or Parquet",
    read=read_wildchat,
    sniff=_sniff,
    write=write_wildchat,
    priority=70,
    extensions=(".jsonl", ".parquet"),
))
