"""Removal delays known to the day: their likelihood and interval-censored fits.

The DSA Transparency Database gives the day a content was posted (``content_date``) and the day
the decision applied (``application_date``), not the hours. The reported delay is the difference
of two day-truncated times, ``D = floor(A / 24) - floor(C / 24)`` days for a true delay
``X = A - C`` hours. With the posting time of day ``U = C mod 24`` uniform on [0, 24) and
independent of ``X`` (the one assumption made), ``D = floor((U + X) / 24)``, so that

    P(D = d | X = x) = K(x - 24 d),    K(y) = max(0, 1 - |y| / 24):

a reported ``d`` means a true delay in the open interval ((d-1) 24, (d+1) 24) hours (and >= 0),
weighted by a triangle that peaks at 24 d: "0 days" (content and decision on the same day) is
a delay in [0, 24) h, weighted ``1 - x/24``, most likely short; "1 day" spans (0, 48) h, most
likely 24 h (:func:`day_interval_h`). For a delay distribution with survival function ``S``
(``S = 1`` below 0) the probability of reporting ``d`` days is, integrating by parts,

    P(D = d) = ( int_{24(d-1)}^{24d} S  -  int_{24d}^{24(d+1)} S ) / 24,

and ``E[D] = E[X] / 24`` exactly. The fits maximise ``sum_d n_d log P(D = d)`` over the counts
``n_d`` of each reported delay; days are never treated as exact.

Models (:func:`fit_all`):

* ``exponential`` by its half-life, with a profile-likelihood 95% interval;
* ``lognormal`` by its median and sigma, profile-likelihood intervals for both and for the share
  removed within 24 h;
* ``empirical``: a histogram of the true delay with day-wide bins centred on whole days (the first
  is [0, 12) h, then [24k - 12, 24k + 12) h), uniform within a bin, fitted by maximum likelihood
  with the EM (self-consistency) algorithm; percentile intervals from a bootstrap of the counts
  with a seeded generator. The unrestricted NPMLE (Turnbull's estimator with these triangular
  weights) is not identified within a day: every kernel is piecewise linear with knots at whole
  days, so a distribution with all its mass on whole days (treating days as exact) fits as well
  as any other; the day bins are the simplest restriction that makes the fit unique.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_banded
from scipy.special import log_ndtr, ndtr, ndtri

from spreadsim.dists import LAT_EXPONENTIAL, LAT_LOGNORMAL, latency_from_uniform
from spreadsim.fit.profile import Optimum, minimise, profile_interval, value_only
from spreadsim.jit import njit

DAY_H = 24.0
#: the level of the profile-likelihood intervals, and the tolerance of their ends (log hours, log
#: sigma, logit of the share within 24 h)
_LEVEL, _XTOL = 0.95, 1e-8
#: the models fitted, in the order reported
MODELS = ("exponential", "lognormal", "empirical")
_LN2 = math.log(2.0)
_TINY = 1e-300
_H_BOUNDS = (1e-3, 1e7)  # hours: half-lives and medians searched within
_SIGMA_BOUNDS = (0.01, 20.0)

__all__ = ["DAY_H", "MODELS", "N_QUANTILES", "Estimate", "Fit", "day_interval_h", "exponential_probs",
           "lognormal_probs", "fit_exponential", "fit_lognormal", "fit_empirical", "fit_all", "choose",
           "quantile_table", "policy_yaml", "plot_fits", "summary_lines", "fits_table"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% interval; ``below``: the estimate is only known to lie
    below this value (it falls in a histogram's first bin, within which the histogram cannot
    place it), so it reads "< below"."""

    value: float
    lo: float
    hi: float
    below: float | None = None

    def text(self, fmt: str = ".3g", scale: float = 1.0, unit: str = "") -> str:
        v, lo, hi = (format(x * scale, fmt) for x in (self.value, self.lo, self.hi))
        if self.below is not None:
            v = "< " + format(self.below * scale, fmt)
        return f"{v}{unit} [{lo}, {hi}]"


@dataclass(frozen=True)
class Fit:
    """One fitted delay distribution."""

    model: str
    params: dict[str, Estimate]
    loglik: float
    n_params: int
    median_h: Estimate
    within_24h: Estimate
    cdf: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    day_probs: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    quantile: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    note: str = ""

    @property
    def aic(self) -> float:
        return 2.0 * self.n_params - 2.0 * self.loglik


@njit(cache=True)
def _latency_loop(kind: int, a: float, b: float, u: np.ndarray) -> np.ndarray:  # pragma: no cover
    out = np.empty(u.shape[0])
    table = np.empty(0)
    for i in range(u.shape[0]):
        out[i] = latency_from_uniform(kind, a, b, table, u[i])
    return out


def _latencies_at(kind: int, a: float, b: float, p: np.ndarray) -> np.ndarray:
    """Latencies at quantiles ``p`` by the inverse CDF the engine draws with
    (:func:`spreadsim.dists.latency_from_uniform`: exponential by half-life ``a``, lognormal by
    median ``a`` and sigma ``b``), so a fitted policy's quantiles are the engine's."""
    u = np.asarray(p, dtype=float)
    return _latency_loop(kind, float(a), float(b), np.ascontiguousarray(u.reshape(-1))).reshape(u.shape)


def day_interval_h(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open interval (hours) a reported delay of ``days`` days puts the true delay in."""
    d = np.asarray(days, dtype=np.float64)
    return np.maximum(DAY_H * (d - 1.0), 0.0), DAY_H * (d + 1.0)


# --------------------------------------------------------------------------- the two parametric models

def exponential_probs(days: np.ndarray, half_life_h: float) -> np.ndarray:
    """P(D = d) for an exponential delay: ``1 - (1 - q)/r`` for d = 0 and
    ``q^(d-1) (1 - q)^2 / r`` for d >= 1, with ``r = 24 ln2 / half_life_h``, ``q = exp(-r)``."""
    d = np.asarray(days, dtype=np.float64)
    r = DAY_H * _LN2 / half_life_h
    omq = -math.expm1(-r)
    p0 = r / 2 - r * r / 6 + r ** 3 / 24 if r < 1e-4 else 1.0 - omq / r
    log_pos = -r * (d - 1.0) + 2.0 * math.log(omq) - math.log(r)
    return np.where(d == 0, p0, np.exp(np.minimum(log_pos, 0.0)))


def _lognormal_head(t: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """int_0^t S(s) ds = E[min(X, t)] for a lognormal (t for t <= 0, as S = 1 below 0), with the
    partial mean in logs so that it neither overflows nor cancels for a large sigma."""
    pos = t > 0
    z = (np.log(np.where(pos, t, 1.0)) - mu) / sigma
    head = t * ndtr(-z) + np.exp(mu + sigma * sigma / 2 + log_ndtr(z - sigma))
    return np.where(pos, head, t)


def lognormal_probs(days: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """P(D = d) for a lognormal delay (log-scale ``mu``, ``sigma``): the formula above, written
    with ``H(t) = int_0^t S`` as ``(2 H(24d) - H(24(d-1)) - H(24(d+1))) / 24``."""
    b = DAY_H * np.asarray(days, dtype=np.float64)
    p = (2.0 * _lognormal_head(b, mu, sigma) - _lognormal_head(b - DAY_H, mu, sigma)
         - _lognormal_head(b + DAY_H, mu, sigma)) / DAY_H
    return np.clip(p, _TINY, 1.0)


def _nll(probs: np.ndarray, rows: np.ndarray) -> float:
    return -float(np.dot(rows, np.log(np.maximum(probs, _TINY))))


def _intervals(fun: Callable[[np.ndarray], float], opt: Optimum, bounds: list[tuple[float, float]],
               scale: float) -> list[tuple[float, float]]:
    """Every parameter's profile-likelihood 95% interval (:func:`spreadsim.fit.profile.profile_interval`,
    gradient-free: the day-censored likelihood's gradient is of no use to a gradient method; a
    side that never rises within ``bounds`` ends at the bound)."""
    return [profile_interval(value_only(fun), opt, k, _LEVEL, scale, gradient=False, bounds=bounds,
                             xtol=_XTOL) for k in range(opt.x.shape[0])]


def fit_exponential(days: np.ndarray, rows: np.ndarray) -> Fit:
    """Maximum-likelihood exponential delay; the half-life's interval by profile likelihood."""
    start = max(DAY_H * float(np.dot(days, rows) / rows.sum()), 1.0) * _LN2
    bounds = [(math.log(_H_BOUNDS[0]), math.log(_H_BOUNDS[1]))]

    def nll(th: np.ndarray) -> float:
        return _nll(exponential_probs(days, math.exp(th[0])), rows)

    opt = minimise(value_only(nll), [np.array([math.log(start)])], gradient=False, bounds=bounds)
    ((lo, hi),) = _intervals(nll, opt, bounds, 0.05)
    h = Estimate(math.exp(float(opt.x[0])), math.exp(lo), math.exp(hi))

    def within(hl: float) -> float:
        return -math.expm1(-DAY_H * _LN2 / hl)

    return Fit("exponential", {"half_life_h": h}, -opt.value, 1, h,
               Estimate(within(h.value), within(h.hi), within(h.lo)),
               cdf=lambda t: -np.expm1(-_LN2 * np.asarray(t, dtype=float) / h.value),
               day_probs=lambda d: exponential_probs(d, h.value),
               quantile=lambda p: _latencies_at(LAT_EXPONENTIAL, h.value, 0.0, p))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def fit_lognormal(days: np.ndarray, rows: np.ndarray) -> Fit:
    """Maximum-likelihood lognormal delay; profile-likelihood intervals for the median, sigma and
    the share within 24 h (the last as a parameter: the logit of the share, with log sigma)."""
    mid = np.log(DAY_H * days + DAY_H / 2)
    w = rows / rows.sum()
    mu0 = float(np.dot(w, mid))
    s0 = math.log(max(math.sqrt(float(np.dot(w, (mid - mu0) ** 2))), 0.3))
    s_b = (math.log(_SIGMA_BOUNDS[0]), math.log(_SIGMA_BOUNDS[1]))
    bounds = [(math.log(_H_BOUNDS[0]), math.log(_H_BOUNDS[1])), s_b]

    def nll(th: np.ndarray) -> float:  # th = (mu, log sigma)
        return _nll(lognormal_probs(days, float(th[0]), math.exp(th[1])), rows)

    def nll_q(th: np.ndarray) -> float:  # th = (logit of the share within 24 h, log sigma)
        z = ndtri(_expit(float(th[0])))
        return nll(np.array([math.log(DAY_H) - math.exp(th[1]) * z, th[1]]))

    opt = minimise(value_only(nll), [np.array([mu0, s0])], gradient=False, bounds=bounds)
    mu_hat, s_hat = float(opt.x[0]), float(opt.x[1])
    (mlo, mhi), (slo, shi) = _intervals(nll, opt, bounds, 0.05)
    sigma = math.exp(s_hat)
    q_hat = float(ndtr((math.log(DAY_H) - mu_hat) / sigma))
    x_hat = math.log(max(q_hat, 1e-12) / max(1 - q_hat, 1e-12))
    opt_q = Optimum(np.array([x_hat, s_hat]), opt.value, opt.converged)
    xlo, xhi = profile_interval(value_only(nll_q), opt_q, 0, _LEVEL, 0.1, gradient=False,
                                bounds=[(-40.0, 40.0), s_b], xtol=_XTOL)
    med = Estimate(math.exp(mu_hat), math.exp(mlo), math.exp(mhi))

    def cdf(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return np.where(t > 0, ndtr((np.log(np.maximum(t, 1e-300)) - mu_hat) / sigma), 0.0)

    return Fit("lognormal", {"median_h": med, "sigma": Estimate(sigma, math.exp(slo), math.exp(shi))},
               -opt.value, 2, med, Estimate(q_hat, _expit(xlo), _expit(xhi)), cdf=cdf,
               day_probs=lambda d: lognormal_probs(d, mu_hat, sigma),
               quantile=lambda p: _latencies_at(LAT_LOGNORMAL, math.exp(mu_hat), sigma, p))


# --------------------------------------------------------------------------- the day-bin histogram

def _kernel_integral(y: np.ndarray) -> np.ndarray:
    """int_{-24}^{y} K(s) ds for the triangle K of half-width 24 h (total 24)."""
    y = np.clip(y, -DAY_H, DAY_H)
    return np.where(y <= 0, (y + DAY_H) ** 2 / (2 * DAY_H), DAY_H - (DAY_H - y) ** 2 / (2 * DAY_H))


def _bin_edges(n_bins: int) -> np.ndarray:
    return np.concatenate([[0.0], DAY_H * np.arange(n_bins) + DAY_H / 2])


def _bands(n_bins: int) -> np.ndarray:
    """P(D = d | X uniform in bin k) for |d - k| <= 1 as solve_banded's (3, n) layout:
    row 0: d = k - 1, row 1: d = k, row 2: d = k + 1."""
    e = _bin_edges(n_bins)
    lo, hi = e[:-1], e[1:]
    k = np.arange(n_bins, dtype=float)
    out = np.zeros((3, n_bins))
    for row, dd in enumerate((-1.0, 0.0, 1.0)):
        c = DAY_H * (k + dd)
        out[row] = (_kernel_integral(hi - c) - _kernel_integral(lo - c)) / (hi - lo)
    out[0, 0] = 0.0  # no d = -1
    return out


def _predict(bands: np.ndarray, q: np.ndarray) -> np.ndarray:
    """P(D = d) for d = 0..K from bin masses q (bin K+1's mass would leak to unseen d)."""
    p = bands[1] * q
    p[:-1] += bands[0, 1:] * q[1:]
    p[1:] += bands[2, :-1] * q[:-1]
    return p


def _em(bands: np.ndarray, n: np.ndarray, q: np.ndarray, tol: float = 1e-11,
        max_iter: int = 20000) -> np.ndarray:
    """Maximum-likelihood bin masses by EM (the self-consistency iteration)."""
    total = n.sum()
    for _ in range(max_iter):
        r = n / np.maximum(_predict(bands, q), _TINY)
        g = bands[1] * r
        g[1:] += bands[0, 1:] * r[:-1]
        g[:-1] += bands[2, :-1] * r[1:]
        new = q * g / total
        if np.max(np.abs(new - q)) < tol:
            return new
        q = new
    return q


def _start(bands: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The masses whose predicted day shares equal the observed ones (clipped, renormalised)."""
    band = np.zeros_like(bands)  # solve_banded wants superdiagonal first
    band[0, 1:] = bands[0, 1:]
    band[1] = bands[1]
    band[2, :-1] = bands[2, :-1]
    q = np.maximum(solve_banded((1, 1), band, n / n.sum()), 1e-6)
    return q / q.sum()


def _hist_cdf(edges: np.ndarray, q: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.interp(np.asarray(t, dtype=float), edges, np.concatenate([[0.0], np.cumsum(q)]))


def _hist_quantile(edges: np.ndarray, q: np.ndarray, p: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(q)])
    p = np.clip(np.asarray(p, dtype=float), 0.0, cum[-1])
    j = np.clip(np.searchsorted(cum, p, side="left"), 1, q.size)  # bin j-1 holds p
    frac = np.where(q[j - 1] > 0, (p - cum[j - 1]) / np.maximum(q[j - 1], _TINY), 0.0)
    return edges[j - 1] + np.clip(frac, 0.0, 1.0) * (edges[j] - edges[j - 1])


def _binned(value: float, lo: float, hi: float, edges: np.ndarray) -> Estimate:
    """A histogram quantile with its interval: the histogram is uniform within a bin by
    construction, so a quantile inside the first bin ([0, 12) h) is only known to be below the
    bin's upper edge (the point, 6 h for a median of delays all reported as 0 days, would be
    the assumption's, not the data's), and an interval end inside it moves to the bin's edge."""
    top = float(edges[1])
    if hi < top:
        hi = top
    if lo < top:
        lo = float(edges[0])
    return Estimate(value, lo, hi, top if value < top else None)


def fit_empirical(days: np.ndarray, rows: np.ndarray, *, n_boot: int = 200,
                  rng: np.random.Generator | None = None) -> Fit:
    """The day-bin histogram of the true delay by maximum likelihood (EM); percentile intervals
    for its median and share within 24 h from ``n_boot`` bootstrap resamples of the counts."""
    n_bins = int(days.max()) + 1
    n = np.zeros(n_bins)
    np.add.at(n, days, rows)
    bands, edges = _bands(n_bins), _bin_edges(n_bins)
    q = _em(bands, n, _start(bands, n))
    loglik = -_nll(_predict(bands, q), n)

    def stats(masses: np.ndarray) -> tuple[float, float]:
        return float(_hist_quantile(edges, masses, np.array(0.5))), float(_hist_cdf(edges, masses, np.array(DAY_H)))

    med, within = stats(q)
    rng = rng if rng is not None else np.random.default_rng(0)
    boot = np.array([stats(_em(bands, rng.multinomial(int(n.sum()), n / n.sum()).astype(float), q,
                                tol=1e-9)) for _ in range(n_boot)]).reshape(-1, 2)
    lo, hi = (np.percentile(boot, [2.5, 97.5], axis=0) if n_boot > 1
              else np.full((2, 2), math.nan))
    used = int(np.count_nonzero(q > 1e-9))
    return Fit("empirical", {}, loglik, max(n_bins - 1, 0), _binned(med, float(lo[0]), float(hi[0]), edges),
               Estimate(within, float(lo[1]), float(hi[1])),
               cdf=lambda t: _hist_cdf(edges, q, t),
               day_probs=lambda d: np.where(np.asarray(d) < n_bins,
                                            _predict(bands, q)[np.minimum(np.asarray(d), n_bins - 1)],
                                            0.0),
               quantile=lambda p: _hist_quantile(edges, q, p),
               note=f"{n_bins} day bins, {used} with mass; {n_boot} bootstrap resamples")


def fit_all(days: np.ndarray, rows: np.ndarray, *, n_boot: int = 200, seed: int = 0) -> dict[str, Fit]:
    """Every model of :data:`MODELS` fitted to the counts ``rows`` of reported delays ``days``."""
    days = np.asarray(days, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.float64)
    keep = rows > 0
    days, rows = days[keep], rows[keep]
    return {"exponential": fit_exponential(days, rows), "lognormal": fit_lognormal(days, rows),
            "empirical": fit_empirical(days, rows, n_boot=n_boot, rng=np.random.default_rng(seed))}


# --------------------------------------------------------------------------- presenting a fit

#: quantiles written to a fitted distribution's delay table (the empirical policy's CSV)
N_QUANTILES = 1000


def quantile_table(fit: Fit, n: int = N_QUANTILES) -> str:
    """The CSV ``latency_distribution`` reads for ``dist: empirical``: ``n`` quantiles of the
    fitted delay (hours) at probabilities (i + 1/2)/n, one per line under the header ``delay_h``."""
    q = fit.quantile((np.arange(n) + 0.5) / n)
    return "delay_h\n" + "".join(f"{x:.6g}\n" for x in q)


def choose(fits: dict[str, Fit], dist: str) -> str:
    """The model a policy uses: ``dist``, or with ``auto`` the lowest AIC."""
    return min(MODELS, key=lambda m: fits[m].aic) if dist == "auto" else dist


def policy_yaml(fits: dict[str, Fit], chosen: str, empirical_csv: str, header: list[str]) -> str:
    """A ``latency_distribution`` policy config of the chosen fit (the others as comments)."""
    e, ln, em = fits["exponential"], fits["lognormal"], fits["empirical"]
    hl, med, sig = e.params["half_life_h"], ln.params["median_h"], ln.params["sigma"]
    lines = [f"# {h}" for h in header] + [
        "# Fitted with interval censoring (dates at day precision; spreadsim.fit.delays), 95% intervals:",
        f"#   exponential: half_life_h {hl.text()} (AIC {e.aic:.1f})",
        f"#   lognormal:   median_h {med.text()}, sigma {sig.text()} (AIC {ln.aic:.1f})",
        f"#   empirical:   day-bin histogram, median {em.median_h.text()} h (AIC {em.aic:.1f})",
        f"# Chosen: {chosen}. Another one: replace dist and its keys with",
        f"#   dist: exponential, half_life_h: {hl.value:.6g}",
        f"#   dist: lognormal, median_h: {med.value:.6g}, sigma: {sig.value:.6g}",
        f"#   dist: empirical, path: {json.dumps(empirical_csv)}, column: delay_h",
        "# Statements of reasons record decisions that were taken: the share of content never removed",
        "# is not in the data (removal_prob 1: every targeted post is removed, after these delays).",
        "name: latency_distribution", f"dist: {chosen}"]
    if chosen == "exponential":
        lines.append(f"half_life_h: {hl.value:.6g}")
    elif chosen == "lognormal":
        lines += [f"median_h: {med.value:.6g}", f"sigma: {sig.value:.6g}"]
    else:
        lines += [f"path: {json.dumps(empirical_csv)}", "column: delay_h"]  # a JSON string is YAML
    return "\n".join(lines + ["removal_prob: 1.0", "applies_to: illegal"]) + "\n"


def plot_fits(fits: dict[str, Fit], days: np.ndarray, rows: np.ndarray, title: str) -> bytes:
    """PNG bytes: left, the fitted CDFs of the true delay (hours) with the interval each whole
    day of the data allows; right, the observed share of reported delays <= d days against each
    fit's prediction (the comparison the data can make)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = np.asarray(days, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.float64)
    top = max(float(fits["empirical"].quantile(np.array(0.99))), DAY_H * 2)
    t = np.linspace(0.0, top, 400)
    full = np.arange(int(min(days.max(), top / DAY_H + 1)) + 1)
    obs = np.zeros(int(days.max()) + 1)
    np.add.at(obs, days, rows)
    obs_cum = (np.cumsum(obs) / rows.sum())[: full.size]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"exponential": "-", "lognormal": "--", "empirical": ":"}
    for m in MODELS:
        a.plot(t, fits[m].cdf(t), styles[m], label=f"{m} (AIC {fits[m].aic:.0f})")
        b.plot(full, np.cumsum(fits[m].day_probs(full)), styles[m], label=m)
    a.step(DAY_H * full, obs_cum, where="post", color="0.6", lw=1,
           label="reported days as exact (not a fit)")
    b.plot(full, obs_cum, "o", color="k", ms=3, label="observed")
    a.set(xlabel="true delay (hours)", ylabel="share removed", title="fitted delay CDFs")
    b.set(xlabel="reported delay (days)", ylabel="share <= d days", title="observed vs fitted")
    for ax in (a, b):
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.85, bottom=0.13, wspace=0.22)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def summary_lines(fits: dict[str, Fit], chosen: str) -> list[str]:
    """The headline numbers of one (platform, category): the chosen fit's median delay and share
    within 24 h with their intervals, then every model's parameters and AIC."""
    c = fits[chosen]
    e, ln, em = fits["exponential"], fits["lognormal"], fits["empirical"]
    return [f"  median delay: {c.median_h.text(unit=' h')} ({chosen}, "
            f"{'lowest AIC' if chosen == min(MODELS, key=lambda m: fits[m].aic) else 'chosen'})",
            f"  removed within 24 h: {c.within_24h.text('.1f', 100, '%')}",
            f"  exponential: half-life {e.params['half_life_h'].text(unit=' h')}, AIC {e.aic:.1f}",
            f"  lognormal: median {ln.params['median_h'].text(unit=' h')}, sigma "
            f"{ln.params['sigma'].text()}, AIC {ln.aic:.1f}",
            f"  empirical: median {em.median_h.text(unit=' h')}, within 24 h "
            f"{em.within_24h.text('.1f', 100, '%')}, AIC {em.aic:.1f} ({em.note})"]


def fits_table(fits: Mapping[tuple[str, str], Mapping[str, Fit]],
               chosen: Mapping[tuple[str, str], str]) -> dict[str, np.ndarray]:
    """One row per (platform, category, model, quantity): value and 95% interval (NaN: none)."""
    rows = []
    for (p, c), f in fits.items():
        for m, fit in f.items():
            nan = float("nan")
            quantities = [(k, e.value, e.lo, e.hi) for k, e in fit.params.items()]
            quantities += [("median_h", fit.median_h.value, fit.median_h.lo, fit.median_h.hi),
                           ("within_24h", fit.within_24h.value, fit.within_24h.lo, fit.within_24h.hi),
                           ("loglik", fit.loglik, nan, nan), ("aic", fit.aic, nan, nan)]
            rows += [(p, c, m, m == chosen[(p, c)], *q) for q in dict.fromkeys(quantities)]
    names = ("platform", "category", "model", "chosen", "quantity", "value", "lo", "hi")
    return {n: np.array([r[i] for r in rows], dtype=object if i in (0, 1, 2, 4) else None)
            for i, n in enumerate(names)}
