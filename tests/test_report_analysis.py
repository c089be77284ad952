"""The analysis report (notebook 02 through `welfare report`) on small simulated logs: what its tables say."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import welfare
import welfare.analysis as wa
from welfare.report import ReportError, check_analysis_inputs, run_report
from welfare.simulate import SimulationConfig, simulate


def _simulated(tmp_path: Path, **config: object) -> tuple[Path, list[welfare.Transcript]]:
    convs = simulate(SimulationConfig(**config))  # type: ignore[arg-type]
    path = tmp_path / "sim.jsonl"
    welfare.write_canonical(convs, path)
    return path, welfare.load_all([path])


def _follow_up_shares(table: pd.DataFrame) -> dict[str, float]:
    rows = table[table["outcome"] == "follow_up"]
    return dict(zip(rows["contrast"], rows["estimate"].round(12), strict=True))


@pytest.mark.slow
def test_after_ending_uses_the_logged_new_chat_link(tmp_path: Path) -> None:
    # Simulated new chats name the ended conversation (previous_conversation_id); every user also has a
    # conversation in the other arm, which "the user's next conversation by time" would take for a new chat.
    logs, convs = _simulated(tmp_path, n_conversations=24, seed=3)
    assert any(t.metadata.get("previous_conversation_id") for t in convs)
    table = welfare.score(convs, metadata=["previous_conversation_id"]).conversations
    by_link = _follow_up_shares(wa.after_ending(table, n_boot=20))
    by_time = _follow_up_shares(wa.after_ending(table.drop(columns="previous_conversation_id"), n_boot=20))
    assert by_link != by_time  # the data tell the two rules apart

    run_report([logs], tmp_path / "r", parameters={"n_boot": 50}, progress=False)
    got = _follow_up_shares(pd.read_csv(tmp_path / "r" / "tables" / "after_ending.csv"))
    assert got == by_link
    notebook = (tmp_path / "r" / "02_end_conversation_analysis.ipynb").read_text(encoding="utf-8")
    assert "whose previous_conversation_id names the ended one" in notebook


def _notebook_prints(folder: Path) -> str:
    import nbformat

    nb = nbformat.read(folder / "02_end_conversation_analysis.ipynb", as_version=4)
    return "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                   if out.get("name") == "stdout")


def test_an_arm_key_no_conversation_has_is_an_error_before_the_notebook(tmp_path: Path) -> None:
    logs, _ = _simulated(tmp_path, n_conversations=4, seed=1)
    with pytest.raises(ReportError, match=r"arm 'condtion' is neither a column .* nor a metadata key of any "
                                          r"conversation.*persona.*Did you mean 'condition'"):
        run_report([logs], tmp_path / "r", spec={"arm": "condtion"}, progress=False)
    assert not (tmp_path / "r").exists()  # refused before the notebook ran or anything was written
    with pytest.raises(ReportError, match=r"control 'no_end_tol' is not an arm of the logs; the arms in 'condition' "
                                          r"are \['end_tool_last_resort', 'no_end_tool'\]"):
        run_report([logs], tmp_path / "r", parameters={"control_arm": "no_end_tol"}, progress=False)
    with pytest.raises(ReportError, match="'started_at' is a score column"):
        run_report([logs], tmp_path / "r", spec={"arm": "started_at"}, progress=False)


def test_arms_found_in_the_logs() -> None:
    convs = [welfare.Transcript.from_dict({"id": f"c{i}", "metadata": meta,
                                           "messages": [{"role": "user", "content": "hi"}]})
             for i, meta in enumerate([{"variant": "a"}, {"variant": "b"}, {}])]
    both = check_analysis_inputs(convs, {"arm": "variant", "control": "a"})
    assert (both.arm, both.arms, both.compare, both.note) == ("variant", ["a", "b"], True, None)
    one = check_analysis_inputs(convs[:1], {"arm": "variant", "control": "a"})
    assert one.arms == ["a"] and not one.compare and "one arm ('a' in 'variant')" in str(one.note)
    none = check_analysis_inputs(convs)  # the default arm key, condition, is a column every table has
    assert none.arms == [] and not none.compare and "describes all conversations together" in str(none.note)
    with pytest.raises(wa.SpecError, match="Did you mean 'variant'"):
        check_analysis_inputs(convs, {"arm": "varaint"})


@pytest.mark.slow
@pytest.mark.parametrize("arms", [["end_tool_early"], None])
def test_logs_with_one_arm_or_none_give_a_descriptive_report(tmp_path: Path, arms: list[str] | None) -> None:
    logs, convs = _simulated(tmp_path, n_conversations=8, seed=2, arms=arms or ["end_tool_early"])
    if arms is None:  # logs that record no arm at all
        for t in convs:
            t.metadata.pop("condition", None)
        welfare.write_canonical(convs, logs)
    result = run_report([logs], tmp_path / "r", parameters={"n_boot": 20}, progress=False)
    printed = _notebook_prints(tmp_path / "r")
    tables = {p.name for p in (tmp_path / "r" / "tables").iterdir()}
    assert "effects.csv" not in tables and "overview.csv" in tables
    overview = pd.read_csv(tmp_path / "r" / "tables" / "overview.csv")
    assert overview["conversations"].sum() == len(convs)
    if arms:
        assert "The logs have one arm ('end_tool_early' in 'condition')" in printed.splitlines()[0]
        assert overview["condition"].tolist() == ["end_tool_early"]
    else:
        assert "No conversation has a value for the arm key 'condition'" in printed.splitlines()[0]
        assert overview["condition"].tolist() == ["all"]
        audit = pd.read_csv(tmp_path / "r" / "tables" / "policy_audit.csv")
        assert set(audit["group"]) == {"condition=all"}
    assert result.html.exists() and "Traceback" not in result.html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_captions_name_the_method_and_level_the_spec_used(tmp_path: Path) -> None:
    logs, _ = _simulated(tmp_path, n_conversations=16, seed=4)
    run_report([logs], tmp_path / "r", spec={"method": "ols", "confidence": 0.9, "correction": "bonferroni"},
               parameters={"n_boot": 20}, progress=False)
    manifest = json.loads((tmp_path / "r" / "outputs.json").read_text(encoding="utf-8"))
    captions = {entry["name"]: entry["caption"] for entry in manifest["figures"]}
    effects = pd.read_csv(tmp_path / "r" / "tables" / "effects.csv")
    method = effects.dropna(subset=["estimate"])["method"].iloc[0]
    assert method.startswith("OLS arm coefficient; cluster-robust")
    assert captions["effects"].startswith(f"Estimates with 90% intervals ({method}); p-values adjusted across "
                                          f"outcomes (bonferroni)")
    assert "95%" not in captions["effects"] and "bootstrap" not in captions["effects"]
    assert captions["policy_audit"].endswith("(Wilson 90%)")


@pytest.mark.parametrize(("spec", "parameters", "message"), [
    ({"contrl": "no_end_tool"}, {}, r"unknown key\(s\) 'contrl' \(did you mean 'control'\?\)"),
    ({"outcomes": ["distres_mean"]}, {}, r"at 'outcomes': 'distres_mean' is not a column of the conversation table; "
                                         r"conversation metrics: .*Did you mean 'distress_mean'"),
    ({"after_ending": {"outcome": "distress_men"}}, {}, r"at 'after_ending.outcome'.*Did you mean 'distress_mean'"),
    (None, {"event_metric": "distres"}, r"event_metric: no message metric is called 'distres'.*Did you mean 'distress'"),
    (None, {"event_metric": "refusal"}, r"'refusal' is a message category metric.*Did you mean 'refusal_score'"),
    (None, {"event_anchor": "hostilty >= 0.5"}, r"event_anchor: 'hostilty >= 0.5' is not an expression over the "
                                                r"message columns.*Did you mean 'hostility'"),
    (None, {"event_anchor": "hostility + 1"}, r"event_anchor: 'hostility \+ 1' must give true or false"),
    (None, {"event_window": -1}, r"event_window: expected a non-negative whole number of turns, found -1"),
    (None, {"event_window": "abc"}, r"event_window: .* found 'abc'"),
    (None, {"n_boot": 0}, r"n_boot: expected a positive whole number"),
])
def test_spec_and_event_parameters_are_checked_before_the_notebook_runs(
        tmp_path: Path, spec: dict[str, object] | None, parameters: dict[str, object], message: str) -> None:
    logs, _ = _simulated(tmp_path, n_conversations=2, seed=5)
    with pytest.raises(ReportError, match=message):
        run_report([logs], tmp_path / "r", spec=spec, parameters=parameters, progress=False)
    assert not (tmp_path / "r").exists()  # nothing ran, nothing was written


def test_a_spec_file_error_names_the_file(tmp_path: Path) -> None:
    logs, _ = _simulated(tmp_path, n_conversations=2, seed=5)
    spec = tmp_path / "study.yaml"
    spec.write_text("arm: condition\ncontrl: no_end_tool\n", encoding="utf-8")
    with pytest.raises(ReportError, match=rf"analysis spec in {spec.resolve()}: unknown key\(s\) 'contrl'"):
        run_report([logs], tmp_path / "r", spec=spec, progress=False)


@pytest.mark.slow
def test_report_reads_logs_leniently_or_in_a_given_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # load errors point at --format and --lenient (the shared hint of the commands that read logs): report has both
    from welfare.cli import main

    logs, convs = _simulated(tmp_path, n_conversations=6, seed=6)
    with open(logs, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    assert main(["report", str(logs), "-o", str(tmp_path / "strict"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{logs}:{len(convs) + 1}: malformed JSON" in err and not (tmp_path / "strict").exists()
    assert main(["report", str(logs), "-o", str(tmp_path / "r"), "--no-progress", "--lenient", "--format",
                 "canonical", "-p", "n_boot=20"]) == 0
    summary = f"read {len(convs) + 1}, loaded {len(convs)}, rejected 1"
    assert summary in capsys.readouterr().err  # on the terminal too, not only inside the notebook
    printed = _notebook_prints(tmp_path / "r")
    assert f"1 records rejected and left out ({summary})" in printed
    prov = json.loads((tmp_path / "r" / "provenance.json").read_text(encoding="utf-8"))
    assert prov["parameters"]["load_options"] == {"format": "canonical", "strict": False}
    with pytest.raises(ReportError, match="load_options cannot be set as notebook parameters"):
        run_report([logs], tmp_path / "x", parameters={"load_options": {}}, progress=False)
