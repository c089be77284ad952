"""Anthropic Messages API logs: JSONL of request objects, optionally with their responses.

Accepted line shapes (one conversation per line):

* a request ``{"model", "system"?, "messages": [...], ...}``, optionally with the response
  appended as ``"response"``;
* ``{"request": {...}, "response": {...}}`` pairs;
* Message Batches lines: input ``{"custom_id", "params": {...request}}`` and results
  ``{"custom_id", "result": {"type": "succeeded", "message": {...}}}`` (a result alone holds only the reply).

The top-level ``system`` (a string or a list of text blocks) becomes a leading system message.
Message ``content`` is a string or a list of blocks; every block is kept as it is (``text``,
``tool_use``, ``tool_result``, ``thinking``, ``redacted_thinking``, images, documents, ...).
A user turn made only of ``tool_result`` blocks becomes a ``tool`` message (tool output is not
the user speaking); a user turn that mixes results with the user's own blocks is split into one
``tool`` message holding the results and one ``user`` message after it holding the other blocks, each
in block order (the writer joins them back into one turn, results first). A batch result
that is ``errored``/``expired``/``canceled`` and holds no request is rejected naming its type and error.
A response is appended as an assistant message; its ``stop_reason`` (including ``refusal``),
``stop_sequence``, ``id`` and ``usage`` go to that message's metadata. A top-level ``stop_reason``
beside the request goes to the last assistant message. Request ``metadata`` (``user_id``) and any
welfare metadata the writer stored are merged into the conversation metadata.
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
    convert_records,
    fail,
    iter_json_records,
    linear_views,
    open_text_out,
    short,
    sniff_first_object,
    sub_dict,
)
from welfare.io._json import dumps
from welfare.transcript import Message, Transcript

__all__ = ["read_anthropic", "write_anthropic"]

_REQUEST_SKIP = {"messages", "system", "model", "metadata", "tools"}


def _content(raw: Any, field: str) -> str | list[dict[str, Any]]:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        for j, block in enumerate(raw):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise fail("a content block must be an object with a string 'type'", f"{field}[{j}]",
                           "{'type': 'text', 'text': ...}", short(block))
        return raw
    raise fail("content must be a string or a list of blocks", field, "string | list of blocks",
               type(raw).__name__)


def _is_blocks(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value)


def _tool_turn(blocks: list[dict[str, Any]], metadata: dict[str, Any]) -> Message:
    """A user turn made only of ``tool_result`` blocks as the ``tool`` message it is.

    One plain result (``type``, a string ``tool_use_id``, a string or block ``content``) becomes
    the tool message the OpenAI reader would give: that content and ``tool_call_id``. Anything
    more (several results, ``is_error``, ``cache_control``, ...) keeps the blocks as the content,
    which the writer puts back as they are.
    """
    if len(blocks) == 1:
        block = blocks[0]
        use_id = block.get("tool_use_id")
        inner: Any = block.get("content")
        if set(block) == {"type", "tool_use_id", "content"} and isinstance(use_id, str) and (
                isinstance(inner, str) or _is_blocks(inner)):
            return Message(role="tool", content=inner, tool_call_id=use_id, metadata=metadata)
        use_id = use_id if isinstance(use_id, str) else None
        return Message(role="tool", content=blocks, tool_call_id=use_id, metadata=metadata)
    return Message(role="tool", content=blocks, metadata=metadata)


def _split_turn(blocks: list[dict[str, Any]], metadata: dict[str, Any]) -> list[Message]:
    """A user turn that mixes ``tool_result`` blocks with the user's own blocks, as a tool message and a user message.

    The ``tool_result`` blocks, in their order, become one ``tool`` message (as a turn of results alone
    would); the other blocks (``text``, images, ...), in their order, one ``user`` message after it. So the
    turn is one user turn however its blocks are interleaved, and the tool output comes first, where the
    API requires it. The tool message keeps the turn's other fields (``metadata``); the user message is
    marked ``metadata["anthropic"]["continues_turn"]`` so the writer joins them back into one turn.
    """
    results = [b for b in blocks if b["type"] == "tool_result"]
    own = [b for b in blocks if b["type"] != "tool_result"]
    return [_tool_turn(results, metadata),
            Message(role="user", content=own, metadata={"anthropic": {"continues_turn": True}})]


def _message(data: Any, field: str) -> list[Message]:
    """The API message as the data model's messages: one, or several for a user turn that mixes in tool results."""
    m = as_dict(data, field, optional=False)
    role = m.get("role")
    if role not in ("user", "assistant"):
        raise fail(f"unknown role {role!r}", f"{field}.role", "user | assistant (system is a top-level field)",
                   short(role))
    extra = {k: v for k, v in m.items() if k not in ("role", "content")}
    content = _content(m.get("content"), f"{field}.content")
    metadata: dict[str, Any] = {"anthropic": {"extra": extra}} if extra else {}
    if role == "user" and isinstance(content, list) and any(b["type"] == "tool_result" for b in content):
        if all(b["type"] == "tool_result" for b in content):  # tool output, not the user speaking
            return [_tool_turn(content, metadata)]
        return _split_turn(content, metadata)  # the user's words beside tool output: each as what it is
    return [Message(role=role, content=content, metadata=metadata)]


def _reply(resp: dict[str, Any], field: str) -> Message:
    role = resp.get("role", "assistant")
    if role != "assistant":
        raise fail(f"a response must have role 'assistant', not {role!r}", f"{field}.role", "assistant", short(role))
    meta: dict[str, Any] = {}
    for key in ("stop_reason", "stop_sequence", "usage"):
        if resp.get(key) is not None:
            meta[key] = resp[key]
    if isinstance(resp.get("id"), str):
        meta["response_id"] = resp["id"]
    return Message(role="assistant", content=_content(resp.get("content"), f"{field}.content"), metadata=meta)


def _batch_failure(result: dict[str, Any]) -> str:
    """Why a Message Batches result holds no reply: its ``type`` and, when given, the API error."""
    error = result.get("error")
    detail = ""
    if isinstance(error, dict):
        inner = error["error"] if isinstance(error.get("error"), dict) else error  # {"type": "error", "error": {...}}
        kind, message = inner.get("type"), inner.get("message")
        detail = ": ".join(str(x) for x in (kind, message) if isinstance(x, str) and x) or short(error)
    elif error is not None:
        detail = short(error)
    return f"the batch request {result.get('type')!s} ({detail or 'no error given'}); the result holds no reply"


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    request: dict[str, Any] = obj
    prefix = ""
    for key in ("request", "params"):
        if isinstance(obj.get(key), dict):
            request, prefix = obj[key], f"{key}."
            break
    messages: list[Message] = []
    system = request.get("system")
    if system is not None:
        content = _content(system, f"{prefix}system")
        if content:
            messages.append(Message(role="system", content=content))
    raw = request.get("messages")
    if raw is not None or (request is obj and "result" not in obj):
        for i, m in enumerate(as_list(raw, f"{prefix}messages", optional=False)):
            messages.extend(_message(m, f"{prefix}messages[{i}]"))
    metadata: dict[str, Any] = {}
    for meta in (request.get("metadata"), obj.get("metadata") if request is not obj else None):
        if isinstance(meta, dict):
            metadata.update(meta)
    model = request.get("model")
    response: Any = obj.get("response")
    field = "response"
    result = obj.get("result")
    failed: tuple[str, Any] | None = None  # (reason, result type) of a batch request that gave no reply
    if response is None and isinstance(result, dict):
        response, field = result.get("message"), "result.message"
        if response is None and result.get("type") not in (None, "succeeded"):
            metadata["batch_result"] = result.get("type")
            failed = _batch_failure(result), result.get("type")
            if result.get("error") is not None:
                metadata["batch_error"] = result["error"]
    if response is not None:
        resp = as_dict(response, field, optional=False)
        messages.append(_reply(resp, field))
        model = resp.get("model", model)
    elif isinstance(obj.get("stop_reason"), str):
        last = next((m for m in reversed(messages) if m.role == "assistant"), None)
        if last is None:
            raise fail("stop_reason given but there is no assistant message", "stop_reason",
                       "an assistant message to attach it to", short(obj["stop_reason"]))
        last.metadata["stop_reason"] = obj["stop_reason"]
    if isinstance(model, str):
        metadata.setdefault("model", model)
    if isinstance(request.get("tools"), list):
        metadata.setdefault("tools", request["tools"])
    params = {k: v for k, v in request.items()
              if k not in _REQUEST_SKIP and k not in ("custom_id", "id", "response", "stop_reason", "request",
                                                      "params", "result")}
    if params:
        metadata.setdefault("request_params", params)
    cid = obj.get("custom_id") or obj.get("id") or where.default_id()
    if not messages and failed is not None:
        raise fail(failed[0], "result.type", "succeeded", short(failed[1]))
    if not messages:
        raise fail("the record holds no messages", f"{prefix}messages", "a non-empty messages list", "[]")
    return Transcript(id=str(cid), messages=messages, metadata=metadata)


def read_anthropic(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream Anthropic Messages API records (JSONL or a JSON array)."""
    return convert_records(iter_json_records(path), _convert, expected="a Messages API request object")


def _block_content(m: Message) -> str | list[dict[str, Any]]:
    """Content with ``tool_calls`` as ``tool_use`` blocks (Anthropic keeps calls in the content)."""
    if not m.tool_calls:
        return m.content
    blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if isinstance(m.content, str) and m.content else (
        list(m.content) if isinstance(m.content, list) else [])
    for c in m.tool_calls:
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}})
    return blocks


def _to_api(m: Message) -> dict[str, Any]:
    own = sub_dict(m.metadata, "anthropic")
    if m.role == "tool" and isinstance(m.content, list) and m.content and all(
            b.get("type") == "tool_result" for b in m.content):  # already tool_result blocks: as they are
        out: dict[str, Any] = {"role": "user", "content": list(m.content)}
    elif m.role == "tool":  # an OpenAI-style tool message becomes a tool_result block in a user turn
        out = {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}]}
    else:
        out = {"role": m.role, "content": _block_content(m)}
    out.update(own.get("extra", {}))
    return out


def _api_messages(body: list[Message]) -> list[dict[str, Any]]:
    """API messages for ``body``; a message marked ``continues_turn`` (a split turn) joins the user turn before it."""
    out: list[dict[str, Any]] = []
    for m in body:
        api = _to_api(m)
        prev = out[-1] if out else None
        if (sub_dict(m.metadata, "anthropic").get("continues_turn") is True and prev is not None
                and prev["role"] == api["role"] == "user"
                and isinstance(prev["content"], list) and isinstance(api["content"], list)):
            prev["content"] = [*prev["content"], *api["content"]]
        else:
            out.append(api)
    return out


def write_anthropic(transcripts: Iterable[Transcript], out: str | os.PathLike[str], *, branches: str = "all") -> int:
    """Write one ``{"custom_id", "model"?, "system"?, "messages", "metadata"?, "response"?}`` line per conversation.

    Leading system messages become ``system``; a final assistant message that carries a
    ``stop_reason`` is written as the ``response``. System messages after the first user turn
    cannot be expressed and raise ``ValueError``. Trees: one line per branch (``branches="all"``)
    or the active branch only.
    """
    n = 0
    with open_text_out(out) as fh:
        for t in transcripts:
            for cid, msgs, meta in linear_views(t, branches):
                line: dict[str, Any] = {"custom_id": cid}
                model = meta.get("model")
                if isinstance(model, str):
                    line["model"] = model
                k = 0
                systems = []
                while k < len(msgs) and msgs[k].role == "system":
                    systems.append(msgs[k].content)
                    k += 1
                if len(systems) == 1:
                    line["system"] = systems[0]
                elif systems:
                    line["system"] = [{"type": "text", "text": s} if isinstance(s, str) else b
                                      for s in systems for b in ([s] if isinstance(s, str) else s)]
                body = msgs[k:]
                for j, m in enumerate(body):
                    if m.role == "system":
                        raise ValueError(f"conversation {t.id!r}: a system message at position {k + j} cannot be "
                                         "written in the Anthropic format (system is a top-level field); "
                                         "move it to the start or write another format")
                response = None
                if body and body[-1].role == "assistant" and "stop_reason" in body[-1].metadata:
                    last = body[-1]
                    response = {"type": "message", "role": "assistant", "content": _block_content(last)}
                    for key in ("stop_reason", "stop_sequence", "usage"):
                        if key in last.metadata:
                            response[key] = last.metadata[key]
                    if "response_id" in last.metadata:
                        response["id"] = last.metadata["response_id"]
                    if isinstance(model, str):
                        response["model"] = model
                    body = body[:-1]
                line["messages"] = _api_messages(body)
                params = meta.get("request_params")
                if isinstance(params, dict):
                    for key, value in params.items():
                        line.setdefault(key, value)
                if isinstance(meta.get("tools"), list):
                    line["tools"] = meta["tools"]
                rest = {k2: v for k2, v in meta.items() if k2 not in ("request_params", "tools", "model")}
                if rest:
                    line["metadata"] = rest
                if response is not None:
                    line["response"] = response
                fh.write(dumps(line) + "\n")
                n += 1
    return n


_MARKERS = (b'"stop_reason"', b'"tool_use"', b'"tool_result"', b'"redacted_thinking"', b'"thinking"',
            b'"type":"message"', b'"type": "message"', b'"params"', b'"anthropic-version"', b'"claude-')


def _sniff(head: bytes, name: str) -> bool:
    obj = sniff_first_object(head)
    if obj is None:
        return head.lstrip()[:1] == b"{" and b'"messages"' in head and any(k in head for k in _MARKERS)
    request = obj.get("request") or obj.get("params") or obj
    if not isinstance(request, dict):
        return False
    if isinstance(obj.get("result"), dict) and "custom_id" in obj:
        return True
    msgs = request.get("messages")
    if not isinstance(msgs, list):
        return False
    if "system" in request or "stop_reason" in obj or "params" in obj:
        return True
    if isinstance(obj.get("response"), dict) and obj["response"].get("type") == "message":
        return True
    roles = {m.get("role") for m in msgs if isinstance(m, dict)}
    if roles - {"user", "assistant"}:
        return False
    return any(k in head.split(b"\n", 1)[0] for k in _MARKERS)


register_format(FormatSpec(
    name="anthropic",
    description="Anthropic Messages API JSONL: request objects, optionally with responses; Message Batches lines",
    read=read_anthropic,
    sniff=_sniff,
    write=write_anthropic,
    priority=40,
    extensions=(".jsonl",),
))
