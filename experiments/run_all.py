"""Regenerate the named studies' small outputs in ``results/<study>/`` (CSV tables + PNG figures).

Each study is one ``spreadsim experiment=study_<name>`` sweep (config in
``conf/experiment/study_<name>.yaml``, note in ``experiments/<name>/README.md``). The sweep runs
into a scratch folder; this script copies its summary and headline figure into ``results/<name>/``
and derives the study's own table and figure from the sweep's ``results`` table.

Run from the repository root:

    python experiments/run_all.py                 # every study
    python experiments/run_all.py dsa_half_life   # some studies
    python experiments/run_all.py --keep runs/    # keep the full sweep folders in runs/
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spreadsim.outputs.io import read_table, write_table
from spreadsim.outputs.stats import mean_se

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    _plt().close(fig)


def _csv(table: dict[str, np.ndarray], path: Path) -> None:
    """Write only the CSV of a table (the committed outputs stay small and diffable)."""
    write_table(table, path)
    path.with_name(path.name + ".parquet").unlink()


def _per_job(res: dict[str, np.ndarray], params: list[str], cols: list[str]) -> dict[str, np.ndarray]:
    """One row per job: its parameters, then mean and standard error over seeds of ``cols``."""
    rows: dict[str, list] = {p: [] for p in params}
    for c in cols:
        rows[f"{c}_mean"] = []
        rows[f"{c}_se"] = []
    for j in list(dict.fromkeys(res["job"].tolist())):
        sel = res["job"] == j
        i = int(np.flatnonzero(sel)[0])
        for p in params:
            rows[p].append(res[p][i])
        for c in cols:
            m, se = mean_se(res[c][sel])
            rows[f"{c}_mean"].append(m)
            rows[f"{c}_se"].append(se)
    return {k: np.array(v, dtype=object if k in params and isinstance(v[0], str) else None)
            for k, v in rows.items()}


def _copy_common(sweep: Path, out: Path, figure: str = "reach_vs_latency.png") -> None:
    shutil.copyfile(sweep / "summary.csv", out / "summary.csv")
    shutil.copyfile(sweep / figure, out / "reach.png")


# --------------------------------------------------------------------------- the studies


def graph_families(sweep: Path, out: Path) -> list[str]:
    _copy_common(sweep, out)
    s = read_table(sweep / "summary")
    lines = []
    for g in dict.fromkeys(s["graph"].tolist()):
        sel = s["graph"] == g
        lat, reach = s["policy.latency_h"][sel], s["reach_mean"][sel]
        never = float(reach[np.isinf(lat)][0])
        day = float(reach[lat == 24][0])
        hour = float(reach[lat == 1][0])
        lines.append(f"{g}: reach/post {hour:.1f} at 1 h, {day:.1f} at 24 h, {never:.1f} never "
                     f"(24 h leaves {100 * day / never:.0f}% of the unmoderated reach)")
    return lines


def coc_rounds(sweep: Path, out: Path) -> list[str]:
    res = read_table(sweep / "results")
    params = ["policy.0.review_time.mean_h", "policy.0.removal_prob.hate_speech"]
    pre = "policy0_notice_and_takedown_"
    cols = [f"{pre}notice_removed_share", f"{pre}notice_reviewed_24h_share", "reach_mean",
            "reach_prevented_frac"]
    t = _per_job(res, params, cols)
    _csv(t, out / "coc_rounds")
    shutil.copyfile(sweep / "summary.csv", out / "summary.csv")
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8), dpi=110)
    labels = [f"review {m:g} h\nremoval p {p:g}" for m, p in zip(t[params[0]], t[params[1]], strict=True)]
    x = np.arange(len(labels))
    for ax, c, title, targets in (
            (axes[0], f"{pre}notice_removed_share", "notifications leading to removal",
             {"2016-12": 0.28, "2017-06": 0.59}),
            (axes[1], f"{pre}notice_reviewed_24h_share", "notifications reviewed within 24 h",
             {"2016-12": 0.40, "2017-06": 0.51})):
        ax.bar(x, t[f"{c}_mean"].astype(float), yerr=1.96 * t[f"{c}_se"].astype(float), capsize=3,
               color=["C0", "C1", "C2", "C3"][: len(x)])
        for k, (name, v) in enumerate(targets.items()):
            ax.axhline(v, color=f"C{k + 4}", ls="--", lw=1, label=f"round {name}: {v:.0%}")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    n_seeds = int((res["job"] == res["job"][0]).sum())
    fig.suptitle(f"Code of Conduct rounds: review speed x removal probability ({n_seeds} seeds, "
                 "95% CI)", fontsize=9)
    _save(fig, out / "coc_rounds.png")
    lines = []
    for i, lab in enumerate(labels):
        lines.append(f"{lab.replace(chr(10), ', ')}: removed "
                     f"{t[f'{cols[0]}_mean'][i]:.3f}+-{t[f'{cols[0]}_se'][i]:.3f}, reviewed<24h "
                     f"{t[f'{cols[1]}_mean'][i]:.3f}+-{t[f'{cols[1]}_se'][i]:.3f}, reach/post "
                     f"{t['reach_mean_mean'][i]:.1f}+-{t['reach_mean_se'][i]:.1f}")
    return lines


def tco_one_hour(sweep: Path, out: Path) -> list[str]:
    res = read_table(sweep / "results")
    params = ["policy.1.referral_prob"]
    cols = ["reach_mean", "reach_prevented_frac", "policy1_authority_referral_orders_met_share",
            "policy0_notice_and_takedown_notice_reviewed_24h_share", "time_to_removal_median_h"]
    cols = [c for c in cols if c in res]
    t = _per_job(res, params, cols)
    _csv(t, out / "tco_one_hour")
    _copy_common(sweep, out)
    lines = []
    for i in range(len(t[params[0]])):
        lines.append(" ".join(f"{c}={t[f'{c}_mean'][i]:.3f}+-{t[f'{c}_se'][i]:.3f}" for c in cols)
                     + f" (referral_prob {t[params[0]][i]:g})")
    return lines


def dsa_half_life(sweep: Path, out: Path) -> list[str]:
    _copy_common(sweep, out)
    s = read_table(sweep / "summary")
    lines = []
    for i in range(len(s["job"])):
        h = s["policy.half_life_h"][i]
        lines.append(f"half-life {h:g} h: reach/post {s['reach_mean'][i]:.1f} "
                     f"[{s['reach_ci_low'][i]:.1f}, {s['reach_ci_high'][i]:.1f}], prevented "
                     f"{100 * s['prevented_frac_mean'][i]:.1f}%")
    return lines


def powerlaw_harm(sweep: Path, out: Path) -> list[str]:
    """Prevented fraction of the cascade size (sharers + uploader) against (n - n_D)/(1 - n_D).

    D = inf is the unmoderated twin on the same seeds: per seed, size(D) / size(inf) over all its
    posts; the standard error is over seeds.
    """
    res = read_table(sweep / "results")
    k, p, c, gamma = 6, 0.1, 1.0, 1.5
    n = k * p
    lat = res["policy.latency_h"]
    size = res["shares_total"].astype(np.float64) + res["posts"].astype(np.float64)
    free = {int(sd): sz for sd, sz, la in zip(res["seed"], size, lat, strict=True) if np.isinf(la)}
    rows: dict[str, list[float]] = {"D_h": [], "n_D": [], "theory": [], "measured": [], "se": [],
                                    "reach_prevented": []}
    for D in sorted(set(lat[np.isfinite(lat)].tolist())):
        sel = lat == D
        frac = np.array([1 - sz / free[int(sd)] for sd, sz in zip(res["seed"][sel], size[sel],
                                                                   strict=True)])
        reach_free = np.array([res["reach_total"][(lat == np.inf) & (res["seed"] == sd)][0]
                               for sd in res["seed"][sel]], dtype=np.float64)
        n_D = n * (1 - (c / (c + D)) ** gamma)
        m, se = mean_se(frac)
        rows["D_h"].append(D)
        rows["n_D"].append(n_D)
        rows["theory"].append((n - n_D) / (1 - n_D))
        rows["measured"].append(m)
        rows["se"].append(se)
        rows["reach_prevented"].append(float(np.mean(1 - res["reach_total"][sel] / reach_free)))
    t = {key: np.array(v) for key, v in rows.items()}
    _csv(t, out / "powerlaw_harm")
    shutil.copyfile(sweep / "summary.csv", out / "summary.csv")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    grid = np.geomspace(0.05, 1000, 200)
    nD = n * (1 - (c / (c + grid)) ** gamma)
    ax.plot(grid, (n - nD) / (1 - nD), "-", color="0.3", label="closed form (n - n_D)/(1 - n_D)")
    ax.errorbar(t["D_h"], t["measured"], yerr=1.96 * t["se"], fmt="o", color="C3", capsize=3,
                label="simulated (5 seeds x 4000 cascades, 95% CI)")
    ax.plot(t["D_h"], t["reach_prevented"], "s", color="C0", ms=4, mfc="none",
            label="reach prevented (simulated)")
    ax.set_xscale("log")
    ax.set_xlabel("per-copy removal age D (hours, log scale)")
    ax.set_ylabel("fraction of the cascade prevented")
    ax.set_ylim(0, 1)
    ax.set_title(f"Harm reduction, Lomax delay (c={c:g} h, gamma={gamma:g}), n={n:g}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out / "powerlaw_harm.png")
    return [f"D={d:g} h: measured {m:.4f} +- {se:.4f} (SE), theory {th:.4f}, "
            f"{(m - th) / se:+.1f} SE" for d, m, se, th in zip(t["D_h"], t["measured"], t["se"],
                                                               t["theory"], strict=True)]


STUDIES: dict[str, Callable[[Path, Path], list[str]]] = {
    "graph_families": graph_families,
    "coc_rounds": coc_rounds,
    "tco_one_hour": tco_one_hour,
    "dsa_half_life": dsa_half_life,
    "powerlaw_harm": powerlaw_harm,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="*", help=f"default: all ({', '.join(STUDIES)})")
    ap.add_argument("--keep", type=Path, help="keep the full sweep folders here")
    a = ap.parse_args()
    names = a.studies or list(STUDIES)
    for name in names:
        if name not in STUDIES:
            ap.error(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    scratch = a.keep or Path(tempfile.mkdtemp(prefix="spreadsim-studies-"))
    for name in names:
        sweep = (scratch / name).resolve()
        if sweep.exists():
            shutil.rmtree(sweep)
        tic = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", f"experiment=study_{name}",
                            f"hydra.sweep.dir={sweep}"], cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - tic
        if r.returncode != 0:
            sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
            raise SystemExit(f"study {name} failed")
        out = RESULTS / name
        out.mkdir(parents=True, exist_ok=True)
        lines = STUDIES[name](sweep, out)
        for f in out.iterdir():
            f.chmod(0o644)  # tables are written through private temporary files
        answer = f"# {name}\n" + "".join(f"{ln}\n" for ln in lines)
        (out / "answer.txt").write_text(answer)
        sys.stdout.write(answer + f"(sweep took {took:.0f} s)\n")
        sys.stdout.flush()
    if a.keep is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
