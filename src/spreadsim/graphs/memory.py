"""Graphs that cannot fit in memory are refused before any work (a sweep checks every job's
graph before the first job starts).

The estimate is a lower bound (nodes and expected edges at the least bytes each that building
takes), so only graphs that cannot fit are refused; the limit is the machine's, or
``SPREADSIM_MEMORY_LIMIT`` for a sweep checked on a login node whose jobs run on bigger nodes.
"""

from __future__ import annotations

import math
import os
import resource
from typing import Any

from spreadsim.errors import ConfigError
from spreadsim.schema.graphs import (
    BarabasiAlbert,
    ConfigurationModel,
    ErdosRenyi,
    PowerlawCluster,
    RandomKOut,
    Sbm,
    ScaleFreeDirected,
    WattsStrogatz,
)

__all__ = ["BYTES_PER_NODE", "GEN_BYTES_PER_EDGE", "NX_BYTES_PER_EDGE", "check_fits", "memory_limit"]

#: the least memory a generated graph takes per edge while it is built (measured peaks are
#: 53-62 B an edge for spreadsim's own generators and 250-310 B for NetworkX's, 19 B an arc
#: for random_k_out): a lower bound, so that only graphs that cannot fit are refused
GEN_BYTES_PER_EDGE = 16
NX_BYTES_PER_EDGE = 150
#: and per node (the CSR row index, degrees, NetworkX's node table)
BYTES_PER_NODE = 16


def _fmt_bytes(b: float) -> str:
    if b < 1024:
        return f"{int(b)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        b /= 1024
        if b < 1024 or unit == "PiB":
            return f"{b:.3g} {unit}"
    raise AssertionError  # pragma: no cover


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_limit() -> int:
    """The memory a graph may take: ``SPREADSIM_MEMORY_LIMIT`` if set (bytes, or with a binary
    suffix: ``256G``; for a sweep checked on a login node whose jobs run on bigger nodes), else
    the machine's, or its control group's limit if lower (``memory.max``, cgroup v2), or what an
    address-space limit (``ulimit -v``) leaves the process if lower; 2**62 when none is known."""
    env = os.environ.get("SPREADSIM_MEMORY_LIMIT", "").strip()
    if env:
        number, unit = (env[:-1], env[-1].upper()) if env[-1:].upper() in "KMGT" else (env, "")
        try:
            value = float(number) * _UNITS[unit]
        except ValueError:
            value = math.nan
        if not 0 < value < 2.0**63:
            raise ConfigError("SPREADSIM_MEMORY_LIMIT", env,
                              "must be a number of bytes > 0, or with K, M, G or T: 256G")
        return int(value)
    limit = 1 << 62
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            limit = min(limit, int(text))
    except OSError:
        pass
    return min(limit, _address_space_left())


def _address_space_left() -> int:
    """What an address-space limit (``ulimit -v``, RLIMIT_AS) leaves this process: the limit less
    the address space it already maps; 2**62 with no limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return 1 << 62
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        mapped = 0
    return max(soft - mapped, 0)


def least_size(section: Any) -> tuple[str, Any, int, float, int] | None:
    """What a generated graph takes at least: ``(key, value, users, edges, bytes per edge)``,
    ``key`` naming the parameter that makes it this big; None for an edge list (its file)."""
    s = section
    if isinstance(s, BarabasiAlbert):
        return "n", s.n, s.n, s.m * (s.n - s.m), GEN_BYTES_PER_EDGE
    if isinstance(s, ScaleFreeDirected):  # (at least one edge per new node)
        return "n", s.n, s.n, s.n, NX_BYTES_PER_EDGE
    if isinstance(s, WattsStrogatz):
        return "n", s.n, s.n, s.n * (s.k // 2), NX_BYTES_PER_EDGE
    if isinstance(s, ErdosRenyi):
        pairs = s.n * (s.n - 1) / (1 if s.directed else 2)
        key = "p" if s.p is not None else "mean_degree"
        return key, getattr(s, key), s.n, s.edge_prob * pairs, NX_BYTES_PER_EDGE
    if isinstance(s, PowerlawCluster):
        return "n", s.n, s.n, s.m * (s.n - s.m), NX_BYTES_PER_EDGE
    if isinstance(s, Sbm):
        n = s.n
        within = sum(float(b) * (b - 1) / 2 for b in s.sizes)
        edges = s.p_in * within + s.p_out * (float(n) * (n - 1) / 2 - within)
        return "sizes", list(s.sizes), n, edges, NX_BYTES_PER_EDGE
    if isinstance(s, RandomKOut):
        return "n", s.n, s.n, s.n * s.k, GEN_BYTES_PER_EDGE
    if isinstance(s, ConfigurationModel):
        d = s.degrees
        per_node = d["mean"] if d["dist"] == "poisson" else d["kmin"]
        return "n", s.n, s.n, s.n * per_node / 2, GEN_BYTES_PER_EDGE
    return None


def check_fits(section: Any, path: str = "graph") -> None:
    """Refuse a graph that cannot fit in memory (see :func:`least_size`) with a one-line
    :class:`~spreadsim.errors.ConfigError` naming the parameter that makes it this big."""
    size = least_size(section)
    if size is None:
        return
    key, value, n, edges, per_edge = size
    need = BYTES_PER_NODE * float(n) + per_edge * float(edges)
    have = memory_limit()
    if need > have:
        limit = (f"SPREADSIM_MEMORY_LIMIT is {_fmt_bytes(have)}"
                 if os.environ.get("SPREADSIM_MEMORY_LIMIT", "").strip() else
                 f"this machine (or process) has {_fmt_bytes(have)} (SPREADSIM_MEMORY_LIMIT sets the "
                 "jobs' own)")
        raise ConfigError(
            f"{path}.{key}", value,
            f"a graph this size ({n:.4g} users, about {edges:.3g} edges) needs at least "
            f"{_fmt_bytes(need)} of memory to build; {limit}")
