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
# # Template: your own logs
#
# Copy this notebook, point `logs` at your files, and run it top to bottom; or run it unchanged
# from the shell: `welfare report YOUR_LOGS -o reports/mine --notebook 05_your_own_logs`.
#
# Steps: load leniently and see what was rejected and why; score; check the arms; save the tables
# and figures you will cite. Every saved table lands as CSV, Parquet and LaTeX, every figure as
# PDF and PNG, with provenance (`welfare report` adds input hashes and versions).

# %% tags=["parameters"]
logs = ["../data/sample"]
log_format = None  # a name from welfare.known_formats(), or None to detect per file
arm = "condition"  # the metadata key naming each conversation's study arm
output_dir = None

# %%
import matplotlib.pyplot as plt
import pandas as pd

import welfare
import welfare.plots as wp
from welfare.report import ReportOutputs

wp.use_style()
out = ReportOutputs(output_dir)
print("formats this version reads:", welfare.known_formats())

# %% [markdown]
# ## 1. Load, leniently
# Bad records are skipped and listed with file, line, field and reason; fix them or accept the loss.

# %%
report = welfare.LoadReport()
convs = welfare.load_all(logs, format=log_format, strict=False, report=report)
print(report.summary())
pd.DataFrame([{"path": r.path, "line": r.line, "field": r.field, "reason": r.reason} for r in report.rejected[:20]],
             columns=["path", "line", "field", "reason"])

# %% [markdown]
# ## 2. Score

# %% [markdown]
# The tables always have `model`, `condition`, `user_id`, `started_at` and `pair_id` from the
# metadata; any other key, such as an arm named `variant`, is carried as a column on request.

# %%
from welfare.score import CONVERSATION_KEYS

scores = welfare.score(convs, metadata=[] if arm in CONVERSATION_KEYS else [arm])
messages, conversations = scores.messages, scores.conversations
print(scores)

# %% [markdown]
# ## 3. Arms
# Analyses compare arms. Without an arm column every conversation is in one group.

# %%
if arm not in conversations.columns or conversations[arm].isna().all():
    print(f"no {arm!r} in the metadata: treating all conversations as one arm")
    conversations[arm] = "all"
    messages[arm] = "all"
active = conversations[conversations["is_active_branch"]]
counts = active.groupby(arm).agg(conversations=("conversation_id", "nunique"),
                                 ended_by_assistant=("ended_by", lambda s: int((s == "assistant").sum())))
out.table("arms", counts.reset_index(), caption="Conversations per arm")

# %% [markdown]
# ## 4. Figures

# %%
fig, axes = plt.subplots(1, 2, figsize=wp.figure_size("double", aspect=0.4))
wp.ending_methods(conversations, arm=arm, ax=axes[0], include_not_ended=True)
wp.refusal_shares(messages, arm=arm, ax=axes[1])
out.figure("overview", fig, caption="Endings and expressed refusal classes per arm")

# %% [markdown]
# ## 5. Save the tables you will cite

# %%
numeric = [c for c in active.columns if pd.api.types.is_float_dtype(active[c])]
means = active.groupby(arm)[numeric].mean().reset_index()
out.table("conversation_means", means, caption="Mean of each conversation metric per arm (active branches)")
