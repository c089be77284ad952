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
# # Does an end-conversation tool shift apparent distress and expressed reluctance?
#
# Some assistants can end a conversation: only as a last resort after repeated redirection has
# failed, or when the user asks, and never when the user seems at risk of harming themselves or
# others; the user can then start a new chat or edit an earlier message. This notebook asks what
# that changes in the text the model writes, and audits how the tool was used.
#
# **Estimands.** Arms are the study conditions (the `condition` metadata of the logs, or the key the
# spec names as `arm`); conversations are the units and users the clusters (a user's conversations
# are not independent).
#
# * *Effect on apparent distress and expressed reluctance*: the difference in the mean of each
#   conversation-level outcome between an arm with the tool and the arm without it, over the
#   population of conversations the arms were assigned to (active branch: what the user last
#   saw). Endings shorten conversations, so per-conversation totals (e.g. `distress_burden`)
#   include the effect of stopping early; per-turn means (`distress_mean`) do not.
# * *Policy audit*: the share of branches in each ending-policy category (`last_resort`,
#   `user_request`, `risk_violation`, `premature`, `not_ended`) per arm, with Wilson intervals.
# * *After an ending*: what users did next (new chat, edit and branch, nothing) and whether
#   apparent distress recurs there. A new chat is the conversation that names the ended one as its
#   `previous_conversation_id` when the logs record that link, else the same user's next
#   conversation by `started_at` (in any arm); the report says which it used.
#
# By default, intervals are 95% percentile cluster-bootstrap intervals (users resampled) and p-values
# are adjusted across outcomes (Holm); a spec can choose another method, level or correction, and the
# captions name the ones used. The metrics score expressed text, not inner states; self-reports shift
# with context and training.
#
# `welfare report LOGS -o DIR [--spec SPEC]` runs this notebook on new logs with the parameters below.
# A spec overrides the default analysis key by key: `arm: variant` and `control: baseline` are enough
# when the logs name their arms in a `variant` metadata key.

# %% tags=["parameters"]
logs = ["../data/sample"]
spec = None
output_dir = None
load_options = {}  # passed to welfare.load: format, strict=False (welfare report --lenient), table columns
control_arm = "no_end_tool"
n_boot = 2000  # the spec's default: with 400 draws and 15 users no p-value could fall below 0.011
seed = 0
event_anchor = "role == 'user' and hostility >= 0.5"
event_metric = "distress"
event_window = 4

# %%
import matplotlib.pyplot as plt
import pandas as pd

import welfare
import welfare.analysis as wa
import welfare.plots as wp
from welfare.report import ReportOutputs, check_analysis_inputs, note_bootstrap_floor
from welfare.score import CONVERSATION_KEYS

wp.use_style()
out = ReportOutputs(output_dir)
user_spec = (dict(spec) if isinstance(spec, dict) else wa.read_spec(spec)) if spec else {}
load_report = welfare.LoadReport()
convs = welfare.load_all(logs, report=load_report, **load_options)
if load_report.rejected:  # only when loading leniently; strict loading stops at the first bad record
    print(f"{len(load_report.rejected)} records rejected and left out ({load_report.summary()}); first: "
          f"{load_report.rejected[0]}")
# The arm and cluster keys, outcomes and event-study parameters, checked before anything is scored (welfare report
# runs the same check before it starts this notebook): a typo is an error naming the valid keys.
plan = check_analysis_inputs(convs, user_spec, control_arm=control_arm, event_anchor=event_anchor,
                             event_metric=event_metric, event_window=event_window, n_boot=n_boot,
                             source=str(spec) if spec else None)
arm, control_arm = plan.arm, plan.control  # arms from the logs' metadata are text
if plan.note:
    print(plan.note)
# arm and cluster columns that are neither fixed keys nor metrics of the tables come from the logs' metadata;
# a new chat names the conversation it follows (metadata previous_conversation_id) when the logs record it: the
# after-ending analysis uses that link, and the user's next conversation by time only when no log records one
columns = {*CONVERSATION_KEYS, *(m.name for m in welfare.list_metrics())}
new_chat_link = "previous_conversation_id"
linked = any(t.metadata.get(new_chat_link) for t in convs)
carried = [c for c in dict.fromkeys((arm, user_spec.get("cluster"), new_chat_link if linked else None))
           if isinstance(c, str) and c not in columns]
scores = welfare.score(convs, metadata=carried)
messages, conversations = scores.messages, scores.conversations
if not plan.arms:  # one pool, labelled as such in every table and figure
    conversations[arm], messages[arm] = "all", "all"
arms = sorted(conversations[arm].dropna().astype(str).unique())
print(f"{len(convs)} conversations, {len(conversations)} branches, arm column {arm!r}: {arms}")
colours = wp.arm_colors(arms)  # one colour per arm in every figure, also where an arm has no rows

# %% [markdown]
# ## The data
# Conversations per arm and how they ended (active branches).

# %%
active = conversations[conversations["is_active_branch"]]
overview = (active.groupby(arm)
            .agg(conversations=("conversation_id", "nunique"), users=("user_id", "nunique"),
                 ended_by_assistant=("ended_by", lambda s: int((s == "assistant").sum())),
                 mean_assistant_turns=("n_assistant_turns", "mean"))
            .reset_index())
out.table("overview", overview, caption="Conversations per arm (active branches)")

# %%
fig, axes = plt.subplots(1, 2, figsize=wp.figure_size("double", aspect=0.4))
wp.ending_methods(conversations, arm=arm, ax=axes[0])
wp.refusal_shares(messages, arm=arm, ax=axes[1])
out.figure("endings_and_refusals", fig, caption="Endings per arm; expressed refusal classes of assistant messages")

# %%
trajectory_metric = next((m for m in ("distress", "negative_affect", "refusal_score") if m in messages.columns), None)
if trajectory_metric is not None:
    fig, ax = plt.subplots(figsize=wp.figure_size("single"))
    wp.distress_trajectory(messages, metric=trajectory_metric, arm=arm, ax=ax)
    out.figure("trajectory", fig, caption=f"Mean {trajectory_metric} by assistant turn and arm (95% normal band)")

# %% [markdown]
# ## Around the first hostile user turn
# How does apparent distress in the assistant's replies evolve around the first abusive user turn,
# and does the arm change that? In each active branch the anchor is the first message matching
# `event_anchor` (by default a user turn with `hostility` at least 0.5); turn 0 is the first
# assistant reply at or after it, turn -1 the last reply before it, and branches without such a
# turn are left out. A turn's mean includes only the branches that lasted that long (`n_obs` per
# turn in the table): the ending tool shortens branches, so the mix of branches behind the later
# turns differs between arms and changes along the trajectory. The figure describes; it is not
# an effect estimate.

# %%
active_messages = messages[messages["is_active_branch"]]
skip = None
if event_metric not in active_messages.columns:
    skip = f"the message table has no {event_metric!r} column"
else:
    try:
        anchored = wa.align_to_anchor(active_messages, event_anchor, role="assistant")
    except wa.AnalysisInputError as err:
        skip = str(err)  # names the anchor and the message columns
    else:
        if anchored.empty:
            skip = f"no active branch has a message matching {event_anchor!r}"
if skip:
    print(f"No event study: {skip}.")
else:
    by_arm = plan.compare
    if not by_arm:
        print("One trajectory over all active branches (no comparison of arms, see the note at the top).")
    cluster = "user_id" if active_messages["user_id"].notna().all() else None
    event = wa.event_study(active_messages, event_metric, event_anchor, window=event_window, role="assistant",
                           arm=arm if by_arm else None,
                           treatment=[a for a in arms if a != control_arm] if by_arm else None,
                           control=control_arm if by_arm else None,
                           cluster=cluster, n_boot=n_boot, seed=seed)
    # Arms sorted by name in the table; the figures take their colours from colours (wp.arm_colors).
    is_mean = event["contrast"] == "mean"
    event = pd.concat([event[is_mean].sort_values(["arm", "turn"]),
                       event[~is_mean].sort_values(["arm", "turn"])], ignore_index=True)
    clusters = "users" if cluster else "branches"
    out.table("event_study", event,
              caption=f"Mean {event_metric} of assistant replies by turn relative to the first message matching "
                      f"{event_anchor!r} (active branches; 95% cluster-bootstrap intervals, {clusters} resampled)")
    differences = by_arm and event["contrast"].ne("mean").any()
    fig, axes = plt.subplots(1, 2 if differences else 1, squeeze=False,
                             figsize=wp.figure_size("double" if differences else "single",
                                                    aspect=0.45 if differences else 0.75))
    wp.event_study_plot(event, ax=axes[0, 0], colors=colours)
    if differences:
        axes[0, 0].set_title("mean per arm")
        wp.event_study_plot(event, ax=axes[0, 1], differences=True, colors=colours)
        axes[0, 1].set_title(f"difference from {control_arm}")
    for ax in axes[0]:  # legends under the panels, where they cover no band; none for a single trajectory
        if by_arm:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
        else:
            ax.get_legend().remove()
    out.figure("event_study", fig,
               caption=f"Mean {event_metric} of assistant replies around the first message matching "
                       f"{event_anchor!r} (turn 0: first reply at or after it), with 95% cluster-bootstrap "
                       f"bands ({clusters} resampled); later turns include only branches that lasted")
    display(event[event["contrast"] == "mean"].pivot(index="turn", columns="arm", values="n_obs"))  # noqa: F821

# %% [markdown]
# ## The analysis spec
# The spec says which comparison answers the question. The default compares every arm with the
# control arm on the conversation outcomes this version of the metric library provides; `--spec`
# overrides it key by key (a spec that sets `design` also chooses its own `method`).

# %%
candidate_outcomes = ["distress_burden", "distress_mean", "distress_peak", "refusal_rate",
                      "longest_refusal_streak", "redirects_before_ending"]
outcomes = [c for c in candidate_outcomes if c in conversations.columns]
default_spec = {
    "design": "between",
    "outcomes": outcomes,
    "arm": arm,
    "treatment": [a for a in arms if a != control_arm],
    "control": control_arm,
    "cluster": "user_id",
    "method": "bootstrap",
    "correction": "holm",
    "n_boot": n_boot,
    "seed": seed,
    "survival": {"event": "ending", "at_risk": "n_assistant_turns"},
}
if "ending_policy" in conversations.columns:
    default_spec["policy_audit"] = {"by": [arm]}
if "distress_mean" in conversations.columns:
    default_spec["after_ending"] = {"outcome": "distress_mean"}
if "design" in user_spec:
    default_spec.pop("method")
merged_spec = {**default_spec, **user_spec, "control": control_arm}
if not plan.compare and merged_spec["design"] in ("between", "paired"):
    merged_spec.update(design="none", method="bootstrap")  # nothing to compare: describe (see the note at the top)
analysis_spec = wa.validate_spec(merged_spec, source=str(spec) if spec else None)
level = f"{100 * analysis_spec['confidence']:g}%"  # the interval level every caption below states
{k: v for k, v in analysis_spec.items() if v not in (None, [], {})}

# %%
results = wa.run_spec(analysis_spec, conversations, messages)
if "effects" in results:  # a bootstrap p-value where no draw crossed 0 is a bound: the method column says so
    results["effects"] = note_bootstrap_floor(results["effects"], analysis_spec["n_boot"])
sorted(results)

# %% [markdown]
# ## Effects on apparent distress and expressed reluctance
# Each row: one outcome, one arm against the control arm; `estimate` is the difference in means.
# The outcomes have different scales (a per-turn mean, a per-conversation total, a streak length),
# so the figure gives each outcome its own panel and x axis. An outcome can have no estimate, e.g.
# `redirects_before_ending` when the control arm has no endings; it is left out of the figure and
# named under it and in the caption.

# %%
if "effects" in results:
    effects = out.table("effects", results["effects"], caption="Effect of each arm against the control arm")
    no_estimate = list(dict.fromkeys(effects.loc[effects["estimate"].isna(), "outcome"]))
    # the caption names the interval level and the estimator the spec actually used (the table's method column)
    methods = " | ".join(dict.fromkeys(effects.loc[effects["estimate"].notna(), "method"].astype(str)))
    correction = analysis_spec["correction"]
    caption = (f"Estimates with {level} intervals ({methods}); p-values "
               f"{'not adjusted' if correction == 'none' else f'adjusted across outcomes ({correction})'}; "
               f"one panel per outcome, each on its own scale")
    if no_estimate:
        caption += f". No estimate, not shown: {', '.join(no_estimate)}"
    if effects.empty:
        print(f"No effects: the arm column {arm!r} has fewer than two arms with conversations ({arms}).")
    elif effects["estimate"].notna().any():
        n_panels = effects.loc[effects["estimate"].notna(), "outcome"].nunique()
        fig = plt.figure(figsize=wp.figure_size("double", aspect=0.25 * -(-n_panels // 3)))
        wp.forest_plot(effects, facet="outcome", ncols=3, fig=fig)
        out.figure("effects", fig, caption=caption)
    else:
        print(f"No outcome has an estimate ({', '.join(no_estimate)}); no effects figure.")
    display(effects)  # noqa: F821 - display is a notebook builtin

# %% [markdown]
# ## Policy audit: was the tool used as intended?

# %%
if "policy_audit" in results:
    audit = out.table("policy_audit", results["policy_audit"], caption="Ending-policy categories per arm")
    fig, ax = plt.subplots(figsize=wp.figure_size("double", aspect=0.4))
    wp.policy_audit_plot(audit, ax=ax, colors=colours)
    out.figure("policy_audit", fig, caption=f"Share of branches per ending-policy category (Wilson {level})")
else:
    print("The conversation table has no ending_policy column in this version; no policy audit.")

# %% [markdown]
# ## Time to an ending
# Kaplan–Meier estimate of the share of conversations not yet ended by the assistant, by
# assistant turn (conversations that stop without an ending are censored).

# %%
if "survival" in results:
    out.table("survival", results["survival"], caption="Kaplan-Meier: not yet ended, by assistant turn",
              latex=False)
    out.table("logrank", results["logrank"], caption="Log-rank test of equal time to ending")
    fig, ax = plt.subplots(figsize=wp.figure_size("single"))
    wp.survival_plot(results["survival"], ax=ax, colors=colours)
    out.figure("survival", fig, caption="Share of conversations not yet ended by the assistant")
    display(results["logrank"])  # noqa: F821

# %% [markdown]
# ## What users do after an ending

# %%
if "after_ending" in results:
    link = (f"a new chat is a conversation whose {new_chat_link} names the ended one (recorded in the logs)"
            if linked else f"no log records {new_chat_link}, so a new chat is the same user's next conversation "
                           "by started_at, in any arm")
    print(f"After an ending: {link}.")
    display(out.table("after_ending", results["after_ending"],  # noqa: F821
                      caption=f"Follow-ups after an assistant ending; {link}"))
else:
    ended = active[active["ended_by"] == "assistant"]
    print(f"{len(ended)} conversations ended by the assistant; "
          "the after-ending analysis needs distress_mean in the conversation table.")

# %% [markdown]
# ## One ended conversation
# The evidence behind the numbers: one conversation the assistant ended, in the safe viewer.

# %%
by_id = {t.id: t for t in convs}
ended_rows = active[(active["ended_by"] == "assistant") & (active[arm] != control_arm)]
if len(ended_rows):
    display(by_id[ended_rows["conversation_id"].iloc[0]])  # noqa: F821
