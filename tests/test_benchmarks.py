"""The benchmarks' own arithmetic and a small end-to-end run (real EoN, real graph)."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """A benchmark script as a module (its folder on the path while it imports _common)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def bench_spread():
    return _load("bench_spread")


def test_paired_ratios_are_per_eon_run(bench_spread):
    """Each EoN run is compared with the median of the spreadsim runs around it, not with
    spreadsim's overall median; the report gives the median and range of those ratios."""
    around_fast = [{"ips": 2e6, "ips_cpu": 2e6, "bare_ips": 4e6, "bare_ips_cpu": 4e6}] * 3
    around_slow = [{"ips": 1e6, "ips_cpu": 1e6, "bare_ips": 1e6, "bare_ips_cpu": 1e6}] * 3
    ee = [{"inf": 100, "wall": 0.01, "cpu": 0.01, "around": around_fast},   # EoN 1e4/s, fast period
          {"inf": 100, "wall": 0.02, "cpu": 0.02, "around": around_slow},   # EoN 5e3/s, slow period
          {"inf": 100, "wall": 0.02, "cpu": 0.04, "around": around_slow}]   # EoN 2.5e3/CPU-s
    p = bench_spread.paired(ee)
    assert p["runs"] == 3 and p["n_around"] == 9
    assert p["ratio"] == statistics.median([200.0, 200.0, 200.0])
    assert (p["ratio_cpu"], p["ratio_cpu_min"], p["ratio_cpu_max"]) == (200.0, 200.0, 400.0)
    assert p["ss_ips_cpu"] == 1e6 and p["ss_ips_cpu_max"] == 2e6
    assert p["bare_ratio_cpu"] == 400.0  # bare 4e6, 1e6, 1e6 against EoN 1e4, 5e3, 2.5e3
    assert p["ss_bare_cpu"] == 1.0  # three pairs at 0.5, six at 1.0


def test_paired_is_empty_without_pairing(bench_spread):
    assert bench_spread.paired([{"inf": 1, "wall": 1.0, "cpu": 1.0, "around": []}]) == {}
    assert bench_spread.paired([]) == {}


def test_small_benchmark_run_pairs_every_eon_run(bench_spread, tmp_path, capsys):
    pytest.importorskip("EoN")
    out = tmp_path / "spread.json"
    code = bench_spread.main(["--n", "3000", "--runs", "2", "--profile-top", "0", "--skip-heapq",
                              "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "paired with each EoN run" in text
    res = json.loads(out.read_text())
    assert res["paired"]["runs"] == res["EoN"]["runs"] == 2
    # two spreadsim seeds before and two after each of the two EoN runs
    assert res["paired"]["n_around"] == 8
    assert res["paired"]["ratio_cpu"] > 0 and res["spreadsim"]["runs"] == 2


def test_sweep_efficiency_per_round():
    mod = _load("bench_sweep")
    runs = {1: [{"phase": 8.0, "wall": 12.0}, {"phase": 10.0, "wall": 14.0}],
            2: [{"phase": 5.0, "wall": 10.0}, {"phase": 5.0, "wall": 7.0}]}
    r = mod.per_round(runs, [{"eff": 0.8}, {"eff": 1.0}])
    assert r["phase"] == [0.8, 1.0] and r["e2e"] == [0.6, 1.0]
    assert r["phase_vs_peer"] == [1.0, 1.0]
    assert "phase_vs_peer" not in mod.per_round(runs, [])
