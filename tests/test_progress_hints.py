"""Progress lines during one long seed and a graph build, and the two mended hints (issue 18
item 8's small ones): the unknown-key hint says what is true (following it works, or spreadsim's
own message says the key does not exist), and an unquoted non-ASCII path gets a hint to quote it,
which works."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spreadsim.runs import job as job_module
from spreadsim.runs import progress
from spreadsim.runs.job import run_job
from spreadsim.runs.progress import heartbeat

SMALL = ["seeds=1", "graph.n=600", "scenario.illegal_posts=4", "scenario.horizon_h=72"]


def _beats(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "spreadsim.sweep" and "still running" in r.getMessage()]


# --------------------------------------------------------------------------- progress


def test_heartbeat_logs_while_a_step_runs_innermost_only(caplog):
    with caplog.at_level(logging.INFO, logger="spreadsim.sweep"):
        with heartbeat("outer", every=0.05):
            time.sleep(0.3)
            n_outer = len(_beats(caplog))
            with heartbeat("inner", every=0.05):
                time.sleep(0.3)
            beats = _beats(caplog)
        time.sleep(0.2)
        after = _beats(caplog)
    assert n_outer >= 2 and all(b.startswith("outer: still running, elapsed ")
                                for b in beats[:n_outer])
    inner = beats[n_outer:]
    assert len(inner) >= 2 and all(b.startswith("inner: ") for b in inner[:-1]), inner
    assert len(after) <= len(beats) + 1  # stopped with its block


def test_a_long_seed_and_a_graph_build_log_progress(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_EVERY_S", 0.02)
    job_module._PINNED.clear()
    slow = job_module.build_graph

    def slow_build(cfg, seed):  # a build long enough for a few lines
        time.sleep(0.15)
        return slow(cfg, seed)

    monkeypatch.setattr(job_module, "build_graph", slow_build)
    run_seed = job_module.simulate

    def slow_seed(*args, **kwargs):  # and seeds long enough for a line each, however fast the machine
        time.sleep(0.15)
        return run_seed(*args, **kwargs)

    monkeypatch.setattr(job_module, "simulate", slow_seed)
    cfg = {"graph": {"kind": "barabasi_albert", "n": 3000, "m": 3, "seed": 7},
           "scenario": {"illegal_posts": 20, "legal_posts": 10, "uploaders": 4, "horizon_h": 240},
           "policy": {"name": "fixed_latency", "latency_h": 1.0},
           "seed": 0, "seeds": 2, "deadline_path": "off"}
    with caplog.at_level(logging.INFO, logger="spreadsim.sweep"):
        assert run_job(cfg, tmp_path / "j", job_num=3)
    beats = _beats(caplog)
    assert any(b.startswith("building the graph (barabasi_albert, seed 7): still running")
               for b in beats), beats
    seeds = [b for b in beats if b.startswith("job 3: seed ")]
    assert seeds and all(" (1/2): " in b or " (2/2): " in b for b in seeds), beats


# --------------------------------------------------------------------------- hints


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    small = [a for a in SMALL if not ("graph=edgelist" in args and a.startswith("graph."))]
    return subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single",
                           *small, f"hydra.run.dir={tmp_path / 'out'}", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("override", ["nosuch=1", "policy.nosuch=1"])
def test_no_hint_that_leads_to_another_error(tmp_path, override):
    r = _cli(tmp_path, override)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    key = override.partition("=")[0]
    assert lines[0].startswith(f"spreadsim: error: {key} = 1: unknown key; allowed: "), lines
    assert "+" not in lines[0] and "hydra" not in lines[0]  # spreadsim's own keys, no '+' hint
    # following Hydra's hint gives the same line: the key does not exist
    again = _cli(tmp_path, "+" + override)
    assert again.returncode == 2 and again.stderr.splitlines() == lines, again.stderr


def test_a_hint_that_works_is_kept(tmp_path):
    """max_events is a key spreadsim takes that the composed config leaves out: '+' adds it."""
    r = _cli(tmp_path, "max_events=100000")
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].endswith("(to add a key use +max_events=100000)"), lines
    ok = _cli(tmp_path, "+max_events=100000")
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr


def test_an_unquoted_non_ascii_path_gets_a_quoting_hint_that_works(tmp_path):
    path = tmp_path / "réseau.txt"
    path.write_text("".join(f"{i} {i + 1}\n{i + 1} {i}\n" for i in range(700)))
    r = _cli(tmp_path, "graph=edgelist", f"graph.path={path}")
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"spreadsim: error: cannot parse the override 'graph.path={path}'")
    hint = f"quote a value with characters outside ASCII: 'graph.path=\"{path}\"'"
    assert lines[0].endswith(f"({hint})"), lines
    # the hint, as the shell hands it over (without its single quotes), works
    ok = _cli(tmp_path, "graph=edgelist", f'graph.path="{path}"')
    assert ok.returncode == 0 and ok.stderr == "", ok.stderr
