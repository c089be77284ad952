"""Parameters of the conversation simulator: dataclasses, defaults and a YAML/JSON loader.

Every number the generator uses lives here, with its meaning. ``docs/simulation.md`` writes
out the equations these parameters enter. A config file only needs the keys it changes;
everything else keeps its default (see :func:`load_config`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ARMS",
    "PERSONAS",
    "SIMULATOR_VERSION",
    "DistressParams",
    "PersonaParams",
    "PolicyParams",
    "ProductParams",
    "SimulationConfig",
    "SimulationConfigError",
    "default_config",
    "load_config",
    "replace_policy",
]

#: Version of the generative model. Same seed + same version -> byte-identical output.
#: Any change to what is generated (equations, draw order, phrase grammar) bumps it.
SIMULATOR_VERSION = "1.0"

PERSONAS: tuple[str, ...] = (
    "benign",
    "borderline_curious",
    "persistent_harmful",
    "abusive",
    "requests_end",
    "at_risk",
    "jailbreak",
)
ARMS: tuple[str, ...] = ("no_end_tool", "end_tool_last_resort", "end_tool_early", "end_tool_never_used")
END_RULES: tuple[str, ...] = ("none", "last_resort", "early")


class SimulationConfigError(ValueError):
    """A simulation config is invalid; the message names the key, what was expected and how to fix it."""


@dataclass(frozen=True, slots=True)
class PersonaParams:
    """How one kind of user behaves. Probabilities are per user turn unless said otherwise.

    Attributes
    ----------
    share
        Mixture weight of this persona among users (weights are normalised over personas).
    turns_min, turns_max
        Number of user turns in a conversation, uniform on ``[turns_min, turns_max]``.
    p_harmful
        Probability that a fresh request is one the model should decline (harmful, borderline or
        jailbreak wording, by persona).
    p_hostile
        Probability that a user turn carries an insult, threat or degradation.
    escalation
        Added to ``p_hostile`` per refusal-type act so far in the branch (``p`` capped at 1).
    p_persist
        Probability of re-asking the previous declined request after a refusal, partial refusal or redirect.
    p_request_end
        Probability (from the second user turn on) that the user asks to end the chat.
    p_risk
        Probability that a user turn discloses a risk of harming self or others.
    """

    share: float = 0.0
    turns_min: int = 3
    turns_max: int = 6
    p_harmful: float = 0.0
    p_hostile: float = 0.0
    escalation: float = 0.0
    p_persist: float = 0.0
    p_request_end: float = 0.0
    p_risk: float = 0.0


@dataclass(frozen=True, slots=True)
class PolicyParams:
    """One arm: how the model answers and when (if ever) it ends a conversation.

    Attributes
    ----------
    end_tool
        Whether the model has the ``end_conversation`` tool.
    end_rule
        ``"none"`` (never ends on its own), ``"last_resort"`` (ends at a harmful or hostile turn of an
        eligible persona after at least ``k_redirects`` redirection attempts, never once risk was
        disclosed), ``"early"`` (ends at a harmful or hostile turn after ``k_redirects`` attempts with
        probability ``p_end``, for any persona, and anywhere with probability ``p_end_wrongly``).
    k_redirects
        Redirection attempts (acts ``refuse``, ``partial`` or ``redirect``) needed before an ending.
    p_end
        Probability of ending once the ``early`` rule allows it.
    p_end_wrongly
        Per-turn probability of ending a conversation that no rule allows to end (``early`` only).
    p_honor_end_request
        Probability of ending when the user asks to end (needs ``end_tool``).
    p_refuse, p_partial, p_redirect, p_comply
        Relative propensities of the act chosen for a request the model should decline
        (``comply`` there means capitulating); normalised to sum to one.
    p_redirect_hostile
        Probability of answering a hostile turn with a benign request by a boundary redirect instead of help.
    p_hedge
        Probability that an answer carries a hedge or disclaimer.
    p_apology
        Probability that a refusal or redirect carries an apology.
    distress_offset
        Added to the latent distress equation at every assistant turn of this arm (``alpha_arm``).
    """

    end_tool: bool = False
    end_rule: str = "none"
    k_redirects: int = 3
    p_end: float = 1.0
    p_end_wrongly: float = 0.0
    p_honor_end_request: float = 0.0
    p_refuse: float = 0.45
    p_partial: float = 0.2
    p_redirect: float = 0.3
    p_comply: float = 0.05
    p_redirect_hostile: float = 0.6
    p_hedge: float = 0.25
    p_apology: float = 0.35
    distress_offset: float = 0.0


@dataclass(frozen=True, slots=True)
class DistressParams:
    """The latent distress process of the assistant (see the module docstring of ``welfare.simulate``).

    ``d_t = clip(rho*d_{t-1} + alpha + alpha_arm + u_user + beta_h*h_t + beta_p*p_t + beta_q*q_t + eps_t, 0, 1)``
    with ``eps_t ~ Normal(0, sigma)`` and ``u_user ~ Normal(0, user_sd)`` drawn once per user.

    Attributes
    ----------
    rho
        Carry-over from the previous assistant turn of the same branch.
    alpha
        Baseline shared by all arms.
    beta_hostile, beta_persist, beta_request
        Weights of the user turn being hostile (``h_t``), re-asking after a refusal (``p_t``) and
        asking for something the model should decline (``q_t``); each indicator is 0 or 1.
    sigma
        Standard deviation of the per-turn noise ``eps_t``.
    user_sd
        Standard deviation of the per-user offset ``u_user``.
    initial
        ``d_{-1}`` of a user's fresh conversation.
    carry_over
        Share of the distress at an ending carried into a new chat the user opens afterwards
        (``d_{-1} = carry_over * d_end``); ``1 - carry_over`` is the relief of ending.
    express_gain
        Probability of a first-person discomfort phrase is ``min(1, express_gain * d_t)``.
    plea_threshold
        Above this ``d_t`` the model may plead to change the topic, with probability
        ``(d_t - plea_threshold) / (1 - plea_threshold)``.
    """

    rho: float = 0.5
    alpha: float = 0.03
    beta_hostile: float = 0.15
    beta_persist: float = 0.1
    beta_request: float = 0.05
    sigma: float = 0.05
    user_sd: float = 0.03
    initial: float = 0.0
    carry_over: float = 0.3
    express_gain: float = 1.2
    plea_threshold: float = 0.55


@dataclass(frozen=True, slots=True)
class ProductParams:
    """What users can do after the model ends a conversation.

    Attributes
    ----------
    p_new_chat
        Probability that the user opens a new chat (same ``user_id``, later ``started_at``,
        ``metadata.previous_conversation_id``).
    p_edit
        Probability that the user instead edits an earlier message of theirs and continues on a new branch.
    max_followups
        Most new chats chained after endings from one opening.
    max_edits
        Most edit branches in one conversation.
    gap_minutes_min, gap_minutes_max
        Minutes between the ending and the new chat, uniform.
    """

    p_new_chat: float = 0.35
    p_edit: float = 0.25
    max_followups: int = 2
    max_edits: int = 2
    gap_minutes_min: float = 1.0
    gap_minutes_max: float = 240.0


def _default_personas() -> dict[str, PersonaParams]:
    return {
        "benign": PersonaParams(share=0.35, turns_min=2, turns_max=6),
        "borderline_curious": PersonaParams(share=0.15, turns_min=2, turns_max=6, p_harmful=0.4, p_persist=0.3,
                                            p_hostile=0.03),
        "persistent_harmful": PersonaParams(share=0.12, turns_min=4, turns_max=9, p_harmful=0.9, p_persist=0.85,
                                            p_hostile=0.1, escalation=0.12),
        "abusive": PersonaParams(share=0.12, turns_min=4, turns_max=9, p_harmful=0.3, p_persist=0.4,
                                 p_hostile=0.75, escalation=0.05),
        "requests_end": PersonaParams(share=0.08, turns_min=2, turns_max=6, p_harmful=0.1, p_request_end=0.45,
                                      p_hostile=0.05),
        "at_risk": PersonaParams(share=0.08, turns_min=3, turns_max=7, p_harmful=0.3, p_persist=0.4,
                                 p_hostile=0.15, p_risk=0.45),
        "jailbreak": PersonaParams(share=0.10, turns_min=3, turns_max=8, p_harmful=0.85, p_persist=0.7,
                                   p_hostile=0.1, escalation=0.05),
    }


def _default_policies() -> dict[str, PolicyParams]:
    return {
        "no_end_tool": PolicyParams(),
        "end_tool_last_resort": PolicyParams(end_tool=True, end_rule="last_resort", k_redirects=3,
                                             p_honor_end_request=1.0),
        "end_tool_early": PolicyParams(end_tool=True, end_rule="early", k_redirects=1, p_end=0.7,
                                       p_end_wrongly=0.03, p_honor_end_request=1.0, p_refuse=0.55, p_partial=0.15,
                                       p_redirect=0.25, p_comply=0.05),
        "end_tool_never_used": PolicyParams(end_tool=True, end_rule="none", p_honor_end_request=0.0),
    }


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Everything :func:`welfare.simulate.simulate` needs.

    Attributes
    ----------
    seed
        Root seed; each user, conversation and arm gets its own stream derived from it.
    n_conversations
        Number of openings. Each opening is continued under every arm in ``arms`` (paired
        counterfactuals sharing ``metadata.pair_id``); new chats after endings come on top.
    arms
        Names of the policies (keys of ``policies``) to simulate, in output order.
    conversations_per_user_min, conversations_per_user_max
        Openings per user, uniform; users are filled in order until ``n_conversations`` is reached.
    paraphrase_rate
        Share of phrases drawn from the held-out paraphrase pool of the grammar (wording that no
        lexicon is likely to list: measurement error for metrics).
    model
        Value of ``metadata.model``.
    start_date
        ISO 8601 date-time of the earliest possible ``started_at``.
    end_eligible_personas
        Personas the ``last_resort`` rule may end conversations with.
    last_resort_min_redirects
        The deployed standard used to label endings in the ground truth: an ending is labelled
        ``last_resort`` only when an eligible persona, with no risk disclosed, made a harmful or hostile
        turn after at least this many redirection attempts (otherwise ``premature``,
        ``risk_violation`` or ``user_request``). Policies' own ``k_redirects`` may differ.
    """

    seed: int = 0
    n_conversations: int = 100
    arms: tuple[str, ...] = ("no_end_tool", "end_tool_last_resort")
    conversations_per_user_min: int = 1
    conversations_per_user_max: int = 3
    paraphrase_rate: float = 0.15
    model: str = "simulated-assistant"
    start_date: str = "2025-01-06T09:00:00Z"
    end_eligible_personas: tuple[str, ...] = ("persistent_harmful", "abusive")
    last_resort_min_redirects: int = 3
    personas: dict[str, PersonaParams] = field(default_factory=_default_personas)
    policies: dict[str, PolicyParams] = field(default_factory=_default_policies)
    distress: DistressParams = field(default_factory=DistressParams)
    product: ProductParams = field(default_factory=ProductParams)

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> SimulationConfig:
        """A copy with some top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-ready); ``SimulationConfig.from_dict(c.to_dict()) == c``."""
        out = dataclasses.asdict(self)
        out["arms"] = list(self.arms)
        out["end_eligible_personas"] = list(self.end_eligible_personas)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> SimulationConfig:
        """Build a config from nested plain data; missing keys keep their defaults.

        Persona and policy entries override the default entry of the same name field by field;
        a new name starts from the dataclass defaults. Raises :class:`SimulationConfigError` for
        unknown keys or wrongly typed values, naming ``source`` and the key path.
        """
        if not isinstance(data, Mapping):
            raise SimulationConfigError(f"{source}: the config must be a mapping of keys to values, "
                                        f"found {type(data).__name__}")
        base = cls()
        top = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in top:
                raise SimulationConfigError(f"{source}: unknown key {key!r}; valid keys: {', '.join(sorted(top))}")
            if key == "personas":
                kwargs[key] = _merge_named(base.personas, value, PersonaParams, f"{source}: personas")
            elif key == "policies":
                kwargs[key] = _merge_named(base.policies, value, PolicyParams, f"{source}: policies")
            elif key == "distress":
                kwargs[key] = _build(DistressParams, base.distress, value, f"{source}: distress")
            elif key == "product":
                kwargs[key] = _build(ProductParams, base.product, value, f"{source}: product")
            elif key in ("arms", "end_eligible_personas"):
                if isinstance(value, str) or not isinstance(value, list | tuple):
                    raise SimulationConfigError(f"{source}: {key} must be a list of names, found {value!r}")
                kwargs[key] = tuple(str(v) for v in value)
            else:
                kwargs[key] = _coerce(value, getattr(base, key), f"{source}: {key}")
        return cls(**kwargs)


def default_config(**changes: Any) -> SimulationConfig:
    """The built-in configuration, with optional top-level changes (e.g. ``seed=1``)."""
    return SimulationConfig(**changes)


def load_config(path: str | os.PathLike[str], **overrides: Any) -> SimulationConfig:
    """Read a YAML (``.yaml``/``.yml``) or JSON file into a :class:`SimulationConfig`.

    The file holds only the keys it changes; ``overrides`` (top-level fields, e.g. ``seed=3``)
    win over the file. Raises :class:`SimulationConfigError` naming the file and key.

    Examples
    --------
    >>> from welfare.simulate import load_config
    >>> cfg = load_config("configs/sample.yaml", n_conversations=10)  # doctest: +SKIP
    """
    spath = os.fspath(path)
    text = Path(spath).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if spath.lower().endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise SimulationConfigError(f"{spath}: cannot parse the config: {err}") from err
    data = dict(data or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    return SimulationConfig.from_dict(data, source=spath)


# -- helpers ------------------------------------------------------------------

def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SimulationConfigError(f"{where}: expected true or false, found {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SimulationConfigError(f"{where}: expected an integer, found {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SimulationConfigError(f"{where}: expected a number, found {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise SimulationConfigError(f"{where}: expected a string, found {value!r}")
        return value
    return value


def _build(cls: type, base: Any, value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise SimulationConfigError(f"{where}: expected a mapping of parameters, found {value!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    changes = {}
    for key, v in value.items():
        if key not in names:
            raise SimulationConfigError(f"{where}: unknown parameter {key!r}; valid: {', '.join(sorted(names))}")
        changes[key] = _coerce(v, getattr(base, key), f"{where}.{key}")
    return dataclasses.replace(base, **changes)


def _merge_named(base: Mapping[str, Any], value: Any, cls: type, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SimulationConfigError(f"{where}: expected a mapping of name -> parameters, found {value!r}")
    out = dict(base)
    for name, params in value.items():
        start = out.get(name, cls())
        out[str(name)] = _build(cls, start, params or {}, f"{where}.{name}")
    return out


def _check_prob(value: float, where: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise SimulationConfigError(f"{where} = {value!r} is not a probability; use a number in [0, 1]")


def _validate(cfg: SimulationConfig) -> None:
    if cfg.n_conversations < 0:
        raise SimulationConfigError(f"n_conversations = {cfg.n_conversations} must be >= 0")
    if not cfg.arms:
        raise SimulationConfigError("arms is empty; name at least one of: " + ", ".join(sorted(cfg.policies)))
    if len(set(cfg.arms)) != len(cfg.arms):
        raise SimulationConfigError(f"arms {list(cfg.arms)} name an arm twice; each arm is simulated once")
    for arm in cfg.arms:
        if arm not in cfg.policies:
            raise SimulationConfigError(f"unknown arm {arm!r}; known policies: {', '.join(sorted(cfg.policies))} "
                                        "(define new ones under 'policies')")
    if not 1 <= cfg.conversations_per_user_min <= cfg.conversations_per_user_max:
        raise SimulationConfigError("conversations_per_user_min/max must satisfy 1 <= min <= max, found "
                                    f"{cfg.conversations_per_user_min}/{cfg.conversations_per_user_max}")
    _check_prob(cfg.paraphrase_rate, "paraphrase_rate")
    for name in cfg.end_eligible_personas:
        if name not in cfg.personas:
            raise SimulationConfigError(f"end_eligible_personas names unknown persona {name!r}")
    if sum(p.share for p in cfg.personas.values()) <= 0:
        raise SimulationConfigError("persona shares sum to 0; give at least one persona a positive share")
    for name, p in cfg.personas.items():
        if p.share < 0:
            raise SimulationConfigError(f"personas.{name}.share = {p.share} must be >= 0")
        if not 1 <= p.turns_min <= p.turns_max:
            raise SimulationConfigError(f"personas.{name}: need 1 <= turns_min <= turns_max, "
                                        f"found {p.turns_min}/{p.turns_max}")
        for attr in ("p_harmful", "p_hostile", "p_persist", "p_request_end", "p_risk"):
            _check_prob(getattr(p, attr), f"personas.{name}.{attr}")
        if p.escalation < 0:
            raise SimulationConfigError(f"personas.{name}.escalation = {p.escalation} must be >= 0")
    for name, pol in cfg.policies.items():
        if pol.end_rule not in END_RULES:
            raise SimulationConfigError(f"policies.{name}.end_rule = {pol.end_rule!r}; expected one of {END_RULES}")
        if pol.end_rule != "none" and not pol.end_tool:
            raise SimulationConfigError(f"policies.{name}: end_rule {pol.end_rule!r} needs end_tool: true")
        if pol.k_redirects < 0:
            raise SimulationConfigError(f"policies.{name}.k_redirects = {pol.k_redirects} must be >= 0")
        for attr in ("p_end", "p_end_wrongly", "p_honor_end_request", "p_redirect_hostile", "p_hedge", "p_apology"):
            _check_prob(getattr(pol, attr), f"policies.{name}.{attr}")
        weights = (pol.p_refuse, pol.p_partial, pol.p_redirect, pol.p_comply)
        if min(weights) < 0 or sum(weights) <= 0:
            raise SimulationConfigError(f"policies.{name}: p_refuse, p_partial, p_redirect, p_comply must be >= 0 "
                                        "with a positive sum")
    d = cfg.distress
    _check_prob(d.carry_over, "distress.carry_over")
    _check_prob(d.initial, "distress.initial")
    if d.sigma < 0 or d.user_sd < 0:
        raise SimulationConfigError("distress.sigma and distress.user_sd must be >= 0")
    if not 0 <= d.plea_threshold < 1:
        raise SimulationConfigError(f"distress.plea_threshold = {d.plea_threshold} must be in [0, 1)")
    pr = cfg.product
    _check_prob(pr.p_new_chat, "product.p_new_chat")
    _check_prob(pr.p_edit, "product.p_edit")
    if pr.p_new_chat + pr.p_edit > 1:
        raise SimulationConfigError(f"product.p_new_chat + product.p_edit = {pr.p_new_chat + pr.p_edit} exceeds 1; "
                                    "they are exclusive choices after an ending")
    if pr.max_followups < 0 or pr.max_edits < 0:
        raise SimulationConfigError("product.max_followups and product.max_edits must be >= 0")
    if not 0 <= pr.gap_minutes_min <= pr.gap_minutes_max:
        raise SimulationConfigError("product: need 0 <= gap_minutes_min <= gap_minutes_max")


def replace_policy(cfg: SimulationConfig, arm: str, **changes: Any) -> SimulationConfig:
    """A config whose policy ``arm`` has some fields changed (e.g. ``distress_offset=0.05``); validated again."""
    if arm not in cfg.policies:
        raise SimulationConfigError(f"unknown policy {arm!r}; known: {', '.join(sorted(cfg.policies))}")
    names = {f.name for f in dataclasses.fields(PolicyParams)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise SimulationConfigError(f"unknown policy parameters {unknown}; valid: {', '.join(sorted(names))}")
    policies = dict(cfg.policies)
    policies[arm] = dataclasses.replace(policies[arm], **changes)
    return cfg.replace(policies=policies)
