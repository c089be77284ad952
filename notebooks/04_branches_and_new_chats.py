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
# # Branches and new chats: what a conversation is after an ending
#
# After the assistant ends a conversation the user can edit an earlier message (a new *branch*
# of the same conversation) or start a *new chat*. Both matter for analysis: a branch shares its
# history with the ended one, and a new chat may carry the same user's distress forward.
# This notebook shows how the data model keeps branches apart, how the score tables key them,
# and how `welfare.analysis.follow_ups` links an ending to what came next.

# %% tags=["parameters"]
logs = ["../data/sample"]

# %%
import pandas as pd

import welfare
import welfare.analysis as wa

convs = welfare.load_all(logs)
branched = [t for t in convs if len(t.branches()) > 1]
print(f"{len(convs)} conversations; {len(branched)} have more than one branch")

# %% [markdown]
# ## One conversation, several branches
# Messages with `id`/`parent` links form a tree. Each root-to-leaf path is a `Branch` with a
# stable `branch_id` (its leaf's id); the *active* branch is the one the user last saw. Each
# branch has its own `Ending`.

# %%
example = branched[0] if branched else convs[0]
pd.DataFrame([{"branch_id": b.branch_id, "active": b.is_active, "messages": len(b),
               "ended_by": b.ending.by, "method": b.ending.method, "at": b.ending.message_index}
              for b in example.branches()])

# %% [markdown]
# The viewer shows each branch as a section; shared messages are marked and the point where a
# branch diverges is named.

# %%
example

# %% [markdown]
# ## Branches in the score tables
# The message table has one row per message *per branch* (shared history appears once per
# branch), keyed by `conversation_id, branch_id, message_index`. Analyses of what users saw use
# `is_active_branch`; analyses of edits use every branch.

# %%
# carry the recorded link to an earlier conversation (when any log has it) into the tables: follow_ups uses it
linked = ["previous_conversation_id"] if any("previous_conversation_id" in t.metadata for t in convs) else []
scores = welfare.score(convs, metadata=linked)
conversations = scores.conversations
per_conversation = conversations.groupby("conversation_id").agg(
    branches=("branch_id", "nunique"), any_ended=("ended_by", lambda s: (s == "assistant").any()))
per_conversation.groupby("branches").agg(conversations=("any_ended", "size"), share_ended=("any_ended", "mean"))

# %% [markdown]
# ## What happened after each ending
# For every branch the assistant ended: a new chat by the same user (linked through
# `previous_conversation_id` when the log records it, else the user's next conversation in
# time), another branch of the same conversation, or nothing.

# %%
outcome = next((c for c in ("distress_mean", "refusal_rate") if c in conversations.columns), None)
if outcome is not None:
    links = wa.follow_ups(conversations, outcome=outcome)
    print("new chats linked by", "the recorded previous_conversation_id" if linked else "the user's next conversation in time")
    display(links["follow_up_kind"].value_counts().rename("ended branches"))  # noqa: F821
    display(links.head())  # noqa: F821
else:
    print("No conversation outcome column to follow in this version of the metric library.")

# %% [markdown]
# ## New chats in the logs
# Conversations that say which conversation they follow (`metadata["previous_conversation_id"]`).

# %%
followers = [t for t in convs if t.metadata.get("previous_conversation_id")]
print(f"{len(followers)} conversations name the conversation they follow")
pd.DataFrame([{"conversation_id": t.id, "follows": t.metadata["previous_conversation_id"],
               "user_id": t.metadata.get("user_id"), "condition": t.metadata.get("condition")}
              for t in followers[:10]])
