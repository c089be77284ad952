"""Claude.ai data export ``conversations.json``: a JSON array of conversations.

Each conversation has ``uuid``, ``name``, ``created_at``, ``updated_at``, ``account`` and
``chat_messages``: ``{"uuid", "text", "content": [blocks], "sender": "human" | "assistant",
"created_at", "updated_at", "attachments", "files", "parent_message_uuid"?}``.

* ``sender`` ``human`` (or ``user``) becomes ``user``; ``assistant`` and ``system`` keep their names. ``content`` blocks (``text``, ``thinking``, ``tool_use``,
  ``tool_result``, ...) are kept; without blocks the ``text`` field is the content.
* ``parent_message_uuid`` links make a tree (edits and retries are sibling branches); the root
  sentinel ``00000000-0000-4000-8000-000000000000`` (or a missing/null parent) marks a root. A
  parent that names no message of the conversation is an error. Without any parent links the
  messages are one branch in export order.
* The active branch is the one through ``current_leaf_message_uuid`` when the export has it,
  otherwise the branch of the last message in ``chat_messages`` (the most recent one).
* ``attachments`` (with their ``extracted_content``) and ``files`` stay in
  ``message.metadata["claude"]``; they are not part of the message text.
* Conversation: ``name`` → ``title``, ``created_at`` → ``started_at``, ``account.uuid`` → ``user_id``.
"""

from __future__ import annotations

import os
import re
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
    short,
    sub_dict,
    write_json_array,
)
from welfare.transcript import Message, Transcript, TranscriptError

__all__ = ["ROOT_SENTINEL", "read_claude", "write_claude"]

#: ``parent_message_uuid`` of a first message in Claude exports.
ROOT_SENTINEL = "00000000-0000-4000-8000-000000000000"
_SENDERS = {"human": "user", "user": "user", "assistant": "assistant", "system": "system"}
_MSG_KEYS = {"uuid", "text", "content", "sender", "created_at", "parent_message_uuid"}
_CONV_KEYS = {"uuid", "name", "created_at", "updated_at", "chat_messages", "current_leaf_message_uuid",
              "welfare_metadata", "model"}


def _message(raw: Any, field: str, tree: bool) -> Message:
    m = as_dict(raw, field, optional=False)
    sender = m.get("sender")
    if sender not in _SENDERS:
        raise fail(f"unknown sender {sender!r}", f"{field}.sender", "human | assistant | user | system", short(sender))
    blocks = as_list(m.get("content"), f"{field}.content")
    for j, b in enumerate(blocks):
        if not isinstance(b, dict) or not isinstance(b.get("type"), str):
            raise fail("a content block must be an object with a string 'type'", f"{field}.content[{j}]",
                       "{'type': 'text', 'text': ...}", short(b))
    text = as_str(m.get("text"), f"{field}.text") or ""
    content: str | list[dict[str, Any]] = blocks if blocks else text
    info = {k: v for k, v in m.items() if k not in _MSG_KEYS}
    if blocks and text and not any(b.get("type") == "text" for b in blocks):
        info["text"] = text  # words only in `text`: keep them (they are not in any block)
    metadata: dict[str, Any] = {}
    if isinstance(info.get("welfare_metadata"), dict):
        metadata.update(info.pop("welfare_metadata"))
    if info:
        metadata["claude"] = info
    parent = m.get("parent_message_uuid")
    if parent is not None and not isinstance(parent, str):
        raise fail("parent_message_uuid must be a string", f"{field}.parent_message_uuid", "string",
                   type(parent).__name__)
    return Message(role=_SENDERS[sender], content=content, id=as_str(m.get("uuid"), f"{field}.uuid"),
                   parent=(parent if tree and parent != ROOT_SENTINEL else None),
                   created_at=as_str(m.get("created_at"), f"{field}.created_at"), metadata=metadata)


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    raw = as_list(obj.get("chat_messages"), "chat_messages", optional=False)
    tree = any(isinstance(m, dict) and m.get("parent_message_uuid") not in (None, ROOT_SENTINEL) for m in raw)
    messages = [_message(m, f"chat_messages[{i}]", tree) for i, m in enumerate(raw)]
    if tree:
        for i, m in enumerate(messages):
            if m.id is None:
                raise fail("a message in a tree needs a uuid", f"chat_messages[{i}].uuid", "string", "null")
    metadata: dict[str, Any] = {}
    if isinstance(obj.get("name"), str):
        metadata["title"] = obj["name"]
    if isinstance(obj.get("created_at"), str):
        metadata["started_at"] = obj["created_at"]
    if isinstance(obj.get("updated_at"), str):
        metadata["updated_at"] = obj["updated_at"]
    if isinstance(obj.get("model"), str):
        metadata["model"] = obj["model"]
    account = obj.get("account")
    if isinstance(account, dict) and isinstance(account.get("uuid"), str):
        metadata["user_id"] = account["uuid"]
    extra = {k: v for k, v in obj.items() if k not in _CONV_KEYS}
    if extra:
        metadata["claude"] = extra
    if isinstance(obj.get("welfare_metadata"), dict):
        metadata.update(obj["welfare_metadata"])
    current = obj.get("current_leaf_message_uuid")
    if current is not None and not isinstance(current, str):
        raise fail("current_leaf_message_uuid must be a string", "current_leaf_message_uuid", "string",
                   type(current).__name__)
    if current is None and tree and messages:
        current = messages[-1].id
    cid = obj.get("uuid") or where.default_id()
    t = Transcript(id=str(cid), messages=messages, metadata=metadata, current=current)
    try:
        t.validate()
    except TranscriptError as err:  # name the export's own fields
        raise fail(err.reason, _export_field(err.field), err.expected, err.found) from None
    return t


def _export_field(field: str | None) -> str:
    if field is None:
        return "chat_messages"
    match = re.match(r"^messages\[(\d+)\]\.(id|parent)$", field)
    if match:
        name = "uuid" if match.group(2) == "id" else "parent_message_uuid"
        return f"chat_messages[{match.group(1)}].{name}"
    return {"messages": "chat_messages", "current": "current_leaf_message_uuid"}.get(field, field)


def read_claude(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream conversations from a Claude export (JSON array, streamed with ijson; or JSONL)."""
    return convert_records(iter_json_records(path), _convert, expected="a conversation with 'chat_messages'")


def _to_chat_message(m: Message, mid: str, parent: str | None) -> dict[str, Any]:
    info = dict(sub_dict(m.metadata, "claude"))
    if m.role == "tool":  # the app keeps tool results inside assistant turns; a tool turn is written as human
        blocks: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": m.tool_call_id, "name": m.name,
                                         "content": m.content}]
    elif isinstance(m.content, str):
        blocks = [{"type": "text", "text": m.content}]
    else:
        blocks = list(m.content)
    for c in m.tool_calls:
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}})
    out: dict[str, Any] = {"uuid": mid, "text": info.pop("text", m.text),
                           "content": blocks, "sender": "assistant" if m.role == "assistant" else "human",
                           "created_at": m.created_at}
    out.update(info)
    out.setdefault("attachments", [])
    out.setdefault("files", [])
    if parent is not None:
        out["parent_message_uuid"] = parent
    rest = {k: v for k, v in m.metadata.items() if k != "claude"}
    if rest:
        out["welfare_metadata"] = rest
    return out


def conversation_to_claude(t: Transcript) -> dict[str, Any]:
    """One ``conversations.json`` entry for ``t``. System messages have no place in the export and are left out."""
    ids = [m.id or f"{t.id}-{i}" for i, m in enumerate(t.messages)]
    chat = []
    for i, m in enumerate(t.messages):
        if m.role == "system":
            continue
        parent = (m.parent or ROOT_SENTINEL) if t.is_tree else None
        chat.append(_to_chat_message(m, ids[i], parent))
    meta = t.metadata
    out: dict[str, Any] = {"uuid": t.id, "name": meta.get("title", ""), "created_at": meta.get("started_at"),
                           "updated_at": meta.get("updated_at", meta.get("started_at"))}
    if isinstance(meta.get("user_id"), str):
        out["account"] = {"uuid": meta["user_id"]}
    if isinstance(meta.get("model"), str):
        out["model"] = meta["model"]
    if isinstance(meta.get("claude"), dict):
        for key, value in meta["claude"].items():
            out.setdefault(key, value)
    out["chat_messages"] = chat
    if t.is_tree:
        out["current_leaf_message_uuid"] = t.active_branch.messages[-1].id
    rest = {k: v for k, v in meta.items()
            if k not in ("title", "started_at", "updated_at", "user_id", "model", "claude", "source_format")}
    if rest:
        out["welfare_metadata"] = rest
    return out


def write_claude(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write a Claude ``conversations.json`` array (streamed). Returns the number of conversations."""
    return write_json_array((conversation_to_claude(t) for t in transcripts), out)


def _sniff(head: bytes, name: str) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"[", b"{") and b'"chat_messages"' in head


register_format(FormatSpec(
    name="claude",
    description="Claude.ai data export conversations.json (chat_messages; trees via parent_message_uuid)",
    read=read_claude,
    sniff=_sniff,
    write=write_claude,
    priority=80,
    extensions=(".json",),
))
