"""A sweep's tables: one row per sweep point (:func:`summarize_results`), one row per point and
content category (:func:`category_table`), and the summary as text (:func:`format_summary`).

Means over paired seeds come with 95% t intervals (:func:`spreadsim.outputs.stats.mean_ci`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spreadsim.outputs.columns import Table, plain, rows_to_columns
from spreadsim.outputs.stats import mean_ci, nanmean

#: the columns of the summary table besides the parameters and ``job``
SUMMARY_COLUMNS = ("n_seeds", "reach_mean", "reach_ci_low", "reach_ci_high", "reach_baseline_mean",
                   "prevented_mean", "prevented_ci_low", "prevented_ci_high",
                   "prevented_frac_mean", "removed_share_mean", "path")

__all__ = ["SUMMARY_COLUMNS", "summarize_results", "category_table", "format_summary"]


def summarize_results(results: Mapping[str, np.ndarray], params: Sequence[str]) -> Table:
    """One row per sweep point (job): mean reach per post and reach prevented, with 95% CIs.

    Parameters
    ----------
    results : mapping of str to numpy.ndarray
        The table from :func:`~spreadsim.outputs.aggregate.aggregate`.
    params : sequence of str
        Its parameter columns (copied to the summary).

    Returns
    -------
    dict of str to numpy.ndarray
        Columns: the parameters, ``job``, ``n_seeds``; ``reach_mean`` (mean over seeds of the
        per-run mean reach per illegal post) with ``reach_ci_low``/``reach_ci_high`` (95%, t
        distribution over seeds); ``reach_baseline_mean`` (unmoderated twin);
        ``prevented_mean`` (paired per-seed difference baseline - moderated, per post) with its
        CI; ``prevented_frac_mean``; ``removed_share_mean``; ``path`` (``deadline`` or
        ``simulated``: how the job's runs were computed).
    """
    jobs = results["job"]
    order = list(dict.fromkeys(jobs.tolist()))
    nan = np.full(len(jobs), np.nan)
    rows = []
    for j in order:
        sel = jobs == j
        first = int(np.flatnonzero(sel)[0])
        reach = results["reach_mean"][sel].astype(np.float64)
        prevented = results.get("reach_prevented_mean", nan)[sel].astype(np.float64)
        base = results.get("reach_baseline_mean", nan)[sel].astype(np.float64)
        frac = results.get("reach_prevented_frac", nan)[sel].astype(np.float64)
        m, lo, hi = mean_ci(reach)
        pm, plo, phi = mean_ci(prevented)
        row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
        row.update({
            "job": int(j), "n_seeds": int(sel.sum()),
            "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
            "reach_baseline_mean": nanmean(base),
            "prevented_mean": pm, "prevented_ci_low": plo, "prevented_ci_high": phi,
            "prevented_frac_mean": nanmean(frac),
            "removed_share_mean": (nanmean(results["removed_share"][sel].astype(np.float64))
                                   if "removed_share" in results else math.nan),
            "path": ",".join(dict.fromkeys(results["path"][sel].tolist())) if "path" in results
            else "-",
        })
        rows.append(row)
    return rows_to_columns(rows)


def category_table(results: Mapping[str, np.ndarray], params: Sequence[str],
                   posts: Sequence[Mapping[str, np.ndarray]]) -> Table:
    """Reach per post by content category: one row per sweep point (job) and category.

    Parameters
    ----------
    results : mapping of str to numpy.ndarray
        The table from :func:`~spreadsim.outputs.aggregate.aggregate` (for the parameter values
        of each job).
    params : sequence of str
        Its parameter columns.
    posts : sequence of mappings
        The ``posts`` table of each job, in the order of the jobs in ``results``.

    Returns
    -------
    dict of str to numpy.ndarray
        The parameters, ``job``, ``category``, ``n_seeds``, ``posts_per_seed``, ``reach_mean``
        (mean over seeds of the seed's mean reach per post of the category) with a 95% CI,
        ``removed_share`` and ``time_to_removal_median_h``.
    """
    jobs = list(dict.fromkeys(results["job"].tolist()))
    rows: list[dict[str, Any]] = []
    for j, p in zip(jobs, posts, strict=True):
        first = int(np.flatnonzero(results["job"] == j)[0])
        seeds = list(dict.fromkeys(np.asarray(p["seed"]).tolist()))
        for cat in sorted(set(np.asarray(p["category"]).tolist())):
            per_seed = []
            in_cat = p["category"] == cat
            for sd in seeds:
                sel = in_cat & (p["seed"] == sd)
                if sel.any():
                    per_seed.append(float(np.asarray(p["reach"][sel], dtype=np.float64).mean()))
            m, lo, hi = mean_ci(per_seed)
            removed = ~np.isnan(np.asarray(p["removal_time_h"][in_cat], dtype=np.float64))
            delay = (p["removal_time_h"] - p["upload_time_h"])[in_cat][removed]
            row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
            row.update({"job": int(j), "category": str(cat), "n_seeds": len(per_seed),
                        "posts_per_seed": int(in_cat.sum()) / max(1, len(seeds)),
                        "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
                        "removed_share": float(removed.mean()) if removed.size else math.nan,
                        "time_to_removal_median_h": float(np.median(delay)) if delay.size
                        else math.nan})
            rows.append(row)
    return rows_to_columns(rows)


def _fmt(x: Any, width: int) -> str:
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f):
            return "-".rjust(width)
        if math.isinf(f):
            return ("inf" if f > 0 else "-inf").rjust(width)
        return f"{f:{width}.{2 if abs(f) < 1e5 else 0}f}"
    return str(x).rjust(width)


def _fmt_param(x: Any, width: int) -> str:
    if isinstance(x, float | np.floating) and not math.isnan(x):
        return f"{x:g}".rjust(width)
    return _fmt(x, width)


def format_summary(summary: Mapping[str, np.ndarray], params: Sequence[str]) -> str:
    """The summary as a fixed-width text table (what the ``spreadsim`` command prints).

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The table from :func:`summarize_results`.
    params : sequence of str
        Parameter columns to show first.

    Returns
    -------
    str
        Header line plus one line per sweep point, newline-terminated.
    """
    cols: list[tuple[str, int]] = [(p, max(10, len(p))) for p in params]
    cols += [("n_seeds", 7), ("reach/post", 10), ("95% CI", 21), ("prevented/post", 14),
             ("95% CI ", 21), ("prevented", 9), ("path", 9)]
    lines = ["  ".join(h.strip().rjust(w) for h, w in cols)]
    for i in range(len(summary["job"])):
        cells = [_fmt_param(summary[p][i], w) for p, w in cols[: len(params)]]
        ci = f"[{_fmt(summary['reach_ci_low'][i], 8)}, {_fmt(summary['reach_ci_high'][i], 8)}]"
        pci = (f"[{_fmt(summary['prevented_ci_low'][i], 8)}, "
               f"{_fmt(summary['prevented_ci_high'][i], 8)}]")
        frac = summary["prevented_frac_mean"][i]
        cells += [str(summary["n_seeds"][i]).rjust(7), _fmt(summary["reach_mean"][i], 10),
                  ci.rjust(21),
                  _fmt(summary["prevented_mean"][i], 14), pci.rjust(21),
                  ("-" if math.isnan(frac) else f"{100 * frac:.1f}%").rjust(9),
                  str(summary["path"][i] if "path" in summary else "-").rjust(9)]
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"
