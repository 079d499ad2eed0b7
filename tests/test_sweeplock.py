"""The sweep lock and the one-config-per-folder rule (issue 18), on real concurrent sweeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from spreadsim.outputs.io import read_table

from .helpers import stderr_lines

SMALL = ["graph.n=400", "scenario.illegal_posts=3", "scenario.horizon_h=48",
         "hydra.launcher.n_jobs=2"]


def _cmd(sweep: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "spreadsim.app.cli", *SMALL, f"hydra.sweep.dir={sweep}", *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def _lines(err: str) -> list[str]:
    return stderr_lines(err)  # every line counts, blank ones too


def test_two_concurrent_sweeps_with_different_configs_one_fails_with_one_line(tmp_path):
    sweep = tmp_path / "sweep"
    procs = {seeds: subprocess.Popen(_cmd(sweep, f"seeds={seeds}", "policy.latency_h=0,1,2,4"),
                                     cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
             for seeds in (12, 6)}
    outs = {seeds: (p, *p.communicate(timeout=300)) for seeds, p in procs.items()}
    codes = {seeds: p.returncode for seeds, (p, _, _) in outs.items()}
    assert sorted(codes.values()) == [0, 1], {s: o[2][-2000:] for s, o in outs.items()}
    loser = next(s for s, c in codes.items() if c == 1)
    winner = next(s for s, c in codes.items() if c == 0)
    err = _lines(outs[loser][2])
    assert len(err) == 1 and err[0].startswith("spreadsim: error: sweep folder "), err
    # either the other sweep holds the folder (named: pid, host, start) or it has finished there
    assert ("is in use by another sweep (pid " in err[0] and ", started " in err[0]) or \
        "holds the results of another config" in err[0], err
    summary = read_table(sweep / "summary")  # the winner's tables only, nothing mixed
    assert summary["n_seeds"].tolist() == [winner] * 4
    assert (sweep / ".sweep.lock").read_text() == ""  # released


def test_live_holder_is_named_and_finished_folder_needs_overwrite(tmp_path):
    sweep = tmp_path / "sweep"
    first = subprocess.Popen(_cmd(sweep, "seeds=40", "policy.latency_h=0,1,2,4,8,16"),
                             cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    lock = sweep / ".sweep.lock"
    deadline = time.monotonic() + 60
    while (not lock.exists() or not lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(_cmd(sweep, "seeds=40", "policy.latency_h=0,1,2,4,8,16"),
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    holder = json.loads(lock.read_text() or "{}")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 1  # the same config, but the folder is held
    err = _lines(second.stderr)
    assert len(err) == 1 and f"(pid {first.pid} on " in err[0], err
    assert holder.get("pid") == first.pid
    # a different config into the finished folder: refused, then replaced with overwrite=true
    other = subprocess.run(_cmd(sweep, "seeds=3", "policy.latency_h=0,1"), cwd=tmp_path,
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert other.returncode == 1
    err = _lines(other.stderr)
    assert len(err) == 1 and "holds the results of another config" in err[0] \
        and "overwrite=true" in err[0], err
    assert read_table(sweep / "summary")["n_seeds"].tolist() == [40] * 6  # untouched
    again = subprocess.run(_cmd(sweep, "seeds=3", "policy.latency_h=0,1", "overwrite=true"),
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert read_table(sweep / "summary")["n_seeds"].tolist() == [3, 3]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert "overwrite" not in read_table(sweep / "summary")  # not a parameter column


def test_stale_lock_is_taken_over_with_a_log_line(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    dead = {"pid": 999999, "host": "gone-host", "start_time": time.time() - 3600}
    (sweep / ".sweep.lock").write_text(json.dumps(dead) + "\n")  # no process holds its flock
    res = subprocess.run(_cmd(sweep, "seeds=2", "policy.latency_h=0,1"), cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "taking over the lock of a sweep that is gone (pid 999999 on gone-host" in \
        res.stdout + res.stderr
    assert (sweep / ".sweep.lock").read_text() == ""


def test_failed_sweep_keeps_the_users_own_empty_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    fail = ("import spreadsim.app.task as T\nfrom spreadsim.errors import DataError\n"
            "def boom(*a, **k):\n    raise DataError('graph.path: cannot read the edge list')\n"
            "T.run_job = boom\nfrom spreadsim.app.cli import console\nconsole()\n")
    res = subprocess.run([sys.executable, "-c", fail, "seeds=2", "policy.latency_h=0,1",
                          "hydra/launcher=basic", f"hydra.sweep.dir={mine}"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert len(_lines(res.stderr)) == 1, res.stderr
    assert mine.is_dir() and list(mine.iterdir()) == []  # kept, and nothing of ours left in it
    made = tmp_path / "made" / "by" / "spreadsim"
    res = subprocess.run([sys.executable, "-c", fail, "seeds=2", "policy.latency_h=0,1",
                          "hydra/launcher=basic", f"hydra.sweep.dir={made}"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and not (tmp_path / "made").exists()  # what it made, it removes


def test_sweep_failing_while_running_leaves_nothing_and_the_fixed_command_runs(tmp_path):
    # the jobs fail after the trace cache took its per-seed locks (like a bad edge-list file
    # read by a job): no job finishes
    fail = ("import spreadsim.runs.job as J\nfrom spreadsim.errors import DataError\n"
            "def boom(*a, **k):\n    raise DataError('graph.path: cannot read the edge list')\n"
            "J._deadline_result = boom\nfrom spreadsim.app.cli import console\nconsole()\n")
    sweep = tmp_path / "new"
    res = subprocess.run([sys.executable, "-c", fail, "seeds=2", "policy.latency_h=0,1",
                          "hydra/launcher=basic", *SMALL[:3], f"hydra.sweep.dir={sweep}"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert len(_lines(res.stderr)) == 1 and "cannot read the edge list" in res.stderr, res.stderr
    assert not sweep.exists(), sorted(str(p) for p in sweep.rglob("*"))  # no .cache, .sweep.*
    # a leftover record without results (here: planted) does not block another config
    sweep.mkdir()
    (sweep / ".sweep.json").write_text(json.dumps({"jobs": 2, "config_hash": "0" * 64}) + "\n")
    (sweep / ".cache" / "abc").mkdir(parents=True)
    (sweep / ".cache" / "abc" / "seed-0.lock").write_text("")
    ok = subprocess.run(_cmd(sweep, "seeds=2", "policy.latency_h=0,1"), cwd=tmp_path,
                        env=_env(), capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert read_table(sweep / "summary")["n_seeds"].tolist() == [2, 2]


def test_a_filesystem_without_locks_runs_without_the_lock_with_one_warning(
        tmp_path, monkeypatch, caplog):
    import errno
    import fcntl
    import logging

    from spreadsim.runs.sweeplock import acquire_sweep_lock

    def no_locks(*a, **k):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING, logger="spreadsim.sweep"):
        lock = acquire_sweep_lock(tmp_path)
    assert not lock.held
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "concurrent sweeps into this folder are not detected" in \
        warnings[0] and "No locks available" in warnings[0], warnings
    lock.release()
    lock.release()
    # the whole command: the sweep runs, with that one warning line
    patch = ("import errno, fcntl\ndef no_locks(*a, **k):\n"
             "    raise OSError(errno.ENOLCK, 'No locks available')\nfcntl.flock = no_locks\n"
             "from spreadsim.app.cli import console\nconsole()\n")
    sweep = tmp_path / "nolocks"
    res = subprocess.run([sys.executable, "-c", patch, *SMALL[:3], "seeds=2",
                          "policy.latency_h=0,1", "hydra/launcher=basic",
                          f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = (res.stdout + res.stderr).splitlines()
    assert sum("concurrent sweeps into this folder are not detected" in x for x in out) == 1
    assert read_table(sweep / "summary")["n_seeds"].tolist() == [2, 2]
