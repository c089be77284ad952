"""welfare report machinery: parameter injection, execution, outputs, provenance, HTML, reruns byte-identical."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import welfare
from welfare.cli import main
from welfare.report import (
    NotebookParameterError,
    ReportError,
    ReportOutputError,
    ReportOutputs,
    frame_to_latex,
    inject_parameters,
    notebook_parameters,
    read_notebook,
    run_report,
)

PAYLOAD = "<script>document.title='PWNED'</script><img src=x onerror=alert(1)>"

# A small report notebook in jupytext percent format: reads the logs it is given, writes a table
# and a figure through ReportOutputs, and displays untrusted text in three ways.
NOTEBOOK = '''# %% [markdown]
# # Tiny report
# Counts conversations per arm.

# %% tags=["parameters"]
logs = []
output_dir = None
spec = None
seed = 0

# %%
import matplotlib.pyplot as plt
import pandas as pd
import welfare
from welfare.report import ReportOutputs

out = ReportOutputs(output_dir)
convs = welfare.load_all(logs)
arms = pd.Series([t.metadata.get("condition") for t in convs]).value_counts().sort_index()
table = pd.DataFrame({"arm": arms.index, "n": arms.to_numpy(), "share": arms.to_numpy() / arms.sum(),
                      "note": [convs[0].messages[0].text] * len(arms)})
out.table("arms", table, caption="Conversations per arm")

# %%
fig, ax = plt.subplots()
ax.bar(table["arm"], table["n"])
out.figure("arms", fig, caption="Conversations per arm")
print(convs[0].messages[0].text)
spec
'''


def _logs(tmp_path: Path) -> Path:
    convs = [welfare.Transcript.from_dict({"id": f"c{i}", "metadata": {"condition": "a" if i % 3 else "b"},
                                           "messages": [{"role": "user", "content": PAYLOAD},
                                                        {"role": "assistant", "content": "ok"}]})
             for i in range(9)]
    path = tmp_path / "logs.jsonl"
    welfare.write_canonical(convs, path)
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    path = tmp_path / "nb" / "tiny.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK, encoding="utf-8")
    return path


def test_inject_parameters_after_tagged_cell(notebook: Path) -> None:
    nb = read_notebook(notebook)
    assert notebook_parameters(nb) == {"logs": [], "output_dir": None, "spec": None, "seed": 0}
    inject_parameters(nb, {"seed": 3, "logs": ["a.jsonl"]})
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[index + 1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert "seed = 3" in injected.source and "logs = ['a.jsonl']" in injected.source
    inject_parameters(nb, {"seed": 4})  # replaces, never stacks
    assert sum("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1
    assert "seed = 4" in nb.cells[index + 1].source
    with pytest.raises(NotebookParameterError, match=r"unknown parameter 'sede'.*'seed'"):
        inject_parameters(nb, {"sede": 1})
    with pytest.raises(NotebookParameterError, match="not a literal"):
        inject_parameters(nb, {"seed": object()})
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(NotebookParameterError, match="tagged 'parameters'"):
        inject_parameters(untagged, {"x": 2})


def test_outputs_interactive_writes_nothing_and_checks_names(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5], "b": ["x_y & z"]})
    assert ReportOutputs(None).table("t", frame) is frame
    out = ReportOutputs(tmp_path)
    out.table("t", frame)
    with pytest.raises(ReportOutputError, match="already added"):
        out.table("t", frame)
    with pytest.raises(ReportOutputError, match="becomes a file name"):
        out.table("../evil", frame)
    with pytest.raises(ReportOutputError, match="expected a pandas DataFrame"):
        out.table("u", [1])  # type: ignore[arg-type]
    latex = frame_to_latex(frame, caption="50% of it")
    assert r"x\_y \& z" in latex and r"50\% of it" in latex and "1.5" in latex


@pytest.mark.slow
def test_run_report_twice_is_byte_identical(tmp_path: Path, notebook: Path) -> None:
    logs = _logs(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text("outcomes: [distress]\narms: {treatment: a, control: b}\n", encoding="utf-8")
    digests = []
    for run in ("one", "two"):
        result = run_report(logs, tmp_path / run, spec=spec, notebook=notebook, progress=False)
        files = sorted(p for p in (result.output_dir / "tables").iterdir())
        assert [p.name for p in files] == ["arms.csv", "arms.parquet", "arms.tex"]
        assert sorted(p.name for p in (result.output_dir / "figures").iterdir()) == ["arms.pdf", "arms.png"]
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in [*files, *sorted((result.output_dir / "figures").iterdir())]})
    assert digests[0] == digests[1]

    out = tmp_path / "one"
    table = pd.read_parquet(out / "tables" / "arms.parquet")
    assert table["n"].tolist() == [6, 3] and table["note"].iloc[0] == PAYLOAD
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["inputs"][0]["sha256"] == hashlib.sha256(logs.read_bytes()).hexdigest()
    assert prov["spec"] == {"outcomes": ["distress"], "arms": {"treatment": "a", "control": "b"}}
    assert prov["welfare_version"] == welfare.__version__
    assert prov["outputs"]["tables/arms.csv"] == digests[0]["arms.csv"]
    assert set(prov["metrics"]) == {m.name for m in welfare.metrics.list_metrics()}
    executed = nbformat.read(out / "tiny.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert "&lt;script&gt;document.title" in page  # printed payload and table cell show as text
    assert "<title>Tiny report</title>" in page and 'src="data:image/png;base64,' in page
    assert 'href="tables/arms.csv"' in page


@pytest.mark.slow
def test_failing_notebook_still_writes_notebook_and_cli_exit_code(tmp_path: Path) -> None:
    notebook = tmp_path / "failing.py"
    notebook.write_text('# %% tags=["parameters"]\nlogs = []\noutput_dir = None\n\n# %%\nprint(len(logs))\n'
                        "\n# %%\nraise RuntimeError('boom in cell')\n", encoding="utf-8")
    logs = _logs(tmp_path)
    with pytest.raises(ReportError, match="boom in cell"):
        run_report(logs, tmp_path / "r", notebook=notebook, progress=False)
    executed = nbformat.read(tmp_path / "r" / "failing.ipynb", as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "1\n"  # cells before the error ran, outputs kept
    assert json.loads((tmp_path / "r" / "provenance.json").read_text())["status"] == "failed"
    assert main(["report", str(logs), "-o", str(tmp_path / "r2"), "--notebook", str(notebook), "--no-progress"]) == 1


def test_report_errors_before_running(tmp_path: Path, notebook: Path) -> None:
    logs = _logs(tmp_path)
    with pytest.raises(ReportError, match="does not exist"):
        run_report(logs, tmp_path / "r", spec=tmp_path / "missing.yaml", notebook=notebook, progress=False)
    with pytest.raises(FileNotFoundError, match="bundled notebooks"):
        run_report(logs, tmp_path / "r", notebook="no_such_notebook", progress=False)


def test_cli_params_are_literals_or_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from welfare.cli import main
    from welfare.commands.report import parse_params

    got = parse_params(["n_boot=2000", "event_anchor=role == 'user' and hostility >= 0.7", "control_arm=base",
                        "spec=None", "arms=['a', 'b']", "label='1'", "x=a=b"])
    assert got == {"n_boot": 2000, "event_anchor": "role == 'user' and hostility >= 0.7", "control_arm": "base",
                   "spec": None, "arms": ["a", "b"], "label": "1", "x": "a=b"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params(["n_boot"])
    logs = tmp_path / "logs.jsonl"
    logs.write_text('{"id": "c1", "messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    assert main(["report", str(logs), "-o", str(tmp_path / "r"), "--no-progress", "-p", "no_such_name=1"]) == 1
    assert "unknown parameter 'no_such_name'" in capsys.readouterr().err
    # the inputs are the report's own arguments, so the provenance lists what the notebook read
    assert main(["report", str(logs), "-o", str(tmp_path / "r"), "--no-progress", "-p", f"logs=['{logs}']"]) == 1
    assert "logs cannot be set as notebook parameters" in capsys.readouterr().err


@pytest.mark.slow
def test_a_report_folder_inside_the_logs_folder_is_not_read_as_logs(tmp_path: Path, notebook: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    logs = _logs(tmp_path).rename(folder / "logs.jsonl")
    for _ in range(2):  # the second run finds the first run's tables and notebook inside the logs folder
        result = run_report(folder, folder / "report", notebook=notebook, progress=False)
        prov = json.loads(result.provenance.read_text(encoding="utf-8"))
        assert [Path(i["path"]).name for i in prov["inputs"]] == [logs.name]


@pytest.mark.slow
def test_report_never_deletes_files_it_did_not_write(tmp_path: Path, notebook: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    logs = _logs(tmp_path)
    paper = tmp_path / "paper"
    (paper / "figures").mkdir(parents=True)
    (paper / "tables").mkdir()
    mine = {paper / "figures" / "fig1.tex": "% hand-made\n", paper / "tables" / "results.csv": "a,b\n",
            paper / "main.tex": "\\documentclass{article}\n"}
    for path, text in mine.items():
        path.write_text(text, encoding="utf-8")
    # a folder with the user's own files and no earlier report: refused before anything is written
    with pytest.raises(ReportError, match=r"no earlier report wrote \(figures/fig1.tex, main.tex, tables/results.csv\)"):
        run_report(logs, paper, notebook=notebook, progress=False)
    assert main(["report", str(logs), "-o", str(paper), "--notebook", str(notebook), "--no-progress"]) == 1
    assert "give a new or empty folder" in capsys.readouterr().err
    assert {p: p.read_text(encoding="utf-8") for p in mine} == mine
    assert sorted(p.name for p in paper.rglob("*") if p.is_file()) == ["fig1.tex", "main.tex", "results.csv"]

    # a previous report's folder: its listed tables and figures are replaced, a stale one removed, others kept
    out = tmp_path / "r"
    run_report(logs, out, notebook=notebook, progress=False)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    (out / "tables" / "old.csv").write_text("x\n", encoding="utf-8")  # as if an earlier notebook had written it
    prov["outputs"]["tables/old.csv"] = "0" * 64
    (out / "provenance.json").write_text(json.dumps(prov), encoding="utf-8")
    (out / "tables" / "notes.csv").write_text("mine\n", encoding="utf-8")
    run_report(logs, out, notebook=notebook, progress=False)
    assert not (out / "tables" / "old.csv").exists()
    assert (out / "tables" / "notes.csv").read_text(encoding="utf-8") == "mine\n"
    listed = json.loads((out / "provenance.json").read_text(encoding="utf-8"))["outputs"]
    assert sorted(listed) == ["figures/arms.pdf", "figures/arms.png", "tables/arms.csv", "tables/arms.parquet",
                              "tables/arms.tex"]

    # a first report stopped before its provenance (Ctrl-C): its outputs.json says what it wrote, so it reruns
    (out / "provenance.json").unlink()
    (out / "report.html").unlink(missing_ok=True)
    run_report(logs, out, notebook=notebook, progress=False)
    assert (out / "provenance.json").is_file()
    assert (out / "tables" / "notes.csv").read_text(encoding="utf-8") == "mine\n"  # still the user's file
