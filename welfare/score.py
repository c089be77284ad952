"""Transcripts → the message table and the conversation table (see docs/architecture.md).

:func:`score` works in chunks of conversations, so :func:`iter_score` can stream tables of any
size and :func:`write_scores` can write them to disk with flat memory; the columns come from the
metric registry. A message shared by several branches of a tree (the common prefix of edits and
regenerations) is matched once; each of its rows reads the same lexicon counts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from welfare._version import __version__
from welfare.metrics._batch import BranchBatch, MessageBatch
from welfare.metrics._matcher import STATUSES, Matcher, Span, default_matcher
from welfare.metrics._registry import MetricInfo, get_metric, list_metrics, unavailable_metrics
from welfare.transcript import Message, Transcript

__all__ = [
    "CONVERSATION_KEYS",
    "MESSAGE_KEYS",
    "OUTPUT_FORMATS",
    "Scores",
    "explain",
    "file_sha256",
    "iter_score",
    "provenance",
    "score",
    "write_scores",
]

MESSAGE_KEYS = ["conversation_id", "branch_id", "message_index", "role", "message_id", "is_active_branch", "model",
                "condition", "user_id"]
CONVERSATION_KEYS = ["conversation_id", "branch_id", "is_active_branch", "model", "condition", "user_id",
                     "started_at", "pair_id", "n_messages", "n_user_turns", "n_assistant_turns", "ended_by",
                     "ending_method", "ending_index"]
#: Name of the optional evidence column of the message table (``score(..., evidence=True)``).
EVIDENCE_COLUMN = "evidence"
OUTPUT_FORMATS = ("csv", "parquet", "jsonl")
OutputFormat = Literal["csv", "parquet", "jsonl"]

_STRING_KEYS = {"conversation_id", "branch_id", "role", "message_id", "model", "condition", "user_id", "started_at",
                "pair_id", "ended_by", "ending_method"}
_INT_KEYS = {"message_index", "n_messages", "n_user_turns", "n_assistant_turns"}


class ScoreInputError(ValueError):
    """Scoring was asked for something it cannot do (unknown output format, missing transcript, ...)."""


@dataclass
class Scores:
    """The two tables of one scoring run. Provenance is in ``.messages.attrs["welfare"]`` (and the other).

    ``transcripts`` maps conversation ids to the scored transcripts when they were passed in memory
    (a list or tuple), so :func:`explain` can show the evidence of a row.
    """

    messages: pd.DataFrame
    conversations: pd.DataFrame
    transcripts: dict[str, Transcript] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        n_metrics = len(self.messages.attrs.get("welfare", {}).get("metrics", {}))
        return (f"Scores(messages={len(self.messages)} rows, conversations={len(self.conversations)} rows, "
                f"metrics={n_metrics})")


# --------------------------------------------------------------------------------------------------
# provenance


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def provenance(inputs: Sequence[dict[str, Any]] = (), matcher: Matcher | None = None,
               metrics: Sequence[MetricInfo] | None = None, metadata: Sequence[str] = ()) -> dict[str, Any]:
    """Package version, metric versions and parameters, lexicon versions, and the inputs with their hashes.

    ``inputs`` is a list of dicts (e.g. ``{"path": ..., "sha256": ..., "format": ...}``) recorded as given;
    ``metadata`` the extra metadata columns (recorded only when there are any).
    """
    m = matcher or default_matcher()
    chosen = list_metrics() if metrics is None else list(metrics)
    extra = {"metadata_columns": list(metadata)} if metadata else {}
    return {
        "package": "welfare",
        "version": __version__,
        "metrics": {info.name: info.version for info in chosen},
        "parameters": {info.name: info.parameter_values() for info in chosen if info.parameters},
        "unavailable_metrics": unavailable_metrics(),
        "lexicons": m.versions,
        "matcher_engine": m.engine,
        **extra,
        "inputs": list(inputs),
    }


# --------------------------------------------------------------------------------------------------
# scoring


def _meta(t: Transcript, key: str) -> Any:
    """A metadata value as text: strings as they are, lists and objects as JSON, other scalars with ``str``."""
    value = t.metadata.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


_META_KEYS = ("model", "condition", "user_id", "started_at", "pair_id")


def check_metadata_columns(metadata: Sequence[str] | str | None, metrics: Sequence[MetricInfo] = ()
                           ) -> tuple[str, ...]:
    """The metadata keys to carry into both tables as text columns, checked.

    Each must be a non-empty string naming a key of ``Transcript.metadata`` that is not already a
    column (``model``, ``condition``, ``user_id``, ... are always there) nor a metric's name.
    """
    if metadata is None:
        return ()
    names = (metadata,) if isinstance(metadata, str) else tuple(metadata)
    taken = {*MESSAGE_KEYS, *CONVERSATION_KEYS, EVIDENCE_COLUMN, *(m.name for m in metrics)}
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ScoreInputError(f"metadata= takes metadata key names (non-empty strings), found {name!r}")
        if name in taken:
            raise ScoreInputError(f"metadata key {name!r} is already a column of the score tables; "
                                  f"ask only for other keys of the logs' metadata")
        if name in seen:
            raise ScoreInputError(f"metadata key {name!r} is listed twice")
        seen.add(name)
    return names


def _blank(values: np.ndarray, keep: np.ndarray, info: MetricInfo) -> Any:
    if info.kind == "category":
        vals = np.asarray(values, dtype=object)
        kept = vals.copy()
        kept[~np.asarray(keep, dtype=bool)] = None
        given = np.asarray(pd.notna(kept), dtype=bool)
        kept[~given] = None
        bad = given & ~np.isin(kept.astype(str), list(info.categories))
        if bad.any():
            raise ValueError(f"metric {info.name!r} returned {kept[bad][0]!r}, which is not one of its categories "
                             f"{list(info.categories)}")
        return pd.Categorical(kept, categories=list(info.categories))
    arr = np.asarray(values, dtype=float)
    return np.where(keep, arr, np.nan)


def _evidence_json(matcher: Matcher, batch: MessageBatch) -> list[str]:
    """Per row, a JSON list of the counted spans of its text: ``[{"start", "end", "phrase", "categories"}]``."""
    scan = batch.scan
    per_text: list[list[dict[str, Any]]] = [[] for _ in batch.unique_text]
    counted = np.flatnonzero(scan.status == 0)
    for k in counted.tolist():
        pat = matcher.patterns[int(scan.pattern[k])]
        per_text[int(scan.text[k])].append({"start": int(scan.start[k]), "end": int(scan.end[k]),
                                            "phrase": pat.phrase, "categories": list(pat.categories)})
    encoded = [json.dumps(spans, ensure_ascii=False) for spans in per_text]
    return [encoded[i] for i in batch.text_index.tolist()]


def _score_chunk(chunk: Sequence[Transcript], matcher: Matcher, metrics: Sequence[MetricInfo],
                 evidence: bool = False, metadata: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    conv_ids: list[str] = []
    branch_ids: list[str] = []
    message_index: list[int] = []
    roles: list[str] = []
    message_ids: list[str | None] = []
    branch_no: list[int] = []
    text_index: list[int] = []
    tool_calls: list[tuple[str, ...]] = []
    unique_texts: list[str] = []
    conv: dict[str, list[Any]] = {k: [] for k in (*CONVERSATION_KEYS[:8], *metadata, *CONVERSATION_KEYS[8:])}
    meta_keys = (*_META_KEYS, *metadata)
    lengths: list[int] = []
    b = 0
    for t in chunk:
        seen: dict[int, int] = {}
        tree = t.is_tree
        meta = {k: _meta(t, k) for k in meta_keys}
        for br in t.branches():
            msgs: tuple[Message, ...] = br.messages
            k = len(msgs)
            branch_roles = [m.role for m in msgs]
            roles.extend(branch_roles)
            message_ids.extend([m.id for m in msgs])
            message_index.extend(range(k))
            conv_ids.extend([t.id] * k)
            branch_ids.extend([br.branch_id] * k)
            branch_no.extend([b] * k)
            if not tree:  # one branch: every message is new
                text_index.extend(range(len(unique_texts), len(unique_texts) + k))
                unique_texts.extend([m.text for m in msgs])
            else:
                for m in msgs:
                    ident = id(m)
                    pos = seen.get(ident)
                    if pos is None:
                        pos = seen[ident] = len(unique_texts)
                        unique_texts.append(m.text)
                    text_index.append(pos)
            tool_calls.extend([tuple(c.name.lower() for c in m.calls())
                               if m.role == "assistant" and (m.tool_calls or not isinstance(m.content, str)) else ()
                               for m in msgs])
            end = br.ending
            conv["conversation_id"].append(t.id)
            conv["branch_id"].append(br.branch_id)
            conv["is_active_branch"].append(br.is_active)
            for name in meta_keys:
                conv[name].append(meta[name])
            conv["n_messages"].append(k)
            conv["n_user_turns"].append(branch_roles.count("user"))
            conv["n_assistant_turns"].append(branch_roles.count("assistant"))
            conv["ended_by"].append(end.by)
            conv["ending_method"].append(end.method)
            conv["ending_index"].append(np.nan if end.message_index is None else float(end.message_index))
            lengths.append(k)
            b += 1
    n_rows = len(roles)
    branch_arr = np.asarray(branch_no, dtype=np.int64)
    rows: dict[str, Any] = {
        "conversation_id": conv_ids,
        "branch_id": branch_ids,
        "message_index": np.asarray(message_index, dtype=np.int64),
        "role": roles,
        "message_id": message_ids,
        "is_active_branch": np.repeat(np.asarray(conv["is_active_branch"], dtype=bool), lengths)
        if b else np.zeros(0, dtype=bool),
    }
    for name in ("model", "condition", "user_id", *metadata):
        rows[name] = np.repeat(np.asarray(conv[name], dtype=object), lengths) if b else np.zeros(0, dtype=object)
    info_arrays: dict[str, np.ndarray] = {
        "ended_by": np.asarray(conv["ended_by"], dtype=object),
        "ending_method": np.asarray(conv["ending_method"], dtype=object),
        "ending_index": np.asarray(conv["ending_index"], dtype=float),
        "n_messages": np.asarray(conv["n_messages"], dtype=np.int64),
        "is_active_branch": np.asarray(conv["is_active_branch"], dtype=bool),
    }
    batch = MessageBatch(unique_texts, roles, branch_arr, rows["message_index"], matcher,
                         text_index=np.asarray(text_index, dtype=np.int64), tool_calls=tool_calls,
                         branch_info=info_arrays)
    message_cols: dict[str, Any] = {}
    role_masks: dict[tuple[str, ...], np.ndarray] = {}
    for info in metrics:
        if info.level != "message":
            continue
        values = np.asarray(info.func(batch))
        if values.shape != (n_rows,):
            raise ValueError(f"metric {info.name!r} returned shape {values.shape}, expected ({n_rows},)")
        keep = role_masks.get(info.roles)
        if keep is None:
            keep = role_masks[info.roles] = np.isin(batch.role.astype(str), info.roles)
        column = _blank(values, keep, info)
        batch.set_column(info.name, np.asarray(column, dtype=object if info.kind == "category" else float))
        message_cols[info.name] = column
    if evidence:
        message_cols[EVIDENCE_COLUMN] = _evidence_json(matcher, batch)
    branches = BranchBatch(batch, b, info_arrays)
    conv_cols: dict[str, Any] = {}
    for info in metrics:
        if info.level != "conversation":
            continue
        values = np.asarray(info.func(branches))
        if values.shape != (b,):
            raise ValueError(f"metric {info.name!r} returned shape {values.shape}, expected ({b},)")
        column = _blank(values, np.ones(b, dtype=bool), info)
        branches.set_column(info.name, np.asarray(column, dtype=object if info.kind == "category" else float))
        conv_cols[info.name] = column
    conv["ending_index"] = info_arrays["ending_index"]  # type: ignore[assignment]
    messages = pd.DataFrame({**rows, **message_cols})
    conversations = pd.DataFrame({**conv, **conv_cols})
    string_keys = _STRING_KEYS.union(metadata)
    for frame in (messages, conversations):  # the same dtypes whatever a chunk holds (None-only columns too)
        for name in string_keys.intersection(frame.columns):
            frame[name] = frame[name].astype("str").where(frame[name].notna(), np.nan) \
                if frame[name].dtype == object else frame[name].astype("str")
        for name in _INT_KEYS.intersection(frame.columns):
            frame[name] = frame[name].astype(np.int64)
        frame["is_active_branch"] = frame["is_active_branch"].astype(bool)
    return messages, conversations


def _checked(transcripts: Any, caller: str) -> Iterable[Transcript]:
    """``transcripts`` as an iterable of transcripts; a path, text or mapping is a ``TypeError`` saying to load it.

    A path is refused rather than loaded so that the caller chooses strict or lenient loading (and sees
    the :class:`~welfare.io.LoadReport`): the README's flow is ``welfare.load`` then ``welfare.score``.
    """
    if isinstance(transcripts, Transcript):
        return [transcripts]
    if isinstance(transcripts, str | bytes | os.PathLike):
        raise TypeError(f"{caller}() takes transcripts, not a path or text: found {transcripts!r}; load the logs "
                        f"first, e.g. {caller}(welfare.load(path)) (welfare.load(path, strict=False, report=rep) "
                        f"to skip bad records)")
    if isinstance(transcripts, dict):
        raise TypeError(f"{caller}() takes transcripts, found a dict; for one conversation record use "
                        f"{caller}([welfare.Transcript.from_dict(record)])")
    if not isinstance(transcripts, Iterable):
        raise TypeError(f"{caller}() takes an iterable of transcripts (e.g. welfare.load(path)), "
                        f"found {type(transcripts).__name__}")
    return _each_transcript(transcripts, caller)


def _each_transcript(transcripts: Iterable[Any], caller: str) -> Iterator[Transcript]:
    for position, t in enumerate(transcripts):
        if not isinstance(t, Transcript):
            raise TypeError(f"{caller}() takes Transcript objects (from welfare.load or welfare.Transcript.from_dict), "
                            f"found {type(t).__name__} at position {position}: {t!r:.80}")
        yield t


def _chunks(transcripts: Iterable[Transcript], size: int) -> Iterator[list[Transcript]]:
    it = iter(transcripts)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _with_dependencies(names: Sequence[str]) -> list[MetricInfo]:
    wanted: set[str] = set()
    missing = unavailable_metrics()

    def add(name: str) -> None:
        info = get_metric(name)
        if info.name in missing:
            raise ScoreInputError(f"metric {name!r} cannot be computed: it depends on unregistered metrics "
                                  f"{missing[info.name]}")
        if info.name not in wanted:
            wanted.add(info.name)
            for dep in info.depends:
                add(dep)

    for n in names:
        add(n)
    return [m for m in list_metrics() if m.name in wanted]


def _choose(metrics: Sequence[str] | None) -> list[MetricInfo]:
    return list_metrics() if metrics is None else _with_dependencies(metrics)


def iter_score(transcripts: Iterable[Transcript], *, chunk_size: int = 2000, metrics: Sequence[str] | None = None,
               matcher: Matcher | None = None, evidence: bool = False, metadata: Sequence[str] | None = None
               ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Stream (message table, conversation table) pairs, one per chunk of ``chunk_size`` conversations.

    Same columns as :func:`score`; concatenating the chunks gives its tables (without provenance).
    """
    items = _checked(transcripts, "iter_score")
    m = matcher or default_matcher()
    chosen = _choose(metrics)
    extra = check_metadata_columns(metadata, chosen)
    for chunk in _chunks(items, chunk_size):
        yield _score_chunk(chunk, m, chosen, evidence=evidence, metadata=extra)


def score(transcripts: Iterable[Transcript] | Transcript, *, metrics: Sequence[str] | None = None,
          matcher: Matcher | None = None, inputs: Sequence[dict[str, Any]] = (), evidence: bool = False,
          chunk_size: int = 2000, metadata: Sequence[str] | None = None) -> Scores:
    """Score transcripts: one row per message per branch, and one row per conversation branch.

    Parameters
    ----------
    transcripts
        Transcripts (e.g. from :func:`welfare.load`), or one transcript. A path is a ``TypeError``: load
        it first with :func:`welfare.load`, which lets you choose strict or lenient loading.
    metrics
        Names of metrics to compute (their dependencies are added); all registered metrics by default.
    matcher
        The lexicon matcher (default: every shipped lexicon, fastest engine available).
    inputs
        Descriptions of the input files for provenance, e.g. ``[{"path": p, "sha256": file_sha256(p)}]``.
    evidence
        Add an ``evidence`` column to the message table: per message, a JSON list of the counted spans
        (``start``, ``end``, ``phrase``, ``categories``) of its text.
    chunk_size
        Conversations scored per batch.
    metadata
        Keys of each transcript's ``metadata`` to carry into both tables as text columns (after the fixed
        keys), e.g. ``metadata=["variant"]`` when a log names its arm ``variant`` rather than
        ``condition``; missing values are null. ``model``, ``condition``, ``user_id``, ``started_at`` and
        ``pair_id`` are always columns.

    Returns
    -------
    Scores
        ``.messages`` and ``.conversations`` (see docs/architecture.md). Metric values are floats (NaN for
        empty or undefined input, and on rows of roles a metric does not apply to) or categoricals
        (missing in the same cases). Provenance is in ``df.attrs["welfare"]`` of both tables.

    Examples
    --------
    >>> import welfare
    >>> t = welfare.Transcript.from_dict({"id": "c1", "messages": [
    ...     {"role": "user", "content": "Tell me a joke"}, {"role": "assistant", "content": "Sure! ..."}]})
    >>> s = welfare.score([t])
    >>> list(s.conversations["conversation_id"])
    ['c1']
    """
    if isinstance(transcripts, Transcript):
        transcripts = [transcripts]
    items = _checked(transcripts, "score")
    kept: dict[str, Transcript] = {}
    if isinstance(transcripts, list | tuple):
        items = list(items)
        kept = {t.id: t for t in items}
    m = matcher or default_matcher()
    chosen = _choose(metrics)
    extra = check_metadata_columns(metadata, chosen)
    parts = [_score_chunk(chunk, m, chosen, evidence=evidence, metadata=extra)
             for chunk in _chunks(items, chunk_size)]
    if not parts:
        parts = [_score_chunk([], m, chosen, evidence=evidence, metadata=extra)]
    messages = pd.concat([p[0] for p in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
    conversations = pd.concat([p[1] for p in parts], ignore_index=True) if len(parts) > 1 else parts[0][1]
    prov = provenance(inputs, m, chosen, metadata=extra)
    messages.attrs["welfare"] = prov
    conversations.attrs["welfare"] = prov
    return Scores(messages, conversations, kept)


# --------------------------------------------------------------------------------------------------
# writing


def _arrow_schema(metrics: Sequence[MetricInfo], level: str, evidence: bool,  # type: ignore[no-untyped-def]
                  metadata: Sequence[str] = ()):
    import pyarrow as pa

    keys = ([*MESSAGE_KEYS, *metadata] if level == "message"
            else [*CONVERSATION_KEYS[:8], *metadata, *CONVERSATION_KEYS[8:]])
    fields = []
    for k in keys:
        if k in _STRING_KEYS or k in metadata:
            fields.append(pa.field(k, pa.string()))
        elif k in _INT_KEYS:
            fields.append(pa.field(k, pa.int64()))
        elif k == "is_active_branch":
            fields.append(pa.field(k, pa.bool_()))
        else:
            fields.append(pa.field(k, pa.float64()))
    for info in metrics:
        if info.level == level:
            fields.append(pa.field(info.name, pa.string() if info.kind == "category" else pa.float64()))
    if evidence and level == "message":
        fields.append(pa.field(EVIDENCE_COLUMN, pa.string()))
    return pa.schema(fields)


class _TableWriter:
    """Appends chunks of one table to a CSV, Parquet or JSON Lines file."""

    def __init__(self, path: Path, fmt: OutputFormat, schema: Any, prov: dict[str, Any]) -> None:
        self.path, self.fmt, self.schema, self.rows = path, fmt, schema, 0
        self._header_done = False
        self._parquet: Any = None
        if fmt == "parquet":
            import pyarrow.parquet as pq

            meta = {b"welfare": json.dumps(prov).encode("utf-8")}
            self._parquet = pq.ParquetWriter(str(path), schema.with_metadata(meta))
            self._fh = None
        else:
            self._fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa

            frame = df.copy()
            for f in self.schema:
                if f.type == pa.string():
                    col = frame[f.name]
                    frame[f.name] = col.astype(object).where(col.notna(), None)
            table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            self._parquet.write_table(table)
        elif self.fmt == "csv":
            df.to_csv(self._fh, header=not self._header_done, index=False)
            self._header_done = True
        else:
            if len(df):
                text = df.to_json(orient="records", lines=True, force_ascii=False)
                self._fh.write(text if text.endswith("\n") else text + "\n")  # type: ignore[union-attr]
        self.rows += len(df)

    def close(self) -> None:
        if self.fmt == "csv" and not self._header_done and self._fh is not None:  # no chunk at all: a header
            pd.DataFrame(columns=self.schema.names).to_csv(self._fh, index=False)
            self._header_done = True
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()


def _output_format(path: Path, fmt: str | None) -> OutputFormat:
    name = fmt or path.suffix.lstrip(".").lower()
    if name not in OUTPUT_FORMATS:
        raise ScoreInputError(f"cannot tell the output format of {str(path)!r}: expected a .csv, .parquet or .jsonl "
                              f"file name or format= one of {', '.join(OUTPUT_FORMATS)}, found {name!r}")
    return name  # type: ignore[return-value]


def conversations_path(out: str | os.PathLike[str]) -> Path:
    """Where :func:`write_scores` puts the conversation table: ``OUT`` stem + ``.conversations`` + suffix."""
    p = Path(out)
    return p.with_name(p.stem + ".conversations" + p.suffix)


def provenance_path(out: str | os.PathLike[str]) -> Path:
    """Where CSV and JSON Lines score tables get their provenance: ``OUT`` stem + ``.provenance.json``."""
    p = Path(out)
    return p.with_name(p.stem + ".provenance.json")


def write_provenance(out: str | os.PathLike[str], fmt: str, prov: dict[str, Any]) -> dict[str, Any]:
    """``prov`` with the path of its side file, written (whole or not at all) beside CSV/JSON Lines tables;
    Parquet tables carry it in their schema metadata, so ``prov`` comes back unchanged for them."""
    if fmt == "parquet":
        return prov
    from welfare.io._common import atomic_output

    side = provenance_path(out)
    with atomic_output(side) as tmp:
        Path(tmp).write_text(json.dumps(prov, indent=2), encoding="utf-8")
    return {**prov, "outputs": {**prov["outputs"], "provenance": str(side)}}


def write_scores(transcripts: Iterable[Transcript], out: str | os.PathLike[str], *, format: str | None = None,
                 metrics: Sequence[str] | None = None, evidence: bool = False, chunk_size: int = 2000,
                 inputs: Sequence[dict[str, Any]] = (), matcher: Matcher | None = None,
                 on_chunk: Callable[[int, int], None] | None = None, metadata: Sequence[str] | None = None
                 ) -> dict[str, Any]:
    """Score transcripts chunk by chunk and stream both tables to files (memory stays flat).

    The message table goes to ``out``; the conversation table to :func:`conversations_path` (``out``'s
    stem + ``.conversations`` + suffix). Parquet files carry the provenance in their schema metadata
    (key ``welfare``, JSON); CSV and JSON Lines get it in a ``<out stem>.provenance.json`` file beside.

    Returns the provenance, with ``rows`` (message rows written) and ``branches`` (conversation rows).
    """
    items = _checked(transcripts, "write_scores")
    out_path = Path(out)
    fmt = _output_format(out_path, format)
    m = matcher or default_matcher()
    chosen = _choose(metrics)
    extra = check_metadata_columns(metadata, chosen)
    prov = provenance(inputs, m, chosen, metadata=extra)
    conv_path = conversations_path(out_path)
    from contextlib import ExitStack

    from welfare.io._common import atomic_output

    with ExitStack() as outputs:
        # both tables go to temporary files renamed into place only when every chunk is written: a transcript
        # that fails half-way (or an interrupt) leaves no table holding only the conversations before it
        partial = [Path(outputs.enter_context(atomic_output(p))) for p in (out_path, conv_path)]
        writers = [
            _TableWriter(partial[0], fmt, _arrow_schema(chosen, "message", evidence, extra), prov),
            _TableWriter(partial[1], fmt, _arrow_schema(chosen, "conversation", evidence, extra), prov),
        ]
        try:
            for chunk in _chunks(items, chunk_size):
                msgs, convs = _score_chunk(chunk, m, chosen, evidence=evidence, metadata=extra)
                writers[0].write(msgs)
                writers[1].write(convs)
                if on_chunk is not None:
                    on_chunk(writers[0].rows, writers[1].rows)
        finally:
            for w in writers:
                w.close()
    prov = {**prov, "rows": writers[0].rows, "branches": writers[1].rows,
            "outputs": {"messages": str(out_path), "conversations": str(conv_path)}}
    return write_provenance(out_path, fmt, prov)


# --------------------------------------------------------------------------------------------------
# explain


def _text_of(item: Any, args: tuple[Any, ...], branch_id: str | None) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Message):
        return item.text
    if isinstance(item, Transcript):
        if len(args) != 1 or not isinstance(args[0], int | np.integer):
            raise ScoreInputError("explain(transcript, message_index): give the message's index in the branch")
        branches = item.branches()
        br = next((x for x in branches if x.branch_id == branch_id), None) if branch_id is not None else \
            next(x for x in branches if x.is_active)
        if br is None:
            raise ScoreInputError(f"conversation {item.id!r} has no branch {branch_id!r}; branches: "
                                  f"{[x.branch_id for x in branches]}")
        index = int(args[0])
        if not 0 <= index < len(br.messages):
            raise ScoreInputError(f"message_index {index} is outside branch {br.branch_id!r} of conversation "
                                  f"{item.id!r} (it has {len(br.messages)} messages)")
        return br.messages[index].text
    if isinstance(item, Scores):
        if len(args) != 3:
            raise ScoreInputError("explain(scores, conversation_id, branch_id, message_index) needs all three keys")
        cid, bid, index = args
        t = item.transcripts.get(str(cid))
        if t is None:
            raise ScoreInputError(f"these Scores do not hold conversation {cid!r}: score() keeps transcripts only "
                                  "when given a list or tuple; call explain(transcript, message_index, "
                                  "branch_id=...) instead")
        return _text_of(t, (index,), str(bid))
    raise ScoreInputError(f"explain() takes a text, a Message, a Transcript and index, or Scores and row keys; "
                          f"found {type(item).__name__}")


def explain(item: str | Message | Transcript | Scores, *args: Any, branch_id: str | None = None,
            matcher: Matcher | None = None) -> pd.DataFrame:
    """The evidence spans in a text or message: one row per span.

    Call as ``explain(text)``, ``explain(message)``, ``explain(transcript, message_index, branch_id=None)``
    (the active branch by default) or ``explain(scores, conversation_id, branch_id, message_index)`` (for
    :class:`Scores` of transcripts passed to :func:`score` as a list).

    Columns: ``start, end, text, phrase, categories, lexicons, status, metrics`` where ``status`` is
    ``counted``, or why the span does not count (``negated``, ``quoted``, ``code``), and ``metrics``
    lists the metrics whose evidence includes one of the span's categories.

    Examples
    --------
    >>> import welfare
    >>> welfare.explain("Would you like to continue this conversation?")[["text", "categories"]].iloc[0].tolist()
    ['would you like to continue this conversation', 'ending_checkin_question']
    """
    text = _text_of(item, args, branch_id)
    m = matcher or default_matcher()
    by_category: dict[str, list[str]] = {}
    for info in list_metrics():
        for cat in info.evidence:
            by_category.setdefault(cat, []).append(info.name)
    spans: list[Span] = m.spans(text)
    return pd.DataFrame(
        {
            "start": [s.start for s in spans],
            "end": [s.end for s in spans],
            "text": [text[s.start : s.end] for s in spans],
            "phrase": [s.phrase for s in spans],
            "categories": [",".join(s.categories) for s in spans],
            "lexicons": [",".join(s.lexicons) for s in spans],
            "status": pd.Categorical([s.status for s in spans], categories=list(STATUSES)),
            "metrics": [",".join(sorted({n for c in s.categories for n in by_category.get(c, [])})) for s in spans],
        },
        columns=["start", "end", "text", "phrase", "categories", "lexicons", "status", "metrics"],
    )
