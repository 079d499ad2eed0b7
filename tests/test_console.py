"""What the ``spreadsim`` command says (real subprocesses): the line at start (graph loaded, where
the outputs go), the first run's compile note (once), the answer block and the report's path in
RUN mode and in a sweep, spreadsim's own lines not labelled [HYDRA], the one-line error of a
default sweep over a key the chosen policy lacks (and its advice followed: a sweep), and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spreadsim.app.console import compile_note
from tests.helpers import stderr_lines

SMALL = ["seeds=2", "scenario.illegal_posts=3", "scenario.legal_posts=1", "scenario.uploaders=1",
         "scenario.horizon_h=48"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # (the compile note's marker lives here)
    return env


def _cli(tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=timeout)


def test_single_run_says_graph_outputs_answer_and_report(tmp_path, monkeypatch):
    """An edge list with 2 self-loops, 2 repeated arcs and a user seen only in a self-loop: the
    start line gives its counts; the compile note comes on the first run only."""
    edges = tmp_path / "edges.txt"
    edges.write_text("1 2\n2 3\n3 1\n1 2\n1 2\n2 1\n4 4\n5 5\n3 4\n")
    args = ["experiment=single", "graph=edgelist", f"graph.path={edges}", *SMALL]
    out = tmp_path / "run"
    first = _cli(tmp_path, *args, f"hydra.run.dir={out}")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    start = [ln for ln in lines if "graph edges.txt:" in ln]
    assert len(start) == 1 and "[spreadsim.app.callback][INFO]" in start[0], lines[:5]
    assert start[0].endswith(f"graph edges.txt: 5 users, 5 arcs (directed); dropped 2 self-loops, "
                             f"2 duplicate arcs; 1 isolated users; outputs -> {out}")
    assert sum("numba compiles the simulation kernel, about 30 s, once" in ln for ln in lines) == 1
    # the end: the summary table, the answer block, where the report and results are
    q = next(i for i, ln in enumerate(lines) if ln.startswith("question: "))
    assert lines[q + 1].startswith("answer:   Reach per illegal post: ")
    assert "users (95% CI" in lines[q + 1] and "fixed_latency" in lines[q + 1]
    assert lines[-2] == f"report: {out / 'report.html'}" and lines[-1] == f"results: {out}"
    assert (out / "report.html").is_file()
    assert not any("[HYDRA]" in ln and "spreadsim" in ln for ln in lines)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the run's cache folder:
    assert compile_note() is None  # the finished run marked the kernel compiled: said once
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another"))
    assert compile_note() is not None


def test_default_sweep_with_another_policy_says_what_to_do(tmp_path):
    r = _cli(tmp_path, "policy=notice_and_takedown", f"hydra.sweep.dir={tmp_path / 'x'}")
    assert r.returncode == 2 and len(stderr_lines(r.stderr)) == 1, r.stderr
    line = r.stderr.strip()
    assert line.startswith("spreadsim: error: the default experiment (latency_sweep) sweeps "
                           "policy.latency_h, which the notice_and_takedown policy does not have; "
                           "choose experiment=single for one run of it, or sweep one of its keys: ")
    assert not (tmp_path / "x").exists()
    # the advice, followed (smaller), runs; the sweep's own lines are spreadsim's, not [HYDRA]
    advice = line.split("or sweep one of its keys: ")[1].split(" (its numeric keys")[0].split()
    assert advice[0] == "spreadsim"
    moderators = next(a for a in advice if a.startswith("policy.moderators="))
    assert len(moderators.split("=")[1].split(",")) == 3
    sweep = tmp_path / "y"
    ok = _cli(tmp_path, *advice[1:], *SMALL, "graph.n=300", "hydra.launcher.n_jobs=1",
              f"hydra.sweep.dir={sweep}")
    assert ok.returncode == 0, ok.stderr
    assert sum(1 for d in sweep.iterdir() if (d / "done").is_file()) == 3
    lines = ok.stdout.splitlines()
    ours = [ln for ln in lines if "sweep finished" in ln or "jobs x 2 seeds" in ln]
    assert len(ours) == 2 and all("][spreadsim.app.callback][INFO] - " in ln for ln in ours), ours
    assert ours[0].endswith(f"; 3 jobs x 2 seeds; outputs -> {sweep}")
    assert "graph barabasi_albert: 300 users" in ours[0]
    hydra = [ln for ln in lines if "[HYDRA]" in ln]  # Hydra's launcher lines only
    assert hydra and all(("Launching" in ln or "#" in ln or "Joblib" in ln) for ln in hydra), hydra
    q = next(i for i, ln in enumerate(lines) if ln.startswith("question: "))
    assert lines[q].startswith("question: What share of notices does the queue review")
    assert lines[q + 1].startswith("answer:   moderators=")
    assert "Reviewed within 24 h: " in lines[q + 1] and "% of notices (" in lines[q + 1]
    assert lines[-2] == f"report: {sweep / 'report.html'}"


def test_ctrl_c_prints_how_to_resume_and_exits_130(tmp_path):
    """SIGINT to the command's whole process group, as a terminal's Ctrl-C sends it, once the
    first job has finished: one line on stderr, exit status 130, no traceback, the finished job
    kept."""
    sweep = tmp_path / "sweep"
    args = ["policy.latency_h=0,1,6,24,168,inf", "seeds=30", "deadline_path=off",
            "scenario.illegal_posts=20", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep}"]
    p = subprocess.Popen([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=tmp_path,
                         env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (sweep / "0" / "done").is_file():
            assert p.poll() is None and time.monotonic() < deadline, "no job finished"
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, (out[-2000:], err)
    lines = stderr_lines(err)
    assert lines == [f"spreadsim: interrupted; to resume (finished jobs are kept): spreadsim "
                     f"{' '.join(args)}"], err
    assert "Traceback" not in out + err
    assert (sweep / "0" / "done").is_file() and not (sweep / "5" / "done").is_file()
