"""Plots of sweep results (matplotlib, Agg backend: no display needed).

* :func:`plot_reach_vs_latency`: the headline figure, mean reach per illegal post against the
  removal latency with 95% confidence bands over the paired seeds (one line per value of any other
  swept parameter, e.g. per graph family);
* :func:`plot_prevented_vs_latency`: the share of reach prevented against the unmoderated twins;
* :func:`plot_time_to_removal`: distribution (ECDF) of the time from upload to removal per point;
* :func:`plot_reach_over_time`: mean reach per post over time per point (from the series tables);
* :func:`plot_reach_by_category`: reach per post per content category and point.

Every function writes a PNG (no timestamps in it, so the same data give the same bytes) and, with
``svg=True``, an SVG next to it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.outputs.tables import (
    PREVENTED_SHARE,
    REACH,
    REACH_BASELINE,
    fmt_value,
    latency_column,
    point_groups,
)

log = logging.getLogger(__name__)

__all__ = ["plot_reach_vs_latency", "plot_prevented_vs_latency", "plot_time_to_removal",
           "plot_reach_over_time", "plot_reach_by_category", "plot_calibration",
           "point_labels", "LatencyAxis"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str], svg: bool, bottom: float = 0.12) -> list[Path]:
    """Write ``fig`` as PNG to ``path`` (and as SVG beside it), atomically; close it.

    Fixed margins instead of ``tight_layout`` (which costs as much as drawing the figure)."""
    import io as _io

    from spreadsim.outputs.io import atomic_write_bytes

    plt = _pyplot()
    fig.subplots_adjust(left=0.12, right=0.97, top=0.92, bottom=bottom)
    out = [Path(path)]
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    if svg:
        svg_path = Path(path).with_suffix(".svg")
        buf = _io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        atomic_write_bytes(svg_path, buf.getvalue())
        out.append(svg_path)
    plt.close(fig)
    log.debug("plot written to %s", path)
    return out


def point_labels(summary: Mapping[str, np.ndarray], params: Sequence[str]) -> list[str]:
    """A short label per sweep point: its parameter values (``job <n>`` without parameters)."""
    present = [p for p in params if p in summary]
    varying = [p for p in present if len({fmt_value(v) for v in summary[p]}) > 1] or present
    labels = []
    for i in range(len(summary["job"])):
        parts = [f"{p.split('.')[-1]}={fmt_value(summary[p][i])}" for p in varying]
        labels.append(", ".join(parts) if parts else f"job {summary['job'][i]}")
    return labels


class LatencyAxis:
    """A latency axis for values that span decades, 0 (at upload) and ``inf`` (never) included.

    Symmetric-log (matplotlib's ``symlog``): linear from 0 to the smallest positive latency,
    logarithmic above it, so that 0 is drawn at 0 and 0.25, 1, 6, 24 and 168 h each get their
    own place; ``inf`` is drawn one decade beyond the largest finite latency, at a tick labelled
    ``never``, behind a dotted break line.

    Parameters
    ----------
    lat : numpy.ndarray
        The latencies (hours; ``inf`` for never).
    """

    def __init__(self, lat: np.ndarray) -> None:
        lat = np.asarray(lat, dtype=np.float64)
        pos = lat[np.isfinite(lat) & (lat > 0)]
        self.lo = float(pos.min()) if pos.size else 1.0
        self.hi = float(pos.max()) if pos.size else 1.0
        #: where ``inf`` is drawn: one decade beyond the finite range
        self.xinf = self.hi * 10.0
        self.has0, self.hasinf = bool((lat == 0).any()), bool(np.isinf(lat).any())

    def map(self, lat: np.ndarray) -> np.ndarray:
        """The x positions of latencies (``inf`` at :attr:`xinf`)."""
        lat = np.asarray(lat, dtype=np.float64)
        return np.where(np.isinf(lat), self.xinf, lat)

    def decorate(self, ax: Any, xs: np.ndarray, name: str = "") -> None:
        """Scale, ticks (the data's latencies, ``never`` for ``inf``), break line and label."""
        ax.set_xscale("symlog", linthresh=self.lo, linscale=0.5)
        ticks: list[float] = []
        for t in sorted(set(np.asarray(xs, dtype=np.float64).tolist())):
            # drop ticks that would print on top of each other (0 and never always stay)
            if (not ticks or t in (0.0, self.xinf) or ticks[-1] == 0.0
                    or math.log10(t / ticks[-1]) >= 0.3):
                ticks.append(t)
        labels = ["never" if t == self.xinf and self.hasinf else f"{t:g}" for t in ticks]
        ax.set_xticks(ticks, labels)
        ax.minorticks_off()
        if self.hasinf:
            ax.axvline((self.xinf * self.hi) ** 0.5, color="0.7", lw=0.8, ls=":")
        ax.set_xlim(0 if self.has0 else self.lo / 2, self.xinf * 1.6 if self.hasinf else self.hi * 1.6)
        what = "takedown half-life" if name.endswith("half_life_h") else "removal latency after upload"
        ax.set_xlabel(f"{what} (hours, symmetric log scale)")


def _curve_plot(summary: Mapping[str, np.ndarray], path: str | os.PathLike[str], *, y_col: str,
                lo_col: str, hi_col: str, ylabel: str, title: str, label: str,
                x: str | None, params: Sequence[str] | None, svg: bool,
                baseline: bool, labels: Sequence[str] | None = None) -> list[Path]:
    plt = _pyplot()
    y = np.asarray(summary[y_col], dtype=np.float64)
    lo = np.asarray(summary[lo_col], dtype=np.float64)
    hi = np.asarray(summary[hi_col], dtype=np.float64)
    err = np.vstack([np.nan_to_num(np.maximum(y - lo, 0)), np.nan_to_num(np.maximum(hi - y, 0))])
    x = x or latency_column(summary, params)
    if x is not None and len(set(np.asarray(summary[x]).tolist())) < 2:
        x = None  # one latency is a point, not a curve
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    bottom = 0.12
    if x is None:  # points without a latency: one marker each, labelled by what it is
        pos = np.arange(len(y))
        ax.errorbar(pos, y, yerr=err, fmt="o", capsize=3, label="mean over seeds, 95% CI")
        names = list(labels) if labels else point_labels(summary, params or [])
        many = len(names) > 3
        ax.set_xticks(pos, names, rotation=30 if many else 0, ha="right" if many else "center",
                      fontsize=7 if many else 8)
        ax.set_xlim(-0.6, len(y) - 0.4)
        ax.set_xlabel("run point" if len(y) == 1 else "sweep point")
        bottom = 0.3 if many else 0.14
        title = f"{title.split(' vs ')[0]}: {'one run point' if len(y) == 1 else 'each sweep point'}"
    else:
        lat = np.asarray(summary[x], dtype=np.float64)
        axis = LatencyAxis(lat)
        xs = axis.map(lat)
        groups = point_groups(summary, x, params)
        for g, (name, sel) in enumerate(groups):
            color = f"C{g % 10}"
            order = np.argsort(xs[sel], kind="stable")
            gx, gy = xs[sel][order], y[sel][order]
            ax.plot(gx, gy, "-", color=color, lw=1.5)
            ax.fill_between(gx, lo[sel][order], hi[sel][order], color=color, alpha=0.2,
                            label="95% CI over seeds" if len(groups) == 1 else None)
            ax.errorbar(gx, gy, yerr=err[:, sel][:, order], fmt="o", color=color, capsize=3,
                        label=label if len(groups) == 1 else name)
        axis.decorate(ax, xs, x)
    base = np.asarray(summary.get(REACH_BASELINE, np.full(len(y), np.nan)), dtype=np.float64)
    if baseline and np.isfinite(base).any() and (x is None or len(point_groups(summary, x, params)) == 1):
        ax.axhline(float(np.nanmean(base)), color="0.4", ls="--", lw=1,
                   label="unmoderated baseline")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # (matplotlib warns on stderr about an empty legend)
        ax.legend(loc="best", fontsize=8)
    if not math.isfinite(float(np.nansum(y))):
        log.warning("%s has non-finite values; the plot may be incomplete", y_col)
    return _save(fig, path, svg, bottom)


def plot_reach_vs_latency(summary: Mapping[str, np.ndarray], path: str | os.PathLike[str],
                          x: str | None = None, *, params: Sequence[str] | None = None,
                          svg: bool = False,
                          labels: Sequence[str] | None = None) -> list[Path]:
    """Plot mean reach per post against removal latency, with 95% CI, to a PNG file.

    The latency axis is symmetric-log (:class:`LatencyAxis`): 0 (removal at upload) at 0, the
    latencies on a log scale above the smallest one, ``inf`` (never removed) at a tick labelled
    ``never`` one decade beyond the largest; the unmoderated baseline, if known, is a dashed line.
    Other swept parameters (``params`` besides the latency) give one line each. Without a latency
    column, or with one latency only, the points are drawn in job order with their labels (a
    single run: one point, titled as one run point).

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        A table from :func:`spreadsim.outputs.tables.summarize_results` (``reach_mean``,
        ``reach_ci_low``, ``reach_ci_high``, optionally ``reach_baseline_mean``).
    path : path-like
        The PNG file to write.
    x : str, optional
        The latency column; :func:`spreadsim.outputs.tables.latency_column` of ``params`` (the
        rule the answer uses) if omitted.
    params : sequence of str, optional
        The swept parameter columns (for grouping and labels).
    svg : bool
        Also write an SVG beside the PNG.
    labels : sequence of str, optional
        Without a latency column: one label per point (what it is); the swept values if omitted.

    Returns
    -------
    list of Path
        The files written.
    """
    return _curve_plot(summary, path, y_col=REACH[0], lo_col=REACH[1],
                       hi_col=REACH[2], ylabel="reach per illegal post (users exposed)",
                       title="Reach per illegal post vs removal latency", label="mean reach per post", x=x,
                       params=params, svg=svg, baseline=True, labels=labels)


def plot_prevented_vs_latency(summary: Mapping[str, np.ndarray], path: str | os.PathLike[str],
                              x: str | None = None, *, params: Sequence[str] | None = None,
                              svg: bool = False,
                              labels: Sequence[str] | None = None) -> list[Path]:
    """Plot the share of reach prevented against the paired unmoderated twins, with its 95% CI.

    The share is ``prevented_share``, ``1 - sum(reach) / sum(baseline reach)`` over the seeds
    (:func:`~spreadsim.outputs.stats.share_prevented_ci`), the figure the answer quotes.
    Parameters are as for :func:`plot_reach_vs_latency`; the summary needs ``prevented_share``,
    ``prevented_share_ci_low`` and ``prevented_share_ci_high``.

    Returns
    -------
    list of Path
    """
    return _curve_plot(summary, path, y_col=PREVENTED_SHARE[0], lo_col=PREVENTED_SHARE[1],
                       hi_col=PREVENTED_SHARE[2],
                       ylabel="share of reach prevented (1 = all)",
                       title="Share of reach prevented vs removal latency",
                       label="share prevented (paired seeds)",
                       x=x, params=params, svg=svg, baseline=False, labels=labels)


def _colors(n: int) -> list[Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(1, n - 1) * 0.9) for i in range(n)]


def plot_time_to_removal(delays: Sequence[tuple[str, np.ndarray]], path: str | os.PathLike[str], *,
                         svg: bool = False) -> list[Path]:
    """ECDF of the time from upload to removal of the removed illegal posts, one line per point.

    Parameters
    ----------
    delays : sequence of (label, array of hours)
        Per sweep point, the delays of its removed posts over all seeds (points without removals
        are listed in the legend as such).
    path : path-like
        The PNG file.
    svg : bool
        Also write an SVG.

    Returns
    -------
    list of Path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colors = _colors(len(delays))
    positive = np.concatenate([d[d > 0] for _, d in delays]) if delays else np.zeros(0)
    floor = float(positive.min()) / 2 if positive.size else 0.01
    for (label, d), color in zip(delays, colors, strict=True):
        d = np.sort(np.asarray(d, dtype=np.float64))
        if d.size == 0:
            ax.plot([], [], color=color, label=f"{label} (no removals)")
            continue
        y = np.arange(1, d.size + 1) / d.size
        ax.step(np.maximum(d, floor), y, where="post", color=color, label=f"{label} (n={d.size})")
    ax.set_xscale("log")
    ax.set_xlabel("time from upload to removal (hours, log scale; 0 drawn at the left edge)")
    ax.set_ylabel("share of removed illegal posts")
    ax.set_ylim(0, 1.02)
    ax.set_title("Time to removal")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return _save(fig, path, svg)


def plot_reach_over_time(curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
                         path: str | os.PathLike[str], *, svg: bool = False) -> list[Path]:
    """Mean reach per illegal post over time, one line per sweep point.

    Parameters
    ----------
    curves : sequence of (label, time in hours, mean reach per post)
    path : path-like
    svg : bool

    Returns
    -------
    list of Path
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for (label, t, r), color in zip(curves, _colors(len(curves)), strict=True):
        ax.plot(t, r, "-", color=color, lw=1.5, label=label)
    ax.set_xlabel("time since the campaign started (hours)")
    ax.set_ylabel("reach per illegal post (users exposed)")
    ax.set_ylim(bottom=0)
    ax.set_title("Reach over time (mean over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return _save(fig, path, svg)


def plot_reach_by_category(table: Mapping[str, np.ndarray], labels: Sequence[str],
                           path: str | os.PathLike[str], *, svg: bool = False) -> list[Path]:
    """Mean reach per post by content category, per sweep point (grouped bars with 95% CI).

    Parameters
    ----------
    table : mapping of str to numpy.ndarray
        The ``categories`` table (``job``, ``category``, ``reach_mean``, ``reach_ci_low``,
        ``reach_ci_high``).
    labels : sequence of str
        One label per job, in the table's job order.
    path : path-like
    svg : bool

    Returns
    -------
    list of Path
    """
    plt = _pyplot()
    jobs = list(dict.fromkeys(np.asarray(table["job"]).tolist()))
    cats = list(dict.fromkeys(np.asarray(table["category"]).tolist()))
    fig, ax = plt.subplots(figsize=(max(6.4, 0.5 * len(jobs) * max(1, len(cats)) / 2), 4.2), dpi=120)
    width = 0.8 / max(1, len(cats))
    pos = np.arange(len(jobs))
    for c, cat in enumerate(cats):
        ys: list[float] = []
        errs: list[list[float]] = [[], []]
        for j in jobs:
            sel = (table["job"] == j) & (table["category"] == cat)
            if not sel.any():
                ys.append(np.nan)
                errs[0].append(0.0)
                errs[1].append(0.0)
                continue
            i = int(np.flatnonzero(sel)[0])
            y = float(table[REACH[0]][i])
            ys.append(y)
            errs[0].append(float(np.nan_to_num(max(0.0, y - table[REACH[1]][i]))))
            errs[1].append(float(np.nan_to_num(max(0.0, table[REACH[2]][i] - y))))
        ax.bar(pos + (c - (len(cats) - 1) / 2) * width, ys, width, yerr=np.array(errs), capsize=2,
               label=cat.replace("_", " "), color=f"C{c % 10}")
    ax.set_xticks(pos, list(labels), rotation=30 if len(jobs) > 3 else 0,
                  ha="right" if len(jobs) > 3 else "center", fontsize=7)
    ax.set_ylabel("reach per post (users exposed)")
    ax.set_ylim(bottom=0)
    ax.set_title("Reach per post by content category (95% CI over seeds)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return _save(fig, path, svg, 0.3 if len(jobs) > 3 else 0.12)


def plot_calibration(curve: Mapping[str, Sequence[float]], *, lever: str, target: float,
                     value: float, ci_low: float, ci_high: float, stat: str,
                     path: str | os.PathLike[str], svg: bool = False) -> list[Path]:
    """The calibration curve (reach statistic against the lever, 95% CI), target and answer.

    Parameters
    ----------
    curve : mapping
        ``lever``, ``reach``, ``ci_low``, ``ci_high`` lists (the evaluated points).
    lever : str
        The lever's name (axis label).
    target : float
        The reach target (horizontal line).
    value, ci_low, ci_high : float
        The answer and its 95% CI (vertical line and band; NaN if infeasible).
    stat : str
        ``mean`` or ``p95``.
    path : path-like
    svg : bool

    Returns
    -------
    list of Path
    """
    plt = _pyplot()
    x = np.asarray(curve["lever"], dtype=np.float64)
    y = np.asarray(curve["reach"], dtype=np.float64)
    lo = np.asarray(curve["ci_low"], dtype=np.float64)
    hi = np.asarray(curve["ci_high"], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    latency = "latency" in lever or lever.endswith("_h")
    xs = np.where(x > 0, x, np.nan) if latency else x
    ax.fill_between(xs, np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan),
                    color="C0", alpha=0.2, label="95% CI over seeds")
    ax.plot(xs, y, "o-", color="C0", ms=3, label=f"{stat} reach per post (evaluated points)")
    ax.axhline(target, color="C3", ls="--", lw=1, label=f"target {target:g}")
    if math.isfinite(value):
        ax.axvline(value, color="k", lw=1, label=f"answer {value:.4g}")
        if math.isfinite(ci_low) and math.isfinite(ci_high) and ci_high > ci_low:
            ax.axvspan(ci_low, ci_high, color="0.5", alpha=0.15, label="95% CI of the answer")
    if latency:
        ax.set_xscale("log")
    ax.set_xlabel(lever + (" (hours, log scale)" if latency else ""))
    ax.set_ylabel(f"{stat} reach per illegal post")
    ax.set_ylim(bottom=0)
    ax.set_title("SLA calibration")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=7)
    return _save(fig, path, svg)
