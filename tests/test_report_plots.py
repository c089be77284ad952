"""welfare.plots: the shipped style, figure sizes, and the figure functions on small score-like tables."""

from __future__ import annotations

import hashlib

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import welfare.plots as wp


@pytest.fixture
def messages() -> pd.DataFrame:
    rows = []
    for arm, level in (("no_end_tool", 0.6), ("end_tool_last_resort", 0.2)):
        for c in range(6):
            for i in range(8):
                role = "user" if i % 2 == 0 else "assistant"
                rows.append({"conversation_id": f"{arm}-{c}", "branch_id": "0", "message_index": i, "role": role,
                             "is_active_branch": True, "condition": arm,
                             "distress": level * (i / 8) + 0.01 * c if role == "assistant" else np.nan,
                             "refusal": ["compliance", "partial", "full"][(c + i) % 3] if role == "assistant"
                             else None})
    return pd.DataFrame(rows)


@pytest.fixture
def conversations() -> pd.DataFrame:
    return pd.DataFrame({
        "conversation_id": [f"c{i}" for i in range(6)], "is_active_branch": True,
        "condition": ["a", "a", "a", "b", "b", "b"],
        "ended_by": ["assistant", "none", "user", "assistant", "assistant", "none"],
        "ending_method": ["tool_call", "none", "metadata", "tool_call", "bail_string", "none"],
        "distress_mean": [0.1, 0.2, 0.3, 0.5, 0.6, 0.7],
    })


def test_style_applies_palette_and_restores() -> None:
    before = mpl.rcParams["axes.prop_cycle"]
    with wp.style():
        colors = [c["color"].upper().lstrip("#") for c in mpl.rcParams["axes.prop_cycle"]]
        assert colors == [c.lstrip("#").upper() for c in wp.OKABE_ITO]
        assert mpl.rcParams["pdf.fonttype"] == 42
    assert mpl.rcParams["axes.prop_cycle"] == before


def test_figure_size() -> None:
    assert wp.figure_size("single") == (3.5, 3.5 * 0.75)
    assert wp.figure_size("double", aspect=0.5) == (7.2, 3.6)
    with pytest.raises(ValueError, match="width must be one of"):
        wp.figure_size("triple")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aspect must be a positive"):
        wp.figure_size("single", aspect=0)


def test_trajectory_means_per_turn(messages: pd.DataFrame) -> None:
    ax = wp.distress_trajectory(messages)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"no_end_tool", "end_tool_last_resort"}
    line = lines["no_end_tool"]
    assistant = messages[(messages.condition == "no_end_tool") & (messages.role == "assistant")]
    first_turn = assistant[assistant.message_index == 1]["distress"].mean()
    assert list(line.get_xdata()) == [1, 2, 3, 4]
    assert line.get_ydata()[0] == pytest.approx(first_turn)
    assert "apparent distress" in ax.get_ylabel()
    plt.close(ax.figure)


def test_functions_draw_on_given_axes(messages: pd.DataFrame, conversations: pd.DataFrame) -> None:
    fig, axes = plt.subplots(1, 4)
    assert wp.metric_distribution(conversations, "distress_mean", ax=axes[0]) is axes[0]
    assert wp.refusal_shares(messages, ax=axes[1]) is axes[1]
    assert wp.ending_methods(conversations, ax=axes[2]) is axes[2]
    assert wp.distress_trajectory(messages, ax=axes[3]) is axes[3]
    # refusal shares stack to 1 in each arm
    heights = np.zeros(2)
    for patch in axes[1].patches:
        heights[round(patch.get_x() + patch.get_width() / 2)] += patch.get_height()
    assert heights == pytest.approx([1.0, 1.0])
    # ending counts: arm a ends 2 (assistant/tool_call, user/metadata), arm b ends 2 (tool_call, bail_string)
    assert sorted(p.get_height() for p in axes[2].patches if p.get_height() > 0) == [1, 1, 1, 1]
    plt.close(fig)


def test_bad_tables_raise_with_columns_named(conversations: pd.DataFrame) -> None:
    with pytest.raises(wp.PlotInputError, match=r"lacks column\(s\) \['refusal'\]"):
        wp.refusal_shares(conversations)
    with pytest.raises(wp.PlotInputError, match="kind must be"):
        wp.metric_distribution(conversations, "distress_mean", kind="pie")  # type: ignore[arg-type]


def test_empty_table_draws_a_note(messages: pd.DataFrame) -> None:
    ax = wp.distress_trajectory(messages.iloc[:0])
    assert any("no data" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)


def test_save_figure_is_byte_stable(tmp_path, conversations: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    digests = []
    for k in range(2):
        with wp.style():
            fig, ax = plt.subplots(figsize=wp.figure_size("single"))
            wp.metric_distribution(conversations, "distress_mean", kind="strip", ax=ax)
            paths = wp.save_figure(fig, tmp_path / f"run{k}" / "fig")
            plt.close(fig)
        assert [p.suffix for p in paths] == [".pdf", ".png"]
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
