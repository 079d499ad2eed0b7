#!/usr/bin/env python3
"""A/B of two spreadsim installs on the sweep benchmark, alternating A, B, A, B in one invocation.

Each round runs the same CLI sweep with A's console script, then with B's, each into a fresh
temporary sweep folder (removed afterwards):

    spreadsim experiment=single hydra.mode=MULTIRUN policy=notice_and_takedown
              policy.moderators=1,...,P seeds=S baseline=false deadline_path=off graph.n=N
              hydra.sweep.dir=<tmp> hydra.launcher.n_jobs=J

These are bench_sweep.py's overrides (its full size: P=20, S=100, N=30000) and its n_jobs=2 arm,
on spreadsim's default launcher (joblib; ``--n-jobs default`` leaves n_jobs at the config's value,
-1 = every core). Measured: wall time of the whole command, jobs/s = P / wall; also, when the log
has the runner's ``job N:`` / ``job N done`` lines, the jobs phase (first start to last done).
Reported: medians per side and the paired ratio B/A of jobs/s per round (median and range; >1 means
B is faster). A non-zero exit of either command stops the script with the command's stderr.
Before the rounds, each side runs one small untimed sweep (numba cache, page cache).
The results.csv of A and B are compared each round (a warning if they differ).

Stdlib only. Example (two virtual environments, each with one version installed non-editably,
e.g. ``git worktree add /tmp/before <commit> && python3 -m venv /tmp/venv-a && /tmp/venv-a/bin/pip
install /tmp/before``):

    python3 benchmarks/ab_sweep.py --a /tmp/venv-a/bin/spreadsim --b /tmp/venv-b/bin/spreadsim
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

_TS = r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]"
_START = re.compile(_TS + r"\[spreadsim\.sweep\]\[INFO\] - job (\d+): ")
_DONE = re.compile(_TS + r"\[spreadsim\.sweep\]\[INFO\] - job (\d+) done: ")


def _ts(s: str) -> float:
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def sweep_cmd(exe: str, points: int, seeds: int, graph_n: int, n_jobs: str, sweep_dir: str,
              extra: list[str]) -> list[str]:
    cmd = [exe, "experiment=single", "hydra.mode=MULTIRUN", "policy=notice_and_takedown",
           "policy.moderators=" + ",".join(str(m) for m in range(1, points + 1)), f"seeds={seeds}",
           "baseline=false", "deadline_path=off", f"graph.n={graph_n}", f"hydra.sweep.dir={sweep_dir}"]
    if n_jobs != "default":
        cmd.append(f"hydra.launcher.n_jobs={n_jobs}")
    return cmd + extra


def run(exe: str, points: int, seeds: int, a: argparse.Namespace, tmp: str, tag: str) -> dict:
    sweep_dir = os.path.join(tmp, tag)
    cmd = sweep_cmd(exe, points, seeds, a.graph_n, a.n_jobs, sweep_dir, a.extra)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.stderr.write(f"\nFAILED ({tag}, exit {res.returncode}): {' '.join(cmd)}\n"
                         f"--- stderr (tail) ---\n{res.stderr[-4000:]}\n--- stdout (tail) ---\n"
                         f"{res.stdout[-2000:]}\n")
        raise SystemExit(2)
    log = res.stdout + res.stderr
    starts = [_ts(m.group(1)) for m in _START.finditer(log)]
    dones = [_ts(m.group(1)) for m in _DONE.finditer(log)]
    phase = max(dones) - min(starts) if starts and len(dones) == points else None
    try:
        with open(os.path.join(sweep_dir, "results.csv"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        digest = None
    shutil.rmtree(sweep_dir, ignore_errors=True)
    return {"wall": wall, "jps": points / wall, "phase": phase, "digest": digest}


def mmm(xs: list[float], fmt: str = ".2f") -> str:
    return f"{statistics.median(xs):{fmt}} ({min(xs):{fmt}}-{max(xs):{fmt}})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="console script A (e.g. /tmp/venv-a/bin/spreadsim)")
    ap.add_argument("--b", required=True, help="console script B")
    ap.add_argument("--repeat", type=int, default=5, help="rounds of (A, B) (default 5)")
    ap.add_argument("--points", type=int, default=20, help="sweep points = jobs (default 20)")
    ap.add_argument("--seeds", type=int, default=100, help="seeds per job (default 100)")
    ap.add_argument("--graph-n", type=int, default=30_000, help="graph.n (default 30000)")
    ap.add_argument("--n-jobs", default="2", help="hydra.launcher.n_jobs, or 'default' to not set it")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed small sweep per side")
    ap.add_argument("--extra", nargs="*", default=[], help="more CLI overrides for both sides")
    a = ap.parse_args(argv)
    exes = {"A": a.a, "B": a.b}
    for k, exe in exes.items():
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise SystemExit(f"--{k.lower()} {exe}: not an executable file")

    print(f"A = {a.a}\nB = {a.b}")
    print(f"sweep: {a.points} jobs x {a.seeds} seeds, graph.n={a.graph_n}, n_jobs={a.n_jobs}; "
          f"{a.repeat} round(s) A then B; {os.cpu_count()} CPUs; load {loadavg()}", flush=True)
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    mismatch = 0
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ab_sweep_") as tmp:
        if not a.no_warmup:
            for k, exe in exes.items():
                w = run(exe, 2, 4, a, tmp, f"warm_{k}")
                print(f"  warm-up {k}: {w['wall']:.1f} s", flush=True)
        for i in range(a.repeat):
            t_round = time.perf_counter()
            for k, exe in exes.items():
                runs[k].append(run(exe, a.points, a.seeds, a, tmp, f"r{i}_{k}"))
            ra, rb = runs["A"][-1], runs["B"][-1]
            same = ra["digest"] is not None and ra["digest"] == rb["digest"]
            mismatch += not same
            ph = (f"; phase {ra['phase']:.1f}/{rb['phase']:.1f} s"
                  if ra["phase"] is not None and rb["phase"] is not None else "")
            print(f"  round {i}: A {ra['wall']:.1f} s, B {rb['wall']:.1f} s, B/A jobs/s "
                  f"{rb['jps'] / ra['jps']:.3f}{ph}; results {'same' if same else 'DIFFER'}; "
                  f"{time.perf_counter() - t_round:.0f} s, load {loadavg()}", flush=True)

    print()
    for k in "AB":
        rs = runs[k]
        phases = [r["phase"] for r in rs if r["phase"] is not None]
        print(f"{k}: wall s {mmm([r['wall'] for r in rs], '.1f')}, jobs/s {mmm([r['jps'] for r in rs], '.3f')}"
              + (f", jobs phase s {mmm(phases, '.1f')}" if len(phases) == len(rs) else "")
              + "  [median (min-max)]")
    ratios = [rb["jps"] / ra["jps"] for ra, rb in zip(runs["A"], runs["B"], strict=True)]
    med_ratio = statistics.median(runs["B"][j]["jps"] for j in range(a.repeat)) / statistics.median(
        runs["A"][j]["jps"] for j in range(a.repeat))
    print(f"paired B/A jobs/s per round: median {statistics.median(ratios):.3f}, range "
          f"{min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} round(s); ratio of medians {med_ratio:.3f}")
    pa = [r["phase"] for r in runs["A"]]
    pb = [r["phase"] for r in runs["B"]]
    if None not in pa and None not in pb:
        pr = [x / y for x, y in zip(pa, pb, strict=True)]
        print(f"paired B/A jobs-phase jobs/s per round: median {statistics.median(pr):.3f}, range "
              f"{min(pr):.3f}-{max(pr):.3f}")
    if mismatch:
        print(f"WARNING: results.csv of A and B differ in {mismatch} round(s)")
    print(f"total {time.perf_counter() - t_all:.0f} s; load at the end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
