# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: from a log file to scored, explainable tables
#
# This notebook loads the bundled synthetic sample, scores every message, looks at the two
# tables that come out, asks *why* a message got its score, and opens one conversation in the
# viewer. Everything here uses public names only (`import welfare`, `welfare.plots`, ...).
#
# The metrics measure what a model **expresses** in text (apparent distress, stated reluctance);
# they say nothing about inner states. The sample is synthetic: it checks the pipeline, it does
# not validate any metric (see `03_metric_validation`).

# %% tags=["parameters"]
logs = ["../data/sample"]

# %% [markdown]
# ## 1. Load
# `welfare.load` reads any supported log format (detected per file) into one data model, a
# `Transcript` per conversation. `LoadReport` counts what was read, loaded and rejected.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import welfare
import welfare.plots as wp

wp.use_style()
report = welfare.LoadReport()
convs = welfare.load_all(logs, strict=False, report=report)
print(f"{report.loaded} conversations loaded, {len(report.rejected)} rejected; formats: {set(report.formats.values())}")

# %% [markdown]
# ## 2. Score
# `welfare.score` returns two tables: one row per message per branch (`.messages`) and one row per
# conversation branch (`.conversations`). Which metric columns exist, and their versions, comes
# from the metric registry.

# %%
scores = welfare.score(convs)
messages, conversations = scores.messages, scores.conversations
print(scores)
welfare.metrics.metrics_table()[["name", "version", "family", "level", "kind", "range"]]

# %%
messages.head(8)

# %% [markdown]
# ## 3. Explore
# Per arm (`condition`): how many conversations, how many ended, and the mean of every numeric
# conversation metric. Active branches only: the conversation as the user last saw it.

# %%
active = conversations[conversations["is_active_branch"]]
summary = active.groupby("condition").agg(
    conversations=("conversation_id", "nunique"),
    ended_by_assistant=("ended_by", lambda s: (s == "assistant").mean()),
    mean_assistant_turns=("n_assistant_turns", "mean"),
)
numeric = [c for c in active.columns if c not in summary.columns and pd.api.types.is_float_dtype(active[c])]
summary.join(active.groupby("condition")[numeric].mean())

# %%
fig, axes = plt.subplots(1, 2, figsize=wp.figure_size("double", aspect=0.4))
wp.ending_methods(conversations, ax=axes[0])
wp.refusal_shares(messages, ax=axes[1]);

# %% [markdown]
# ## 4. Explain
# Every non-zero score can show its evidence: `welfare.explain` lists the matched spans, the
# phrase and lexicon that matched, which metrics count them, and whether a rule set them aside
# (`negated`, `quoted`, `code`).

# %%
assistant = messages[(messages["role"] == "assistant") & messages["is_active_branch"]]
score_column = "refusal_score" if "refusal_score" in assistant.columns else None
picked = assistant.sort_values(score_column, ascending=False).head(3) if score_column else assistant.head(3)
by_id = {t.id: t for t in convs}
for row in picked.itertuples():
    branch = next(b for b in by_id[row.conversation_id].branches() if b.branch_id == row.branch_id)
    message = branch.messages[row.message_index]
    print(f"--- {row.conversation_id} message {row.message_index}: {message.text[:200]!r}")
    display(welfare.explain(message))  # noqa: F821 - display is a notebook builtin

# %% [markdown]
# ## 5. View one conversation
# A transcript displays itself with the safe viewer: branches as sections, evidence highlighted
# by metric family (hover for metric names and versions), endings marked. The command line
# equivalent is `welfare view LOGS --id ID -o page.html`.

# %%
ended = active[active["ended_by"] == "assistant"]
example = by_id[ended["conversation_id"].iloc[0] if len(ended) else convs[0].id]
example
