"""Output integrity (issue 18): failures exit non-zero with one line, nothing stale or partial is
left behind, finished jobs are verified on resume.

Every check runs the real command in a subprocess; faults that need a patched write get it
through a short Python prelude run before the command (``_cli(..., prelude=...)``).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spreadsim.errors import OutputError
from spreadsim.outputs.io import read_table
from spreadsim.outputs.layout import aggregate_files
from spreadsim.runs.job import job_damage, run_job

from .helpers import stderr_lines

SMALL = ["seeds=2", "graph.n=400", "scenario.illegal_posts=3", "scenario.horizon_h=48"]
JOB_FILES = ("done", "job.json", "runs.parquet", "runs.csv", "posts.parquet", "posts.csv",
             "series.parquet", "series.csv")


def _cli(*args: str, cwd: Path, prelude: str = "", timeout: float = 300,
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    code = f"{prelude}\nfrom spreadsim.app.cli import console\nconsole()\n"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _sweep(sweep: Path, *extra: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    return _cli(*SMALL, "policy.latency_h=1,inf", "hydra/launcher=basic",
                f"hydra.sweep.dir={sweep}", *extra, cwd=sweep.parent, prelude=prelude)


def _one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = stderr_lines(res.stderr)  # every line counts, blank ones too
    assert len(lines) == 1 and lines[0].startswith("spreadsim: error: "), res.stderr[-3000:]
    return lines[0]


def _aggregates(d: Path) -> list[str]:
    return sorted(f.name for f in aggregate_files(d) if f.exists())


def test_aggregation_failure_exits_nonzero_and_removes_stale_aggregates(tmp_path):
    sweep = tmp_path / "sweep"
    ok = _sweep(sweep)
    assert ok.returncode == 0, ok.stderr
    assert "summary.csv" in _aggregates(sweep) and "report.html" in _aggregates(sweep)
    boom = ("import spreadsim.outputs.plots as P\n"
            "def boom(*a, **k):\n    raise RuntimeError('boom in a plot')\n"
            "P.plot_reach_over_time = boom\n")
    res = _sweep(sweep, prelude=boom)
    assert res.returncode == 1
    line = _one_error_line(res)
    assert "aggregation failed" in line and "boom in a plot" in line and str(sweep) in line
    assert _aggregates(sweep) == []  # neither the earlier run's nor a half-written new set
    assert (sweep / "0" / "done").is_file() and (sweep / "1" / "done").is_file()
    again = _sweep(sweep)  # the jobs are kept: the next run only aggregates
    assert again.returncode == 0 and "summary.csv" in _aggregates(sweep)


def test_full_disk_during_aggregation_exits_nonzero(tmp_path):
    sweep = tmp_path / "sweep"
    enospc = ("import errno, os, pyarrow.parquet as pq\n"
              "_w = pq.write_table\n"
              "def w(table, where, *a, **k):\n"
              "    if '.summary.parquet.' in os.path.basename(str(where)):\n"
              "        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
              "    return _w(table, where, *a, **k)\n"
              "pq.write_table = w\n")
    res = _sweep(sweep, prelude=enospc)
    assert res.returncode == 1
    line = _one_error_line(res)
    assert "No space left on device" in line and "summary.parquet" in line
    assert _aggregates(sweep) == []
    assert not [p for p in sweep.rglob("*.tmp")]


def test_single_run_aggregation_failure_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    boom = ("import spreadsim.outputs.report as R\n"
            "def boom(*a, **k):\n    raise KeyError('no such column')\n"
            "R.write_report = boom\nimport spreadsim.outputs.sweep_outputs as S\n"
            "S.write_report = boom\n")
    res = _cli("experiment=single", *SMALL, f"hydra.run.dir={run}", cwd=tmp_path, prelude=boom)
    assert res.returncode != 0
    assert "no such column" in _one_error_line(res)
    assert not run.exists()  # only Hydra's files were left: the folder went


def test_failed_job_removes_what_it_wrote(tmp_path, monkeypatch):
    import spreadsim.runs.job as J

    real = J.write_table

    def failing(columns, path):
        if Path(path).name == "posts":
            raise OutputError(f"cannot write {path}.parquet: No space left on device")
        real(columns, path)

    monkeypatch.setattr(J, "write_table", failing)
    cfg = {"graph": {"kind": "barabasi_albert", "n": 200, "m": 2}, "seeds": 2,
           "scenario": {"illegal_posts": 2, "horizon_h": 24}}
    out = tmp_path / "job"
    out.mkdir()
    (out / "mine.txt").write_text("the user's\n")
    with pytest.raises(OutputError):
        run_job(cfg, out)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]  # no job.json, no runs.*


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_job_table_is_detected_and_rerun_on_resume(tmp_path, damage):
    sweep = tmp_path / "sweep"
    first = _sweep(sweep)
    assert first.returncode == 0, first.stderr
    marker = json.loads((sweep / "1" / "done").read_text())
    assert set(marker["files"]) == {f for f in JOB_FILES if "." in f and f != "job.json"}
    assert all(len(v["sha256"]) == 64 and v["size"] > 0 for v in marker["files"].values())
    good = (sweep / "1" / "runs.parquet").read_bytes()
    results = (sweep / "results.parquet").read_bytes()
    f = sweep / "1" / "runs.parquet"
    if damage == "truncate":
        f.write_bytes(good[: len(good) // 2])
    else:
        f.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    digest = json.loads((sweep / "1" / "job.json").read_text())["config_hash"]
    assert job_damage(sweep / "1", digest) is not None
    assert job_damage(sweep / "0", digest) is not None  # (another config)
    res = _sweep(sweep)
    assert res.returncode == 0, res.stderr
    log = res.stdout + res.stderr + (sweep / "1" / "spreadsim.log").read_text()
    assert "job 1: run again: runs.parquet" in log
    assert "job 0: already done" in log
    assert f.read_bytes() == good and (sweep / "results.parquet").read_bytes() == results
    assert read_table(sweep / "results")["seed"].tolist() == [0, 1, 0, 1]


def test_old_or_unreadable_done_marker_reruns(tmp_path):
    cfg = {"graph": {"kind": "barabasi_albert", "n": 200, "m": 2}, "seeds": 1,
           "scenario": {"illegal_posts": 2, "horizon_h": 24}}
    out = tmp_path / "job"
    assert run_job(cfg, out) is True
    assert run_job(cfg, out) is False  # verified: skipped
    digest = json.loads((out / "job.json").read_text())["config_hash"]
    (out / "done").write_text(digest + "\n")  # an earlier version's marker: no sizes, no sums
    assert "earlier version" in str(job_damage(out, digest))
    assert run_job(cfg, out) is True
    (out / "series.csv").unlink()
    assert job_damage(out, digest) == "series.csv is missing"
    assert np.isfinite(read_table(out / "runs")["reach_mean"]).all()
    _ = errno  # (used by the preludes' text)


def test_remove_aggregates_tries_every_file_and_reports_the_failures_in_one_line(
        tmp_path, monkeypatch):
    from spreadsim.outputs.layout import remove_aggregates
    from spreadsim.outputs.sweep_outputs import write_sweep_outputs
    files = aggregate_files(tmp_path)
    for f in files:
        f.write_text("stale")
    stuck = {files[0].name, files[-1].name}  # the first file tried, and the last
    real_unlink = Path.unlink

    def unlink(self, *a, **k):
        if self.name in stuck:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(OSError) as e:
        remove_aggregates(tmp_path)
    assert sorted(f.name for f in files if f.exists()) == sorted(stuck)  # every other one went
    msg = e.value.strerror
    assert e.value.errno == errno.EACCES and "\n" not in msg
    assert all(f"{name}: Permission denied" in msg for name in stuck), msg
    with pytest.raises(OutputError) as e2:  # the aggregation stops with that one line
        write_sweep_outputs(tmp_path, [tmp_path / "0"])
    line = str(e2.value)
    assert "\n" not in line and line.startswith("cannot remove the earlier aggregates in ")
    assert all(name in line for name in stuck), line
