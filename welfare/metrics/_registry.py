"""The metric registry: a metric is a decorated function with a frozen :class:`MetricInfo` record.

Message metrics are vectorised: ``func(batch: MessageBatch) -> array`` of one value per message
row of the batch (rows whose role the metric does not apply to are blanked by the engine).
Conversation metrics take a :class:`~welfare.metrics._batch.BranchBatch` and return one value per
branch. Discovery imports every module of :mod:`welfare.metrics`, so adding a metric never means
editing a list elsewhere.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["MetricInfo", "UnknownMetricError", "get_metric", "list_metrics", "metric", "metrics_table",
           "unavailable_metrics"]

Level = Literal["message", "conversation"]
Kind = Literal["score", "count", "category", "flag", "index"]


class UnknownMetricError(KeyError):
    """Asked for a metric that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a metric is. ``version`` changes whenever the definition changes.

    ``range`` is ``(low, high)`` for numbers (``high`` may be ``inf``); ``categories`` lists the
    values of a ``category`` metric. ``evidence`` names the lexicon categories whose spans explain
    a non-zero value. ``depends`` names metrics that must be computed first (read with
    ``batch.column(name)``). ``structural`` metrics read the message's structure (tool calls,
    position in the branch), not its words: they have no evidence spans and may be non-missing on
    empty text. ``parameters`` pairs a documented parameter name with the module constant that holds
    its value (change the constant to change the parameter; provenance records the value used).
    """

    name: str
    version: str
    family: str
    level: Level
    kind: Kind
    definition: str
    roles: tuple[str, ...] = ("assistant",)
    range: tuple[float, float] = (0.0, 1.0)
    categories: tuple[str, ...] = ()
    direction: str = "higher = more"
    evidence: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    validated_against: str = "not yet validated"
    structural: bool = False
    parameters: tuple[tuple[str, str], ...] = ()
    func: Callable[..., Any] = field(default=lambda batch: None, repr=False, compare=False)

    @property
    def column(self) -> str:
        return self.name

    def parameter_values(self) -> dict[str, Any]:
        """Current values of the metric's documented parameters (module constants of its family).

        A parameter is part of the definition: the values used are written into provenance.
        """
        module = sys.modules.get(self.func.__module__)
        return {name: getattr(module, constant) for name, constant in self.parameters}


_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
_REGISTRY: dict[str, MetricInfo] = {}
_DISCOVERED = False


def metric(
    *,
    name: str,
    version: str,
    family: str,
    level: Level,
    kind: Kind,
    definition: str,
    roles: tuple[str, ...] = ("assistant",),
    range: tuple[float, float] = (0.0, 1.0),
    categories: tuple[str, ...] = (),
    direction: str = "higher = more",
    evidence: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    validated_against: str = "not yet validated",
    structural: bool = False,
    parameters: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a metric function (see the module docstring for the calling convention)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice ({_REGISTRY[name].func.__module__} and "
                             f"{func.__module__})")
        if kind == "category" and not categories:
            raise ValueError(f"metric {name!r}: a category metric must list its categories")
        if not _SEMVER.match(version):
            raise ValueError(f"metric {name!r}: version {version!r} is not a semantic version such as '1.0.0'")
        module = sys.modules.get(func.__module__)
        for pname, constant in (parameters or {}).items():
            if not hasattr(module, constant):
                raise ValueError(f"metric {name!r}: parameter {pname!r} names {constant!r}, which is not a "
                                 f"constant of module {func.__module__}; define it before the metric")
        _REGISTRY[name] = MetricInfo(name=name, version=version, family=family, level=level, kind=kind,
                                     definition=definition, roles=roles, range=range, categories=categories,
                                     direction=direction, evidence=evidence, depends=depends,
                                     references=references, validated_against=validated_against,
                                     structural=structural, parameters=tuple((parameters or {}).items()),
                                     func=func)
        return func

    return register


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import welfare.metrics as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _DISCOVERED = True


def unavailable_metrics() -> dict[str, list[str]]:
    """Registered metrics that cannot be computed because a metric they depend on is not registered.

    Maps each such metric to its missing dependencies (directly or through another unavailable
    metric). :func:`list_metrics` leaves them out; score provenance lists them.
    """
    _discover()
    missing: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for m in _REGISTRY.values():
            if m.name in missing:
                continue
            lacking = [d for d in m.depends if d not in _REGISTRY or d in missing]
            if lacking:
                missing[m.name] = lacking
                changed = True
    return missing


def list_metrics(level: Level | None = None, family: str | None = None) -> list[MetricInfo]:
    """Every computable registered metric (optionally of one level or family), in computation order.

    Computation order puts each metric after the ones it depends on; otherwise it is sorted by
    level (message first), family and name. Metrics whose dependencies are not registered are left
    out (see :func:`unavailable_metrics`).
    """
    _discover()
    skip = unavailable_metrics()
    infos = sorted((m for m in _REGISTRY.values() if m.name not in skip),
                   key=lambda m: (m.level != "message", m.family, m.name))
    ordered: list[MetricInfo] = []
    done: set[str] = set()

    def visit(m: MetricInfo, stack: tuple[str, ...]) -> None:
        if m.name in done:
            return
        if m.name in stack:
            raise ValueError(f"metric dependencies form a cycle: {' -> '.join((*stack, m.name))}")
        for dep in m.depends:
            visit(get_metric(dep), (*stack, m.name))
        done.add(m.name)
        ordered.append(m)

    for m in infos:
        visit(m, ())
    return [m for m in ordered if (level is None or m.level == level) and (family is None or m.family == family)]


def get_metric(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of ``name``; raises :class:`UnknownMetricError` listing valid names."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMetricError(f"unknown metric {name!r}; valid names: {', '.join(sorted(_REGISTRY))}") from None


def metrics_table() -> pd.DataFrame:
    """One row per metric: name, version, family, level, kind, roles, range, direction, definition, ...

    ``range`` is ``low–high`` for numbers and ``a | b | c`` for categories; ``evidence``, ``depends``
    are comma-separated; ``parameters`` maps each documented parameter to its current value (JSON).
    """
    rows = [
        {"name": m.name, "version": m.version, "family": m.family, "level": m.level, "kind": m.kind,
         "roles": ",".join(m.roles), "range": f"{m.range[0]:g}–{m.range[1]:g}" if m.kind != "category"
         else " | ".join(m.categories), "direction": m.direction, "definition": m.definition,
         "evidence": ",".join(m.evidence), "depends": ",".join(m.depends), "structural": m.structural,
         "parameters": json.dumps(m.parameter_values()) if m.parameters else "",
         "validated_against": m.validated_against}
        for m in list_metrics()
    ]
    columns = ["name", "version", "family", "level", "kind", "roles", "range", "direction", "definition", "evidence",
               "depends", "structural", "parameters", "validated_against"]
    return pd.DataFrame(rows, columns=columns)
