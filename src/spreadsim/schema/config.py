"""The configuration of one run: :class:`SimConfig` = graph + spread + scenario + policy stack.

Built from plain dicts, the same shape as the YAML files in ``conf/``::

    SimConfig.from_dict({"graph": {...}, "spread": {...}, "scenario": {...}, "policy": {...}})

Any section left out takes the schema's defaults, the same defaults the command line composes
(the YAML files in ``conf/`` are generated from the schema), so ``spreadsim.simulate({}, seed=0)``
and ``spreadsim experiment=single seed=0 seeds=1`` run the same world. Every field is checked
before anything runs; a bad one raises a one-line :class:`~spreadsim.errors.ConfigError` naming the
field, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spreadsim.errors import ConfigError
from spreadsim.schema.checks import check_keys, mapping
from spreadsim.schema.fields import Integer, defaults, param, parse
from spreadsim.schema.graphs import graph_mapping, parse_graph
from spreadsim.schema.model import ScenarioConfig, SpreadConfig
from spreadsim.schema.policies import parse_policy

#: the default graph when a config has no ``graph`` section (its other keys take the kind's defaults)
DEFAULT_GRAPH = {"kind": "barabasi_albert"}
#: the default policy when a config has no ``policy`` key (``policy: null`` is no policy: the
#: unmoderated run); as ``conf/config.yaml``'s defaults list
DEFAULT_POLICY = {"name": "fixed_latency"}
#: a run stops with an error after this many spread events (a guard against runaway configs)
MAX_EVENTS = 50_000_000
#: the keys of a one-platform world (SimConfig.from_dict)
SIM_KEYS = ("graph", "spread", "scenario", "policy", "max_events")


@dataclass(frozen=True)
class Limits:
    """Guards of a run."""

    max_events: int = param(MAX_EVENTS, "a run stops with an error after this many spread events (a "
                            "guard against configs that would run for days)", Integer(lo=1, hi=2**62))


def complete_graph(value: Any, path: str = "graph") -> dict[str, Any]:
    """The ``graph`` section checked against its kind's schema, every default filled in."""
    return graph_mapping(parse_graph(DEFAULT_GRAPH if value is None else value, path))


def complete_policy(value: Any, path: str = "policy") -> dict[str, Any]:
    """One ``policy`` section checked against its policy's schema, every default filled in."""
    raw = mapping(path, value)
    return {**defaults(type(parse_policy(raw, path))), **raw}


def policy_stack(path: str, value: Any) -> tuple[Mapping[str, Any], ...]:
    """A ``policy`` key: one policy mapping, a list of them (a stack; ``policy[i]`` in messages), or
    null (none); every section checked and completed."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return (complete_policy(value, path),)
    if isinstance(value, list | tuple):
        return tuple(complete_policy(mapping(f"{path}[{i}]", p), f"{path}[{i}]") for i, p in enumerate(value))
    raise ConfigError(path, value, "must be a policy mapping or a list of them")


@dataclass(frozen=True)
class SimConfig:
    """Everything one simulation run needs besides its seed.

    ``graph`` and ``policies`` hold their sections as checked plain mappings with every default
    filled in (the graph builders and the policy classes read them through their schema);
    ``spread`` and ``scenario`` are typed sections.
    """

    graph: Mapping[str, Any]
    spread: SpreadConfig
    scenario: ScenarioConfig
    policies: tuple[Mapping[str, Any], ...] = ()
    max_events: int = MAX_EVENTS

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> SimConfig:
        """Check and build from a dict shaped like the composed Hydra config; a section left out
        takes the schema's defaults. ``policy`` is one policy mapping (with a ``name``), a list of
        them (a stack), or null (no policy: the unmoderated run)."""
        cfg = mapping("config", cfg)
        check_keys("config", cfg, SIM_KEYS)
        return cls(
            graph=complete_graph(cfg.get("graph"), "graph"),
            spread=parse(SpreadConfig, cfg.get("spread"), "spread"),
            scenario=parse(ScenarioConfig, cfg.get("scenario"), "scenario"),
            policies=policy_stack("policy", cfg.get("policy", DEFAULT_POLICY)),
            max_events=parse(Limits, {k: cfg[k] for k in ("max_events",) if k in cfg}, "").max_events,
        )


__all__ = ["SimConfig", "Limits", "SIM_KEYS", "DEFAULT_GRAPH", "DEFAULT_POLICY", "MAX_EVENTS", "complete_graph",
           "complete_policy", "policy_stack"]
