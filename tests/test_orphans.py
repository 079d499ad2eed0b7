"""No worker outlives its sweep's main process (issue 18): SIGKILL the main process of a sweep
running on two joblib workers, and no worker is alive a few seconds later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARGS = ["seeds=400", "graph.n=3000", "deadline_path=off", "policy.latency_h=0,1,2,4",
        "hydra.launcher.n_jobs=2"]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _run_and_kill(tmp_path: Path, prelude: str = "") -> list[int]:
    """Start a sweep, SIGKILL its main process once both workers run a job; the workers' pids."""
    sweep = tmp_path / "sweep"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    code = f"{prelude}\nfrom spreadsim.app.cli import console\nconsole()\n"
    main = subprocess.Popen([sys.executable, "-c", code, *ARGS, f"hydra.sweep.dir={sweep}"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and main.poll() is None:
        logs = list(sweep.glob("*/spreadsim.log"))
        workers = [p for p in _children(main.pid)
                   if "popen_loky" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
        if len(logs) >= 2 and len(workers) >= 2:
            break
        time.sleep(0.05)
    assert main.poll() is None and len(workers) >= 2, "the sweep should be running two workers"
    os.kill(main.pid, signal.SIGKILL)
    main.wait()
    return workers


def test_no_worker_survives_its_main_process(tmp_path):
    workers = _run_and_kill(tmp_path)
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in workers if _alive(p)]
    for p in alive:  # (clean up before failing)
        os.kill(p, signal.SIGKILL)
    assert alive == [], "workers outlived the main process"


@pytest.mark.skipif(os.environ.get("SPREADSIM_CHECK_ORPHAN_TEST") != "1",
                    reason="shows the test can fail: set SPREADSIM_CHECK_ORPHAN_TEST=1")
def test_without_the_watch_workers_would_survive(tmp_path):
    # the main process no longer tells the workers its pid: they do not watch it
    workers = _run_and_kill(tmp_path, "import spreadsim.app.callback as C\n"
                                      "C.MAIN_PID_ENV = 'SPREADSIM_UNUSED'")
    time.sleep(5)
    alive = [p for p in workers if _alive(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert alive, "without the parent watch the workers kept running"
