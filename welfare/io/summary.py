"""A summary of what a set of logs holds (``welfare info``)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from welfare.io._base import LoadReport
from welfare.io._load import load

__all__ = ["LogSummary", "summarize_logs"]


@dataclass
class LogSummary:
    """Counts over a set of logs; ``to_dict`` for JSON, ``to_text`` for people.

    ``models``/``conditions`` count conversations by ``metadata["model"]``/``["condition"]``;
    ``metadata_keys`` counts the conversations that have each metadata key (any key can become a column of
    the score tables with ``welfare score --metadata KEY``); ``trees`` counts conversations with more than one
    branch.
    """

    formats: dict[str, str] = field(default_factory=dict)
    conversations: int = 0
    branches: int = 0
    messages_by_role: Counter[str] = field(default_factory=Counter)
    endings: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    conditions: Counter[str] = field(default_factory=Counter)
    metadata_keys: Counter[str] = field(default_factory=Counter)
    trees: int = 0
    report: LoadReport = field(default_factory=LoadReport)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": dict(self.formats),
            "conversations": self.conversations,
            "branches": self.branches,
            "messages_by_role": dict(sorted(self.messages_by_role.items())),
            "endings": dict(sorted(self.endings.items())),
            "conversations_with_branches": self.trees,
            "models": dict(sorted(self.models.items())),
            "conditions": dict(sorted(self.conditions.items())),
            "metadata_keys": dict(sorted(self.metadata_keys.items())),
            "read": self.report.read,
            "loaded": self.report.loaded,
            "rejected": len(self.report.rejected),
            "rejects": [str(r) for r in self.report.rejected],
        }

    def to_text(self) -> str:
        lines = [f"files: {len(self.formats)}"]
        for path, fmt in self.formats.items():
            lines.append(f"  {path}  [{fmt}]")
        lines.append(f"conversations: {self.conversations}  (read {self.report.read}, "
                     f"rejected {len(self.report.rejected)})")
        lines.append(f"branches: {self.branches}  ({self.trees} conversations have more than one)")
        lines.append("messages by role: " + ", ".join(f"{r} {n}" for r, n in sorted(self.messages_by_role.items())))
        lines.append("endings (active branch): " + (", ".join(f"{k} {n}" for k, n in sorted(self.endings.items()))
                                                   or "none"))
        for label, counts in (("models", self.models), ("conditions", self.conditions)):
            if counts:
                shown = ", ".join(f"{k} {n}" for k, n in counts.most_common(10))
                more = f", ... ({len(counts) - 10} more)" if len(counts) > 10 else ""
                lines.append(f"{label}: {shown}{more}")
        if self.metadata_keys:
            keys = sorted(self.metadata_keys.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{k} {n}" for k, n in keys[:20])
            more = f", ... ({len(keys) - 20} more)" if len(keys) > 20 else ""
            lines.append(f"metadata keys (conversations having each; welfare score --metadata KEY): {shown}{more}")
        for rej in self.report.rejected[:20]:
            lines.append(f"  rejected: {rej}")
        if len(self.report.rejected) > 20:
            lines.append(f"  ... and {len(self.report.rejected) - 20} more rejected")
        return "\n".join(lines)


def summarize_logs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, format: str | None = None,
                   strict: bool = True, **options: Any) -> LogSummary:
    """Count conversations, branches, messages by role and endings; streams the logs once.

    ``options`` go to the reader (e.g. ``prompt=``/``response=`` for ``table``).
    """
    summary = LogSummary()
    for t in load(paths, format=format, strict=strict, report=summary.report, **options):
        summary.conversations += 1
        branches = t.branches()
        summary.branches += len(branches)
        summary.trees += len(branches) > 1
        for key, counter in (("model", summary.models), ("condition", summary.conditions)):
            value = t.metadata.get(key)
            if isinstance(value, str):
                counter[value] += 1
        summary.metadata_keys.update(t.metadata.keys())
        summary.messages_by_role.update(m.role for m in t.messages)
        active = next(b for b in branches if b.is_active)
        end = active.ending
        summary.endings[f"{end.by}:{end.method}" if end.ended else "not ended"] += 1
    summary.formats = dict(summary.report.formats)
    return summary
