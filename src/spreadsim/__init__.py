"""spreadsim: how far illegal online content spreads while removal policies act on it.

The longer illegal material stays online, the greater its reach: spreadsim turns that sentence
into numbers. A SimPy discrete-event engine propagates posts across social graphs (compact CSR
arrays built from NetworkX generators or edge lists) while configurable removal policies act on
them. Use :func:`simulate` from Python, or the ``spreadsim`` command (a Hydra app).
"""

from .config import SimConfig
from .engine import Post, RunResult, Simulation, simulate
from .errors import ConfigError, DataError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "Post", "RunResult", "SimConfig", "Simulation", "simulate",
           "__version__"]
