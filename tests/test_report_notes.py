"""The report's notes on bootstrap p-values that sit at their floor, and the report's default number of draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

import welfare.analysis as wa
from welfare.report import (
    bootstrap_p_floor,
    find_notebook,
    note_bootstrap_floor,
    notebook_parameters,
    read_notebook,
)


def _far_apart(n_users: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"user_id": f"u{u}", "arm": arm, "y": (5.0 if arm == "tool" else 0.0) + rng.normal(0, 0.1),
             "z": rng.normal(0, 1)}
            for u in range(n_users) for arm in ("base", "tool")]
    return pd.DataFrame(rows)


def test_floor_is_the_p_value_when_no_draw_crosses_zero() -> None:
    # every draw of a difference of 5 with noise 0.1 is positive: the p-value compare_arms gives is the floor
    data = _far_apart(15)
    effects = wa.compare_arms(data, ["y", "z"], "arm", treatment="tool", control="base", cluster="user_id",
                              n_boot=400, seed=1)
    y = effects.set_index("outcome").loc["y"]
    assert y["n_clusters"] == 15
    assert y["p_value"] == bootstrap_p_floor(400, 15)
    assert 0.011 < bootstrap_p_floor(400, 15) < 0.0112  # what the review measured: Holm over five outcomes > 0.05
    assert 5 * bootstrap_p_floor(2000, 15) < 0.05
    assert bootstrap_p_floor(400, None) == 1 / 401  # without clusters: 2 * 0.5 / (B + 1)

    noted = note_bootstrap_floor(wa.adjust_pvalues(effects, "holm"), 400).set_index("outcome")
    assert "no draw crossed 0: p < 0.012, the least 400 draws can show; p_adjusted is an upper bound" \
           in noted.loc["y", "method"]
    assert noted.loc["z", "method"] == effects.set_index("outcome").loc["z", "method"]  # p well above the floor
    assert noted.loc["y", "p_value"] == y["p_value"]  # numbers unchanged
    # the bound is rounded up, so it stays a bound: 0.000648 is shown as 0.00065
    assert "p < 0.00065," in note_bootstrap_floor(effects.assign(p_value=bootstrap_p_floor(2000, 181), n_clusters=181), 2000).loc[0, "method"]


def test_note_leaves_other_methods_and_empty_tables() -> None:
    data = _far_apart(15)
    ols = wa.compare_arms(data, "y", "arm", treatment="tool", control="base", cluster="user_id", method="ols")
    assert note_bootstrap_floor(ols, 400).equals(ols)
    assert note_bootstrap_floor(ols.iloc[:0], 400).empty


def test_report_default_draws_match_the_spec_default() -> None:
    params = notebook_parameters(read_notebook(find_notebook("02_end_conversation_analysis")))
    assert params["n_boot"] == wa.SPEC_FIELDS["n_boot"].default == 2000
