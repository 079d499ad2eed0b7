"""Cost of the moderation pipeline: plain spread beside notice-and-takedown + automated detection.

Same graph family as ``bench_spread.py`` (networkx Barabasi-Albert, ``--n``, ``--m``, graph seed 1,
converted once with ``from_networkx``), same feed delay (exponential, 1/h) and no decay. The
campaign is ``--illegal`` illegal posts (hate_speech) from ``--uploaders`` accounts plus
``--legal`` legal posts from random users, uploaded uniformly over ``--window`` hours, every post
with reshare probability ``--p`` (0.23: each post that takes off reaches ~80 % of the users), horizon
``--horizon`` h. Legal posts are there so detection precision can be calibrated (and misfire).

Variants (the same seeds for each; runs interleaved seed by seed so load hits them alike):

* ``plain``     no policy.
* ``ntd``       notice_and_takedown: notice_prob 0.01 per exposed user, 20 moderators,
                exponential review time (mean 1 h), removal_prob 0.59 (Code of Conduct 2017).
* ``ntd+det0``  ntd + automated_detection at upload only (recall 0.5, precision 0.9,
                action review, delay exponential mean 1 h).
* ``pipeline``  ntd + automated_detection at upload and at reach 1000 and 10000 (same rates):
                the full pipeline of issue 3 / issue 5 goal 2.

Throughput: infections = shares + uploaded posts (every post, legal included), per CPU second
(``time.process_time``) and per wall second, median (min-max) over the runs; ratios are ratios of
the medians of per-run throughputs against ``plain`` measured in the same invocation. One untimed
warm-up run per variant first. Afterwards one seed per variant is rerun with the compiled kernel
entry points wrapped by CPU timers (kernel share of the CPU time, number of kernel calls = how
often the kernel stopped to hand an event to SimPy).

Usage::

    python benchmarks/bench_pipeline.py                 # quick: n=20000, 3 runs
    python benchmarks/bench_pipeline.py --n 100000 --runs 5   # full (issue 3/5)
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import networkx as nx

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from _common import header, loadavg, maxrss_mib, mmm, run_once, stats, write_json  # noqa: E402
from spreadsim.graphs import from_networkx  # noqa: E402
from spreadsim.schema.config import SimConfig  # noqa: E402

GOAL = 300_000  # issue 5 goal 2: infections per second with NTD + detection


def policies(variant: str, thresholds: list[int]) -> list[dict[str, Any]] | None:
    ntd = {"name": "notice_and_takedown", "moderators": 20, "notice_prob": 0.01,
           "review_time": {"dist": "exponential", "mean_h": 1.0}, "removal_prob": 0.59}
    det = {"name": "automated_detection", "at_upload": True, "reach_thresholds": [], "recall": 0.5,
           "precision": 0.9, "action": "review", "delay": {"dist": "exponential", "mean_h": 1.0}}
    if variant == "plain":
        return None
    if variant == "ntd":
        return [ntd]
    if variant == "ntd+det0":
        return [ntd, det]
    if variant == "pipeline":
        return [ntd, dict(det, reach_thresholds=thresholds)]
    raise ValueError(variant)


def make_config(a: argparse.Namespace, variant: str) -> SimConfig:
    d: dict[str, Any] = {
        "graph": {"kind": "barabasi_albert"},  # a valid placeholder: the graph is passed in
        "spread": {"kernel": {"dist": "exponential", "rate_per_h": 1.0}},
        "scenario": {"illegal_posts": a.illegal, "legal_posts": a.legal, "uploaders": a.uploaders,
                     "window_h": a.window, "horizon_h": a.horizon,
                     "categories": {"hate_speech": {"weight": 1, "share_prob": a.p}},
                     "legal_share_prob": a.p},
    }
    pol = policies(variant, a.thresholds)
    if pol is not None:
        d["policy"] = pol
    return SimConfig.from_dict(d)


VARIANTS = ("plain", "ntd", "ntd+det0", "pipeline")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="users (full: 100000)")
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="seeds per variant (full: 5)")
    ap.add_argument("--p", type=float, default=0.23, help="reshare probability of every post")
    ap.add_argument("--illegal", type=int, default=20)
    ap.add_argument("--legal", type=int, default=20)
    ap.add_argument("--uploaders", type=int, default=10)
    ap.add_argument("--window", type=float, default=24.0)
    ap.add_argument("--horizon", type=float, default=336.0)
    ap.add_argument("--thresholds", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--graph-seed", type=int, default=1)
    ap.add_argument("--json", help="write the results here (for run_all.py)")
    a = ap.parse_args(argv)
    if "plain" not in a.variants:
        a.variants = ["plain", *a.variants]

    info = header("bench_pipeline")
    t0 = time.perf_counter()
    G = nx.barabasi_albert_graph(a.n, a.m, seed=a.graph_seed)
    t1 = time.perf_counter()
    g = from_networkx(G, name=f"ba_{a.n}_{a.m}")
    t2 = time.perf_counter()
    del G
    print(f"graph: BA n={a.n} m={a.m} seed={a.graph_seed}: {g.num_edges} edges; networkx "
          f"{t1 - t0:.2f}s, from_networkx {t2 - t1:.2f}s (once, not timed per run)")
    print(f"campaign: {a.illegal} illegal (hate_speech) + {a.legal} legal posts, p={a.p}, "
          f"{a.uploaders} uploaders, window {a.window:g} h, horizon {a.horizon:g} h, exponential "
          f"feed delay 1/h; detection thresholds {a.thresholds}")

    cfgs = {v: make_config(a, v) for v in a.variants}
    warm = {}
    for v, c in cfgs.items():
        w0 = time.perf_counter()
        run_once(c, g, 10**6)
        warm[v] = time.perf_counter() - w0
    print("warm-up (untimed): " + ", ".join(f"{v} {s:.1f}s" for v, s in warm.items()))

    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in a.variants}
    for seed in range(a.runs):
        for v, c in cfgs.items():
            runs[v].append(run_once(c, g, seed))
        print(f"  seed {seed} done (load {loadavg()})", flush=True)

    rows = {}
    for v, rs in runs.items():
        rows[v] = {
            "wall": stats([r["wall"] for r in rs]),
            "cpu": stats([r["cpu"] for r in rs]),
            "infections": stats([r["infections"] for r in rs]),
            "views": stats([r["views"] for r in rs]),
            "removed": stats([r["removed"] for r in rs]),
            "inf_per_cpu": stats([r["infections"] / r["cpu"] for r in rs]),
            "inf_per_wall": stats([r["infections"] / r["wall"] for r in rs]),
            "views_per_cpu": stats([r["views"] / r["cpu"] for r in rs]),
        }
        s = rs[0]["summary"]
        rows[v]["policy_counts"] = {k: s[k] for k in s if k.startswith("policy") and any(
            w in k for w in ("_notices", "_reviews", "removals_true", "removals_wrongful", "scans"))
            and "share" not in k}

    # one seed per variant again with timers on the compiled kernel entry points
    for v, c in cfgs.items():
        r = run_once(c, g, 0, kernel_timers=True)
        rows[v]["kernel"] = {"cpu": r["cpu"], "kernel_cpu": r["kernel_cpu"],
                             "kernel_calls": r["kernel_calls"], "views": r["views"],
                             "infections": r["infections"]}

    hdr = (f"{'variant':<9} {'runs':>4} {'wall s/run med (min-max)':>26} {'CPU s/run med (min-max)':>25}"
           f" {'infections':>10} {'exposures':>10} {'rm':>3} {'inf/CPU-s (min-max)':>24} {'inf/wall-s':>10}"
           f" {'CPU ratio':>9} {'wall ratio':>10}")
    print()
    print(hdr)
    print("-" * len(hdr))
    base = rows["plain"]
    for v, x in rows.items():
        ic = x["inf_per_cpu"]
        print(f"{v:<9} {len(runs[v]):>4} {mmm([r['wall'] for r in runs[v]]):>26} "
              f"{mmm([r['cpu'] for r in runs[v]]):>25} {x['infections']['med']:>10.0f} "
              f"{x['views']['med']:>10.0f} {x['removed']['med']:>3.0f} "
              f"{ic['med']:>8.0f} ({ic['min']:.0f}-{ic['max']:.0f}) {x['inf_per_wall']['med']:>10.0f} "
              f"{ic['med'] / base['inf_per_cpu']['med']:>8.2f}x "
              f"{x['inf_per_wall']['med'] / base['inf_per_wall']['med']:>9.2f}x")
        x["ratio_cpu"] = ic["med"] / base["inf_per_cpu"]["med"]
        x["ratio_wall"] = x["inf_per_wall"]["med"] / base["inf_per_wall"]["med"]
    print("-" * len(hdr))
    pipe = rows.get("pipeline") or rows[a.variants[-1]]
    got = pipe["inf_per_cpu"]["med"]
    print("ratio = variant / plain (ratio of the medians of per-run infections/s, same invocation); "
          "rm = posts removed (median)")
    print(f"goal (issue 5 #2): pipeline >= {GOAL:,} infections/s: {got:,.0f}/CPU-s, "
          f"{pipe['inf_per_wall']['med']:,.0f}/wall-s -> {'MET' if got >= GOAL else 'NOT met'} "
          f"({got / GOAL:.2f} of the goal per CPU second)")
    print()
    print("where the CPU goes (seed 0 rerun with timers on kernel.advance/share/settle_inert):")
    for v, x in rows.items():
        k = x["kernel"]
        rest = k["cpu"] - k["kernel_cpu"]
        print(f"  {v:<9} CPU {k['cpu']:.3f}s: kernel {k['kernel_cpu']:.3f}s "
              f"({100 * k['kernel_cpu'] / k['cpu']:.0f}%, {k['kernel_calls']} calls, "
              f"{1e9 * k['kernel_cpu'] / max(k['views'], 1):.0f} ns/exposure), SimPy+engine+policies+"
              f"collect {rest:.3f}s ({1e6 * rest / max(k['kernel_calls'], 1):.1f} us per kernel call)")
    print("policy counts (seed 0): ")
    for v, x in rows.items():
        if x["policy_counts"]:
            print(f"  {v:<9} " + ", ".join(f"{k.split('_', 1)[1]}={val:g}" for k, val in
                                            x["policy_counts"].items()))
    print(f"peak RSS {maxrss_mib():.0f} MiB; load average at the end: {loadavg()}")
    write_json(a.json, {"info": info, "args": vars(a), "rows": rows, "goal": GOAL,
                        "met": got >= GOAL})
    return 0


if __name__ == "__main__":
    sys.exit(main())
