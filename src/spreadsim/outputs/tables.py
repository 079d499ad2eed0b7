"""A sweep's tables: one row per sweep point (:func:`summarize_results`), one row per point and
content category (:func:`category_table`), and the summary as text (:func:`format_summary`).

Means over paired seeds come with 95% t intervals (:func:`spreadsim.outputs.stats.mean_ci`), cut
to the values the mean is known in advance to take (reach per post is never negative, a share
lies in [0, 1], reach prevented is not negative on the deadline path); the share of reach
prevented is a ratio of totals over the seeds with its own interval
(:func:`spreadsim.outputs.stats.share_prevented_ci`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spreadsim.errors import ConfigError
from spreadsim.outputs.columns import Table, plain, rows_to_columns
from spreadsim.outputs.stats import mean_ci, nanmean, share_prevented_ci
from spreadsim.schema.model import COC_ROUNDS, LEGAL

#: the summary's reach per illegal post: mean over seeds and its 95% interval
REACH = ("reach_mean", "reach_ci_low", "reach_ci_high")
#: the summary's share of reach prevented against the paired twins and its 95% interval
PREVENTED_SHARE = ("prevented_share", "prevented_share_ci_low", "prevented_share_ci_high")
#: the summary's reach prevented per post (paired differences) and its 95% interval
PREVENTED = ("prevented_mean", "prevented_ci_low", "prevented_ci_high")
#: the summary's mean reach per post of the unmoderated twins
REACH_BASELINE = "reach_baseline_mean"
#: the summary's mean share of the illegal posts removed
REMOVED_SHARE = "removed_share_mean"
#: the summary's column of how a point's runs were computed (``deadline``, ``simulated``)
PATH = "path"
#: the columns of the summary table besides the parameters and ``job`` (those of a policy's or a
#: reference's figures, :data:`NOTICE_FIGURES` and :data:`TARGET_COLUMNS`, come when they apply)
SUMMARY_COLUMNS = ("n_seeds", *REACH, REACH_BASELINE, *PREVENTED, *PREVENTED_SHARE, REMOVED_SHARE,
                   PATH)
#: the Code of Conduct's figures (summary column stems): the share of notices reviewed within
#: 24 h, the share of notices whose post was removed
NOTICE_REVIEWED_24H, NOTICE_REMOVED = "notice_reviewed_24h_share", "notice_removed_share"
#: the Code of Conduct's figures of a notice-and-takedown policy: the per-seed summary key of the
#: policy (``policy<i>_notice_and_takedown_<key>``) -> the summary's column stem
#: (``<stem>_mean``, ``<stem>_ci_low``, ``<stem>_ci_high``)
NOTICE_FIGURES = {NOTICE_REVIEWED_24H: NOTICE_REVIEWED_24H, NOTICE_REMOVED: NOTICE_REMOVED}
#: the reference columns of an experiment that reproduces a Code of Conduct monitoring round
#: (``target_round`` in its config; results and summary): column -> the CSV's column
TARGET_PREFIX = "target_"
TARGET_ROUND = f"{TARGET_PREFIX}round"
TARGET_COLUMNS = {TARGET_ROUND: "round",
                  f"{TARGET_PREFIX}{NOTICE_REVIEWED_24H}": "share_reviewed_within_24h",
                  f"{TARGET_PREFIX}{NOTICE_REMOVED}": "share_removed"}

#: what the true mean of reach per post and of a share can be: the t intervals are cut to it
REACH_BOUNDS: tuple[float | None, float | None] = (0.0, None)
SHARE_BOUNDS: tuple[float | None, float | None] = (0.0, 1.0)
#: the ``path`` of a job whose every run was read off its unmoderated trace (a pure deadline
#: stack under cascade semantics): removal only ever cuts a cascade short there, so no seed's
#: reach prevented can be negative, and the mean of reach prevented is known to be >= 0
DEADLINE_PATH = "deadline"

__all__ = ["SUMMARY_COLUMNS", "REACH", "PREVENTED_SHARE", "PREVENTED", "REACH_BASELINE",
           "REMOVED_SHARE", "PATH", "NOTICE_REVIEWED_24H", "NOTICE_REMOVED", "NOTICE_FIGURES",
           "TARGET_COLUMNS", "TARGET_PREFIX", "TARGET_ROUND", "DEADLINE_PATH", "summarize_results", "category_table",
           "format_summary", "swept_params", "coc_targets", "platform_names", "latency_column",
           "point_groups", "fmt_value", "removal_delays", "median_time_to_removal"]

_NOTICE_KEY = re.compile(r"^(policy\d+)_notice_and_takedown_(\w+)$")


def coc_targets(round_: str | None) -> dict[str, Any]:
    """The reference figures of a Code of Conduct monitoring round (a job config's
    ``target_round``, a round of the shipped ``data/code_of_conduct_rounds.csv``):
    ``target_round``, ``target_notice_reviewed_24h_share``, ``target_notice_removed_share``;
    empty without a round (None)."""
    if round_ is None:
        return {}
    row = COC_ROUNDS.get(str(round_))
    if row is None:
        raise ConfigError("target_round", round_, "must be one of " + ", ".join(COC_ROUNDS))
    return {col: (row[src] if col == TARGET_ROUND else float(row[src]))
            for col, src in TARGET_COLUMNS.items()}


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
        paths = (list(dict.fromkeys(results[PATH][sel].tolist())) if PATH in results else [])
        # a bound known in advance, never read off the data: every run of the point on the
        # deadline path (a pure deadline stack, cascade semantics), where removal only cuts
        # cascades short, so that no seed, and no mean, can have negative reach prevented
        pm, plo, phi = mean_ci(col("reach_prevented_mean"),
                               bounds=REACH_BOUNDS if paths == [DEADLINE_PATH] else (None, None))
        share, slo, shi = share_prevented_ci(col("reach_total"), col("reach_baseline_total"))
        row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
        row.update({"job": int(j), "n_seeds": int(sel.sum()),
                    **dict(zip(REACH, (m, lo, hi), strict=True)),
                    REACH_BASELINE: nanmean(col("reach_baseline_mean")),
                    **dict(zip(PREVENTED, (pm, plo, phi), strict=True)),
                    **dict(zip(PREVENTED_SHARE, (share, slo, shi), strict=True)),
                    REMOVED_SHARE: nanmean(col("removed_share")),
                    PATH: ",".join(map(str, paths)) if PATH in results else "-"})
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


def removal_delays(posts: Mapping[str, np.ndarray], select: np.ndarray | None = None) -> np.ndarray:
    """The hours from upload to removal of the removed posts of a ``posts`` table (every seed's
    rows pooled), of the rows ``select`` picks (the illegal posts if None).

    Parameters
    ----------
    posts : mapping of str to numpy.ndarray
        A job's ``posts`` table (``upload_time_h``, ``removal_time_h``: NaN if never removed).
    select : numpy.ndarray of bool, optional
        The rows to take (a content category's, say).
    """
    if select is None:
        select = np.asarray(posts["category"]) != LEGAL
    delay = (np.asarray(posts["removal_time_h"], dtype=np.float64)
             - np.asarray(posts["upload_time_h"], dtype=np.float64))[select]
    return delay[~np.isnan(delay)]


def median_time_to_removal(delays: np.ndarray) -> float:
    """The median of pooled removal delays (:func:`removal_delays` over every seed of a point),
    NaN without one: ``time_to_removal_median_h`` of the categories table and the what-if page
    (a run's own ``time_to_removal_median_h`` is the same median over its one seed)."""
    return float(np.median(delays)) if np.size(delays) else math.nan


def latency_column(summary: Mapping[str, np.ndarray],
                   params: Sequence[str] | None = None) -> str | None:
    """The column that is a removal latency: the first of ``params`` (every column of
    ``summary`` if None) named ``...latency_h`` or, failing that, ``...half_life_h`` (a
    takedown half-life), that the summary holds with numbers for values; None without one."""
    names = list(summary) if params is None else list(params)
    for suffix in ("latency_h", "half_life_h"):
        for p in names:
            if (p.split(".")[-1] == suffix and p in summary
                    and np.asarray(summary[p]).dtype.kind in "fiu"):
                return p
    return None


def fmt_value(v: Any) -> str:
    """A parameter's value in a label: ``never`` for an infinite latency, floats as ``%g``."""
    if isinstance(v, float | np.floating):
        return "never" if math.isinf(v) else f"{float(v):g}"
    return str(v)


def point_groups(summary: Mapping[str, np.ndarray], x: str | None,
                 params: Sequence[str] | None) -> list[tuple[str, np.ndarray]]:
    """The summary's rows grouped by the values of the parameters other than ``x`` that vary
    (one plotted line, one sentence of the answer each): ``(label, row mask)`` per group, the
    label ``key=value, ...`` (:func:`fmt_value`); one group labelled ``''`` if none varies."""
    n = len(summary["job"])
    others = [p for p in (params or []) if p != x and p in summary
              and len({fmt_value(v) for v in summary[p]}) > 1]
    keys = [tuple(fmt_value(summary[p][i]) for p in others) for i in range(n)]
    return [(", ".join(f"{p.split('.')[-1]}={v}" for p, v in zip(others, key, strict=True)),
             np.array([k == key for k in keys], dtype=bool)) for key in dict.fromkeys(keys)]


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
            delay = removal_delays(p, in_cat)
            row: dict[str, Any] = {k: plain(results[k][first]) for k in params}
            row.update({"job": int(j), "category": str(cat), "n_seeds": len(per_seed),
                        "posts_per_seed": int(in_cat.sum()) / max(1, len(seeds)),
                        "reach_mean": m, "reach_ci_low": lo, "reach_ci_high": hi,
                        "prevented_share": share, "prevented_share_ci_low": slo,
                        "prevented_share_ci_high": shi,
                        "removed_share": float(removed.mean()) if removed.size else math.nan,
                        "time_to_removal_median_h": median_time_to_removal(delay)})
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
    if n and TARGET_ROUND in summary:
        lines.append(f"Code of Conduct monitoring round {summary[TARGET_ROUND][0]}: reviewed "
                     f"<= 24 h {_pct(summary[TARGET_PREFIX + NOTICE_REVIEWED_24H][0])}, notices "
                     f"removed {_pct(summary[TARGET_PREFIX + NOTICE_REMOVED][0])}")
    return "\n".join(lines) + "\n"
