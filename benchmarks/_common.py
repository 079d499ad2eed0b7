"""Shared helpers of the benchmark scripts (not a benchmark itself).

Statistics (median, min-max), the machine header (load average, versions, git state), timed
simulation runs (wall ``time.perf_counter`` and CPU ``time.process_time``), per-run kernel CPU
(the compiled entry points wrapped by timers) and the ``--json`` output read by ``run_all.py``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------------------ machine


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def git_state() -> str:
    import spreadsim

    root = os.path.dirname(os.path.abspath(spreadsim.__file__))
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "git ?"
    return f"git {rev}{'+dirty src' if dirty else ''}"


def header(name: str) -> dict[str, Any]:
    """Print and return the machine line of a benchmark."""
    info = {
        "bench": name,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numba": version("numba"),
        "numpy": np.__version__,
        "simpy": version("simpy"),
        "spreadsim": git_state(),
        "load_start": loadavg(),
    }
    print(f"# {name}  {info['date']}  python {info['python']}  cpus {info['cpus']}  numba "
          f"{info['numba']}  numpy {info['numpy']}  simpy {info['simpy']}  spreadsim {info['spreadsim']}")
    print(f"load average at the start: {info['load_start']}")
    return info


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------ statistics


def med(xs: Iterable[float]) -> float:
    return float(statistics.median(list(xs)))


def mmm(xs: Sequence[float], fmt: str = ".3f") -> str:
    """``median (min-max)``."""
    return f"{statistics.median(xs):{fmt}} ({min(xs):{fmt}}-{max(xs):{fmt}})"


def stats(xs: Sequence[float]) -> dict[str, float]:
    return {"med": med(xs), "min": float(min(xs)), "max": float(max(xs))}


# ------------------------------------------------------------------------------ runs


class Timed:
    """Wrap a compiled kernel entry point, accumulating its CPU time and call count."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.total, self.calls = fn, 0.0, 0

    def __call__(self, *a: Any) -> Any:
        t0 = time.process_time()
        try:
            return self.fn(*a)
        finally:
            self.total += time.process_time() - t0
            self.calls += 1


KERNEL_ENTRIES = ("advance", "share", "settle_inert")


def run_once(cfg: Any, g: Any, seed: int, *, kernel_timers: bool = False) -> dict[str, Any]:
    """One ``new_simulation(cfg, seed, graph=g).run()``: wall/CPU seconds and event counts.

    Counts over every post, legal ones included (``RunResult.summary`` totals are illegal posts
    only): ``shares`` (reshares), ``infections`` (shares + posts uploaded: the uploader counts, as
    in bench_spread), ``views`` (exposures) and ``reach`` (distinct (post, user) pairs).
    With ``kernel_timers`` the compiled entry points are wrapped (adds ~1 us per call) and
    ``kernel_cpu`` / ``kernel_calls`` are reported.
    """
    import spreadsim.engine.kernel as K
    from spreadsim.runs.single import new_simulation

    saved = {k: getattr(K, k) for k in KERNEL_ENTRIES}
    timers = {k: Timed(v) for k, v in saved.items()} if kernel_timers else {}
    try:
        for k, t in timers.items():
            setattr(K, k, t)
        c0 = time.process_time()
        t0 = time.perf_counter()
        r = new_simulation(cfg, seed, graph=g).run()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    finally:
        for k, v in saved.items():
            setattr(K, k, v)
    p = r.posts
    n_posts = int(len(p["post_id"]))
    rec = {
        "seed": seed,
        "wall": wall,
        "cpu": cpu,
        "posts": n_posts,
        "shares": int(p["shares"].sum()),
        "infections": int(p["shares"].sum()) + n_posts,
        "views": int(p["views"].sum()),
        "reach": int(p["reach"].sum()),
        "removed": int(np.isfinite(p["removal_time_h"]).sum()),
        "summary": r.summary,
    }
    if timers:
        rec["kernel_cpu"] = sum(t.total for t in timers.values())
        rec["kernel_calls"] = sum(t.calls for t in timers.values())
    return rec


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if not path:
        return
    payload = dict(payload)
    payload.setdefault("load_end", loadavg())

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        return str(o)

    with open(path, "w") as fh:
        json.dump(payload, fh, indent=1, default=default)
