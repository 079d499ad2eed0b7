"""How run time grows with graph size and with cascade size (issue 5, goal 5).

Part A, graph size: ``random_k_out`` graphs (every user has exactly ``--k`` followers drawn
uniformly; directed; built by ``spreadsim.graphs.build_graph``, build time reported separately and
not part of a run) of ``--sizes`` users. One post from one random uploader, reshare probability
``--p`` (k * p = 2 by default: a supercritical cascade that reaches a fixed share of the users, so
the cascade grows in proportion to the graph), exponential feed delay 1/h, horizon ``--horizon`` h,
no policy. Seeds 0, 1, ... until ``--runs`` large cascades (reach >= 1 % of the users) are kept.

Part B, cascade size: on one graph (``--cascade-n`` users, same k), reshare probability
``--cascade-ps`` from just above the threshold (1/k) up: the same graph, cascades from a few
thousand to most users.

For every row: wall (``perf_counter``) and CPU (``process_time``) seconds per run, median
(min-max), and events = exposures (views) and shares; throughput in exposures and shares per CPU
second; ``ns/exp`` = CPU ns per exposure. Near-linear growth shows as a flat ns/exp column and as
an exponent close to 1 in a least-squares fit of log(CPU s) against log(exposures) (the ``slope``
line), and as a straight-line fit CPU = fixed + marginal x exposures. Runs of all sizes are
timed in one invocation (peers of each other); load average printed.

Usage::

    python benchmarks/bench_scale.py                        # quick: 10k, 100k
    python benchmarks/bench_scale.py --sizes 10000 100000 1000000 --runs 5
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from _common import header, loadavg, maxrss_mib, mmm, run_once, stats, write_json  # noqa: E402
from spreadsim.graphs import build_graph  # noqa: E402
from spreadsim.schema.config import SimConfig  # noqa: E402


def config(p: float, horizon: float) -> SimConfig:
    return SimConfig.from_dict({
        "graph": {"kind": "barabasi_albert"},  # a valid placeholder: the graph is passed in
        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 1.0}},
        "scenario": {"illegal_posts": 1, "legal_posts": 0, "uploaders": 1, "window_h": 0,
                     "horizon_h": horizon, "categories": {"hate_speech": {"weight": 1, "share_prob": p}}},
    })


def large_runs(cfg: SimConfig, g: Any, runs: int, min_reach: int) -> tuple[list[dict[str, Any]], int]:
    kept: list[dict[str, Any]] = []
    small = 0
    seed = 0
    while len(kept) < runs and seed < 5 * runs:
        r = run_once(cfg, g, seed)
        if r["reach"] >= min_reach:
            kept.append(r)
        else:
            small += 1
        seed += 1
    return kept, small


def row(label: str, n: int, kept: list[dict[str, Any]], small: int, build: float | None) -> dict[str, Any]:
    cpu = [r["cpu"] for r in kept]
    wall = [r["wall"] for r in kept]
    views = [r["views"] for r in kept]
    shares = [r["shares"] for r in kept]
    return {
        "label": label, "n": n, "runs": len(kept), "small": small, "build_s": build,
        "wall": stats(wall), "cpu": stats(cpu), "wall_s": mmm(wall), "cpu_s": mmm(cpu),
        "views": stats(views), "shares": stats(shares), "reach": stats([r["reach"] for r in kept]),
        "views_per_cpu": stats([r["views"] / r["cpu"] for r in kept]),
        "shares_per_cpu": stats([r["shares"] / r["cpu"] for r in kept]),
        "views_per_wall": stats([r["views"] / r["wall"] for r in kept]),
        "ns_per_view": stats([1e9 * r["cpu"] / r["views"] for r in kept]),
    }


def table(title: str, rows: list[dict[str, Any]]) -> float:
    print()
    print(title)
    hdr = (f"{'case':<14} {'build s':>7} {'runs':>4} {'wall s/run med (min-max)':>26} "
           f"{'CPU s/run med (min-max)':>26} {'exposures':>10} {'shares':>9} {'exp/CPU-s':>10} "
           f"{'shares/CPU-s':>12} {'exp/wall-s':>10} {'ns/exp':>7}")
    print(hdr)
    print("-" * len(hdr))
    for x in rows:
        b = f"{x['build_s']:.2f}" if x["build_s"] is not None else "-"
        print(f"{x['label']:<14} {b:>7} {x['runs']:>4} {x['wall_s']:>26} {x['cpu_s']:>26} "
              f"{x['views']['med']:>10.0f} {x['shares']['med']:>9.0f} {x['views_per_cpu']['med']:>10.0f} "
              f"{x['shares_per_cpu']['med']:>12.0f} {x['views_per_wall']['med']:>10.0f} "
              f"{x['ns_per_view']['med']:>7.0f}")
    print("-" * len(hdr))
    if len(rows) >= 2:
        lx = np.log([x["views"]["med"] for x in rows])
        ly = np.log([x["cpu"]["med"] for x in rows])
        slope = float(np.polyfit(lx, ly, 1)[0])
        lo, hi = rows[0], rows[-1]
        print(f"slope of log(CPU s) vs log(exposures): {slope:.2f} (1 = linear); exposures x"
              f"{hi['views']['med'] / lo['views']['med']:.0f} -> CPU x{hi['cpu']['med'] / lo['cpu']['med']:.0f}, "
              f"ns/exp {lo['ns_per_view']['med']:.0f} -> {hi['ns_per_view']['med']:.0f}")
        x = np.array([r["views"]["med"] for r in rows], dtype=float)
        y = np.array([r["cpu"]["med"] for r in rows], dtype=float)
        b, c = np.polyfit(x, y, 1)
        print(f"linear fit CPU s = {c * 1e3:.1f} ms + {b * 1e9:.0f} ns x exposures "
              f"(fixed per-run cost + marginal cost per exposure)")
        return slope
    return math.nan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                    help="graph sizes (full: 10000 100000 1000000)")
    ap.add_argument("--k", type=int, default=10, help="followers per user (random_k_out)")
    ap.add_argument("--p", type=float, default=0.2, help="reshare probability in part A")
    ap.add_argument("--runs", type=int, default=3, help="large cascades kept per row (full: 5)")
    ap.add_argument("--horizon", type=float, default=1000.0)
    ap.add_argument("--cascade-n", type=int, default=100_000)
    ap.add_argument("--cascade-ps", type=float, nargs="*", default=[0.12, 0.14, 0.17, 0.2, 0.3, 0.5, 0.8])
    ap.add_argument("--graph-seed", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    info = header("bench_scale")
    run_once(config(a.p, a.horizon), build_graph({"kind": "random_k_out", "n": 1000, "k": a.k}, 0), 0)

    graphs: dict[int, tuple[Any, float]] = {}

    def graph(n: int) -> tuple[Any, float]:
        if n not in graphs:
            t0 = time.perf_counter()
            g = build_graph({"kind": "random_k_out", "n": n, "k": a.k, "seed": a.graph_seed}, a.graph_seed)
            graphs.clear()  # keep one graph at a time (memory)
            graphs[n] = (g, time.perf_counter() - t0)
        return graphs[n]

    print(f"part A: random_k_out k={a.k}, one post, p={a.p} (k*p={a.k * a.p:g}), exponential delay 1/h, "
          f"horizon {a.horizon:g} h, no policy; sizes {a.sizes}")
    rows_a = []
    for n in a.sizes:
        g, build = graph(n)
        kept, small = large_runs(config(a.p, a.horizon), g, a.runs, max(1, n // 100))
        if kept:
            rows_a.append(row(f"n={n:,}", n, kept, small, build))
        print(f"  n={n:,} done ({len(kept)} kept, {small} small; load {loadavg()}; "
              f"peak RSS {maxrss_mib():.0f} MiB)", flush=True)
    slope_a = table(f"A. graph size (random_k_out k={a.k}, p={a.p})", rows_a)

    g, build = graph(a.cascade_n)
    rows_b = []
    for p in a.cascade_ps:
        kept, small = large_runs(config(p, a.horizon), g, a.runs, max(1, a.cascade_n // 1000))
        if kept:
            rows_b.append(row(f"p={p:g}", a.cascade_n, kept, small, None))
    slope_b = table(f"B. cascade size (random_k_out n={a.cascade_n:,} k={a.k}, build {build:.2f}s; "
                    f"reshare probability varied; cascades >= 0.1% of users kept)", rows_b)
    print(f"load average at the end: {loadavg()}; peak RSS {maxrss_mib():.0f} MiB")
    write_json(a.json, {"info": info, "args": vars(a), "size_rows": rows_a, "cascade_rows": rows_b,
                        "slope_size": slope_a, "slope_cascade": slope_b})
    return 0


if __name__ == "__main__":
    sys.exit(main())
