"""Faults: a full disk or a read-only folder gives a one-line error and leaves no partial file.

These use real small filesystems (tmpfs mounts), so they need root (as CI has here); elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spreadsim.errors import DataError, OutputError
from spreadsim.outputs.io import read_table, write_table

from .helpers import stderr_lines


def _mount(path: Path, opts: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or 'not root'})")


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "small"
    _mount(d, "size=64k")
    yield d
    subprocess.run(["umount", str(d)], check=False)


@pytest.fixture
def read_only(tmp_path):
    d = tmp_path / "ro"
    _mount(d, "ro,size=64k")
    yield d
    subprocess.run(["umount", str(d)], check=False)


def test_disk_full_leaves_no_partial_file(small_disk):
    write_table({"x": np.arange(10)}, small_disk / "small")  # fits
    before = sorted(os.listdir(small_disk))
    with pytest.raises(OutputError) as e:
        write_table({"x": np.arange(300_000)}, small_disk / "big")
    msg = str(e.value)
    assert "\n" not in msg and "big.parquet" in msg and "No space left" in msg
    assert sorted(os.listdir(small_disk)) == before  # no big.*, no temporary file
    assert read_table(small_disk / "small")["x"].tolist() == list(range(10))


def test_read_only_folder(read_only):
    with pytest.raises(OutputError) as e:
        write_table({"x": np.arange(3)}, read_only / "runs")
    assert "\n" not in str(e.value) and "Read-only file system" in str(e.value)
    assert isinstance(e.value, DataError)
    assert os.listdir(read_only) == []


def test_results_get_ordinary_permissions(tmp_path):
    write_table({"x": np.arange(3)}, tmp_path / "runs")
    mode = (tmp_path / "runs.parquet").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


@pytest.mark.parametrize("size", ["16k", "64k", "128k"])
def test_cli_disk_full_one_line(tmp_path, size):
    disk = tmp_path / "small"
    _mount(disk, f"size={size}")
    try:
        env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
        res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single",
                              "seeds=3", "graph.n=2000", f"hydra.run.dir={disk}/run"],
                             capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode != 0
        lines = stderr_lines(res.stderr)  # every line counts, blank ones too
        assert len(lines) == 1 and lines[0].startswith("spreadsim: error:"), res.stderr[-3000:]
        assert "No space left" in lines[0]
        # nothing of the failed run is left: no table, no done marker, no temporary file
        assert not (disk / "run").exists() or not [
            p for p in (disk / "run").rglob("*") if p.suffix in (".tmp", ".parquet", ".csv",
                                                                  ".json", ".png", ".html")
            or p.name == "done"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_cli_read_only_output_one_line(read_only):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seeds=2",
                          "graph.n=500", f"hydra.run.dir={read_only}/run"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0
    errors = stderr_lines(res.stderr)  # every line counts, blank ones too
    assert errors == [f"spreadsim: error: cannot write {read_only}/run: Read-only file system"], \
        res.stderr[-2000:]


@pytest.mark.parametrize("args", [
    ["experiment=single", "hydra.run.dir={ro}"],            # an existing read-only mount point
    ["experiment=single", "hydra.run.dir={ro}/new"],        # a new folder in it
    ["policy.latency_h=0,1", "hydra.sweep.dir={ro}"],       # a sweep into the mount point
    ["policy.latency_h=0,1", "hydra.sweep.dir={ro}/new"],
], ids=["run-existing", "run-new", "sweep-existing", "sweep-new"])
def test_cli_read_only_folders_one_line(read_only, args):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "seeds=2", "graph.n=500",
                          *(a.format(ro=read_only) for a in args)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1
    lines = stderr_lines(res.stderr)  # every line counts, blank ones too
    assert len(lines) == 1 and lines[0].startswith("spreadsim: error: cannot write"), res.stderr
    assert "Read-only file system" in lines[0] and str(read_only) in lines[0]
    assert os.listdir(read_only) == []
