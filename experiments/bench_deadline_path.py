"""Cost of a removal-latency sweep on the deadline path, in units of one simulated run per seed.

The default world (Barabasi-Albert n=10000 m=5, graph.seed 2018, default scenario and spread),
20 paired seeds. Three timings, each in process time (CPU seconds of this process, robust to
other load on the machine) and wall time:

* one run per seed: ``simulate`` at latency 24 h without baseline, 20 seeds;
* the deadline path: every job of an N-point latency sweep through ``run_job`` (tables written,
  baselines included), sharing one trace cache, as the ``spreadsim`` sweep does;
* the simulated path (``deadline_path=off``) for the same sweep, if ``--off`` is given.

Run: python experiments/bench_deadline_path.py [--points 20] [--off] [--users N] [--posts P]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from spreadsim.graphs import build_graph, graph_seed
from spreadsim.runs.job import run_job
from spreadsim.runs.jobspec import check_job_config
from spreadsim.runs.single import simulate

BASE = {"graph": {"kind": "barabasi_albert", "n": 10_000, "m": 5, "seed": 2018},
        "policy": {"name": "fixed_latency", "latency_h": 24.0}, "seed": 0, "seeds": 20,
        "baseline": True}


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--off", action="store_true", help="also time the simulated path")
    ap.add_argument("--users", type=int, default=10_000, help="graph size (default world: 10000)")
    ap.add_argument("--posts", type=int, default=20, help="illegal posts (default world: 20)")
    a = ap.parse_args()
    BASE["graph"] = {**BASE["graph"], "n": a.users}
    BASE["scenario"] = {"illegal_posts": a.posts}
    latencies = [0.0, *np.geomspace(0.25, 720.0, a.points - 2).tolist(), float("inf")]
    spec = check_job_config(BASE)
    g0 = _clock()
    graph = build_graph(spec.sim.graph, graph_seed(spec.sim.graph, 0))
    g1 = _clock()
    build_cpu = g1[0] - g0[0]
    print(f"graph build (the runner builds the pinned graph once per job that simulates, once in "
          f"all on the deadline path): {build_cpu:.2f} s CPU")
    simulate(spec.sim, 0, graph=graph)  # compile / warm up
    c0, w0 = _clock()
    for s in spec.seeds:
        simulate(spec.sim, s, graph=graph)
    c1, w1 = _clock()
    one_cpu, one_wall = c1 - c0, w1 - w0
    print(f"one run per seed ({len(spec.seeds)} seeds): {one_cpu:.2f} s CPU, {one_wall:.2f} s wall")
    modes = ["auto", "off"] if a.off else ["auto"]
    for mode in modes:
        with tempfile.TemporaryDirectory() as tmp:
            c0, w0 = _clock()
            for j, lat in enumerate(latencies):
                cfg = {**BASE, "policy": {**BASE["policy"], "latency_h": lat}, "deadline_path": mode}
                run_job(cfg, Path(tmp) / str(j), job_num=j, cache_dir=Path(tmp) / ".cache")
            c1, w1 = _clock()
        builds = 1 if mode == "auto" else a.points
        net = (c1 - c0) - builds * build_cpu
        print(f"{a.points}-point sweep, deadline_path={mode}: {c1 - c0:.2f} s CPU "
              f"({(c1 - c0) / one_cpu:.2f} x one run per seed), {w1 - w0:.2f} s wall "
              f"({(w1 - w0) / one_wall:.2f} x); without its {builds} graph build(s): "
              f"{net:.2f} s CPU ({net / one_cpu:.2f} x one run per seed)")


if __name__ == "__main__":
    main()
