"""The trace cache trusts no file (issue 18 item 7): a stored trace with out-of-range indices,
zeroed exposure times, a truncated file or a wrong checksum is recomputed with a log line, and the
results equal a fresh run's."""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from spreadsim.outputs.io import read_table
from spreadsim.runs.job import run_job
from spreadsim.runs.jobspec import check_job_config
from spreadsim.runs.tracecache import CHECKSUM, TraceCache, arrays_checksum, trace_damage

SEED = 2


def _cfg() -> dict:
    return {"graph": {"kind": "barabasi_albert", "n": 800, "m": 3, "seed": 7},
            "scenario": {"illegal_posts": 6, "legal_posts": 4, "uploaders": 4, "horizon_h": 96},
            "policy": {"name": "fixed_latency", "latency_h": 1.0, "removal_prob": 0.8},
            "seed": 0, "seeds": 3, "baseline": True}


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _save(path: Path, arrays: dict[str, np.ndarray], *, rehash: bool) -> None:
    if rehash:  # a well-formed file whose checksum matches its (wrong) contents
        arrays[CHECKSUM] = np.array(arrays_checksum(arrays))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def _out_of_range(path: Path) -> None:
    a = _load(path)
    a["exp_i"] = a["exp_i"].copy()
    a["exp_i"][0, 0] = 10**6  # a post index past the last post
    _save(path, a, rehash=True)


def _zeroed_times(path: Path) -> None:
    a = _load(path)
    a["exp_f"] = a["exp_f"].copy()
    a["exp_f"][0] = 0.0  # every exposure at time 0 (the issue: reach 3.6 became 685)
    a["view_t"] = np.zeros_like(a["view_t"])
    _save(path, a, rehash=True)


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_checksum(path: Path) -> None:
    a = _load(path)
    a["exp_f"] = a["exp_f"].copy()
    a["exp_f"][0] = a["exp_f"][0] + 1e-3  # plausible times, but not the ones checksummed
    _save(path, a, rehash=False)


CORRUPT: dict[str, Callable[[Path], None]] = {
    "out_of_range": _out_of_range, "zeroed_times": _zeroed_times, "truncated": _truncated,
    "wrong_checksum": _wrong_checksum}
WHY = {"out_of_range": "post indices outside", "zeroed_times": "exposure times",
       "truncated": "unreadable", "wrong_checksum": "checksum mismatch"}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh")
    spec = check_job_config(_cfg())
    cache = TraceCache(root, _cfg(), spec.sim, lambda s: None)
    trace = cache.get(SEED)
    assert trace is not None and cache.computed == 1
    (path,) = root.glob(f"*/seed-{SEED}.npz")
    assert trace_damage(_load(path), SEED, 96.0, 800) is None
    return spec, trace, path


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_a_damaged_trace_is_recomputed(kind, fresh, tmp_path, caplog):
    spec, trace, path = fresh
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)
    CORRUPT[kind](folder / path.name)
    cache = TraceCache(tmp_path, _cfg(), spec.sim, lambda s: None)
    with caplog.at_level(logging.WARNING, logger="spreadsim.runs.tracecache"):
        again = cache.get(SEED)
    assert again is not None and cache.computed == 1 and cache.loaded == 0
    lines = [r.getMessage() for r in caplog.records if "recomputing" in r.getMessage()]
    assert len(lines) == 1 and str(folder / path.name) in lines[0] and WHY[kind] in lines[0], lines
    a, b = trace.result(spec.sim), again.result(spec.sim)
    assert a.summary == b.summary
    for col in a.posts:
        np.testing.assert_array_equal(a.posts[col], b.posts[col])
    # the recomputed trace was stored again, whole
    assert trace_damage(_load(folder / path.name), SEED, 96.0, 800) is None


def test_a_user_index_past_the_graph_is_caught(fresh):
    _, _, path = fresh
    a = _load(path)
    a["exp_i"] = a["exp_i"].copy()
    a["exp_i"][1, 0] = 800
    a[CHECKSUM] = np.array(arrays_checksum(a))
    assert "user indices outside [0, 800)" in trace_damage(a, SEED, 96.0, 800)
    assert trace_damage(a, SEED + 1, 96.0, None).startswith("seed")


def test_a_job_on_zeroed_cached_times_gives_the_fresh_tables(tmp_path):
    """The issue's case end to end: a job whose cached traces had zeroed exposure times."""
    cfg = _cfg()
    assert run_job(cfg, tmp_path / "a" / "0", cache_dir=tmp_path / "a" / ".cache")
    for f in (tmp_path / "a" / ".cache").glob("*/seed-*.npz"):
        _zeroed_times(f)
    shutil.copytree(tmp_path / "a" / ".cache", tmp_path / "b" / ".cache")
    assert run_job(cfg, tmp_path / "b" / "0", cache_dir=tmp_path / "b" / ".cache")
    for t in ("posts", "series"):
        assert ((tmp_path / "a" / "0" / f"{t}.parquet").read_bytes()
                == (tmp_path / "b" / "0" / f"{t}.parquet").read_bytes())
    runs = read_table(tmp_path / "b" / "0" / "runs")
    assert float(np.max(runs["reach_mean"])) < 50  # not the hundreds of zeroed times
