"""Analysis specs: validation errors, the runner, and `welfare analyze` on score tables written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from welfare.analysis import (
    RESULT_COLUMNS,
    SpecError,
    compare_arms,
    load_spec,
    read_score_tables,
    run_spec,
    validate_spec,
)
from welfare.cli import main


def score_tables(seed: int = 0, n_users: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conversation and message tables shaped like `welfare score` output (docs/architecture.md)."""
    rng = np.random.default_rng(seed)
    convs, msgs = [], []
    for u in range(n_users):
        arm = "end_tool" if u % 2 else "no_end_tool"
        for c in range(int(rng.integers(1, 4))):
            cid = f"u{u}c{c}"
            n_turns = int(rng.integers(2, 8))
            refusal_at = int(rng.integers(0, n_turns))
            ended = arm == "end_tool" and rng.random() < 0.4
            distress = []
            for i in range(2 * n_turns):
                role = "user" if i % 2 == 0 else "assistant"
                d = float(max(0.0, rng.normal(0.3 + 0.1 * (i // 2 >= refusal_at), 0.1))) if role == "assistant" else 0.0
                distress.append(d)
                msgs.append({"conversation_id": cid, "branch_id": "0", "message_index": i, "role": role,
                             "is_active_branch": True, "condition": arm, "user_id": f"u{u}", "model": "m",
                             "distress": d, "refused": role == "assistant" and i // 2 == refusal_at})
            convs.append({"conversation_id": cid, "branch_id": "0", "is_active_branch": True, "model": "m",
                          "condition": arm, "user_id": f"u{u}", "pair_id": None,
                          "started_at": f"2026-02-{c + 1:02d}T10:00:00Z", "n_assistant_turns": n_turns,
                          "ended_by": "assistant" if ended else "none",
                          "ending_method": "tool_call" if ended else "none",
                          "ending_policy": "last_resort" if ended else "not_ended",
                          "distress_mean": float(np.mean(distress[1::2])),
                          "distress_burden": float(np.sum(distress)),
                          "turns_to_first_refusal": float(refusal_at + 1)})
    return pd.DataFrame(convs), pd.DataFrame(msgs)


FULL_SPEC = {
    "design": "between",
    "outcomes": ["distress_mean", "distress_burden"],
    "arm": "condition",
    "treatment": "end_tool",
    "control": "no_end_tool",
    "cluster": "user_id",
    "n_boot": 200,
    "effect_sizes": True,
    "event_study": {"metric": "distress", "anchor": "refused", "window": 2},
    "survival": {"event": "ending"},
    "policy_audit": {"by": ["condition"]},
    "after_ending": True,
}


def test_validate_fills_defaults_and_reports_bad_fields() -> None:
    spec = validate_spec({"outcomes": "distress_mean"})
    assert spec["outcomes"] == ["distress_mean"] and spec["method"] == "bootstrap" and spec["cluster"] == "user_id"
    assert spec["event_study"] is None and spec["correction"] == "holm"
    with pytest.raises(SpecError, match=r"unknown key\(s\) 'outcome' \(did you mean 'outcomes'\?\); valid keys: design"):
        validate_spec({"outcome": ["x"]})
    with pytest.raises(SpecError, match=r"at 'design'.*choose one of between, paired, before_after, none"):
        validate_spec({"design": "crossover", "outcomes": ["x"]})
    with pytest.raises(SpecError, match=r"method 'ttest' does not fit design 'between'"):
        validate_spec({"outcomes": ["x"], "method": "ttest"})
    with pytest.raises(SpecError, match=r"at 'event_study.windw'|unknown key\(s\) 'windw'"):
        validate_spec({"outcomes": ["x"], "event_study": {"anchor": "a", "windw": 3}})
    with pytest.raises(SpecError, match=r"at 'n_boot'.*expected an integer"):
        validate_spec({"outcomes": ["x"], "n_boot": "many"})
    with pytest.raises(SpecError, match="needs at least one outcome"):
        validate_spec({"design": "paired"})
    with pytest.raises(SpecError, match="needs anchor"):
        validate_spec({"outcomes": ["x"], "event_study": True})
    with pytest.raises(SpecError, match="period"):
        validate_spec({"design": "before_after", "outcomes": ["x"]})
    with pytest.raises(SpecError, match="covariates need design 'between' with method ols"):
        validate_spec({"outcomes": ["x"], "covariates": ["model"]})


def test_load_spec_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("outcomes: [x]\nclusterr: user_id\n")
    with pytest.raises(SpecError, match=r"in .*bad.yaml.*'clusterr' \(did you mean 'cluster'\?\)"):
        load_spec(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(SpecError, match="cannot parse"):
        load_spec(broken)


def test_run_spec_produces_every_requested_result() -> None:
    convs, msgs = score_tables()
    out = run_spec(FULL_SPEC, convs, msgs)
    assert set(out) == {"effects", "effect_sizes", "event_study", "survival", "logrank", "cox", "policy_audit",
                        "after_ending"}
    for frame in out.values():
        assert tuple(frame.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    direct = compare_arms(convs, ["distress_mean", "distress_burden"], "condition", treatment="end_tool",
                          control="no_end_tool", cluster="user_id", n_boot=200)
    assert np.allclose(out["effects"].estimate, direct.estimate)
    assert out["effects"].p_adjusted.notna().all()
    assert (out["effects"].p_adjusted >= out["effects"].p_value).all()
    assert "not estimable: no events in no_end_tool" in out["cox"].method.iloc[0]  # that arm cannot end
    merged = pd.concat(out.values(), ignore_index=True)  # fixed columns: results concatenate
    assert len(merged) == sum(len(f) for f in out.values())


@pytest.mark.filterwarnings("ignore:The MLE may be on the boundary")
@pytest.mark.parametrize("method", ["mixed", "gee", "ols"])
def test_model_methods_give_one_arm_row_per_outcome(method: str) -> None:
    convs, _ = score_tables(1)
    out = run_spec({**FULL_SPEC, "method": method, "effect_sizes": False, "event_study": None, "survival": None,
                    "policy_audit": None, "after_ending": None}, convs)
    eff = out["effects"]
    assert list(eff.outcome) == ["distress_mean", "distress_burden"]
    assert list(eff.contrast) == ["end_tool - no_end_tool"] * 2
    plain = compare_arms(convs, "distress_mean", "condition", treatment="end_tool", cluster="user_id", method="ols")
    assert eff.estimate.iloc[0] == pytest.approx(plain.estimate.iloc[0], abs=0.05)
    if method != "ols":  # the models run on renamed columns; method names the spec's cluster column
        assert eff.method.str.contains("user_id").all() and not eff.method.str.contains(r"\bcluster\b").any()


@pytest.mark.filterwarnings("ignore:The MLE may be on the boundary")
@pytest.mark.filterwarnings("ignore:.*sandwich")
def test_gee_spec_names_the_arm_and_cluster_that_leave_no_robust_se() -> None:
    convs, _ = score_tables(1)
    lone = convs.condition == "end_tool"
    convs = convs.assign(user_id=convs.user_id.where(~lone, "solo"))  # the whole treated arm is one user
    out = run_spec({**FULL_SPEC, "method": "gee", "effect_sizes": False, "event_study": None, "survival": None,
                    "policy_audit": None, "after_ending": None}, convs)
    eff = out["effects"]
    assert eff.se.isna().all() and eff.p_value.isna().all()
    assert eff.method.str.contains("end_tool - no_end_tool cannot be estimated without user_id 'solo'").all()


def test_run_spec_needs_messages_for_the_event_study_and_filters_rows() -> None:
    convs, _ = score_tables(2)
    with pytest.raises(SpecError, match="needs the message table"):
        run_spec(FULL_SPEC, convs)
    filtered = run_spec({"outcomes": ["distress_mean"], "filter": {"condition": ["end_tool", "no_end_tool"]},
                         "n_boot": 50}, convs.assign(condition=convs.condition.where(convs.index > 3, "other")))
    assert filtered["effects"].n_obs.iloc[0] == len(convs) - 4


def test_welfare_analyze_writes_results_and_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    convs, msgs = score_tables(3)
    scores = tmp_path / "scores"
    scores.mkdir()
    msgs.to_csv(scores / "run.csv", index=False)
    convs.to_parquet(scores / "run.conversations.parquet")
    spec = tmp_path / "study.yaml"
    spec.write_text(yaml.safe_dump(FULL_SPEC))
    out = tmp_path / "results"
    assert main(["analyze", str(scores), "--spec", str(spec), "-o", str(out)]) == 0
    written = {p.name for p in out.iterdir()}
    assert {"effects.csv", "effects.tex", "event_study.csv", "survival.csv", "spec.yaml", "spec.resolved.json"} <= written
    effects = pd.read_csv(out / "effects.csv")
    assert tuple(effects.columns[:11]) == RESULT_COLUMNS and len(effects) == 2
    assert yaml.safe_load((out / "spec.yaml").read_text()) == FULL_SPEC
    assert json.loads((out / "spec.resolved.json").read_text())["n_boot"] == 200
    assert "effects: " in capsys.readouterr().out
    (tmp_path / "bad.yaml").write_text("outcomes: [distress_mean]\narms: condition\n")
    assert main(["analyze", str(scores), "--spec", str(tmp_path / "bad.yaml"), "-o", str(out)]) == 2
    assert "did you mean 'arm'" in capsys.readouterr().err


def test_read_score_tables_classifies_tables(tmp_path: Path) -> None:
    convs, msgs = score_tables(4, n_users=4)
    msgs.to_csv(tmp_path / "a.csv", index=False)
    convs.to_csv(tmp_path / "a.conversations.csv", index=False)
    c, m = read_score_tables([tmp_path / "a.csv", tmp_path / "a.conversations.csv"])
    assert m is not None and len(c) == len(convs) and len(m) == len(msgs)
    with pytest.raises(FileNotFoundError):
        read_score_tables([tmp_path / "missing.csv"])
    with pytest.raises(ValueError, match="no conversation table"):
        read_score_tables([tmp_path / "a.csv"])


def test_before_after_and_audit_only_specs() -> None:
    convs, _ = score_tables(5)
    convs["distress_mean"] += np.where(convs.started_at >= "2026-02-02", 0.5, 0.0)
    out = run_spec({"design": "before_after", "outcomes": ["distress_mean"], "rollout": "2026-02-02",
                    "adjust": []}, convs)
    row = out["effects"].iloc[0]
    assert row.contrast == "after - before" and row.ci_low < 0.5 < row.ci_high
    no_arms = run_spec({"design": "before_after", "outcomes": ["distress_mean"], "rollout": "2026-02-02",
                        "adjust": []}, convs.drop(columns="condition"))  # a before/after design has no arm column
    assert no_arms["effects"].estimate.iloc[0] == pytest.approx(row.estimate)
    refusal = run_spec({"design": "none", "survival": {"event": "turns_to_first_refusal"}, "control": "no_end_tool",
                        "n_boot": 50}, convs)
    assert refusal["cox"].contrast.tolist() == ["end_tool vs no_end_tool"]
    assert refusal["cox"].estimate.iloc[0] > 0 and refusal["logrank"].p_value.notna().all()
    audit = run_spec({"design": "none", "policy_audit": True}, convs)
    assert set(audit) == {"policy_audit"} and len(audit["policy_audit"]) == 5 * 2


def test_run_spec_says_how_to_get_a_missing_arm_column() -> None:
    convs, _ = score_tables(3)
    with pytest.raises(SpecError, match="--metadata variant"):
        run_spec({"outcomes": ["distress_mean"], "arm": "variant", "n_boot": 50}, convs)
    with pytest.raises(SpecError, match="cluster 'site'"):
        run_spec({"outcomes": ["distress_mean"], "cluster": "site", "n_boot": 50}, convs)
    with pytest.raises(SpecError, match="fixed column") as err:  # a fixed key gets no --metadata advice
        run_spec({"outcomes": ["distress_mean"], "n_boot": 50}, convs.drop(columns="condition"))
    assert "--metadata" not in str(err.value)


def test_numeric_levels_match_a_text_arm_column() -> None:
    # metadata columns of the score tables are text; a YAML spec reads "control: 0" as a number
    convs, _ = score_tables(6)
    coded = convs.assign(condition=convs.condition.map({"no_end_tool": "0", "end_tool": "1"}))
    out = run_spec({"outcomes": ["distress_mean"], "control": 0, "treatment": [1], "n_boot": 50}, coded)
    assert out["effects"].contrast.tolist() == ["1 - 0"]
