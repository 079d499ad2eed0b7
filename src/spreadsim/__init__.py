"""spreadsim: how far illegal online content spreads while removal policies act on it.

The longer illegal material stays online, the greater its reach: spreadsim turns that sentence
into numbers. A SimPy discrete-event engine propagates posts across social graphs (compact CSR
arrays built from NetworkX generators or edge lists) while configurable removal policies act on
them. Use :func:`simulate` (one run) and :func:`sweep` (a sweep of paired seeds, as pandas
DataFrames) from Python, or the ``spreadsim`` command (a Hydra app).

The layers, each a subpackage that imports only the ones listed before it:

* :mod:`spreadsim.errors`, :mod:`spreadsim.version`, :mod:`spreadsim.jit`, :mod:`spreadsim.dists`,
  :mod:`spreadsim.rng`: the shared base (errors, version, numba, distributions, random numbers);
* :mod:`spreadsim.schema`: the typed configuration (defaults, ranges, descriptions, checks);
* :mod:`spreadsim.outputs`: tables on disk, statistics, plots and the report;
* :mod:`spreadsim.graphs`: social graphs as compact arrays;
* :mod:`spreadsim.engine`: the simulation (SimPy + the compiled spread kernel) and its records;
* :mod:`spreadsim.policies`: removal policies and the review queue;
* :mod:`spreadsim.runs`: one run, a sweep job, the deadline path, platforms, calibration;
* :mod:`spreadsim.fit`: fitting the model to data (observed cascades, DSA removal delays);
* :mod:`spreadsim.app`: the command line and everything that imports Hydra, OmegaConf or joblib.

The engine (and with it numba) is imported on first use, so ``import spreadsim`` and the command
line's error messages stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from spreadsim.errors import ConfigError, DataError
from spreadsim.version import __version__

#: the public API, imported on first use: name -> module
_API = {"SimConfig": "spreadsim.schema.config", "Post": "spreadsim.engine.records",
        "RunResult": "spreadsim.engine.records", "Simulation": "spreadsim.engine.simulation",
        "simulate": "spreadsim.runs.single", "load_config": "spreadsim.runs.jobspec",
        "sweep": "spreadsim.runs.sweep", "fit_cascades": "spreadsim.fit.cascades",
        "dsa_delays": "spreadsim.fit.dsa"}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'spreadsim' has no attribute {name!r}")


__all__ = ["ConfigError", "DataError", "Post", "RunResult", "SimConfig", "Simulation", "load_config",
           "simulate", "sweep", "fit_cascades", "dsa_delays", "__version__"]
