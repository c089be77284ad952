"""Every notebook runs top to bottom on the bundled sample in a kernel of this environment, using public names only.

The analysis notebook (02) is run by the report test (tests/test_report_demo.py), twice, through `welfare demo`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, require_shared

from welfare.report import execute_notebook, inject_parameters, read_notebook

NOTEBOOKS = REPO / "notebooks"
RUN_HERE = ["01_quickstart", "03_metric_validation", "04_branches_and_new_chats", "05_your_own_logs"]
RUN_BY_REPORT = ["02_end_conversation_analysis"]


def test_every_notebook_is_run_by_a_test() -> None:
    found = sorted(p.stem for p in NOTEBOOKS.glob("[0-9]*.py"))
    assert found == sorted(RUN_HERE + RUN_BY_REPORT)


@pytest.mark.parametrize("name", RUN_HERE + RUN_BY_REPORT)
def test_notebooks_use_public_names_and_have_parameters(name: str) -> None:
    nb = read_notebook(NOTEBOOKS / f"{name}.py")
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "no cell tagged 'parameters'"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                if module.startswith("welfare"):
                    assert not any(part.startswith("_") for part in module.split(".")), module
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in ("welfare", "wa", "wp", "wv") and node.attr.startswith("_")):
                pytest.fail(f"{name}: private name {node.value.id}.{node.attr}")


def _run(name: str, tmp_path: Path, **parameters: object) -> object:
    nb = read_notebook(NOTEBOOKS / f"{name}.py")
    if parameters:
        inject_parameters(nb, parameters)
    return execute_notebook(nb, cwd=NOTEBOOKS, timeout=300)


def _outputs(nb: object) -> str:
    parts = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    text = _outputs(_run("01_quickstart", tmp_path))
    assert "conversations loaded, 0 rejected" in text
    assert 'class="wv-root"' in text  # the transcript displayed itself through the viewer
    assert "image/png" in text or "iVBOR" in text  # a figure was drawn


@pytest.mark.slow
def test_branches_and_new_chats(tmp_path: Path) -> None:
    text = _outputs(_run("04_branches_and_new_chats", tmp_path))
    assert "have more than one branch" in text and "wv-branch" in text
    assert "new chats linked by the recorded previous_conversation_id" in text  # the sample records the link


@pytest.mark.slow
def test_your_own_logs_template_writes_outputs(tmp_path: Path) -> None:
    _run("05_your_own_logs", tmp_path, output_dir=str(tmp_path / "out"))
    tables = sorted(p.name for p in (tmp_path / "out" / "tables").iterdir())
    assert "arms.csv" in tables and "conversation_means.parquet" in tables
    assert (tmp_path / "out" / "figures" / "overview.pdf").exists()


@pytest.mark.slow
def test_your_own_logs_takes_the_arm_from_any_metadata_key(tmp_path: Path) -> None:
    # the sample's metadata also names each simulated user's persona; as the arm it must reach the tables
    _run("05_your_own_logs", tmp_path, output_dir=str(tmp_path / "out"), arm="persona")
    arms = pd.read_csv(tmp_path / "out" / "tables" / "arms.csv")
    assert "persona" in arms.columns and arms["persona"].nunique() > 3 and "all" not in set(arms["persona"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_metric_validation(tmp_path: Path) -> None:
    root = require_shared("xstest")
    text = _outputs(_run("03_metric_validation", tmp_path, data_dir=str(root.parent), n_boot=100))
    assert "binary_accuracy" in text and "XSTest not found" not in text
