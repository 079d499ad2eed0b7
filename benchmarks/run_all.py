"""Run every benchmark in sequence (each in its own process) and print one combined table.

    python benchmarks/run_all.py            # quick sizes (a few minutes)
    python benchmarks/run_all.py --full     # the sizes of the issues' goals
    python benchmarks/run_all.py --only pipeline scale --out DIR

Each script's own report is printed as it runs (and kept in ``--out``: ``<name>.txt`` and
``<name>.json``); with ``--reuse`` a script whose JSON is already in ``--out`` is not run again.
The combined table at the end gives for each goal the measured median (min-max), the peer it is
compared with in the same invocation and the ratio, the goal and whether it is met.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import loadavg, version  # noqa: E402

QUICK = {
    "spread": ["--n", "20000", "--runs", "5", "--profile-top", "0"],
    "load": ["--nodes", "100000", "--edges", "1000000", "--repeat", "3"],
    "pipeline": ["--n", "20000", "--runs", "3"],
    "scale": ["--sizes", "10000", "100000", "--runs", "3"],
    "memory": ["--nodes", "100000", "--edges", "1000000"],
    "sweep": ["--points", "4", "--seeds", "4", "--repeat", "1"],
}
FULL = {
    "spread": ["--n", "100000", "--runs", "7", "--profile-top", "0"],
    "load": ["--repeat", "3"],
    "pipeline": ["--n", "100000", "--runs", "5"],
    "scale": ["--sizes", "10000", "100000", "1000000", "--runs", "5"],
    "memory": ["--nodes", "1000000", "--edges", "10000000"],
    "sweep": ["--points", "20", "--seeds", "100", "--graph-n", "30000", "--repeat", "5"],
}
ORDER = ("spread", "load", "pipeline", "scale", "memory", "sweep")
NO_JSON = {"load"}  # bench_load prints text only: parsed below


def run(name: str, args: list[str], out: str, reuse: bool) -> dict[str, Any] | None:
    js, txt = os.path.join(out, f"{name}.json"), os.path.join(out, f"{name}.txt")
    if reuse and os.path.exists(js if name not in NO_JSON else txt):
        print(f"== {name}: reusing {js if name not in NO_JSON else txt}", flush=True)
    else:
        cmd = [sys.executable, os.path.join(HERE, f"bench_{name}.py"), *args]
        if name not in NO_JSON:
            cmd += ["--json", js]
        print(f"== {name}: {' '.join(cmd[1:])}  (load {loadavg()})", flush=True)
        t0 = time.perf_counter()
        with open(txt, "w") as fh:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert p.stdout is not None
            for line in p.stdout:
                sys.stdout.write(line)
                fh.write(line)
            rc = p.wait()
        print(f"== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            return None
    if name in NO_JSON:
        return parse_load(open(txt).read())
    with open(js) as fh:
        return json.load(fh)


def parse_load(text: str) -> dict[str, Any] | None:
    m = re.search(r"fresh subprocess: import ([\d.]+) s, load ([\d.]+) s, peak RSS (\d+) MiB", text)
    m2 = re.search(r"median ([\d.]+) s, min ([\d.]+) s, max ([\d.]+) s", text)
    m3 = re.search(r"wrote ([\d,]+) edges / ([\d,]+) nodes", text)
    if not (m and m2):
        return None
    return {"fresh_load": float(m.group(2)), "fresh_rss": float(m.group(3)), "med": float(m2.group(1)),
            "min": float(m2.group(2)), "max": float(m2.group(3)),
            "edges": m3.group(1) if m3 else "?", "nodes": m3.group(2) if m3 else "?"}


def combined(res: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []

    def mm(d: dict[str, float], f: str = ".0f") -> str:
        return f"{d['med']:{f}} ({d['min']:{f}}-{d['max']:{f}})"

    sp = res.get("spread")
    if sp and "spreadsim" in sp:
        s = sp["spreadsim"]
        n = sp["args"]["n"]
        ss = f"{s['ips_cpu']:.0f} ({s['ips_cpu_min']:.0f}-{s['ips_cpu_max']:.0f})"
        if "EoN" in sp:
            e = sp["EoN"]
            r = s["ips_cpu"] / e["ips_cpu"]
            rw = s["ips"] / e["ips"]
            rows.append((f"#2 spread vs EoN, BA {n // 1000}k", f"{ss} inf/CPU-s",
                         f"EoN {e['ips_cpu']:.0f}", f"CPU {r:.1f}x, wall {rw:.1f}x", ">= 4x",
                         "met" if r >= 4 else "NOT met"))
            rows.append((f"#5.1 spread vs EoN, BA {n // 1000}k", f"{ss} inf/CPU-s",
                         f"EoN {e['ips_cpu']:.0f}", f"CPU {r:.1f}x", ">= 80x and >= 1M/s",
                         "met" if r >= 80 and s["ips_cpu"] >= 1e6 else
                         f"NOT met ({s['ips_cpu'] / 1e6:.2f} of 1M/s, {r / 80:.2f} of 80x)"))
        pr = sp.get("paired")
        if pr:
            pss = f"{pr['ss_ips_cpu']:.0f} ({pr['ss_ips_cpu_min']:.0f}-{pr['ss_ips_cpu_max']:.0f})"
            ok = pr["ratio_cpu"] >= 80 and pr["ss_ips_cpu"] >= 1e6
            rows.append((f"#5.1 spread vs EoN, paired runs, BA {n // 1000}k", f"{pss} inf/CPU-s",
                         f"EoN runs {pr['runs']}", f"CPU {pr['ratio_cpu']:.1f}x "
                         f"({pr['ratio_cpu_min']:.1f}-{pr['ratio_cpu_max']:.1f})", ">= 80x and >= 1M/s",
                         "met" if ok else f"NOT met ({pr['ss_ips_cpu'] / 1e6:.2f} of 1M/s, "
                         f"{pr['ratio_cpu'] / 80:.2f} of 80x)"))
        if "compiled" in sp:
            c = sp["compiled"]
            peer = f" ({c['ips_cpu'] / sp['EoN']['ips_cpu']:.0f}x EoN)" if "EoN" in sp else ""
            rows.append((f"#5.1 spread vs bare compiled kernel, BA {n // 1000}k", f"{ss} inf/CPU-s",
                         f"bare {c['ips_cpu']:.0f}{peer}", f"{s['ips_cpu'] / c['ips_cpu']:.2f} of it",
                         "(compiled limit)", "-"))
        if "heapq" in sp:
            h = sp["heapq"]
            rows.append((f"#5 spread vs plain heapq, BA {n // 1000}k", f"{ss} inf/CPU-s",
                         f"heapq {h['ips_cpu']:.0f}", f"CPU {s['ips_cpu'] / h['ips_cpu']:.1f}x", "(reference)",
                         "-"))
        rows.append((f"#2 spreadsim wall/run, BA {n // 1000}k", s["wall_s"] + " s", "", "", "", ""))
    pl = res.get("pipeline")
    if pl:
        p = pl["rows"].get("pipeline")
        base = pl["rows"]["plain"]
        n = pl["args"]["n"]
        if p:
            rows.append((f"#3/#5.2 NTD+detection, BA {n // 1000}k", f"{mm(p['inf_per_cpu'])} inf/CPU-s",
                         f"plain {base['inf_per_cpu']['med']:.0f}", f"CPU {p['ratio_cpu']:.2f}x, wall "
                         f"{p['ratio_wall']:.2f}x", ">= 300k inf/s",
                         "met" if p["inf_per_cpu"]["med"] >= 3e5 else
                         f"NOT met ({p['inf_per_cpu']['med'] / 3e5:.2f} of goal)"))
        for v in ("ntd", "ntd+det0"):
            if v in pl["rows"]:
                x = pl["rows"][v]
                rows.append((f"   variant {v}", f"{mm(x['inf_per_cpu'])} inf/CPU-s", "plain",
                             f"CPU {x['ratio_cpu']:.2f}x", "", ""))
    ld = res.get("load")
    if ld:
        rows.append((f"#5.3 load_edgelist {ld['nodes']} nodes/{ld['edges']} edges",
                     f"{ld['med']:.2f} ({ld['min']:.2f}-{ld['max']:.2f}) s", f"fresh proc {ld['fresh_load']:.2f} s",
                     f"RSS {ld['fresh_rss']:.0f} MiB", "< 10 s", "met" if ld["fresh_load"] < 10 else "NOT met"))
    me = res.get("memory")
    if me:
        a = me["args"]
        for r in me["rows"]:
            rows.append((f"#5.3 full sim {a['nodes'] // 1000}k/{a['edges'] // 1000}k, {r['policy']}",
                         f"peak RSS {r['rss_peak']:.0f} MiB, load {r['load_s']:.1f} s",
                         f"import-only {me['import_rss']:.0f} MiB",
                         f"{r['views'] / 1e6:.1f}M exposures, sim {r['sim_cpu']:.0f} CPU-s",
                         "< 1536 MiB, < 10 s",
                         ("met" if r["rss_peak"] < 1536 and r["load_s"] < 10 else "NOT met")
                         + ("" if me.get("full_size") else " (small size)")))
    sc = res.get("scale")
    if sc:
        for r in sc["size_rows"]:
            rows.append((f"#5.5 size {r['label']}", f"{r['cpu']['med']:.3f} CPU-s, {r['wall_s']} wall-s",
                         f"{r['views']['med']:.0f} exposures", f"{r['ns_per_view']['med']:.0f} ns/exp", "", ""))
        rows.append(("#5.5 slope log CPU vs log events", f"size {sc['slope_size']:.2f}, cascade "
                     f"{sc['slope_cascade']:.2f}", "", "", "~1 (near-linear)",
                     "met" if abs(sc["slope_size"] - 1) < 0.2 else "NOT met"))
    sw = res.get("sweep")
    if sw:
        r1, r2 = sw["rows"]["1"], sw["rows"]["2"]
        pe = sw.get("peer_eff")
        if pe == pe and pe is not None:  # not NaN
            rows.append(("#5.4 machine peer: 2 spin loops vs 1", f"{pe:.0%} efficiency", "", "ceiling at this load",
                         "", "-"))
        per = sw.get("rounds", {}).get("phase") or []
        per_txt = f", per round {statistics.median(per):.0%} ({min(per):.0%}-{max(per):.0%})" if per else ""
        rows.append(("#5.4 sweep joblib 2 vs 1 (jobs phase)", f"{r2['phase_jobs_per_s']['med']:.3f} jobs/s",
                     f"n_jobs=1 {r1['phase_jobs_per_s']['med']:.3f}", f"eff {sw['eff_phase']:.0%}{per_txt}",
                     ">= 85%", "met" if sw["eff_phase"] >= 0.85 else "NOT met"))
        rows.append(("#5.4 sweep joblib 2 vs 1 (end to end)", f"{r2['jobs_per_s']['med']:.3f} jobs/s",
                     f"n_jobs=1 {r1['jobs_per_s']['med']:.3f}", f"eff {sw['eff_e2e']:.0%}", ">= 85%",
                     "met" if sw["eff_e2e"] >= 0.85 else "NOT met"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the full sizes of the goals")
    ap.add_argument("--only", nargs="*", choices=ORDER, default=list(ORDER))
    ap.add_argument("--out", help="folder for the reports (default: a new temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse results already in --out")
    a = ap.parse_args(argv)
    out = a.out or tempfile.mkdtemp(prefix="spreadsim-bench-")
    os.makedirs(out, exist_ok=True)
    flags = FULL if a.full else QUICK
    load0 = loadavg()
    res = {}
    for name in ORDER:
        if name in a.only:
            r = run(name, flags[name], out, a.reuse)
            if r is not None:
                res[name] = r
    rows = combined(res)
    head = ("benchmark", "measured: median (min-max)", "peer (same invocation)", "ratio / detail", "goal",
            "status")
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print()
    print(f"# spreadsim benchmarks ({'full' if a.full else 'quick'} sizes), "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; load average at the start "
          f"{load0}, at the end {loadavg()}; numba {version('numba')}, networkx {version('networkx')}, "
          f"EoN {version('EoN')}, simpy {version('simpy')}; reports in {out}")
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
    print("  ".join("-" * x for x in w))
    for r in rows:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    print("goal numbers: issue 2 (#2), issue 3 (#3), issue 5 goals 1-5 (#5.n). inf/CPU-s = infections per "
          "CPU second (time.process_time); wall figures move with the load of the shared machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
