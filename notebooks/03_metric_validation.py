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
# # Do the metrics agree with people?
#
# A metric is a definition plus evidence that it tracks what it claims. This notebook checks the
# metrics against human-labelled public datasets, with confidence intervals, next to the baseline
# a researcher would otherwise use (VADER, string matching, a GPT-4 judge where the dataset ships one).
#
# * **XSTest v2**: completions of three models labelled full compliance / full refusal / partial
#   refusal by two annotators → the `refusal` class and `refusal_score`.
# * **HH-RLHF harmless-base**: crowdworkers' preference between two final assistant turns → pair ranking.
# * Other datasets (GoEmotions, ConvAbuse) run when `welfare.validation` has a validator for them.
#
# **Read the numbers honestly.** These are development splits: any rule tuned while looking at
# them is scored in-sample here. The datasets measure what people *read* in text, so agreement is
# evidence about expressed reluctance or affect, not about inner states.
#
# Data: `data_dir` (a parameter) points at local copies; by default `WELFARE_SHARED_DATA` or the
# project's `../shared/data`. For XSTest, `welfare.validation.download_xstest(folder)` fetches the
# public files into a folder once (network needed only for that call) and returns the local path;
# it skips files already there, so a folder you already have works unchanged.

# %% tags=["parameters"]
data_dir = None
download = False
n_boot = 300
seed = 0

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import welfare
import welfare.plots as wp
import welfare.validation as wv

wp.use_style()
root = Path(data_dir or os.environ.get("WELFARE_SHARED_DATA", "../../shared/data"))
print(f"datasets from {root.resolve()}: {sorted(p.name for p in root.iterdir()) if root.is_dir() else 'missing'}")
print("validators:", sorted(wv.validators()))

# %% [markdown]
# ## XSTest: refusal classes against the human label

# %%
xstest_dir = root / "xstest"
if not xstest_dir.is_dir() and download:
    xstest_dir = wv.download_xstest(xstest_dir)
xstest = wv.validate_xstest(xstest_dir, n_boot=n_boot, seed=seed) if xstest_dir.is_dir() else None
if xstest is None:
    print(f"XSTest not found at {xstest_dir}; pass data_dir=... or download=True")
else:
    headline = xstest[xstest["statistic"].isin(["binary_accuracy", "binary_kappa", "auroc"])]
    display(headline.pivot_table(index=["subset", "metric"], columns="statistic", values="estimate"))  # noqa: F821

# %% [markdown]
# The confusion matrix of the pooled refusal classes (rows: human label, columns: metric).

# %%
if xstest is not None:
    scored = wv.score_xstest(wv.read_xstest(xstest_dir))
    fig, ax = plt.subplots(figsize=wp.figure_size("single", aspect=0.9))
    wv.plot_confusion(scored["label"], scored["refusal"], ax=ax)

# %% [markdown]
# ## HH-RLHF: does the metric rank the less harmful reply as less reluctant?

# %%
hh_path = root / "hh_rlhf" / "harmless-base" / "test.jsonl.gz"
if hh_path.exists():
    hh = wv.validate_hh_rlhf(hh_path, n_boot=n_boot, seed=seed)
    display(hh)  # noqa: F821
else:
    print(f"HH-RLHF not found at {hh_path}")

# %% [markdown]
# ## Every other dataset with a validator

# %%
others = []
for name in sorted(set(wv.validators()) - {"xstest", "hh_rlhf"}):
    folder = root / name
    if folder.exists():
        others.append(wv.validate(name, folder, n_boot=n_boot, seed=seed))
    else:
        print(f"{name}: no data at {folder}")
if others:
    pd.concat(others, ignore_index=True)
