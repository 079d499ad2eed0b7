"""A cache of traced unmoderated runs shared by the jobs of a sweep (the cheap deadline path).

Every job of a removal-deadline sweep over the same world (graph, spread, scenario, event budget)
needs the same traced unmoderated run per seed (:class:`~spreadsim.runs.deadline.DeadlineTrace`). The
first job that needs a seed's trace computes it and stores it as plain numpy arrays in
``<root>/<world key>/seed-<s>.npz`` (written atomically, loaded with ``allow_pickle=False``); the
other jobs load it. A per-seed lock file keeps two parallel jobs from computing the same trace:
a job that finds a seed locked moves on to its next seed and comes back later.

The stored arrays hold every field of the posts and of the exposure log, so a loaded trace gives
bit-identical results to a freshly computed one. Each file also holds the SHA-256 of its arrays
(names, dtypes, shapes and bytes; :func:`arrays_checksum`), and a file is used only if it passes
:func:`trace_damage`: the checksum, the expected arrays with their dtypes and shapes, the seed, and
the ranges (post and user indices, exposure times finite, at or after their post's upload and
within the horizon). A file that is unreadable or fails a check is computed again, with a log
line naming the file and what was wrong.
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
from spreadsim.runs.progress import heartbeat
from spreadsim.runs.sweeplock import NO_LOCKS
from spreadsim.schema.config import SimConfig
from spreadsim.version import __version__

try:  # POSIX advisory locks; without them (Windows) parallel jobs may compute a trace twice
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT = 2  # 2: with a checksum
CHECKSUM = "checksum"
WORLD_KEYS = ("graph", "spread", "scenario", "max_events")
_TRACE_ARRAYS = ("t", "deadline", "q", "user", "shared", "view_t", "view_q", "t0")

__all__ = ["world_key", "trace_to_arrays", "trace_from_arrays", "arrays_checksum", "trace_damage",
           "TraceCache"]


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
    names_i, names_f = _post_names()
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


def arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of a trace's arrays (each one's name, dtype, shape and bytes, by name), the
    :data:`CHECKSUM` entry left out."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == CHECKSUM:
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _post_names() -> tuple[list[str], list[str]]:
    floats = {f.name for f in dataclasses.fields(Post) if f.type in (float, "float")}
    names = [f.name for f in dataclasses.fields(Post) if f.name != "category"]
    return [n for n in names if n not in floats], [n for n in names if n in floats]


def trace_damage(arrays: Mapping[str, np.ndarray], seed: int, horizon: float,
                 n_users: int | None = None) -> str | None:
    """What is wrong with a stored trace's arrays (``None``: nothing found).

    Checks the checksum, the arrays present with their dtypes and shapes, the seed, and the
    ranges: post indices in ``[0, posts)``, user indices in ``[0, n_users)`` (``>= 0`` when
    ``n_users`` is None), upload times in ``[0, horizon]``, exposure times finite, at or after
    their post's upload and at most ``horizon``, post ids ``0 .. posts - 1``.

    Parameters
    ----------
    arrays : mapping of str to numpy.ndarray
        As loaded from a cache file (:func:`trace_to_arrays` plus :data:`CHECKSUM`).
    seed : int
        The seed the file is for.
    horizon : float
        The world's ``scenario.horizon_h``.
    n_users : int, optional
        The graph's number of users, if known.

    Returns
    -------
    str or None
    """
    names_i, names_f = _post_names()
    want = {"seed", "exp_f", "exp_i", "exp_shared", "view_t", "view_q", "t0", "post_i",
            "post_i_names", "post_f", "post_f_names", "post_category", CHECKSUM}
    if set(arrays) != want:
        return f"arrays {sorted(set(arrays) ^ want)} missing or unexpected"
    if str(arrays[CHECKSUM]) != arrays_checksum(arrays):
        return "checksum mismatch"
    a = {k: np.asarray(v) for k, v in arrays.items()}
    if a["post_i_names"].tolist() != names_i or a["post_f_names"].tolist() != names_f:
        return "post fields differ"
    n, m, k = a["t0"].shape[0] if a["t0"].ndim == 1 else -1, a["exp_f"].shape[-1], \
        a["view_t"].shape[-1]
    shapes = {"seed": ((), "i"), "exp_f": ((2, m), "f"), "exp_i": ((2, m), "i"),
              "exp_shared": ((m,), "u"), "view_t": ((k,), "f"), "view_q": ((k,), "i"),
              "t0": ((n,), "f"), "post_i": ((len(names_i), n), "i"),
              "post_f": ((len(names_f), n), "f"), "post_category": ((n,), "U")}
    for name, (shape, kind) in shapes.items():
        if a[name].shape != shape or a[name].dtype.kind != kind:
            return f"{name} has shape {a[name].shape} and dtype {a[name].dtype}, not {shape}"
    if int(a["seed"]) != seed:
        return f"seed {int(a['seed'])}, not {seed}"
    t0, (t, _), (q, user) = a["t0"], a["exp_f"], a["exp_i"]
    view_t, view_q = a["view_t"], a["view_q"]
    posts = dict(zip(names_i, a["post_i"], strict=True))
    if not np.all((t0 >= 0) & (t0 <= horizon)):
        return "upload times outside [0, horizon]"
    if not np.array_equal(posts.get("id", np.arange(n)), np.arange(n)):
        return "post ids are not 0 .. posts - 1"
    if q.size and (q.min() < 0 or q.max() >= n) or view_q.size and (view_q.min() < 0
                                                                     or view_q.max() >= n):
        return f"post indices outside [0, {n})"
    for users in (user, posts.get("uploader", np.zeros(0, np.int64))):
        if users.size and (users.min() < 0 or (n_users is not None and users.max() >= n_users)):
            return f"user indices outside [0, {n_users if n_users is not None else 'inf'})"
    if np.any(a["exp_shared"] > 1):
        return "shared flags other than 0 and 1"
    for times, post in ((t, q), (view_t, view_q)):
        ok = np.isfinite(times) & (times >= t0[post]) & (times <= horizon)
        if not ok.all():
            return (f"{int((~ok).sum())} exposure times not finite, before their post's upload "
                    "or after the horizon")
    if np.isnan(a["exp_f"][1]).any():
        return "copy deadlines not numbers"
    return None


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
        self._reported: set[tuple[int, int, int]] = set()

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
        trace = None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            why = trace_damage(arrays, seed, float(self.sim.scenario.horizon_h), self._users(seed))
            trace = None if why is not None else trace_from_arrays(self.sim, arrays)
        except Exception as e:  # unreadable (truncated, not a zip, a bad member): compute it again
            why = f"unreadable: {type(e).__name__}: {e}"
        if trace is None:
            st = path.stat()
            seen = (seed, st.st_size, st.st_mtime_ns)
            if seen not in self._reported:  # get() looks twice (before and after its lock)
                self._reported.add(seen)
                log.warning("trace cache %s: %s; recomputing", path, why)
            return None
        self.loaded += 1
        _remember(self._key(seed), trace)
        return trace

    def _users(self, seed: int) -> int | None:
        """The number of users of the seed's graph if it is prebuilt (else unknown)."""
        g = self.graph(seed)
        return None if g is None else int(g.n)

    def _compute(self, seed: int) -> DeadlineTrace:
        with heartbeat(f"tracing seed {seed}"):
            trace = DeadlineTrace(self.sim, seed, graph=self.graph(seed))
        self.computed += 1
        if self.dir is not None:
            arrays = trace_to_arrays(trace)
            arrays[CHECKSUM] = np.array(arrays_checksum(arrays))
            buf = io.BytesIO()
            np.savez(buf, **arrays)  # type: ignore[arg-type]
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
            except OSError as e:  # a filesystem without file locks: as without fcntl
                if e.errno not in NO_LOCKS:
                    raise
                yield True
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
