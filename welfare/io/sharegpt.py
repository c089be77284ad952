"""ShareGPT: ``{"id", "conversations": [{"from", "value"}, ...]}`` as a JSON array or JSON Lines.

``from`` values: ``human``/``user`` → user; ``gpt``/``assistant``/``chatgpt``/``bing``/``bard``/
``model`` → assistant; ``system`` → system; ``function_call`` → assistant (the value is the call
text); ``observation``/``tool``/``function``/``function_response`` → tool. A ``from`` other than
``human``/``gpt``/``system`` is kept in ``message.metadata["sharegpt_from"]`` so writing restores
it. A top-level ``system`` string (LLaMA-Factory style) becomes a leading system message. Other
record fields (``model``, ``source``, ``tools``, ...) become conversation metadata.
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
from welfare.transcript import Message, ToolCall, Transcript

__all__ = ["read_sharegpt", "write_sharegpt"]

_FROM = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
         "bing": "assistant", "bard": "assistant", "model": "assistant", "system": "system",
         "function_call": "assistant", "observation": "tool", "tool": "tool", "function": "tool",
         "function_response": "tool"}
_DEFAULT_FROM = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    key = "conversations" if "conversations" in obj else "items" if "items" in obj else "conversations"
    raw = as_list(obj.get(key), key, optional=False)
    messages = []
    for i, turn in enumerate(raw):
        field = f"{key}[{i}]"
        turn = as_dict(turn, field, optional=False)
        who = turn.get("from")
        if who not in _FROM:
            raise fail(f"unknown speaker {who!r}", f"{field}.from", " | ".join(_FROM), short(who))
        value = turn.get("value")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise fail("value must be a string", f"{field}.value", "string", type_name(value))
        role = _FROM[who]
        meta: dict[str, Any] = {}
        if who != _DEFAULT_FROM[role]:
            meta["sharegpt_from"] = who
        extra = {k: json_safe(v) for k, v in turn.items() if k not in ("from", "value")}
        if extra:
            meta["sharegpt"] = extra
        calls = _calls(value) if who == "function_call" else ()
        messages.append(Message(role=role, content="" if calls else value, tool_calls=calls, metadata=meta))
    system = obj.get("system")
    if isinstance(system, str) and system:  # a top-level system prompt (LLaMA-Factory style)
        messages.insert(0, Message(role="system", content=system, metadata={"sharegpt_field": "system"}))
    metadata = {k: json_safe(v) for k, v in obj.items() if k not in (key, "id", "metadata", "system")}
    if isinstance(obj.get("metadata"), dict):
        metadata.update(obj["metadata"])
    cid = obj.get("id")
    return Transcript(id=str(cid) if cid not in (None, "") else where.default_id(), messages=messages,
                      metadata=metadata)


def _calls(value: str) -> tuple[ToolCall, ...]:
    """The tool calls a ``function_call`` turn's value states as JSON: one ``{"name", "arguments"}`` object or a
    list of them (this writer's form); ``()`` when the value is not such JSON, and the turn keeps it as text."""
    try:
        data = json.loads(value)
    except ValueError:
        return ()
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] for c in items):
        return ()
    return tuple(ToolCall(name=c["name"], arguments=c.get("arguments"),
                          id=c["id"] if isinstance(c.get("id"), str) else None) for c in items)


def read_sharegpt(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream ShareGPT records (JSON array, streamed with ijson; or JSONL)."""
    return convert_records(iter_json_records(path), _convert, expected="an object with 'conversations'")


def write_sharegpt(transcripts: Iterable[Transcript], out: str | os.PathLike[str], *, branches: str = "all",
                   lines: bool | None = None) -> int:
    """Write ShareGPT records: JSON Lines, or a JSON array when ``lines`` is False (default: array for ``.json``).

    Block content is written as its text; tool calls are written as their JSON text in a
    ``function_call`` turn when the message has no words of its own.
    """
    spath = os.fspath(out)
    as_lines = lines if lines is not None else not spath.removesuffix(".gz").endswith(".json")
    n = 0
    with open_text_out(out) as fh:
        if not as_lines:
            fh.write("[")
        for t in transcripts:
            for cid, msgs, meta in linear_views(t, branches):
                turns: list[dict[str, Any]] = []
                record_system = None
                for m in msgs:
                    if m.metadata.get("sharegpt_field") == "system" and record_system is None and not turns:
                        record_system = m.text
                        continue
                    who = m.metadata.get("sharegpt_from") or _DEFAULT_FROM[m.role]
                    value = m.text
                    if not value and m.calls():
                        who = "function_call"
                        value = dumps([c.to_dict() for c in m.calls()])
                    turn: dict[str, Any] = {"from": who, "value": value}
                    if isinstance(m.metadata.get("sharegpt"), dict):
                        turn.update(m.metadata["sharegpt"])
                    turns.append(turn)
                record: dict[str, Any] = {"id": cid, "conversations": turns}
                if record_system is not None:
                    record["system"] = record_system
                for k, v in meta.items():
                    record.setdefault(k, v)
                text = dumps(record)
                fh.write((text + "\n") if as_lines else (("," if n else "") + "\n" + text))
                n += 1
        if not as_lines:
            fh.write("\n]\n")
    return n


def _sniff(head: bytes, name: str) -> bool:
    obj = sniff_first_object(head)
    if obj is not None:
        conv = obj.get("conversations", obj.get("items"))
        return isinstance(conv, list) and (not conv or (isinstance(conv[0], dict) and "from" in conv[0]))
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"[", b"{") and b'"conversations"' in head and b'"from"' in head and b'"value"' in head


register_format(FormatSpec(
    name="sharegpt",
    description='ShareGPT {"id", "conversations": [{"from", "value"}]} as a JSON array or JSONL',
    read=read_sharegpt,
    sniff=_sniff,
    write=write_sharegpt,
    priority=60,
    extensions=(".json", ".jsonl"),
))
