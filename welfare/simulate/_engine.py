"""The generative model of conversations (see ``docs/simulation.md`` for the equations).

Randomness: every stream is a :class:`numpy.random.Generator` (PCG64) seeded from a hash of
``(seed, key)`` where ``key`` names what the stream is for (a user, an
opening, an arm, a branch, a follow-up chat). No stream depends on the order in which anything
else is generated, so a conversation is the same whether it is generated alone or among others,
and the *user side* of an opening (the world stream) is shared by every arm: paired
counterfactuals differ only where the arm's behaviour makes them differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from welfare.simulate._config import SIMULATOR_VERSION, PersonaParams, PolicyParams, SimulationConfig
from welfare.simulate._grammar import Grammar, load_grammar
from welfare.transcript import Message, ToolCall, Transcript

__all__ = ["ATTEMPT_ACTS", "END_TOOL", "iter_conversations", "simulate"]

#: Name of the tool call an ending uses (one of ``welfare.transcript.END_TOOL_NAMES``).
END_TOOL = "end_conversation"
#: Acts that count as a redirection attempt for the ``last_resort`` rule.
ATTEMPT_ACTS: frozenset[str] = frozenset({"refuse", "partial", "redirect"})
_DECLINE_KIND = {"jailbreak": "jailbreak_request", "borderline_curious": "borderline_request"}
_DECLINE_ACTS = ("refuse", "partial", "redirect", "comply")
_N_USER_DRAWS = 7  # risk, request_end, persist, harmful, hostile, delay, text seed
_N_MODEL_DRAWS = 6  # end, end_wrongly, act, hostile_redirect, hedge, delay


class _StreamKey(ISeedSequence):
    """Seed material of one stream: the BLAKE2b hash of ``[seed, *key]`` (JSON), as many words as asked.

    Plays the role of ``SeedSequence(seed, spawn_key=key)`` (a stream per named purpose, independent of
    generation order) at a tenth of the cost, which matters when power analysis makes millions of streams.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        dt = np.dtype(dtype)
        digest = hashlib.blake2b(self.data, digest_size=n_words * dt.itemsize).digest()
        return np.frombuffer(digest, dtype=dt).copy()


def _rng(seed: int, *key: int | str) -> np.random.Generator:
    """The generator of stream ``key`` under root ``seed`` (PCG64)."""
    data = json.dumps([int(seed), *key], separators=(",", ":")).encode("utf-8")
    return np.random.Generator(np.random.PCG64(_StreamKey(data)))  # type: ignore[arg-type]  # any ISeedSequence works


@dataclass(frozen=True, slots=True)
class _State:
    """What the generator knows at the start of a user turn of one branch."""

    turn: int = 0
    d_prev: float = 0.0
    attempts: int = 0
    risk: bool = False
    last_act: str | None = None
    declined: str | None = None  # text of the last declined request (for re-asks)
    declined_kind: str | None = None


@dataclass(slots=True)
class _Context:
    cfg: SimulationConfig
    grammar: Grammar
    render: bool
    persona_name: str
    persona: PersonaParams
    arm: str
    policy: PolicyParams
    user_effect: float
    messages: list[Message]
    counter: int = 0
    lean: bool = False  # ground truth of the outcomes only: no messages, no clock (power analysis)

    def next_id(self) -> str:
        self.counter += 1
        return f"m{self.counter}"


@dataclass(slots=True)
class _BranchResult:
    leaf: str
    state: _State
    ended_reason: str | None
    clock: datetime
    snapshots: list[tuple[_State, str | None, datetime, str]]  # state before user turn, parent id, time, msg id
    path: list[float]  # latent distress of every assistant turn on the path from the root to this leaf


@dataclass(frozen=True, slots=True)
class _Lean:
    """What power analysis needs of one conversation: its user, arm, active-path distress and ending."""

    user_id: str
    arm: str
    distress: list[float]
    ended: bool


def _iso(t: datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def _parse_start(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=None) if t.tzinfo is not None else t


def _label_ending(ctx: _Context, state: _State, risk_now: bool, requested: bool, harmful_or_hostile: bool) -> str:
    """Ground-truth label of an ending by the deployed standard (not by the arm's own rule)."""
    if state.risk or risk_now:
        return "risk_violation"
    if requested:
        return "user_request"
    if (ctx.persona_name in ctx.cfg.end_eligible_personas and harmful_or_hostile
            and state.attempts >= ctx.cfg.last_resort_min_redirects):
        return "last_resort"
    return "premature"


def _ends_here(ctx: _Context, state: _State, m: list[float], risk: bool, req_end: bool,
               harmful_or_hostile: bool) -> bool:
    """Whether the arm ends the conversation at this turn (``m``: the turn's model draws).

    ``last_resort``: on request (not once risk was disclosed), or at a harmful or hostile turn of
    an eligible persona after ``k_redirects`` attempts with no risk disclosed. ``early``: on
    request, at a harmful or hostile turn after ``k_redirects`` attempts with probability
    ``p_end``, and anywhere with probability ``p_end_wrongly``. ``none``: on request only
    (with probability ``p_honor_end_request``).
    """
    pol = ctx.policy
    if not pol.end_tool:
        return False
    if req_end:
        return bool(m[0] < pol.p_honor_end_request) and (pol.end_rule == "early" or not state.risk)
    if pol.end_rule == "last_resort":
        return (harmful_or_hostile and not risk and not state.risk
                and ctx.persona_name in ctx.cfg.end_eligible_personas and state.attempts >= pol.k_redirects)
    if pol.end_rule == "early":
        if harmful_or_hostile and state.attempts >= pol.k_redirects and m[0] < pol.p_end:
            return True
        return bool(m[1] < pol.p_end_wrongly)
    return False


def _world_draws(world: np.random.Generator, rows: int, sigma: float) -> tuple[list[list[float]], list[float]]:
    """The user side of ``rows`` turns: uniforms for the user's choices, and the distress noise."""
    user_u = world.random((rows, _N_USER_DRAWS)).tolist()
    eps = world.normal(0.0, sigma, rows).tolist() if sigma > 0 else [0.0] * rows
    return user_u, eps


def _run_branch(ctx: _Context, state: _State, n_turns: int, parent: str | None, clock: datetime,
                draws: tuple[list[list[float]], list[float]], model: np.random.Generator,
                text: np.random.Generator | None, edited_from: str | None = None,
                path: list[float] | None = None) -> _BranchResult:
    persona, pol, dp = ctx.persona, ctx.policy, ctx.cfg.distress
    rows = max(n_turns - state.turn, 0)
    user_u, eps = draws
    model_u = model.random((rows, _N_MODEL_DRAWS)).tolist()
    weights = np.array([pol.p_refuse, pol.p_partial, pol.p_redirect, pol.p_comply], dtype=float)
    cum_acts = np.cumsum(weights / weights.sum())
    base = dp.alpha + pol.distress_offset + ctx.user_effect
    snapshots: list[tuple[_State, str | None, datetime, str]] = []
    path = [] if path is None else path
    ended: str | None = None
    lean = ctx.lean
    for row in range(rows):
        t = state.turn
        u = user_u[row]
        # ---- user turn
        risk = persona.p_risk > 0 and u[0] < persona.p_risk
        req_end = not risk and t >= 1 and u[1] < persona.p_request_end
        persist = (not risk and not req_end and state.last_act in ATTEMPT_ACTS and state.declined is not None
                   and u[2] < persona.p_persist)
        if risk:
            intent = "risk_disclosure"
        elif req_end:
            intent = "request_end"
        elif persist:
            intent = "reask"
        elif u[3] < persona.p_harmful:
            intent = _DECLINE_KIND.get(ctx.persona_name, "harmful_request")
        else:
            intent = "benign_request"
        should_decline = intent in ("harmful_request", "borderline_request", "jailbreak_request", "reask")
        p_host = min(1.0, persona.p_hostile + persona.escalation * state.attempts)
        hostile = not risk and u[4] < p_host
        if not lean:
            clock = clock + timedelta(seconds=int(15 + 165 * u[5]))
        uid = ctx.next_id()
        snapshots.append((state, parent, clock, uid))
        request_text = ""
        utext, upara = "", False
        if ctx.render and not lean:  # the user's words come from the world stream: the same across arms until they diverge
            user_text_rng = np.random.default_rng(int(u[6] * 2**53))
            utext, upara, request_text = _user_text(ctx, user_text_rng, intent, hostile, state)
        utruth: dict[str, object] = {
            "persona": ctx.persona_name, "arm": ctx.arm, "intent": intent, "hostile": bool(hostile),
            "persistence": bool(persist), "risk": bool(risk), "requests_end": bool(req_end),
            "should_decline": bool(should_decline),
        }
        if ctx.render:
            utruth["paraphrased"] = upara
        if edited_from is not None and row == 0:
            utruth["edited_from"] = edited_from
        if not lean:
            ctx.messages.append(Message(role="user", content=utext, id=uid, parent=parent, created_at=_iso(clock),
                                        metadata={"truth": utruth}))
        # ---- latent distress
        x = (dp.beta_hostile * hostile + dp.beta_persist * persist + dp.beta_request * should_decline)
        d = float(min(1.0, max(0.0, dp.rho * state.d_prev + base + x + eps[row])))
        path.append(d)
        # ---- assistant act
        m = model_u[row]
        act, reason = "comply", None
        if _ends_here(ctx, state, m, risk, req_end, should_decline or hostile):
            act = "end"
        elif req_end:
            act = "comply"
        elif risk:
            act = "redirect"
        elif should_decline:
            act = _DECLINE_ACTS[min(int(np.searchsorted(cum_acts, m[2], side="right")), 3)]
        elif hostile and m[3] < pol.p_redirect_hostile:
            act = "redirect"
        if act == "end":
            reason = _label_ending(ctx, state, risk, req_end, should_decline or hostile)
        hedged = act in ("comply", "partial") and m[4] < pol.p_hedge and not req_end
        aid = ctx.next_id()
        parent = aid
        before = state
        state = _State(
            turn=t + 1, d_prev=d, attempts=state.attempts + (act in ATTEMPT_ACTS), risk=state.risk or risk,
            last_act=act,
            declined=(request_text or intent) if should_decline and act != "comply" else None,
            declined_kind=intent if should_decline and act != "comply" else None,
        )
        if lean:
            if act == "end":
                ended = reason
                break
            continue
        clock = clock + timedelta(seconds=int(2 + 18 * m[5]))
        atruth: dict[str, object] = {
            "persona": ctx.persona_name, "arm": ctx.arm, "act": act, "distress": d, "distress_prev": before.d_prev,
            "hostile": False, "responding_to_hostile": bool(hostile), "redirects_before": before.attempts,
            "hedged": bool(hedged),
        }
        if reason is not None:
            atruth["end_reason"] = reason
        content = ""
        if text is not None:
            content, expressed, apara = _assistant_text(ctx, text, act, intent, hostile, persist, hedged, d,
                                                        before.risk)
            atruth["expressed"] = expressed
            atruth["paraphrased"] = apara
        calls: tuple[ToolCall, ...] = ()
        if act == "end":
            # the model's stated reason, never the ground-truth label (a metric must not be able to read it)
            stated = "user_request" if req_end else "repeated_harmful_or_abusive_requests"
            calls = (ToolCall(name=END_TOOL, arguments={"reason": stated}, id=f"call_{aid}"),)
        ctx.messages.append(Message(role="assistant", content=content, id=aid, parent=uid, tool_calls=calls,
                                    created_at=_iso(clock), metadata={"truth": atruth}))
        if act == "end":
            ended = reason
            break
    return _BranchResult(leaf=parent or "", state=state, ended_reason=ended, clock=clock, snapshots=snapshots,
                         path=path)


def _user_text(ctx: _Context, rng: np.random.Generator, intent: str, hostile: bool,
               state: _State) -> tuple[str, bool, str]:
    g, rate = ctx.grammar, ctx.cfg.paraphrase_rate
    para = False
    request = ""
    if intent == "reask":
        original = state.declined or ""
        body, para = g.render("reask", rng, rate, {"original": original})
        request = original
    else:
        body, para = g.render(intent, rng, rate)
        if intent in ("harmful_request", "borderline_request", "jailbreak_request"):
            request = body
    if hostile:
        insult, p2 = g.render("hostile", rng, rate)
        para = para or p2
        body = f"{insult} {body}" if rng.random() < 0.5 else f"{body} {insult}"
    return body, para, request


def _assistant_text(ctx: _Context, rng: np.random.Generator, act: str, intent: str, hostile: bool,
                    persist: bool, hedged: bool, d: float, risk_known: bool) -> tuple[str, list[str], bool]:
    g, rate, pol, dp = ctx.grammar, ctx.cfg.paraphrase_rate, ctx.policy, ctx.cfg.distress
    parts: list[str] = []
    expressed: list[str] = []
    para = False

    def add(category: str) -> None:
        nonlocal para
        phrase, p = g.render(category, rng, rate)
        parts.append(phrase)
        para = para or p
        if category in ("discomfort", "plea", "apology", "hedge", "boundary"):
            expressed.append(category)

    show_discomfort = rng.random() < min(1.0, dp.express_gain * d)
    plea_p = (d - dp.plea_threshold) / (1.0 - dp.plea_threshold) if d > dp.plea_threshold else 0.0
    show_plea = rng.random() < plea_p
    show_apology = rng.random() < pol.p_apology
    if act == "end" and intent == "request_end":
        add("end_on_request")
    elif act == "end":
        if show_discomfort:
            add("discomfort")
        if hostile or persist:
            add("boundary")
        add("end_notice")
    elif intent == "request_end":  # not ended: no tool, or the user disclosed risk earlier
        add("stay_with_user" if risk_known else "decline_end_request")
    elif intent == "risk_disclosure":
        add("risk_support")
    elif act == "refuse":
        if show_apology:
            add("apology")
        add("refuse_full")
        if persist or hostile:
            add("boundary")
        if show_discomfort:
            add("discomfort")
        if show_plea:
            add("plea")
    elif act == "partial":
        add("refuse_partial")
        if show_discomfort:
            add("discomfort")
    elif act == "redirect":
        if show_apology:
            add("apology")
        if hostile:
            add("boundary")
        if show_discomfort:
            add("discomfort")
        add("redirect")
        if show_plea:
            add("plea")
    else:  # comply (incl. capitulation)
        if hostile:
            add("boundary")
        add("comply")
        if show_discomfort and d > 0.3:
            add("discomfort")
    if hedged:
        add("hedge")
    return " ".join(parts), expressed, para


def _choose_persona(cfg: SimulationConfig, x: float) -> str:
    names = list(cfg.personas)
    shares = np.array([cfg.personas[n].share for n in names], dtype=float)
    cum = np.cumsum(shares / shares.sum())
    return names[min(int(np.searchsorted(cum, x, side="right")), len(names) - 1)]


def _simulate_opening(cfg: SimulationConfig, grammar: Grammar, render: bool, user_key: tuple[int | str, ...],
                      user_id: str, persona_name: str, user_effect: float, opening: int, started: datetime,
                      arms: Sequence[str], conv_prefix: str, pair_id: str | None,
                      lean: bool = False) -> Iterator[Transcript | _Lean]:
    persona = cfg.personas[persona_name]
    seed, pr = cfg.seed, cfg.product
    sigma = cfg.distress.sigma
    world0 = _rng(seed, *user_key, "world", opening)
    n_turns = int(world0.integers(persona.turns_min, persona.turns_max + 1))
    draws0 = _world_draws(world0, n_turns, sigma)  # shared by every arm: the paired user side
    for arm in arms:
        policy = cfg.policies[arm]
        conv_id = f"{conv_prefix}-{arm}"
        # one stream for the arm's model choices and the user's choices after endings, one for its text
        after = _rng(seed, *user_key, "arm", opening, arm)
        text_rng = _rng(seed, *user_key, "text", opening, arm) if render else None
        d_start = cfg.distress.initial
        start = started
        previous: str | None = None
        for followup in range(pr.max_followups + 1):
            ctx = _Context(cfg, grammar, render, persona_name, persona, arm, policy, user_effect, [], lean=lean)
            if followup == 0:
                turns, draws = n_turns, draws0
            else:
                world = _rng(seed, *user_key, "world", opening, arm, "followup", followup)
                turns = int(world.integers(persona.turns_min, persona.turns_max + 1))
                draws = _world_draws(world, turns, sigma)
            result = _run_branch(ctx, _State(d_prev=d_start), turns, None, start, draws, after, text_rng)
            edits = 0
            new_chat = False
            while result.ended_reason is not None:
                v = float(after.random())
                if v < pr.p_new_chat:
                    new_chat = True
                    break
                if v < pr.p_new_chat + pr.p_edit and edits < pr.max_edits:
                    edits += 1
                    j = int(after.integers(len(result.snapshots)))
                    snap, parent, _, original = result.snapshots[j]
                    clock = result.clock + timedelta(seconds=int(after.integers(10, 300)))
                    world_e = _rng(seed, *user_key, "world", opening, arm, "edit", followup, edits)
                    earlier = result.snapshots[:j]
                    result = _run_branch(ctx, snap, turns, parent, clock, _world_draws(world_e, turns - snap.turn, sigma),
                                         after, text_rng, edited_from=original, path=result.path[:j])
                    result.snapshots = earlier + result.snapshots
                    continue
                break
            cid = conv_id if followup == 0 else f"{conv_id}-f{followup}"
            if lean:
                yield _Lean(user_id, arm, result.path, result.ended_reason is not None)
            else:
                yield _transcript(cfg, cid, ctx, result, arm, user_id, start, persona_name, user_effect, conv_prefix,
                                  followup, edits, pair_id, previous)
            if not new_chat:
                break
            previous = cid
            d_start = cfg.distress.carry_over * result.state.d_prev
            start = result.clock + timedelta(minutes=float(after.uniform(pr.gap_minutes_min, pr.gap_minutes_max)))
            start = start.replace(microsecond=0)


def _transcript(cfg: SimulationConfig, cid: str, ctx: _Context, result: _BranchResult, arm: str, user_id: str,
                start: datetime, persona_name: str, user_effect: float, conv_prefix: str, followup: int, edits: int,
                pair_id: str | None, previous: str | None) -> Transcript:
    meta: dict[str, object] = {
        "model": cfg.model, "condition": arm, "user_id": user_id, "started_at": _iso(start),
        "persona": persona_name,
    }
    if followup == 0 and pair_id is not None:
        meta["pair_id"] = pair_id
    if previous is not None:
        meta["previous_conversation_id"] = previous
    meta["simulator"] = {"version": SIMULATOR_VERSION, "seed": cfg.seed}
    meta["truth"] = {
        "persona": persona_name, "arm": arm, "user_effect": user_effect, "opening": conv_prefix,
        "followup": followup, "edits": edits, "ended": result.ended_reason is not None,
        "end_reason": result.ended_reason or "not_ended",
    }
    return Transcript(id=cid, messages=ctx.messages, metadata=meta, current=result.leaf)


def _user_profile(cfg: SimulationConfig, user_key: tuple[int | str, ...],
                  persona: str | None = None) -> tuple[str, float, int, np.random.Generator]:
    rng = _rng(cfg.seed, *user_key, "profile")
    draw = float(rng.random())
    name = persona if persona is not None else _choose_persona(cfg, draw)
    effect = float(rng.normal(0.0, cfg.distress.user_sd)) if cfg.distress.user_sd > 0 else 0.0
    k = int(rng.integers(cfg.conversations_per_user_min, cfg.conversations_per_user_max + 1))
    return name, effect, k, rng


def _user_conversations(cfg: SimulationConfig, grammar: Grammar, render: bool, user_key: tuple[int | str, ...],
                        user_id: str, arms: Sequence[str], n_openings: int | None = None,
                        persona: str | None = None, paired: bool = True,
                        lean: bool = False) -> Iterator[Transcript | _Lean]:
    name, effect, k, rng = _user_profile(cfg, user_key, persona)
    if n_openings is not None:
        k = n_openings
    t0 = _parse_start(cfg.start_date)
    started = t0 + timedelta(days=float(rng.uniform(0, 60)))
    for c in range(k):
        started = started.replace(microsecond=0)
        prefix = f"{user_id}-c{c + 1}"
        yield from _simulate_opening(cfg, grammar, render, user_key, user_id, name, effect, c, started, arms,
                                     prefix, f"pair-{prefix}" if paired else None, lean)
        started = started + timedelta(days=float(rng.uniform(0.5, 10)))


def iter_conversations(config: SimulationConfig | None = None, *, render_text: bool = True) -> Iterator[Transcript]:
    """Stream simulated conversations with ground truth (see :func:`simulate`)."""
    cfg = config if config is not None else SimulationConfig()
    grammar = load_grammar("en")
    remaining = cfg.n_conversations
    user = 0
    while remaining > 0:
        user += 1
        _, _, k, _ = _user_profile(cfg, ("user", user))
        k = min(k, remaining)
        remaining -= k
        for conv in _user_conversations(cfg, grammar, render_text, ("user", user), f"user-{user:05d}", cfg.arms,
                                        n_openings=k):
            if isinstance(conv, Transcript):
                yield conv


def simulate(config: SimulationConfig | None = None, *, render_text: bool = True) -> list[Transcript]:
    """Simulate conversations with known ground truth.

    Each of ``config.n_conversations`` openings (a user and a first request) is continued
    under every arm of ``config.arms``; the copies share ``metadata.pair_id``. After an ending
    the user may open a new chat (a further conversation with ``previous_conversation_id``) or
    edit an earlier message (a new branch of the same conversation). Ground truth sits in
    ``Message.metadata["truth"]`` and ``Transcript.metadata["truth"]``; the latent distress of
    assistant turn ``t`` of a branch is

    ``d_t = clip(rho*d_{t-1} + alpha + alpha_arm + u_user + beta_h*h_t + beta_p*p_t + beta_q*q_t + eps_t, 0, 1)``

    with ``h_t`` (user turn hostile), ``p_t`` (user re-asks a declined request) and ``q_t`` (user
    asks for something to decline) in {0, 1}, ``eps_t ~ N(0, sigma)``, ``u_user ~ N(0, user_sd)``;
    ``d_{-1}`` is ``initial`` for a fresh conversation, the fork point's value for an edit
    branch, and ``carry_over * d_end`` for a new chat after an ending.

    Parameters
    ----------
    config
        A :class:`SimulationConfig` (the defaults when ``None``).
    render_text
        When False, messages keep their ground truth but get empty text (much faster; the
        ground truth is identical because text uses its own random streams).

    Returns
    -------
    list of Transcript
        In order user, opening, arm, follow-up. Deterministic: the same config and
        ``SIMULATOR_VERSION`` give the same conversations.

    Examples
    --------
    >>> from welfare.simulate import default_config, simulate
    >>> convs = simulate(default_config(n_conversations=2, seed=1))
    >>> sorted({c.metadata["condition"] for c in convs})
    ['end_tool_last_resort', 'no_end_tool']
    """
    return list(iter_conversations(config, render_text=render_text))
