"""The text summary, the figure and the report of a cascade fit (:class:`spreadsim.fit.cascades.CascadeFit`).

The figure (matplotlib, Agg; PNG without timestamps, so the same fit gives the same bytes) has
four panels: the fitted against the empirical delay CDF, the cascade-size distribution observed
and drawn from each fit, the time-rescaled residuals of the chosen kernel against Exp(1) (QQ),
and the fitted kernels' densities. The report (:func:`report_page`, ``report.html`` of ``spreadsim
fit``) is a self-contained page (:func:`spreadsim.outputs.report.render_page`) that opens with the
answer: the chosen kernel and ``n`` with its interval, every kernel's parameters with intervals and
AIC, the goodness of fit and the KS test; then the tables, the figure and the printed summary.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.fit.kernels import FAMILIES
from spreadsim.outputs.io import atomic_write_bytes
from spreadsim.outputs.report import html_figure, html_section, html_table, render_page


def _num(v: float) -> str:
    if not math.isfinite(v):
        return "inf" if v > 0 else "-inf" if v < 0 else "nan"
    return f"{v:.4g}"


def _interval(iv: tuple[float, float] | None, name: str) -> str:
    if iv is None:
        return ""
    lo, hi = iv
    lo_s = _num(lo) if lo > 1e-9 or name == "beta" else "0"
    hi_s = _num(hi) if hi < 1e9 else "inf"
    return f" [{lo_s}, {hi_s}]"


def summary(fit: Any) -> str:
    """The fit as text."""
    d = fit.data
    sizes = d.sizes
    lines = [f"cascades: {d.n_cascades}, shares: {d.n_shares} ({int(sizes.sum())} reshares; "
             f"mean {sizes.mean():.3g}, largest {int(sizes.max())} per cascade) from {d.source}",
             "likelihood: " + ("parent -> child delays and offspring counts (parent links), "
                               if d.links == "tree" else "self-exciting process of each cascade "
                               "conditioned on its original post (no parent links), ")
             + "right-censored at each cascade's observation end"
             + ("; marks: (1 + followers)^beta" if fit.marks else "")]
    lines += [f"note: {n}" for n in (*d.notes, *fit.notes)]
    pct = f"{100 * fit.level:g}%"
    lines.append(f"kernels (parameters with {pct} profile-likelihood intervals; AIC, lower is better):")
    best = min(f.aic for f in fit.fits.values())
    for name, f in sorted(fit.fits.items(), key=lambda kv: kv[1].aic):
        mark = "*" if name == fit.chosen else " "
        ps = ", ".join(f"{k} = {_num(v)}{_interval(f.intervals.get(k), k)}" for k, v in f.params.items())
        lines.append(f" {mark} {name:<11} {ps}; log L = {f.loglik:.2f}, AIC = {f.aic:.2f} "
                     f"(+{f.aic - best:.2f}){'' if f.converged else ' (optimiser did not converge)'}")
    for name, why in fit.failed.items():
        lines.append(f"   {name:<11} not fitted: {why}")
    lines.append(f"chosen kernel: {fit.chosen} (smallest AIC); spread.kernel = {fit.best.spread_kernel}, "
                 f"mean delay {_num(fit.best.mean_delay_h)} h")
    lines.append("goodness of fit:")
    for name, f in sorted(fit.fits.items(), key=lambda kv: kv[1].aic):
        g = f.gof
        if g is None:
            continue
        mean_sim = float(g.sim_sizes.mean()) if g.sim_sizes.shape[0] else math.nan
        lines.append(f"   {name:<11} delay CDF KS distance {g.delay_ks:.3f}; cascade sizes: mean "
                     f"{g.sizes.mean():.3g} observed, {mean_sim:.3g} drawn from the fit, KS distance "
                     f"{g.size_ks:.3f}; residuals vs Exp(1): KS {g.residual_ks:.3f}, p = {g.residual_p:.3g} "
                     f"({g.residuals.shape[0]} increments)")
        lines += [f"   {name:<11} {n}" for n in g.notes]
    return "\n".join(lines) + "\n"


def plot(fit: Any, path: str | Path) -> Path:
    """Write the goodness-of-fit figure of ``fit`` to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    colors = {"exponential": "tab:blue", "lognormal": "tab:orange", "powerlaw": "tab:green"}
    first = next(iter(fit.fits.values())).gof
    ax = axes[0][0]
    if first is not None:
        ax.step(first.grid, first.empirical, where="post", color="black", label="observed")
    for name, f in fit.fits.items():
        if f.gof is not None:
            ax.plot(f.gof.grid, f.gof.fitted, color=colors[name], label=f"{name} (KS {f.gof.delay_ks:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel(first.delay_label if first is not None else "delay (h)")
    ax.set_ylabel("CDF (observed delays, censoring included)")
    ax.set_title("delays: fitted vs empirical")
    ax.legend(fontsize=8)
    ax = axes[0][1]
    for label, sizes, color in [("observed", first.sizes if first is not None else np.zeros(0), "black")] + [
            (f"{n} (KS {f.gof.size_ks:.3f})", f.gof.sim_sizes, colors[n]) for n, f in fit.fits.items()
            if f.gof is not None and f.gof.sim_sizes.shape[0]]:
        s = np.sort(np.asarray(sizes))
        if not s.shape[0]:
            continue
        ccdf = 1.0 - np.arange(s.shape[0]) / s.shape[0]
        ax.step(s + 1, ccdf, where="post", color=color, label=label, lw=2 if color == "black" else 1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("reshares per cascade + 1")
    ax.set_ylabel("P(size >= x)")
    ax.set_title("cascade sizes: observed vs drawn from the fit")
    ax.legend(fontsize=8)
    ax = axes[1][0]
    g = fit.best.gof
    if g is not None and g.residuals.shape[0]:
        r = np.sort(g.residuals)
        q = -np.log1p(-(np.arange(1, r.shape[0] + 1) - 0.5) / r.shape[0])
        ax.plot(q, r, ".", ms=3, color=colors[fit.chosen])
        top = float(max(q.max(), r.max()))
        ax.plot([0, top], [0, top], color="black", lw=1)
        ax.set_title(f"time-rescaled residuals ({fit.chosen}): KS {g.residual_ks:.3f}, p = {g.residual_p:.3g}")
    else:
        ax.set_title("time-rescaled residuals: not computed")
    ax.set_xlabel("Exp(1) quantile")
    ax.set_ylabel("compensator increment")
    ax = axes[1][1]
    hi = float(np.max(fit.data.horizon)) if fit.data.n_cascades else 1.0
    t = np.geomspace(1e-3, max(hi, 1e-2), 300)
    for name, f in fit.fits.items():
        fam = FAMILIES[name]
        xk = f.x[1 : 1 + len(fam.params)]
        ax.plot(t, np.exp(fam.logpdf(xk, t)[0]), color=colors[name], label=f"{name}: {f.spread_kernel}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("delay (h)")
    ax.set_ylabel("density (1/h)")
    ax.set_title("fitted feed-delay kernels")
    ax.legend(fontsize=7)
    fig.suptitle(f"cascade fit: {fit.data.source} (chosen: {fit.chosen}, n = {fit.best.params['n']:.3g})",
                 fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.08, hspace=0.35, wspace=0.25)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def png_bytes(fit: Any) -> bytes:
    """The figure as PNG bytes (written by the command line with its other files at once)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "fit.png"
        plot(fit, p)
        return p.read_bytes()


def _params_line(name: str, f: Any, best_aic: float) -> str:
    ps = ", ".join(f"{k} = {_num(v)}{_interval(f.intervals.get(k), k)}" for k, v in f.params.items())
    return (f"{name}: {ps}; AIC {f.aic:.2f} (+{f.aic - best_aic:.2f})"
            + ("" if f.converged else " (optimiser did not converge)"))


def report_page(fit: Any, *, figure: str | Path, meta: Mapping[str, str], config_line: str,
                files: Sequence[str], text: str) -> str:
    """The report of ``fit`` as a self-contained HTML page.

    Parameters
    ----------
    fit : CascadeFit
        The fit.
    figure : path
        Its figure (PNG, embedded).
    meta : mapping of str to str
        ``command``, ``date``, ``version``, ``output`` (shown under the answer).
    config_line : str
        What the spread config written holds (kernel, graph, share probability).
    files : sequence of str
        The files written with the report (listed, not linked).
    text : str
        The summary as printed (shown at the end).
    """
    best, pct = fit.best, f"{100 * fit.level:g}%"
    n_iv = best.intervals.get("n")
    ranked = sorted(fit.fits.items(), key=lambda kv: kv[1].aic)
    best_aic = ranked[0][1].aic
    n_text = f"n = {_num(best.params['n'])}" + (
        f", {pct} interval {_interval(n_iv, 'n').strip()[1:-1].replace(', ', ' to ')}" if n_iv else "")
    heading = (f"Chosen kernel: {fit.chosen} (smallest AIC); branching factor {n_text} direct reshares "
               f"per reshare (an original post: n0 = {_num(best.params['n0'])})")
    d = fit.data
    details = [f"{d.n_cascades} cascades, {d.n_shares} shares ({int(d.sizes.sum())} reshares) from {d.source}; "
               + ("parent links used" if d.links == "tree" else "no parent links: self-exciting likelihood")
               + ", right-censored at each cascade's observation end" + ("; marks (1 + followers)^beta"
                                                                          if fit.marks else "")]
    details += [f"kernel {_params_line(k, f, best_aic)}" for k, f in ranked]
    details += [f"not fitted: {k}: {why}" for k, why in fit.failed.items()]
    g = best.gof
    if g is not None:
        mean_sim = float(g.sim_sizes.mean()) if g.sim_sizes.shape[0] else math.nan
        details.append(f"goodness of fit ({fit.chosen}): delay CDF KS distance {g.delay_ks:.3f}; cascade "
                       f"sizes mean {g.sizes.mean():.3g} observed, {mean_sim:.3g} drawn from the fit (KS "
                       f"distance {g.size_ks:.3f}); KS test of the time-rescaled residuals against Exp(1): "
                       f"D = {g.residual_ks:.3f}, p = {g.residual_p:.3g} ({g.residuals.shape[0]} increments)")
    details.append(config_line)
    rows: list[tuple[Any, ...]] = []
    for k, f in ranked:
        for name, v in f.params.items():
            lo, hi = f.intervals.get(name, (math.nan, math.nan))
            rows.append((k, k == fit.chosen, name, v, lo, hi, f.loglik, f.aic, f.aic - best_aic, f.converged))
    cols = ("kernel", "chosen", "parameter", "estimate", "ci_low", "ci_high", "log_lik", "aic", "delta_aic",
            "converged")
    kernels = {c: np.array([r[i] for r in rows], dtype=object) for i, c in enumerate(cols)}
    gof_rows = [(k, f.gof.delay_ks, f.gof.size_ks, float(f.gof.sizes.mean()),
                 float(f.gof.sim_sizes.mean()) if f.gof.sim_sizes.shape[0] else math.nan,
                 f.gof.residual_ks, f.gof.residual_p, f.gof.residuals.shape[0])
                for k, f in ranked if f.gof is not None]
    gcols = ("kernel", "delay_ks", "size_ks", "size_mean_observed", "size_mean_fit", "residual_ks",
             "residual_p", "increments")
    gof = {c: np.array([r[i] for r in gof_rows], dtype=object) for i, c in enumerate(gcols)}
    body = [html_section(f"Kernels: parameters with {pct} profile-likelihood intervals, AIC", html_table(kernels),
                         id="kernels"),
            html_section("Goodness of fit (KS distances; KS test of the time-rescaled residuals)",
                         html_table(gof), id="gof"),
            html_section("Figure", html_figure(figure), id="plots"),
            html_section("Files written (next to this report)",
                         "<ul>" + "".join(f"<li><code>{html.escape(f)}</code></li>" for f in files) + "</ul>",
                         id="files"),
            html_section("Summary as printed", f"<pre>{html.escape(text)}</pre>", id="summary")]
    return render_page(heading=heading, body=body, label="Cascade fit (spreadsim fit)",
                       question="Which feed-delay kernel and branching factor n fit the observed cascades?",
                       details=details, meta=meta)


__all__ = ["plot", "png_bytes", "report_page", "summary"]
