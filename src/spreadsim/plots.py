"""Plots of sweep summaries (matplotlib, Agg backend: no display needed).

:func:`plot_reach_vs_latency` draws the sweep's headline figure: mean reach per illegal post
against the removal latency, with 95% confidence intervals over the paired seeds.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["plot_reach_vs_latency", "latency_column"]


def latency_column(summary: Mapping[str, np.ndarray]) -> str | None:
    """The summary's removal-latency column (a numeric column named ``...latency_h``), if any.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray

    Returns
    -------
    str or None
    """
    for k, v in summary.items():
        if k.split(".")[-1] == "latency_h" and np.asarray(v).dtype.kind in "fiu":
            return k
    return None


def plot_reach_vs_latency(summary: Mapping[str, np.ndarray], path: str | os.PathLike[str],
                          x: str | None = None) -> None:
    """Plot mean reach per post against removal latency, with 95% CI, to a PNG file.

    The latency axis is logarithmic. A latency of 0 (removal at upload) is drawn as a separate
    point left of the axis break and ``inf`` (never removed) as a separate point on the right;
    the unmoderated baseline, if known, is a dashed line. Without a latency column the points are
    drawn in job order with their parameters as labels.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        A table from :func:`spreadsim.sweep.summarize_results` (``reach_mean``,
        ``reach_ci_low``, ``reach_ci_high``, optionally ``reach_baseline_mean``).
    path : path-like
        The PNG file to write.
    x : str, optional
        The latency column; found by name (``*latency_h``) if omitted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .io import atomic_write_bytes

    y = np.asarray(summary["reach_mean"], dtype=np.float64)
    lo = np.asarray(summary["reach_ci_low"], dtype=np.float64)
    hi = np.asarray(summary["reach_ci_high"], dtype=np.float64)
    err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])
    x = x or latency_column(summary)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    if x is None:
        pos = np.arange(len(y))
        ax.errorbar(pos, y, yerr=err, fmt="o", capsize=3)
        ax.set_xticks(pos, [f"job {j}" for j in summary["job"]])
        ax.set_xlabel("sweep point")
    else:
        lat = np.asarray(summary[x], dtype=np.float64)
        finite = np.isfinite(lat) & (lat > 0)
        pos_lat = lat[finite]
        lo_x = pos_lat.min() if pos_lat.size else 1.0
        hi_x = pos_lat.max() if pos_lat.size else 1.0
        # 0 and inf cannot sit on a log axis: place them one decade beyond the finite range
        x0, xinf = lo_x / 10.0, hi_x * 10.0
        xs = np.where(lat == 0, x0, np.where(np.isinf(lat), xinf, lat))
        order = np.argsort(xs[finite], kind="stable")
        fx, fy = xs[finite][order], y[finite][order]
        if fx.size:
            ax.plot(fx, fy, "-", color="C0", lw=1.5)
            ax.fill_between(fx, lo[finite][order], hi[finite][order], color="C0", alpha=0.2,
                            label="95% CI over seeds")
        ax.errorbar(xs, y, yerr=err, fmt="o", color="C0", capsize=3, label="mean reach per post")
        ax.set_xscale("log")
        ticks = sorted(set(xs.tolist()))
        labels = [("0" if t == x0 and (lat == 0).any() else
                   "never" if t == xinf and np.isinf(lat).any() else f"{t:g}") for t in ticks]
        ax.set_xticks(ticks, labels)
        ax.minorticks_off()
        for edge in ((x0 * lo_x) ** 0.5 if (lat == 0).any() else None,
                     (xinf * hi_x) ** 0.5 if np.isinf(lat).any() else None):
            if edge is not None:
                ax.axvline(edge, color="0.7", lw=0.8, ls=":")
        ax.set_xlabel("removal latency after upload (hours, log scale)")
    base = np.asarray(summary.get("reach_baseline_mean", np.full(len(y), np.nan)), dtype=np.float64)
    if np.isfinite(base).any():
        ax.axhline(float(np.nanmean(base)), color="0.4", ls="--", lw=1,
                   label="unmoderated baseline")
    ax.set_ylabel("reach per illegal post (users exposed)")
    ax.set_ylim(bottom=0)
    ax.set_title("Reach vs removal latency")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    import io as _io

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    log.info("plot written to %s", path)
    if not math.isfinite(float(np.nansum(y))):
        log.warning("reach has non-finite values; the plot may be incomplete")
