"""The analysis report (notebook 02 through `welfare report`) on small simulated logs: what its tables say."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import welfare
import welfare.analysis as wa
from welfare.report import run_report
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
