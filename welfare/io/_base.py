"""The loading machinery every format shares: format registry, errors, reports, file access.

A format is a :class:`FormatSpec`: a ``sniff`` function that recognises a file from its
first bytes and name, and a ``read`` generator that yields, for each input record,
either a :class:`~welfare.transcript.Transcript` or a :class:`RecordError` (never raises
for a bad record). :func:`load` turns record errors into exceptions (strict mode) or into
:class:`Rejected` entries of a :class:`LoadReport` (lenient mode), so that
``read == loaded + rejected`` always holds.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from welfare.transcript import Transcript, TranscriptError

__all__ = [
    "FORMATS",
    "ConversationIds",
    "FormatSpec",
    "LoadReport",
    "LogFormatError",
    "RecordError",
    "Rejected",
    "UnknownFormatError",
    "expand_paths",
    "open_binary",
    "register_format",
]

#: Bytes read from the start of a file to detect its format.
SNIFF_BYTES = 64 * 1024


class LogFormatError(ValueError):
    """A log record could not be read. The message names file, line, field, expected and found."""

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None, field: str | None = None,
                 expected: str | None = None, found: str | None = None, hint: str | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        self.field = field
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [f"{where}: {self.reason}"]
        if self.field:
            parts.append(f"field '{self.field}'")
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        text = "; ".join(parts)
        if self.hint:
            text += f". {self.hint}"
        return text


class UnknownFormatError(LogFormatError):
    """No reader recognises the file; the message lists the known formats."""


@dataclass(frozen=True, slots=True)
class RecordError:
    """What a reader yields for a record it cannot turn into a transcript."""

    reason: str
    line: int | None = None
    field: str | None = None
    expected: str | None = None
    found: str | None = None
    record_id: str | None = None
    hint: str | None = None

    @classmethod
    def from_transcript_error(cls, err: TranscriptError, *, line: int | None = None, prefix: str = "",
                              record_id: str | None = None) -> RecordError:
        fld = f"{prefix}{err.field}" if (prefix and err.field) else (err.field or prefix or None)
        return cls(err.reason, line=line, field=fld, expected=err.expected, found=err.found, record_id=record_id)

    def to_exception(self, path: str) -> LogFormatError:
        return LogFormatError(self.reason, path=path, line=self.line, field=self.field, expected=self.expected,
                              found=self.found, hint=self.hint)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that lenient loading skipped, and why."""

    path: str
    line: int | None
    reason: str
    field: str | None = None
    record_id: str | None = None

    def __str__(self) -> str:
        loc = self.path + (f":{self.line}" if self.line is not None else "")
        return f"{loc}: {self.reason}" + (f" (field '{self.field}')" if self.field else "")


@dataclass(slots=True)
class LoadReport:
    """Counts of one load: ``read == loaded + len(rejected)``; ``formats`` maps each file to its format."""

    loaded: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)

    @property
    def read(self) -> int:
        return self.loaded + len(self.rejected)

    def summary(self) -> str:
        return f"read {self.read}, loaded {self.loaded}, rejected {len(self.rejected)}"


class ConversationIds:
    """The conversation ids one load has read so far, each with the file and record where it was first read.

    An id names one conversation: the score tables key their rows on it, so two records with the same id
    (a record written twice, the same log twice, two runs' logs in one folder) would give rows with the
    same ``(conversation_id, branch_id)`` and merge different conversations in every analysis.
    :meth:`check` tells the first reading of an id from a later one. Memory: one entry per conversation
    (its id and one number), never the transcripts.

    >>> ids = ConversationIds()
    >>> ids.check("c1", "a.jsonl", 1) is None
    True
    >>> ids.check("c1", "b.jsonl", 4).reason
    "record 4: conversation id 'c1' was already read from a.jsonl, record 1"
    """

    _SHIFT = 40  # a file's number goes above the record number in one int per id

    def __init__(self) -> None:
        self._paths: list[str] = []
        self._path_numbers: dict[str, int] = {}
        self._first: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, conversation_id: object) -> bool:
        return conversation_id in self._first

    def check(self, conversation_id: str, path: str, record: int) -> RecordError | None:
        """``None`` the first time ``conversation_id`` is seen (it is remembered as read from ``path``, ``record``,
        counting a file's records from 1); a :class:`RecordError` naming both places every later time."""
        first = self._first.get(conversation_id)
        if first is None:
            number = self._path_numbers.get(path)
            if number is None:
                number = self._path_numbers[path] = len(self._paths)
                self._paths.append(path)
            self._first[conversation_id] = (number << self._SHIFT) | record
            return None
        first_path = self._paths[first >> self._SHIFT]
        first_record = first & ((1 << self._SHIFT) - 1)
        if first_path == path and first_record == record:  # the very same record again: the file was read twice
            earlier = f"this record, when this file was read before (is {path} given more than once?)"
        elif first_path == path:
            earlier = f"record {first_record} of this file"
        else:
            earlier = f"{first_path}, record {first_record}"
        return RecordError(f"record {record}: conversation id {conversation_id!r} was already read from {earlier}",
                           expected="each conversation id once in the logs loaded together",
                           found=f"{conversation_id!r} again", record_id=conversation_id,
                           hint=_duplicate_hint(conversation_id, path))


def _duplicate_hint(conversation_id: str, path: str) -> str:
    name = logical_name(path)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if re.fullmatch(re.escape(stem) + r"[:#]\d+", conversation_id):
        made = ("The reader made this id from the file name and position (the records carry none), so files with "
                "the same name in different folders collide: load them separately, or give the records ids. ")
    elif re.fullmatch(r".+_epoch_\d+", conversation_id):
        made = ("Inspect ids are '<sample id>_epoch_<n>', so two evals of the same task collide: load each eval "
                "separately (or set sample metadata 'welfare_conversation_id'). ")
    else:
        made = ("A record written twice, the same log twice (run.jsonl beside run.jsonl.gz, or a file named twice) "
                "or two runs' logs in one folder give this: remove the copy, load the runs separately, or give "
                "the conversations distinct ids. ")
    return made + ("Lenient loading (strict=False, CLI --lenient) keeps the first and lists each later one as "
                   "rejected")


Reader = Callable[..., Iterator["Transcript | RecordError"]]
Sniffer = Callable[[bytes, str], bool]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """A log format: its name, how to recognise it, how to read it and (optionally) write it.

    ``read(path, **options)`` yields transcripts and :class:`RecordError` values.
    ``sniff(head, name)`` gets the first bytes (decompressed) and the file name.
    ``priority``: higher is tried first during detection (specific formats before generic ones).
    """

    name: str
    description: str
    read: Reader
    sniff: Sniffer | None = None
    write: Callable[..., Any] | None = None
    priority: int = 0
    extensions: tuple[str, ...] = ()


FORMATS: dict[str, FormatSpec] = {}


def register_format(spec: FormatSpec) -> FormatSpec:
    """Add a format to the registry (module import time). Names are unique."""
    if spec.name in FORMATS and FORMATS[spec.name] is not spec:
        raise ValueError(f"format {spec.name!r} is registered twice")
    FORMATS[spec.name] = spec
    return spec


#: The UTF-8 byte-order mark some editors and Windows tools write at the start of a text file.
UTF8_BOM = b"\xef\xbb\xbf"


def open_binary(path: str | os.PathLike[str], *, skip_bom: bool = False) -> IO[bytes]:
    """Open a file for reading bytes; gzip (by magic number, not name) is transparent.

    ``skip_bom``: start after a UTF-8 byte-order mark when the (decompressed) text begins with one, so JSON
    parsers see the text itself.
    """
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    magic = raw.read(2)
    raw.seek(0)
    fh: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[assignment]
    if skip_bom and fh.read(3) != UTF8_BOM:
        fh.seek(0)
    return fh


def read_head(path: str | os.PathLike[str], size: int = SNIFF_BYTES) -> bytes:
    """The first ``size`` bytes of the (decompressed) file, after a UTF-8 byte-order mark: what sniffers see."""
    with open_binary(path, skip_bom=True) as fh:
        try:
            return fh.read(size)
        except (OSError, EOFError):
            return b""


def logical_name(path: str | os.PathLike[str]) -> str:
    """File name without a trailing ``.gz``, lower-cased: what sniffers look at."""
    name = os.path.basename(os.fspath(path)).lower()
    return name[:-3] if name.endswith(".gz") else name


def expand_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files named by ``paths``: files as given, directories recursively (sorted), globs expanded.

    Raises ``FileNotFoundError`` naming the path that matched nothing.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        s = os.fspath(p)
        if os.path.isdir(s):
            # hidden files and anything under a hidden folder are skipped: among them the .partial-* folders
            # a writer killed half-way leaves, whose unfinished copy must not be read as a log
            found = sorted(str(f) for f in Path(s).rglob("*")
                           if f.is_file() and not any(part.startswith(".") for part in f.relative_to(s).parts))
            out.extend(found)
        elif os.path.isfile(s):
            out.append(s)
        elif glob.has_magic(s):
            matches = sorted(m for m in glob.glob(s, recursive=True) if os.path.isfile(m))
            if not matches:
                raise FileNotFoundError(f"no file matches {s!r}")
            out.extend(matches)
        else:
            raise FileNotFoundError(f"no such file or directory: {s!r}")
    return out


def refuse_overwriting_inputs(outputs: Iterable[str | os.PathLike[str]], inputs: Iterable[str]) -> None:
    """Raise ``ValueError`` when an output path is one of the input files (also through a link).

    Writing the result over a log it is read from would replace the log with a table.
    """
    ins = [f for f in inputs if os.path.exists(f)]
    for out in outputs:
        target = os.fspath(out)
        if not os.path.isfile(target):
            continue
        for f in ins:
            if os.path.samefile(target, f):
                raise ValueError(f"the output {target} is the input {f}; write the result to another file, "
                                 "so the log is not replaced")


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line without newline) for each non-blank line; streams. A UTF-8 byte-order
    mark at the start of the file is not part of line 1."""
    with open_binary(path, skip_bom=True) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            if line.strip():
                yield lineno, line


def decode_utf8(raw: bytes, line: int | None) -> str | RecordError:
    """Decode bytes as UTF-8, or a :class:`RecordError` naming the byte offset."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return RecordError("invalid UTF-8", line=line, expected="UTF-8 text",
                           found=f"byte 0x{raw[err.start]:02x} at offset {err.start}")
