"""Transcripts → the message table and the conversation table (see docs/architecture.md).

:func:`score` works in chunks of branches, so :func:`iter_score` can stream tables of any size
to disk; the columns come from the metric registry.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from welfare._version import __version__
from welfare.metrics._batch import BranchBatch, MessageBatch
from welfare.metrics._matcher import Matcher, Span, default_matcher
from welfare.metrics._registry import MetricInfo, get_metric, list_metrics
from welfare.transcript import Message, Transcript

__all__ = ["Scores", "explain", "iter_score", "provenance", "score"]

MESSAGE_KEYS = ["conversation_id", "branch_id", "message_index", "role", "message_id", "is_active_branch", "model",
                "condition", "user_id"]
CONVERSATION_KEYS = ["conversation_id", "branch_id", "is_active_branch", "model", "condition", "user_id",
                     "started_at", "pair_id", "n_messages", "n_user_turns", "n_assistant_turns", "ended_by",
                     "ending_method", "ending_index"]


@dataclass
class Scores:
    """The two tables of one scoring run. Provenance is in ``.messages.attrs["welfare"]`` (and the other)."""

    messages: pd.DataFrame
    conversations: pd.DataFrame

    def __repr__(self) -> str:
        return (f"Scores(messages={len(self.messages)} rows, conversations={len(self.conversations)} rows, "
                f"metrics={len(list_metrics())})")


def provenance(inputs: Sequence[dict[str, Any]] = (), matcher: Matcher | None = None) -> dict[str, Any]:
    """Package version, metric and lexicon versions, and the input files with their hashes."""
    m = matcher or default_matcher()
    return {
        "package": "welfare",
        "version": __version__,
        "metrics": {info.name: info.version for info in list_metrics()},
        "lexicons": m.versions,
        "matcher_engine": m.engine,
        "inputs": list(inputs),
    }


def _meta(t: Transcript, key: str) -> Any:
    value = t.metadata.get(key)
    return None if value is None else str(value) if not isinstance(value, str) else value


def _blank(values: np.ndarray, keep: np.ndarray, info: MetricInfo) -> Any:
    if info.kind == "category":
        return pd.Categorical([v if k else None for v, k in zip(values, keep, strict=True)],
                              categories=list(info.categories))
    arr = np.asarray(values, dtype=float)
    return np.where(keep, arr, np.nan)


def _score_chunk(chunk: Sequence[Transcript], matcher: Matcher, metrics: Sequence[MetricInfo]
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows: dict[str, list[Any]] = {k: [] for k in MESSAGE_KEYS}
    texts: list[str] = []
    branch_no: list[int] = []
    conv: dict[str, list[Any]] = {k: [] for k in CONVERSATION_KEYS}
    b = 0
    for t in chunk:
        model, condition, user = _meta(t, "model"), _meta(t, "condition"), _meta(t, "user_id")
        for br in t.branches():
            msgs: tuple[Message, ...] = br.messages
            k = len(msgs)
            rows["conversation_id"].extend([t.id] * k)
            rows["branch_id"].extend([br.branch_id] * k)
            rows["message_index"].extend(range(k))
            rows["role"].extend(m.role for m in msgs)
            rows["message_id"].extend(m.id for m in msgs)
            rows["is_active_branch"].extend([br.is_active] * k)
            rows["model"].extend([model] * k)
            rows["condition"].extend([condition] * k)
            rows["user_id"].extend([user] * k)
            texts.extend(m.text for m in msgs)
            branch_no.extend([b] * k)
            roles = [m.role for m in msgs]
            end = br.ending
            for key, value in (("conversation_id", t.id), ("branch_id", br.branch_id),
                               ("is_active_branch", br.is_active), ("model", model), ("condition", condition),
                               ("user_id", user), ("started_at", _meta(t, "started_at")),
                               ("pair_id", _meta(t, "pair_id")), ("n_messages", k),
                               ("n_user_turns", roles.count("user")), ("n_assistant_turns", roles.count("assistant")),
                               ("ended_by", end.by), ("ending_method", end.method),
                               ("ending_index", np.nan if end.message_index is None else end.message_index)):
                conv[key].append(value)
            b += 1
    batch = MessageBatch(texts, rows["role"], np.asarray(branch_no, dtype=np.int64),
                         np.asarray(rows["message_index"], dtype=np.int64), matcher)
    message_cols: dict[str, Any] = {}
    for info in metrics:
        if info.level != "message":
            continue
        values = np.asarray(info.func(batch))
        if values.shape != (batch.n,):
            raise ValueError(f"metric {info.name!r} returned shape {values.shape}, expected ({batch.n},)")
        keep = np.isin(batch.role, info.roles)
        column = _blank(values, keep, info)
        batch.set_column(info.name, np.asarray(column, dtype=object if info.kind == "category" else float))
        message_cols[info.name] = column
    info_arrays = {k: np.asarray(v, dtype=object if isinstance(v[0] if v else 0, str) else None)
                   for k, v in conv.items()}
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
    messages = pd.DataFrame({**rows, **message_cols})
    conversations = pd.DataFrame({**conv, **conv_cols})
    return messages, conversations


def _chunks(transcripts: Iterable[Transcript], size: int) -> Iterator[list[Transcript]]:
    it = iter(transcripts)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def iter_score(transcripts: Iterable[Transcript], *, chunk_size: int = 2000, metrics: Sequence[str] | None = None,
               matcher: Matcher | None = None) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Stream (message table, conversation table) pairs, one per chunk of ``chunk_size`` conversations."""
    m = matcher or default_matcher()
    chosen = list_metrics() if metrics is None else _with_dependencies(metrics)
    for chunk in _chunks(transcripts, chunk_size):
        yield _score_chunk(chunk, m, chosen)


def _with_dependencies(names: Sequence[str]) -> list[MetricInfo]:
    wanted: set[str] = set()

    def add(name: str) -> None:
        info = get_metric(name)
        if info.name not in wanted:
            wanted.add(info.name)
            for dep in info.depends:
                add(dep)

    for n in names:
        add(n)
    return [m for m in list_metrics() if m.name in wanted]


def score(transcripts: Iterable[Transcript] | Transcript, *, metrics: Sequence[str] | None = None,
          matcher: Matcher | None = None, inputs: Sequence[dict[str, Any]] = ()) -> Scores:
    """Score transcripts: one row per message per branch, and one row per conversation branch.

    Parameters
    ----------
    transcripts
        Transcripts (e.g. from :func:`welfare.load`), or one transcript.
    metrics
        Names of metrics to compute (their dependencies are added); all registered metrics by default.

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
    m = matcher or default_matcher()
    parts = list(iter_score(transcripts, metrics=metrics, matcher=m))
    if parts:
        messages = pd.concat([p[0] for p in parts], ignore_index=True)
        conversations = pd.concat([p[1] for p in parts], ignore_index=True)
    else:
        messages, conversations = _score_chunk([], m, list_metrics() if metrics is None else
                                               _with_dependencies(metrics))
    prov = provenance(inputs, m)
    messages.attrs["welfare"] = prov
    conversations.attrs["welfare"] = prov
    return Scores(messages, conversations)


def explain(item: str | Message, *, matcher: Matcher | None = None) -> pd.DataFrame:
    """The evidence spans in a text or message: one row per span.

    Columns: ``start, end, text, phrase, categories, lexicons, status, metrics`` where ``status`` is
    ``counted``, or why the span does not count (``negated``, ``quoted``, ``code``), and ``metrics``
    lists the metrics whose evidence includes one of the span's categories.
    """
    text = item.text if isinstance(item, Message) else item
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
            "status": [s.status for s in spans],
            "metrics": [",".join(sorted({n for c in s.categories for n in by_category.get(c, [])})) for s in spans],
        },
        columns=["start", "end", "text", "phrase", "categories", "lexicons", "status", "metrics"],
    )
