"""Peak memory and load time of a full simulation on a large edge list (issue 5, goal 3).

Writes a seeded random directed edge list (``bench_load.write_edgelist``: ``--nodes`` users,
``--edges`` lines, tab separated, comment header) to a temporary directory; then, for each
``--policies`` variant, a FRESH Python subprocess imports spreadsim, loads the file with
``load_edgelist`` (timed) and runs one full simulation on it (``new_simulation(cfg, seed,
graph=g).run()``: setup, SimPy loop, kernel, result collection), and reports its own
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the import, after the load and at the end (the
peak of the whole process). The numba kernels come from the on-disk cache (one warm-up run in a
throwaway child first, so no child pays compilation, whose LLVM memory would count as peak RSS).

Campaign: ``--illegal`` illegal + ``--legal`` legal posts (default 10 + 10) from random uploaders
over the first 24 h, reshare probability ``--p`` (0.2: with ~10 followers per user, k*p ~ 2,
every post that takes off reaches most users), exponential feed delay 1/h, horizon 336 h.
Variants: ``none`` (no policy) and ``pipeline`` (notice_and_takedown + automated_detection at
upload and at reach 1000 / 10000, as in bench_pipeline.py). The import-only RSS of a fresh
interpreter is reported beside it as the peer.

Goal: load < 10 s and peak RSS < 1.5 GB (1536 MiB) for 1M nodes / 10M edges.

Usage::

    python benchmarks/bench_memory.py                                   # quick: 100k / 1M
    python benchmarks/bench_memory.py --nodes 1000000 --edges 10000000  # full
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header, loadavg, write_json  # noqa: E402
from bench_load import write_edgelist  # noqa: E402

GOAL_LOAD_S = 10.0
GOAL_RSS_MIB = 1536.0

_CHILD = r"""
import json, resource, sys, time
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
out = {}
t0 = time.perf_counter()
from spreadsim.graphs import load_edgelist
from spreadsim.runs.single import new_simulation
from spreadsim.schema.config import SimConfig
from spreadsim.engine.simulation import Simulation
out["import_s"] = time.perf_counter() - t0
out["rss_import"] = rss()
a = json.loads(sys.argv[2])
c0 = time.process_time(); t0 = time.perf_counter()
g = load_edgelist(sys.argv[1], directed=True)
out["load_s"] = time.perf_counter() - t0; out["load_cpu"] = time.process_time() - c0
out["rss_load"] = rss()
out["n"], out["arcs"] = g.n, g.num_arcs
d = {"graph": {"kind": "barabasi_albert"},  # a valid placeholder: the graph is passed in
     "spread": {"kernel": {"dist": "exponential", "rate_per_h": 1.0}},
     "scenario": {"illegal_posts": a["illegal"], "legal_posts": a["legal"], "uploaders": 10,
                  "window_h": 24, "horizon_h": 336,
                  "categories": {"hate_speech": {"weight": 1, "share_prob": a["p"]}},
                  "legal_share_prob": a["p"]}}
if a["policy"] == "pipeline":
    d["policy"] = [
        {"name": "notice_and_takedown", "moderators": 20, "notice_prob": 0.01,
         "review_time": {"dist": "exponential", "mean_h": 1.0}, "removal_prob": 0.59},
        {"name": "automated_detection", "at_upload": True, "reach_thresholds": [1000, 10000],
         "recall": 0.5, "precision": 0.9, "action": "review",
         "delay": {"dist": "exponential", "mean_h": 1.0}}]
cfg = SimConfig.from_dict(d)
c0 = time.process_time(); t0 = time.perf_counter()
r = new_simulation(cfg, a["seed"], graph=g).run()
out["sim_s"] = time.perf_counter() - t0; out["sim_cpu"] = time.process_time() - c0
p = r.posts
out["posts"] = int(len(p["post_id"]))
out["shares"] = int(p["shares"].sum()); out["views"] = int(p["views"].sum())
out["reach"] = int(p["reach"].sum()); out["max_reach"] = int(p["reach"].max())
out["rss_peak"] = rss()
print(json.dumps(out))
"""

_IMPORT_ONLY = ("import resource, spreadsim.engine.simulation, spreadsim.graphs; "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)")


def child(path: str, args: dict) -> dict:
    res = subprocess.run([sys.executable, "-c", _CHILD, path, json.dumps(args)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise SystemExit(f"child failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100_000, help="users (full: 1000000)")
    ap.add_argument("--edges", type=int, default=1_000_000, help="edge lines (full: 10000000)")
    ap.add_argument("--illegal", type=int, default=10)
    ap.add_argument("--legal", type=int, default=10)
    ap.add_argument("--p", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policies", nargs="+", default=["none", "pipeline"], choices=["none", "pipeline"])
    ap.add_argument("--edge-seed", type=int, default=12345)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    info = header("bench_memory")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "edges.txt")
        t0 = time.perf_counter()
        write_edgelist(path, a.nodes, a.edges, a.edge_seed)
        print(f"wrote {a.edges:,} edges / {a.nodes:,} nodes: {os.path.getsize(path) / 1e6:.0f} MB in "
              f"{time.perf_counter() - t0:.1f} s (generator of bench_load.py)")
        # warm the numba on-disk cache on a tiny file in a throwaway child (not measured)
        small = os.path.join(tmp, "small.txt")
        write_edgelist(small, 1000, 10000, 1)
        for pol in a.policies:
            child(small, {"illegal": 2, "legal": 2, "p": 0.2, "seed": 0, "policy": pol})
        imp = float(subprocess.run([sys.executable, "-c", _IMPORT_ONLY], capture_output=True,
                                   text=True, check=True).stdout)
        for pol in a.policies:
            out = child(path, {"illegal": a.illegal, "legal": a.legal, "p": a.p, "seed": a.seed,
                               "policy": pol})
            out["policy"] = pol
            rows.append(out)
            print(f"  {pol} done (load {loadavg()})", flush=True)

    print()
    print(f"fresh subprocess per row; campaign {a.illegal} illegal + {a.legal} legal posts, p={a.p}, "
          f"seed {a.seed}; peer: a fresh interpreter that only imports spreadsim peaks at {imp:.0f} MiB")
    hdr = (f"{'policy':<9} {'n':>9} {'arcs':>10} {'load s':>6} {'load CPU':>8} {'sim s':>7} {'sim CPU':>7} "
           f"{'exposures':>10} {'shares':>9} {'reach':>9} {'RSS import':>10} {'RSS load':>8} "
           f"{'peak RSS MiB':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['policy']:<9} {r['n']:>9} {r['arcs']:>10} {r['load_s']:>6.2f} {r['load_cpu']:>8.2f} "
              f"{r['sim_s']:>7.2f} {r['sim_cpu']:>7.2f} {r['views']:>10} {r['shares']:>9} {r['reach']:>9} "
              f"{r['rss_import']:>10.0f} {r['rss_load']:>8.0f} {r['rss_peak']:>12.0f}")
    print("-" * len(hdr))
    worst_load = max(r["load_s"] for r in rows)
    worst_rss = max(r["rss_peak"] for r in rows)
    met = worst_load < GOAL_LOAD_S and worst_rss < GOAL_RSS_MIB
    print(f"goal (issue 5 #3, at 1M nodes / 10M edges): load < {GOAL_LOAD_S:g} s: {worst_load:.2f} s; "
          f"peak RSS < {GOAL_RSS_MIB:.0f} MiB: {worst_rss:.0f} MiB -> "
          f"{'MET' if met else 'NOT met'}{'' if a.nodes >= 1_000_000 else ' (at this size; run the full size)'}")
    print(f"load average at the end: {loadavg()}")
    write_json(a.json, {"info": info, "args": vars(a), "rows": rows, "import_rss": imp,
                        "met": met, "full_size": a.nodes >= 1_000_000 and a.edges >= 10_000_000})
    return 0


if __name__ == "__main__":
    sys.exit(main())
