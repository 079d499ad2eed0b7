"""A sweep's tables: one row per sweep point (:func:`summarize_results`), one row per point and
content category (:func:`category_table`), and the summary as text (:func:`format_summary`).

Means over paired seeds come with 95% t intervals (:func:`spreadsim.outputs.stats.mean_ci`), cut
to the values the mean can take (reach per post is never negative, a share lies in [0, 1], reach
prevented is not negative when no seed's is, as under every deadline); the share of reach
prevented is a ratio of totals over the seeds with its own interval
(:func:`spreadsim.outputs.stats.share_prevented_ci`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from spreadsim.outputs.columns import Table, plain, rows_to_columns
from spreadsim.outputs.stats import mean_ci, nanmean, share_prevented_ci

#: the columns of the summary table besides the parameters and ``job`` (those of a policy's or a
#: reference's figures, :data:`NOTICE_FIGURES` and :data:`TARGET_COLUMNS`, come when they apply)
SUMMARY_COLUMNS = ("n_seeds", "reach_mean", "reach_ci_low", "reach_ci_high", "reach_baseline_mean",
                   "prevented_mean", "prevented_ci_low", "prevented_ci_high",
                   "prevented_share", "prevented_share_ci_low", "prevented_share_ci_high",
                   "removed_share_mean", "path")
#: the Code of Conduct's figures of a notice-and-takedown policy: the per-seed summary key of the
#: policy (``policy<i>_notice_and_takedown_<key>``) -> the summary's column stem
#: (``<stem>_mean``, ``<stem>_ci_low``, ``<stem>_ci_high``)
NOTICE_FIGURES = {"notice_reviewed_24h_share": "notice_reviewed_24h_share",
                  "notice_removed_share": "notice_removed_share"}
#: the experiments that reproduce a Code of Conduct monitoring round: experiment -> the round
#: (``round`` in ``data/code_of_conduct_rounds.csv``, as the experiment's header cites it)
COC_EXPERIMENTS = {"coc_2016": "2016-12", "coc_2017": "2017-06"}
#: the reference columns of such an experiment (results and summary): column -> the CSV's column
TARGET_COLUMNS = {"target_round": "round",
                  "target_notice_reviewed_24h_share": "share_reviewed_within_24h",
                  "target_notice_removed_share": "share_removed"}

#: what the true mean of reach per post and of a share can be: the t intervals are cut to it
REACH_BOUNDS: tuple[float | None, float | None] = (0.0, None)
SHARE_BOUNDS: tuple[float | None, float | None] = (0.0, 1.0)

__all__ = ["SUMMARY_COLUMNS", "NOTICE_FIGURES", "COC_EXPERIMENTS", "TARGET_COLUMNS",
           "summarize_results", "category_table", "format_summary", "swept_params",
           "coc_targets", "platform_names"]

_NOTICE_KEY = re.compile(r"^(policy\d+)_notice_and_takedown_(\w+)$")


def coc_targets(experiment: str | None) -> dict[str, Any]:
    """The reference figures of an experiment that reproduces a Code of Conduct monitoring round
    (:data:`COC_EXPERIMENTS`), from the shipped ``spreadsim.data`` table: ``target_round``,
    ``target_notice_reviewed_24h_share``, ``target_notice_removed_share``; empty for any other
    experiment."""
    round_ = COC_EXPERIMENTS.get(str(experiment))
    if round_ is None:
        return {}
    text = (resources.files("spreadsim.data") / "code_of_conduct_rounds.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        if row["round"] == round_:
            return {col: (row[src] if col == "target_round" else float(row[src]))
                    for col, src in TARGET_COLUMNS.items()}
    raise LookupError(f"code_of_conduct_rounds.csv has no round {round_}")  # (a test keeps them)


def _notice_columns(results: Mapping[str, np.ndarray]) -> dict[str, str]:
    """The results' per-seed notice figures -> the summary's column stem: plain names with one
    notice-and-takedown policy in the stack, prefixed by the policy's label with several."""
    found: dict[str, list[tuple[str, str]]] = {}
    for col in results:
        m = _NOTICE_KEY.match(col)
        if m and m.group(2) in NOTICE_FIGURES:
            found.setdefault(m.group(1), []).append((col, NOTICE_FIGURES[m.group(2)]))
    if len(found) == 1:
        return dict(next(iter(found.values())))
    return {col: f"{label}_{stem}" for label, cols in found.items() for col, stem in cols}


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
        CI; ``prevented_share`` (``1 - sum(reach_total) / sum(reach_baseline_total)`` over the
        seeds) with ``prevented_share_ci_low``/``_high``
        (:func:`~spreadsim.outputs.stats.share_prevented_ci`); ``removed_share_mean`` (share of
        illegal posts removed); ``path`` (``deadline`` or ``simulated``: how the job's runs were
        computed). With a notice-and-takedown policy, the Code of Conduct's figures as means over
        seeds with 95% CIs: ``notice_reviewed_24h_share_mean`` (share of notices reviewed within
        24 h) and ``notice_removed_share_mean`` (share of notices whose post was removed), each
        with ``_ci_low``/``_ci_high``; for an experiment that reproduces a monitoring round, the
        round's figures (:data:`TARGET_COLUMNS`). For several platforms, each platform's reach
        per illegal post with its interval: ``<platform>.reach_mean``, ``_ci_low``, ``_ci_high``.
    """
    jobs = results["job"]
    order = list(dict.fromkeys(jobs.tolist()))
    nan = np.full(len(jobs), np.nan)
    notice = _notice_columns(results)
    targets = [c for c in TARGET_COLUMNS if c in results]
    platforms = platform_names(results)
    rows = []
    for j in order:
        sel = jobs == j
        first = int(np.flatnonzero(sel)[0])

        def col(name: str, sel: np.ndarray = sel) -> np.ndarray:
            return np.asarray(results.get(name, nan)[sel], dtype=np.float64)

        m, lo, hi = mean_ci(col("reach_mean"), bounds=REACH_BOUNDS)
        prevented = col("reach_prevented_mean")
        # no seed with negative prevention (as under every deadline): the mean is not negative
        pm, plo, phi = mean_ci(prevented, bounds=(0.0, None) if np.all(prevented[np.isfinite(
            prevented)] >= 0) else (None, None))
        share, slo, shi = share_prevented_ci(col("reach_total"), col("reach_baseline_total"))
        row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
        row.update({
            "job": int(j), "n_seeds": int(sel.sum()),
            "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
            "reach_baseline_mean": nanmean(col("reach_baseline_mean")),
            "prevented_mean": pm, "prevented_ci_low": plo, "prevented_ci_high": phi,
            "prevented_share": share, "prevented_share_ci_low": slo,
            "prevented_share_ci_high": shi,
            "removed_share_mean": nanmean(col("removed_share")),
            "path": ",".join(dict.fromkeys(results["path"][sel].tolist())) if "path" in results
            else "-",
        })
        for src, stem in notice.items():
            fm, flo, fhi = mean_ci(col(src), bounds=SHARE_BOUNDS)
            row.update({f"{stem}_mean": fm, f"{stem}_ci_low": flo, f"{stem}_ci_high": fhi})
        for name in platforms:
            m, lo, hi = mean_ci(col(f"{name}.reach_mean"), bounds=REACH_BOUNDS)
            row.update({f"{name}.reach_mean": m, f"{name}.reach_ci_low": lo, f"{name}.reach_ci_high": hi})
        row.update({c: plain(results[c][first]) for c in targets})
        rows.append(row)
    return rows_to_columns(rows)


def platform_names(table: Mapping[str, np.ndarray]) -> list[str]:
    """The platforms of a multi-platform run's results or summary table (their
    ``<platform>.reach_mean`` columns), in the table's order; empty for one platform."""
    return [c[: -len(".reach_mean")] for c in table if c.endswith(".reach_mean")]


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
        ``removed_share`` and ``time_to_removal_median_h``; with the paired baselines
        (``reach_baseline`` in the posts tables) ``prevented_share`` of the category, ``1 -
        sum(reach) / sum(reach_baseline)`` over its posts of every seed, with
        ``prevented_share_ci_low``/``_high`` (:func:`~spreadsim.outputs.stats.share_prevented_ci`
        over the seeds' totals).
    """
    jobs = list(dict.fromkeys(results["job"].tolist()))
    rows: list[dict[str, Any]] = []
    for j, p in zip(jobs, posts, strict=True):
        first = int(np.flatnonzero(results["job"] == j)[0])
        seeds = list(dict.fromkeys(np.asarray(p["seed"]).tolist()))
        for cat in sorted(set(np.asarray(p["category"]).tolist())):
            per_seed, totals, base_totals = [], [], []
            in_cat = p["category"] == cat
            for sd in seeds:
                sel = in_cat & (p["seed"] == sd)
                if sel.any():
                    reach = np.asarray(p["reach"][sel], dtype=np.float64)
                    per_seed.append(float(reach.mean()))
                    totals.append(float(reach.sum()))
                    base_totals.append(float(np.asarray(p["reach_baseline"][sel], dtype=np.float64)
                                             .sum()) if "reach_baseline" in p else math.nan)
            m, lo, hi = mean_ci(per_seed, bounds=REACH_BOUNDS)
            share, slo, shi = share_prevented_ci(totals, base_totals)
            removed = ~np.isnan(np.asarray(p["removal_time_h"][in_cat], dtype=np.float64))
            delay = (p["removal_time_h"] - p["upload_time_h"])[in_cat][removed]
            row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
            row.update({"job": int(j), "category": str(cat), "n_seeds": len(per_seed),
                        "posts_per_seed": int(in_cat.sum()) / max(1, len(seeds)),
                        "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
                        "prevented_share": share, "prevented_share_ci_low": slo,
                        "prevented_share_ci_high": shi,
                        "removed_share": float(removed.mean()) if removed.size else math.nan,
                        "time_to_removal_median_h": float(np.median(delay)) if delay.size
                        else math.nan})
            rows.append(row)
    return rows_to_columns(rows)


def _fmt(x: Any) -> str:
    """A figure for the console: two decimals (none from 1e5 on), ``-`` for NaN."""
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f):
            return "-"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f"{f:.{2 if abs(f) < 1e5 else 0}f}"
    return str(x)


def _pct(x: Any) -> str:
    f = float(x)
    return "-" if math.isnan(f) else f"{100 * f:.1f}%"


def _interval(lo: Any, hi: Any, fmt: Any = _fmt) -> str:
    if math.isnan(float(lo)) and math.isnan(float(hi)):
        return "-"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _fmt_param(x: Any) -> str:
    if isinstance(x, float | np.floating) and not math.isnan(x):
        return f"{x:g}"
    return _fmt(x)


def _sort_key(x: Any) -> tuple[int, float, str]:
    """Numbers in numeric order (``inf`` last among them), then everything else as text."""
    x = plain(x)
    if isinstance(x, bool) or not isinstance(x, int | float) or math.isnan(x):
        return (1, 0.0, str(x))
    return (0, float(x), "")


def swept_params(summary: Mapping[str, np.ndarray], params: Sequence[str]) -> list[str]:
    """The parameters that take more than one value across the summary's rows (those a sweep
    varies; an override that was set but not swept, such as ``graph.path``, takes one)."""
    return [p for p in params
            if len({repr(plain(v)) for v in np.asarray(summary[p]).tolist()}) > 1]


def format_summary(summary: Mapping[str, np.ndarray], params: Sequence[str]) -> str:
    """The summary as an aligned text table (what the ``spreadsim`` command prints).

    Only the swept parameters (:func:`swept_params`) are shown, as the first columns, and the
    rows are sorted by their values (numbers numerically, ``inf`` after every finite value).
    With a notice-and-takedown policy the Code of Conduct's figures follow, and a line gives the
    monitoring round's figures when the experiment reproduces one.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The table from :func:`summarize_results`.
    params : sequence of str
        Its parameter columns.

    Returns
    -------
    str
        Header line plus one line per sweep point, newline-terminated.
    """
    shown = swept_params(summary, params)
    n = len(summary["job"])
    order = sorted(range(n), key=lambda i: tuple(_sort_key(summary[p][i]) for p in shown))
    notice = [c[: -len("_mean")] for c in summary if c.endswith("_mean")
              and c[: -len("_mean")].endswith(tuple(NOTICE_FIGURES.values()))]
    platforms = platform_names(summary)
    header = [*shown, "n_seeds", "reach/post", "95% CI", "prevented/post", "prevented share",
              "95% CI"]
    for name in platforms:
        header += [f"{name}: reach/post", "95% CI"]
    for stem in notice:
        header += [stem.replace("notice_reviewed_24h_share", "reviewed <= 24 h")
                   .replace("notice_removed_share", "notices removed"), "95% CI"]
    header.append("path")
    rows = []
    for i in order:
        cells = [_fmt_param(summary[p][i]) for p in shown]
        cells += [str(summary["n_seeds"][i]), _fmt(summary["reach_mean"][i]),
                  _interval(summary["reach_ci_low"][i], summary["reach_ci_high"][i]),
                  _fmt(summary["prevented_mean"][i]), _pct(summary["prevented_share"][i]),
                  _interval(summary["prevented_share_ci_low"][i],
                            summary["prevented_share_ci_high"][i], _pct)]
        for name in platforms:
            cells += [_fmt(summary[f"{name}.reach_mean"][i]),
                      _interval(summary[f"{name}.reach_ci_low"][i], summary[f"{name}.reach_ci_high"][i])]
        for stem in notice:
            cells += [_pct(summary[f"{stem}_mean"][i]),
                      _interval(summary[f"{stem}_ci_low"][i], summary[f"{stem}_ci_high"][i], _pct)]
        cells.append(str(summary["path"][i]) if "path" in summary else "-")
        rows.append(cells)
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    if n and "target_round" in summary:
        lines.append(f"Code of Conduct monitoring round {summary['target_round'][0]}: reviewed "
                     f"<= 24 h {_pct(summary['target_notice_reviewed_24h_share'][0])}, notices "
                     f"removed {_pct(summary['target_notice_removed_share'][0])}")
    return "\n".join(lines) + "\n"
