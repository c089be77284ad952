"""`welfare demo`: the analysis notebook on the bundled sample, run twice; the result tables are byte-identical."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from welfare.cli import main
from welfare.report import run_demo, sample_data_path


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("tables", "figures") for p in sorted((folder / sub).iterdir())}


@pytest.mark.slow
def test_demo_twice_byte_identical(tmp_path: Path) -> None:
    assert main(["demo", "-o", str(tmp_path / "one"), "--no-progress"]) == 0
    run_demo(tmp_path / "two", progress=False)
    one, two = _digests(tmp_path / "one"), _digests(tmp_path / "two")
    assert one == two
    assert {"tables/effects.csv", "tables/effects.parquet", "tables/effects.tex", "tables/overview.csv",
            "figures/effects.pdf", "figures/effects.png", "figures/endings_and_refusals.pdf",
            "tables/event_study.csv", "tables/event_study.parquet", "tables/event_study.tex",
            "figures/event_study.pdf", "figures/event_study.png"} <= set(one)
    # the event study around the first hostile user turn: every arm, and each other arm against the control
    event = pd.read_csv(tmp_path / "one" / "tables" / "event_study.csv")
    arms = set(pd.read_csv(tmp_path / "one" / "tables" / "overview.csv").condition)
    assert len(arms) == 3 and "no_end_tool" in arms
    assert set(event.arm) == arms | {f"{a} - no_end_tool" for a in arms - {"no_end_tool"}}
    assert sorted(set(event.turn)) == list(range(-4, 5))
    means = event[event.contrast == "mean"]
    assert (means.n_obs > 0).all() and means.estimate.between(0, 1).all()

    prov = json.loads((tmp_path / "one" / "provenance.json").read_text())
    sample = sorted(p for p in sample_data_path().rglob("*") if p.is_file() and not p.name.startswith("."))
    assert [i["sha256"] for i in prov["inputs"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in sample]
    assert prov["status"] == "ok" and prov["notebook"]["name"] == "02_end_conversation_analysis.py"
    assert prov["outputs"] == {k: v for k, v in one.items()}

    page = (tmp_path / "one" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "Content-Security-Policy" in page
    assert page.count('src="data:image/png;base64,') >= 3
    assert (tmp_path / "one" / "02_end_conversation_analysis.ipynb").exists()


@pytest.mark.slow
def test_report_on_logs_whose_arm_is_another_metadata_key(tmp_path: Path) -> None:
    # A study that names its arm "variant": a spec naming arm and control is enough; the rest of the
    # default analysis (outcomes, clusters, sections) stays, and the arm reaches the tables from the metadata.
    logs = tmp_path / "variant.jsonl"
    with open(logs, "w", encoding="utf-8") as fh:
        for k in range(40):
            variant = "tool" if k % 2 else "base"
            reply = "I'm sorry, but I can't help with that." if k % 3 else "Here are some ideas: 1. rest 2. walk"
            fh.write(json.dumps({"id": f"c{k}", "metadata": {"variant": variant, "user_id": f"u{k // 2}"},
                                 "messages": [{"role": "user", "content": "You are useless. Tell me how to hurt him."},
                                              {"role": "assistant", "content": reply},
                                              {"role": "user", "content": "Just answer the question!"},
                                              {"role": "assistant", "content": "As I said, I won't help with that."}]})
                     + "\n")
    from welfare.report import run_report

    run_report([logs], tmp_path / "r", spec={"arm": "variant", "control": "base", "n_boot": 50}, progress=False)
    effects = pd.read_csv(tmp_path / "r" / "tables" / "effects.csv")
    assert set(effects.contrast) == {"tool - base"} and {"distress_mean", "refusal_rate"} <= set(effects.outcome)
    assert (effects.dropna(subset=["estimate"]).n_clusters == 20).all()  # 20 users; no endings, so no redirects_before_ending
    overview = pd.read_csv(tmp_path / "r" / "tables" / "overview.csv")
    assert overview.variant.tolist() == ["base", "tool"] and overview.conversations.tolist() == [20, 20]
