"""Anthropic HH-RLHF text transcripts: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}``.

A pair becomes ONE conversation with TWO branches. The turns both transcripts share (the longest
common prefix of turns, compared by speaker and text) are shared messages with ids ``"0"``,
``"1"``, ...; the rest of each transcript hangs below them with ids ``"<k>.chosen"`` /
``"<k>.rejected"``, so the two leaves (and therefore the two ``branch_id`` values) end in
``chosen`` and ``rejected``. The chosen branch is active (``Transcript.current``).

When one transcript is a prefix of the other, or both are identical, the shared prefix stops one
turn earlier so that each branch still ends in a message of its own. In the harmless-base test
split 2,307 of 2,312 pairs differ only in the last turn; the other 5 differ earlier and share the
longest common prefix.

A record with a single ``text`` or ``transcript`` field is one linear conversation. An ``id``
field, when present, is the conversation id (the writer adds it); otherwise ``<file>:<line>``.
Everything before the first ``Human:`` marker is an error. Roles: ``Human`` → user,
``Assistant`` → assistant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from welfare.io._base import FormatSpec, RecordError, register_format
from welfare.io._common import (
    Record,
    convert_records,
    fail,
    iter_json_records,
    open_text_out,
    short,
    sniff_first_object,
    type_name,
)
from welfare.io._json import dumps
from welfare.transcript import Message, Transcript

__all__ = ["parse_hh_text", "read_hh_rlhf", "to_hh_text", "write_hh_rlhf"]

_MARKER = re.compile(r"\n\n(Human|Assistant): ?")  # no ^-alternative: it makes the scan four times slower
_ROLE = {"Human": "user", "Assistant": "assistant"}
_SPEAKER = {"user": "Human", "assistant": "Assistant"}


def parse_hh_text(text: str, field: str = "text") -> list[tuple[str, str]]:
    """(role, text) turns of a ``\\n\\nHuman: ...\\n\\nAssistant: ...`` transcript.

    Raises :class:`~welfare.transcript.TranscriptError` when the text does not start with a turn marker.
    """
    if text.startswith(("Human:", "Assistant:")):  # some copies drop the leading blank line
        text = "\n\n" + text
    pieces = _MARKER.split(text)
    if pieces[0].strip() or len(pieces) < 3:
        raise fail("text must start with '\\n\\nHuman:' or '\\n\\nAssistant:'", field,
                   "'\\n\\nHuman: ...\\n\\nAssistant: ...'", short(text[:40]))
    return [(_ROLE[pieces[i]], pieces[i + 1]) for i in range(1, len(pieces), 2)]


def to_hh_text(turns: Iterable[tuple[str, str]]) -> str:
    """The ``\\n\\nHuman: ...`` text of (role, text) turns (roles ``user``/``assistant`` only)."""
    return "".join(f"\n\n{_SPEAKER[role]}: {text}" for role, text in turns)


def _convert(obj: dict[str, Any], where: Record) -> Transcript:
    cid = obj.get("id")
    # the release repeats file names across its subsets (helpful-base/train.jsonl.gz, harmless-base/train...),
    # so a made-up id names the file's folder too: 'harmless-base/train:12'
    folder = os.path.basename(os.path.dirname(os.path.abspath(where.path)))
    cid = str(cid) if cid not in (None, "") else f"{folder}/{where.default_id()}" if folder else where.default_id()
    metadata = {k: v for k, v in obj.items() if k not in ("chosen", "rejected", "text", "transcript", "id")}
    if "chosen" in obj or "rejected" in obj:
        texts = {}
        for side in ("chosen", "rejected"):
            value = obj.get(side)
            if not isinstance(value, str):
                raise fail(f"{side} must be a transcript string", side, "string", type_name(value))
            texts[side] = parse_hh_text(value, side)
        chosen, rejected = texts["chosen"], texts["rejected"]
        shared = 0
        limit = min(len(chosen), len(rejected)) - 1  # each branch keeps at least one message of its own
        while shared < limit and chosen[shared] == rejected[shared]:
            shared += 1
        messages = [Message(role=r, content=t, id=str(i), parent=str(i - 1) if i else None)
                    for i, (r, t) in enumerate(chosen[:shared])]
        for side, turns in (("chosen", chosen), ("rejected", rejected)):
            for k in range(shared, len(turns)):
                parent = (f"{k - 1}.{side}" if k > shared else (str(shared - 1) if shared else None))
                messages.append(Message(role=turns[k][0], content=turns[k][1], id=f"{k}.{side}", parent=parent))
        metadata["shared_turns"] = shared
        return Transcript(id=cid, messages=messages, metadata=metadata, current=f"{len(chosen) - 1}.chosen")
    for key in ("text", "transcript"):
        if isinstance(obj.get(key), str):
            turns = parse_hh_text(obj[key], key)
            return Transcript(id=cid, messages=[Message(role=r, content=t) for r, t in turns], metadata=metadata)
    raise fail("record has no transcript", "chosen", "'chosen' and 'rejected' (or 'text') strings",
               ", ".join(sorted(obj)) or "{}")


def read_hh_rlhf(path: str | os.PathLike[str]) -> Iterator[Transcript | RecordError]:
    """Stream HH-RLHF records (JSON Lines, gzip transparent)."""
    return convert_records(iter_json_records(path), _convert, expected="an object with 'chosen' and 'rejected'")


def _turns(t: Transcript, messages: Iterable[Message]) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        if m.role not in _SPEAKER:
            raise ValueError(f"conversation {t.id!r}: a {m.role} message cannot be written as HH-RLHF text "
                             "(only Human and Assistant turns exist); write another format")
        out.append((m.role, m.text))
    return out


def write_hh_rlhf(transcripts: Iterable[Transcript], out: str | os.PathLike[str]) -> int:
    """Write HH-RLHF JSON Lines: a 2-branch tree as ``chosen``/``rejected``, a linear conversation as ``text``.

    The active branch is ``chosen``. Trees with more than two branches raise ``ValueError``.
    Returns the number of lines.
    """
    n = 0
    with open_text_out(out) as fh:
        for t in transcripts:
            record: dict[str, Any] = {"id": t.id}
            branches = t.branches()
            if len(branches) > 2:
                raise ValueError(f"conversation {t.id!r} has {len(branches)} branches; HH-RLHF holds at most two "
                                 "(chosen and rejected)")
            if len(branches) == 2:
                active = next(b for b in branches if b.is_active)
                other = next(b for b in branches if not b.is_active)
                record["chosen"] = to_hh_text(_turns(t, active.messages))
                record["rejected"] = to_hh_text(_turns(t, other.messages))
            else:
                record["text"] = to_hh_text(_turns(t, branches[0].messages))
            for k, v in t.metadata.items():
                if k not in ("shared_turns", "source_format"):
                    record.setdefault(k, v)
            fh.write(dumps(record) + "\n")
            n += 1
    return n


def _sniff(head: bytes, name: str) -> bool:
    obj = sniff_first_object(head)
    if obj is not None:
        if isinstance(obj.get("chosen"), str) and isinstance(obj.get("rejected"), str):
            return True
        return any(isinstance(obj.get(k), str) and obj[k].lstrip("\n").startswith("Human:")
                   for k in ("text", "transcript"))
    first = head.lstrip()[:200]
    return first.startswith(b"{") and (b'"chosen": "\\n\\nHuman:' in first or b'"chosen":"\\n\\nHuman:' in first)


register_format(FormatSpec(
    name="hh_rlhf",
    description='Anthropic HH-RLHF {"chosen", "rejected"} "\\n\\nHuman: ... \\n\\nAssistant: ..." pairs (JSONL, gz)',
    read=read_hh_rlhf,
    sniff=_sniff,
    write=write_hh_rlhf,
    priority=70,
    extensions=(".jsonl",),
))
