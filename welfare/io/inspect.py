"""Inspect (UK AISI ``inspect_ai``) eval logs: ``.eval`` zip archives and ``.json`` EvalLog files.

Read with :mod:`zipfile` and JSON only; the ``inspect_ai`` package is not needed.

* ``.eval``: a zip holding ``header.json`` (the log without samples; ``_journal/start.json`` while
  a run is in progress) and one ``samples/<id>_epoch_<n>.json`` per sample, read one at a time.
* ``.json``: one EvalLog object ``{"version", "status", "eval", "plan", "results", "stats",
  "samples": [...]}``; ``eval`` and then each sample are streamed with ijson.

Each sample becomes one transcript with id ``<eval id>/<sample id>_epoch_<n>`` (the log file's stem
where the eval has no ``eval_id``; sample ids repeat across evals of one task). Its ``messages`` are
ChatMessage objects: ``role`` (system/user/assistant/tool), ``content`` (a string or content parts:
``text``; ``reasoning`` becomes a ``thinking`` block, or ``redacted_thinking`` when redacted;
images, audio and other parts are kept), ``tool_calls`` (``{"id", "function", "arguments"}``),
``tool_call_id``, ``function`` (tool name), ``id``; ``source``, ``model``, ``error`` and
``metadata`` are kept in ``message.metadata["inspect"]``. Conversation metadata: ``model``,
``task``, ``sample_id``, ``epoch``, ``scores``, ``target``, ``input``, ``sample_metadata`` (the
sample's own metadata; its ``condition``/``pair_id``/``user_id`` are also copied to the top level),
``run_id``, ``eval_id``. The stop reason of ``output.choices[0]`` goes to the last assistant
message's ``metadata["stop_reason"]``.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from welfare.io._base import FormatSpec, RecordError, open_binary, register_format
from welfare.io._common import (
    Record,
    as_dict,
    as_list,
    as_str,
    convert_records,
    fail,
    iter_json_array,
    open_text_out,
    short,
    stem,
    sub_dict,
    type_name,
)
from welfare.io._json import decode_json, dumps
from welfare.transcript import Message, ToolCall, Transcript

__all__ = ["read_inspect", "write_inspect"]

_ROLES = ("system", "user", "assistant", "tool")
_SAMPLE_NAME = re.compile(r"^samples/(.+)_epoch_(\d+)\.json$")
_LIFTED = ("condition", "pair_id", "user_id")


def _content(raw: Any, field: str) -> str | list[dict[str, Any]]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, list):
        raise fail("content must be a string or a list of content parts", field, "string | list", type_name(raw))
    blocks = []
    for j, part in enumerate(raw):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise fail("a content part must be an object with a string 'type'", f"{field}[{j}]",
                       "{'type': 'text', 'text': ...}", short(part))
        if part["type"] == "reasoning":
            rest = {k: v for k, v in part.items() if k not in ("type", "reasoning", "redacted")}
            if part.get("redacted"):
                blocks.append({"type": "redacted_thinking", "data": part.get("reasoning", ""), **rest})
            else:
                blocks.append({"type": "thinking", "thinking": part.get("reasoning", ""), **rest})
        else:
            blocks.append(part)
    return blocks


def _message(raw: Any, field: str) -> Message:
    m = as_dict(raw, field, optional=False)
    role = m.get("role")
    if role not in _ROLES:
        raise fail(f"unknown role {role!r}", f"{field}.role", " | ".join(_ROLES), short(role))
    calls = []
    for j, call in enumerate(as_list(m.get("tool_calls"), f"{field}.tool_calls")):
        where = f"{field}.tool_calls[{j}]"
        call = as_dict(call, where, optional=False)
        calls.append(ToolCall(name=as_str(call.get("function"), f"{where}.function", optional=False) or "",
                              arguments=call.get("arguments"), id=as_str(call.get("id"), f"{where}.id")))
    info = {k: v for k, v in m.items()
            if k not in ("role", "content", "tool_calls", "tool_call_id", "function", "id")}
    extra_calls = [{k: v for k, v in c.items() if k not in ("id", "function", "arguments", "type")}
                   for c in (m.get("tool_calls") or [])]
    if any(extra_calls):
        info["tool_call_extra"] = extra_calls
    mid = m.get("id")
    return Message(role=role, content=_content(m.get("content"), f"{field}.content"),
                   id=str(mid) if mid is not None else None, tool_calls=tuple(calls),
                   tool_call_id=as_str(m.get("tool_call_id"), f"{field}.tool_call_id"),
                   name=as_str(m.get("function"), f"{field}.function"),
                   metadata={"inspect": info} if info else {})


def _sample(sample: dict[str, Any], spec: dict[str, Any], where: Record) -> Transcript:
    messages = [_message(m, f"messages[{i}]") for i, m in enumerate(as_list(sample.get("messages"), "messages"))]
    output = sample.get("output")
    if isinstance(output, dict):
        choices = output.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            reason = choices[0].get("stop_reason")
            last = next((m for m in reversed(messages) if m.role == "assistant"), None)
            if isinstance(reason, str) and last is not None:
                last.metadata.setdefault("stop_reason", reason)
    sid = sample.get("id", where.index + 1)
    epoch = sample.get("epoch", 1)
    metadata: dict[str, Any] = {}
    model = (output or {}).get("model") if isinstance(output, dict) else None
    model = model or spec.get("model")
    if isinstance(model, str):
        metadata["model"] = model
    for key in ("task", "run_id", "eval_id", "task_id"):
        if isinstance(spec.get(key), str):
            metadata[key] = spec[key]
    metadata["sample_id"] = sid
    metadata["epoch"] = epoch
    for key in ("scores", "target", "input", "error"):
        if sample.get(key) is not None:
            metadata[key] = sample[key]
    sample_meta = sample.get("metadata")
    own_id = None
    if isinstance(sample_meta, dict):
        welfare_meta = sample_meta.get("welfare_metadata")
        own_id = sample_meta.get("welfare_conversation_id")
        rest = {k: v for k, v in sample_meta.items() if k not in ("welfare_metadata", "welfare_conversation_id")}
        if rest:
            metadata["sample_metadata"] = rest
            for key in _LIFTED:
                if key in rest:
                    metadata.setdefault(key, rest[key])
        if isinstance(welfare_meta, dict):
            metadata.update(welfare_meta)
    if not messages:
        raise fail("sample has no messages", "messages", "a non-empty list of ChatMessage objects", "[]")
    # sample ids repeat across evals of one task (two models, two runs), so a made-up id names its eval
    # (the eval's unique eval_id, or the log file's stem for logs without one) before the sample
    run = spec.get("eval_id") if isinstance(spec.get("eval_id"), str) and spec.get("eval_id") else stem(where.path)
    cid = own_id if isinstance(own_id, str) and own_id else f"{run}/{sid}_epoch_{epoch}"
    return Transcript(id=cid, messages=messages, metadata=metadata)


def _zip_records(path: str) -> Iterator[tuple[Record, Any]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        yield Record(path, None, 0, "$"), RecordError(f"not a readable .eval archive: {err}", field="$",
                                                      expected="a zip archive with header.json and samples/")
        return
    with archive:
        names = archive.namelist()
        spec: dict[str, Any] = {}
        for header in ("header.json", "_journal/start.json"):
            if header in names:
                parsed = decode_json(archive.read(header), None)
                if isinstance(parsed, dict) and isinstance(parsed.get("eval"), dict):
                    spec = parsed["eval"]
                break
        samples = []
        for name in names:
            match = _SAMPLE_NAME.match(name)
            if match:
                samples.append((int(match.group(2)), _natural(match.group(1)), name))
        for index, (_, _, name) in enumerate(sorted(samples)):
            where = Record(path, None, index, name)
            try:
                raw = archive.read(name)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                yield where, RecordError(f"cannot read {name}: {err}", field=name, expected="a readable zip member")
                continue
            obj = decode_json(raw, None)
            if isinstance(obj, RecordError):
                yield where, RecordError(obj.reason, field=name, expected=obj.expected, found=obj.found)
                continue
            yield where, (obj, spec)


def _natural(text: str) -> tuple[int, Any]:
    return (0, int(text)) if text.isdigit() else (1, text)


def _json_records(path: str) -> Iterator[tuple[Record, Any]]:
    import ijson

    spec: dict[str, Any] = {}
    try:
        with open_binary(path, skip_bom=True) as fh:
            for obj in ijson.items(fh, "eval", use_float=True):
                spec = obj if isinstance(obj, dict) else {}
                break
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
        spec = {}
    for where, obj in iter_json_array(path, item_path="samples.item", field="samples",
                                      expected="an EvalLog JSON object"):
        yield where, obj if isinstance(obj, RecordError) else (obj, spec)


def read_inspect(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream one transcript per sample of an Inspect ``.eval`` or ``.json`` log."""
    spath = os.fspath(path)
    with open(spath, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    records = _zip_records(spath) if is_zip else _json_records(spath)

    def unpack() -> Iterator[tuple[Record, Any]]:
        for where, item in records:
            if isinstance(item, RecordError):
                yield where, item
            elif not isinstance(item[0], dict):
                yield where, RecordError("a sample must be a JSON object", field=where.prefix, expected="object",
                                         found=type_name(item[0]))
            else:
                yield where, {"__sample__": item[0], "__spec__": item[1]}

    return convert_records(unpack(), lambda obj, where: _sample(obj["__sample__"], obj["__spec__"], where),
                           expected="an EvalSample object")


# -- writing ---------------------------------------------------------------------------------------

def _content_out(content: str | list[dict[str, Any]]) -> Any:
    if isinstance(content, str):
        return content
    out = []
    for b in content:
        if b.get("type") == "thinking":
            out.append({"type": "reasoning", "reasoning": b.get("thinking", ""),
                        **{k: v for k, v in b.items() if k not in ("type", "thinking")}})
        elif b.get("type") == "redacted_thinking":
            out.append({"type": "reasoning", "reasoning": b.get("data", ""), "redacted": True,
                        **{k: v for k, v in b.items() if k not in ("type", "data")}})
        else:
            out.append(b)
    return out


def _message_out(m: Message) -> dict[str, Any]:
    info = dict(sub_dict(m.metadata, "inspect"))
    extra_calls = info.pop("tool_call_extra", None) or []
    out: dict[str, Any] = {"role": m.role, "content": _content_out(m.content)}
    if m.id is not None:
        out["id"] = m.id
    calls = m.calls() if m.role == "assistant" else ()
    if calls:
        out["tool_calls"] = []
        for j, c in enumerate(calls):
            call = {"id": c.id, "function": c.name, "arguments": c.arguments if c.arguments is not None else {},
                    "type": "function"}
            if j < len(extra_calls) and isinstance(extra_calls[j], dict):
                call.update(extra_calls[j])
            out["tool_calls"].append(call)
        if isinstance(out["content"], list):
            out["content"] = [b for b in out["content"] if b.get("type") != "tool_use"]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.role == "tool" and m.name is not None:
        out["function"] = m.name
    out.update(info)
    return out


def _sample_out(t: Transcript, index: int) -> dict[str, Any]:
    meta = t.metadata
    branch = t.active_branch.messages
    sid = meta.get("sample_id", t.id)
    epoch = meta.get("epoch", 1)
    first_reply = next((i for i, m in enumerate(branch) if m.role == "assistant"), len(branch))
    sample: dict[str, Any] = {"id": sid, "epoch": epoch,
                              "input": meta.get("input", [_message_out(m) for m in branch[:first_reply]]),
                              "target": meta.get("target", ""), "messages": [_message_out(m) for m in branch]}
    last = next((m for m in reversed(branch) if m.role == "assistant"), None)
    if last is not None:
        sample["output"] = {"model": meta.get("model", ""), "choices": [
            {"message": _message_out(last), "stop_reason": last.metadata.get("stop_reason", "stop")}]}
    if "scores" in meta:
        sample["scores"] = meta["scores"]
    sample_meta = dict(meta.get("sample_metadata") or {})
    rest = {k: v for k, v in meta.items()
            if k not in ("model", "task", "run_id", "eval_id", "task_id", "sample_id", "epoch", "scores", "target",
                         "input", "error", "sample_metadata", "source_format")
            and not (k in _LIFTED and sample_meta.get(k) == v)}
    if rest:
        sample_meta["welfare_metadata"] = rest
    if t.id != f"{sid}_epoch_{epoch}":
        sample_meta["welfare_conversation_id"] = t.id
    sample["metadata"] = sample_meta
    if "error" in meta:
        sample["error"] = meta["error"]
    return sample


def _spec(first: Transcript | None, count: int | None) -> dict[str, Any]:
    meta = first.metadata if first is not None else {}
    spec = {"run_id": meta.get("run_id", "welfare"), "eval_id": meta.get("eval_id", "welfare"),
            "task": meta.get("task", "welfare"), "task_id": meta.get("task_id", "welfare"), "task_version": 0,
            "created": meta.get("started_at", "1970-01-01T00:00:00+00:00"), "model": meta.get("model", "unknown"),
            "dataset": {"samples": count} if count is not None else {}, "config": {}}
    return spec


def write_inspect(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write an Inspect log: a ``.eval`` zip (one sample file each) or an EvalLog ``.json`` (by extension).

    Each conversation is one sample (its active branch; Inspect samples are linear). The eval
    spec (task, model, run id) comes from the first conversation's metadata. Both stream one
    sample at a time. Returns the number of samples.
    """
    spath = os.fspath(out)
    stream = iter(transcripts)
    first = next(stream, None)
    everything = [first] if first is not None else []
    n = 0
    if spath.endswith(".eval"):
        with zipfile.ZipFile(spath, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            seen: set[str] = set()
            for t in _chain(everything, stream):
                sample = _sample_out(t, n)
                name = f"samples/{sample['id']}_epoch_{sample['epoch']}.json"
                if name in seen:
                    raise ValueError(f"conversation {t.id!r}: sample {sample['id']!r} epoch {sample['epoch']} "
                                     "is written twice; give conversations distinct sample_id/epoch metadata")
                seen.add(name)
                archive.writestr(name, dumps(sample))
                n += 1
            header = {"version": 2, "status": "success", "eval": _spec(first, n), "plan": {}, "results": None,
                      "stats": {}}
            archive.writestr("header.json", dumps(header))
        return n
    with open_text_out(spath) as fh:
        head = {"version": 2, "status": "success", "eval": _spec(first, None), "plan": {}, "results": None,
                "stats": {}}
        fh.write(dumps(head)[:-1] + ',"samples":[')
        for t in _chain(everything, stream):
            fh.write(("," if n else "") + "\n" + dumps(_sample_out(t, n)))
            n += 1
        fh.write("\n]}\n")
    return n


def _chain(head: list[Transcript], rest: Iterator[Transcript]) -> Iterator[Transcript]:
    yield from head
    yield from rest


def _sniff(head: bytes, name: str) -> bool:
    if head.startswith(b"PK\x03\x04"):
        return name.endswith(".eval") or b"header.json" in head or b"samples/" in head
    start = head.lstrip()[:2000]
    return start.startswith(b"{") and b'"eval"' in start and b'"version"' in start and b'"status"' in start


register_format(FormatSpec(
    name="inspect",
    description="Inspect eval logs: .eval zip archives and .json EvalLog files (one transcript per sample)",
    read=read_inspect,
    sniff=_sniff,
    write=write_inspect,
    priority=90,
    extensions=(".eval", ".json"),
))
