"""SLA calibration: the largest removal latency, or the fewest moderators, that keeps reach
per post at or below a target.

The answer is read off the paired-seed curve of a reach statistic (mean, or the 95th percentile of
reach per post, averaged over seeds) against the lever:

* **latency** (continuous): when the policy stack is a pure deadline in ``cascade`` semantics, the
  curve is exact and cheap (:class:`~spreadsim.runs.deadline.DeadlineTrace`: one unmoderated run per
  seed) and is bisected to ``tol``; otherwise every evaluated point is simulated with the same
  seeds. Reach never decreases with latency for a seed, so the curve is monotone and bisection is
  safe.
* **count** (an integer lever such as ``policy.moderators``): bisection over integers on
  simulated points (same seeds at every point), assuming reach does not grow with the count.

The 95% confidence interval inverts the pointwise t-interval of the curve: the lower end is the
largest latency whose upper confidence bound is still at or below the target, the upper end the
largest latency whose lower bound is (for counts the other way round).

When an end of that interval does not exist within the search range (the target lies inside the
95% interval of the statistic at every evaluated lever value that meets it on average: no value
is shown to keep reach at or below the target), the answer is **not supported by the data**: it
says so and lists the evaluated points instead of a value with an open (NaN) bound
(:attr:`Calibration.supported`).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph, build_graph, graph_seed
from spreadsim.outputs import glossary
from spreadsim.outputs.answer import calibration_answer
from spreadsim.outputs.io import atomic_write_bytes, canonical, write_table
from spreadsim.outputs.layout import CALIBRATION_FILE, CALIBRATION_PLOT, CALIBRATION_TABLE, REPORT_FILE
from spreadsim.outputs.plots import plot_calibration
from spreadsim.outputs.report import config_yaml, write_report
from spreadsim.outputs.stats import mean_ci
from spreadsim.runs.deadline import DeadlineTrace, deadline_path_reason
from spreadsim.runs.jobspec import calibration_kind, check_job_config, set_dotted
from spreadsim.runs.single import simulate
from spreadsim.schema.config import SIM_KEYS, SimConfig
from spreadsim.schema.fields import parse
from spreadsim.schema.model import CALIBRATION_TOL, COUNT_RANGE, LATENCY_MAX_H, LEGAL, CalibrationSettings
from spreadsim.version import __version__

log = logging.getLogger(__name__)


@dataclass
class Calibration:
    """Result of an SLA calibration."""

    lever: str
    target: float
    stat: str
    value: float
    ci_low: float
    ci_high: float
    path: str
    seeds: int
    curve: dict[str, list[float]] = field(default_factory=dict)
    feasible: bool = True

    @property
    def supported(self) -> bool:
        """Whether the data support an answer: a lever value meets the target on average and both
        ends of its 95% interval exist within the search range."""
        return self.feasible and all(math.isfinite(v) for v in (self.value, self.ci_low, self.ci_high))

    def points(self) -> str:
        """The evaluated points, ``lever: statistic [95% CI]``, in the lever's order."""
        c = self.curve
        return "; ".join(f"{x:.4g}: {m:.4g} [{lo:.4g}, {hi:.4g}]" for x, m, lo, hi in
                         zip(c.get("lever", []), c.get("reach", []), c.get("ci_low", []),
                             c.get("ci_high", []), strict=True))

    def line(self) -> str:
        """The answer in one line."""
        if not self.feasible:
            return (f"no {self.lever} keeps {self.stat} reach per post <= {self.target:g} "
                    f"({self.seeds} seeds, {self.path} path)")
        if not self.supported:
            return (f"not supported by the data: the target ({self.stat} reach per post <= "
                    f"{self.target:g}) lies inside the 95% interval of every evaluated {self.lever} "
                    f"that meets it on average, so no {self.lever} is shown to keep reach under it "
                    f"({self.seeds} paired seeds; {self.path} path); evaluated {self.lever}: "
                    f"{self.stat} reach per post [95% CI]: {self.points()}")
        word = "largest" if "latency" in self.lever else "smallest"
        return (f"{word} {self.lever} keeping {self.stat} reach per post <= {self.target:g}: "
                f"{self.value:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}; {self.seeds} "
                f"paired seeds; {self.path} path)")


def _stat(reach: np.ndarray, stat: str) -> float:
    if reach.size == 0:
        return math.nan
    return float(reach.mean()) if stat == "mean" else float(np.percentile(reach, 95))


class _Evaluator:
    def __init__(self, base: Mapping[str, Any], lever: str, seeds: Sequence[int], stat: str,
                 graph: Graph | None) -> None:
        self.base = dict(base)
        self.lever = lever
        self.seeds = list(seeds)
        self.stat = stat
        self.graph = graph
        self.points: dict[float, tuple[float, float, float]] = {}
        self.traces: dict[int, DeadlineTrace] | None = None

    def cfg(self, x: float) -> SimConfig:
        d = copy.deepcopy(self.base)
        set_dotted(d, self.lever, x)
        return SimConfig.from_dict(d)

    def use_deadline_path(self) -> bool:
        cfg = self.cfg(1.0)
        if deadline_path_reason(cfg) is not None:
            return False
        self.traces = {s: DeadlineTrace(cfg, s, graph=self._graph(cfg, s)) for s in self.seeds}
        return True

    def _graph(self, cfg: SimConfig, seed: int) -> Graph | None:
        if self.graph is not None:
            return self.graph
        if cfg.graph.get("seed") is not None:
            self.graph = build_graph(cfg.graph, graph_seed(cfg.graph, seed))
            return self.graph
        return None

    def __call__(self, x: float) -> tuple[float, float, float]:
        if x in self.points:
            return self.points[x]
        cfg = self.cfg(x)
        vals = []
        for s in self.seeds:
            if self.traces is not None:
                reach = self.traces[s].reach(cfg)
                ill = np.array([p.category != LEGAL for p in self.traces[s].posts], dtype=bool)
                reach = reach[ill]
            else:
                r = simulate(cfg, s, graph=self._graph(cfg, s))
                reach = r.posts["reach"][r.posts["category"] != LEGAL]
            vals.append(_stat(np.asarray(reach, dtype=np.float64), self.stat))
        self.points[x] = mean_ci(vals, bounds=(0.0, None))  # over >= 2 seeds (checked); reach is never negative
        return self.points[x]

    def curve(self) -> dict[str, list[float]]:
        xs = sorted(self.points)
        return {"lever": xs, "reach": [self.points[x][0] for x in xs],
                "ci_low": [self.points[x][1] for x in xs], "ci_high": [self.points[x][2] for x in xs]}


def _bisect_largest(ok: Callable[[float], bool], lo: float, hi: float, tol: float) -> float:
    """Largest x in [lo, hi] with ok(x), for ok true on [lo, x*] and false after."""
    if not ok(lo):
        return math.nan
    if ok(hi):
        return hi
    while hi - lo > tol * max(1.0, lo):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def calibrate_latency(config: Mapping[str, Any], seeds: Sequence[int], target: float, *,
                      lever: str = "policy.latency_h", stat: str = "mean",
                      max_latency_h: float = LATENCY_MAX_H, tol: float = CALIBRATION_TOL,
                      graph: Graph | None = None) -> Calibration:
    """Largest removal latency keeping the reach statistic at or below ``target``.

    Parameters
    ----------
    config : mapping
        The configuration (as for :func:`spreadsim.simulate`) whose ``lever`` is the latency.
    seeds : sequence of int
        Paired seeds (the same at every latency).
    target : float
        Reach per post not to exceed.
    lever : str
        Dotted path of the latency in the config.
    stat : {"mean", "p95"}
        Statistic of reach per (illegal) post, averaged over seeds.
    max_latency_h : float
        Upper end of the search.
    tol : float
        Relative tolerance of the bisection.
    graph : Graph, optional
        Prebuilt graph.

    Returns
    -------
    Calibration
    """
    s = parse(CalibrationSettings, {"target": target, "stat": stat, "lever": lever, "max": max_latency_h,
                                    "tol": tol}, "calibration")
    target, stat, max_latency_h, tol = s.target, s.stat, s.latency_max(), s.tol
    if len(seeds) < 2:
        raise ConfigError("calibration.seeds", len(seeds), "must be at least 2 (for an interval)")
    ev = _Evaluator(config, lever, seeds, stat, graph)
    path = "deadline (exact, one unmoderated run per seed)" if ev.use_deadline_path() else "simulated"
    value = _bisect_largest(lambda x: ev(x)[0] <= target, 0.0, max_latency_h, tol)
    lo = _bisect_largest(lambda x: ev(x)[2] <= target, 0.0, max_latency_h, tol)
    hi = _bisect_largest(lambda x: ev(x)[1] <= target, 0.0, max_latency_h, tol)
    return Calibration(lever, target, stat, value, lo, hi, path, len(seeds), ev.curve(),
                       feasible=not math.isnan(value))


def calibrate_count(config: Mapping[str, Any], seeds: Sequence[int], target: float, *,
                    lever: str = "policy.moderators", stat: str = "mean", lo: int = COUNT_RANGE[0],
                    hi: int = COUNT_RANGE[1], graph: Graph | None = None) -> Calibration:
    """Smallest integer lever (e.g. moderators) keeping the reach statistic at or below ``target``.

    Every evaluated point is simulated with the same seeds; reach is assumed not to grow with the
    lever (more moderators never raise mean reach: tested in the moderation suite).
    """
    s = parse(CalibrationSettings, {"target": target, "stat": stat, "lever": lever, "min": lo, "max": hi},
              "calibration")
    target, stat, (lo, hi) = s.target, s.stat, s.count_range()
    if len(seeds) < 2:
        raise ConfigError("calibration.seeds", len(seeds), "must be at least 2 (for an interval)")
    ev = _Evaluator(config, lever, seeds, stat, graph)

    def smallest(ok: Callable[[int], bool]) -> float:
        if not ok(hi):
            return math.nan
        a, b = lo, hi
        while a < b:
            mid = (a + b) // 2
            a, b = (a, mid) if ok(mid) else (mid + 1, b)
        return float(a)

    value = smallest(lambda m: ev(float(m))[0] <= target)
    c_lo = smallest(lambda m: ev(float(m))[1] <= target)
    c_hi = smallest(lambda m: ev(float(m))[2] <= target)
    return Calibration(lever, target, stat, value, c_lo, c_hi, "simulated", len(seeds), ev.curve(),
                       feasible=not math.isnan(value))


def run_calibration(cfg: Mapping[str, Any], out_dir: str | os.PathLike[str], *, svg: bool = False,
                    config_text: str | None = None,
                    meta: Mapping[str, str | None] | None = None) -> Calibration:
    """Run the SLA calibration of a job config (its ``calibration`` block) and write its outputs.

    A latency lever (its name ends in ``_h``, or its value is a float) is calibrated with
    :func:`calibrate_latency` (the exact deadline path when the policies are pure deadlines), an
    integer lever such as ``policy.moderators`` with :func:`calibrate_count`; the search settings
    left out take the schema's defaults (:class:`~spreadsim.schema.model.CalibrationSettings`).
    Writes ``calibration`` (the evaluated curve, Parquet + CSV), ``calibration.json`` (the
    answer), ``calibration.png`` and ``report.html``.

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers (as for
        :func:`~spreadsim.runs.jobspec.check_job_config`), with
        ``calibration: {target, stat, lever, ...}``.
    out_dir : path-like
        The run folder (created if missing).
    svg : bool
        Also write the plot as SVG.
    config_text : str, optional
        The configuration for the report (``cfg`` as YAML if omitted).
    meta : mapping, optional
        ``experiment``, ``command`` and ``graph`` for the report's opening lines (as a sweep's
        report has them); missing ones are left out.

    Returns
    -------
    Calibration

    Raises
    ------
    ConfigError
        Bad input, before anything runs or is written.
    """
    spec = check_job_config(cfg)
    settings = spec.calibration
    if settings is None:
        raise ConfigError("calibration", cfg.get("calibration"), "is required for a calibration run")
    sim = {k: cfg[k] for k in SIM_KEYS if k in cfg}
    tic = time.perf_counter()
    if calibration_kind(cfg) == "latency":
        res = calibrate_latency(sim, spec.seeds, settings.target, lever=settings.lever,
                                stat=settings.stat, max_latency_h=settings.latency_max(),
                                tol=settings.tol)
    else:
        lo, hi = settings.count_range()
        res = calibrate_count(sim, spec.seeds, settings.target, lever=settings.lever,
                              stat=settings.stat, lo=lo, hi=hi)
    log.info("calibration: %d points evaluated in %.2f s", len(res.curve.get("lever", [])),
             time.perf_counter() - tic)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curve = {k: np.asarray(v, dtype=np.float64) for k, v in res.curve.items()}
    table = {settings.lever: curve["lever"], f"reach_{res.stat}": curve["reach"],
             "ci_low": curve["ci_low"], "ci_high": curve["ci_high"]}
    write_table(table, out / CALIBRATION_TABLE)
    # an answer the data do not support has no value (null), not one with a NaN bound
    value, ci_low, ci_high = ((res.value, res.ci_low, res.ci_high) if res.supported
                              else (None, None, None))
    answer = {"lever": res.lever, "target": res.target, "stat": res.stat, "value": value,
              "ci_low": ci_low, "ci_high": ci_high, "path": res.path, "seeds": list(spec.seeds),
              "feasible": res.feasible, "supported": res.supported,
              "points": [dict(zip(("lever", "reach", "ci_low", "ci_high"), row, strict=True))
                         for row in zip(*(curve[k].tolist() for k in ("lever", "reach", "ci_low",
                                                                      "ci_high")), strict=True)],
              "line": res.line(), "version": __version__}
    atomic_write_bytes(out / CALIBRATION_FILE,
                       (json.dumps(canonical(answer), indent=2) + "\n").encode())
    nan = math.nan
    files = plot_calibration(res.curve, lever=res.lever, target=res.target,
                             value=res.value if res.supported else nan,
                             ci_low=res.ci_low if res.supported else nan,
                             ci_high=res.ci_high if res.supported else nan, stat=res.stat,
                             path=out / CALIBRATION_PLOT, svg=svg)
    shown = [f for f in files if f.suffix == (".svg" if svg else ".png")]
    path = "deadline" if res.path.startswith("deadline") else "simulated"
    meta = dict(meta or {})
    said = calibration_answer(answer)
    info = {"command": meta.get("command"), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "version": f"spreadsim {__version__}", "graph": meta.get("graph")}
    write_report(out / REPORT_FILE, title=f"spreadsim SLA calibration: {out}",
                 config_text=config_text or config_yaml(cfg), summary=table, plots=shown,
                 seeds=spec.seeds, paths={path: len(spec.seeds) * len(curve["lever"])},
                 answer=said.sentence, experiment=meta.get("experiment"), question=said.question,
                 meta=info, swept=[settings.lever],
                 units={c: glossary.unit(CALIBRATION_TABLE, c, [settings.lever]) for c in table
                        if c != settings.lever},
                 meanings={c: glossary.meaning(CALIBRATION_TABLE, c, [settings.lever]) for c in table})
    return res


__all__ = ["Calibration", "calibrate_latency", "calibrate_count", "run_calibration"]
