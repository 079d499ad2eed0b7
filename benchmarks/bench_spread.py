"""Benchmark spreadsim's spread engine against EoN ``fast_SIR`` on one Barabasi-Albert graph.

Model mapping: in spreadsim a user who shares a post exposes every follower after a feed delay;
on first exposure a user reshares with probability ``p`` (no attention decay). A share is an
infection and ``p`` plays the part of the per-edge transmissibility ``T``. EoN's ``fast_SIR``
with ``tau / (tau + gamma) = T`` on the same undirected graph is the peer. The models differ
(spreadsim's coin is per user at first exposure, i.e. site-like; SIR's is per edge, bond-like),
so the final sizes differ; both are reported, and speed is compared per infection.

Infections: spreadsim ``shares_total + 1`` (the uploader counts), EoN the final recovered count.
Only large outbreaks (at least ``--min-frac`` of the users infected) are kept, for both tools;
seeds are tried in order 0, 1, 2, ... until ``--runs`` large outbreaks are kept (at most
``--max-tries`` seeds), and the discarded small outbreaks are counted. Seed ``i`` of EoN starts
from the same user that spreadsim's seed ``i`` picks as its uploader (``random`` and
``numpy.random`` are seeded with ``i``).

Each tool gets one untimed warm-up run first (numba compilation / loading the on-disk cache).
Every timed run is ``new_simulation(SimConfig.from_dict(cfg), seed, graph=g).run()`` (setup,
SimPy loop, kernel and result collection) or one ``EoN.fast_SIR`` call, timed with
``time.perf_counter``. Afterwards spreadsim's kept seeds are run again with the compiled kernel
entry points wrapped by timers (the per-phase breakdown), and one run is profiled with cProfile.

Pairing: a shared machine's speed drifts over the seconds of EoN's runs, so a ratio of medians
measured minutes apart mixes the tools' speeds with the machine's. Just before and just after
each EoN run, spreadsim's kept seeds (and the bare kernel's) run once more, after one untimed run
of each to bring the graph back into the caches that EoN's run evicted; for each kept EoN run
the ratio is the median infections/s of those spreadsim runs over EoN's, and the report gives the
median (min-max) of these per-run ratios next to the plain ratio of medians (``--no-pairing``
turns this off).

Usage::

    python benchmarks/bench_spread.py [--n 100000 --m 5 --T 0.23 --runs 7]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import gc
import heapq
import io
import json
import math
import os
import platform
import pstats
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import networkx as nx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spreadsim.engine.kernel as K
from _common import Timed  # noqa: E402
from spreadsim.graphs import Graph
from spreadsim.jit import njit, prefetch
from spreadsim.rng import uniform
from spreadsim.runs.single import new_simulation
from spreadsim.schema.config import SimConfig

# ------------------------------------------------------------------------------------- memory


def _clear_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _maxrss_mib() -> float:
    """``resource.getrusage`` peak RSS in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Phase:
    """Peak RSS of one phase: RSS at its start and the (reset) high-water mark at its end."""

    def __init__(self) -> None:
        self.reset = _clear_peak_rss()
        self.start_mib = _status_kib("VmRSS") / 1024.0

    def peak_mib(self) -> float:
        return _maxrss_mib()


def _git_state() -> str:
    """``git <commit>[+dirty]`` of the source tree spreadsim was imported from, if any."""
    import subprocess

    import spreadsim

    root = os.path.dirname(os.path.abspath(spreadsim.__file__))
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "git ?"
    return f"git {rev}{'+dirty src' if dirty else ''}"


# ------------------------------------------------------------------------------------- graph


def build_graph(n: int, m: int, seed: int) -> tuple[nx.Graph, Graph, float, float, str]:
    """The NetworkX BA graph and its spreadsim CSR; build and conversion times."""
    t0 = time.perf_counter()
    G = nx.barabasi_albert_graph(n, m, seed=seed)
    t1 = time.perf_counter()
    try:
        from spreadsim.graphs import from_networkx
    except ImportError:  # pragma: no cover - only while graphs.py is being written
        from_networkx = None
    if from_networkx is not None:
        g = from_networkx(G, name=f"ba_{n}_{m}")
        how = "spreadsim.graphs.from_networkx"
    else:  # pragma: no cover
        g = _csr_by_hand(G, f"ba_{n}_{m}")
        how = "numpy CSR (from_networkx missing)"
    t2 = time.perf_counter()
    return G, g, t1 - t0, t2 - t1, how


def _csr_by_hand(G: nx.Graph, name: str) -> Graph:
    """Undirected CSR with both arcs per edge, rows sorted (nodes must be 0..n-1)."""
    n = G.number_of_nodes()
    e = np.array(list(G.edges()), dtype=np.int64).reshape(-1, 2)
    e = e[e[:, 0] != e[:, 1]]
    src = np.concatenate([e[:, 0], e[:, 1]])
    dst = np.concatenate([e[:, 1], e[:, 0]])
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    keep = np.ones(src.size, dtype=bool)
    keep[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    src, dst = src[keep], dst[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return Graph(indptr=indptr, indices=dst.astype(np.int32), directed=False, name=name)


# ------------------------------------------------------------------------------------- runs


def spreadsim_config(T: float, horizon: float, rate: float) -> SimConfig:
    return SimConfig.from_dict(
        {
            "graph": {"kind": "barabasi_albert"},  # a valid placeholder: the graph is passed in
            "spread": {"kernel": {"dist": "exponential", "rate_per_h": rate}},
            "scenario": {
                "illegal_posts": 1,
                "legal_posts": 0,  # one cascade per run, as EoN's fast_SIR from one seed node
                "uploaders": 1,
                "horizon_h": horizon,
                "window_h": 0,
                "categories": {"hate_speech": {"weight": 1, "share_prob": T}},
            },
        }
    )


def run_spreadsim(cfg: SimConfig, g: Graph, seed: int) -> tuple[float, float, int, int, int]:
    """One timed run: (wall seconds, CPU seconds, infections, reach, uploader)."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    r = new_simulation(cfg, seed, graph=g).run()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return (dt, cpu, int(r.summary["shares_total"]) + 1, int(r.summary["reach_total"]), int(r.posts["uploader"][0]))


def uploader_of(cfg: SimConfig, g: Graph, seed: int) -> Any:
    """The NetworkX node spreadsim's seed ``seed`` uploads from."""
    u = int(new_simulation(cfg, seed, graph=g).uploaders[0])
    return g.labels[u].item() if g.labels is not None else u


def run_eon(G: nx.Graph, tau: float, gamma: float, node: Any, seed: int) -> tuple[float, float, int]:
    """One timed EoN fast_SIR run: (wall seconds, CPU seconds, final recovered count)."""
    import EoN

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - EoN draws from the legacy global generator
    c0 = time.process_time()
    t0 = time.perf_counter()
    _t, _S, _I, R = EoN.fast_SIR(G, tau, gamma, initial_infecteds=[node])
    dt = time.perf_counter() - t0
    return dt, time.process_time() - c0, int(R[-1])


def collect_runs(
    one: Callable[[int], dict[str, Any]], runs: int, max_tries: int, min_inf: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """Seeds 0, 1, ... until ``runs`` outbreaks with >= ``min_inf`` infections (kept, small)."""
    kept: list[dict[str, Any]] = []
    small: list[int] = []
    seed = 0
    while len(kept) < runs and seed < max_tries:
        rec = one(seed)
        rec["seed"] = seed
        if rec["inf"] >= min_inf:
            kept.append(rec)
        else:
            small.append(seed)
        seed += 1
    return kept, small


def run_heapq(indptr: list[int], indices: list[int], src: int, p: float, rate: float,
              seed: int) -> tuple[float, float, int, int]:
    """Plain-heapq reference of spreadsim's model in pure Python (no SimPy, no numba).

    A sharer exposes every follower after an exponential delay (``rate``); on a user's first
    exposure a coin with probability ``p`` decides the reshare (site-like, as in spreadsim).
    Returns (wall seconds, CPU seconds, infections incl. the uploader, exposures).
    """
    rnd = random.Random(seed)
    c0 = time.process_time()
    t0 = time.perf_counter()
    seen = bytearray(len(indptr) - 1)
    seen[src] = 1
    heap: list[tuple[float, int]] = []
    push, pop, expo, uni = heapq.heappush, heapq.heappop, rnd.expovariate, rnd.random
    for w in indices[indptr[src]:indptr[src + 1]]:
        push(heap, (expo(rate), w))
    inf, views = 1, 0
    while heap:
        t, v = pop(heap)
        views += 1
        if seen[v]:
            continue
        seen[v] = 1
        if uni() < p:
            inf += 1
            for w in indices[indptr[v]:indptr[v + 1]]:
                push(heap, (t + expo(rate), w))
    dt = time.perf_counter() - t0
    return dt, time.process_time() - c0, inf, views


# ------------------------------------------------------------------------------------- compiled limit


_U1 = np.uint64(1)


@njit(cache=True)
def _bare_cascade(indptr: np.ndarray, indices: np.ndarray, src: int, p: float, rate: float,
                  dkey: int, skey: int, first: np.ndarray, ht: np.ndarray, hu: np.ndarray) -> tuple[int, int]:
    """The bare compiled cascade of one post: spreadsim's model and draws with nothing else.

    Dijkstra's algorithm on feed delays ``uniform(dkey, u, w)`` (exponential, ``rate``) from the
    uploader ``src`` at time 0; a user reshares on first exposure when ``uniform(skey, w, 0) < p``.
    The earliest exposure per user is a tentative time; only users who will reshare enter the
    binary heap (``ht``/``hu``), the follower rows and earliest times are prefetched. No policies,
    no SimPy, no views, no tables. Arrays are indexed with unsigned ints, as in spreadsim's
    kernel (numba then adds no negative-index wraparound). Returns (infections including the
    uploader, users reached).
    """
    size = np.uint64(0)
    inf = 1
    reach = 0
    t = 0.0
    u = src
    while True:
        lo, hi_ = indptr[np.uint64(u)], indptr[np.uint64(u) + _U1]
        for e in range(lo, hi_):
            prefetch(first, indices[np.uint64(e)])
        if size > 0:
            prefetch(indptr, hu[0])
        for e in range(lo, hi_):
            w = indices[np.uint64(e)]
            if w == src:
                continue
            te = t - math.log1p(-uniform(dkey, u, w)) / rate
            cur = first[np.uint64(w)]
            if te < cur:
                if cur == math.inf:
                    reach += 1
                first[np.uint64(w)] = te
                if uniform(skey, w, 0) < p:  # will reshare: into the heap (lazy deletion)
                    i = size
                    size += _U1
                    while i > 0:
                        par = (i - _U1) >> _U1
                        if te < ht[par]:
                            ht[i] = ht[par]
                            hu[i] = hu[par]
                            i = par
                        else:
                            break
                    ht[i] = te
                    hu[i] = w
        while True:  # pop the next reshare that is still its user's earliest exposure
            if size == 0:
                return inf, reach
            prefetch(indices, indptr[np.uint64(hu[0])])
            t, u = ht[0], hu[0]
            size -= _U1
            xt, xu = ht[size], hu[size]
            i = np.uint64(0)
            while True:
                c = i + i + _U1
                if c >= size:
                    break
                if c + _U1 < size and ht[c + _U1] < ht[c]:
                    c += _U1
                if ht[c] < xt:
                    ht[i] = ht[c]
                    hu[i] = hu[c]
                    i = c
                else:
                    break
            if size > 0:
                ht[i] = xt
                hu[i] = xu
            if t == first[np.uint64(u)]:
                inf += 1
                break


_BARE_ARRAYS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def run_bare(cfg: SimConfig, g: Graph, seed: int, p: float, rate: float) -> tuple[float, float, int, int]:
    """One timed bare-kernel run of spreadsim's seed ``seed``: (wall s, CPU s, infections, reach).

    The uploader and the post's keys are spreadsim's (setup outside the timer, like a graph). Like
    spreadsim, which keeps its work arrays for the next run, the bare kernel reuses its arrays
    from run to run (allocated once per graph size); resetting the earliest times is timed."""
    sim = new_simulation(cfg, seed, graph=g)
    sim.upload(sim._schedule[0][1], sim._schedule[0][2], content_id=0, adversarial=True)
    src = int(sim.posts[0].uploader)
    dkey, skey = int(sim._work.pi[0, K.PI_DELAY_KEY]), int(sim._work.pi[0, K.PI_SHARE_KEY])
    sim._release()  # its work arrays go back to spreadsim's pool, as after a run
    if g.n not in _BARE_ARRAYS:
        _BARE_ARRAYS[g.n] = (np.empty(g.n), np.empty(g.n), np.empty(g.n, dtype=np.int64))
    first, ht, hu = _BARE_ARRAYS[g.n]
    c0 = time.process_time()
    t0 = time.perf_counter()
    first.fill(math.inf)
    inf, reach = _bare_cascade(g.indptr, g.indices, src, p, rate, dkey, skey, first, ht, hu)
    return time.perf_counter() - t0, time.process_time() - c0, int(inf), int(reach)


# ------------------------------------------------------------------------------------- breakdown


def breakdown(cfg: SimConfig, g: Graph, seeds: list[int]) -> dict[str, float]:
    """Median CPU seconds per phase of a run: setup, kernel, SimPy/engine rest, collect.

    CPU time (``time.process_time``), not wall time, so that other processes on the machine do
    not leak into the phases.
    """
    rows: dict[str, list[float]] = {
        k: [] for k in ("setup", "kernel", "engine", "collect", "total", "kernel_calls", "views", "reach", "inf")
    }
    orig_adv, orig_share, orig_settle = K.advance, K.share, K.settle_inert
    try:
        for s in seeds:
            adv, shr, stl = Timed(orig_adv), Timed(orig_share), Timed(orig_settle)
            K.advance, K.share, K.settle_inert = adv, shr, stl
            t0 = time.process_time()
            sim = new_simulation(cfg, s, graph=g)
            t1 = time.process_time()
            # Simulation.run() without the collect, to time collect separately
            for p in sim.policies:
                p.start()
            sim.env.process(sim._uploads())
            sim.env.run(until=cfg.scenario.horizon_h)
            t2 = time.process_time()
            r = sim.finish()  # settle the inert exposures (kernel) + metrics.collect
            t3 = time.process_time()
            kern = adv.total + shr.total + stl.total
            rows["setup"].append(t1 - t0)
            rows["kernel"].append(kern)
            rows["engine"].append(t2 - t1 - adv.total - shr.total)  # settling runs in finish()
            rows["collect"].append(t3 - t2 - stl.total)
            rows["total"].append(t3 - t0)
            rows["kernel_calls"].append(adv.calls + shr.calls + stl.calls)
            rows["views"].append(r.summary["views_total"])
            rows["reach"].append(r.summary["reach_total"])
            rows["inf"].append(r.summary["shares_total"] + 1)
    finally:
        K.advance, K.share, K.settle_inert = orig_adv, orig_share, orig_settle
    return {k: statistics.median(v) for k, v in rows.items()}


def profile_one(cfg: SimConfig, g: Graph, seed: int, top: int) -> str:
    pr = cProfile.Profile()
    pr.enable()
    new_simulation(cfg, seed, graph=g).run()
    pr.disable()
    buf = io.StringIO()
    st = pstats.Stats(pr, stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# ------------------------------------------------------------------------------------- report


def paired(ee_kept: list[dict[str, Any]]) -> dict[str, float]:
    """Ratios of spreadsim to EoN under the same machine conditions: for each kept EoN run, the
    median infections/s of spreadsim's runs just before and just after it (``around``) over EoN's
    own; medians over EoN's runs. Empty if the runs were not paired."""
    ee = [r for r in ee_kept if r.get("around")]
    if not ee:
        return {}
    med = statistics.median

    def ratios(key: str, eon_key: str) -> list[float]:
        return [med(x[key] for x in r["around"]) / (r["inf"] / r[eon_key]) for r in ee]

    wall, cpu = ratios("ips", "wall"), ratios("ips_cpu", "cpu")
    every = [x for r in ee for x in r["around"]]
    out = {
        "runs": len(ee), "n_around": len(every),
        "ratio": med(wall), "ratio_min": min(wall), "ratio_max": max(wall),
        "ratio_cpu": med(cpu), "ratio_cpu_min": min(cpu), "ratio_cpu_max": max(cpu),
        "ss_ips_cpu": med(x["ips_cpu"] for x in every),
        "ss_ips_cpu_min": min(x["ips_cpu"] for x in every),
        "ss_ips_cpu_max": max(x["ips_cpu"] for x in every),
    }
    if all("bare_ips_cpu" in x for x in every):
        out["bare_ratio_cpu"] = med(ratios("bare_ips_cpu", "cpu"))
        out["bare_ips_cpu"] = med(x["bare_ips_cpu"] for x in every)
        q = statistics.quantiles([x["ips_cpu"] / x["bare_ips_cpu"] for x in every], n=4)
        out["ss_bare_cpu"] = med(x["ips_cpu"] / x["bare_ips_cpu"] for x in every)
        out["ss_bare_cpu_q1"], out["ss_bare_cpu_q3"] = q[0], q[2]
    return out


def _fmt_t(v: list[float]) -> str:
    return f"{statistics.median(v):.3f} ({min(v):.3f}-{max(v):.3f})"


def summarize(kept: list[dict[str, Any]]) -> dict[str, float]:
    w = [r["wall"] for r in kept]
    inf = [r["inf"] for r in kept]
    ips = [r["inf"] / r["wall"] for r in kept]
    cpu = [r["cpu"] for r in kept]
    return {
        "wall": statistics.median(w),
        "wall_s": _fmt_t(w),
        "inf": statistics.median(inf),
        "ips": statistics.median(ips),
        "ips_min": min(ips),
        "ips_max": max(ips),
        "cpu": statistics.median(cpu),
        "ips_cpu": statistics.median(r["inf"] / r["cpu"] for r in kept),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="users (default 100000)")
    ap.add_argument("--m", type=int, default=5, help="BA edges per new node (default 5)")
    ap.add_argument("--T", type=float, default=0.23, help="share prob = SIR transmissibility")
    ap.add_argument("--runs", type=int, default=7, help="large outbreaks kept per tool")
    ap.add_argument("--graph-seed", type=int, default=1)
    ap.add_argument("--horizon", type=float, default=1e6, help="spreadsim horizon_h (1e6)")
    ap.add_argument("--rate", type=float, default=1.0, help="feed delay rate per h; EoN gamma")
    ap.add_argument(
        "--min-frac", type=float, default=0.01, help="keep outbreaks with at least this fraction infected (0.01)"
    )
    ap.add_argument("--max-tries", type=int, default=0, help="seeds tried per tool (10*runs)")
    ap.add_argument("--skip-eon", action="store_true", help="no EoN run")
    ap.add_argument("--skip-heapq", action="store_true", help="no plain-heapq reference run")
    ap.add_argument("--skip-bare", action="store_true", help="no bare compiled-kernel reference run")
    ap.add_argument("--json", help="write the results here (for run_all.py)")
    ap.add_argument("--profile-top", type=int, default=15, help="cProfile rows (0: none)")
    ap.add_argument("--no-pairing", action="store_true",
                    help="do not run spreadsim's kept seeds again just before and after each EoN run")
    ap.add_argument("--no-gc-freeze", action="store_true",
                    help="leave the graphs' Python objects in the garbage collector's generations")
    a = ap.parse_args(argv)
    if not 0.0 < a.T < 1.0:
        ap.error("--T must be in (0, 1)")
    max_tries = a.max_tries or 10 * a.runs
    min_inf = max(1, int(np.ceil(a.min_frac * a.n)))

    gamma = a.rate
    tau = gamma * a.T / (1.0 - a.T)  # T = tau / (tau + gamma)
    try:
        eon_version = metadata.version("EoN")
    except metadata.PackageNotFoundError:  # pragma: no cover
        eon_version = "?"

    print(
        f"# bench_spread  {_dt.datetime.now().isoformat(timespec='seconds')}  "
        f"python {platform.python_version()}  cpus {os.cpu_count()}  "
        f"numba {metadata.version('numba')}  networkx {nx.__version__}  EoN {eon_version}"
    )
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; spreadsim {_git_state()}")
    G, g, t_ba, t_conv, how = build_graph(a.n, a.m, a.graph_seed)
    print(
        f"graph: BA n={a.n} m={a.m} seed={a.graph_seed}: {G.number_of_edges()} edges; "
        f"networkx build {t_ba:.2f}s; {how} {t_conv:.2f}s; peak RSS so far {_maxrss_mib():.0f} MiB"
    )
    if not a.no_gc_freeze:
        # the networkx graph (kept for EoN and the uploader labels) is millions of Python objects
        # that every full collection would rescan during either tool's runs: move them out of
        # the collector's generations, for both tools alike
        gc.collect()
        gc.freeze()
    frozen = f"{gc.get_freeze_count()} objects frozen (gc.freeze) after the graph build, for both tools"
    print(f"gc: {'graphs left in the collector' if a.no_gc_freeze else frozen}")
    cfg = spreadsim_config(a.T, a.horizon, a.rate)
    print(
        f"spreadsim: p={a.T}, exponential delay rate {a.rate}/h, horizon {a.horizon:g} h | "
        f"EoN fast_SIR: tau={tau:.6g}, gamma={gamma:g} (T={a.T}) | keep outbreaks >= "
        f"{min_inf} infected, {a.runs} per tool, at most {max_tries} seeds"
    )

    # ---- spreadsim
    t0 = time.perf_counter()
    run_spreadsim(cfg, g, 10**6)  # warm-up: numba compile / cache load, untimed
    warm = time.perf_counter() - t0
    warm_rss = _maxrss_mib()
    ph = Phase()

    if not a.skip_bare:
        run_bare(cfg, g, 10**6, a.T, a.rate)  # warm-up of the bare kernel (compile), untimed
    bare: dict[int, dict[str, Any]] = {}

    def one_ss(seed: int) -> dict[str, Any]:
        dt, cpu, inf, reach, up = run_spreadsim(cfg, g, seed)
        if not a.skip_bare:  # interleaved seed by seed, so that the machine's load hits both alike
            b_dt, b_cpu, b_inf, b_reach = run_bare(cfg, g, seed, a.T, a.rate)
            if (b_inf, b_reach) != (inf, reach):  # same model, same draws: the same cascade
                raise SystemExit(f"bare kernel disagrees with spreadsim at seed {seed}: {b_inf} "
                                 f"infections, {b_reach} reached vs {inf}, {reach}")
            bare[seed] = {"wall": b_dt, "cpu": b_cpu, "inf": b_inf, "reach": b_reach, "seed": seed}
        return {"wall": dt, "cpu": cpu, "inf": inf, "reach": reach, "uploader": up}

    ss_kept, ss_small = collect_runs(one_ss, a.runs, max_tries, min_inf)
    ss_peak, ss_base = ph.peak_mib(), ph.start_mib
    bk_kept = [bare[r["seed"]] for r in ss_kept if r["seed"] in bare]
    bk_peak = bk_base = float("nan")  # measured together with spreadsim's runs
    print(
        f"spreadsim: warm-up {warm:.2f}s (peak RSS {warm_rss:.0f} MiB); kept {len(ss_kept)}, "
        f"discarded small {len(ss_small)} (seeds {ss_small})"
    )

    if bk_kept:
        print(f"bare compiled kernel: run after spreadsim on every seed; the same infections and reach "
              f"on all {len(bare)} seeds")

    # ---- EoN
    ee_kept: list[dict[str, Any]] = []
    ee_small: list[int] = []
    ee_peak = ee_base = float("nan")
    if not a.skip_eon:
        import EoN  # noqa: F401

        t0 = time.perf_counter()
        run_eon(G, tau, gamma, uploader_of(cfg, g, 10**6), 10**6)  # warm-up, untimed
        warm = time.perf_counter() - t0
        ph = Phase()
        ss_seeds = [r["seed"] for r in ss_kept] if not a.no_pairing else []

        def bracket() -> list[dict[str, float]]:
            """spreadsim's kept seeds once more (and the bare kernel's), right now, after one
            untimed run of each: EoN's run evicted the graph and the work arrays from the caches,
            which back-to-back runs (the first phase, a sweep) find warm."""
            out = []
            if ss_seeds:
                run_spreadsim(cfg, g, ss_seeds[0])
                if not a.skip_bare:
                    run_bare(cfg, g, ss_seeds[0], a.T, a.rate)
            for sd in ss_seeds:
                dt, cpu, inf, _reach, _up = run_spreadsim(cfg, g, sd)
                rec = {"ips": inf / dt, "ips_cpu": inf / cpu}
                if not a.skip_bare:
                    b_dt, b_cpu, b_inf, _b_reach = run_bare(cfg, g, sd, a.T, a.rate)
                    rec |= {"bare_ips": b_inf / b_dt, "bare_ips_cpu": b_inf / b_cpu}
                out.append(rec)
            return out

        def one_eon(seed: int) -> dict[str, Any]:
            node = uploader_of(cfg, g, seed)
            before = bracket()  # (spreadsim's work arrays exist already: EoN's peak RSS barely moves)
            dt, cpu, inf = run_eon(G, tau, gamma, node, seed)
            return {"wall": dt, "cpu": cpu, "inf": inf, "uploader": node, "around": before + bracket()}

        ee_kept, ee_small = collect_runs(one_eon, a.runs, max_tries, min_inf)
        ee_peak, ee_base = ph.peak_mib(), ph.start_mib
        print(f"EoN: warm-up {warm:.2f}s; kept {len(ee_kept)}, discarded small {len(ee_small)} (seeds {ee_small})")

    # ---- plain heapq reference (pure Python, same model as spreadsim)
    hq_kept: list[dict[str, Any]] = []
    hq_small: list[int] = []
    hq_peak = hq_base = float("nan")
    if not a.skip_heapq:
        ip, ix = g.indptr.tolist(), g.indices.tolist()
        run_heapq(ip, ix, int(new_simulation(cfg, 10**6, graph=g).uploaders[0]), a.T, a.rate, 10**6)
        ph = Phase()

        def one_hq(seed: int) -> dict[str, Any]:
            up = int(new_simulation(cfg, seed, graph=g).uploaders[0])
            dt, cpu, inf, views = run_heapq(ip, ix, up, a.T, a.rate, seed)
            return {"wall": dt, "cpu": cpu, "inf": inf, "views": views}

        hq_kept, hq_small = collect_runs(one_hq, a.runs, max_tries, min_inf)
        hq_peak, hq_base = ph.peak_mib(), ph.start_mib
        del ip, ix
        print(f"heapq: kept {len(hq_kept)}, discarded small {len(hq_small)} (seeds {hq_small})")

    if not ss_kept:
        print("no large spreadsim outbreak: nothing to report")
        return 1

    # ---- table
    s = summarize(ss_kept)
    reach_med = statistics.median(r["reach"] for r in ss_kept)
    hdr = (
        f"{'tool':<10} {'runs':>4} {'small':>5} {'wall s/run med (min-max)':>26} "
        f"{'CPU s':>7} {'infections':>10} {'inf/s med':>10} {'inf/s min-max':>17} "
        f"{'inf/CPU-s':>10} {'peak RSS MiB':>13}"
    )
    print()
    print(hdr)
    print("-" * len(hdr))

    def row(name: str, kept: list[dict[str, Any]], small: list[int], peak: float, base: float) -> None:
        x = summarize(kept)
        rss = f"{peak:.0f} ({peak - base:+.0f})" if peak == peak else "with spreadsim"
        print(
            f"{name:<10} {len(kept):>4} {len(small):>5} {x['wall_s']:>26} {x['cpu']:>7.3f} "
            f"{x['inf']:>10.0f} {x['ips']:>10.0f} {x['ips_min']:>8.0f}-{x['ips_max']:<8.0f} "
            f"{x['ips_cpu']:>10.0f} {rss:>13}"
        )

    row("spreadsim", ss_kept, ss_small, ss_peak, ss_base)
    if bk_kept:
        row("compiled", bk_kept, ss_small, bk_peak, bk_base)
    if hq_kept:
        row("heapq", hq_kept, hq_small, hq_peak, hq_base)
    if ee_kept:
        row("EoN", ee_kept, ee_small, ee_peak, ee_base)
    if bk_kept:
        c = summarize(bk_kept)
        print(
            f"spreadsim / bare compiled kernel (the compiled limit of this model: no engine, SimPy,"
            f" policies or tables): wall {s['ips'] / c['ips']:.2f}, CPU {s['ips_cpu'] / c['ips_cpu']:.2f}"
        )
    if hq_kept:
        h = summarize(hq_kept)
        print(
            f"infections/s ratio spreadsim/heapq (plain-heapq pure-Python reference, same model):"
            f" wall {s['ips'] / h['ips']:.1f}x, CPU {s['ips_cpu'] / h['ips_cpu']:.1f}x"
        )
    if ee_kept:
        e = summarize(ee_kept)
        ratio = s["ips"] / e["ips"]
        print(
            f"infections/s ratio spreadsim/EoN (ratio of the medians of per-run infections/s):"
            f" wall {ratio:.1f}x, CPU {s['ips_cpu'] / e['ips_cpu']:.1f}x"
        )
        if bk_kept:
            print(f"infections/s ratio bare compiled kernel/EoN: wall {c['ips'] / e['ips']:.1f}x, "
                  f"CPU {c['ips_cpu'] / e['ips_cpu']:.1f}x")
        pr = paired(ee_kept)
        if pr:
            print(
                f"paired with each EoN run (spreadsim's {len(ss_kept)} kept seeds run just before and "
                f"just after it, {pr['n_around']} runs in all): spreadsim "
                f"{pr['ss_ips_cpu']:.0f} inf/CPU-s ({pr['ss_ips_cpu_min']:.0f}-{pr['ss_ips_cpu_max']:.0f})"
            )
            print(
                f"  spreadsim/EoN per EoN run, median (min-max): CPU {pr['ratio_cpu']:.1f}x "
                f"({pr['ratio_cpu_min']:.1f}-{pr['ratio_cpu_max']:.1f}), wall {pr['ratio']:.1f}x "
                f"({pr['ratio_min']:.1f}-{pr['ratio_max']:.1f})   [goal >= 80x and >= 1M inf/s]"
            )
            if "bare_ratio_cpu" in pr:
                print(
                    f"  bare compiled kernel/EoN: CPU {pr['bare_ratio_cpu']:.1f}x; spreadsim/bare over "
                    f"the {pr['n_around']} pairs: CPU {pr['ss_bare_cpu']:.2f} "
                    f"({pr['ss_bare_cpu_q1']:.2f}-{pr['ss_bare_cpu_q3']:.2f} quartiles)"
                )
        print(
            f"final sizes: spreadsim {s['inf']:.0f} sharers ({s['inf'] / a.n:.1%}), "
            f"{reach_med:.0f} reached ({reach_med / a.n:.1%}); EoN {e['inf']:.0f} infected "
            f"({e['inf'] / a.n:.1%})"
        )
    else:
        print(f"final sizes: spreadsim {s['inf']:.0f} sharers, {reach_med:.0f} reached")
    print("-" * len(hdr))
    print(
        "peak RSS: ru_maxrss after the tool's timed runs, high-water mark reset after its "
        "warm-up (+ = above the RSS at that point, which holds both graphs)"
    )
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(other processes on the {os.cpu_count()} cores inflate wall times; CPU s is steadier)"
    )

    # ---- where spreadsim's time goes
    seeds = [r["seed"] for r in ss_kept]
    b = breakdown(cfg, g, seeds)
    print()
    print(
        f"spreadsim per-run breakdown (median over the {len(seeds)} kept seeds, CPU s; "
        f"{b['views']:.0f} exposures, {b['reach']:.0f} reached, {b['inf']:.0f} infections):"
    )
    for k, label in (
        ("setup", "Simulation.__init__"),
        ("kernel", f"kernel advance+share+settle_inert ({b['kernel_calls']:.0f} calls)"),
        ("engine", "SimPy loop and engine outside the kernel"),
        ("collect", "metrics.collect"),
        ("total", "total"),
    ):
        print(f"  {label:<48} {b[k]:8.4f}  {100 * b[k] / b['total']:5.1f}%")
    print(
        f"  kernel: {1e9 * b['kernel'] / b['views']:.0f} ns per exposure, "
        f"{b['inf'] / b['kernel']:.0f} infections/s inside the kernel; "
        f"graph conversion (once, not per run) {t_conv:.2f}s"
    )
    if a.profile_top > 0:
        print()
        print(f"cProfile of one spreadsim run (seed {seeds[0]}), top {a.profile_top} by cumulative:")
        print(profile_one(cfg, g, seeds[0], a.profile_top))
    if a.json:
        out: dict[str, Any] = {"args": vars(a), "load_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                               "breakdown": b}
        for name, kept in (("spreadsim", ss_kept), ("compiled", bk_kept), ("heapq", hq_kept), ("EoN", ee_kept)):
            if kept:
                x = summarize(kept)
                out[name] = {k: v for k, v in x.items() if k != "wall_s"} | {
                    "runs": len(kept), "wall_s": x["wall_s"], "cpu_s": _fmt_t([r["cpu"] for r in kept]),
                    "ips_cpu_min": min(r["inf"] / r["cpu"] for r in kept),
                    "ips_cpu_max": max(r["inf"] / r["cpu"] for r in kept)}
        out["peak_rss_spreadsim"] = ss_peak
        if ee_kept and paired(ee_kept):
            out["paired"] = paired(ee_kept)
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
