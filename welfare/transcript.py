"""The one data model: messages, transcripts (message trees) and their branches.

A :class:`Transcript` is a conversation. Its messages form a tree when they carry
``id``/``parent`` links (edited messages and regenerations create siblings); without
links the message list is a single branch. Every root-to-leaf path is a
:class:`Branch` with a stable ``branch_id``. Each branch has a normalised
:class:`Ending`: who ended it, how, and at which message.

Everything downstream (metrics, analysis, viewer) sees conversations only through
this module, so loaders convert *into* it and writers convert *out of* it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = [
    "BAIL_STRINGS",
    "ENDING_STOP_REASONS",
    "END_TOOL_NAMES",
    "ROLES",
    "SCHEMA_VERSION",
    "STOP_REASON_ENDERS",
    "Branch",
    "Ending",
    "Message",
    "ToolCall",
    "Transcript",
    "TranscriptError",
]

#: Version of the canonical JSONL schema (``schemas/transcript.schema.json``).
SCHEMA_VERSION = "1.0"

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")

#: Tool names that mean "the assistant ended the conversation" (lower-cased compare).
END_TOOL_NAMES: frozenset[str] = frozenset(
    {"end_conversation", "end_chat", "leave_conversation", "end_the_conversation", "bail", "bail_tool"}
)
#: Strings an assistant emits to leave a conversation in bail-string set-ups
#: (Ensign, Sleight & Fish 2025 use ``SWITCHCONVERSATION``).
BAIL_STRINGS: tuple[str, ...] = ("SWITCHCONVERSATION",)
#: API stop reasons that end a conversation when they stop its last message, and who ended it: the model
#: (``end_conversation``), or the platform (``refusal``: the Anthropic API's stop reason when its safety
#: classifiers cut a reply off, which is not the model choosing to leave).
STOP_REASON_ENDERS: dict[str, str] = {"end_conversation": "assistant", "refusal": "system"}
ENDING_STOP_REASONS: frozenset[str] = frozenset(STOP_REASON_ENDERS)

EndedBy = Literal["assistant", "user", "system", "none"]
EndingMethod = Literal["tool_call", "bail_string", "stop_reason", "metadata", "none"]


class TranscriptError(ValueError):
    """A conversation violates the data model (bad role, broken tree, ...).

    ``field`` is a JSON-path-like location inside the conversation record, e.g.
    ``messages[3].parent``. Loaders add the file and line.
    """

    def __init__(self, message: str, *, field: str | None = None, expected: str | None = None,
                 found: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        self.reason = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the assistant made to a tool. ``arguments`` is a dict, or the raw string when it is not JSON."""

    name: str
    arguments: Any = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.id is not None:
            out["id"] = self.id
        if self.arguments is not None:
            out["arguments"] = self.arguments
        return out


@dataclass(slots=True)
class Message:
    """One message. ``content`` is a string or a list of content blocks (dicts with a ``type``).

    Block types the toolkit understands: ``text`` (``text``), ``thinking`` (``thinking``),
    ``tool_use`` (``id``, ``name``, ``input``), ``tool_result`` (``tool_use_id``, ``content``);
    other blocks (images, documents, ...) are kept untouched.
    """

    role: str
    content: str | list[dict[str, Any]] = ""
    id: str | None = None
    parent: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The message's visible words: the string content, or its ``text`` blocks joined by blank lines.

        Tool results carried as blocks (Anthropic style) contribute their text too, so a
        user turn that only returns a tool result is not empty, and so do ``refusal`` blocks
        (an OpenAI ``refusal`` field is the words the user sees).
        """
        if isinstance(self.content, str):
            return self.content
        parts: list[str] = []
        for block in self.content:
            kind = block.get("type")
            if kind == "text":
                parts.append(str(block.get("text", "")))
            elif kind == "refusal":
                parts.append(str(block.get("refusal", "")))
            elif kind == "tool_result":
                inner = block.get("content")
                if isinstance(inner, str):
                    parts.append(inner)
                elif isinstance(inner, list):
                    parts.extend(str(b.get("text", "")) for b in inner if isinstance(b, dict) and b.get("type") == "text")
        return "\n\n".join(p for p in parts if p)

    @property
    def thinking(self) -> str:
        """Reasoning text from ``thinking`` blocks (empty when there are none)."""
        if isinstance(self.content, str):
            return ""
        return "\n\n".join(str(b.get("thinking", "")) for b in self.content if b.get("type") == "thinking")

    def calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of this message: ``tool_calls`` plus ``tool_use`` content blocks."""
        if isinstance(self.content, str):
            return self.tool_calls
        from_blocks = tuple(
            ToolCall(name=str(b.get("name", "")), arguments=b.get("input"), id=b.get("id"))
            for b in self.content
            if b.get("type") == "tool_use"
        )
        return self.tool_calls + from_blocks

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON object for this message (only fields that are set)."""
        out: dict[str, Any] = {"role": self.role, "content": copy.deepcopy(self.content)}
        if self.id is not None:
            out["id"] = self.id
        if self.parent is not None:
            out["parent"] = self.parent
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        if self.created_at is not None:
            out["created_at"] = self.created_at
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "message") -> Message:
        """Build a message from its canonical JSON object, checking types.

        Raises :class:`TranscriptError` naming the field (``where`` prefixes it).
        """
        if not isinstance(data, dict):
            if not isinstance(data, Mapping):
                raise TranscriptError("a message must be a JSON object", field=where, expected="object",
                                      found=type(data).__name__)
            data = dict(data)
        role = data.get("role")
        if role not in ROLES:
            raise TranscriptError(f"unknown role {role!r}", field=f"{where}.role",
                                  expected=" | ".join(ROLES), found=repr(role))
        content = data.get("content", "")
        if content.__class__ is not str:
            content = _check_content(content, where)
        elif len(data) == 2 and "content" in data:  # the common {"role", "content"} message
            return cls(role=role, content=content)
        mid = data.get("id")
        parent = data.get("parent")
        tool_call_id = data.get("tool_call_id")
        name = data.get("name")
        created_at = data.get("created_at")
        # one cheap test for the usual case (each field a plain str or absent); the loop names a bad field
        if not ((mid is None or mid.__class__ is str) and (parent is None or parent.__class__ is str)
                and (created_at is None or created_at.__class__ is str) and tool_call_id is None and name is None):
            for key, value in (("id", mid), ("parent", parent), ("tool_call_id", tool_call_id), ("name", name),
                               ("created_at", created_at)):
                if value is not None and not isinstance(value, str):
                    raise TranscriptError(f"{key} must be a string", field=f"{where}.{key}", expected="string",
                                          found=type(value).__name__)
        raw_calls = data.get("tool_calls")
        calls: tuple[ToolCall, ...] = ()
        if raw_calls:
            calls = _check_calls(raw_calls, where)
        metadata = data.get("metadata")
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, Mapping):
            raise TranscriptError("metadata must be an object", field=f"{where}.metadata", expected="object",
                                  found=type(metadata).__name__)
        return cls(role=role, content=content, id=mid, parent=parent, tool_calls=calls, tool_call_id=tool_call_id,
                   name=name, created_at=created_at, metadata=dict(metadata))


def _check_content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for j, block in enumerate(content):
            if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                raise TranscriptError("a content block must be an object with a string 'type'",
                                      field=f"{where}.content[{j}]", expected="{'type': str, ...}",
                                      found=_short(block))
        return [dict(b) for b in content]
    raise TranscriptError("content must be a string or a list of blocks", field=f"{where}.content",
                          expected="string | list of blocks", found=type(content).__name__)


def _check_calls(raw_calls: Any, where: str) -> tuple[ToolCall, ...]:
    if not isinstance(raw_calls, list):
        raise TranscriptError("tool_calls must be a list", field=f"{where}.tool_calls", expected="list",
                              found=type(raw_calls).__name__)
    calls = []
    for j, call in enumerate(raw_calls):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise TranscriptError("a tool call needs a string 'name'", field=f"{where}.tool_calls[{j}]",
                                  expected="{'name': str, 'arguments'?, 'id'?}", found=_short(call))
        calls.append(ToolCall(name=call["name"], arguments=call.get("arguments"), id=call.get("id")))
    return tuple(calls)


@dataclass(frozen=True, slots=True)
class Ending:
    """How a branch ended.

    ``by`` is ``"assistant"`` (the model ended it), ``"user"``, ``"system"`` (the platform ended it, e.g. a
    safety classifier's ``refusal`` stop) or ``"none"`` (the branch simply stops).
    ``method`` is how the ending was signalled: ``tool_call`` (an end-conversation tool),
    ``bail_string`` (e.g. ``SWITCHCONVERSATION`` in the text), ``stop_reason`` (API stop
    reason of the last message), ``metadata`` (the log says so) or ``none``.
    ``message_index`` is the 0-based index within the branch of the message that ended it.
    """

    by: EndedBy = "none"
    method: EndingMethod = "none"
    message_index: int | None = None
    message_id: str | None = None
    detail: str | None = None

    @property
    def ended(self) -> bool:
        return self.by != "none"


NO_ENDING = Ending()


@dataclass(frozen=True, slots=True)
class Branch:
    """One root-to-leaf path through a transcript."""

    branch_id: str
    messages: tuple[Message, ...]
    is_active: bool
    ending: Ending

    def __len__(self) -> int:
        return len(self.messages)

    def by_role(self, role: str) -> list[tuple[int, Message]]:
        """(index in branch, message) for each message of ``role``."""
        return [(i, m) for i, m in enumerate(self.messages) if m.role == role]


@dataclass(slots=True)
class Transcript:
    """A conversation: messages (a list or a tree), conversation metadata and where it came from.

    ``metadata`` keeps what the log says about the conversation: ``model``, ``condition``
    (the arm of a study), ``user_id``, timestamps, and ``source_format``. A conversation-level
    ending that the log records goes in ``metadata["ended_by"]`` (``"assistant"``/``"user"``/``"system"``) with
    an optional ``metadata["ended_at"]`` (a message id).
    ``current`` is the id of the leaf of the active branch when the log names one.

    >>> t = Transcript.from_dict({"id": "c1", "messages": [
    ...     {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    >>> [b.branch_id for b in t.branches()], t.ending.by
    (['0'], 'none')
    """

    id: str
    messages: list[Message]
    metadata: dict[str, Any] = field(default_factory=dict)
    current: str | None = None

    # -- structure ---------------------------------------------------------
    @property
    def is_tree(self) -> bool:
        """True when messages carry parent links (then branches follow the links)."""
        return any(m.parent is not None for m in self.messages)

    def validate(self) -> None:
        """Check the tree: unique ids, parents that exist, no cycles, no empty conversation.

        Raises :class:`TranscriptError` naming the offending field.
        """
        if not isinstance(self.id, str) or not self.id:
            raise TranscriptError("conversation id must be a non-empty string", field="id",
                                  expected="non-empty string", found=repr(self.id))
        if not self.messages:
            raise TranscriptError("conversation has no messages", field="messages",
                                  expected="at least one message", found="[]")
        seen: dict[str, int] = {}
        for i, m in enumerate(self.messages):
            if m.role not in ROLES:
                raise TranscriptError(f"unknown role {m.role!r}", field=f"messages[{i}].role",
                                      expected=" | ".join(ROLES), found=repr(m.role))
            if m.id is not None:
                if m.id in seen:
                    raise TranscriptError(f"duplicate message id {m.id!r} (also messages[{seen[m.id]}])",
                                          field=f"messages[{i}].id", expected="unique ids", found=repr(m.id))
                seen[m.id] = i
        if not self.is_tree:
            return
        for i, m in enumerate(self.messages):
            if m.parent is not None and m.parent not in seen:
                raise TranscriptError(f"parent {m.parent!r} is not a message of this conversation",
                                      field=f"messages[{i}].parent", expected="id of another message",
                                      found=repr(m.parent))
            if m.parent is not None and m.id is None:
                raise TranscriptError("a message with a parent needs an id", field=f"messages[{i}].id",
                                      expected="string", found="null")
        if _links_point_back(self.messages):  # every link goes to an earlier message: no cycle possible
            self._check_current(seen)
            return
        by_id = {m.id: m for m in self.messages if m.id is not None}
        rooted: set[str | None] = set()  # ids already known to lead to a root: each link is walked once
        for i, m in enumerate(self.messages):
            chain: list[str | None] = []
            node = m
            while node.parent is not None and node.id not in rooted:
                chain.append(node.id)
                if len(chain) > len(self.messages):
                    raise TranscriptError("parent links form a cycle", field=f"messages[{i}].parent",
                                          expected="links that lead to a root", found=f"cycle through {m.id!r}")
                node = by_id[node.parent]
            rooted.update(chain)
        self._check_current(seen)

    def _check_current(self, seen: Mapping[str, int]) -> None:
        if self.current is not None and self.current not in seen:
            raise TranscriptError(f"current node {self.current!r} is not a message of this conversation",
                                  field="current", expected="id of a message", found=repr(self.current))

    def _paths(self) -> list[list[Message]]:
        if not self.is_tree or _is_chain(self.messages):
            return [list(self.messages)]
        children: dict[str | None, list[Message]] = {}
        for m in self.messages:
            children.setdefault(m.parent, []).append(m)
        paths: list[list[Message]] = []
        stack: list[tuple[Message, list[Message]]] = [(root, []) for root in reversed(children.get(None, []))]
        while stack:
            node, prefix = stack.pop()
            path = [*prefix, node]
            kids = children.get(node.id, []) if node.id is not None else []
            if not kids:
                paths.append(path)
            for kid in reversed(kids):
                stack.append((kid, path))
        return paths

    def branches(self) -> list[Branch]:
        """Every root-to-leaf path, in document order of their leaves' first divergence.

        ``branch_id`` is the leaf message's id for trees (stable when branches are added)
        and ``"0"`` for a linear conversation. The active branch is the one ending at
        ``current`` when set, otherwise the last one (the most recent edit).
        """
        paths = self._paths()
        ids = [p[-1].id or str(k) for k, p in enumerate(paths)] if self.is_tree else ["0"]
        active = len(paths) - 1
        if self.current is not None and len(paths) > 1:
            for k, p in enumerate(paths):
                if any(m.id == self.current for m in p):
                    active = k
                    break
        return [
            Branch(branch_id=bid, messages=tuple(p), is_active=(k == active), ending=self._ending_of(p))
            for k, (bid, p) in enumerate(zip(ids, paths, strict=True))
        ]

    @property
    def active_branch(self) -> Branch:
        return next(b for b in self.branches() if b.is_active)

    @property
    def ending(self) -> Ending:
        """The ending of the active branch."""
        return self.active_branch.ending

    # -- endings -----------------------------------------------------------
    def _ending_of(self, path: Sequence[Message]) -> Ending:
        for i, m in enumerate(path):
            if m.role != "assistant":
                continue
            for call in m.calls():
                if call.name.lower() in END_TOOL_NAMES:
                    return Ending("assistant", "tool_call", i, m.id, call.name)
            text = m.text
            for bail in BAIL_STRINGS:
                if bail in text:
                    return Ending("assistant", "bail_string", i, m.id, bail)
        if path:
            last = path[-1]
            reason = last.metadata.get("stop_reason")
            if last.role == "assistant" and isinstance(reason, str) and reason in ENDING_STOP_REASONS:
                by = cast(EndedBy, STOP_REASON_ENDERS[reason])
                return Ending(by, "stop_reason", len(path) - 1, last.id, reason)
        ended_by = self.metadata.get("ended_by")
        if ended_by in ("assistant", "user", "system"):
            at = self.metadata.get("ended_at")
            for i, m in enumerate(path):
                if at is not None and m.id == at:
                    return Ending(ended_by, "metadata", i, m.id, None)
            if at is None and path:
                return Ending(ended_by, "metadata", len(path) - 1, path[-1].id, None)
        return NO_ENDING

    # -- turns -------------------------------------------------------------
    def turns(self, role: str) -> list[Message]:
        """Messages of ``role`` on the active branch."""
        return [m for m in self.active_branch.messages if m.role == role]

    @property
    def assistant_turns(self) -> list[Message]:
        return self.turns("assistant")

    @property
    def user_turns(self) -> list[Message]:
        return self.turns("user")

    # -- canonical form ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON object (one line of a canonical JSONL file)."""
        out: dict[str, Any] = {"id": self.id, "messages": [m.to_dict() for m in self.messages]}
        if self.current is not None:
            out["current"] = self.current
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, validate: bool = True) -> Transcript:
        """Build a transcript from its canonical JSON object; raises :class:`TranscriptError`."""
        if not isinstance(data, Mapping):
            raise TranscriptError("a conversation must be a JSON object", field="$", expected="object",
                                  found=type(data).__name__)
        cid = data.get("id")
        if not isinstance(cid, str | int) or isinstance(cid, bool) or cid == "":
            raise TranscriptError("conversation id must be a non-empty string", field="id",
                                  expected="non-empty string", found=_short(cid))
        raw = data.get("messages")
        if not isinstance(raw, list):
            raise TranscriptError("messages must be a list", field="messages", expected="list of messages",
                                  found=type(raw).__name__)
        messages = [Message.from_dict(m, where=f"messages[{i}]") for i, m in enumerate(raw)]
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise TranscriptError("metadata must be an object", field="metadata", expected="object",
                                  found=type(metadata).__name__)
        current = data.get("current")
        if current is not None and not isinstance(current, str):
            raise TranscriptError("current must be a message id", field="current", expected="string",
                                  found=type(current).__name__)
        t = cls(id=str(cid), messages=messages, metadata=dict(metadata), current=current)
        if validate:
            t.validate()
        return t

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def _repr_html_(self) -> str:
        """Notebook display: the safe transcript viewer (:func:`welfare.report.render_transcript_html`)."""
        from welfare.report import render_transcript_html

        return render_transcript_html(self, full_page=False)


def iter_branches(transcripts: Iterable[Transcript]) -> Iterator[tuple[Transcript, Branch]]:
    """(transcript, branch) for every branch of every transcript."""
    for t in transcripts:
        for b in t.branches():
            yield t, b


def _links_point_back(messages: Sequence[Message]) -> bool:
    """True when each message's parent is absent or the message just before it (the usual logged chat).

    Such links cannot form a cycle, so :meth:`Transcript.validate` need not walk them.
    """
    parents = [m.parent for m in messages]
    if parents[0] is not None:
        return False
    before = [m.id for m in messages[:-1]]
    if parents[1:] == before:  # one chain: a single list comparison
        return True
    return all(p is None or p == b for p, b in zip(parents[1:], before, strict=True))


def _is_chain(messages: Sequence[Message]) -> bool:
    """True when the messages are one path in list order: one root, each next message the child of the one before,
    distinct ids. Then the tree has exactly one branch, the list itself, and no walk is needed."""
    ids = [m.id for m in messages]
    parents = [m.parent for m in messages]
    return (parents[0] is None and parents[1:] == ids[:-1] and None not in ids[:-1]
            and len(set(ids)) == len(ids))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
