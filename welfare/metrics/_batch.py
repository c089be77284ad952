"""What a metric function sees: columns over many messages (:class:`MessageBatch`) or branches (:class:`BranchBatch`).

Everything is an array with one entry per message row (or per branch), so a metric is a few
numpy expressions, and scoring a million messages costs a handful of vector operations per metric.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from welfare.metrics._matcher import Matcher

__all__ = ["BranchBatch", "MessageBatch"]

_WORDS = re.compile(r"\w+(?:'\w+)?")


class MessageBatch:
    """Message rows of one or more branches, in branch order, with lexicon counts.

    Attributes
    ----------
    role, text : per-row role (numpy str array) and text (list of str)
    branch : int array, the branch (0..n_branches-1) of each row; rows of a branch are contiguous
    index : int array, the message's position in its branch
    n_words, n_chars : int arrays
    """

    def __init__(self, texts: Sequence[str], roles: Sequence[str], branch: np.ndarray, index: np.ndarray,
                 matcher: Matcher) -> None:
        self.text = list(texts)
        self.role = np.asarray(roles, dtype=object)
        self.branch = np.asarray(branch, dtype=np.int64)
        self.index = np.asarray(index, dtype=np.int64)
        self.n = len(self.text)
        self.n_chars = np.fromiter((len(t) for t in self.text), dtype=np.int64, count=self.n)
        self.n_words = np.fromiter((len(_WORDS.findall(t)) for t in self.text), dtype=np.int64, count=self.n)
        self.matcher = matcher
        self._counts, self._first = matcher.counts(self.text)
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
    def previous(self, role: str) -> np.ndarray:
        """Row number of the nearest earlier row of ``role`` in the same branch (-1 when none)."""
        if role not in self._prev_cache:
            out = np.full(self.n, -1, dtype=np.int64)
            last = -1
            for i in range(self.n):
                if i == 0 or self.branch[i] != self.branch[i - 1]:
                    last = -1
                out[i] = last
                if self.role[i] == role:
                    last = i
            self._prev_cache[role] = out
        return self._prev_cache[role]

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
        """Per branch, the longest run of consecutive ``role`` turns where ``mask`` holds."""
        m = self.messages
        rows = np.flatnonzero(m.is_role(role))
        out = np.zeros(self.n)
        run, prev_branch = 0, -1
        flags = np.asarray(mask, dtype=bool)
        for r in rows:
            br = m.branch[r]
            if br != prev_branch:
                run, prev_branch = 0, br
            run = run + 1 if flags[r] else 0
            if run > out[br]:
                out[br] = run
        return out
