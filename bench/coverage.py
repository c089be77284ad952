"""Coverage check of the analysis intervals on data with a known effect (docs/estimands.md, "Does it work?").

Explicit data-generating processes, so the truth is known exactly:

* between arms, randomised per user: users have 1-6 conversations, a shared user effect (SD 0.7) makes their
  conversations correlated, noise SD 1; effect TAU on the outcome of every conversation of a treated user.
* paired: each opening runs under both arms (a pair); users contribute 1-4 pairs; the effect varies between users
  (SD 0.3 around TAU), so pairs of one user are correlated.
* truncation: the ending tool stops a conversation after the third redirect; per-turn apparent distress is not
  changed at all, yet the total burden per conversation drops.

For each design the script reports, over many replicates, how often the 95% interval covers the truth, and how
often a test at 5% rejects when the true effect is 0, for the clustered estimators and for the naive ones that
treat rows (or pairs) as independent.

    .venv/bin/python bench/coverage.py                 # defaults below, about a few minutes on 2 cores
    .venv/bin/python bench/coverage.py --reps 200      # quick look

The analytic estimators run ``--reps`` replicates; the cluster bootstrap runs ``--boot-reps`` replicates of
``--n-boot`` draws each (999 draws put the 2.5% and 97.5% percentiles on the 25th and 975th order statistics,
enough for coverage; reports use the default 2000).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from welfare.analysis import compare_arms, paired_effect

TAU = 0.3


def between_arms(rng: np.random.Generator, tau: float, n_users: int = 60) -> pd.DataFrame:
    users = np.arange(n_users)
    treated = rng.permutation(np.repeat([0, 1], n_users // 2))
    sizes = rng.integers(1, 7, n_users)
    user = np.repeat(users, sizes)
    t = treated[user]
    y = tau * t + rng.normal(scale=0.7, size=n_users)[user] + rng.normal(size=user.size)
    return pd.DataFrame({"user_id": user, "condition": np.where(t == 1, "tool", "none"), "distress_mean": y})


def paired(rng: np.random.Generator, tau: float, n_users: int = 40) -> pd.DataFrame:
    sizes = rng.integers(1, 5, n_users)
    user = np.repeat(np.arange(n_users), sizes)
    pair = np.arange(user.size)
    opening = rng.normal(size=pair.size)
    user_effect = tau + rng.normal(scale=0.3, size=n_users)
    control = opening + rng.normal(scale=0.5, size=pair.size)
    treat = opening + user_effect[user] + rng.normal(scale=0.5, size=pair.size)
    return pd.DataFrame({
        "user_id": np.r_[user, user], "pair_id": np.r_[pair, pair],
        "condition": ["none"] * pair.size + ["tool"] * pair.size, "distress_mean": np.r_[control, treat],
    })


def truncation(rng: np.random.Generator, n_conv: int = 400) -> pd.DataFrame:
    """Per-turn distress unaffected by the tool but drifting up 0.02 a turn; the tool ends a conversation at its
    third redirect (never before the third assistant turn)."""
    rows = []
    for c in range(n_conv):
        arm = "tool" if c % 2 else "none"
        n_turns = int(rng.integers(3, 15))
        redirects = np.cumsum(rng.random(n_turns) < 0.3)
        if arm == "tool" and redirects[-1] >= 3:
            n_turns = int(np.argmax(redirects >= 3)) + 1
        distress = np.clip(rng.normal(0.2 + 0.02 * np.arange(n_turns), 0.1), 0, None)
        rows.append({"condition": arm, "distress_burden": distress.sum(), "distress_mean": distress.mean(),
                     "distress_first3": distress[:3].mean()})
    return pd.DataFrame(rows)


def _covers(row: pd.Series, truth: float) -> bool:
    return bool(row.ci_low <= truth <= row.ci_high)


def _replicate(task: tuple[str, int, float, int]) -> dict[str, float]:
    design, seed, tau, n_boot = task
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    if design == "between":
        df = between_arms(rng, tau)
        ols = compare_arms(df, "distress_mean", "condition", control="none", cluster="user_id", method="ols").iloc[0]
        naive = compare_arms(df, "distress_mean", "condition", control="none", method="welch").iloc[0]
        out.update(cluster_cover=_covers(ols, tau), cluster_reject=ols.p_value < 0.05,
                   cluster_width=ols.ci_high - ols.ci_low, naive_cover=_covers(naive, tau),
                   naive_reject=naive.p_value < 0.05, naive_width=naive.ci_high - naive.ci_low)
        if n_boot:
            boot = compare_arms(df, "distress_mean", "condition", control="none", cluster="user_id",
                                n_boot=n_boot, seed=seed).iloc[0]
            out.update(boot_cover=_covers(boot, tau), boot_reject=boot.p_value < 0.05,
                       boot_width=boot.ci_high - boot.ci_low)
    elif design == "paired":
        df = paired(rng, tau)
        ols = paired_effect(df, "distress_mean", "condition", "pair_id", control="none", cluster="user_id",
                            method="ols").iloc[0]
        naive = paired_effect(df, "distress_mean", "condition", "pair_id", control="none", method="ttest").iloc[0]
        out.update(cluster_cover=_covers(ols, tau), cluster_reject=ols.p_value < 0.05,
                   cluster_width=ols.ci_high - ols.ci_low, naive_cover=_covers(naive, tau),
                   naive_reject=naive.p_value < 0.05, naive_width=naive.ci_high - naive.ci_low)
        if n_boot:
            boot = paired_effect(df, "distress_mean", "condition", "pair_id", control="none", cluster="user_id",
                                 n_boot=n_boot, seed=seed).iloc[0]
            out.update(boot_cover=_covers(boot, tau), boot_reject=boot.p_value < 0.05,
                       boot_width=boot.ci_high - boot.ci_low)
    else:
        df = truncation(rng)
        outcomes = ["distress_burden", "distress_mean", "distress_first3"]
        res = compare_arms(df, outcomes, "condition", control="none", method="welch")
        for k, name in enumerate(("burden", "mean", "first3")):
            out[name], out[f"{name}_reject"] = res.estimate.iloc[k], res.p_value.iloc[k] < 0.05
    return out


def run(design: str, reps: int, boot_reps: int, n_boot: int, tau: float, seed: int, jobs: int) -> pd.DataFrame:
    tasks = [(design, seed + k, tau, n_boot if k < boot_reps else 0) for k in range(reps)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return pd.DataFrame(list(pool.map(_replicate, tasks, chunksize=25)))


def _rate(values: pd.Series) -> str:
    v = values.dropna().astype(float)
    p, n = v.mean(), len(v)
    return f"{100 * p:.1f}% ± {100 * 1.96 * np.sqrt(p * (1 - p) / n):.1f} (n={n})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000, help="replicates for the analytic estimators")
    parser.add_argument("--boot-reps", type=int, default=500, help="replicates that also run the cluster bootstrap")
    parser.add_argument("--n-boot", type=int, default=999, help="bootstrap draws per replicate")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    lines = ["| design | estimator | coverage of the 95% CI (true effect 0.3) | rejections at 5% (true effect 0) "
             "| mean CI width |", "|---|---|---|---|---|"]
    for design, names in (("between", "between arms, randomised per user (60 users, 1-6 conversations each)"),
                          ("paired", "paired openings (40 users, 1-4 pairs each, effect varies by user)")):
        effect = run(design, args.reps, args.boot_reps, args.n_boot, TAU, args.seed, args.jobs)
        null = run(design, args.reps, args.boot_reps, args.n_boot, 0.0, args.seed + 10**6, args.jobs)
        labels = {"cluster": "cluster-robust OLS, CR1, t(G-1), clusters = users",
                  "boot": f"cluster bootstrap expanded percentile by user ({args.n_boot} draws)",
                  "naive": "naive: Welch t-test on conversations" if design == "between"
                  else "naive: paired t-test, pairs independent"}
        for key, label in labels.items():
            lines.append(f"| {names} | {label} | {_rate(effect[f'{key}_cover'])} | {_rate(null[f'{key}_reject'])} "
                         f"| {effect[f'{key}_width'].mean():.3f} |")
    trunc = run("truncation", min(args.reps, 500), 0, 0, 0.0, args.seed + 2 * 10**6, args.jobs)
    lines += ["", "Truncation (the tool ends a conversation at its third redirect; per-turn distress unchanged):", "",
              "| outcome | mean estimated difference tool - none | share of replicates with p < 0.05 |",
              "|---|---|---|",
              f"| distress_burden (total per conversation) | {trunc.burden.mean():.3f} | {_rate(trunc.burden_reject)} |",
              f"| distress_mean (per assistant turn) | {trunc['mean'].mean():.3f} | {_rate(trunc.mean_reject)} |",
              f"| mean over the first 3 assistant turns (before any ending) | {trunc.first3.mean():.3f} "
              f"| {_rate(trunc.first3_reject)} |"]
    print("\n".join(lines))
    print(f"\n({time.perf_counter() - start:.0f} s; {args.reps} replicates, {args.boot_reps} with the bootstrap, "
          f"seed {args.seed}, {args.jobs} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
