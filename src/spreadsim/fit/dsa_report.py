"""The report of ``spreadsim dsa-delays`` (``report.html``): a self-contained page
(:func:`spreadsim.outputs.report.render_page`) that opens with the answer: the median removal
delay with its 95% interval and the share removed within 24 h of each (platform, category), the
rows read, used and refused by reason; then the delays per (platform, category), every model's
fit, the refused rows, the figures (embedded) and the printed summary.

It takes what :func:`spreadsim.fit.dsa.dsa_delays` computed as plain values (it does not import
:mod:`spreadsim.fit.dsa`, which writes it).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.fit.delays import Fit
from spreadsim.outputs.report import html_figure, html_section, html_table, render_page

__all__ = ["report_page"]


def _short(c: str) -> str:
    return c.removeprefix("STATEMENT_CATEGORY_")


def _group_sentence(p: str, c: str, fit: Fit, model: str) -> str:
    return (f"{p} / {_short(c)}: median removal delay {fit.median_h.text(unit=' h')} ({model}), "
            f"{fit.within_24h.text('.1f', 100, '%')} removed within 24 h")


def report_page(*, fits: Mapping[tuple[str, str], Mapping[str, Fit]], chosen: Mapping[tuple[str, str], str],
                used: Mapping[tuple[str, str], int], refused_by_group: Mapping[tuple[str, str], Mapping[str, int]],
                refused: Mapping[str, int], rows_read: int, rows_matched: int, rows_used: int, n_files: int,
                filters: str, policies: Mapping[tuple[str, str], str], figures: Sequence[str | Path],
                tables: Sequence[tuple[str, Mapping[str, np.ndarray]]], text: str,
                meta: Mapping[str, str]) -> str:
    """The report as a self-contained HTML page.

    Parameters
    ----------
    fits, chosen : mapping
        (platform, category) -> the fits by model, and the model its policy config uses.
    used : mapping
        (platform, category) -> rows used.
    refused_by_group : mapping
        (platform, category) -> {reason: rows refused}.
    refused : mapping of str to int
        Rows refused over all groups, by reason (every reason, in the order checked).
    rows_read, rows_matched, rows_used, n_files : int
        What the scan read.
    filters : str
        The filters, described.
    policies : mapping
        (platform, category) -> the policy config's path relative to the output folder.
    figures : sequence of path
        The PNG of every (platform, category), embedded.
    tables : sequence of (str, table)
        Further tables (heading, columns): the fits, the refused rows.
    text : str
        The summary as printed.
    meta : mapping of str to str
        ``command``, ``date``, ``version``, ``output``.
    """
    keys = list(fits)
    if len(keys) == 1:
        (p, c), = keys
        heading = _group_sentence(p, c, fits[(p, c)][chosen[(p, c)]], chosen[(p, c)])
    else:
        med = {k: fits[k][chosen[k]].median_h.value for k in keys}
        lo, hi = min(keys, key=med.__getitem__), max(keys, key=med.__getitem__)
        heading = (f"Median removal delays of {len(keys)} (platform, category) groups: from "
                   f"{med[lo]:.3g} h ({lo[0]} / {_short(lo[1])}) to {med[hi]:.3g} h ({hi[0]} / {_short(hi[1])})")
    details = [f"{rows_read} rows read from {n_files} file(s), {rows_matched} match the filters "
               f"({filters}): {rows_used} used, {rows_matched - rows_used} refused ("
               + ", ".join(f"{r} {n}" for r, n in refused.items()) + ")"]
    if len(keys) > 1:
        details += [_group_sentence(p, c, fits[(p, c)][chosen[(p, c)]], chosen[(p, c)]) for p, c in keys]
    details.append("dates are known to the day: every delay is interval-censored (a reported 0 days, content "
                   "and decision on the same day, is a delay in [0, 24) h; 1 day is (0, 48) h); the intervals "
                   "are 95% (profile likelihood; bootstrap for the empirical fit)")
    cols: dict[str, list[Any]] = {n: [] for n in (
        "platform", "category", "model", "median_h", "median_lo", "median_hi", "within_24h",
        "within_24h_lo", "within_24h_hi", "rows_used", *refused, "policy")}
    for k in keys:
        f = fits[k][chosen[k]]
        values = (*k, chosen[k], f.median_h.value, f.median_h.lo, f.median_h.hi, f.within_24h.value,
                  f.within_24h.lo, f.within_24h.hi, used[k], *(refused_by_group[k][r] for r in refused),
                  policies[k])
        for n, v in zip(cols, values, strict=True):
            cols[n].append(v)
    delays = {n: np.array(v, dtype=object) for n, v in cols.items()}
    reasons = {"reason": np.array(list(refused), dtype=object),
               "rows": np.array(list(refused.values()), dtype=np.int64)}
    body = [html_section("Removal delays per (platform, category): the model each policy config uses",
                         html_table(delays), id="delays"),
            html_section("Rows refused, by reason", html_table(reasons), id="refused")]
    body += [html_section(heading_, html_table(table)) for heading_, table in tables]
    body.append(html_section("Fitted against observed delay distributions",
                             "".join(html_figure(f) for f in figures), id="plots"))
    body.append(html_section("Summary as printed", f"<pre>{html.escape(text)}</pre>", id="summary"))
    return render_page(heading=heading, body=body, label="DSA removal delays (spreadsim dsa-delays)",
                       question="How long do platforms take to remove content, from their statements of "
                                "reasons in the DSA Transparency Database?",
                       details=details, meta=meta)
