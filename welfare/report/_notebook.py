"""Notebooks with parameters: read (jupytext ``.py`` percent files or ``.ipynb``), inject values
after the cell tagged ``parameters``, and execute with nbclient in a kernel of this Python.

The injected cell is a code cell tagged ``injected-parameters`` holding one assignment per value,
written as a Python literal (``repr`` of JSON-like values only), so a parameter can never carry
code into the notebook.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "NotebookExecutionError",
    "NotebookParameterError",
    "execute_notebook",
    "find_notebook",
    "inject_parameters",
    "notebook_parameters",
    "read_notebook",
]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


class NotebookParameterError(ValueError):
    """A parameter cannot be injected: no ``parameters`` cell, an unknown name, or a value that is not a literal."""


class NotebookExecutionError(RuntimeError):
    """A notebook cell raised; the message names the notebook, the cell and the error."""

    def __init__(self, message: str, notebook: Any = None) -> None:
        super().__init__(message)
        self.notebook = notebook


def require_notebook_tools() -> None:
    """Raise ImportError naming the extra to install when the notebook tools are missing."""
    import importlib.util

    missing = [m for m in ("nbformat", "nbclient", "jupytext", "ipykernel", "markdown_it")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"running notebooks needs {', '.join(missing)}: pip install 'welfare[notebooks]'")


def _notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks"


def find_notebook(name: str | os.PathLike[str]) -> Path:
    """Path of a notebook given as a path, or as a name from the repository's ``notebooks/`` folder.

    ``"02_end_conversation_analysis"``, ``"02_end_conversation_analysis.py"`` and a path to a
    ``.py``/``.ipynb`` file all work. Raises ``FileNotFoundError`` listing the bundled notebooks.
    """
    path = Path(name)
    if path.is_file():
        return path
    folder = _notebooks_dir()
    for candidate in (folder / path.name, folder / f"{path.name}.py", folder / f"{path.name}.ipynb"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in folder.glob("[0-9]*.py")) if folder.is_dir() else []
    raise FileNotFoundError(f"no notebook {os.fspath(name)!r}: give a path to a .py (jupytext percent) or .ipynb "
                            f"file, or one of the bundled notebooks: {known}")


def read_notebook(path: str | os.PathLike[str]) -> Any:
    """An ``nbformat`` notebook from a jupytext percent-format ``.py`` file or an ``.ipynb`` file."""
    require_notebook_tools()
    import jupytext
    import nbformat

    p = Path(path)
    if p.suffix == ".ipynb":
        return nbformat.read(p, as_version=4)
    return jupytext.read(p, fmt="py:percent")


def _is_literal(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_literal(v) for k, v in value.items())
    return False


def _parameters_cell(nb: Any) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return i
    raise NotebookParameterError(
        "the notebook has no code cell tagged 'parameters'; tag the cell holding the defaults "
        "(jupytext percent format: `# %% tags=[\"parameters\"]`)")


def notebook_parameters(nb: Any) -> dict[str, Any]:
    """Names assigned in the ``parameters`` cell, with their default values where they are literals."""
    source = nb.cells[_parameters_cell(nb)].source
    out: dict[str, Any] = {}
    for node in ast.parse(source).body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(value) if value is not None else None
                except ValueError:
                    out[t.id] = None
    return out


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """Insert (or replace) a cell tagged ``injected-parameters`` right after the ``parameters`` cell.

    Every name must be assigned in the ``parameters`` cell and every value must be a literal
    (None, bool, number, string, or lists/dicts of these); otherwise :class:`NotebookParameterError`
    says which. Returns the notebook (changed in place).
    """
    import nbformat

    index = _parameters_cell(nb)
    known = notebook_parameters(nb)
    lines = ["# Parameters injected by welfare.report"]
    for name, value in parameters.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise NotebookParameterError(f"parameter name {name!r} is not a Python identifier")
        if name not in known:
            raise NotebookParameterError(f"unknown parameter {name!r}; the notebook's parameters cell defines "
                                         f"{sorted(known)}")
        if not _is_literal(value):
            raise NotebookParameterError(f"parameter {name!r}: value of type {type(value).__name__} is not a literal; "
                                         "use None, bool, int, float, str, or lists/dicts of these")
        lines.append(f"{name} = {value!r}")
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    nxt = index + 1
    if nxt < len(nb.cells) and INJECTED_TAG in nb.cells[nxt].get("metadata", {}).get("tags", []):
        nb.cells[nxt] = cell
    else:
        nb.cells.insert(nxt, cell)
    return nb


def execute_notebook(nb: Any, *, cwd: str | os.PathLike[str], timeout: int = 600, kernel_name: str = "python3",
                     progress: bool = False) -> Any:
    """Run every cell in a fresh kernel whose working directory is ``cwd``; returns the executed notebook.

    The ``python3`` kernel is ipykernel's own, started with this interpreter (so it sees this
    environment's packages). ``progress`` shows a tqdm bar over the code cells. A failing cell
    raises :class:`NotebookExecutionError` whose ``.notebook`` holds the partly executed notebook.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    n_code = sum(1 for c in nb.cells if c.cell_type == "code")
    bar = tqdm(total=n_code, desc="cells", unit="cell", leave=False, disable=not progress)

    def done(**_: Any) -> None:
        bar.update()

    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": os.fspath(cwd)}}, on_cell_executed=done)
    # A non-interactive MPLBACKEND (e.g. Agg, common on servers and in CI) would keep the kernel
    # from emitting figures, and the report would silently lose them: the kernel uses its inline one.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    try:
        client.execute(cwd=os.fspath(cwd), env=env)
    except CellExecutionError as err:
        name = nb.metadata.get("welfare_source", "notebook")
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(err))  # terminal colours off for logs and the CLI
        raise NotebookExecutionError(f"{name}: a cell failed:\n{plain}", nb) from err
    finally:
        bar.close()
    return nb
