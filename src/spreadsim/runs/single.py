"""One run: a simulation built from a config, its policies made from the config's sections.

The engine takes policy objects; this layer makes them (:func:`new_simulation`) and runs them,
with the paired unmoderated twin when asked (:func:`simulate`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from spreadsim.engine.metrics import add_baseline
from spreadsim.engine.records import RunResult
from spreadsim.engine.simulation import Simulation
from spreadsim.graphs import Graph
from spreadsim.policies import make_policies
from spreadsim.runs.cascades import CascadeExport
from spreadsim.schema.config import SimConfig


def new_simulation(config: SimConfig, seed: int, **options: Any) -> Simulation:
    """A :class:`~spreadsim.engine.simulation.Simulation` of ``config`` with the policies of its
    ``policy`` sections (``options``: the engine's keyword arguments, such as ``graph`` or
    ``trace``)."""
    return Simulation(config, seed, policies=make_policies(config.policies), **options)


def simulate(config: SimConfig | Mapping[str, Any], seed: int = 0, *, graph: Graph | None = None,
             baseline: bool = False, trace: bool = False,
             export: str | os.PathLike[str] | CascadeExport | None = None,
             export_exposures: bool = False) -> RunResult:
    """Run one simulation.

    Parameters
    ----------
    config : SimConfig or mapping
        The configuration (a mapping is validated with :meth:`SimConfig.from_dict`).
    seed : int
        Run seed (>= 0). Same config and seed give identical results.
    graph : Graph, optional
        Prebuilt graph to reuse.
    baseline : bool
        Also run the unmoderated twin with the same seed and report reach prevented.
    trace : bool
        Keep every exposure in ``result.exposures``.
    export : path-like or CascadeExport, optional
        Write the run's cascades (every share, in the input format of ``spreadsim fit``) into
        this folder (:func:`spreadsim.runs.cascades.export_cascades`: ``shares.parquet``,
        ``cascades.parquet``/``.csv``), or append them to an open
        :class:`~spreadsim.runs.cascades.CascadeExport`. The run is traced for it (same results:
        tracing changes no draw), ``result.exposures`` stays empty unless ``trace``.
    export_exposures : bool
        With a folder ``export``: also write every exposure (``exposures.parquet``).

    Returns
    -------
    RunResult

    Examples
    --------
    >>> cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3},
    ...        "scenario": {"illegal_posts": 5, "uploaders": 2, "horizon_h": 48},
    ...        "policy": {"name": "fixed_latency", "latency_h": 1.0}}
    >>> r = simulate(cfg, seed=1, baseline=True)
    >>> r.summary["reach_total"] <= r.summary["reach_baseline_total"]
    True
    """
    cfg = config if isinstance(config, SimConfig) else SimConfig.from_dict(config)
    sim = new_simulation(cfg, seed, graph=graph, trace=trace or export is not None)
    result = sim.run()
    if export is not None:
        if isinstance(export, CascadeExport):
            export.add(sim)
        else:
            with CascadeExport(export, export_exposures) as ex:
                ex.add(sim)
        if not trace:
            result.exposures = {}  # the trace was the export's (the log's copy, freed)
    if baseline:
        base = Simulation(cfg, seed, graph=sim.graph, policies=[], trace=False).run()
        add_baseline(result, base)
    return result
