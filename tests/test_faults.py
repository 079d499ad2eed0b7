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


def test_cli_disk_full_one_line(small_disk):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seeds=3",
                          "graph.n=2000", f"hydra.run.dir={small_disk}/run"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0
    errors = [line for line in res.stderr.splitlines() if line.startswith("spreadsim: error:")]
    assert len(errors) == 1 and "No space left" in errors[0], res.stderr[-2000:]
    leftovers = [p for p in (small_disk / "run").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_cli_read_only_output_one_line(read_only):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seeds=2",
                          "graph.n=500", f"hydra.run.dir={read_only}/run"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode != 0
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert errors == [f"spreadsim: error: cannot write {read_only}/run: Read-only file system"], \
        res.stderr[-2000:]
