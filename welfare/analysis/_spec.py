"""Analysis specs: a YAML/JSON description of a study's analysis, validated with clear errors, and its runner.

A spec is data, so next month's logs get the same analysis with one command (``welfare analyze``)."""

from __future__ import annotations

import copy
import difflib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from welfare.analysis._compare import adjust_pvalues, compare_arms, effect_sizes, paired_effect
from welfare.analysis._event import event_study
from welfare.analysis._models import before_after
from welfare.analysis._policy import after_ending, policy_audit
from welfare.analysis._results import AnalysisInputError, make_result, numeric_outcome, require_columns, resolve_levels
from welfare.analysis._survival import cox, kaplan_meier, logrank, time_to_event

__all__ = ["SPEC_FIELDS", "SpecError", "analyze", "load_spec", "read_score_tables", "run_spec", "validate_spec"]


class SpecError(AnalysisInputError):
    """An analysis spec is invalid. ``field`` is the dotted path of the offending entry (e.g. ``event_study.window``)."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None) -> None:
        self.field = field
        self.source = source
        where = " ".join(p for p in (f"in {source}" if source else "", f"at {field!r}" if field else "") if p)
        super().__init__(f"analysis spec {where}: {message}" if where else f"analysis spec: {message}")


@dataclass(frozen=True)
class _Field:
    kind: str  # str, str|null, list[str], number, int, bool, choice, any, section
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


_DESIGNS = ("between", "paired", "before_after", "none")
_METHODS = {
    "between": ("bootstrap", "ols", "welch", "mixed", "gee"),
    "paired": ("bootstrap", "ols", "ttest"),
    "before_after": ("ols",),
    "none": ("bootstrap",),
}

#: Every top-level spec field: kind, default, meaning (and the valid choices).
SPEC_FIELDS: dict[str, _Field] = {
    "design": _Field("choice", "between", "which comparison answers the question (docs/estimands.md)", _DESIGNS),
    "outcomes": _Field("list[str]", [], "conversation-table columns to compare"),
    "arm": _Field("str", "condition", "column naming each conversation's arm"),
    "treatment": _Field("any", None, "treatment level(s) of arm (default: see compare_arms)"),
    "control": _Field("any", None, "control level of arm"),
    "cluster": _Field("str|null", "user_id", "column of the independent unit (null: rows independent)"),
    "method": _Field("choice", "bootstrap", "estimator for the design",
                     tuple(sorted({m for ms in _METHODS.values() for m in ms}))),
    "covariates": _Field("list[str]", [], "adjustment columns (method ols, mixed, gee)"),
    "pair": _Field("str", "pair_id", "column linking counterfactual conversations (design paired)"),
    "period": _Field("str|null", None, "boolean column, true after the rollout (design before_after)"),
    "rollout": _Field("str|null", None, "rollout date, ISO 8601 (design before_after, instead of period)"),
    "time": _Field("str", "started_at", "timestamp column for rollout and new-chat ordering"),
    "adjust": _Field("list[str]", ["model"], "columns adjusted for in before_after"),
    "user": _Field("str|null", "user_id", "user column (fixed effects in before_after, follow-ups)"),
    "correction": _Field("choice", "holm", "multiple-comparison correction across outcomes",
                         ("holm", "fdr_bh", "bonferroni", "none")),
    "confidence": _Field("number", 0.95, "interval level, between 0 and 1"),
    "n_boot": _Field("int", 2000, "bootstrap draws"),
    "seed": _Field("int", 0, "bootstrap seed"),
    "active_branch_only": _Field("bool", True, "analyse only each conversation's active branch"),
    "filter": _Field("mapping", {}, "keep rows whose column equals the value (or is in the list)"),
    "effect_sizes": _Field("bool", False, "also report effect sizes (Hedges' g / Cliff's delta or RD/RR/OR)"),
    "event_study": _Field("section", None, "turn-aligned trajectories around an anchor (needs the message table)"),
    "survival": _Field("section", None, "time to event: Kaplan-Meier by arm, log-rank, Cox"),
    "policy_audit": _Field("section", None, "ending-policy rates by model and arm"),
    "after_ending": _Field("section", None, "what users do after an ending and whether distress recurs"),
}

_SECTIONS: dict[str, dict[str, _Field]] = {
    "event_study": {
        "metric": _Field("str", "distress", "message-table column to follow"),
        "anchor": _Field("str", None, "boolean message column or expression, e.g. \"refusal == 'full'\" (required)"),
        "window": _Field("int", 5, "turns before and after the anchor"),
        "role": _Field("str|null", "assistant", "whose turns are counted (null: every message)"),
        "occurrence": _Field("int", 1, "which anchor (1 = first, k = k-th)"),
        "cluster": _Field("str|null", None, "cluster column (default: the spec's cluster)"),
    },
    "survival": {
        "event": _Field("str", "ending", "'ending', 'bail', or a column with the event's turn"),
        "at_risk": _Field("str", "n_assistant_turns", "censoring time column"),
        "covariates": _Field("list[str]", [], "extra Cox covariates"),
    },
    "policy_audit": {
        "by": _Field("list[str]", ["model", "condition"], "grouping columns"),
        "ended_only": _Field("bool", False, "rates among ended branches only"),
    },
    "after_ending": {
        "outcome": _Field("str", "distress_mean", "conversation column compared between ended and follow-up"),
    },
}


def _unknown(keys: Sequence[str], valid: Mapping[str, Any], prefix: str, source: str | None) -> None:
    unknown = [k for k in keys if k not in valid]
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(str(k), list(valid), n=1)
        hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise SpecError(f"unknown key(s) {', '.join(hints)}; valid keys: {', '.join(valid)}",
                    field=prefix.rstrip(".") or None, source=source)


def _check(value: Any, spec: _Field, field: str, source: str | None) -> Any:
    kind = spec.kind
    ok = True
    if kind == "str":
        ok = isinstance(value, str) and bool(value)
    elif kind == "str|null":
        ok = value is None or (isinstance(value, str) and bool(value))
    elif kind == "list[str]":
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "choice":
        if value not in spec.choices:
            raise SpecError(f"{value!r} is not a valid choice; choose one of {', '.join(map(str, spec.choices))}",
                            field=field, source=source)
    elif kind == "mapping":
        ok = isinstance(value, Mapping)
    if not ok:
        expected = {"str": "a non-empty string", "str|null": "a string or null", "list[str]": "a list of strings",
                    "number": "a number", "int": "an integer", "bool": "true or false",
                    "mapping": "a mapping of column: value"}[kind]
        raise SpecError(f"expected {expected} ({spec.help}), found {value!r}", field=field, source=source)
    return value


def validate_spec(spec: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    """Check a spec and return it with every default filled in.

    Raises :class:`SpecError` naming the field, what was found and what is valid (unknown keys are listed with
    the nearest valid one).
    """
    if not isinstance(spec, Mapping):
        raise SpecError(f"the spec must be a mapping of keys to values, found {type(spec).__name__}", source=source)
    _unknown(list(spec), SPEC_FIELDS, "", source)
    out: dict[str, Any] = {}
    for key, field in SPEC_FIELDS.items():
        if field.kind != "section":
            out[key] = _check(spec[key], field, key, source) if key in spec else copy.deepcopy(field.default)
    design = out["design"]
    if "method" not in spec:
        out["method"] = {"before_after": "ols"}.get(design, "bootstrap")
    if out["method"] not in _METHODS[design]:
        raise SpecError(f"method {out['method']!r} does not fit design {design!r}; choose one of "
                        f"{', '.join(_METHODS[design])}", field="method", source=source)
    if out["covariates"] and (design != "between" or out["method"] not in ("ols", "mixed", "gee")):
        raise SpecError(f"covariates need design 'between' with method ols, mixed or gee (found design {design!r}, "
                        f"method {out['method']!r}); before_after adjusts through 'adjust'", field="covariates",
                        source=source)
    if design != "none" and not out["outcomes"]:
        raise SpecError(f"design {design!r} needs at least one outcome column, e.g. outcomes: [distress_mean]",
                        field="outcomes", source=source)
    if design == "before_after" and out["period"] is None and out["rollout"] is None:
        raise SpecError("design 'before_after' needs period (a boolean column) or rollout (a date)",
                        field="period", source=source)
    if not 0 < float(out["confidence"]) < 1:
        raise SpecError(f"confidence must be between 0 and 1, found {out['confidence']!r}", field="confidence",
                        source=source)
    if out["n_boot"] < 1:
        raise SpecError(f"n_boot must be positive, found {out['n_boot']!r}", field="n_boot", source=source)
    for name, fields in _SECTIONS.items():
        raw = spec.get(name)
        if raw is None or raw is False:
            out[name] = None
            continue
        if raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise SpecError(f"expected a mapping (or true for the defaults), found {raw!r}", field=name, source=source)
        _unknown(list(raw), fields, f"{name}.", source)
        section = {}
        for key, field in fields.items():
            section[key] = (_check(raw[key], field, f"{name}.{key}", source) if key in raw
                            else copy.deepcopy(field.default))
        out[name] = section
    if out["event_study"] is not None and out["event_study"]["anchor"] is None:
        raise SpecError("event_study needs anchor: a boolean message column that is true at anchor rows",
                        field="event_study.anchor", source=source)
    if out["event_study"] is not None and out["event_study"]["window"] < 0:
        raise SpecError("window must be a non-negative number of turns", field="event_study.window", source=source)
    return out


def read_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The keys a YAML or JSON spec file sets, as written (not validated, no defaults filled in).

    For merging a user's spec over defaults: ``validate_spec({**defaults, **read_spec(path)})``.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise SpecError(f"cannot parse the file: {err}", source=str(p)) from err
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"the spec must be a mapping of keys to values, found {type(raw).__name__}", source=str(p))
    return raw


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON spec file and validate it (errors name the file)."""
    return validate_spec(read_spec(path), source=str(Path(path)))


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=suffix == ".jsonl")
    raise AnalysisInputError(f"cannot read {path}: score tables are .csv, .parquet or .jsonl files")


def read_score_tables(paths: Sequence[str | os.PathLike[str]]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read tables written by ``welfare score`` from files or directories: (conversation table, message table).

    A table with a ``message_index`` column is a message table, one with ``conversation_id`` and ``branch_id``
    but no ``message_index`` a conversation table; several of a kind are concatenated. Directories are searched
    (not recursively) for ``.csv``, ``.parquet`` and ``.jsonl`` files.
    """
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in (".csv", ".parquet", ".jsonl")))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such file or directory: {p}")
    convs, msgs = [], []
    for f in files:
        table = _read_table(f)
        if "message_index" in table.columns:
            msgs.append(table)
        elif {"conversation_id", "branch_id"} <= set(table.columns):
            convs.append(table)
    if not convs:
        raise AnalysisInputError(
            f"no conversation table among {[str(f) for f in files]}; run `welfare score LOGS -o OUT.csv` first "
            "(it writes OUT.csv and OUT.conversations.csv)"
        )
    messages = pd.concat(msgs, ignore_index=True) if msgs else None
    return pd.concat(convs, ignore_index=True), messages


def _prepare(table: pd.DataFrame, spec: Mapping[str, Any], name: str) -> pd.DataFrame:
    if spec["active_branch_only"] and "is_active_branch" in table.columns:
        table = table[table["is_active_branch"].astype(bool)]
    for col, wanted in spec["filter"].items():
        require_columns(table, [col], argument=name)
        table = table[table[col].isin(wanted if isinstance(wanted, list) else [wanted])]
    return table.reset_index(drop=True)


def _model_effects(data: pd.DataFrame, spec: Mapping[str, Any]) -> pd.DataFrame:
    """Arm effect from a mixed model (random intercept per cluster) or GEE (exchangeable), per outcome."""
    from welfare.analysis._models import gee, mixed

    arm, cluster = spec["arm"], spec["cluster"]
    if cluster is None:
        raise SpecError(f"method {spec['method']!r} needs a cluster column", field="cluster")
    treated, control = resolve_levels(data, arm, spec["treatment"], spec["control"])
    frames = []
    for outcome in spec["outcomes"]:
        for level in treated:
            sub = data[data[arm].isin([level, control])]
            work = pd.DataFrame({"y": numeric_outcome(sub, outcome), "treated": (sub[arm] == level).astype(float),
                                 "cluster": sub[cluster].astype(str)})
            rhs = ["treated"]
            for k, cov in enumerate(spec["covariates"]):
                work[f"c{k}"] = sub[cov]
                rhs.append(f"C(c{k})" if not pd.api.types.is_numeric_dtype(sub[cov]) else f"c{k}")
            formula = "y ~ " + " + ".join(rhs)
            if spec["method"] == "mixed":
                res = mixed(work, formula, "cluster", terms=["treated"], confidence=spec["confidence"])
            else:
                res = gee(work, formula, "cluster", terms=["treated"], confidence=spec["confidence"])
            res["outcome"], res["contrast"] = outcome, f"{level} - {control}"
            # the model ran on renamed columns: say in the spec's own names what was clustered and estimated
            res["method"] = (res["method"].str.replace("clustered on cluster", f"clustered on {cluster}", regex=False)
                             .str.replace("random intercept per cluster", f"random intercept per {cluster}", regex=False)
                             .str.replace("treated cannot be estimated without cluster ",
                                          f"{level} - {control} cannot be estimated without {cluster} ", regex=False))
            frames.append(res)
    return pd.concat(frames, ignore_index=True) if frames else make_result([])


def _levels_as_text(spec: dict[str, Any], conversations: pd.DataFrame) -> dict[str, Any]:
    """Treatment and control as text when the arm column holds text: metadata columns of the score tables are
    text, while a YAML spec reads ``control: 0`` as a number."""
    arm = spec["arm"]
    if not isinstance(arm, str) or arm not in conversations.columns:
        return spec
    values = conversations[arm].dropna()
    if values.empty or not all(isinstance(v, str) for v in values.iloc[:1000]):
        return spec

    def text(level: Any) -> Any:
        if isinstance(level, bool) or level is None:
            return level
        if isinstance(level, int | float):
            return str(level)
        if isinstance(level, list):
            return [text(v) for v in level]
        return level

    return {**spec, "treatment": text(spec["treatment"]), "control": text(spec["control"])}


def run_spec(
    spec: Mapping[str, Any] | str | os.PathLike[str],
    conversations: pd.DataFrame,
    messages: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Run every analysis a spec asks for.

    Parameters
    ----------
    spec
        A spec mapping (validated here) or the path of a YAML/JSON spec file.
    conversations, messages
        The score tables (docs/architecture.md). ``messages`` is needed only for ``event_study``.

    Returns
    -------
    dict[str, DataFrame]
        Result frames (fixed columns first) under ``effects`` (p-values adjusted across outcomes, per contrast),
        ``effect_sizes``, ``event_study``, ``survival`` (Kaplan-Meier), ``logrank``, ``cox``, ``policy_audit`` and
        ``after_ending``, for the parts the spec asks for.
    """
    spec = load_spec(spec) if isinstance(spec, (str, os.PathLike)) else validate_spec(spec)
    if spec["design"] in ("between", "paired"):  # the designs that compare arms with clusters
        from welfare.score import CONVERSATION_KEYS

        for key in ("arm", "cluster"):
            name = spec[key]
            if isinstance(name, str) and name not in conversations.columns:
                hint = (" (a fixed column of the score tables: were these tables written by welfare score?)"
                        if name in CONVERSATION_KEYS else
                        f". A key of the logs' metadata becomes a column when scoring asks for it: welfare score "
                        f"LOGS -o OUT --metadata {name} (welfare.score(..., metadata=[{name!r}]))")
                raise SpecError(f"{key} {name!r} is not a column of the conversation table{hint}", field=key)
    spec = _levels_as_text(spec, conversations)
    convs = _prepare(conversations, spec, "conversations")
    common = {"confidence": spec["confidence"]}
    boot = {"n_boot": spec["n_boot"], "seed": spec["seed"]}
    out: dict[str, pd.DataFrame] = {}
    design, method, arm = spec["design"], spec["method"], spec["arm"]
    levels = {"treatment": spec["treatment"], "control": spec["control"]}
    if design == "between":
        if method in ("mixed", "gee"):
            out["effects"] = _model_effects(convs, spec)
        else:
            out["effects"] = compare_arms(convs, spec["outcomes"], arm, cluster=spec["cluster"], method=method,
                                          covariates=spec["covariates"], **levels, **boot, **common)
    elif design == "paired":
        out["effects"] = paired_effect(convs, spec["outcomes"], arm, spec["pair"], cluster=spec["cluster"],
                                       method=method, **levels, **boot, **common)
    elif design == "before_after":
        out["effects"] = before_after(convs, spec["outcomes"], period=spec["period"], time=spec["time"],
                                      rollout=spec["rollout"], adjust=spec["adjust"], user=spec["user"],
                                      cluster=spec["cluster"], **common)
    if "effects" in out and spec["correction"] != "none":
        out["effects"] = adjust_pvalues(out["effects"], spec["correction"], family="contrast")
    if spec["effect_sizes"] and design != "none":
        out["effect_sizes"] = effect_sizes(convs, spec["outcomes"], arm, cluster=spec["cluster"], **levels, **boot,
                                           **common)
    if spec["event_study"] is not None:
        if messages is None:
            raise SpecError("event_study needs the message table (messages=...; `welfare score` writes it)",
                            field="event_study")
        es = spec["event_study"]
        msgs = _prepare(messages, spec, "messages")
        out["event_study"] = event_study(msgs, es["metric"], es["anchor"], window=es["window"],
                                         arm=arm if arm in msgs.columns else None, **levels,
                                         cluster=es["cluster"] or spec["cluster"], role=es["role"],
                                         occurrence=es["occurrence"], **boot, **common)
    if spec["survival"] is not None:
        sv = spec["survival"]
        timed = time_to_event(convs, sv["event"], at_risk=sv["at_risk"])
        label = sv["event"]
        out["survival"] = kaplan_meier(timed, "duration", "observed", group=arm, **common)
        out["survival"]["outcome"] = f"turns to {label}"
        out["logrank"] = logrank(timed, "duration", "observed", arm)
        out["logrank"]["outcome"] = f"turns to {label}"
        events = timed.groupby(arm)["observed"].sum()
        if (events == 0).any() or len(events) < 2:
            # e.g. assistant endings in an arm without the ending tool: the hazard ratio is not estimable
            none = ", ".join(map(str, events.index[events == 0])) or "only one arm"
            out["cox"] = make_result([{"outcome": f"turns to {label}", "contrast": f"C({arm})", "n_obs": len(timed),
                                       "method": f"Cox PH not estimable: no events in {none}"}])
        else:
            _, control = resolve_levels(timed, arm, spec["treatment"], spec["control"])
            term = f"C({arm}, Treatment(reference={control!r}))"
            result = cox(timed, "duration", "observed", [term, *sv["covariates"]], cluster=spec["cluster"], **common)
            arm_rows = result["contrast"].str.startswith(term + "[T.")
            result.loc[arm_rows, "contrast"] = (result.loc[arm_rows, "contrast"].str.slice(len(term) + 3, -1)
                                                + f" vs {control}")
            result["outcome"] = f"turns to {label}"
            out["cox"] = result
    if spec["policy_audit"] is not None:
        pa = spec["policy_audit"]
        out["policy_audit"] = policy_audit(convs, by=pa["by"], ended_only=pa["ended_only"], **common)
    if spec["after_ending"] is not None:
        # follow-ups need every branch, not only the active one
        everything = conversations if not spec["filter"] else _prepare(
            conversations, {**spec, "active_branch_only": False}, "conversations")
        out["after_ending"] = after_ending(everything, outcome=spec["after_ending"]["outcome"],
                                           user=spec["user"] or "user_id", time=spec["time"], **boot, **common)
    return out


#: Results also written as LaTeX by :func:`analyze` (the long per-turn / per-time tables are not).
_LATEX_TABLES = ("effects", "effect_sizes", "logrank", "cox", "after_ending")


def analyze(
    inputs: Sequence[str | os.PathLike[str]],
    spec: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Read score tables, run a spec file, and write each result as CSV (and the short ones as LaTeX) to ``out_dir``.

    The spec is copied beside the results as given (``spec.yaml`` / ``spec.json``) and with every default filled in
    (``spec.resolved.json``), so the folder says exactly what was run. Returns the written paths by name.
    """
    from welfare.analysis._latex import to_latex

    resolved = load_spec(spec)
    conversations, messages = read_score_tables(inputs)
    results = run_spec(resolved, conversations, messages)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frame in results.items():
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False)
        written[name] = path
        if name in _LATEX_TABLES:
            tex = out / f"{name}.tex"
            tex.write_text(to_latex(frame, confidence=resolved["confidence"]), encoding="utf-8")
            written[f"{name}.tex"] = tex
    suffix = ".json" if Path(spec).suffix.lower() == ".json" else ".yaml"
    copy_path = out / f"spec{suffix}"
    copy_path.write_text(Path(spec).read_text(encoding="utf-8"), encoding="utf-8")
    resolved_path = out / "spec.resolved.json"
    resolved_path.write_text(json.dumps(resolved, indent=2, default=str) + "\n", encoding="utf-8")
    written["spec"], written["spec.resolved"] = copy_path, resolved_path
    return written
