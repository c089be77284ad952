"""``welfare report``: run an analysis notebook on new logs and write everything a paper needs.

One call writes, under the output folder::

    NOTEBOOK.ipynb      the executed notebook (parameters injected after its `parameters` cell)
    report.html         standalone HTML (no scripts, strict CSP), built from the executed notebook
    figures/*.pdf|png   the figures the notebook registered with ReportOutputs
    tables/*.csv|parquet|tex
    outputs.json        manifest of figures and tables
    provenance.json     package, Python and library versions, metric and lexicon versions,
                        input files with SHA-256, the analysis spec, notebook hash, output hashes

Tables and figures are byte-identical when the same inputs are run again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from welfare.report._notebook import (
    NotebookExecutionError,
    execute_notebook,
    find_notebook,
    inject_parameters,
    notebook_parameters,
    read_notebook,
)
from welfare.report._outputs import MANIFEST_NAME
from welfare.report._report_html import render_report_html

__all__ = ["DEFAULT_NOTEBOOK", "ReportError", "ReportResult", "run_demo", "run_report", "sample_data_path"]

DEFAULT_NOTEBOOK = "02_end_conversation_analysis"
_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "matplotlib", "pyarrow", "nbclient", "ipykernel")


class ReportError(ValueError):
    """A report cannot be made as asked (no logs, a bad spec file, a notebook that failed)."""


@dataclass
class ReportResult:
    """Paths of what :func:`run_report` wrote."""

    output_dir: Path
    notebook: Path
    html: Path
    provenance: Path
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _metric_versions() -> tuple[dict[str, str], dict[str, str]]:
    from welfare.lexicons import load_lexicons
    from welfare.metrics import list_metrics

    metrics = {m.name: m.version for m in list_metrics()}
    lexicons = {lx.name: lx.version for lx in load_lexicons()}
    return metrics, lexicons


def _load_spec(spec: str | os.PathLike[str] | Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """(spec as data, path of its file) — a mapping is kept as data, a path is parsed as YAML/JSON."""
    if spec is None:
        return None, None
    if isinstance(spec, Mapping):
        return dict(spec), None
    path = Path(spec)
    if not path.is_file():
        raise ReportError(f"analysis spec {os.fspath(spec)!r} does not exist; pass a YAML or JSON file "
                          "(see docs/report.md)")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ReportError(f"analysis spec {os.fspath(spec)!r} is not valid YAML/JSON: {err}") from err
    if not isinstance(data, dict):
        raise ReportError(f"analysis spec {os.fspath(spec)!r}: expected a mapping at the top level, "
                          f"found {type(data).__name__}")
    return data, os.fspath(path.resolve())


def _clear_previous_report(out: Path) -> None:
    """Make ``out`` ready for a report without deleting anything the report did not write.

    A missing or empty folder is fine. A folder holding a previous report (its ``provenance.json``) loses the
    table and figure files that report listed, so none is left over from it; every other file stays. Any
    other folder with files in it is refused: the report would overwrite or mix with files it did not make.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise ReportError(f"output folder {os.fspath(out)!r} is a file; give a folder for the report (-o DIR)")
    prov_path = out / "provenance.json"
    manifest = _manifest_files(out / MANIFEST_NAME)
    if not prov_path.is_file() and manifest is not None:
        listed = manifest  # a report stopped before its provenance (Ctrl-C, a failing cell) listed what it wrote
    elif not prov_path.is_file():
        present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir())
        if present:
            shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
            raise ReportError(f"output folder {os.fspath(out)!r} already holds files that no earlier report wrote "
                              f"({shown}); the report writes figures/, tables/ and report.html there and would mix "
                              f"with or replace them: give a new or empty folder, or the folder of a previous report")
        return
    else:
        try:
            previous = json.loads(prov_path.read_text(encoding="utf-8"))
            listed = list(previous["outputs"])
        except (ValueError, KeyError, TypeError) as err:
            raise ReportError(f"{os.fspath(prov_path)!r} is not the provenance of a welfare report ({err}); give a "
                              "new or empty folder, or remove the file if the folder is yours to reuse") from err
    root = out.resolve()
    for name in [*listed, MANIFEST_NAME]:
        path = (out / str(name)).resolve()
        if (path.parent.name in ("tables", "figures") and path.parent.parent == root) or path == root / MANIFEST_NAME:
            path.unlink(missing_ok=True)


def _manifest_files(path: Path) -> list[str] | None:
    """The files a report's ``outputs.json`` lists, or None when ``path`` is not such a manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [*data["tables"], *data["figures"]]
        return [str(f) for entry in entries for f in entry["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_analysis(files: Sequence[Path], spec_data: Mapping[str, Any] | None, spec_path: str | None,
                    values: Mapping[str, Any], load_options: dict[str, Any]) -> None:
    """The default notebook's checks of the spec and its parameters, run before the notebook (seconds, not after
    scoring, and without a notebook traceback): a mistyped key is a ReportError naming the valid ones."""
    import welfare
    from welfare.report._checks import check_analysis_inputs

    loading = welfare.LoadReport()
    convs = welfare.load_all(files, report=loading, **load_options)
    if loading.rejected:  # lenient loading only (strict stops at the first bad record): say it where it is seen
        print(f"welfare report: {loading.summary()}; first rejected: {loading.rejected[0]}", file=sys.stderr)
    try:
        check_analysis_inputs(convs, spec_data, control_arm=values.get("control_arm", "no_end_tool"),
                              event_anchor=values.get("event_anchor"), event_metric=values.get("event_metric"),
                              event_window=values.get("event_window", 0), n_boot=values.get("n_boot", 1),
                              source=spec_path)
    except ValueError as err:
        raise ReportError(str(err)) from err


def _json_default(value: Any) -> Any:
    return str(value)


def run_report(
    logs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    spec: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    notebook: str | os.PathLike[str] = DEFAULT_NOTEBOOK,
    parameters: Mapping[str, Any] | None = None,
    timeout: int = 600,
    progress: bool = True,
    kernel_name: str = "python3",
    load_options: Mapping[str, Any] | None = None,
) -> ReportResult:
    """Run an analysis notebook on ``logs`` and write the report into ``output_dir``.

    Parameters
    ----------
    logs
        Log files, directories or globs (any format :func:`welfare.load` reads). Passed to the
        notebook as the parameter ``logs`` (absolute paths of every file, sorted as found).
    output_dir
        Folder to write into: new, empty, or the folder of a previous report, whose table and figure files
        are replaced (files it did not write are kept). Any other folder with files is refused.
    spec
        Analysis spec: a YAML/JSON file or a mapping; passed as the parameter ``spec`` (a path;
        a mapping is first written to ``output_dir/spec.json``) and recorded in the provenance.
    notebook
        A bundled notebook name (default ``02_end_conversation_analysis``) or a path to a
        ``.py`` (jupytext percent) or ``.ipynb`` file with a cell tagged ``parameters``.
    parameters
        More parameters for the notebook (literals only). Not ``logs``, ``output_dir`` or ``spec``: those come
        from the arguments above, so the provenance lists what the notebook really read.
    load_options
        How to read the logs, passed to :func:`welfare.load` (``format``, ``strict=False`` to skip bad records,
        table column names): the notebook's parameter ``load_options`` (a notebook without it refuses them).
    timeout
        Seconds allowed per cell.
    progress
        Show tqdm progress bars (steps, and cells while the notebook runs).

    Returns
    -------
    ReportResult
        Paths of the executed notebook, the HTML page, provenance and each table and figure file.

    Raises
    ------
    ReportError
        No log files, a bad spec, or a cell that raised (the partly executed notebook is still
        written, so the error can be read in context).
    """
    from tqdm.auto import tqdm

    from welfare._version import __version__
    from welfare.io import expand_paths

    reserved = sorted({"logs", "output_dir", "spec", "load_options"}.intersection(parameters or {}))
    if reserved:
        raise ReportError(f"parameter(s) {', '.join(reserved)} cannot be set as notebook parameters: give the logs, "
                          f"the output folder, the spec and how to read the logs as the report's own arguments (LOGS, -o, --spec, "
                          f"--format, --lenient), so "
                          f"that the provenance records what the notebook read")
    out = Path(output_dir)
    files = [Path(p) for p in expand_paths(logs if isinstance(logs, list | tuple) else [logs])]  # type: ignore[list-item]
    # a report folder inside a logs folder holds the report's own tables and notebook: never read them as logs
    root = out.resolve()
    files = [f for f in files if not f.resolve().is_relative_to(root)]
    if not files:
        raise ReportError(f"no log files found in {logs!s}")
    steps = tqdm(total=5, desc="welfare report", unit="step", disable=not progress)

    steps.set_postfix_str("hashing inputs")
    inputs = [{"path": os.fspath(p), "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files]
    spec_data, spec_path = _load_spec(spec)
    spec_file = out / "spec.json" if spec_data is not None and spec_path is None else None
    if spec_file is not None:
        spec_path = os.fspath(spec_file.resolve())
    steps.update()

    steps.set_postfix_str("preparing notebook")
    nb_path = find_notebook(notebook)
    nb = read_notebook(nb_path)
    nb.metadata["welfare_source"] = nb_path.name
    known = notebook_parameters(nb)
    values: dict[str, Any] = {"logs": [os.fspath(p.resolve()) for p in files],
                              "output_dir": os.fspath(out.resolve())}
    if spec_path is not None or "spec" in known:
        values["spec"] = spec_path
    if load_options:
        if "load_options" not in known:
            raise ReportError(f"notebook {nb_path.name} has no load_options parameter, so it cannot be told how to "
                              f"read the logs ({', '.join(sorted(load_options))}); drop --format/--lenient or add "
                              f"load_options = {{}} to its parameters cell and pass it to welfare.load")
        values["load_options"] = dict(load_options)
    values.update(parameters or {})
    values = {k: v for k, v in values.items() if k in known or k in (parameters or {})}
    inject_parameters(nb, values)
    if nb_path.stem == DEFAULT_NOTEBOOK:
        _check_analysis(files, spec_data, spec_path if spec_file is None else None, {**known, **values},
                        dict(load_options or {}))
    # the folder is touched only once everything above is known to be fine
    _clear_previous_report(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_NAME
    if spec_file is not None:
        spec_file.write_text(json.dumps(spec_data, indent=2, sort_keys=True, default=_json_default) + "\n",
                             encoding="utf-8")
    steps.update()

    steps.set_postfix_str(f"running {nb_path.name}")
    executed_name = nb_path.stem + ".ipynb"
    error: NotebookExecutionError | None = None
    try:
        execute_notebook(nb, cwd=nb_path.parent, timeout=timeout, kernel_name=kernel_name, progress=progress)
    except NotebookExecutionError as err:
        error = err
    import nbformat

    nbformat.write(nb, out / executed_name)
    steps.update()

    steps.set_postfix_str("writing provenance and HTML")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    metrics, lexicons = _metric_versions()
    # only the files the notebook registered: anything else in the folder is not the report's
    outputs = sorted({out / f for kind in ("tables", "figures") for entry in manifest.get(kind, [])
                      for f in entry["files"] if (out / f).is_file()})
    provenance = {
        "welfare_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": _library_versions(),
        "metrics": metrics,
        "lexicons": lexicons,
        "inputs": inputs,
        "spec": spec_data,
        "spec_path": spec_path,
        "notebook": {"name": nb_path.name, "sha256": _sha256(nb_path)},
        "parameters": values,
        "outputs": {p.relative_to(out).as_posix(): _sha256(p) for p in outputs},
        "generated_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "status": "failed" if error else "ok",
    }
    prov_path = out / "provenance.json"
    prov_path.write_text(json.dumps(provenance, indent=2, sort_keys=True, default=_json_default) + "\n",
                         encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(render_report_html(nb, manifest=manifest, provenance=provenance), encoding="utf-8")
    steps.update()
    steps.update()
    steps.close()
    if error is not None:
        raise ReportError(f"{error}\n(the partly executed notebook is in {out / executed_name})") from error
    return ReportResult(
        output_dir=out, notebook=out / executed_name, html=html_path, provenance=prov_path,
        tables=[out / f for entry in manifest.get("tables", []) for f in entry["files"]],
        figures=[out / f for entry in manifest.get("figures", []) for f in entry["files"]],
    )


def sample_data_path() -> Path:
    """The bundled synthetic sample (``data/sample/`` of the repository)."""
    return Path(__file__).resolve().parents[2] / "data" / "sample"


def run_demo(output_dir: str | os.PathLike[str] = "reports/demo", **kwargs: Any) -> ReportResult:
    """:func:`run_report` on the bundled sample (``data/sample/``) with the default notebook.

    Raises :class:`ReportError` when the sample is missing (it ships with the repository).
    """
    sample = sample_data_path()
    if not sample.is_dir():
        raise ReportError(f"the bundled sample {sample} is missing; it ships with the repository "
                          "(regenerate it with welfare.simulate, see docs/report.md)")
    return run_report(sample, output_dir, **kwargs)
