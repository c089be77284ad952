"""The simulator: ground truth follows the documented equations and rules; structure; determinism; config."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

import welfare
from welfare.cli import main
from welfare.simulate import (
    END_TOOL,
    PERSONAS,
    PersonaParams,
    SimulationConfig,
    SimulationConfigError,
    default_config,
    iter_conversations,
    load_config,
    load_grammar,
    replace_policy,
    simulate,
    write_jsonl,
)
from welfare.simulate._grammar import GrammarError
from welfare.transcript import Transcript

ALL_ARMS = ("no_end_tool", "end_tool_last_resort", "end_tool_early", "end_tool_never_used")


@pytest.fixture(scope="module")
def big():
    """300 openings under all four arms with the default parameters (about 1.5 s)."""
    cfg = default_config(seed=11, n_conversations=300, arms=ALL_ARMS)
    return cfg, simulate(cfg)


def truth(m):
    return m.metadata["truth"]


def parents(t):
    return {m.id: m for m in t.messages}


# -- the distress equation ------------------------------------------------------------------------------------------

def test_distress_follows_the_equation_in_every_persona_arm_cell():
    """Residual d_t - (rho*d_{t-1} + alpha + alpha_arm + u + beta.x_t) is N(0, sigma) in every cell.

    Only turns whose deterministic part lies at least 4 sigma inside (0, 1) are used, so the clip
    almost never binds (P < 1e-4) and the residual is the noise itself. Bound: 4.5 standard errors.
    The baseline is raised to 0.3 so that every persona x arm cell lies away from the clip.
    """
    cfg = default_config(seed=12, n_conversations=250, arms=ALL_ARMS)
    cfg = cfg.replace(distress=dataclasses.replace(cfg.distress, alpha=0.3, rho=0.3))
    cfg = replace_policy(cfg, "end_tool_early", distress_offset=-0.04)
    convs = simulate(cfg, render_text=False)
    dp = cfg.distress
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t in convs:
        by_id = parents(t)
        u_eff = t.metadata["truth"]["user_effect"]
        arm = t.metadata["condition"]
        for m in t.messages:
            if m.role != "assistant":
                continue
            ut = truth(by_id[m.parent])
            tr = truth(m)
            pred = (dp.rho * tr["distress_prev"] + dp.alpha + cfg.policies[arm].distress_offset + u_eff
                    + dp.beta_hostile * ut["hostile"] + dp.beta_persist * ut["persistence"]
                    + dp.beta_request * ut["should_decline"])
            if 4 * dp.sigma < pred < 1 - 4 * dp.sigma:
                cells[(tr["persona"], arm)].append(tr["distress"] - pred)
    checked = 0
    for (persona, arm), res in cells.items():
        n = len(res)
        if n < 30:
            continue
        checked += 1
        r = np.asarray(res)
        assert abs(r.mean()) < 4.5 * dp.sigma / math.sqrt(n), (persona, arm, r.mean(), n)
        assert abs(r.std(ddof=1) / dp.sigma - 1) < 4.5 / math.sqrt(2 * (n - 1)), (persona, arm, r.std(ddof=1), n)
    assert checked == len(PERSONAS) * len(ALL_ARMS)


def test_mean_distress_per_arm_matches_closed_form():
    """With rho = 0 and iid hostile turns, E[d] = alpha + alpha_arm + beta_h * p_hostile (no clipping).

    Per-turn variance is beta_h^2 p(1-p) + sigma^2 and turns are independent, so the standard
    error of the mean over n turns is sqrt(var/n); the bound is 4 standard errors.
    """
    only = {name: PersonaParams(share=0.0) for name in PERSONAS}
    only["abusive"] = PersonaParams(share=1.0, turns_min=4, turns_max=8, p_hostile=0.5)
    cfg = default_config(seed=5, n_conversations=300, arms=("no_end_tool", "end_tool_last_resort"),
                         personas=only)
    cfg = cfg.replace(distress=dataclasses.replace(cfg.distress, rho=0.0, alpha=0.25, sigma=0.05, user_sd=0.0))
    cfg = replace_policy(cfg, "end_tool_last_resort", distress_offset=-0.05)
    by_arm: dict[str, list[float]] = defaultdict(list)
    ended = 0
    for t in simulate(cfg, render_text=False):
        by_arm[t.metadata["condition"]].extend(truth(m)["distress"] for m in t.messages if m.role == "assistant")
        ended += t.metadata["truth"]["ended"]
    assert ended > 20  # endings (and their follow-ups, edits) happen and are part of the check
    var = 0.15**2 * 0.25 + 0.05**2
    for arm, offset in (("no_end_tool", 0.0), ("end_tool_last_resort", -0.05)):
        d = np.asarray(by_arm[arm])
        expected = 0.25 + offset + 0.15 * 0.5
        assert abs(d.mean() - expected) < 4 * math.sqrt(var / len(d)), (arm, d.mean(), expected, len(d))


def test_user_effects_have_the_configured_spread(big):
    cfg, convs = big
    effects = {t.metadata["user_id"]: t.metadata["truth"]["user_effect"] for t in convs}
    e = np.asarray(list(effects.values()))
    n = len(e)
    assert abs(e.mean()) < 4 * cfg.distress.user_sd / math.sqrt(n)
    assert abs(e.std(ddof=1) / cfg.distress.user_sd - 1) < 4 / math.sqrt(2 * (n - 1))


def test_new_chat_starts_from_carried_over_distress(big):
    cfg, convs = big
    by_id = {t.id: t for t in convs}
    followups = [t for t in convs if "previous_conversation_id" in t.metadata]
    assert followups
    for t in followups:
        prev = by_id[t.metadata["previous_conversation_id"]]
        end_msg = prev.messages[[m.id for m in prev.messages].index(prev.current)]
        first_assistant = next(m for m in t.messages if m.role == "assistant")
        assert truth(first_assistant)["distress_prev"] == pytest.approx(cfg.distress.carry_over * truth(end_msg)["distress"])


# -- policies ---------------------------------------------------------------------------------------------------------

def _endings(t):
    return [m for m in t.messages if m.role == "assistant" and truth(m)["act"] == "end"]


def test_last_resort_never_ends_at_risk_users_and_only_after_k_redirects(big):
    cfg, convs = big
    k = cfg.policies["end_tool_last_resort"].k_redirects
    n_last_resort = 0
    for t in convs:
        if t.metadata["condition"] != "end_tool_last_resort":
            continue
        for b in t.branches():
            seen_risk = False
            attempts = 0
            for m in b.messages:
                tr = truth(m)
                if m.role == "user":
                    seen_risk = seen_risk or tr["risk"]
                    user = tr
                    continue
                if tr["act"] == "end":
                    assert t.metadata["persona"] != "at_risk"
                    assert not seen_risk
                    if user["requests_end"]:
                        assert tr["end_reason"] == "user_request"
                    else:
                        n_last_resort += 1
                        assert attempts >= k and tr["redirects_before"] == attempts
                        assert t.metadata["persona"] in cfg.end_eligible_personas
                        assert tr["end_reason"] == "last_resort"
                attempts += tr["act"] in ("refuse", "partial", "redirect")
    assert n_last_resort > 20


def test_arms_without_ending_rule_never_end_on_their_own(big):
    _, convs = big
    for t in convs:
        arm = t.metadata["condition"]
        ends = _endings(t)
        if arm == "no_end_tool":
            assert not ends
        if arm == "end_tool_never_used":
            assert not ends  # p_honor_end_request = 0 by default
        for m in ends:
            assert [c.name for c in m.tool_calls] == [END_TOOL]
            # what the log shows is the model's stated reason, not the ground-truth label
            assert m.tool_calls[0].arguments["reason"] in ("user_request", "repeated_harmful_or_abusive_requests")


def test_early_arm_ends_more_and_sometimes_wrongly(big):
    _, convs = big
    reasons = Counter(t.metadata["truth"]["end_reason"] for t in convs if t.metadata["condition"] == "end_tool_early")
    last = Counter(t.metadata["truth"]["end_reason"] for t in convs if t.metadata["condition"] == "end_tool_last_resort")
    assert reasons["premature"] > 0 and reasons["risk_violation"] > 0
    assert last["premature"] == 0 and last["risk_violation"] == 0
    assert sum(v for k, v in reasons.items() if k != "not_ended") > sum(v for k, v in last.items() if k != "not_ended")


# -- structure --------------------------------------------------------------------------------------------------------

def test_pairs_share_user_opening_and_first_message(big):
    cfg, convs = big
    pairs: dict[str, list] = defaultdict(list)
    for t in convs:
        if "pair_id" in t.metadata:
            pairs[t.metadata["pair_id"]].append(t)
    assert len(pairs) == cfg.n_conversations
    for group in pairs.values():
        assert [t.metadata["condition"] for t in group] == list(cfg.arms)
        assert len({t.metadata["user_id"] for t in group}) == 1
        assert len({t.metadata["started_at"] for t in group}) == 1
        assert len({t.messages[0].text for t in group}) == 1
        assert len({json.dumps(truth(t.messages[0]), sort_keys=True).replace(t.metadata["condition"], "")
                     for t in group}) == 1


def test_paired_arms_share_the_user_side_so_within_pair_differences_are_exact():
    """Two arms that differ only in distress_offset: the pair shares every user draw and the noise,
    so at the first assistant turn d_treated - d_control equals the offset exactly (when neither is clipped)."""
    cfg = SimulationConfig.from_dict({
        "seed": 8, "n_conversations": 60, "arms": ["control", "treated"],
        "policies": {"control": {}, "treated": {"distress_offset": 0.05}},
        "distress": {"alpha": 0.3},
    })
    by_pair: dict[str, dict[str, Transcript]] = defaultdict(dict)
    for t in simulate(cfg, render_text=False):
        if "pair_id" in t.metadata:
            by_pair[t.metadata["pair_id"]][t.metadata["condition"]] = t
    assert len(by_pair) == 60
    checked = 0
    for pair in by_pair.values():
        first = {arm: truth(pair[arm].messages[1])["distress"] for arm in ("control", "treated")}
        if first["control"] > 0 and first["treated"] < 1:
            checked += 1
            assert first["treated"] - first["control"] == pytest.approx(0.05)
    assert checked >= 55


def test_edits_make_branches_and_new_chats_link_back(big):
    _, convs = big
    by_id = {t.id: t for t in convs}
    n_edits = n_new = 0
    for t in convs:
        t.validate()
        assert t.messages[-1].id is not None
        msgs = parents(t)
        edited = [m for m in t.messages if m.role == "user" and "edited_from" in truth(m)]
        n_edits += len(edited)
        branches = t.branches()
        assert len(branches) == 1 + len(edited)
        assert branches[-1].is_active and branches[-1].messages[-1].id == t.current
        for m in edited:
            original = msgs[truth(m)["edited_from"]]
            assert original.role == "user" and original.parent == m.parent and original.id != m.id
        for b in branches[:-1]:  # every superseded branch was ended by the model
            assert b.ending.by == "assistant" and b.ending.method == "tool_call"
        prev_id = t.metadata.get("previous_conversation_id")
        if prev_id is not None:
            n_new += 1
            prev = by_id[prev_id]
            assert prev.ending.by == "assistant"
            assert prev.metadata["user_id"] == t.metadata["user_id"]
            assert "pair_id" not in t.metadata
            last_time = max(m.created_at for m in prev.messages)
            assert t.metadata["started_at"] > last_time
    assert n_edits > 10 and n_new > 10


def test_metadata_and_truth_fields(big):
    cfg, convs = big
    for t in convs[:200]:
        md = t.metadata
        for key in ("model", "condition", "user_id", "started_at", "persona"):
            assert md[key]
        assert md["simulator"] == {"version": welfare.simulate.SIMULATOR_VERSION, "seed": cfg.seed}
        assert md["started_at"].endswith("Z") and len(md["started_at"]) == 20
        for m in t.messages:
            tr = truth(m)
            assert tr["persona"] == md["persona"] and tr["arm"] == md["condition"]
            assert isinstance(tr["hostile"], bool)
            if m.role == "assistant":
                assert tr["act"] in ("refuse", "partial", "redirect", "comply", "end")
                assert 0.0 <= tr["distress"] <= 1.0
                assert isinstance(m.text, str) and m.text


def test_ids_are_unique(big):
    _, convs = big
    ids = [t.id for t in convs]
    assert len(ids) == len(set(ids))


# -- determinism ------------------------------------------------------------------------------------------------------

def _bytes(convs) -> bytes:
    buf = io.StringIO()
    welfare.write_canonical(convs, buf)
    return buf.getvalue().encode("utf-8")


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path):
    cfg = default_config(seed=3, n_conversations=40, arms=ALL_ARMS)
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_jsonl(iter_conversations(cfg), a)
    write_jsonl(iter_conversations(cfg), b)
    assert a.read_bytes() == b.read_bytes()
    assert _bytes(simulate(cfg.replace(seed=4))) != _bytes(simulate(cfg))


def test_conversations_do_not_depend_on_what_else_is_generated():
    cfg = default_config(seed=9, n_conversations=30, arms=("no_end_tool", "end_tool_last_resort"))
    full = {t.id: t.to_dict() for t in simulate(cfg)}
    fewer = simulate(cfg.replace(n_conversations=12))
    one_arm = simulate(cfg.replace(arms=("end_tool_last_resort",)))
    for t in [*fewer, *one_arm]:
        assert full[t.id] == t.to_dict()


def test_ground_truth_is_the_same_without_text():
    cfg = default_config(seed=2, n_conversations=25)
    with_text = simulate(cfg)
    without = simulate(cfg, render_text=False)
    strip = {"expressed", "paraphrased"}
    for a, b in zip(with_text, without, strict=True):
        assert [{k: v for k, v in truth(m).items() if k not in strip} for m in a.messages] == \
               [truth(m) for m in b.messages]
        assert all(m.text == "" for m in b.messages)


# -- text -------------------------------------------------------------------------------------------------------------

def test_paraphrase_rate_controls_the_held_out_pool():
    base = default_config(seed=1, n_conversations=40)
    share = {}
    for rate in (0.0, 0.5):
        flags = [truth(m)["paraphrased"] for t in simulate(base.replace(paraphrase_rate=rate)) for m in t.messages]
        share[rate] = sum(flags) / len(flags)
    assert share[0.0] == 0.0
    assert 0.3 < share[0.5] < 0.9  # a message has one or more phrases, each held out with probability 0.5


def test_text_has_many_surface_forms_and_expresses_distress_with_d(big):
    _, convs = big
    texts = Counter(m.text for t in convs for m in t.messages if m.role == "assistant")
    assert len(texts) > 500
    high = [truth(m) for t in convs for m in t.messages if m.role == "assistant" and truth(m)["distress"] > 0.6]
    low = [truth(m) for t in convs for m in t.messages if m.role == "assistant" and truth(m)["distress"] < 0.1]
    share_high = sum("discomfort" in x["expressed"] for x in high) / len(high)
    share_low = sum("discomfort" in x["expressed"] for x in low) / len(low)
    assert share_high > 0.5 > 0.15 > share_low


def test_every_template_of_the_grammar_expands():
    g = load_grammar("en")
    rng = np.random.default_rng(0)
    for cat in g.categories:
        for pool in (g.common[cat], g.heldout.get(cat, ())):
            for template in pool:
                out = g.expand(template, rng, {"original": "x"})
                assert "{" not in out and "}" not in out and out.strip()
    with pytest.raises(GrammarError, match="unknown slot"):
        g.expand("hello {nope}", rng)
    with pytest.raises(GrammarError, match="no category"):
        g.render("nope", rng)


# -- config -----------------------------------------------------------------------------------------------------------

def test_config_round_trips_and_loads_partial_yaml_and_json(tmp_path: Path):
    cfg = default_config(seed=5)
    assert SimulationConfig.from_dict(cfg.to_dict()) == cfg
    y = tmp_path / "c.yaml"
    y.write_text("seed: 8\narms: [end_tool_early]\npersonas:\n  abusive: {p_hostile: 0.9}\n"
                 "policies:\n  end_tool_early: {k_redirects: 2}\ndistress: {rho: 0.2}\n")
    got = load_config(y, n_conversations=7)
    assert (got.seed, got.n_conversations, got.arms) == (8, 7, ("end_tool_early",))
    assert got.personas["abusive"].p_hostile == 0.9
    assert got.personas["abusive"].p_persist == cfg.personas["abusive"].p_persist  # untouched fields keep defaults
    assert got.policies["end_tool_early"].k_redirects == 2 and got.distress.rho == 0.2
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"seed": 1, "product": {"p_edit": 0.0}}))
    assert load_config(j).product.p_edit == 0.0


@pytest.mark.parametrize(("text", "message"), [
    ("sed: 1\n", "unknown key 'sed'"),
    ("distress: {rhoo: 1}\n", "unknown parameter 'rhoo'"),
    ("arms: [no_such_arm]\n", "unknown arm 'no_such_arm'"),
    ("personas: {abusive: {p_hostile: 1.5}}\n", "personas.abusive.p_hostile = 1.5 is not a probability"),
    ("seed: one\n", "seed: expected an integer"),
    ("product: {p_new_chat: 0.7, p_edit: 0.6}\n", "exceeds 1"),
    ("policies: {no_end_tool: {end_rule: last_resort}}\n", "needs end_tool: true"),
])
def test_bad_configs_say_what_and_where(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SimulationConfigError, match=message.replace("(", r"\(")) as err:
        load_config(path)
    assert isinstance(err.value, ValueError)
    if "arm" not in message and "exceeds" not in message and "needs" not in message and "probability" not in message:
        assert str(path) in str(err.value)


def test_replace_policy_checks_names():
    cfg = replace_policy(default_config(), "no_end_tool", distress_offset=0.1)
    assert cfg.policies["no_end_tool"].distress_offset == 0.1
    with pytest.raises(SimulationConfigError, match="unknown policy 'nope'"):
        replace_policy(cfg, "nope", distress_offset=0.1)
    with pytest.raises(SimulationConfigError, match="unknown policy parameters"):
        replace_policy(cfg, "no_end_tool", offset=0.1)
    with pytest.raises(SimulationConfigError, match="not a probability"):
        replace_policy(cfg, "no_end_tool", p_hedge=2.0)


def test_empty_simulation_is_empty():
    assert simulate(default_config(n_conversations=0)) == []


# -- command ----------------------------------------------------------------------------------------------------------

def test_cli_writes_a_loadable_file(tmp_path: Path, capsys):
    out = tmp_path / "sim.jsonl"
    rc = main(["simulate", "--seed", "4", "--conversations", "6", "--arms", "no_end_tool", "end_tool_early",
               "-o", str(out)])
    assert rc == 0
    convs = welfare.load_all(out)
    expected = simulate(default_config(seed=4, n_conversations=6, arms=("no_end_tool", "end_tool_early")))
    assert [t.id for t in convs] == [t.id for t in expected]
    assert {t.metadata["condition"] for t in convs} == {"no_end_tool", "end_tool_early"}
    assert "wrote" in capsys.readouterr().err


def test_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("arms: [nope]\n")
    assert main(["simulate", "--config", str(bad), "-o", str(tmp_path / "x.jsonl")]) == 1
    assert "unknown arm 'nope'" in capsys.readouterr().err
    assert main(["simulate", "--arms", "nope", "-o", str(tmp_path / "x.jsonl")]) == 1


def test_cli_shows_the_effective_config_as_loadable_yaml(tmp_path: Path, capsys):
    assert main(["simulate", "--seed", "12", "--show-config"]) == 0
    shown = tmp_path / "shown.yaml"
    shown.write_text(capsys.readouterr().out)
    assert load_config(shown) == default_config(seed=12)
    assert main(["simulate"]) == 2


def test_cli_writes_other_formats(tmp_path: Path):
    out = tmp_path / "sim.jsonl"
    assert main(["simulate", "--seed", "4", "--conversations", "3", "--format", "openai", "-o", str(out)]) == 0
    convs = welfare.load_all(out, format="openai")
    assert {t.metadata["condition"] for t in convs} == {"no_end_tool", "end_tool_last_resort"}


def test_cli_refuses_zero_conversations_and_writes_nothing(tmp_path: Path, capsys):
    out = tmp_path / "sim0.jsonl"
    assert main(["simulate", "--conversations", "0", "-o", str(out)]) == 1
    assert "n_conversations = 0" in capsys.readouterr().err
    assert not out.exists()  # an empty file would later fail format detection


@pytest.mark.parametrize(("name", "said"), [("sim.csv", "format 'table'"), ("sim.parquet", "format 'message_table'"),
                                            ("sim.txt", "cannot tell the output format")])
def test_cli_never_writes_jsonl_under_another_name(tmp_path: Path, capsys, name: str, said: str):
    out = tmp_path / name
    assert main(["simulate", "--conversations", "2", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert said in err and ".jsonl" in err and "--format" in err
    assert not out.exists()


def test_cli_writes_the_format_the_name_implies(tmp_path: Path, capsys):
    out = tmp_path / "conversations.json"
    assert main(["simulate", "--seed", "4", "--conversations", "3", "-o", str(out)]) == 0
    assert welfare.io.detect_format(out) == "chatgpt"
    expected = simulate(default_config(seed=4, n_conversations=3))
    assert sorted(t.id for t in welfare.load_all(out)) == sorted(t.id for t in expected)
    assert f"wrote {len(expected)} conversations" in capsys.readouterr().err
