"""``spreadsim validate``: the engine against theory, on the user's own machine.

Every check runs the real engine on a graph where the theory holds (tree-like random graphs for
branching-process results, configuration-model graphs for SIR percolation, a Poisson stream for
the M/M/c queue) and compares one measured number with its expected value. The standard error is
estimated from the sample itself (binomial, sample variance, or batch means for correlated queue
waits); a check passes when ``|measured - expected| <= 3 * se`` (exact checks: when they are
equal). Sizes: ``quick`` (about half a minute, for CI) and ``full`` (minutes, for a release).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from spreadsim.dists import Duration
from spreadsim.engine.simulation import Simulation
from spreadsim.graphs import Graph, build_graph
from spreadsim.outputs.stats import mean_se, ratio_se
from spreadsim.policies.review import ReviewQueue
from spreadsim.rng import generator, stream_key
from spreadsim.runs.deadline import deadline_sweep
from spreadsim.runs.single import new_simulation, simulate
from spreadsim.schema.config import SimConfig

Z_TOL = 3.0
SIZES = {"quick": 1, "full": 5}


@dataclass
class Check:
    """One row of the validation table."""

    check: str
    params: str
    expected: float
    measured: float
    se: float
    exact: bool = False

    @property
    def z(self) -> float:
        if self.exact:
            return 0.0 if self.measured == self.expected else math.inf
        if self.se == 0:
            return 0.0 if self.measured == self.expected else math.inf
        return (self.measured - self.expected) / self.se

    @property
    def passed(self) -> bool:
        return abs(self.z) <= Z_TOL


def _cfg(p: float, kernel: dict[str, Any], policy: dict[str, Any] | None = None,
         removal: str = "cascade", posts: int = 2000, horizon: float = 1e7) -> SimConfig:
    d: dict[str, Any] = {
        "graph": {"kind": "random_k_out", "n": 10, "k": 2},
        "spread": {"kernel": kernel, "removal": removal},
        "scenario": {"illegal_posts": posts, "uploaders": posts, "window_h": 0.0,
                     "horizon_h": horizon, "categories": {"hate_speech": {"share_prob": p}},
                     "legal_posts": 0},
    }
    d["policy"] = policy  # None: the unmoderated run
    return SimConfig.from_dict(d)


def _sizes(cfg: SimConfig, graph: Graph, seed: int) -> np.ndarray:
    return simulate(cfg, seed, graph=graph).posts["shares"].astype(np.float64) + 1.0


def check_galton_watson(scale: int) -> Iterator[Check]:
    k, p = 6, 1 / 12
    g = build_graph({"kind": "random_k_out", "seed": None, "n": 200_000 * scale, "k": k}, seed=1)
    s = _sizes(_cfg(p, {"dist": "exponential", "rate_per_h": 1.0}, posts=2000 * scale), g, 1)
    m, se = mean_se(s)
    yield Check("Galton-Watson mean size 1/(1-R)", f"k-out k={k}, p={p:.3f}, R={k * p:.2f}",
                1 / (1 - k * p), m, se)


def check_borel(scale: int) -> Iterator[Check]:
    # directed Erdos-Renyi, mean out-degree lam, thinned by p: Poisson(R) offspring
    lam, p = 5.0, 0.1
    R = lam * p
    g = build_graph({"kind": "erdos_renyi", "seed": None, "n": 200_000 * scale, "mean_degree": lam,
                     "directed": True}, seed=2)
    s = _sizes(_cfg(p, {"dist": "exponential", "rate_per_h": 1.0}, posts=3000 * scale), g, 2)
    for size in (1, 2, 3):
        pmf = math.exp(-R * size) * (R * size) ** (size - 1) / math.factorial(size)
        frac = float((s == size).mean())
        yield Check(f"Borel P(size={size})", f"Poisson offspring R={R}", pmf, frac,
                    math.sqrt(pmf * (1 - pmf) / s.size))


def check_transmissibility(scale: int) -> Iterator[Check]:
    k, b = 6, 0.8
    g = build_graph({"kind": "random_k_out", "seed": None, "n": 200_000 * scale, "k": k}, seed=3)
    for L in (0.3, 1.0, 3.0):
        cfg = _cfg(0.1, {"dist": "exponential", "rate_per_h": b},
                   {"name": "fixed_latency", "latency_h": L}, "per_copy", posts=2000 * scale)
        r = simulate(cfg, 3, graph=g)
        edges = float(((r.posts["shares"] + 1) * k).sum())
        T = 1 - math.exp(-b * L)
        yield Check("per-copy transmissibility 1-exp(-bL)", f"b={b}, L={L}", T,
                    float(r.posts["views"].sum() / edges), math.sqrt(T * (1 - T) / edges))


def check_hawkes(scale: int) -> Iterator[Check]:
    k, p, theta = 6, 0.1, 1.0
    n = k * p
    g = build_graph({"kind": "random_k_out", "seed": None, "n": 200_000 * scale, "k": k}, seed=4)
    kern = {"dist": "exponential", "rate_per_h": theta}
    free = _sizes(_cfg(p, kern, posts=3000 * scale), g, 4)
    m, se = mean_se(free)
    yield Check("Hawkes mean size 1/(1-n)", f"exp kernel theta={theta:g}, n={n:g}", 1 / (1 - n), m, se)
    for t in (0.5, 2.0):
        cut = _sizes(_cfg(p, kern, {"name": "fixed_latency", "latency_h": t}, posts=3000 * scale), g, 4)
        kept, se = ratio_se(cut, free)
        yield Check("Hawkes cascade removal: prevented n*exp(-(1-n)*theta*t)",
                    f"n={n:g}, theta={theta:g}, t={t:g}", n * math.exp(-(1 - n) * theta * t), 1 - kept, se)


def check_per_copy(scale: int) -> Iterator[Check]:
    k, p = 6, 0.1
    n = k * p
    g = build_graph({"kind": "random_k_out", "seed": None, "n": 200_000 * scale, "k": k}, seed=5)
    cases = [("exponential", {"dist": "exponential", "rate_per_h": 1.0}, lambda D: 1 - math.exp(-D)),
             ("power-law", {"dist": "powerlaw", "c_h": 1.0, "gamma": 1.5},
              lambda D: 1 - (1.0 / (1.0 + D)) ** 1.5)]
    for name, kern, F in cases:
        free = _sizes(_cfg(p, kern, posts=3000 * scale), g, 5)
        for D in (0.5, 2.0):
            cut = _sizes(_cfg(p, kern, {"name": "fixed_latency", "latency_h": D}, "per_copy",
                              posts=3000 * scale), g, 5)
            kept, se = ratio_se(cut, free)
            n_D = n * F(D)
            yield Check(f"per-copy {name}: prevented (n-n_D)/(1-n_D)", f"n={n:g}, D={D:g}",
                        (n - n_D) / (1 - n_D), 1 - kept, se)


def _sir_cfg(T_rate: float, L: float, posts: int) -> dict[str, Any]:
    return {"graph": {"kind": "configuration_model", "n": 20_000, "seed": None,
                      "degrees": {"dist": "poisson", "mean": 5.0}},
            "spread": {"kernel": {"dist": "exponential", "rate_per_h": T_rate}, "removal": "per_copy"},
            "scenario": {"illegal_posts": posts, "uploaders": posts, "window_h": 0.0,
                         "horizon_h": 1e6, "categories": {"hate_speech": {"share_prob": 1.0}},
                         "legal_posts": 0},
            "policy": {"name": "fixed_latency", "latency_h": L}}


def check_sir(scale: int) -> Iterator[Check]:
    """SIR = per-copy removal at a fixed age L with share probability 1 and an exponential kernel:
    every edge transmits independently with T = 1 - exp(-bL) (bond percolation)."""
    b = 1.0
    for T in (0.4, 0.6):
        L = -math.log(1 - T) / b
        fracs, expect = [], []
        for seed in range(4 * scale):
            cfg = SimConfig.from_dict(_sir_cfg(b, L, 20))
            sim = new_simulation(cfg, seed)
            deg = sim.graph.out_degree()
            r = sim.run()
            reach = r.posts["reach"] + 1.0  # the uploader is infected too
            # G0, G1 of the realised degree sequence (the theory conditions on it)
            pk = np.bincount(deg) / sim.graph.n
            ks = np.arange(pk.size)
            mean_k = float((ks * pk).sum())
            u = 0.0
            for _ in range(500):
                u = 1 - T + T * float((ks * pk * u ** np.maximum(ks - 1, 0)).sum() / mean_k)
            S = 1 - float((pk * u**ks).sum())
            big = reach > 0.05 * sim.graph.n  # large outbreaks only: the theory's S
            fracs.extend((reach[big] / sim.graph.n).tolist())
            expect.extend([S] * int(big.sum()))
        x = np.asarray(fracs)
        m, se = mean_se(x) if x.size > 1 else (math.nan, math.nan)
        yield Check("SIR outbreak size S=1-G0(u), u=1-T+T*G1(u)",
                    f"config model Poisson(5), T={T}", float(np.mean(expect)), m, se)
    # below the threshold T_c = <k>/(<k^2>-<k>): mean outbreak 1 + T<k>/(1 - T(<k^2>-<k>)/<k>)
    sizes = []
    Tc = math.nan
    mean_size = math.nan
    for seed in range(2 * scale):
        T = 0.1
        cfg = SimConfig.from_dict(_sir_cfg(b, -math.log(1 - T) / b, 400))
        sim = new_simulation(cfg, 100 + seed)
        k = sim.graph.out_degree().astype(np.float64)
        k1, k2 = k.mean(), (k**2).mean()
        Tc = k1 / (k2 - k1)
        # the uploader is a uniformly random user: first generation ~ degree, then excess degree
        mean_size = 1 + T * k1 / (1 - T * (k2 - k1) / k1)
        sizes.extend((sim.run().posts["reach"] + 1.0).tolist())
    m, se = mean_se(np.asarray(sizes))
    yield Check("SIR below threshold: mean size 1+T<k>/(1-T/T_c)", f"T=0.1, T_c={Tc:.3f}",
                mean_size, m, se)


def check_mmc(scale: int) -> Iterator[Check]:
    """Moderation queue: Poisson requests, exponential reviews, c moderators (Erlang C)."""
    lam, mu, c = 4.0, 1.0, 5
    n_req = 20_000 * scale
    cfg = SimConfig.from_dict({"graph": {"kind": "random_k_out", "n": 10, "k": 1},
                               "scenario": {"illegal_posts": 1, "uploaders": 1,
                                            "horizon_h": 1e9, "legal_posts": 0}})
    g = build_graph({"kind": "random_k_out", "seed": None, "n": 10, "k": 1}, seed=0)
    sim = Simulation(cfg, 0, graph=g, policies=[])
    queue = ReviewQueue(sim, c, Duration("exponential", 1 / mu), stream_key(0, "mmc:review"))
    rng = generator(0, "mmc:arrivals")

    def source(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        from spreadsim.engine.records import Post

        for i in range(n_req):
            yield env.timeout(float(rng.exponential(1 / lam)))
            queue.submit(Post(i, i, "hate_speech", 0, env.now), "notice", lambda _r: False,
                         round=i)

    setattr(sim, "is_removed", lambda _p: False)  # noqa: B010  # the requests are for stand-in posts
    sim.env.process(source(sim.env))
    sim.env.run(until=n_req / lam * 1.2)
    waits = np.array([r.started - r.created for r in queue.requests if not math.isnan(r.started)])
    waits = waits[len(waits) // 10:]  # drop the warm-up
    batches = waits[: waits.size // 50 * 50].reshape(50, -1).mean(axis=1)
    a = lam / mu
    s = sum(a**i / math.factorial(i) for i in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    erlang_c = top / (s + top)
    wq = erlang_c / (c * mu - lam)
    yield Check("M/M/c mean wait (Erlang C)", f"lambda={lam}, mu={mu}, c={c}", wq,
                float(waits.mean()), float(batches.std(ddof=1) / math.sqrt(batches.size)))


def check_deadline_identity(scale: int) -> Iterator[Check]:
    g = build_graph({"kind": "barabasi_albert", "seed": None, "n": 5000, "m": 3}, seed=6)
    lats = [0.0, 0.5, 2.0, 12.0, 48.0, math.inf]
    mismatches = 0
    decreases = 0
    for seed in range(3 * scale):
        base = {"graph": {"kind": "barabasi_albert", "n": 10, "m": 2},
                "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0}},
                "scenario": {"illegal_posts": 30, "uploaders": 10, "window_h": 24.0,
                             "horizon_h": 500.0,
                             "categories": {"hate_speech": {"share_prob": 0.12}},
                             "legal_posts": 0}}
        cfgs = [SimConfig.from_dict({**base, "policy": {"name": "fixed_latency", "latency_h": L}})
                for L in lats]
        fast = deadline_sweep(cfgs, seed, graph=g)
        prev = None
        for cfg, f in zip(cfgs, fast, strict=True):
            slow = simulate(cfg, seed, graph=g)
            mismatches += int((slow.posts["reach"] != f.posts["reach"]).sum())
            if prev is not None:
                decreases += int((slow.posts["reach"] < prev).sum())
            prev = slow.posts["reach"]
    yield Check("deadline identity: reach(L) = first exposures before L (mismatches)",
                f"BA 5000, {len(lats)} latencies", 0, mismatches, 0.0, exact=True)
    yield Check("monotone in latency (posts whose reach fell)", "same seeds", 0, decreases, 0.0,
                exact=True)


CHECKS: dict[str, Callable[[int], Iterator[Check]]] = {
    "galton_watson": check_galton_watson,
    "borel": check_borel,
    "transmissibility": check_transmissibility,
    "hawkes": check_hawkes,
    "per_copy": check_per_copy,
    "sir": check_sir,
    "mmc": check_mmc,
    "deadline": check_deadline_identity,
}


def run_checks(size: str = "quick", only: list[str] | None = None) -> list[Check]:
    """Run the checks (``size``: quick or full) and return the rows."""
    scale = SIZES[size]
    rows: list[Check] = []
    for name, fn in CHECKS.items():
        if only and name not in only:
            continue
        rows.extend(fn(scale))
    return rows


def format_table(rows: list[Check]) -> str:
    """Fixed-width text table of the checks."""
    head = f"{'check':<62} {'parameters':<44} {'expected':>10} {'measured':>10} {'se':>8} {'z':>6}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        z = "exact" if r.exact else f"{r.z:6.2f}"
        lines.append(f"{r.check:<62.62} {r.params:<44.44} {r.expected:>10.4g} {r.measured:>10.4g} "
                     f"{r.se:>8.2g} {z:>6}  {'pass' if r.passed else 'FAIL'}")
    n_fail = sum(not r.passed for r in rows)
    lines.append(f"{len(rows) - n_fail} passed, {n_fail} failed")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Entry point of ``spreadsim validate [--quick|--full] [--only NAME ...]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="spreadsim validate",
                                 description="Check the engine against theory; exit 1 if a check fails.")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="size", action="store_const", const="quick", help="CI size (default)")
    g.add_argument("--full", dest="size", action="store_const", const="full", help="release size")
    ap.add_argument("--only", nargs="+", choices=sorted(CHECKS), help="run only these checks")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    rows = run_checks(args.size or "quick", args.only)
    print(format_table(rows))
    print(f"({args.size or 'quick'} size, {time.perf_counter() - t:.0f} s; "
          f"pass: |measured - expected| <= {Z_TOL:g} standard errors)")
    return 0 if all(r.passed for r in rows) else 1
