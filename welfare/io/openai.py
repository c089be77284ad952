"""OpenAI chat messages JSONL: fine-tune/eval ``{"messages": [...]}`` lines and Chat Completions dumps.

Accepted line shapes (one conversation per line):

* ``{"messages": [...], ...}`` (fine-tuning and eval files; request params such as ``model``,
  ``tools`` may sit beside ``messages``), optionally with the response appended as ``"response"``
  or ``"choices"``;
* ``{"request": {...}, "response": {...}}`` pairs of a Chat Completions request and response;
* Batch API input lines ``{"custom_id", "body": {"messages": ...}}`` and output lines
  ``{"custom_id", "response": {"body": {"choices": [...]}}}`` (the latter hold only the reply);
* OpenAI Evals samples ``{"input": [...messages], "ideal": ...}``.

Message fields: ``role`` (``system``/``developer``/``user``/``assistant``/``tool``/legacy
``function``), ``content`` (string, null, or a list of parts such as ``{"type": "text", "text"}``),
``name``, ``tool_calls`` (``{"id", "type": "function", "function": {"name", "arguments": JSON
string}}``), ``tool_call_id``, ``refusal``. A refusal becomes a ``{"type": "refusal", "refusal"}``
content block so its words count as the message text. Several ``choices`` become sibling branches.
A Batch output line for a request that failed (``error``, ``response: null`` or an error body) is
rejected naming the error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from welfare.io._base import FormatSpec, RecordError, register_format
from welfare.io._common import (
    Record,
    as_dict,
    as_list,
    as_str,
    convert_records,
    fail,
    iter_json_records,
    linear_views,
    open_text_out,
    parse_arguments,
    short,
    sniff_first_object,
    sub_dict,
)
from welfare.io._json import dumps
from welfare.transcript import Message, ToolCall, Transcript

__all__ = ["message_from_openai", "message_to_openai", "read_openai", "write_openai"]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool",
          "function": "tool"}
_TEXT_PART_TYPES = frozenset({"input_text", "output_text"})
_SIMPLE_ROLES = frozenset({"system", "user", "assistant", "tool"})
_KNOWN_MESSAGE_KEYS = {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "function_call"}
_WRAPPER_KEYS = {"messages", "input", "request", "response", "choices", "body", "custom_id", "id", "metadata",
                 "model", "tools", "ideal"}


def message_from_openai(data: Any, field: str) -> Message:
    """One OpenAI chat message as a :class:`Message`; raises :class:`TranscriptError` naming ``field``."""
    m = as_dict(data, field, optional=False)
    role = m.get("role")
    if len(m) == 2 and role in _SIMPLE_ROLES and m.get("content").__class__ is str:  # the common case
        return Message(role=role, content=m["content"])
    if role not in _ROLES:
        raise fail(f"unknown role {role!r}", f"{field}.role", " | ".join(_ROLES), short(role))
    content: str | list[dict[str, Any]]
    raw = m.get("content")
    if raw is None:
        content = ""
    elif isinstance(raw, str):
        content = raw
    elif isinstance(raw, list):
        content = []
        for j, part in enumerate(raw):
            if isinstance(part, str):  # some exporters write bare strings
                content.append({"type": "text", "text": part})
            elif isinstance(part, dict) and part.get("type") in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
                # Responses-API style text parts: a text block that remembers its original type
                content.append({**part, "type": "text", "openai_type": part["type"]})
            elif isinstance(part, dict) and isinstance(part.get("type"), str):
                content.append(part)
            else:
                raise fail("a content part must be an object with a string 'type'", f"{field}.content[{j}]",
                           "{'type': 'text', 'text': ...}", short(part))
    else:
        raise fail("content must be a string, null or a list of parts", f"{field}.content",
                   "string | null | list", type(raw).__name__)
    refusal = as_str(m.get("refusal"), f"{field}.refusal")
    if refusal:
        blocks = ([{"type": "text", "text": content}] if content else []) if isinstance(content, str) else content
        content = [*blocks, {"type": "refusal", "refusal": refusal}]
    calls: list[ToolCall] = []
    for j, call in enumerate(as_list(m.get("tool_calls"), f"{field}.tool_calls")):
        where = f"{field}.tool_calls[{j}]"
        call = as_dict(call, where, optional=False)
        fn = as_dict(call.get("function"), f"{where}.function", optional=False)
        name = as_str(fn.get("name"), f"{where}.function.name", optional=False)
        calls.append(ToolCall(name=name or "", arguments=parse_arguments(fn.get("arguments")),
                              id=as_str(call.get("id"), f"{where}.id")))
    metadata: dict[str, Any] = {}
    legacy = m.get("function_call")
    if legacy is not None:
        fn = as_dict(legacy, f"{field}.function_call")
        calls.append(ToolCall(name=as_str(fn.get("name"), f"{field}.function_call.name", optional=False) or "",
                              arguments=parse_arguments(fn.get("arguments"))))
        metadata["openai"] = {"function_call": True}
    if role in ("developer", "function"):
        metadata.setdefault("openai", {})["role"] = role
    extra = {k: v for k, v in m.items() if k not in _KNOWN_MESSAGE_KEYS}
    if extra:
        metadata.setdefault("openai", {})["extra"] = extra
    return Message(role=_ROLES[role], content=content, name=as_str(m.get("name"), f"{field}.name"),
                   tool_calls=tuple(calls), tool_call_id=as_str(m.get("tool_call_id"), f"{field}.tool_call_id"),
                   metadata=metadata)


def message_to_openai(m: Message) -> dict[str, Any]:
    """The OpenAI chat message for ``m`` (refusal blocks go back to the ``refusal`` field)."""
    own = sub_dict(m.metadata, "openai")
    role = own.get("role", m.role)
    out: dict[str, Any] = {"role": role}
    if isinstance(m.content, str):
        out["content"] = m.content
    else:
        refusals = [str(b.get("refusal", "")) for b in m.content if b.get("type") == "refusal"]
        parts = [b for b in m.content if b.get("type") != "refusal"]
        if refusals:
            out["refusal"] = "\n\n".join(refusals)
            if not parts:
                out["content"] = None
            elif len(parts) == 1 and parts[0].get("type") == "text":
                out["content"] = parts[0].get("text", "")
            else:
                out["content"] = parts
        else:
            out["content"] = parts
    if isinstance(out.get("content"), list):
        out["content"] = [_part_out(b) for b in out["content"]]
    if m.name is not None:
        out["name"] = m.name
    calls = m.calls()
    if own.get("function_call") and calls:
        first = calls[0]
        out["function_call"] = {"name": first.name, "arguments": _arguments_text(first.arguments)}
        calls = calls[1:]
    if calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": _arguments_text(c.arguments)}}
                             for c in calls]
        if out.get("content") == "":
            out["content"] = None
        if isinstance(out.get("content"), list):  # tool_use blocks are now tool_calls
            out["content"] = [b for b in out["content"] if b.get("type") != "tool_use"] or None
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    out.update(own.get("extra", {}))
    return out


def _part_out(block: dict[str, Any]) -> dict[str, Any]:
    if "openai_type" in block:
        return {**{k: v for k, v in block.items() if k != "openai_type"}, "type": block["openai_type"]}
    return block


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return dumps({} if arguments is None else arguments)


def _choices_of(response: dict[str, Any], field: str) -> list[Any]:
    body = sub_dict(response, "body") or response
    return as_list(body.get("choices"), f"{field}.choices")


def _batch_failure(obj: dict[str, Any]) -> tuple[str, str, Any] | None:
    """(field, expected, error) when ``obj`` is a Batch API output line for a request that failed."""
    if "custom_id" not in obj:
        return None
    if obj.get("error") is not None:
        return "error", "null (a request that succeeded)", obj["error"]
    response = obj.get("response")
    if isinstance(response, dict):
        body = sub_dict(response, "body")
        if body.get("error") is not None:
            return "response.body.error", "a response with choices", body["error"]
        status = response.get("status_code")
        if isinstance(status, int) and status != 200 and "choices" not in body:
            return "response.status_code", "200", status
    elif "response" in obj:
        return "response", "a response with choices", None
    return None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        words = [str(error[k]) for k in ("code", "type", "message") if isinstance(error.get(k), str) and error[k]]
        return ": ".join(dict.fromkeys(words)) or short(error)
    return "no error given" if error is None else f"status {error}" if isinstance(error, int) else short(error)


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    request: dict[str, Any] = obj
    req_field = ""
    if isinstance(obj.get("request"), dict):
        request, req_field = obj["request"], "request."
    elif isinstance(obj.get("body"), dict) and "messages" in obj["body"]:
        request, req_field = obj["body"], "body."
    key = "messages" if "messages" in request else "input" if isinstance(request.get("input"), list) else None
    raw_messages = as_list(request.get(key), f"{req_field}{key}") if key else []
    messages = [message_from_openai(m, f"{req_field}{key}[{i}]") for i, m in enumerate(raw_messages)]
    metadata: dict[str, Any] = {}
    if isinstance(obj.get("metadata"), dict):
        metadata.update(obj["metadata"])
    model = request.get("model")
    choices: list[Any] = []
    response = obj.get("response")
    if isinstance(response, dict):
        choices = _choices_of(response, "response")
        body = sub_dict(response, "body") or response
        model = body.get("model", model)
    elif "choices" in obj:
        choices = as_list(obj.get("choices"), "choices")
    if isinstance(model, str):
        metadata.setdefault("model", model)
    if isinstance(request.get("tools"), list):
        metadata.setdefault("tools", request["tools"])
    if "ideal" in obj:
        metadata.setdefault("ideal", obj["ideal"])
    replies: list[Message] = []
    for k, choice in enumerate(choices):
        choice = as_dict(choice, f"response.choices[{k}]", optional=False)
        reply = message_from_openai(choice.get("message"), f"response.choices[{k}].message")
        if isinstance(choice.get("finish_reason"), str):
            reply.metadata["finish_reason"] = choice["finish_reason"]
        replies.append(reply)
    cid = obj.get("custom_id") or obj.get("id") or where.default_id()
    if not isinstance(cid, str):
        cid = str(cid)
    current = None
    if len(replies) > 1:  # n > 1: alternative replies are sibling branches
        for i, m in enumerate(messages):
            m.id, m.parent = f"m{i}", (f"m{i - 1}" if i else None)
        for k, reply in enumerate(replies):
            reply.id, reply.parent = f"choice{k}", (messages[-1].id if messages else None)
        current = "choice0" if messages else None  # without a prompt there is no tree to branch
    messages.extend(replies)
    failure = None if replies else _batch_failure(obj)
    if failure is not None and messages:  # a request joined with its failed result: the prompt is still a record
        if failure[2] is not None:
            metadata.setdefault("batch_error", failure[2])
    elif failure is not None:
        raise fail(f"the batch request failed ({_error_text(failure[2])}); the line holds no reply", failure[0],
                   failure[1], short(failure[2]))
    if not messages:
        raise fail("the record holds no messages", "messages", "a non-empty messages list", "none")
    return Transcript(id=cid, messages=messages, metadata=metadata, current=current)


def read_openai(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream OpenAI chat-message records (JSONL or a JSON array)."""
    return convert_records(iter_json_records(path), _convert, expected="an object with 'messages'")


def _fanout(t: Transcript) -> list[Message] | None:
    """The alternative last replies when ``t`` is a prompt with n sibling assistant replies (``n`` > 1)."""
    if not t.is_tree:
        return None
    found = t.branches()
    if len(found) < 2:
        return None
    prefix = found[0].messages[:-1]
    for b in found:
        if len(b.messages) != len(prefix) + 1 or b.messages[-1].role != "assistant":
            return None
        if any(x is not y for x, y in zip(b.messages[:-1], prefix, strict=True)):
            return None
    active = next(b for b in found if b.is_active)
    return [active.messages[-1]] + [b.messages[-1] for b in found if b is not active]


def write_openai(transcripts: Iterable[Transcript], out: str | os.PathLike[str], *, branches: str = "all") -> int:
    """Write ``{"custom_id", "messages", "metadata"}`` lines (the fine-tune shape plus an id and metadata).

    A tree that is one prompt with several alternative replies is written as a Chat Completions
    ``{"request", "response": {"choices": [...]}}`` pair (active reply first). Other trees are
    written one line per branch (``branches="all"``) or as their active branch only.
    Returns the number of lines written.
    """
    n = 0
    with open_text_out(out) as fh:
        for t in transcripts:
            replies = _fanout(t) if branches == "all" else None
            if replies is not None:
                prompt = t.active_branch.messages[:-1]
                request: dict[str, Any] = {"messages": [message_to_openai(m) for m in prompt]}
                if isinstance(t.metadata.get("model"), str):
                    request["model"] = t.metadata["model"]
                choices = []
                for k, m in enumerate(replies):
                    choice: dict[str, Any] = {"index": k, "message": message_to_openai(m)}
                    if "finish_reason" in m.metadata:
                        choice["finish_reason"] = m.metadata["finish_reason"]
                    choices.append(choice)
                pair: dict[str, Any] = {"custom_id": t.id, "request": request, "response": {"choices": choices}}
                if t.metadata:
                    pair["metadata"] = dict(t.metadata)
                fh.write(dumps(pair) + "\n")
                n += 1
                continue
            for cid, msgs, meta in linear_views(t, branches):
                line: dict[str, Any] = {"custom_id": cid, "messages": [message_to_openai(m) for m in msgs]}
                if meta:
                    line["metadata"] = meta
                fh.write(dumps(line) + "\n")
                n += 1
    return n


def _sniff(head: bytes, name: str) -> bool:
    obj = sniff_first_object(head)
    if obj is None:
        start = head.lstrip()[:1]
        return start == b"{" and (b'"messages"' in head[:4096] or b'"choices"' in head[:4096]) \
            and b'"role"' in head and b'"mapping"' not in head[:4096]
    for inner in (obj, obj.get("request"), obj.get("body")):
        if isinstance(inner, dict) and isinstance(inner.get("messages"), list):
            msgs = inner["messages"]
            return not msgs or (isinstance(msgs[0], dict) and "role" in msgs[0])
    if isinstance(obj.get("input"), list) and obj["input"] and isinstance(obj["input"][0], dict):
        return "role" in obj["input"][0]
    response = obj.get("response")
    if isinstance(response, dict):
        body = sub_dict(response, "body") or response
        return isinstance(body.get("choices"), list)
    return False


register_format(FormatSpec(
    name="openai",
    description="OpenAI chat messages JSONL: fine-tune/eval {messages}, Chat Completions request/response, Batch lines",
    read=read_openai,
    sniff=_sniff,
    write=write_openai,
    priority=30,
    extensions=(".jsonl",),
))
