"""A cache of traced unmoderated runs shared by the jobs of a sweep (the cheap deadline path).

Every job of a removal-deadline sweep over the same world (graph, spread, scenario, event budget)
needs the same traced unmoderated run per seed (:class:`~spreadsim.runs.deadline.DeadlineTrace`). The
first job that needs a seed's trace computes it and stores it as plain numpy arrays in
``<root>/<world key>/seed-<s>.npz`` (written atomically, loaded with ``allow_pickle=False``); the
other jobs load it. A per-seed lock file keeps two parallel jobs from computing the same trace:
a job that finds a seed locked moves on to its next seed and comes back later.

The stored arrays hold every field of the posts and of the exposure log, so a loaded trace gives
bit-identical results to a freshly computed one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spreadsim.engine.records import Post
from spreadsim.graphs import Graph
from spreadsim.outputs.io import atomic_write_bytes
from spreadsim.outputs.io import canonical as _canonical
from spreadsim.runs.deadline import DeadlineTrace
from spreadsim.schema.config import SimConfig
from spreadsim.version import __version__

try:  # POSIX advisory locks; without them (Windows) parallel jobs may compute a trace twice
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT = 1
WORLD_KEYS = ("graph", "spread", "scenario", "max_events")
_TRACE_ARRAYS = ("t", "deadline", "q", "user", "shared", "view_t", "view_q", "t0")

__all__ = ["world_key", "trace_to_arrays", "trace_from_arrays", "TraceCache"]


def world_key(cfg: Mapping[str, Any]) -> str:
    """Hash of the world part of a job config (graph, spread, scenario, max_events) and version.

    Parameters
    ----------
    cfg : Mapping
        The job config as plain containers.

    Returns
    -------
    str
        The first 16 hex digits of a SHA-256.
    """
    world = {k: cfg.get(k) for k in WORLD_KEYS}
    text = json.dumps({"world": _canonical(world), "version": __version__, "format": FORMAT},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trace_to_arrays(trace: DeadlineTrace) -> dict[str, np.ndarray]:
    """A trace as a few plain numpy arrays (no Python objects, so no pickle is needed to load it).

    Parameters
    ----------
    trace : DeadlineTrace

    Returns
    -------
    dict of str to numpy.ndarray
        ``seed``; the first exposures as ``exp_f`` (time, copy deadline), ``exp_i`` (post, user)
        and ``exp_shared`` (the user reshared); every exposure as ``view_t``/``view_q``; ``t0``
        (upload times); the
        post fields as ``post_i`` (integer and boolean fields, rows named by ``post_i_names``),
        ``post_f`` (float fields, ``post_f_names``) and ``post_category``.
    """
    names_i: list[str] = []
    names_f: list[str] = []
    for f in dataclasses.fields(Post):
        if f.name == "category":
            continue
        kind = type(getattr(trace.posts[0], f.name)) if trace.posts else int
        (names_f if kind is float else names_i).append(f.name)
    posts = trace.posts
    return {
        "seed": np.array(trace.seed, dtype=np.int64),
        "exp_f": np.vstack([trace.t, trace.deadline]).astype(np.float64),
        "exp_i": np.vstack([trace.q, trace.user]).astype(np.int64),
        "exp_shared": trace.shared.astype(np.uint8),
        "view_t": np.asarray(trace.view_t, dtype=np.float64),
        "view_q": np.asarray(trace.view_q, dtype=np.int64),
        "t0": np.asarray(trace.t0, dtype=np.float64),
        "post_i": np.array([[int(getattr(p, n)) for p in posts] for n in names_i],
                           dtype=np.int64).reshape(len(names_i), len(posts)),
        "post_i_names": np.array(names_i, dtype=np.str_),
        "post_f": np.array([[float(getattr(p, n)) for p in posts] for n in names_f],
                           dtype=np.float64).reshape(len(names_f), len(posts)),
        "post_f_names": np.array(names_f, dtype=np.str_),
        "post_category": np.array([p.category for p in posts], dtype=np.str_).reshape(-1),
    }


def trace_from_arrays(config: SimConfig, arrays: Mapping[str, np.ndarray]) -> DeadlineTrace:
    """Rebuild a :class:`DeadlineTrace` from :func:`trace_to_arrays` output without running.

    Parameters
    ----------
    config : SimConfig
        The world the trace was computed for (policies ignored).
    arrays : mapping of str to numpy.ndarray

    Returns
    -------
    DeadlineTrace
        Without its ``graph`` (not needed for results).
    """
    trace = DeadlineTrace.__new__(DeadlineTrace)
    trace.config = config
    trace.seed = int(arrays["seed"])
    exp_f, exp_i = np.asarray(arrays["exp_f"]), np.asarray(arrays["exp_i"])
    trace.t, trace.deadline = exp_f[0].copy(), exp_f[1].copy()
    trace.q, trace.user = exp_i[0].copy(), exp_i[1].copy()
    trace.shared = np.asarray(arrays["exp_shared"]) == 1
    trace.view_t = np.asarray(arrays["view_t"], dtype=np.float64).copy()
    trace.view_q = np.asarray(arrays["view_q"], dtype=np.int64).copy()
    trace.t0 = np.asarray(arrays["t0"], dtype=np.float64)
    kinds = {f.name: f.type for f in dataclasses.fields(Post)}
    cols: dict[str, list[Any]] = {"category": [str(c) for c in arrays["post_category"].tolist()]}
    for name, row in zip(arrays["post_i_names"].tolist(), arrays["post_i"].tolist(), strict=True):
        as_bool = kinds.get(name) in (bool, "bool")
        cols[str(name)] = [bool(v) for v in row] if as_bool else row
    for name, row in zip(arrays["post_f_names"].tolist(), arrays["post_f"].tolist(), strict=True):
        cols[str(name)] = row
    n = len(cols["category"])
    trace.posts = [Post(**{k: v[i] for k, v in cols.items()}) for i in range(n)]
    return trace


# Traces already loaded or computed in this process (a joblib worker runs several jobs of a
# sweep): (cache folder, seed) -> (trace, its unmoderated result), least recently used first.
_MEMORY: OrderedDict[tuple[str, int], tuple[DeadlineTrace, Any]] = OrderedDict()
_MEMORY_LIMIT_BYTES = 512 * 2**20


def _nbytes(trace: DeadlineTrace) -> int:
    return sum(np.asarray(getattr(trace, a)).nbytes for a in _TRACE_ARRAYS) + 200 * len(trace.posts)


def _remember(key: tuple[str, int], trace: DeadlineTrace) -> None:
    _MEMORY[key] = (trace, None)
    _MEMORY.move_to_end(key)
    total = sum(_nbytes(t) for t, _ in _MEMORY.values())
    while len(_MEMORY) > 1 and total > _MEMORY_LIMIT_BYTES:
        _, (old, _) = _MEMORY.popitem(last=False)
        total -= _nbytes(old)


class TraceCache:
    """Per-seed traced unmoderated runs of one world, on disk (``root``) or in memory only.

    Parameters
    ----------
    root : path-like or None
        The cache folder (``<sweep dir>/.cache``); None keeps nothing on disk.
    cfg : Mapping
        The job config as plain containers (its world part names the cache subfolder).
    sim : SimConfig
        The job's validated config.
    graph : callable
        Returns the prebuilt graph for a seed (or None to let the engine build it).
    """

    def __init__(self, root: str | os.PathLike[str] | None, cfg: Mapping[str, Any], sim: SimConfig,
                 graph: Callable[[int], Graph | None]) -> None:
        self.dir = None if root is None else Path(root) / world_key(cfg)
        self.sim = sim
        self.graph = graph
        self.computed = 0
        self.loaded = 0

    def _file(self, seed: int) -> Path:
        assert self.dir is not None
        return self.dir / f"seed-{seed}.npz"

    def _key(self, seed: int) -> tuple[str, int]:
        return (str(self.dir), seed)

    def unmoderated(self, trace: DeadlineTrace, unmoderated: SimConfig) -> Any:
        """The trace's unmoderated :class:`~spreadsim.engine.simulation.RunResult`, computed once per process
        (it is the same for every point of the sweep); do not modify it."""
        key = self._key(trace.seed)
        hit = _MEMORY.get(key) if self.dir is not None else None
        if hit is not None and hit[0] is trace and hit[1] is not None:
            return hit[1]
        result = trace.result(unmoderated)
        if hit is not None and hit[0] is trace:
            _MEMORY[key] = (trace, result)
        return result

    def _load(self, seed: int) -> DeadlineTrace | None:
        hit = _MEMORY.get(self._key(seed))
        if hit is not None:
            _MEMORY.move_to_end(self._key(seed))
            self.loaded += 1
            return hit[0]
        path = self._file(seed)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            trace = trace_from_arrays(self.sim, arrays)
        except (OSError, ValueError, KeyError) as e:  # unreadable: compute it again
            log.warning("trace cache %s unreadable (%s); recomputing", path, e)
            return None
        if trace.seed != seed:
            return None
        self.loaded += 1
        _remember(self._key(seed), trace)
        return trace

    def _compute(self, seed: int) -> DeadlineTrace:
        trace = DeadlineTrace(self.sim, seed, graph=self.graph(seed))
        self.computed += 1
        if self.dir is not None:
            buf = io.BytesIO()
            np.savez(buf, **trace_to_arrays(trace))  # type: ignore[arg-type]
            atomic_write_bytes(self._file(seed), buf.getvalue())
            _remember(self._key(seed), trace)
        return trace

    @contextlib.contextmanager
    def _lock(self, seed: int, blocking: bool) -> Iterator[bool]:
        if self.dir is None or fcntl is None:
            yield True
            return
        with open(self.dir / f"seed-{seed}.lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get(self, seed: int, *, blocking: bool = True) -> DeadlineTrace | None:
        """The seed's trace: loaded if cached, else computed (and stored).

        Parameters
        ----------
        seed : int
        blocking : bool
            If False and another process is computing this seed's trace, return None at once.

        Returns
        -------
        DeadlineTrace or None
        """
        if self.dir is None:
            return self._compute(seed)
        self.dir.mkdir(parents=True, exist_ok=True)
        trace = self._load(seed)
        if trace is not None:
            return trace
        with self._lock(seed, blocking) as got:
            if not got:
                return None
            trace = self._load(seed)  # another job may have written it meanwhile
            return trace if trace is not None else self._compute(seed)
