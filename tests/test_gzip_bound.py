"""A gzip edge list may decompress to at most ``graph.max_unpacked_mb`` MB (issue 18 item 8): a
small gzip bomb made here stops at the bound with one line naming graph.path and the bound, from
Python and from the command line; a file within the bound (several gzip members too) loads."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from spreadsim.errors import DataError
from spreadsim.graphs import load_edgelist


def _bomb(path, mb: int) -> None:
    """``mb`` MB of the same edge line, gzip-compressed to a few KB."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        line = b"1 2\n" * (2**18)  # 1 MB
        for _ in range(mb):
            fh.write(line)


def test_a_gzip_bomb_stops_at_the_bound(tmp_path):
    path = tmp_path / "bomb.txt.gz"
    _bomb(path, 40)
    assert path.stat().st_size < 200_000
    with pytest.raises(DataError) as e:
        load_edgelist(path, max_unpacked_mb=4)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"graph.path = {path}: decompresses to more than 4 MB")
    assert "graph.max_unpacked_mb = 4" in msg
    # raised past the bound, the same file loads (one edge, repeated)
    g = load_edgelist(path, max_unpacked_mb=64)
    assert g.n == 2 and g.num_arcs == 1


def test_within_the_bound_and_several_members(tmp_path):
    path = tmp_path / "two.txt.gz"
    path.write_bytes(gzip.compress(b"0 1\n1 2\n") + gzip.compress(b"2 3\n"))
    g = load_edgelist(path, max_unpacked_mb=1)
    assert g.n == 4 and g.num_arcs == 3
    corrupt = tmp_path / "corrupt.txt.gz"
    corrupt.write_bytes(gzip.compress(b"0 1\n" * 1000)[:40])
    with pytest.raises(DataError, match="corrupt gzip data"):
        load_edgelist(corrupt)


def test_the_bound_from_the_command_line(tmp_path):
    path = tmp_path / "bomb.txt.gz"
    _bomb(path, 8)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seeds=1",
                        "graph=edgelist", f"graph.path={path}", "graph.max_unpacked_mb=2",
                        f"hydra.run.dir={tmp_path / 'out'}"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert "graph.path" in lines[0] and "graph.max_unpacked_mb = 2" in lines[0], lines
