"""Parallel efficiency of a sweep on the joblib launcher (issue 5, goal 4).

Runs the ``spreadsim`` CLI (the console script next to this Python) on the same sweep with
``hydra.launcher.n_jobs=1`` and ``=2``, each into its own temporary sweep folder, alternating
1, 2, 1, 2, ... for ``--repeat`` rounds, and reports jobs per second and the parallel efficiency
``(jobs/s at 2) / (2 x jobs/s at 1)`` (ratio of the medians over the rounds).

The sweep: ``experiment=single hydra.mode=MULTIRUN policy=notice_and_takedown
policy.moderators=1,...,P seeds=S baseline=false deadline_path=off`` on the default graph (BA 10k,
m=5, graph.seed 2018) and default scenario (20 illegal + 20 legal posts, lognormal feed delay).
Notice-and-takedown is not a pure deadline, so every point is simulated (no deadline path / shared
cache of unmoderated runs), ``deadline_path=off`` makes sure of it and ``baseline=false`` drops the
unmoderated twin: every job is CPU-bound simulation of its own seeds.

Two measurements per command:

* **jobs phase**: from the first ``job N:`` start to the last ``job N done`` line of the sweep's log
  (the runner's own timestamps): the part the launcher parallelises, worker start-up included.
* **end to end**: the whole command (Hydra start-up, config validation, jobs, aggregation of the
  sweep into tables, plots and report.html, which is serial), wall and CPU (``RUSAGE_CHILDREN``:
  the command and its reaped workers).

Machine peer: before each round, a pure-Python spin loop is run alone and then two copies at once;
(2 / wall of the pair) / (2 / wall alone) is what the shared machine gives two CPU-bound processes at
that moment, the ceiling of any launcher; the sweep's efficiency is also shown relative to it.

Usage::

    python benchmarks/bench_sweep.py                                # quick: 4 x 4
    python benchmarks/bench_sweep.py --points 20 --seeds 100 --graph-n 30000 --repeat 5  # full

The full size is the issue's own sweep, 20 points x 100 seeds (issue 5: "20 latencies x 100
seeds"). With few jobs a round's efficiency depends on how the last ones pair up on the two
workers: at 8 points (4 jobs a worker, 0.5-0.9 s each) the one that ends alone costs up to a
tenth of the jobs phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import header, loadavg, mmm, stats, write_json  # noqa: E402

GOAL = 0.85
_TS = r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]"
_START = re.compile(_TS + r"\[spreadsim\.(?:runs\.)?sweep\]\[INFO\] - job (\d+): ")
_DONE = re.compile(_TS + r"\[spreadsim\.(?:runs\.)?sweep\]\[INFO\] - job (\d+) done: .*?, ([\d.]+) s ")


def _ts(s: str) -> float:
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def cli() -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "spreadsim")
    return exe if os.path.exists(exe) else shutil.which("spreadsim") or "spreadsim"


_SPIN = "x = 0\nfor i in range({n}): x += i\n"


def machine_peer(n: int = 20_000_000) -> dict[str, float]:
    """What the machine gives two CPU-bound processes now: a pure-Python loop run alone, then two
    copies at once (fresh interpreters). Efficiency = (2 / wall of the pair) / (2 x 1 / wall alone):
    the ceiling any launcher could reach at this load."""
    cmd = [sys.executable, "-c", _SPIN.format(n=n)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    alone = time.perf_counter() - t0
    t0 = time.perf_counter()
    ps = [subprocess.Popen(cmd) for _ in range(2)]
    for p in ps:
        p.wait()
    pair = time.perf_counter() - t0
    return {"alone": alone, "pair": pair, "eff": (2 / pair) / (2 / alone)}


def per_round(runs: dict[int, list[dict[str, Any]]], peers: list[dict[str, float]]) -> dict[str, Any]:
    """Efficiency round by round: each round's n_jobs=2 run against the n_jobs=1 run just before
    it (jobs phase and end to end), and against that round's machine peer: rounds a minute apart
    can land in different phases of a shared machine, as medians over all rounds do not see."""
    phase = [r1["phase"] / (2 * r2["phase"]) for r1, r2 in zip(runs[1], runs[2], strict=True)]
    e2e = [r1["wall"] / (2 * r2["wall"]) for r1, r2 in zip(runs[1], runs[2], strict=True)]
    out: dict[str, Any] = {"phase": phase, "e2e": e2e}
    if len(peers) == len(phase):
        out["phase_vs_peer"] = [x / p["eff"] for x, p in zip(phase, peers, strict=True)]
    return out


def run_sweep(n_jobs: int, a: argparse.Namespace, tmp: str, tag: str) -> dict[str, Any]:
    sweep_dir = os.path.join(tmp, tag)
    points = ",".join(str(m) for m in range(1, a.points + 1))
    cmd = [cli(), "experiment=single", "hydra.mode=MULTIRUN", "policy=notice_and_takedown",
           f"policy.moderators={points}", f"seeds={a.seeds}", "baseline=false", "deadline_path=off",
           f"graph.n={a.graph_n}", f"hydra.sweep.dir={sweep_dir}", f"hydra.launcher.n_jobs={n_jobs}",
           *a.extra]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    epoch0 = time.time()
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"sweep failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-3000:]}")
    log = res.stdout + res.stderr
    starts = [_ts(m.group(1)) for m in _START.finditer(log)]
    dones = [(_ts(m.group(1)), float(m.group(3))) for m in _DONE.finditer(log)]
    if len(dones) != a.points:
        raise SystemExit(f"expected {a.points} 'job N done' lines, found {len(dones)}:\n{log[-3000:]}")
    phase = max(t for t, _ in dones) - min(starts)
    shutil.rmtree(sweep_dir, ignore_errors=True)
    return {
        "n_jobs": n_jobs, "wall": wall,
        # serial parts of the command: start-up, Hydra's validation of every job's config and the
        # workers' start before the first job; aggregation, plots, report and exit after the last
        "before": min(starts) - epoch0, "after": epoch0 + wall - max(t for t, _ in dones),
        "cpu": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
        "phase": phase, "job_s": [d for _, d in dones],
        "jobs_per_s": a.points / wall, "phase_jobs_per_s": a.points / phase,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=4, help="sweep points = jobs (full: 20)")
    ap.add_argument("--seeds", type=int, default=4, help="seeds per job (full: 100)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of (n_jobs=1, n_jobs=2) (full: 5)")
    ap.add_argument("--graph-n", type=int, default=10_000, help="graph.n of the default BA graph")
    ap.add_argument("--extra", nargs="*", default=[], help="more CLI overrides")
    ap.add_argument("--skip-peer", action="store_true", help="no machine peer (spin loops)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    info = header("bench_sweep")
    print(f"sweep: notice_and_takedown, moderators 1..{a.points} ({a.points} jobs) x {a.seeds} seeds, "
          f"BA n={a.graph_n} m=5, baseline=false, deadline_path=off (every point simulated); "
          f"{a.repeat} round(s) of n_jobs=1 then 2; CLI {cli()}")
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    peers: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeat):
            if not a.skip_peer:
                peers.append(machine_peer())
                print(f"  round {i} machine peer: spin loop alone {peers[-1]['alone']:.1f} s, two at once "
                      f"{peers[-1]['pair']:.1f} s -> efficiency {peers[-1]['eff']:.0%}", flush=True)
            for nj in (1, 2):
                r = run_sweep(nj, a, tmp, f"r{i}_j{nj}")
                runs[nj].append(r)
                print(f"  round {i} n_jobs={nj}: {r['wall']:.1f} s end to end, jobs phase "
                      f"{r['phase']:.1f} s (load {loadavg()})", flush=True)

    rows = {}
    for nj, rs in runs.items():
        rows[nj] = {
            "wall": stats([r["wall"] for r in rs]), "cpu": stats([r["cpu"] for r in rs]),
            "phase": stats([r["phase"] for r in rs]),
            "jobs_per_s": stats([r["jobs_per_s"] for r in rs]),
            "phase_jobs_per_s": stats([r["phase_jobs_per_s"] for r in rs]),
            "job_s": stats([d for r in rs for d in r["job_s"]]),
            "before": stats([r["before"] for r in rs]), "after": stats([r["after"] for r in rs]),
        }
    hdr = (f"{'n_jobs':>6} {'rounds':>6} {'end-to-end wall s (min-max)':>28} {'CPU s':>7} {'jobs/s':>7} "
           f"{'jobs-phase s (min-max)':>24} {'jobs/s':>7} {'per-job s (min-max)':>22}")
    print()
    print(hdr)
    print("-" * len(hdr))
    for nj, x in rows.items():
        rs = runs[nj]
        print(f"{nj:>6} {len(rs):>6} {mmm([r['wall'] for r in rs], '.1f'):>28} {x['cpu']['med']:>7.1f} "
              f"{x['jobs_per_s']['med']:>7.3f} {mmm([r['phase'] for r in rs], '.1f'):>24} "
              f"{x['phase_jobs_per_s']['med']:>7.3f} "
              f"{mmm([d for r in rs for d in r['job_s']], '.2f'):>22}")
    print("-" * len(hdr))
    eff_e2e = rows[2]["jobs_per_s"]["med"] / (2 * rows[1]["jobs_per_s"]["med"])
    eff_phase = rows[2]["phase_jobs_per_s"]["med"] / (2 * rows[1]["phase_jobs_per_s"]["med"])
    print(f"parallel efficiency (jobs/s at 2) / (2 x jobs/s at 1), ratio of medians: jobs phase "
          f"{eff_phase:.0%}, end to end {eff_e2e:.0%}   [goal >= {GOAL:.0%}: jobs phase "
          f"{'MET' if eff_phase >= GOAL else 'NOT met'}, end to end {'MET' if eff_e2e >= GOAL else 'NOT met'}]")
    rounds = per_round(runs, peers)
    print(f"per round (each n_jobs=2 run against the n_jobs=1 run just before it): jobs phase "
          f"{statistics.median(rounds['phase']):.0%} median ({min(rounds['phase']):.0%}-"
          f"{max(rounds['phase']):.0%}), end to end {statistics.median(rounds['e2e']):.0%}"
          + (f"; against the round's machine peer {statistics.median(rounds['phase_vs_peer']):.2f} "
             f"({min(rounds['phase_vs_peer']):.2f}-{max(rounds['phase_vs_peer']):.2f})"
             if "phase_vs_peer" in rounds else ""))
    peer_eff = statistics.median(p["eff"] for p in peers) if peers else float("nan")
    if peers:
        print(f"machine peer (same invocation, before each round): two plain CPU-bound Python processes get "
              f"{peer_eff:.0%} efficiency (median; {min(p['eff'] for p in peers):.0%}-"
              f"{max(p['eff'] for p in peers):.0%}): the ceiling at this load; sweep / peer: jobs phase "
              f"{eff_phase / peer_eff:.2f}, end to end {eff_e2e / peer_eff:.2f}")
    print("per-job s is the runner's own 'job N done' time (seeds of one job, in its worker); with other "
          "work on the 2 cores two workers cannot both get a full core: see the load average")
    for nj, x in rows.items():
        print(f"n_jobs={nj}: end to end = {x['before']['med']:.1f} s before the first job (start-up, "
              f"every job's config checked, the workers' start) + jobs phase "
              f"{x['phase']['med']:.1f} s + {x['after']['med']:.1f} s after the last job (aggregation, "
              "plots, report, exit); medians")
    print(f"load average at the end: {loadavg()}")
    write_json(a.json, {"info": info, "args": vars(a), "rows": rows, "eff_phase": eff_phase,
                        "eff_e2e": eff_e2e, "goal": GOAL, "peers": peers, "rounds": rounds,
                        "peer_eff": peer_eff})
    return 0


if __name__ == "__main__":
    sys.exit(main())
