"""Helpers shared by the format modules: record iteration, field checks, timestamps, output files.

Readers convert one parsed record at a time. A converter raises :class:`TranscriptError`
(with a field path relative to the record) for anything it cannot use; :func:`convert_records`
turns that into a :class:`RecordError` carrying the file line (JSONL) or JSON path (arrays), so
a reader never raises for a bad record.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from welfare.io._base import RecordError, iter_lines, logical_name, open_binary
from welfare.io._json import decode_json, dumps
from welfare.transcript import Message, Transcript, TranscriptError

__all__ = [
    "Record",
    "as_dict",
    "as_list",
    "as_str",
    "atomic_output",
    "convert_records",
    "epoch_from_iso",
    "fail",
    "iso_from_epoch",
    "iter_json_array",
    "iter_json_records",
    "json_safe",
    "linear_views",
    "open_text_out",
    "parse_arguments",
    "short",
    "sniff_first_object",
    "stem",
    "sub_dict",
    "type_name",
]


@dataclass(frozen=True, slots=True)
class Record:
    """Where a record came from: ``line`` (JSONL, 1-based) or ``index`` (JSON array item, 0-based)."""

    path: str
    line: int | None
    index: int
    prefix: str  # JSON path of the record inside the file ("" for a JSONL line, "$[3]" for an array item)

    def default_id(self) -> str:
        """An id for records that carry none: ``<file stem>:<line>`` or ``<file stem>#<item>``."""
        if self.line is not None:
            return f"{stem(self.path)}:{self.line}"
        return f"{stem(self.path)}#{self.index}"


def stem(path: str | os.PathLike[str]) -> str:
    """File name without directories, ``.gz`` and the last extension."""
    name = logical_name(path)
    return name.rsplit(".", 1)[0] if "." in name else name


def fail(reason: str, field: str, expected: str | None = None, found: str | None = None) -> TranscriptError:
    """A :class:`TranscriptError` to raise from a converter (use :func:`short` for values in ``found``)."""
    return TranscriptError(reason, field=field, expected=expected, found=found)


def as_str(value: Any, field: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if isinstance(value, str):
        return value
    raise fail(f"{field.rsplit('.', 1)[-1]} must be a string", field, "string", _type(value))


def as_list(value: Any, field: str, *, optional: bool = True) -> list[Any]:
    if value is None and optional:
        return []
    if isinstance(value, list):
        return value
    raise fail(f"{field.rsplit('.', 1)[-1]} must be a list", field, "list", _type(value))


def as_dict(value: Any, field: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if isinstance(value, dict):
        return value
    raise fail(f"{field.rsplit('.', 1)[-1]} must be an object", field, "object", _type(value))


def iso_from_epoch(value: Any, field: str) -> str | None:
    """ISO 8601 (UTC, microseconds) from epoch seconds; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail("a timestamp must be epoch seconds", field, "number", _type(value))
    return _dt.datetime.fromtimestamp(value, tz=_dt.UTC).isoformat()


def epoch_from_iso(value: str | None) -> float | None:
    """Epoch seconds from an ISO 8601 string (naive times are UTC); ``None`` when absent or unparsable."""
    if not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def json_safe(value: Any) -> Any:
    """``value`` with datetimes as ISO strings, numpy scalars/arrays as Python values, NaN as None."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return json_safe(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "__float__"):  # Decimal
        return float(value)
    return str(value)


def first_significant_byte(head: bytes) -> bytes:
    """The first byte that is not whitespace or a UTF-8 byte-order mark."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1]


def iter_json_records(path: str | os.PathLike[str]) -> Iterator[tuple[Record, Any]]:
    """(where, parsed record or :class:`RecordError`) for a JSON array file or a JSON Lines file.

    A file whose first significant byte is ``[`` is streamed item by item with ijson (memory
    stays flat in the number of records); anything else is read as JSON Lines with msgspec.
    """
    spath = os.fspath(path)
    with open_binary(spath) as fh:
        head = fh.read(4096)
    first = first_significant_byte(head)
    if first == b"[":
        yield from iter_json_array(spath)
        return
    document = _one_document(spath) if first == b"{" else None
    if document is not None:
        yield Record(spath, 1, 0, ""), document
        return
    for lineno, raw in iter_lines(spath):
        yield Record(spath, lineno, lineno - 1, ""), decode_json(raw, lineno)


def _one_document(path: str) -> dict[str, Any] | None:
    """The file's one JSON object when it is spread over several lines (a pretty-printed single conversation):
    its first line is not JSON on its own, but the whole file is. None otherwise (JSON Lines, or broken)."""
    first_line = next(iter_lines(path), None)
    if first_line is None or not isinstance(decode_json(first_line[1], first_line[0]), RecordError):
        return None
    with open_binary(path, skip_bom=True) as fh:
        whole = decode_json(fh.read(), 1)
    return whole if isinstance(whole, dict) else None


def iter_json_array(path: str, *, item_path: str = "item", field: str = "$",
                    expected: str = "a JSON array of objects") -> Iterator[tuple[Record, Any]]:
    """Stream the elements at ``item_path`` (ijson syntax) of a JSON file with their positions.

    Each element's record field is ``{field}[{index}]``; a decoding error yields one
    :class:`RecordError` naming that position and ends the stream (the rest cannot be read).
    """
    import ijson  # imported here: only array files need it

    index = 0
    with open_binary(path, skip_bom=True) as fh:
        items = ijson.items(fh, item_path, use_float=True)
        while True:
            where = Record(path, None, index, f"{field}[{index}]")
            try:
                obj = next(items)
            except StopIteration:
                return
            except UnicodeDecodeError as err:
                yield where, RecordError("invalid UTF-8", field=where.prefix, expected="UTF-8 text",
                                         found=str(err))
                return
            except (ijson.JSONError, ijson.IncompleteJSONError) as err:
                reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                trunc = " (truncated?)" if "premature EOF" in str(err) or "Incomplete" in str(err) else ""
                yield where, RecordError(f"malformed JSON{trunc}: {reason}", field=where.prefix,
                                         expected=expected, found="the rest of the file")
                return
            yield where, obj
            index += 1


Converter = Callable[[Any, Record], Transcript]


def convert_records(records: Iterable[tuple[Record, Any]], convert: Converter, *,
                    expected: str = "object") -> Iterator[Transcript | RecordError]:
    """Apply ``convert`` to each parsed record, validating the result; errors become :class:`RecordError`."""
    for where, obj in records:
        if isinstance(obj, RecordError):
            yield obj
            continue
        if not isinstance(obj, dict):
            yield RecordError("a record must be a JSON object", line=where.line, field=where.prefix or "$",
                              expected=expected, found=_type(obj))
            continue
        try:
            t = convert(obj, where)
            t.validate()
        except TranscriptError as err:
            rid = obj.get("id")
            yield RecordError.from_transcript_error(
                err, line=where.line, prefix=f"{where.prefix}." if where.prefix else "",
                record_id=rid if isinstance(rid, str) else None)
            continue
        yield t


def open_text_out(out: str | os.PathLike[str]) -> IO[str]:
    """A UTF-8 text file for writing; gzip-compressed when the name ends in ``.gz``."""
    spath = os.fspath(out)
    if spath.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(spath, "wb"), encoding="utf-8", newline="\n")
    return open(spath, "w", encoding="utf-8", newline="\n")


@contextmanager
def atomic_output(out: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path to write ``out`` to, moved onto ``out`` only when the block succeeds.

    The temporary file has ``out``'s own name inside a hidden folder ``.partial-<random>`` beside it (so it
    ends as ``out`` does: ``.gz``, ``.parquet``, ... still choose the encoding, and an error a writer raises
    names the user's file), and replaces ``out`` in one rename when the block ends without an exception.
    On any exception (a row that cannot be encoded, an interrupt) the folder is removed and ``out`` is left
    as it was: absent, or the earlier file, never a shorter one that reads back without error. A file
    already at ``out`` gives its permissions to the new one; a symbolic link is written through (the file
    it names is replaced, the link stays). A stream (``/dev/stdout``, a named pipe) is written directly.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> try:
    ...     with atomic_output(path) as partial:
    ...         _ = open(partial, "w").write("half a table")
    ...         raise ValueError("row 6 cannot be encoded")
    ... except ValueError:
    ...     pass
    >>> os.listdir(os.path.dirname(path))
    []
    """
    if os.path.exists(out) and not os.path.isfile(out) and not os.path.isdir(out):
        yield os.fspath(out)  # a stream (/dev/stdout, a pipe): nothing to rename, written as it goes
        return
    target = os.path.realpath(os.fspath(out))
    folder, base = os.path.split(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {os.fspath(out)}: no folder {folder}; create it first")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {os.fspath(out)}: it is a folder; name a file")
    hidden = os.path.join(folder, f".partial-{secrets.token_hex(6)}")
    os.mkdir(hidden)
    partial = os.path.join(hidden, base)
    try:
        yield partial
        if os.path.isfile(target):
            shutil.copymode(target, partial)
        os.replace(partial, target)
    finally:
        shutil.rmtree(hidden, ignore_errors=True)


def write_json_array(objects: Iterable[Any], out: str | os.PathLike[str]) -> int:
    """Stream objects as a JSON array, one element per line (export files); returns how many."""
    n = 0
    with open_text_out(out) as fh:
        fh.write("[")
        for obj in objects:
            fh.write(("," if n else "") + "\n" + dumps(obj))
            n += 1
        fh.write("\n]\n")
    return n


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    """The JSON-ish type name of ``value`` for error messages (``null`` for None)."""
    return _type(value)


def linear_views(t: Transcript, branches: str = "all") -> list[tuple[str, list[Message], dict[str, Any]]]:
    """(id, messages, metadata) per conversation for formats that hold one message list per record.

    A linear transcript gives itself. A tree gives its active branch when ``branches="active"``,
    otherwise one record per branch with id ``<id>@<branch_id>`` and metadata ``branch_of``,
    ``branch_id`` and ``is_active_branch`` (shared messages are repeated in each record).
    """
    if branches not in ("all", "active"):
        raise ValueError(f"branches must be 'all' or 'active', not {branches!r}")
    if not t.is_tree:
        return [(t.id, list(t.messages), dict(t.metadata))]
    found = t.branches()
    if len(found) == 1 or branches == "active":
        active = next(b for b in found if b.is_active)
        return [(t.id, list(active.messages), dict(t.metadata))]
    return [(f"{t.id}@{b.branch_id}", list(b.messages),
             {**t.metadata, "branch_of": t.id, "branch_id": b.branch_id, "is_active_branch": b.is_active})
            for b in found]


def parse_arguments(raw: Any) -> Any:
    """Tool-call arguments from a JSON string (kept as the raw string when it is not a JSON object)."""
    if not isinstance(raw, str):
        return raw
    parsed = decode_json(raw.encode("utf-8"), None)
    return parsed if isinstance(parsed, dict) else raw


def sniff_first_object(head: bytes) -> dict[str, Any] | None:
    """The first record of ``head`` when it parses as an object, else None: the first JSON Lines line, or the
    first element of a JSON array (when the head holds it whole), so arrays of records are detected too."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        import ijson

        try:
            obj = next(ijson.items(io.BytesIO(text), "item", use_float=True), None)
        except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None
    first = text.split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return None
    obj = decode_json(first, None)
    return obj if isinstance(obj, dict) else None


def sub_dict(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a dict, else an empty dict (the same object, not a copy)."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}
