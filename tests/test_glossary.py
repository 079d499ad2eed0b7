"""The output glossary (spreadsim.outputs.glossary) describes every column spreadsim writes.

Real outputs, not a list kept beside the code: a small sweep and a Code of Conduct run from the
command line, every policy's summary keys from one run with the whole policy stack, a two-platform
run and an SLA calibration. A column without a glossary entry fails here, and so does an
entry for a column the default sweep no longer writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spreadsim.outputs.aggregate import aggregate
from spreadsim.outputs.glossary import GLOSSARY, TABLES, entries, lookup, undescribed
from spreadsim.outputs.io import read_table
from spreadsim.outputs.layout import CALIBRATION_FILE, CALIBRATION_TABLE, JOB_TABLES, SWEEP_TABLES

SMALL = ("seeds=2", "graph.n=300", "graph.m=3")


def _cli(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def _check_folder(out: Path) -> dict[str, list[str]]:
    """Every table of a sweep or run folder and of its job folders is described; returns the
    columns seen per table."""
    jobs = sorted(p.parent for p in out.rglob("job.json"))
    assert jobs, f"no job folder under {out}"
    _, params = aggregate(jobs)
    seen: dict[str, list[str]] = {}
    for d in jobs:
        for t in JOB_TABLES:
            cols = list(read_table(d / t))
            assert undescribed(t, cols) == [], f"{d / t}: columns without a glossary entry"
            seen.setdefault(t, []).extend(cols)
    for t in SWEEP_TABLES:
        cols = list(read_table(out / t))
        assert undescribed(t, cols, params) == [], f"{out / t}: columns without a glossary entry"
        seen.setdefault(t, []).extend(cols)
    return seen


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    tmp = tmp_path_factory.mktemp("glossary")
    _cli(*SMALL, "policy.latency_h=1,inf", "hydra/launcher=basic", f"hydra.sweep.dir={tmp / 'sweep'}",
         cwd=tmp)
    _cli("experiment=coc_2017", *SMALL, f"hydra.run.dir={tmp / 'coc'}", cwd=tmp)
    return {"sweep": _check_folder(tmp / "sweep"), "coc": _check_folder(tmp / "coc")}


def test_every_column_of_a_sweep_and_a_run_is_described(outputs):
    # the checks run in the fixture, folder by folder; here: both wrote the tables they should
    for seen in outputs.values():
        assert set(seen) == {*JOB_TABLES, *SWEEP_TABLES}


def test_no_entry_for_a_column_the_default_sweep_does_not_write(outputs):
    """An unconditional entry of a job or sweep table names a column of the default sweep (a
    renamed column cannot leave its old entry behind)."""
    seen = outputs["sweep"]
    for c in GLOSSARY:
        if c.when or "<" in c.name:
            continue
        for t in c.tables:
            if t in seen:
                assert c.name in seen[t], f"glossary entry {c.name!r} ({t}): not written"


def test_every_policys_statistics_are_described():
    """One run with every policy in the stack: its summary row (the runs table's columns)."""
    import spreadsim

    policies: list[dict[str, Any]] = [
        {"name": "notice_and_takedown", "moderators": 2}, {"name": "authority_referral"},
        {"name": "automated_detection", "action": "review"}, {"name": "circuit_breaker"},
        {"name": "reupload"}, {"name": "hash_matching"}, {"name": "account_strikes"}]
    cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3},
           "scenario": {"illegal_posts": 10, "legal_posts": 5, "uploaders": 3, "horizon_h": 72},
           "policy": policies}
    r = spreadsim.simulate(cfg, seed=0, baseline=True)
    names = [p["name"] for p in policies]
    for i, n in enumerate(names):
        assert any(k.startswith(f"policy{i}_{n}_") for k in r.summary), n
    assert undescribed("runs", list(r.summary)) == []
    assert undescribed("posts", list(r.posts)) == []
    assert undescribed("series", list(r.series)) == []


def test_two_platforms_are_described():
    from spreadsim.runs.platforms import simulate_platforms

    cfg = {"platforms": [
        {"name": "big", "graph": {"kind": "barabasi_albert", "n": 300, "m": 3},
         "policy": [{"name": "fixed_latency", "latency_h": 6.0}, {"name": "reupload"},
                    {"name": "hash_matching"}]},
        {"name": "small", "graph": {"kind": "barabasi_albert", "n": 200, "m": 2, "seed": 7},
         "policy": [{"name": "hash_matching"}]}],
        "cross_posting": {"overlap": 0.3, "prob": 0.3}}
    r = simulate_platforms(cfg, 0)
    assert any(k.startswith("small.") for k in r.summary)
    assert undescribed("runs", list(r.summary)) == []
    assert undescribed("posts", list(r.posts)) == []


def test_calibration_outputs_are_described(tmp_path):
    from spreadsim.runs.calibration import run_calibration

    cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3}, "seeds": 2,
           "policy": {"name": "fixed_latency", "latency_h": 1.0},
           "calibration": {"target": 5, "lever": "policy.latency_h", "max": 48, "tol": 0.05}}
    run_calibration(cfg, tmp_path)
    answer = json.loads((tmp_path / CALIBRATION_FILE).read_text())
    assert undescribed("calibration.json", list(answer)) == []
    table = list(read_table(tmp_path / CALIBRATION_TABLE))
    assert undescribed("calibration", table, ["policy.latency_h"]) == []


def test_lookup_and_patterns():
    assert lookup("runs", "removed_by_policy0_fixed_latency_latency") is not None
    assert lookup("results", "policy3_notice_and_takedown_queue_utilisation") is not None
    assert lookup("runs", "policy0_notice_and_takedown_nosuch") is None
    assert lookup("summary", "nosuch_mean") is None
    assert lookup("runs", "big.reach_total") is not None and lookup("runs", "big.nosuch") is None
    param = lookup("summary", "policy.latency_h", ["policy.latency_h"])
    assert param is not None and param.name == "<parameter>"
    # every entry names known tables and has a unit and one sentence
    for c in GLOSSARY:
        assert c.tables and set(c.tables) <= set(TABLES), c.name
        assert c.unit and c.meaning.endswith("."), c.name
    # one entry per column of a table
    for t in TABLES:
        names = [c.name for c in entries(t)]
        assert len(names) == len(set(names)), t
