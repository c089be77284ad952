"""ChatGPT data export ``conversations.json``: a JSON array of conversation trees.

Each conversation has ``title``, ``create_time``/``update_time`` (epoch seconds), ``mapping``
(``{node_id: {"id", "message": {...} | null, "parent", "children"}}``), ``current_node`` and
``conversation_id``/``id``. Every node with a message becomes a :class:`Message` whose id is the
node id and whose parent is the nearest ancestor that holds a kept message, so every branch
(edits, regenerations) survives; ``current_node`` sets :attr:`Transcript.current`.

Skipped nodes: nodes without a message (the synthetic root) and system messages with no text
(the hidden system prompt). Nothing with user, assistant or tool text is dropped.

Content types: ``text`` (``parts``), ``multimodal_text`` (string parts and parts with a string
``text``, e.g. voice ``audio_transcription``, become text blocks, asset parts become blocks that
keep the original part under ``chatgpt_part``), ``code``,
``execution_output``, ``tether_quote``, ``tether_browsing_display``, ``system_error``,
``reasoning_recap``/``thoughts`` (thinking blocks), ``user_editable_context`` (custom
instructions) and ``model_editable_context`` (memory), both system messages, and unknown types
with ``parts``/``text``. Hidden nodes (``is_visually_hidden_from_conversation``) are kept like
any other. Fields that do not map onto the data model are kept in ``message.metadata["chatgpt"]``
so a written export matches the one read.
An assistant message addressed to a tool (``recipient`` not ``all``) becomes a tool call.
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
    epoch_from_iso,
    fail,
    iso_from_epoch,
    iter_json_records,
    short,
    sub_dict,
    type_name,
    write_json_array,
)
from welfare.transcript import Message, ToolCall, Transcript

__all__ = ["read_chatgpt", "write_chatgpt"]

_ROLES = ("system", "user", "assistant", "tool")
#: content_type -> the key that holds its text
_TEXT_KEY = {"code": "text", "execution_output": "text", "tether_quote": "text", "system_error": "text",
             "tether_browsing_display": "result", "reasoning_recap": "content", "model_editable_context":
             "model_set_context", "computer_output": "text", "sonic_webpage": "text"}
_CONV_KEYS = {"title", "create_time", "update_time", "mapping", "current_node", "conversation_id", "id",
              "default_model_slug", "welfare_metadata"}
_MSG_KEYS = {"id", "author", "create_time", "content"}
#: message metadata keys the writer uses for what a ChatGPT node has no field for
_WELFARE_KEYS = ("welfare_metadata", "welfare_tool_calls", "welfare_tool_call_id")


def _content(raw: Any, field: str) -> tuple[str | list[dict[str, Any]], dict[str, Any]]:
    """(content, leftovers to keep) for one ChatGPT message ``content`` object."""
    c = as_dict(raw, field)
    ctype = c.get("content_type", "text")
    rest = {k: v for k, v in c.items() if k not in ("parts", "content_type")}
    keep: dict[str, Any] = {"content_type": ctype} if ctype != "text" else {}
    if "parts" in c:
        parts = as_list(c.get("parts"), f"{field}.parts")
        if all(isinstance(p, str) for p in parts) and ctype == "text":
            content: str | list[dict[str, Any]] = parts[0] if len(parts) == 1 else (
                [{"type": "text", "text": p} for p in parts] if parts else "")
            if len(parts) == 0:
                keep["parts"] = []
        else:
            blocks: list[dict[str, Any]] = []
            for j, p in enumerate(parts):
                if isinstance(p, str):
                    blocks.append({"type": "text", "text": p})
                elif isinstance(p, dict) and isinstance(p.get("text"), str):
                    # words inside a part (voice mode's audio_transcription): a text block; the rest of
                    # the part is kept without the words, which the writer takes from the block
                    blocks.append({"type": "text", "text": p["text"],
                                   "chatgpt_part": {k: v for k, v in p.items() if k != "text"}})
                elif isinstance(p, dict):
                    kind = p.get("content_type") if isinstance(p.get("content_type"), str) else "asset"
                    blocks.append({"type": kind, "chatgpt_part": p})
                elif p is None:
                    blocks.append({"type": "null", "chatgpt_part": None})
                else:
                    raise fail("a content part must be a string or an object", f"{field}.parts[{j}]",
                               "string | object", type_name(p))
            content = blocks
        if rest:
            keep["fields"] = rest
        return content, keep
    if ctype == "thoughts":
        thoughts = as_list(c.get("thoughts"), f"{field}.thoughts")
        blocks = []
        for j, th in enumerate(thoughts):
            th = as_dict(th, f"{field}.thoughts[{j}]", optional=False)
            blocks.append({"type": "thinking", "thinking": str(th.get("content", "")), "chatgpt_thought": th})
        keep["fields"] = {k: v for k, v in rest.items() if k != "thoughts"}
        return blocks, keep
    if ctype == "user_editable_context":
        texts = [str(c[k]) for k in ("user_profile", "user_instructions") if isinstance(c.get(k), str) and c[k]]
        keep["fields"] = rest
        keep["text_in_fields"] = True
        return "\n\n".join(texts), keep
    key = _TEXT_KEY.get(ctype) or ("text" if isinstance(c.get("text"), str) else None)
    if key is not None and isinstance(c.get(key), str):
        text = c[key]
        keep["text_key"] = key
        fields = {k: v for k, v in rest.items() if k != key}
        if fields:
            keep["fields"] = fields
        if ctype == "reasoning_recap":
            return [{"type": "thinking", "thinking": text}], keep
        return text, keep
    keep["fields"] = rest  # no text we know of: keep the whole object
    return "", keep


def _message(node_id: str, raw: dict[str, Any], field: str) -> Message | None:
    author = as_dict(raw.get("author"), f"{field}.author")
    role = author.get("role")
    if role not in _ROLES:
        raise fail(f"unknown role {role!r}", f"{field}.author.role", " | ".join(_ROLES), short(role))
    content, keep = _content(raw.get("content"), f"{field}.content")
    info: dict[str, Any] = {k: v for k, v in raw.items() if k not in _MSG_KEYS}
    if keep:
        info["content"] = keep
    if raw.get("id") not in (None, node_id):
        info["message_id"] = raw["id"]
    if set(author) - {"role", "name"}:
        info["author"] = {k: v for k, v in author.items() if k not in ("role", "name")}
    meta_in = sub_dict(raw, "metadata")
    if role == "user" and (meta_in.get("is_user_system_message") or keep.get("content_type") == "user_editable_context"):
        info["role"] = "user"
        role = "system"  # custom instructions: not something the user said in this chat
    elif role != "system" and keep.get("content_type") == "model_editable_context":
        info["role"] = role
        role = "system"  # saved memory given to the model as context: nothing the assistant said in this chat
    text_empty = content == "" or content == []
    if role == "system" and text_empty:
        return None
    calls: tuple[ToolCall, ...] = ()
    recipient = raw.get("recipient")
    if role == "assistant" and isinstance(recipient, str) and recipient != "all" and isinstance(content, str):
        calls = (ToolCall(name=recipient, arguments=content),)
        info["call_in_content"] = True
        content = ""
    metadata: dict[str, Any] = {}
    tool_call_id = None
    if any(k in meta_in for k in _WELFARE_KEYS):  # written by write_chatgpt from another format
        if isinstance(meta_in.get("welfare_metadata"), dict):
            metadata.update(meta_in["welfare_metadata"])
        own_calls = meta_in.get("welfare_tool_calls")
        if isinstance(own_calls, list):
            calls = calls + tuple(ToolCall(name=str(c.get("name", "")), arguments=c.get("arguments"), id=c.get("id"))
                                  for c in own_calls if isinstance(c, dict))
        if isinstance(meta_in.get("welfare_tool_call_id"), str):
            tool_call_id = meta_in["welfare_tool_call_id"]
        info["metadata"] = {k: v for k, v in meta_in.items() if k not in _WELFARE_KEYS}
    if info:
        metadata["chatgpt"] = info
    model = meta_in.get("model_slug")
    if isinstance(model, str):
        metadata["model"] = model
    return Message(role=role, content=content, id=node_id, name=as_str(author.get("name"), f"{field}.author.name"),
                   tool_calls=calls, tool_call_id=tool_call_id, created_at=iso_from_epoch(raw.get("create_time"), f"{field}.create_time"),
                   metadata=metadata)


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    mapping = as_dict(obj.get("mapping"), "mapping", optional=False)
    kept: dict[str, Message] = {}
    parent_of: dict[str, str | None] = {}
    for node_id, node in mapping.items():
        field = f"mapping.{node_id}"
        node = as_dict(node, field, optional=False)
        parent = node.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise fail("parent must be a node id", f"{field}.parent", "string | null", type_name(parent))
        if parent is not None and parent not in mapping:
            raise fail(f"parent {parent!r} is not a node of this conversation", f"{field}.parent",
                       "id of another node", short(parent))
        parent_of[node_id] = parent
        raw = node.get("message")
        if raw is not None:
            msg = _message(node_id, as_dict(raw, f"{field}.message"), f"{field}.message")
            if msg is not None:
                kept[node_id] = msg
    resolved: dict[str, str | None] = {}

    def kept_ancestor(node_id: str) -> str | None:
        chain: list[str] = []
        seen: set[str] = set()
        node: str | None = parent_of[node_id]
        while node is not None and node not in kept and node not in resolved:
            if node in seen:
                raise fail("parent links form a cycle", f"mapping.{node_id}.parent", "links that lead to a root",
                           f"cycle through {node!r}")
            seen.add(node)
            chain.append(node)
            node = parent_of[node]
        answer = node if (node is None or node in kept) else resolved[node]
        for skipped in chain:
            resolved[skipped] = answer
        return answer

    messages: list[Message] = []
    for node_id, msg in kept.items():
        msg.parent = kept_ancestor(node_id)
        messages.append(msg)
    current = obj.get("current_node")
    if current is not None:
        if not isinstance(current, str) or current not in mapping:
            raise fail(f"current_node {current!r} is not a node of this conversation", "current_node",
                       "id of a node in mapping", short(current))
        if current not in kept:
            current = kept_ancestor(current)
    metadata: dict[str, Any] = {}
    if isinstance(obj.get("title"), str):
        metadata["title"] = obj["title"]
    started = iso_from_epoch(obj.get("create_time"), "create_time")
    if started is not None:
        metadata["started_at"] = started
    updated = iso_from_epoch(obj.get("update_time"), "update_time")
    if updated is not None:
        metadata["updated_at"] = updated
    if isinstance(obj.get("default_model_slug"), str):
        metadata["model"] = obj["default_model_slug"]
    if isinstance(obj.get("welfare_metadata"), dict):
        metadata.update(obj["welfare_metadata"])
    extra = {k: v for k, v in obj.items() if k not in _CONV_KEYS}
    if "id" in obj and "conversation_id" in obj and obj["id"] != obj["conversation_id"]:
        extra["id"] = obj["id"]
    if extra:
        metadata["chatgpt"] = extra
    cid = obj.get("conversation_id") or obj.get("id") or where.default_id()
    if not messages:
        raise fail("conversation has no messages with content", "mapping", "at least one user/assistant message",
                   f"{len(mapping)} nodes without content")
    return Transcript(id=str(cid), messages=messages, metadata=metadata, current=current)


def read_chatgpt(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream conversations from a ChatGPT export (JSON array, streamed with ijson; or JSONL)."""
    return convert_records(iter_json_records(path), _convert, expected="a conversation with 'mapping'")


# -- writing ---------------------------------------------------------------------------------------

def _content_out(m: Message, info: dict[str, Any]) -> dict[str, Any]:
    keep = sub_dict(info, "content")
    ctype = keep.get("content_type", "text")
    fields = dict(keep.get("fields") or {})
    text = m.calls()[0].arguments if info.get("call_in_content") and m.calls() else None
    if keep.get("text_in_fields"):
        return {"content_type": ctype, **fields}
    if ctype == "thoughts" and isinstance(m.content, list):
        thoughts = [b.get("chatgpt_thought") or {"content": b.get("thinking", "")} for b in m.content
                    if b.get("type") == "thinking"]
        return {"content_type": ctype, "thoughts": thoughts, **fields}
    if "text_key" in keep:
        value = text if text is not None else (m.thinking if ctype == "reasoning_recap" else m.text)
        return {"content_type": ctype, **fields, keep["text_key"]: value}
    if text is not None:
        return {"content_type": ctype, "parts": [text], **fields}
    if isinstance(m.content, str):
        parts: list[Any] = [m.content] if (m.content or "parts" not in keep) else []
    else:
        parts = []
        for b in m.content:
            if "chatgpt_part" in b and b.get("type") == "text" and isinstance(b.get("text"), str):
                parts.append({**b["chatgpt_part"], "text": b["text"]})
            elif "chatgpt_part" in b:
                parts.append(b["chatgpt_part"])
            elif b.get("type") == "text":
                parts.append(b.get("text", ""))
            else:
                parts.append(b)
    if ctype == "text" and any(not isinstance(p, str) for p in parts):
        ctype = "multimodal_text"
    return {"content_type": ctype, "parts": parts, **fields}


def _to_node_message(m: Message, mid: str) -> dict[str, Any]:
    info = sub_dict(m.metadata, "chatgpt")
    author: dict[str, Any] = {"role": info.get("role", m.role), "name": m.name}
    author.update(info.get("author") or {})
    if "metadata" not in author:
        author["metadata"] = {}
    out: dict[str, Any] = {"id": info.get("message_id", mid), "author": author,
                           "create_time": epoch_from_iso(m.created_at), "content": _content_out(m, info)}
    for key, value in info.items():
        if key not in ("content", "message_id", "author", "role", "call_in_content"):
            out[key] = value
    if m.calls() and info.get("call_in_content"):
        out["recipient"] = m.calls()[0].name
    out["metadata"] = dict(out.get("metadata") or {})
    if isinstance(m.metadata.get("model"), str):
        out["metadata"]["model_slug"] = m.metadata["model"]
    rest = {k: v for k, v in m.metadata.items() if k not in ("chatgpt", "model")}
    if rest:
        out["metadata"]["welfare_metadata"] = rest
    extra_calls = m.tool_calls[1:] if info.get("call_in_content") else m.tool_calls
    if extra_calls:  # calls of other formats: ChatGPT has a recipient, not a list of calls
        out["metadata"]["welfare_tool_calls"] = [c.to_dict() for c in extra_calls]
    if m.tool_call_id is not None:
        out["metadata"]["welfare_tool_call_id"] = m.tool_call_id
    out.setdefault("recipient", "all")
    return out


def conversation_to_chatgpt(t: Transcript) -> dict[str, Any]:
    """One ``conversations.json`` entry for ``t`` (a synthetic root node holds the tree together)."""
    root = f"{t.id}-root"
    ids = [m.id or f"{t.id}-{i}" for i, m in enumerate(t.messages)]
    parents: list[str] = []
    for i, m in enumerate(t.messages):
        if t.is_tree:
            parents.append(m.parent or root)
        else:
            parents.append(ids[i - 1] if i else root)
    mapping: dict[str, Any] = {root: {"id": root, "message": None, "parent": None, "children": []}}
    for i, m in enumerate(t.messages):
        mapping[ids[i]] = {"id": ids[i], "message": _to_node_message(m, ids[i]), "parent": parents[i],
                           "children": []}
    for i in range(len(t.messages)):
        mapping[parents[i]]["children"].append(ids[i])
    meta = t.metadata
    current = t.current
    if current is None:
        active = t.active_branch.messages[-1]
        current = active.id or ids[t.messages.index(active)]
    out: dict[str, Any] = {"title": meta.get("title", ""), "create_time": epoch_from_iso(meta.get("started_at")),
                           "update_time": epoch_from_iso(meta.get("updated_at")), "mapping": mapping,
                           "current_node": current, "conversation_id": t.id, "id": t.id}
    if isinstance(meta.get("model"), str):
        out["default_model_slug"] = meta["model"]
    extra = meta.get("chatgpt")
    if isinstance(extra, dict):
        for key, value in extra.items():
            out[key] = value
    rest = {k: v for k, v in meta.items()
            if k not in ("title", "started_at", "updated_at", "model", "chatgpt", "source_format")}
    if rest:
        out["welfare_metadata"] = rest
    return out


def write_chatgpt(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write a ``conversations.json`` array (streamed: one conversation at a time). Returns the count.

    Conversation metadata without a ChatGPT field (``condition``, ``user_id``, ...) is written under
    ``welfare_metadata`` and read back from there.
    """
    return write_json_array((conversation_to_chatgpt(t) for t in transcripts), out)


def _sniff(head: bytes, name: str) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"[", b"{") and b'"mapping"' in head and (b'"current_node"' in head or b'"author"' in head)


register_format(FormatSpec(
    name="chatgpt",
    description="ChatGPT data export conversations.json (trees via mapping/parent; every branch kept)",
    read=read_chatgpt,
    sniff=_sniff,
    write=write_chatgpt,
    priority=80,
    extensions=(".json",),
))
