"""The configuration of a multi-platform run, checked before anything runs: :class:`MultiConfig`.

Its sections are declared in :mod:`spreadsim.schema.platforms` (each platform's name, graph and
policy; ``cross_posting``; ``hash_sharing``); here they are put together with the shared spread
and scenario into one :class:`~spreadsim.schema.config.SimConfig` per platform, and every
platform's graph and policy stack is checked against its own schema (without building a graph),
each error named by its platform (``platforms[1].graph.m``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from spreadsim.errors import ConfigError
from spreadsim.graphs import check_graph_config
from spreadsim.policies import check_stack, make_policy
from spreadsim.schema.checks import check_keys, mapping
from spreadsim.schema.config import Limits, SimConfig
from spreadsim.schema.fields import parse
from spreadsim.schema.model import ScenarioConfig, SpreadConfig
from spreadsim.schema.platforms import MULTI_KEYS, CrossPosting, HashSharing, PlatformSection

__all__ = ["PlatformConfig", "MultiConfig", "policy_field", "under_platform"]


@dataclass(frozen=True)
class PlatformConfig:
    """One platform: its name and its simulation config (its graph and policies; the shared
    spread model; the scenario, emptied on every platform but the first)."""

    name: str
    sim: SimConfig


def _no_cross_posting() -> CrossPosting:
    return parse(CrossPosting, None, "cross_posting")


@dataclass(frozen=True)
class MultiConfig:
    """A validated multi-platform configuration."""

    platforms: tuple[PlatformConfig, ...]
    cross_posting: CrossPosting = field(default_factory=_no_cross_posting)
    hash_sync_h: float | None = None  # None: no hash sharing

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.platforms]

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> MultiConfig:
        """Validate a dict shaped like the YAML (see ``conf/experiment/two_platforms.yaml``).

        Keys (:data:`~spreadsim.schema.platforms.MULTI_KEYS`): ``platforms`` (a non-empty list of
        ``{name, graph, policy}``), ``spread`` and ``scenario`` (shared, as for
        :meth:`SimConfig.from_dict`), ``cross_posting`` (``{overlap, prob, delay}``),
        ``hash_sharing`` (``{sync_delay_h}``), ``max_events``. Bad input raises a one-line
        :class:`ConfigError` naming the field, e.g. ``platforms[1].name`` or
        ``cross_posting.overlap``.
        """
        cfg = mapping("config", cfg)
        check_keys("config", cfg, MULTI_KEYS)
        spread = parse(SpreadConfig, cfg.get("spread"), "spread")
        scenario = parse(ScenarioConfig, cfg.get("scenario"), "scenario")
        max_events = parse(Limits, {k: cfg[k] for k in ("max_events",) if k in cfg}, "").max_events
        plats = cfg.get("platforms")
        if isinstance(plats, str) or not isinstance(plats, Sequence) or not plats:
            raise ConfigError("platforms", plats, "must be a non-empty list of platforms "
                              "{name, graph, policy}")
        out: list[PlatformConfig] = []
        seen: set[str] = set()
        for i, p in enumerate(plats):
            f = f"platforms[{i}]"
            sec = parse(PlatformSection, p, f)
            if sec.name in seen:
                raise ConfigError(f"{f}.name", sec.name, "duplicate platform name; names must be unique")
            seen.add(sec.name)
            with under_platform(f):
                sim = SimConfig(graph=dict(sec.graph), spread=spread,
                                scenario=scenario if i == 0 else _no_campaign(scenario),
                                policies=sec.policy, max_events=max_events)
                check_graph_config(sim.graph)  # every parameter, without building the graph
                # validate now: nothing runs on bad input
                policies = [make_policy(pc, policy_field(f, k, len(sim.policies)))
                            for k, pc in enumerate(sim.policies)]
                check_stack(policies)
                for p in policies:  # each policy against the scenario (as binding it to a run would)
                    p.check_scenario(sim.scenario)
            out.append(PlatformConfig(sec.name, sim))
        cross = parse(CrossPosting, cfg.get("cross_posting"), "cross_posting")
        hs = cfg.get("hash_sharing")
        sync = None if hs is None else parse(HashSharing, hs, "hash_sharing").sync_delay_h
        return cls(tuple(out), cross, sync)


def _no_campaign(sc: ScenarioConfig) -> ScenarioConfig:
    return replace(sc, illegal_posts=0, legal_posts=0, uploaders=0)


def policy_field(f: str, k: int, n: int) -> str:
    """The name of policy ``k`` of ``n`` of platform ``f`` in messages: ``platforms[1].policy``
    (one policy) or ``platforms[1].policy[0]``."""
    return f"{f}.policy" if n == 1 else f"{f}.policy[{k}]"


@contextmanager
def under_platform(prefix: str) -> Iterator[None]:
    """Re-raise a platform's graph errors with the platform's path (``platforms[1].graph.n``)."""
    try:
        yield
    except ConfigError as e:
        if e.field == "graph" or e.field.startswith("graph."):
            raise ConfigError(f"{prefix}.{e.field}", e.value, e.allowed) from None
        raise
