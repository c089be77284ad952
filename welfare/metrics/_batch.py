"""What a metric function sees: columns over many messages (:class:`MessageBatch`) or branches (:class:`BranchBatch`).

Everything is an array with one entry per message row (or per branch), so a metric is a few
numpy expressions, and scoring a million messages costs a handful of vector operations per metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from welfare.metrics._matcher import Matcher, word_mask

__all__ = ["BranchBatch", "MessageBatch", "count_words"]

_APOSTROPHE_CODES = np.array([0x27, 0x2019], dtype=np.uint32)


def count_words(texts: Sequence[str]) -> np.ndarray:
    """Words per text, in one vector pass over all texts.

    A word is a maximal run of word characters (letters, digits, ``_``); an apostrophe (straight or
    curly) between two word characters joins them, so "can't" and "can’t" count once.
    """
    n = len(texts)
    if not n:
        return np.zeros(0, dtype=np.int64)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    cps = np.frombuffer("\x00".join(texts).encode("utf-32-le"), dtype=np.uint32)
    w = word_mask(cps)
    if len(cps) > 2:
        inner = cps[1:-1]
        apos = (inner == _APOSTROPHE_CODES[0]) | (inner == _APOSTROPHE_CODES[1])
        w[1:-1] |= apos & w[:-2] & w[2:]
    first = w.copy()
    first[1:] &= ~w[:-1]
    positions = np.flatnonzero(first)
    owner = np.searchsorted(starts, positions, side="right") - 1
    return np.bincount(owner, minlength=n).astype(np.int64)


class MessageBatch:
    """Message rows of one or more branches, in branch order, with lexicon counts.

    Attributes
    ----------
    role, text : per-row role (numpy str array) and text (list of str)
    branch : int array, the branch (0..n_branches-1) of each row; rows of a branch are contiguous
    index : int array, the message's position in its branch
    n_words, n_chars : int arrays (words: see :func:`count_words`)
    text_index : int array, the row's text in ``unique_text`` (a message shared by several branches of a
        tree is matched once; every row of it reads the same counts)
    scan : the matcher's :class:`~welfare.metrics._matcher.Scan` of ``unique_text`` (evidence spans)
    tool_calls : per row, the lower-cased names of the message's tool calls
    branch_info : per-branch arrays (``ended_by``, ``ending_method``, ``ending_index``, ``n_messages``)
    """

    def __init__(self, texts: Sequence[str], roles: Sequence[str], branch: np.ndarray, index: np.ndarray,
                 matcher: Matcher, *, text_index: np.ndarray | None = None,
                 tool_calls: Sequence[tuple[str, ...]] | None = None,
                 branch_info: dict[str, np.ndarray] | None = None) -> None:
        unique = list(texts)
        rows = np.arange(len(unique), dtype=np.int64) if text_index is None else np.asarray(text_index, np.int64)
        self.text_index = rows
        self.unique_text = unique
        self.text = unique if text_index is None else [unique[i] for i in rows.tolist()]
        self.role = np.asarray(roles, dtype=object)
        self.branch = np.asarray(branch, dtype=np.int64)
        self.index = np.asarray(index, dtype=np.int64)
        self.n = len(self.text)
        n_chars = np.fromiter(map(len, unique), dtype=np.int64, count=len(unique))
        n_words = count_words(unique)
        self.n_chars = n_chars[rows]
        self.n_words = n_words[rows]
        self.matcher = matcher
        self.scan = matcher.scan(unique)
        counts, first = matcher.counts(unique, scan=self.scan)
        self._counts, self._first = counts[rows], first[rows]
        #: lower-cased names of the tool calls of each row (empty tuples when unknown)
        self.tool_calls: list[tuple[str, ...]] = list(tool_calls) if tool_calls is not None else [()] * self.n
        #: per-branch arrays (``ended_by``, ``ending_index``, ...), see :meth:`branch_value`
        self.branch_info: dict[str, np.ndarray] = dict(branch_info or {})
        self._columns: dict[str, np.ndarray] = {}
        self._prev_cache: dict[str, np.ndarray] = {}

    # -- lexicon features -------------------------------------------------------------------------
    def count(self, *categories: str) -> np.ndarray:
        """Counted spans of any of ``categories`` per row (int array)."""
        idx = [self.matcher.category_index(c) for c in categories]
        return self._counts[:, idx].sum(axis=1)

    def has(self, *categories: str) -> np.ndarray:
        """Boolean per row: at least one counted span of any of ``categories``."""
        return self.count(*categories) > 0

    def first(self, *categories: str) -> np.ndarray:
        """Relative position (0 = start, 1 = end) of the first span of any of ``categories``; NaN if none."""
        idx = [self.matcher.category_index(c) for c in categories]
        with np.errstate(all="ignore"):
            return np.fmin.reduce(self._first[:, idx], axis=1) if idx else np.full(self.n, np.nan)

    def rate(self, *categories: str, per: int = 100) -> np.ndarray:
        """Counted spans per ``per`` words (NaN for rows without words)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n_words > 0, self.count(*categories) * per / self.n_words, np.nan)

    def is_role(self, role: str) -> np.ndarray:
        return self.role == role

    # -- other metrics ---------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """Values of an already computed metric (declare it in ``depends``)."""
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"metric column {name!r} is not computed yet; add it to the metric's depends=") from None

    def set_column(self, name: str, values: np.ndarray) -> None:
        self._columns[name] = values

    # -- neighbours within a branch ----------------------------------------------------------------
    def branch_start(self) -> np.ndarray:
        """Per row, the row number of its branch's first message."""
        if "__start__" not in self._prev_cache:
            first = np.ones(self.n, dtype=bool)
            first[1:] = self.branch[1:] != self.branch[:-1]
            self._prev_cache["__start__"] = np.maximum.accumulate(np.where(first, np.arange(self.n), 0))
        return self._prev_cache["__start__"]

    def previous(self, role: str) -> np.ndarray:
        """Row number of the nearest earlier row of ``role`` in the same branch (-1 when none)."""
        if role not in self._prev_cache:
            rows = np.arange(self.n, dtype=np.int64)
            marks = np.maximum.accumulate(np.where(self.role == role, rows, -1)) if self.n else rows
            out = np.r_[np.int64(-1), marks[:-1]] if self.n else rows
            out = np.where(out < self.branch_start(), -1, out)
            self._prev_cache[role] = out.astype(np.int64)
        return self._prev_cache[role]

    def previous_row(self) -> np.ndarray:
        """Row number of the message just before each row in its branch (-1 for a branch's first message)."""
        out = np.arange(self.n, dtype=np.int64) - 1
        return np.where(out < self.branch_start(), -1, out)

    def branch_value(self, name: str) -> np.ndarray:
        """A per-branch array of :attr:`branch_info` (e.g. ``ending_index``) broadcast to the rows."""
        try:
            values = self.branch_info[name]
        except KeyError:
            raise KeyError(f"no branch information {name!r}; known: {', '.join(sorted(self.branch_info))}") from None
        return np.asarray(values)[self.branch]

    def running_any(self, mask: np.ndarray) -> np.ndarray:
        """Per row: ``mask`` held on this row or an earlier row of the same branch."""
        total = np.cumsum(np.asarray(mask, dtype=bool).astype(np.int64))
        before_branch = np.r_[np.int64(0), total][self.branch_start()] if self.n else total
        return (total - before_branch) > 0

    def take(self, values: np.ndarray | Sequence[Any], rows: np.ndarray, fill: Any = np.nan) -> np.ndarray:
        """``values[rows]`` with ``fill`` where ``rows == -1``."""
        arr = np.asarray(values)
        out = np.where(rows >= 0, arr[np.clip(rows, 0, None)] if len(arr) else fill, fill)
        return out


class BranchBatch:
    """Branches with their message metric columns, for conversation-level metrics.

    ``messages`` is the :class:`MessageBatch` (with computed columns); ``info`` holds per-branch
    arrays such as ``ended_by``, ``ending_method``, ``ending_index``, ``n_messages``.
    """

    def __init__(self, messages: MessageBatch, n_branches: int, info: dict[str, np.ndarray]) -> None:
        self.messages = messages
        self.n = n_branches
        self.info = info
        self._columns: dict[str, np.ndarray] = {}

    def column(self, name: str) -> np.ndarray:
        """A computed conversation metric (declare it in ``depends``)."""
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(f"conversation column {name!r} is not computed yet; add it to depends=") from None

    def set_column(self, name: str, values: np.ndarray) -> None:
        self._columns[name] = values

    def _values(self, column: str | np.ndarray, role: str | None) -> tuple[np.ndarray, np.ndarray]:
        m = self.messages
        vals = m.column(column) if isinstance(column, str) else np.asarray(column)
        keep = np.ones(m.n, dtype=bool) if role is None else m.is_role(role)
        return vals.astype(float), keep

    def reduce(self, column: str | np.ndarray, how: str, role: str | None = "assistant") -> np.ndarray:
        """Per-branch ``mean``, ``max``, ``sum``, ``count`` (non-NaN rows), or ``slope`` (OLS of value on turn number).

        Rows of other roles and NaN values are ignored; a branch with no values gets NaN
        (``sum`` and ``count`` give 0).
        """
        vals, keep = self._values(column, role)
        keep = keep & ~np.isnan(vals)
        b = self.messages.branch[keep]
        v = vals[keep]
        count = np.bincount(b, minlength=self.n).astype(float)
        if how == "count":
            return count
        total = np.bincount(b, weights=v, minlength=self.n)
        if how == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):
            if how == "mean":
                return np.where(count > 0, total / count, np.nan)
            if how == "max":
                out = np.full(self.n, -np.inf)
                np.maximum.at(out, b, v)
                return np.where(count > 0, out, np.nan)
            if how == "slope":
                # turn number among the kept rows of each branch
                order = np.arange(len(b))
                starts = np.searchsorted(b, np.arange(self.n))
                x = (order - starts[b]).astype(float)
                sx = np.bincount(b, weights=x, minlength=self.n)
                sxx = np.bincount(b, weights=x * x, minlength=self.n)
                sxy = np.bincount(b, weights=x * v, minlength=self.n)
                denom = count * sxx - sx * sx
                return np.where((count >= 2) & (denom > 0), (count * sxy - sx * total) / denom, np.nan)
        raise ValueError(f"unknown reduction {how!r}; use mean, max, sum, count or slope")

    def first_index(self, mask: np.ndarray, role: str | None = "assistant") -> np.ndarray:
        """Per branch, the position (message index in the branch) of the first row where ``mask`` holds; NaN if none."""
        m = self.messages
        keep = np.asarray(mask, dtype=bool)
        if role is not None:
            keep = keep & m.is_role(role)
        out = np.full(self.n, np.inf)
        np.minimum.at(out, m.branch[keep], m.index[keep].astype(float))
        return np.where(np.isinf(out), np.nan, out)

    def longest_streak(self, mask: np.ndarray, role: str = "assistant") -> np.ndarray:
        """Per branch, the longest run of consecutive ``role`` turns where ``mask`` holds (0 when none)."""
        m = self.messages
        rows = np.flatnonzero(m.is_role(role))
        out = np.zeros(self.n)
        if not len(rows):
            return out
        flags = np.asarray(mask, dtype=bool)[rows]
        br = m.branch[rows]
        new_branch = np.r_[True, br[1:] != br[:-1]]
        run_id = np.cumsum(~flags | new_branch)  # a run ends at a False turn or a branch change
        lengths = np.bincount(run_id[flags], minlength=int(run_id[-1]) + 1)
        run_branch = np.zeros(len(lengths), dtype=np.int64)
        run_branch[run_id] = br
        np.maximum.at(out, run_branch, lengths.astype(float))
        return out
