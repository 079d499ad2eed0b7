"""Every experiment's answer in words: the question, the figure with its 95% interval and its
units, in a few lines the ``spreadsim`` command prints and ``report.html`` opens with.

Hydra-free: each kind of experiment has one small function that reads the tables a sweep (or a
single run's folder) wrote and the experiment's config (plain containers):

* :func:`latency_answer`: a sweep over a removal latency (or a takedown half-life): reach per
  illegal post at the longest latency that still prevents at least half the reach, against never
  (against the sweep's never-removed point when no baseline was run);
* :func:`notice_answer`: a notice queue (the Code of Conduct scenarios): the share of notices
  reviewed within 24 h and the share that led to removal, beside the monitoring round's figures;
* :func:`platforms_answer`: several platforms: reach per illegal post on each (the summary's
  columns), and what cross-posting carried onto each, at every point;
* :func:`calibration_answer`: an SLA calibration: the lever's value (``calibration.json``);
* :func:`points_answer`: anything else (a single run, a sweep over another parameter): reach per
  illegal post at each point, with the share prevented against the unmoderated twin.

:func:`answer` picks the function. The tables' columns are read where present: a column the
summary does not have leaves its clause out instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spreadsim.outputs.columns import Table
from spreadsim.outputs.stats import mean_ci, nanmean
from spreadsim.outputs.tables import (
    NOTICE_REMOVED,
    NOTICE_REVIEWED_24H,
    PREVENTED_SHARE,
    REACH,
    REACH_BASELINE,
    REACH_BOUNDS,
    SHARE_BOUNDS,
    TARGET_PREFIX,
    TARGET_ROUND,
    latency_column,
    platform_names,
    point_groups,
)

__all__ = ["Answer", "answer", "latency_answer", "notice_answer", "platforms_answer",
           "calibration_answer", "points_answer", "describe_point",
           "fmt_number", "fmt_latency", "PLATFORM_COLUMNS"]

#: the per-platform table of a multi-platform run's answer (means over seeds per run, 95% CIs)
PLATFORM_COLUMNS = ("platform", "reach_per_post_mean", "reach_per_post_ci_low",
                    "reach_per_post_ci_high", "cross_posts_in_mean", "cross_posts_in_ci_low",
                    "cross_posts_in_ci_high", "cross_posts_blocked_mean", "cross_posts_reach_mean")


@dataclass(frozen=True)
class Answer:
    """An experiment's answer.

    Attributes
    ----------
    kind : str
        ``latency``, ``notice``, ``platforms``, ``calibration`` or ``points``.
    question : str
        The question the experiment asks, in one sentence.
    sentence : str
        The answer in one sentence: the figure, its 95% interval and its units.
    details : tuple of str
        Further figures, one line each (per point, per platform, the rule that chose a point).
    table : dict of str to numpy.ndarray, optional
        A table that belongs to the answer (a multi-platform run's :data:`PLATFORM_COLUMNS`).
    """

    kind: str
    question: str
    sentence: str
    details: tuple[str, ...] = ()
    table: Table | None = field(default=None, compare=False)

    def text(self) -> str:
        """The answer block the command prints (newline-terminated)."""
        lines = [f"question: {self.question}", f"answer:   {self.sentence}"]
        lines += [f"          {d}" for d in self.details]
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- formatting


def fmt_number(x: Any) -> str:
    """A figure with three significant digits (thousands separated), ``-`` if not finite."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    a = abs(f)
    if f == int(f) and a < 1e15:
        return f"{int(f):,}"
    if a >= 100:
        return f"{f:,.0f}"
    if a >= 10:
        return f"{f:.1f}"
    if a >= 1:
        return f"{f:.2f}"
    return f"{f:.2g}"


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.1f}%"


def fmt_latency(x: Any) -> str:
    """A latency in hours for a sentence: ``6 h``, ``0 h (at upload)``, ``never``."""
    f = float(x)
    if math.isinf(f):
        return "never"
    return "0 h (at upload)" if f == 0 else f"{f:g} h"


def _ci(lo: float, hi: float, fmt: Any = fmt_number) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no interval from one seed" if math.isnan(lo) else "no interval"
    return f"95% CI {fmt(lo)} to {fmt(hi)}"


def _f(table: Mapping[str, np.ndarray], name: str, i: int | np.integer[Any]) -> float:
    """``table[name][i]`` as a float (NaN if the column is absent or not a number)."""
    if name not in table:
        return math.nan
    try:
        return float(table[name][i])
    except (TypeError, ValueError):
        return math.nan


def _prevented(summary: Mapping[str, np.ndarray], i: int) -> str:
    """``76.1% of the reach (95% CI ...)`` at row ``i``, or '' without a finite share."""
    if not math.isfinite(_f(summary, PREVENTED_SHARE[0], i)):
        return ""
    m, lo, hi = (_f(summary, c, i) for c in PREVENTED_SHARE)
    return f"{_pct(m)} of the reach ({_ci(lo, hi, _pct)})"


def _reach(summary: Mapping[str, np.ndarray], i: int) -> str:
    m, lo, hi = (_f(summary, c, i) for c in REACH)
    return f"{fmt_number(m)} users ({_ci(lo, hi)})"


# ----------------------------------------------------------------------------- the kinds


def latency_answer(summary: Mapping[str, np.ndarray], x: str,
                   params: Sequence[str] = ()) -> Answer:
    """A latency sweep's answer: reach per illegal post at the longest latency that still
    prevents at least half the reach (the shortest positive one if none does), against never
    removing; one sentence per value of any other swept parameter.

    The share prevented is the paired one (``prevented_share``, against each seed's unmoderated
    twin). A point without it (``baseline: false``, or twins that reached nobody) is compared
    with the sweep's never-removed point instead, ``1 - reach_mean / reach_mean(never)``, and
    the answer says so; without that point either, it claims nothing about prevention.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The summary table (``reach_mean``/``_ci_low``/``_ci_high``, ``reach_baseline_mean``,
        the share prevented where present).
    x : str
        The latency (or half-life) column.
    params : sequence of str
        Every swept parameter column.
    """
    half_life = x.endswith("half_life_h")
    what = "takedown half-life" if half_life else "removal latency"
    lever = "half-life" if half_life else "deadline"
    question = (f"How much reach per illegal post does each {what} ({x}) allow, against "
                "never removing it?")
    sentences, rules = [], []
    for name, sel in point_groups(summary, x, params):
        rows = [int(i) for i in np.flatnonzero(sel)]
        finite = [i for i in rows if 0 < _f(summary, x, i) < math.inf]
        never = [i for i in rows if math.isinf(_f(summary, x, i))]
        paired = any(math.isfinite(_f(summary, PREVENTED_SHARE[0], i)) for i in rows)
        never_reach = _f(summary, REACH[0], never[0]) if never else math.nan

        def share(i: int, paired: bool = paired, never_reach: float = never_reach) -> float:
            if paired:
                return _f(summary, PREVENTED_SHARE[0], i)
            return 1.0 - _f(summary, REACH[0], i) / never_reach if never_reach > 0 else math.nan

        judged = paired or never_reach > 0
        ok = [i for i in finite if share(i) >= 0.5]
        if ok:
            pick = max(ok, key=lambda i: _f(summary, x, i))
        elif finite:
            pick = min(finite, key=lambda i: _f(summary, x, i))
        else:
            pick = rows[0]
        at = fmt_latency(_f(summary, x, pick))
        at = f"a half-life of {at}" if half_life else f"at {at}" if at != "never" else "never"
        text = f"Reach per illegal post: {_reach(summary, pick)} {at}"
        if never and never[0] != pick:
            text += f" vs {fmt_number(never_reach)} if never removed"
        elif math.isfinite(_f(summary, REACH_BASELINE, pick)):
            text += f" vs {fmt_number(_f(summary, REACH_BASELINE, pick))} unmoderated"
        pick_at = fmt_latency(_f(summary, x, pick))
        if paired:
            prevented = _prevented(summary, pick)
            if prevented:
                text += f"; a {pick_at} {lever} prevents {prevented}"
        elif judged and pick != never[0]:
            text += (f"; against the sweep's never-removed point (not paired unmoderated twins), "
                     f"a {pick_at} {lever} cuts reach per post by {_pct(share(pick))}")
        elif not judged:
            text += ("; the unmoderated twins reached nobody, so there was no reach to prevent"
                     if any(math.isfinite(_f(summary, REACH_BASELINE, i)) for i in rows) else
                     "; no baseline was run (baseline: false) and the sweep has no never-removed "
                     "point with reach, so nothing is claimed about the reach prevented")
        sentences.append((f"{name}: " if name else "") + text + ".")
        if judged:
            against = ("prevents at least half the reach" if paired else
                       "cuts reach per post by at least half against the never-removed point, "
                       "no baseline having been run")
            rule = f"the longest {what} that still {against}"
            if not ok and finite:
                rule += f", or the shortest {what} above 0 h where none does"
        else:
            rule = f"the shortest {what} above 0 h"
        rules.append(rule)
    rule_text = "(" + "; ".join(dict.fromkeys(rules)) + "; every point is in the summary table)"
    return Answer("latency", question, sentences[0], (*sentences[1:], rule_text))


def _column_like(table: Mapping[str, np.ndarray], stem: str) -> str | None:
    """The column named ``stem`` or ``<prefix>_<stem>`` (a policy's label before a figure when
    the stack has several notice queues: the first such column)."""
    for k in table:
        if (k == stem or k.endswith("_" + stem)) and not k.startswith(TARGET_PREFIX):
            return k
    return None


def _notice_figure(summary: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray] | None,
                   stem: str) -> list[tuple[float, float, float, float]]:
    """Per summary row: (mean, low, high, target) of one notice figure (a stem of
    :data:`~spreadsim.outputs.tables.NOTICE_FIGURES`), from the summary's own columns where it
    has them, else from the per-seed results (the same t interval); the target is the
    monitoring round's figure (``target_<stem>``) where the summary has it."""
    n = len(summary["job"])
    mean = _column_like(summary, f"{stem}_mean")
    target = TARGET_PREFIX + stem if TARGET_PREFIX + stem in summary else None
    out = []
    for i in range(n):
        t = _f(summary, target, i) if target else math.nan
        if mean is not None:
            base = mean.removesuffix("_mean")
            out.append((_f(summary, mean, i), _f(summary, f"{base}_ci_low", i),
                        _f(summary, f"{base}_ci_high", i), t))
            continue
        col = _column_like(results or {}, stem)
        if results is None or col is None:
            return []
        sel = results["job"] == summary["job"][i]
        out.append((*mean_ci(np.asarray(results[col][sel], dtype=np.float64),
                             bounds=SHARE_BOUNDS), t))
    return out


def notice_answer(summary: Mapping[str, np.ndarray],
                  results: Mapping[str, np.ndarray] | None = None, *,
                  labels: Sequence[str] = ()) -> Answer | None:
    """A notice queue's answer (the Code of Conduct scenarios): the share of notices reviewed
    within 24 h and the share that led to removal, with 95% CIs, beside the monitoring round's
    figures where the summary has them (``target_*`` columns). None without a notice queue.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
    results : mapping of str to numpy.ndarray, optional
        The per-seed results: the figures are read from them when the summary lacks them.
    labels : sequence of str
        One label per summary row (for a sweep of several points).
    """
    reviewed = _notice_figure(summary, results, NOTICE_REVIEWED_24H)
    if not reviewed:
        return None
    removed = _notice_figure(summary, results, NOTICE_REMOVED)
    round_col = TARGET_ROUND if TARGET_ROUND in summary else None
    sentences = []
    for i, (m, lo, hi, t) in enumerate(reviewed):
        where = f" in the {summary[round_col][i]} monitoring round" if round_col else \
            " in the monitoring round"
        text = f"Reviewed within 24 h: {_pct(m)} of notices ({_ci(lo, hi, _pct)})"
        if math.isfinite(t):
            text += f" vs {_pct(t)}{where}"
        if removed:
            rm, rlo, rhi, rt = removed[i]
            text += f"; removed: {_pct(rm)} ({_ci(rlo, rhi, _pct)})"
            if math.isfinite(rt):
                text += f" vs {_pct(rt)}"
        label = labels[i] if i < len(labels) and len(reviewed) > 1 else ""
        sentences.append((f"{label}: " if label else "") + text + ".")
    if any(math.isfinite(r[3]) for r in reviewed):
        question = ("Does the modelled notice queue reproduce the monitoring round: the share of "
                    "notices reviewed within 24 h and the share that led to removal?")
    else:
        question = ("What share of notices does the queue review within 24 h, and what share "
                    "leads to removal?")
    return Answer("notice", question, sentences[0], tuple(sentences[1:]))


def platforms_answer(summary: Mapping[str, np.ndarray], results: Mapping[str, np.ndarray],
                     config: Mapping[str, Any], *, labels: Sequence[str] = ()) -> Answer:
    """A multi-platform run's answer: reach per illegal post on each platform (the summary's
    ``<platform>.reach_mean`` with its 95% interval) and what cross-posting carried onto each
    (illegal cross-posts per run, how many hash matching blocked on arrival, the reach of those
    that landed: means over the seeds of the results), for every point of a sweep.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The summary table (one row per point; :func:`~spreadsim.outputs.tables.platform_names`).
    results : mapping of str to numpy.ndarray
        The per-seed results (columns ``<platform>.cross_posts_in``,
        ``<platform>.cross_posts_blocked``, ``<platform>.cross_posts_reach``;
        :mod:`spreadsim.runs.platforms`).
    config : mapping
        The (first point's) config: its ``platforms`` list names them where the summary does
        not.
    labels : sequence of str
        One label per summary row (for a sweep of several points).

    Returns
    -------
    Answer
        Its ``table`` (:data:`PLATFORM_COLUMNS`) has one row per point and platform, with a
        ``point`` column when there are several points.
    """
    names = platform_names(summary) or [str(p.get("name")) for p in config.get("platforms") or []]
    n = len(summary["job"])
    several = n > 1
    rows: dict[str, list[Any]] = {c: [] for c in (("point",) if several else ()) + PLATFORM_COLUMNS}
    sentences, details = [], []
    for i in range(n):
        sel = results["job"] == summary["job"][i]
        label = (labels[i] if i < len(labels) else f"job {summary['job'][i]}") if several else ""

        def col(name: str, sel: np.ndarray = sel) -> np.ndarray:
            if name not in results:
                return np.full(int(sel.sum()), np.nan)
            return np.asarray(results[name][sel], dtype=np.float64)

        parts, crossing = [], []
        for name in names:
            r = tuple(_f(summary, f"{name}.{c}", i) for c in REACH)
            c = mean_ci(col(f"{name}.cross_posts_in"), bounds=REACH_BOUNDS)  # (counts: >= 0)
            blocked = nanmean(col(f"{name}.cross_posts_blocked"))
            reach = nanmean(col(f"{name}.cross_posts_reach"))
            values = ((label,) if several else ()) + (name, *r, *c, blocked, reach)
            for k, v in zip(rows, values, strict=True):
                rows[k].append(v)
            parts.append(f"{name} {fmt_number(r[0])} users ({_ci(r[1], r[2])})")
            crossing.append(f"onto {name}: {fmt_number(c[0])} illegal cross-posts per run "
                            f"({_ci(c[1], c[2])}), {fmt_number(blocked)} blocked by hash "
                            f"matching, the others reaching {fmt_number(reach)} users in all")
        head = f"{label}: " if label else ""
        sentences.append(head + "Reach per illegal post: " + "; ".join(parts) + ".")
        details += [head + "Cross-posting " + c + "." for c in crossing]
    table = {k: np.array(v, dtype=object if k in ("point", "platform") else np.float64)
             for k, v in rows.items()}
    question = ("How far does illegal content reach on each platform, and how much do users "
                "with accounts on several platforms carry across by cross-posting?")
    return Answer("platforms", question, sentences[0], (*sentences[1:], *details), table)


def calibration_answer(record: Mapping[str, Any]) -> Answer:
    """An SLA calibration's answer, from its ``calibration.json`` record (``lever``, ``target``,
    ``stat`` and the answer's ``line``)."""
    lever = str(record.get("lever", "the lever"))
    word = "largest" if "latency" in lever or lever.endswith("_h") else "smallest"
    question = (f"What is the {word} {lever} that keeps {record.get('stat', 'mean')} reach per "
                f"illegal post at or below {fmt_number(record.get('target', math.nan))} users?")
    line = str(record.get("line") or "")
    sentence = (line[:1].upper() + line[1:]) if line else "No answer was recorded."
    return Answer("calibration", question, sentence if sentence.endswith(".") else sentence + ".")


def describe_point(config: Mapping[str, Any]) -> str:
    """What a run point is, for a label: its policies and their latency-like values
    (``fixed_latency (latency_h=6)``), ``unmoderated``, or its platforms (``platforms big,
    small``)."""
    if config.get("platforms"):
        return "platforms " + ", ".join(str(p.get("name")) for p in config["platforms"])
    policy = config.get("policy")
    stack = policy if isinstance(policy, list) else [policy] if isinstance(policy, Mapping) else []
    parts = []
    for p in stack:
        if not isinstance(p, Mapping):
            continue
        keys = [k for k in ("latency_h", "half_life_h", "moderators", "deadline_h") if k in p]
        vals = ", ".join(f"{k}={_plain(p[k])}" for k in keys)
        parts.append(f"{p.get('name', '?')}" + (f" ({vals})" if vals else ""))
    return " + ".join(parts) if parts else "unmoderated"


def _plain(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _reuploaded(results: Mapping[str, np.ndarray] | None) -> set[Any]:
    """The jobs of ``results`` where some seed put re-uploads online (``policy<i>_reupload_uploaded``)."""
    cols = [c for c in (results or {}) if str(c).startswith("policy") and str(c).endswith("_reupload_uploaded")]
    if results is None or not cols or "job" not in results:
        return set()
    up = np.column_stack([np.nan_to_num(np.asarray(results[c], dtype=float)) for c in cols]).sum(axis=1) > 0
    return set(np.asarray(results["job"])[up].tolist())


def points_answer(summary: Mapping[str, np.ndarray], labels: Sequence[str],
                  results: Mapping[str, np.ndarray] | None = None) -> Answer:
    """The answer of a single run or of a sweep over something else than a latency: reach per
    illegal post at each point, with the share prevented against the unmoderated twin.

    With re-uploads (``results``' columns) the sentence says they count as posts: reach per post,
    re-uploads included, against the twin's per post (it removes nothing, so nothing is
    re-uploaded); the share prevented compares totals, so the two may disagree.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
    labels : sequence of str
        One label per row (the point's swept values, or what a single run is).
    results : mapping of str to numpy.ndarray, optional
        The per-seed results: their re-upload columns choose the wording.
    """
    reup = _reuploaded(results)
    jobs = np.asarray(summary["job"]).tolist() if "job" in summary else []
    lines = []
    for i, label in enumerate(labels):
        base = _f(summary, REACH_BASELINE, i)
        prevented = _prevented(summary, i)
        if i < len(jobs) and jobs[i] in reup:
            text = f"Reach per illegal post, re-uploads counted as posts: {_reach(summary, i)} with {label}"
            if math.isfinite(base):
                text += f", against {fmt_number(base)} per post unmoderated (nothing removed, nothing re-uploaded)"
            if prevented:
                text += f"; in total, {prevented} prevented" + (
                    " (negative: more total reach than unmoderated)" if _f(summary, PREVENTED_SHARE[0], i) < 0 else "")
        else:
            text = f"Reach per illegal post: {_reach(summary, i)} with {label}"
            if math.isfinite(base):
                text += f", against {fmt_number(base)} unmoderated"
            if prevented:
                text += f": {prevented} prevented"
        lines.append(text + ".")
    if len(labels) == 1:
        question = f"How far does illegal content reach with {labels[0]}?"
    else:
        question = "How far does illegal content reach at each sweep point?"
    return Answer("points", question, lines[0], tuple(lines[1:]))


def answer(summary: Mapping[str, np.ndarray], params: Sequence[str], config: Mapping[str, Any],
           *, results: Mapping[str, np.ndarray] | None = None,
           labels: Sequence[str] = ()) -> Answer:
    """The answer of a sweep or a single run from its tables and its config.

    Parameters
    ----------
    summary : mapping of str to numpy.ndarray
        The summary table (one row per point).
    params : sequence of str
        The swept parameter columns.
    config : mapping
        The (first point's) config as plain containers.
    results : mapping of str to numpy.ndarray, optional
        The per-seed results (multi-platform runs and notice figures read them).
    labels : sequence of str
        One label per point (:func:`describe_point` of ``config`` for a single point if empty).

    Returns
    -------
    Answer
    """
    labels = list(labels) or [describe_point(config)] * len(summary["job"])
    if config.get("platforms") and results is not None:
        return platforms_answer(summary, results, config, labels=labels)
    notice = notice_answer(summary, results, labels=labels)
    if notice is not None:
        return notice
    x = latency_column(summary, params)
    if x is not None and len(set(np.asarray(summary[x]).tolist())) > 1:
        return latency_answer(summary, x, params)
    return points_answer(summary, labels, results)
