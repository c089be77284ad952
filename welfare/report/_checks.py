"""Checks of the analysis report's inputs that need no scoring: run before the notebook, and by the notebook itself.

A mistyped arm key, outcome, event metric or anchor is an error naming the key and the valid names (with the
closest ones), raised in a second rather than after scoring, inside a notebook traceback, or not at all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["AnalysisArms", "check_analysis_inputs"]

#: Fixed columns of the score tables that can name a study arm or a cluster (the rest are metrics or counts).
_KEY_COLUMNS = ("model", "condition", "user_id", "pair_id", "conversation_id")


@dataclass(frozen=True)
class AnalysisArms:
    """The arms of the logs for the report's arm key, and whether the report can compare them.

    ``arms``: the sorted arm values found (as text). ``compare``: at least two arms and the control among
    them; otherwise ``note`` says why the report only describes the logs.
    """

    arm: str
    control: str
    arms: list[str] = field(default_factory=list)
    compare: bool = False
    note: str | None = None


def _close(name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _metadata_keys(convs: Sequence[Any]) -> list[str]:
    keys: dict[str, None] = {}
    for t in convs:
        keys.update(dict.fromkeys(str(k) for k in t.metadata))
    return sorted(keys)


def _message_frame(extra: Iterable[str]) -> pd.DataFrame:
    """One made-up message row with every column the message table has, to check an anchor expression against."""
    from welfare.metrics import list_metrics
    from welfare.score import MESSAGE_KEYS

    row: dict[str, Any] = {k: "" for k in MESSAGE_KEYS}
    row.update({"message_index": 0, "is_active_branch": True, "role": "user"})
    row.update({k: "" for k in extra if k not in row})
    for m in list_metrics():
        if m.level == "message":
            row[m.name] = "" if m.kind == "category" else 0.0
    return pd.DataFrame([row])


def check_analysis_inputs(
    convs: Sequence[Any],
    spec: Mapping[str, Any] | None = None,
    *,
    control_arm: str = "no_end_tool",
    event_anchor: str | None = None,
    event_metric: str | None = None,
    event_window: Any = 0,
    n_boot: Any = 1,
    source: str | None = None,
) -> AnalysisArms:
    """Check what the report notebook will ask of the logs ``convs`` (transcripts), before anything is scored.

    ``spec`` holds the keys of the user's spec (not yet merged with the notebook's defaults); ``source`` names its
    file in errors. Raises :class:`welfare.analysis.SpecError` for a spec entry and ``ValueError`` for a notebook
    parameter, each naming the key, what was found and the valid names:

    * the spec's keys and their types (``welfare.analysis.validate_spec``);
    * ``arm`` and ``cluster``: a column of the score tables (``condition``, ``model``, ``user_id`` ...) or a
      metadata key of at least one conversation;
    * ``outcomes``, ``covariates`` and ``after_ending.outcome``: columns of the conversation table;
    * ``control`` (or ``control_arm``): one of the arms, when the logs have two or more;
    * ``event_metric``: a numeric message metric; ``event_anchor``: an expression over the message columns;
      ``event_window`` a non-negative integer; ``n_boot`` a positive integer.

    Logs with fewer than two arms, or without the control arm among one, are not an error: the result says
    ``compare=False`` with a ``note`` and the report describes the logs without comparing arms.
    """
    import welfare.analysis as wa
    from welfare.metrics import list_metrics
    from welfare.score import CONVERSATION_KEYS

    user = dict(spec or {})
    arm = user.get("arm", "condition")
    control = str(user.get("control", control_arm))
    merged = {"outcomes": ["distress_mean"], **user, "arm": arm if isinstance(arm, str) and arm else "condition",
              "control": control}
    if "arm" in user and not (isinstance(arm, str) and arm):
        raise wa.SpecError(f"arm must name a column or a metadata key of the logs, found {arm!r}", field="arm",
                           source=source)
    resolved = wa.validate_spec(merged, source=source)

    metrics = list_metrics()
    metadata = _metadata_keys(convs)
    keys = [k for k in _KEY_COLUMNS if k in CONVERSATION_KEYS]
    for name in ("arm", "cluster"):
        value = resolved[name]
        scored = value in CONVERSATION_KEYS or any(m.name == value for m in metrics)
        if not isinstance(value, str) or value in keys or (value in metadata and not scored):
            continue
        valid = [*keys, *(k for k in metadata if k not in keys and k not in CONVERSATION_KEYS)]
        what = ("a score column, not a study condition or a cluster" if scored else
                "neither a column of the score tables nor a metadata key of any conversation in the logs")
        raise wa.SpecError(f"{name} {value!r} is {what}. Columns: {', '.join(keys)}; metadata keys of the logs: "
                           f"{', '.join(metadata) or 'none'}.{_close(value, valid)} (welfare info LOGS lists the "
                           f"metadata keys)", field=name, source=source)

    carried = [resolved[k] for k in ("arm", "cluster") if isinstance(resolved[k], str)]
    conversation_columns = [*CONVERSATION_KEYS, *(m.name for m in metrics if m.level == "conversation"), *carried,
                            *metadata]
    for name, wanted in (("outcomes", resolved["outcomes"] if "outcomes" in user else []),
                         ("covariates", resolved["covariates"]),
                         ("after_ending.outcome", [resolved["after_ending"]["outcome"]]
                          if resolved["after_ending"] else [])):
        for column in wanted:
            if column not in conversation_columns:
                conv_metrics = [m.name for m in metrics if m.level == "conversation"]
                raise wa.SpecError(f"{column!r} is not a column of the conversation table; conversation metrics: "
                                   f"{', '.join(conv_metrics)}.{_close(column, conversation_columns)}",
                                   field=name, source=source)

    if event_metric is not None:
        numeric = [m.name for m in metrics if m.level == "message" and m.kind != "category"]
        if event_metric not in numeric:
            found = next((m for m in metrics if m.name == event_metric), None)
            why = (f"{event_metric!r} is a {found.level} {found.kind} metric" if found
                   else f"no message metric is called {event_metric!r}")
            raise ValueError(f"parameter event_metric: {why}; the event study follows a numeric message metric: "
                             f"{', '.join(numeric)}.{_close(event_metric, numeric)}")
    if isinstance(event_window, bool) or not isinstance(event_window, int) or event_window < 0:
        raise ValueError(f"parameter event_window: expected a non-negative whole number of turns, found "
                         f"{event_window!r} (e.g. -p event_window=4)")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"parameter n_boot: expected a positive whole number of bootstrap draws, found {n_boot!r} "
                         f"(e.g. -p n_boot=2000)")
    if event_anchor is not None:
        frame = _message_frame(carried)  # the message table carries only these metadata keys
        try:
            flags = frame.eval(event_anchor, engine="python") if event_anchor not in frame.columns else None
        except Exception as err:
            names = [str(c) for c in frame.columns]
            word = next((w for w in str(err).split("'")[1:2]), "")
            raise ValueError(f"parameter event_anchor: {event_anchor!r} is not an expression over the message "
                             f"columns ({err}); columns: {', '.join(names)}.{_close(word, names) if word else ''}"
                             ) from err
        if flags is not None and not (isinstance(flags, pd.Series) and pd.api.types.is_bool_dtype(flags)):
            raise ValueError(f"parameter event_anchor: {event_anchor!r} must give true or false per message, e.g. "
                             f"\"role == 'user' and hostility >= 0.5\"")

    arm_name = resolved["arm"]
    values = sorted({str(v) for t in convs if (v := _arm_value(t, arm_name)) is not None})
    if len(values) >= 2 and control not in values:
        raise wa.SpecError(f"control {control!r} is not an arm of the logs; the arms in {arm_name!r} are "
                           f"{values}.{_close(control, values)} Set control in the spec or -p control_arm=NAME",
                           field="control", source=source)
    if not values:
        note = (f"No conversation has a value for the arm key {arm_name!r}: this report describes all "
                f"conversations together (arm 'all') and compares nothing.")
    elif len(values) == 1:
        note = (f"The logs have one arm ({values[0]!r} in {arm_name!r}): this report describes it and compares "
                f"nothing (effects and arm differences need the control arm {control!r} and another arm).")
    else:
        note = None
    return AnalysisArms(arm=arm_name, control=control, arms=values, compare=note is None, note=note)


def _arm_value(transcript: Any, arm: str) -> Any:
    if arm == "conversation_id":
        return transcript.id
    value = transcript.metadata.get(arm)
    return None if value is None or (isinstance(value, float) and value != value) else value
