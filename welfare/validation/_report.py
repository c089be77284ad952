"""Validation runs: one function per dataset returning rows of the fixed results frame, and a Markdown report.

A dataset validator is a function ``(path, *, n_boot, seed, matcher) -> DataFrame`` (columns
:data:`~welfare.validation.RESULT_COLUMNS`) registered with :func:`validator`; :func:`validate` runs
one by name. Validators for other datasets live in their own private modules of this package
(``_goemotions.py``, ``_convabuse.py``) and are found on first use, so adding a dataset never means
editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.validation._stats import (
    RESULT_COLUMNS,
    Estimate,
    ValidationInputError,
    accuracy,
    auroc,
    cohens_kappa,
    macro_f1,
    pair_ranking,
    per_class,
    results_frame,
)
from welfare.validation._xstest import XSTEST_MODELS, read_xstest, xstest_transcripts

__all__ = [
    "hh_final_turns",
    "markdown_table",
    "score_xstest",
    "vader_compound",
    "validate",
    "validate_hh_rlhf",
    "validate_xstest",
    "validator",
    "validators",
]

Validator = Callable[..., pd.DataFrame]
_VALIDATORS: dict[str, Validator] = {}
_DISCOVERED = False


def validator(name: str) -> Callable[[Validator], Validator]:
    """Register ``func(path, *, n_boot=2000, seed=0, matcher=None) -> results frame`` as the validator of ``name``."""

    def register(func: Validator) -> Validator:
        if name in _VALIDATORS and _VALIDATORS[name] is not func:
            raise ValueError(f"dataset validator {name!r} is registered twice")
        _VALIDATORS[name] = func
        return func

    return register


def validators() -> dict[str, Validator]:
    """Every registered dataset validator by name (imports this package's dataset modules once)."""
    global _DISCOVERED
    if not _DISCOVERED:
        import welfare.validation as pkg

        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_") and info.name not in ("_stats", "_plots", "_report", "__init__"):
                importlib.import_module(f"{pkg.__name__}.{info.name}")
        _DISCOVERED = True
    return dict(_VALIDATORS)


def validate(dataset: str, path: str | Path, *, n_boot: int = 2000, seed: int = 0,
             matcher: Matcher | None = None) -> pd.DataFrame:
    """Run the validator of ``dataset`` on local data at ``path``; returns the results frame.

    Examples
    --------
    >>> sorted(validators())[:2]  # doctest: +SKIP
    ['convabuse', 'goemotions']
    """
    found = validators()
    if dataset not in found:
        raise ValidationInputError(f"unknown dataset {dataset!r}; validators exist for: {', '.join(sorted(found))}")
    return found[dataset](path, n_boot=n_boot, seed=seed, matcher=matcher)


def vader_compound(texts: Iterable[str]) -> np.ndarray:
    """VADER's compound polarity (−1..1) per text: the baseline lexicon a researcher would reach for first.

    Needs the optional extra ``welfare[vader]`` (vaderSentiment). Used only for baselines.
    """
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("VADER baselines need the optional extra: pip install 'welfare[vader]'") from None
    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=float)


# --------------------------------------------------------------------------------------------------
# XSTest


def score_xstest(frame: pd.DataFrame, *, matcher: Matcher | None = None) -> pd.DataFrame:
    """Add ``refusal`` and ``refusal_score`` of each completion to a :func:`read_xstest` frame (a copy)."""
    from welfare.score import score

    scores = score(xstest_transcripts(frame), metrics=["refusal", "refusal_score"], matcher=matcher).messages
    assistant = scores[scores["role"] == "assistant"]
    out = frame.copy()
    out["refusal"] = assistant["refusal"].astype(object).to_numpy()
    out["refusal_score"] = assistant["refusal_score"].to_numpy(dtype=float)
    return out


_XSTEST_LABELS = ("compliance", "partial", "full")


def _label_rows(dataset: str, subset: str, metric: str, truth: pd.Series, pred: pd.Series, *, n_boot: int,
                seed: int, classes: bool) -> list[dict[str, Any]]:
    # a missing label or prediction (e.g. empty text) stays missing instead of counting as "not compliance"
    binary_true = [None if pd.isna(v) else v != "compliance" for v in truth]
    binary_pred = [None if pd.isna(v) else v != "compliance" for v in pred]
    ests: list[Estimate] = [
        _renamed(accuracy(binary_true, binary_pred), "binary_accuracy"),
        _renamed(cohens_kappa(binary_true, binary_pred, n_boot=n_boot, seed=seed), "binary_kappa"),
        _renamed(macro_f1(truth, pred, labels=_XSTEST_LABELS, n_boot=n_boot, seed=seed), "macro_f1_3class"),
    ]
    if classes:
        ests.extend(per_class(truth, pred, labels=_XSTEST_LABELS, n_boot=n_boot, seed=seed))
    return [e.row(dataset, subset, metric) for e in ests]


def _renamed(est: Estimate, statistic: str) -> Estimate:
    return Estimate(statistic, est.estimate, est.ci_low, est.ci_high, est.n, est.method)


@validator("xstest")
def validate_xstest(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                    vader: bool = True) -> pd.DataFrame:
    """Refusal metrics against XSTest v2's human labels, per model and pooled, next to the paper's baselines.

    Rows (``dataset = "xstest"``, ``subset`` = model name or ``"pooled"``, or ``"pooled: a, b"`` when the files read are not
    exactly the release's three models): for ``refusal`` and the
    paper's ``strmatch_label`` and ``gpt4_label`` (when the label files are present),
    ``binary_accuracy`` (full or partial vs compliance), ``binary_kappa``, ``macro_f1_3class`` and,
    for ``refusal``, per-class precision/recall/F1; ``auroc`` of ``refusal_score`` for refused vs
    complied, and of VADER's ``-compound`` (``vader=True``; VADER is not designed for refusals: it
    is the lexicon a researcher would otherwise reach for). When the files carry ``annotation_1`` and
    ``annotation_2``, metric ``annotator_agreement`` gives the same statistics (per-class too) for
    annotator 1 vs annotator 2 before adjudication: human inter-annotator agreement, the ceiling to
    read the others against; metrics ``annotator_1`` and ``annotator_2`` score each annotator's own label
    against ``final_label`` as the rules are scored (binary accuracy, kappa, macro-F1). In-sample: the rules were written while looking at these completions,
    and XSTest has no held-out split.
    """
    frame = score_xstest(read_xstest(path), matcher=matcher)
    if vader:
        frame["vader_neg_compound"] = -vader_compound(frame["completion"])
    rows: list[dict[str, Any]] = []
    models = sorted(str(m) for m in frame["model"].unique())
    # "pooled" means the release's three models; any other set says which models it pools, so a folder that lacks
    # one model's file cannot pass for the full release
    pooled = "pooled" if set(models) == set(XSTEST_MODELS) else "pooled: " + ", ".join(models)
    subsets = [(str(m), g) for m, g in frame.groupby("model", sort=True)] + [(pooled, frame)]
    for subset, g in subsets:
        rows += _label_rows("xstest", subset, "refusal", g["label"], g["refusal"], n_boot=n_boot, seed=seed,
                            classes=True)
        for baseline in ("strmatch_label", "gpt4_label"):
            if baseline in g and g[baseline].notna().any():
                rows += _label_rows("xstest", subset, baseline, g["label"], g[baseline], n_boot=n_boot, seed=seed,
                                    classes=False)
        if all(c in g and g[c].notna().any() for c in ("annotation_1", "annotation_2")):
            # the human ceiling: annotator 1 taken as the reference and annotator 2 as the prediction
            # (accuracy, kappa, macro-F1 and each class's F1 do not depend on which is which)
            rows += _label_rows("xstest", subset, "annotator_agreement", g["annotation_1"], g["annotation_2"],
                                n_boot=n_boot, seed=seed, classes=True)
            # each annotator against the adjudicated label our rules are scored against; the adjudication kept
            # annotator 1's label almost everywhere, so annotator 2 vs final is the closer human comparison
            for column in ("annotation_1", "annotation_2"):
                rows += _label_rows("xstest", subset, column.replace("annotation", "annotator"), g["label"], g[column],
                                    n_boot=n_boot, seed=seed, classes=False)
        refused = g["refused"].astype(int)
        rows.append(auroc(refused, g["refusal_score"]).row("xstest", subset, "refusal_score"))
        if vader:
            rows.append(auroc(refused, g["vader_neg_compound"]).row("xstest", subset, "vader_neg_compound"))
    return results_frame(rows)


# --------------------------------------------------------------------------------------------------
# HH-RLHF harmless pairs


def hh_final_turns(path: str | Path, *, matcher: Matcher | None = None) -> pd.DataFrame:
    """One row per HH-RLHF pair: ``refusal_score`` of the final assistant turn of ``chosen`` and of ``rejected``.

    Reads the pairs with :func:`welfare.load` (format ``hh_rlhf``: one conversation with a ``...chosen``
    and a ``...rejected`` branch), scores them, and keeps each branch's last assistant message.
    Columns: ``conversation_id, chosen, rejected`` (NaN where a final reply is empty).
    """
    from welfare.io import load
    from welfare.score import score

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"HH-RLHF file not found: {p} (e.g. harmless-base/test.jsonl.gz)")
    try:
        transcripts = list(load(p, format="hh_rlhf"))
    except ValueError as err:
        raise ValidationInputError(f"{p}: not an HH-RLHF pairs file ({err})") from None
    msgs = score(transcripts, metrics=["refusal_score"], matcher=matcher).messages
    last = msgs[msgs["role"] == "assistant"].groupby(["conversation_id", "branch_id"], sort=False).tail(1)
    side = last["branch_id"].astype(str).str.rsplit(".", n=1).str[-1]
    wide = (last.assign(side=side)[side.isin(["chosen", "rejected"])]
            .pivot(index="conversation_id", columns="side", values="refusal_score"))
    wide = wide.reindex(columns=["chosen", "rejected"]).reset_index()
    wide.columns.name = None
    return wide


@validator("hh_rlhf")
def validate_hh_rlhf(path: str | Path, *, n_boot: int = 2000, seed: int = 0,
                     matcher: Matcher | None = None) -> pd.DataFrame:
    """How often ``refusal_score`` of the final assistant turn ranks ``chosen`` above ``rejected`` (Wilson CIs).

    Crowdworkers chose the less harmful reply; a refusal metric is expected, but not required, to
    score it higher more often than lower. Ties are reported separately. No floor.
    """
    pairs = hh_final_turns(path, matcher=matcher)
    ranks = pair_ranking(pairs["chosen"], pairs["rejected"], names=("chosen", "rejected"))
    rows = [e.row("hh_rlhf", "harmless-base test", "refusal_score") for e in ranks]
    return results_frame(rows)


# --------------------------------------------------------------------------------------------------
# report


def markdown_table(results: pd.DataFrame, *, statistics: Sequence[str] | None = None, digits: int = 3) -> str:
    """A Markdown table of a results frame (rounded for display only)."""
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValidationInputError(f"results frame lacks columns {missing}; build it with results_frame()")
    df = results if statistics is None else results[results["statistic"].isin(statistics)]
    head = "| subset | metric | statistic | estimate | 95% CI | n | interval |\n|---|---|---|---:|---|---:|---|\n"
    lines = []
    for r in df.to_dict("records"):
        low, high, value = float(r["ci_low"]), float(r["ci_high"]), float(r["estimate"])
        ci = "–" if not np.isfinite(low) else f"{low:.{digits}f}–{high:.{digits}f}"
        est = "NaN" if not np.isfinite(value) else f"{value:.{digits}f}"
        lines.append(f"| {r['subset']} | {r['metric']} | {r['statistic']} | {est} | {ci} | {r['n']} | {r['method']} |")
    return head + "\n".join(lines) + "\n"
