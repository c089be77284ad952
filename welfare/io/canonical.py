"""Canonical JSON Lines: one conversation per line (the toolkit's own format).

Schema: ``schemas/transcript.schema.json`` (version :data:`welfare.transcript.SCHEMA_VERSION`).
Each line is ``{"id", "messages": [...], "metadata"?, "current"?, "schema_version"?}``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import IO

from welfare.io._base import FormatSpec, RecordError, iter_lines, register_format
from welfare.io._json import decode_json, dumps
from welfare.transcript import SCHEMA_VERSION, Transcript, TranscriptError

__all__ = ["parse_canonical_line", "read_canonical", "write_canonical"]


def read_canonical(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    for lineno, raw in iter_lines(path):
        yield parse_canonical_line(raw, lineno)


def parse_canonical_line(raw: bytes, lineno: int | None) -> Transcript | RecordError:
    """One canonical JSONL line (without its newline) as a transcript, or a :class:`RecordError` saying why not.

    The per-line step of :func:`read_canonical`, for readers of byte ranges (``welfare.parallel``).
    """
    obj = decode_json(raw, lineno)
    if isinstance(obj, RecordError):
        return obj
    if not isinstance(obj, dict):
        return RecordError("a line must hold one conversation object", line=lineno, field="$",
                           expected="object", found=type(obj).__name__)
    version = obj.get("schema_version", SCHEMA_VERSION)
    if str(version).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        return RecordError(f"unsupported schema version {version!r}", line=lineno, field="schema_version",
                           expected=f"{SCHEMA_VERSION.split('.')[0]}.x", found=repr(version))
    try:
        return Transcript.from_dict(obj)
    except TranscriptError as err:
        rid = obj.get("id") if isinstance(obj.get("id"), str) else None
        return RecordError.from_transcript_error(err, line=lineno, record_id=rid)


def write_canonical(transcripts: Iterable[Transcript], out: str | os.PathLike[str] | IO[str]) -> int:
    """Write canonical JSONL (to a path, or an open text file). Returns the number of conversations."""
    n = 0
    if isinstance(out, str | os.PathLike):
        with open(out, "w", encoding="utf-8", newline="\n") as fh:
            return write_canonical(transcripts, fh)
    for t in transcripts:
        out.write(dumps({"schema_version": SCHEMA_VERSION, **t.to_dict()}) + "\n")
        n += 1
    return n


def _sniff(head: bytes, name: str) -> bool:
    """A JSONL file whose first line is an object with ``id`` and a ``messages`` list of ``role`` objects."""
    first = head.lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    obj = decode_json(first, None)
    if not isinstance(obj, dict):
        return b'"schema_version"' in first[:200]  # a line longer than the sniffed head
    if "schema_version" in obj:
        return True
    msgs = obj.get("messages")
    return ("id" in obj and isinstance(msgs, list) and bool(msgs) and isinstance(msgs[0], dict)
            and "role" in msgs[0] and set(obj) <= {"id", "messages", "metadata", "current"}
            and not any(_openai_only(m) for m in msgs))


_OPENAI_PART_TYPES = {"image_url", "input_audio", "input_text", "input_image", "file"}


def _openai_only(message: object) -> bool:
    """A message with a field or shape only OpenAI's chat format has (an ``id``-ed OpenAI line is otherwise
    indistinguishable from a canonical one): ``refusal``, ``function_call``, ``audio``, tool calls wrapped in
    ``function``, a ``function``/``developer`` role, or content parts such as ``image_url``."""
    if not isinstance(message, dict):
        return False
    if {"refusal", "function_call", "audio"} & set(message) or message.get("role") in ("function", "developer"):
        return True
    calls = message.get("tool_calls")
    if isinstance(calls, list) and any(isinstance(c, dict) and "function" in c for c in calls):
        return True
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(p, dict) and p.get("type") in _OPENAI_PART_TYPES
                                             for p in content)


register_format(FormatSpec(
    name="canonical",
    description="welfare canonical JSONL: one {id, messages, metadata} conversation per line",
    read=read_canonical,
    sniff=_sniff,
    write=write_canonical,
    priority=50,
    extensions=(".jsonl",),
))
