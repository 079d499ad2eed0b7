"""Calibrate the Code of Conduct scenarios to their monitoring rounds on one set of seeds, and
measure the fit on another.

``conf/experiment/coc_2016.yaml`` and ``coc_2017.yaml`` each reproduce a round of
``data/code_of_conduct_rounds.csv`` (the share of notifications that led to removal, the share
reviewed within 24 h) with two levers of their ``notice_and_takedown`` policy: the removal
probability per review (``removal_prob.hate_speech``, p) and the mean review time
(``review_time.mean_h``, m). The procedure (experiments/coc_rounds/README.md):

1. The scenario is composed as ``spreadsim experiment=<name>`` composes it (Hydra's compose API);
   everything but the two levers stays as the YAML says.
2. On the fit seeds (default 0-29, the same seeds at every point: common random numbers) the two
   figures' means over seeds are functions of (m, p). Alternating one-dimensional bisections:
   m such that the reviewed-within-24-h share equals its target at the current p (the share falls
   as m grows), then p such that the removal share equals its target at that m (it rises with
   p); repeated until neither lever moves by more than the tolerance (0.001).
3. The levers are rounded to three decimals (the values the YAML holds) and measured on the fit
   seeds and on the held-out seeds (default 100-129): mean +- standard error over seeds and the
   distance from the target in standard errors.

Writes ``calibration.csv`` (one row per round: levers, fit-seed and held-out figures) and
``calibration_trace.csv`` (every evaluated point) into ``--out`` (default results/coc_rounds/);
``--check`` writes ``calibration_check.csv``.
Run from the repository root (about 1 s per point of 30 seeds; one process):

    python experiments/calibrate_coc.py                  # both rounds
    python experiments/calibrate_coc.py coc_2017 --check # only measure the YAML as it is
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from run_all import _csv
from spreadsim import simulate
from spreadsim.engine.simulation import policy_label
from spreadsim.graphs import Graph, graph_seed
from spreadsim.outputs.stats import mean_se
from spreadsim.outputs.tables import NOTICE_FIGURES, coc_targets
from spreadsim.runs.job import pinned_graph

ROOT = Path(__file__).resolve().parent.parent
PRE = policy_label(0, "notice_and_takedown") + "_"  # the policy's summary keys (first in the stack)
#: the calibrated scenarios (each names the round it reproduces: its config's target_round)
SCENARIOS = ("coc_2016", "coc_2017")
#: the figures: the summary keys the round's figures are compared with
FIGURES = tuple(NOTICE_FIGURES)
#: what else a measurement reports (mean over seeds)
EXTRA = ("notices", "queue_reviewed", "notice_to_decision_median_h", "queue_utilisation")
M_RANGE = (0.01, 2.0)  # hours
P_RANGE = (0.0, 1.0)


def targets(round_: str) -> dict[str, float]:
    """The round's figures, from the shipped reference data (read where the summary reads them)."""
    ref = coc_targets(round_)
    return {k: float(ref["target_" + k]) for k in FIGURES}


def scenario(name: str) -> dict[str, Any]:
    """The world of ``spreadsim experiment=<name>``: graph, spread, scenario, policy."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        c = compose("config", overrides=[f"experiment={name}"])
    d = OmegaConf.to_container(c, resolve=True)
    assert isinstance(d, dict)
    return {k: d[k] for k in ("graph", "spread", "scenario", "policy", "target_round")}


def levers(cfg: dict[str, Any]) -> tuple[float, float]:
    pol = cfg["policy"][0]
    return float(pol["review_time"]["mean_h"]), float(pol["removal_prob"]["hate_speech"])


def with_levers(cfg: dict[str, Any], m: float, p: float) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    pol = out["policy"][0]
    assert pol["name"] == "notice_and_takedown" and pol["review_time"]["dist"] == "exponential"
    pol["review_time"]["mean_h"] = m
    pol["removal_prob"]["hate_speech"] = p
    return out


class Evaluator:
    """Per-seed figures of (m, p) on fixed seeds; every point evaluated is kept (the trace)."""

    def __init__(self, name: str, cfg: dict[str, Any], graph: Graph) -> None:
        self.name, self.cfg, self.graph = name, cfg, graph
        self.trace: list[dict[str, Any]] = []

    def runs(self, m: float, p: float, seeds: Sequence[int]) -> dict[str, np.ndarray]:
        cfg = with_levers(self.cfg, m, p)
        rows = [simulate(cfg, seed=s, graph=self.graph).summary for s in seeds]
        return {k: np.array([r[PRE + k] for r in rows], dtype=np.float64)
                for k in (*FIGURES, *EXTRA)}

    def mean(self, m: float, p: float, seeds: Sequence[int], step: str) -> dict[str, float]:
        r = self.runs(m, p, seeds)
        out = {k: float(np.nanmean(v)) for k, v in r.items()}
        self.trace.append({"scenario": self.name, "step": step, "mean_h": m, "removal_prob": p,
                           **{k: out[k] for k in FIGURES}})
        return out


def bisect(f: Callable[[float], float], lo: float, hi: float, tol: float) -> float:
    """A root of the increasing function ``f`` on [lo, hi] to ``tol`` (an end if f keeps its sign)."""
    flo, fhi = f(lo), f(hi)
    if flo >= 0:
        return lo
    if fhi <= 0:
        return hi
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def fit(ev: Evaluator, target: dict[str, float], seeds: Sequence[int], tol: float,
        rounds: int = 12) -> tuple[float, float]:
    """Alternating bisections on the fit seeds (see the module docstring)."""
    m, p = levers(ev.cfg)
    t24, trem = target["notice_reviewed_24h_share"], target["notice_removed_share"]
    for it in range(rounds):
        m_new = bisect(lambda x, p=p, step=f"{it}:m":
                       t24 - ev.mean(x, p, seeds, step)["notice_reviewed_24h_share"], *M_RANGE, tol)
        p_new = bisect(lambda x, m=m_new, step=f"{it}:p":
                       ev.mean(m, x, seeds, step)["notice_removed_share"] - trem, *P_RANGE, tol)
        moved = max(abs(m_new - m), abs(p_new - p))
        m, p = m_new, p_new
        print(f"  {ev.name} iteration {it}: mean_h {m:.4f}, removal_prob {p:.4f} (moved {moved:.4f})",
              flush=True)
        if moved <= tol:
            return m, p
    raise SystemExit(f"{ev.name}: no convergence in {rounds} iterations")


def measure(ev: Evaluator, m: float, p: float, seeds: Sequence[int], target: dict[str, float],
            tag: str) -> dict[str, Any]:
    """Mean +- SE over ``seeds`` of each figure and its distance from the target in SE."""
    r = ev.runs(m, p, seeds)
    row: dict[str, Any] = {f"{tag}_seeds": f"{seeds[0]}-{seeds[-1]}"}
    for k in FIGURES:
        mean, se = mean_se(r[k])
        row.update({f"{tag}_{k}_mean": mean, f"{tag}_{k}_se": se,
                    f"{tag}_{k}_z": (mean - target[k]) / se})
    for k in EXTRA:
        row[f"{tag}_{k}_mean"] = mean_se(r[k])[0]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", help=f"default: {', '.join(SCENARIOS)}")
    ap.add_argument("--fit-seeds", type=int, nargs=2, default=(0, 30), metavar=("FIRST", "N"))
    ap.add_argument("--test-seeds", type=int, nargs=2, default=(100, 30), metavar=("FIRST", "N"))
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--check", action="store_true",
                    help="no fit: measure the YAML's levers on both seed sets")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "coc_rounds")
    a = ap.parse_args()
    names = a.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            ap.error(f"unknown scenario {n!r}; known: {', '.join(SCENARIOS)}")
    fit_seeds = list(range(a.fit_seeds[0], a.fit_seeds[0] + a.fit_seeds[1]))
    test_seeds = list(range(a.test_seeds[0], a.test_seeds[0] + a.test_seeds[1]))
    if set(fit_seeds) & set(test_seeds):
        ap.error("the fit seeds and the held-out seeds overlap")
    rows, trace = [], []
    for name in names:
        tic = time.perf_counter()
        cfg = scenario(name)
        round_ = cfg.pop("target_round")
        target = targets(round_)
        g = pinned_graph(cfg["graph"], graph_seed(cfg["graph"], 0))  # pinned: one graph
        ev = Evaluator(name, cfg, g)
        yaml_m, yaml_p = levers(cfg)
        if a.check:
            m, p = yaml_m, yaml_p
        else:
            m, p = fit(ev, target, fit_seeds, a.tol)
            m, p = round(m, 3), round(p, 3)
        row: dict[str, Any] = {"scenario": name, "round": round_,
                               **{f"target_{k}": v for k, v in target.items()},
                               "mean_h": m, "removal_prob": p}
        row.update(measure(ev, m, p, fit_seeds, target, "fit"))
        row.update(measure(ev, m, p, test_seeds, target, "test"))
        rows.append(row)
        trace += ev.trace
        took = time.perf_counter() - tic
        print(f"{name} (round {round_}): review_time.mean_h {m:g}, removal_prob.hate_speech "
              f"{p:g}  ({len(ev.trace)} points, {took:.0f} s)")
        for tag in ("fit", "test"):
            print(f"  {tag} seeds {row[f'{tag}_seeds']}: " + "; ".join(
                f"{k} {row[f'{tag}_{k}_mean']:.3f} +- {row[f'{tag}_{k}_se']:.3f} "
                f"(target {target[k]:.2f}, {row[f'{tag}_{k}_z']:+.1f} SE)" for k in FIGURES)
                + "; " + ", ".join(f"{k} {row[f'{tag}_{k}_mean']:.3g}" for k in EXTRA))
        if (m, p) != (yaml_m, yaml_p):
            print(f"  conf/experiment/{name}.yaml holds mean_h {yaml_m:g}, removal_prob {yaml_p:g}: "
                  "write the fitted values there", file=sys.stderr)
        sys.stdout.flush()
    a.out.mkdir(parents=True, exist_ok=True)
    _csv({k: np.array([r[k] for r in rows]) for k in rows[0]},
         a.out / ("calibration_check" if a.check else "calibration"))
    if trace:
        _csv({k: np.array([r[k] for r in trace]) for k in trace[0]}, a.out / "calibration_trace")


if __name__ == "__main__":
    main()
