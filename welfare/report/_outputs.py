"""What a report notebook hands to the report: named tables and figures, written to disk.

A notebook makes one ``ReportOutputs(output_dir)``; with ``output_dir=None`` (interactive use)
nothing is written and each call just returns what it was given, so the same notebook reads well
in Jupyter and runs unchanged under ``welfare report``. Files are byte-stable: the same inputs
give the same bytes (CSV, Parquet and LaTeX tables; PDF and PNG figures without dates).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["MANIFEST_NAME", "ReportOutputError", "ReportOutputs", "frame_to_latex"]

MANIFEST_NAME = "outputs.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,80}$")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


class ReportOutputError(ValueError):
    """An output cannot be written as asked (bad name, not a DataFrame, not a figure)."""


def _latex_escape(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], text)


def _latex_cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if isinstance(value, float):
        return f"{value:.3g}"  # display rounding only; the CSV and Parquet keep full precision
    return _latex_escape(str(value))


def frame_to_latex(frame: pd.DataFrame, caption: str | None = None, label: str | None = None) -> str:
    """A booktabs ``table`` of any DataFrame: text escaped for LaTeX, floats shown to 3 significant digits.

    Analysis results (the fixed result columns) are better served by ``welfare.analysis.to_latex``,
    which :meth:`ReportOutputs.table` uses when it is available.
    """
    cols = [str(c) for c in frame.columns]
    align = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    lines = ["\\begin{table}[htbp]", "\\centering"]
    if caption:
        lines.append(f"\\caption{{{_latex_escape(caption)}}}")
    if label:
        lines.append(f"\\label{{{_latex_escape(label)}}}")
    lines += [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(_latex_escape(c) for c in cols) + " \\\\",
              "\\midrule"]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_latex_cell(v) for v in row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def _analysis_latex(frame: pd.DataFrame, caption: str | None, label: str | None) -> str | None:
    """``welfare.analysis.to_latex`` for result frames, when the analysis package provides it."""
    try:
        import welfare.analysis as analysis
    except ImportError:
        return None
    to_latex = getattr(analysis, "to_latex", None)
    columns = getattr(analysis, "RESULT_COLUMNS", None)
    if to_latex is None or columns is None or not set(columns) <= set(frame.columns):
        return None
    kwargs: dict[str, Any] = {}
    if caption is not None:
        kwargs["caption"] = caption
    if label is not None:
        kwargs["label"] = label
    try:
        return str(to_latex(frame, **kwargs))
    except TypeError:
        return str(to_latex(frame))


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    try:
        frame.to_parquet(path, index=False)
        return
    except (TypeError, ValueError):
        pass
    # Mixed object columns or attrs that are not JSON: store text columns as strings, no attrs.
    clean = frame.copy()
    clean.attrs = {}
    for col in clean.columns:
        if clean[col].dtype == object:
            clean[col] = clean[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                                        else str(v))
    clean.to_parquet(path, index=False)


@dataclass
class ReportOutputs:
    """Collect the tables and figures of a report notebook into ``output_dir``.

    Layout: ``tables/NAME.{csv,parquet,tex}``, ``figures/NAME.{pdf,png}`` and ``outputs.json``
    (the manifest: names, captions and files in the order they were added).

    Examples
    --------
    >>> out = ReportOutputs(None)          # interactive: nothing is written
    >>> out.table("effects", pd.DataFrame({"a": [1]})).shape
    (1, 1)
    """

    output_dir: str | os.PathLike[str] | None = None
    tables: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.output_dir is not None

    def _check_name(self, name: str, kind: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ReportOutputError(f"{kind} name {name!r} must be letters, digits, '_' or '-' (at most 81 "
                                    "characters, starting with a letter or digit); it becomes a file name")
        taken = {t["name"] for t in (self.tables if kind == "table" else self.figures)}
        if name in taken:
            raise ReportOutputError(f"{kind} {name!r} was already added to this report; choose another name")

    def _root(self) -> Path:
        return Path(os.fspath(self.output_dir))  # type: ignore[arg-type]

    def _save_manifest(self) -> None:
        manifest = {"tables": self.tables, "figures": self.figures}
        (self._root() / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")

    def table(self, name: str, frame: pd.DataFrame, *, caption: str | None = None,
              latex: bool = True) -> pd.DataFrame:
        """Write ``frame`` as CSV, Parquet and (unless ``latex=False``, e.g. for long tables) LaTeX under
        ``tables/``; returns ``frame`` (to display)."""
        if not isinstance(frame, pd.DataFrame):
            raise ReportOutputError(f"table {name!r}: expected a pandas DataFrame, got {type(frame).__name__}")
        if not self.enabled:
            return frame
        self._check_name(name, "table")
        folder = self._root() / "tables"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
        _write_parquet(frame, folder / f"{name}.parquet")
        extensions = ["csv", "parquet"]
        if latex:
            tex = _analysis_latex(frame, caption, f"tab:{name}") or frame_to_latex(frame, caption, f"tab:{name}")
            (folder / f"{name}.tex").write_text(tex, encoding="utf-8")
            extensions.append("tex")
        self.tables.append({"name": name, "caption": caption or "", "rows": len(frame),
                            "files": [f"tables/{name}.{ext}" for ext in extensions]})
        self._save_manifest()
        return frame

    def figure(self, name: str, fig: Any, *, caption: str | None = None) -> None:
        """Save a matplotlib figure (or the figure of an Axes) as PDF and PNG under ``figures/``.

        Returns ``None``, so a cell ending with this call does not show the figure twice (the notebook
        backend already shows figures drawn in the cell).
        """
        from welfare.plots import save_figure

        figure = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
        if not hasattr(figure, "savefig"):
            raise ReportOutputError(f"figure {name!r}: expected a matplotlib Figure or Axes, got {type(fig).__name__}")
        if not self.enabled:
            return None
        self._check_name(name, "figure")
        paths = save_figure(figure, self._root() / "figures" / name, formats=("pdf", "png"))
        self.figures.append({"name": name, "caption": caption or "",
                             "files": [p.relative_to(self._root()).as_posix() for p in paths]})
        self._save_manifest()
        return None
