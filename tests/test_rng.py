"""The independence the paired design relies on: counter-based draws (:mod:`spreadsim.rng`) of
neighbouring counters, neighbouring seeds and different streams are uncorrelated and fill the
unit square evenly.

Each test takes n = 200_000 pairs (x_i, y_i) of draws that the engine or a policy makes for
neighbouring keys (the real functions: the first 2_000 pairs are recomputed with
:func:`spreadsim.rng.uniform` one by one and must be equal bit for bit to the vectorised twin used
for speed), and checks

* **correlation**: under independence sqrt(n) r is about standard normal, so |r| < z / sqrt(n)
  with z = 4.0 (two-sided alpha = 6.3e-5 per test; bound 0.0089 for n = 200_000);
* **pairs on a grid**: a chi-square test of the counts of the pairs on a k x k grid, k = 10 (100
  cells, 2_000 expected per cell), k^2 - 1 = 99 degrees of freedom, critical value
  chi2_0.999(99) = 148.23 (alpha = 0.001 per test);
* **each draw alone**: chi-square on k^2 = 100 equal bins, the same 99 degrees of freedom and
  critical value.

The seeds are fixed, so a passing run passes every time; against the family of about 30 tests the
chance that a good generator fails one is below 0.03 (Bonferroni). That the tests can fail is
shown in :func:`test_the_tests_reject_a_bad_generator` (a generator without the second mixing
round: neighbouring counters are strongly correlated).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from spreadsim import rng
from spreadsim.engine.records import Post
from spreadsim.policies.base import post_uniform

N = 200_000
Z = 4.0
K = 10
ALPHA = 0.001
CRITICAL = 148.23  # chi2.ppf(1 - ALPHA, K * K - 1), checked below
CHECK = 2_000  # pairs recomputed with the real functions, one by one

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform_v(key, a, b) -> np.ndarray:
    """:func:`spreadsim.rng.uniform` on arrays (numpy's uint64 arithmetic wraps like the compiled one)."""
    key, a, b = (np.asarray(v).astype(np.uint64) for v in (key, a, b))
    with np.errstate(over="ignore"):
        x = _mix(key ^ (a * np.uint64(0x9E3779B97F4A7C15)))
        x = _mix(x ^ (b * np.uint64(0xD1B54A32D192ED03) + np.uint64(0x632BE59BD9B4E019)))
    return (x >> np.uint64(11)).astype(np.float64) / 9007199254740992.0


def subkey_v(key, a) -> np.ndarray:
    """:func:`spreadsim.rng.subkey` on arrays."""
    key, a = np.asarray(key).astype(np.uint64), np.asarray(a).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(key ^ _mix(a + np.uint64(0x9E3779B97F4A7C15)))
    return (x >> np.uint64(1)).astype(np.int64)


SPREAD = rng.stream_key(2018, "spread")
POST = rng.subkey(rng.subkey(SPREAD, 7), 0)  # the key of post 7 (content 7, copy 0)
DELAY, SHARE, CLOCK = (rng.subkey(POST, s) for s in (0, 1, 3))
IDX = np.arange(N, dtype=np.int64)
U, W = IDX // 400, IDX % 400  # (sharer, follower) pairs of 500 sharers with 400 followers each


def _post_keys(seeds: np.ndarray) -> np.ndarray:
    """The key of post 0 (content 0, copy 0) under each run seed."""
    spread = np.array([rng.stream_key(int(s), "spread") for s in seeds], dtype=np.int64)
    return subkey_v(subkey_v(spread, 0), 0)


#: name -> (x, y) as arrays, and the same pair i computed with the real functions
PAIRS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], Callable[[int], tuple[float, float]]]] = {
    # the feed delays of one share to neighbouring followers: (post, u, w) and (post, u, w+1)
    "delay follower w, w+1": (lambda: (uniform_v(DELAY, U, W), uniform_v(DELAY, U, W + 1)),
                              lambda i: (rng.uniform(DELAY, U[i], W[i]), rng.uniform(DELAY, U[i], W[i] + 1))),
    # the delays from neighbouring sharers to one follower: (post, u, w) and (post, u+1, w)
    "delay sharer u, u+1": (lambda: (uniform_v(DELAY, U, W), uniform_v(DELAY, U + 1, W)),
                            lambda i: (rng.uniform(DELAY, U[i], W[i]), rng.uniform(DELAY, U[i] + 1, W[i]))),
    # the reshare coins of neighbouring users: (post, v) and (post, v+1)
    "reshare coin v, v+1": (lambda: (uniform_v(SHARE, IDX, 0), uniform_v(SHARE, IDX + 1, 0)),
                            lambda i: (rng.uniform(SHARE, IDX[i], 0), rng.uniform(SHARE, IDX[i] + 1, 0))),
    # a user's reshare coin and the latency of the per-copy clock of their share
    "reshare coin, copy clock": (lambda: (uniform_v(SHARE, IDX, 0), uniform_v(CLOCK, IDX, 0)),
                                 lambda i: (rng.uniform(SHARE, IDX[i], 0), rng.uniform(CLOCK, IDX[i], 0))),
    # the per-copy clock's coin and latency of one share
    "copy clock coin, latency": (lambda: (uniform_v(CLOCK, IDX, 1), uniform_v(CLOCK, IDX, 0)),
                                 lambda i: (rng.uniform(CLOCK, IDX[i], 1), rng.uniform(CLOCK, IDX[i], 0))),
    # the delay on an edge u -> w (here w = u + 1) and the reshare coin of w
    "delay, reshare coin": (lambda: (uniform_v(DELAY, IDX, IDX + 1), uniform_v(SHARE, IDX + 1, 0)),
                            lambda i: (rng.uniform(DELAY, IDX[i], IDX[i] + 1), rng.uniform(SHARE, IDX[i] + 1, 0))),
    # the same (u, w) draw of neighbouring posts (content c and c+1)
    "post c, c+1": (lambda: (uniform_v(subkey_v(subkey_v(SPREAD, IDX), 0), 3, 5),
                             uniform_v(subkey_v(subkey_v(SPREAD, IDX + 1), 0), 3, 5)),
                    lambda i: (rng.uniform(rng.subkey(rng.subkey(SPREAD, IDX[i]), 0), 3, 5),
                               rng.uniform(rng.subkey(rng.subkey(SPREAD, IDX[i] + 1), 0), 3, 5))),
    # copy 0 and copy 1 (a re-upload) of the same content
    "copy 0, copy 1": (lambda: (uniform_v(subkey_v(subkey_v(SPREAD, IDX), 0), 3, 5),
                                uniform_v(subkey_v(subkey_v(SPREAD, IDX), 1), 3, 5)),
                       lambda i: (rng.uniform(rng.subkey(rng.subkey(SPREAD, IDX[i]), 0), 3, 5),
                                  rng.uniform(rng.subkey(rng.subkey(SPREAD, IDX[i]), 1), 3, 5))),
}


def _seed_pairs() -> tuple[np.ndarray, np.ndarray]:
    keys = _post_keys(np.arange(N + 1))
    x = uniform_v(keys, 3, 5)
    return x[:-1], x[1:]


def _seed_pair(i: int) -> tuple[float, float]:
    k = [rng.subkey(rng.subkey(rng.stream_key(s, "spread"), 0), 0) for s in (i, i + 1)]
    return rng.uniform(k[0], 3, 5), rng.uniform(k[1], 3, 5)


# the same draw of post 0 under neighbouring run seeds s and s+1
PAIRS["seed s, s+1"] = (_seed_pairs, _seed_pair)

# the streams of two policies (policy 0 and policy 1 of one stack, same seed), as a policy draws
# them: post_uniform(key, post, counter) of content i; and the first policy against the spread
P0, P1 = (rng.stream_key(2018, f"policy:{i}:fixed_latency") for i in (0, 1))


def _post(i: int, copy: int = 0) -> Post:
    return Post(i, i, "hate_speech", 0, 0.0, copy)


PAIRS["policy 0, policy 1"] = (lambda: (uniform_v(P0, IDX, 1), uniform_v(P1, IDX, 1)),
                               lambda i: (post_uniform(P0, _post(int(IDX[i])), 1),
                                          post_uniform(P1, _post(int(IDX[i])), 1)))
PAIRS["policy coin, latency"] = (lambda: (uniform_v(P0, IDX, 0), uniform_v(P0, IDX, 1)),
                                 lambda i: (post_uniform(P0, _post(int(IDX[i])), 0),
                                            post_uniform(P0, _post(int(IDX[i])), 1)))
PAIRS["policy, spread"] = (lambda: (uniform_v(P0, IDX, 1), uniform_v(SHARE, IDX, 0)),
                           lambda i: (post_uniform(P0, _post(int(IDX[i])), 1), rng.uniform(SHARE, IDX[i], 0)))


# ------------------------------------------------------------------------------ the checks


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def grid_chi2(x: np.ndarray, y: np.ndarray, k: int = K) -> float:
    """Pearson's chi-square of the pairs' counts on a k x k grid against n / k^2 per cell."""
    cells = np.minimum((x * k).astype(np.int64), k - 1) * k + np.minimum((y * k).astype(np.int64), k - 1)
    counts = np.bincount(cells, minlength=k * k)
    expected = x.size / (k * k)
    return float(((counts - expected) ** 2 / expected).sum())


def bins_chi2(x: np.ndarray, bins: int = K * K) -> float:
    counts = np.bincount(np.minimum((x * bins).astype(np.int64), bins - 1), minlength=bins)
    expected = x.size / bins
    return float(((counts - expected) ** 2 / expected).sum())


def independent(x: np.ndarray, y: np.ndarray) -> list[str]:
    """The checks of the module docstring that (x, y) fail; none for a good generator."""
    n = x.size
    failed = []
    r = correlation(x, y)
    if not abs(r) < Z / math.sqrt(n):
        failed.append(f"correlation {r:.4f} (bound {Z / math.sqrt(n):.4f})")
    c = grid_chi2(x, y)
    if not c < CRITICAL:
        failed.append(f"grid chi-square {c:.1f} (critical {CRITICAL})")
    for name, v in (("x", x), ("y", y)):
        c = bins_chi2(v)
        if not c < CRITICAL:
            failed.append(f"{name} uniformity chi-square {c:.1f} (critical {CRITICAL})")
    return failed


def test_the_critical_values():
    assert stats.chi2.ppf(1 - ALPHA, K * K - 1) == pytest.approx(CRITICAL, abs=0.005)
    assert 2 * stats.norm.sf(Z) < 1e-4


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_the_vectorised_draws_are_the_real_ones(name):
    bulk, one = PAIRS[name]
    x, y = bulk()
    assert x.shape == y.shape == (N,)
    for i in range(0, N, N // CHECK):
        assert (x[i], y[i]) == one(i), i


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_draws_are_independent(name):
    x, y = PAIRS[name][0]()
    assert independent(x, y) == []


def _bad_uniform(key, a, b) -> np.ndarray:
    """A bad counter-based generator: one mixing round of key and a, then b added (no avalanche
    of the second counter)."""
    key, a, b = (np.asarray(v).astype(np.uint64) for v in (key, a, b))
    with np.errstate(over="ignore"):
        x = _mix(key ^ (a * np.uint64(0x9E3779B97F4A7C15))) + b * np.uint64(1 << 40)
    return (x >> np.uint64(11)).astype(np.float64) / 9007199254740992.0


def test_the_tests_reject_a_bad_generator():
    """Neighbouring counters of a generator that does not mix its second counter: caught."""
    x, y = _bad_uniform(DELAY, U, W), _bad_uniform(DELAY, U, W + 1)
    failed = independent(x, y)
    assert any(f.startswith("correlation") for f in failed)
    assert any(f.startswith("grid") for f in failed)
