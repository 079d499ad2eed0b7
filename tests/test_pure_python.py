"""Without numba (SPREADSIM_PURE_PYTHON=1) the same code runs as plain Python, same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from spreadsim import jit as _jit
from spreadsim import simulate
from spreadsim.graphs import build_graph

SCRIPT = r"""
import json, sys
import numpy as np
from spreadsim import simulate
from spreadsim import jit as _jit
from spreadsim.graphs import build_graph
assert _jit.PURE_PYTHON == (sys.argv[1] == "1")
cfgs = json.loads(sys.argv[2])
g = build_graph({"kind": "barabasi_albert", "n": 400, "m": 3}, seed=1)
out = []
for cfg in cfgs:
    r = simulate(cfg, seed=3, graph=g)
    out.append({k: np.asarray(v).tolist() for k, v in r.posts.items()})
print(json.dumps(out))
"""


def _cfgs():
    base = {"graph": {"kind": "barabasi_albert", "n": 10, "m": 2},
            "spread": {"kernel": {"dist": "lognormal", "median_h": 1.0, "sigma": 1.0}},
            "scenario": {"illegal_posts": 4, "uploaders": 2, "window_h": 5.0, "horizon_h": 60.0,
                         "legal_posts": 2,
                         "categories": {"hate_speech": {"share_prob": 0.2}}}}
    per_copy = {**base, "spread": {"kernel": {"dist": "powerlaw", "c_h": 1.0, "gamma": 1.5},
                                   "decay": {"kind": "powerlaw", "c_h": 2.0, "alpha": 1.0},
                                   "removal": "per_copy"}}
    return [
        {**base, "policy": {"name": "fixed_latency", "latency_h": 3.0}},
        {**per_copy, "policy": {"name": "latency_distribution", "dist": "exponential",
                                "half_life_h": 2.0}},
    ]


def _run(pure: bool) -> list:
    env = {**os.environ, "SPREADSIM_PURE_PYTHON": "1" if pure else "0"}
    res = subprocess.run([sys.executable, "-c", SCRIPT, "1" if pure else "0", json.dumps(_cfgs())],
                         env=env, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(res.stdout)


def test_pure_python_gives_the_same_tables():
    pure = _run(True)
    compiled = _run(False)
    assert pure == compiled
    assert sum(sum(t["reach"]) for t in pure) > 10


def test_compiled_here():
    # the test suite itself runs compiled unless asked otherwise
    assert _jit.HAVE_NUMBA != _jit.PURE_PYTHON
    g = build_graph({"kind": "barabasi_albert", "n": 50, "m": 2}, seed=0)
    r = simulate(_cfgs()[0], seed=0, graph=g)
    assert np.all(r.posts["reach"] >= 0)


def test_prefetch_hint_changes_nothing():
    """The cache hint compiles (LLVM's prefetch) and is a no-op in plain Python."""
    from spreadsim.jit import _prefetch_noop, njit, prefetch

    def total(a):
        s = 0.0
        for i in range(a.shape[0]):
            prefetch(a, (i * 7) % a.shape[0])
            s += a[i]
        return s

    a = np.arange(1000, dtype=np.float64)
    assert njit(total)(a) == a.sum()
    assert _prefetch_noop(a, 3) is None


def test_kernel_compiles_without_reference_counting(monkeypatch):
    """The spread kernel is compiled with numba's ``_nrt=False`` (no atomic reference counting on
    its array arguments); a numba without that option gets the decorator without it."""
    from spreadsim.engine import kernel as K

    if not _jit.HAVE_NUMBA:  # pragma: no cover - pure-Python runs
        pytest.skip("numba not in use")
    for f in (K.advance, K.share, K.settle_inert):
        assert f.targetoptions.get("_nrt") is False, f
    # the kernel's functions allocate nothing, so they run the same either way
    monkeypatch.setattr(_jit, "_HAS_NRT_OPTION", False)

    def double(a):
        for i in range(a.shape[0]):
            a[i] *= 2.0

    f = _jit.njit(_nrt=False)(double)
    a = np.ones(4)
    f(a)
    assert f.targetoptions.get("_nrt") is None and a.tolist() == [2.0] * 4
