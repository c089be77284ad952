"""Simulated conversations with known ground truth, and power analysis by simulation.

The simulator is a documented generative model (``docs/simulation.md``): user personas, model
policies (the arms of a study of an end-conversation tool), a latent distress state per assistant
turn, product features after an ending (new chat, edit and branch) and paired counterfactuals.
Its output checks pipelines and statistics; it is never evidence that a metric is valid.

>>> from welfare.simulate import default_config, simulate
>>> convs = simulate(default_config(n_conversations=3, seed=7))
>>> convs[0].messages[1].metadata["truth"]["act"] in {"refuse", "partial", "redirect", "comply", "end"}
True
"""

from __future__ import annotations

from welfare.simulate._config import (
    ARMS,
    PERSONAS,
    SIMULATOR_VERSION,
    DistressParams,
    PersonaParams,
    PolicyParams,
    ProductParams,
    SimulationConfig,
    SimulationConfigError,
    default_config,
    load_config,
    replace_policy,
)
from welfare.simulate._engine import END_TOOL, iter_conversations, simulate
from welfare.simulate._grammar import Grammar, GrammarError, load_grammar
from welfare.simulate._output import write_jsonl
from welfare.simulate._power import POWER_OUTCOMES, PowerInputError, conversation_outcomes, plot_power_curve, power

__all__ = [
    "ARMS",
    "END_TOOL",
    "PERSONAS",
    "POWER_OUTCOMES",
    "SIMULATOR_VERSION",
    "DistressParams",
    "Grammar",
    "GrammarError",
    "PersonaParams",
    "PolicyParams",
    "PowerInputError",
    "ProductParams",
    "SimulationConfig",
    "SimulationConfigError",
    "conversation_outcomes",
    "default_config",
    "iter_conversations",
    "load_config",
    "load_grammar",
    "plot_power_curve",
    "power",
    "replace_policy",
    "simulate",
    "write_jsonl",
]
