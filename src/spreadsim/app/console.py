"""What the ``spreadsim`` command says besides its results: the line at start (the graph loaded,
where the outputs go), the note that the first run compiles the kernel, spreadsim's own log lines
in spreadsim's format (not labelled ``[HYDRA]``), and how to resume an interrupted sweep."""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from spreadsim import jit
from spreadsim.graphs import check_graph_config, graph_seed
from spreadsim.graphs.make import EDGELIST_CHECK_MAX_BYTES
from spreadsim.runs.job import pinned_graph
from spreadsim.version import __version__

__all__ = ["LOG_FORMAT", "BUILD_MAX_USERS", "command_line", "compile_note", "graph_line",
           "label_own_lines", "mark_compiled", "resume_line"]

log = logging.getLogger(__name__)

#: the format of spreadsim's log lines everywhere (a job's, as Hydra's job logging writes them)
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
#: the largest generated graph a sweep's main process builds to describe it at start (the jobs
#: build their own; a bigger one is described by its config)
BUILD_MAX_USERS = 1_000_000
_PACKAGE = Path(__file__).resolve().parents[1]


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as the user gave it (``spreadsim`` and its arguments, quoted for a shell)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["spreadsim", *map(shlex.quote, args)])


# ------------------------------------------------------------------------------ the graph


def _describe(g: Mapping[str, Any], seed: int, build: bool) -> str:
    kind = str(g.get("kind", "?"))
    if kind != "edgelist" and "seed" in g and g["seed"] is None:
        return f"{kind} with n={g.get('n')}: a new graph for each run seed"
    if build and kind != "edgelist":
        n = check_graph_config(g)
        build = n is not None and n <= BUILD_MAX_USERS
    elif build:
        try:
            build = os.path.getsize(str(g.get("path"))) <= EDGELIST_CHECK_MAX_BYTES
        except OSError:
            build = False
    if not build:
        what = g.get("path") if kind == "edgelist" else f"n={g.get('n')}"
        return f"{kind} ({what}): built by each job"
    return pinned_graph(g, graph_seed(g, seed)).describe()


def graph_line(cfg: Mapping[str, Any], *, build: bool = True) -> str:
    """The graph (or each platform's graph, ``<platform>: ...; ...``) of a checked job config in
    one line, without a heading:
    :meth:`~spreadsim.graphs.Graph.describe` (users, arcs, self-loops and duplicates dropped,
    isolated users).

    The graph is built here through :func:`~spreadsim.runs.job.pinned_graph`, so that a single
    run uses this very graph; with ``build`` false, or a graph above :data:`BUILD_MAX_USERS`
    users or an edge list above :data:`~spreadsim.graphs.make.EDGELIST_CHECK_MAX_BYTES`, the
    config describes it. A graph drawn anew for each run seed is described by its config.
    """
    seed = int(cfg.get("seed") or 0)
    if cfg.get("platforms"):
        return "; ".join(f"{p.get('name')}: {_describe(p.get('graph') or {}, seed, build)}"
                         for p in cfg["platforms"])
    return _describe(cfg.get("graph") or {}, seed, build)


# ------------------------------------------------------------------------------ compiling


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spreadsim"


def _compiled_marker() -> Path:
    """The marker of a compiled kernel: named by what numba's cache depends on (spreadsim's,
    numba's and Python's versions, and the size and time of every source file numba compiles)."""
    h = hashlib.sha256(f"{__version__} {sys.version} {os.environ.get('NUMBA_CACHE_DIR', '')}".encode())
    try:
        h.update(metadata.version("numba").encode())
    except metadata.PackageNotFoundError:  # no numba: nothing compiles
        pass
    for p in sorted(_PACKAGE.rglob("*.py")):
        try:
            text = p.read_bytes()
        except OSError:
            continue
        if b"njit" in text:
            st = p.stat()
            h.update(f"{p.relative_to(_PACKAGE)} {st.st_size} {st.st_mtime_ns}".encode())
    return _cache_dir() / f"compiled-{h.hexdigest()[:16]}"


def compile_note() -> str | None:
    """The note for a first run (numba's cache of this kernel is cold: no run of this version of
    the sources finished on this machine), None otherwise or without numba."""
    if not jit.HAVE_NUMBA or _compiled_marker().exists():
        return None
    return ("first run of this version: numba compiles the simulation kernel, about 30 s, once "
            "(later runs load it from numba's cache)")


def mark_compiled() -> None:
    """Record that a run finished, so numba's cache holds the kernel (the note is not shown
    again); a cache folder that cannot be written is left alone."""
    if not jit.HAVE_NUMBA:
        return
    try:
        marker = _compiled_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass


# ------------------------------------------------------------------------------ log lines


class _OwnFormat(logging.Formatter):
    """Hydra's formatter for Hydra's lines, :data:`LOG_FORMAT` for spreadsim's."""

    def __init__(self, other: logging.Formatter | None) -> None:
        super().__init__(LOG_FORMAT)
        self.other = other or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "spreadsim" or record.name.startswith("spreadsim."):
            return super().format(record)
        return self.other.format(record)


def label_own_lines() -> None:
    """Give spreadsim's log lines their own format on the root logger's handlers (in a sweep's
    main process Hydra's handlers label every line ``[HYDRA]``)."""
    for h in logging.getLogger().handlers:
        if not isinstance(h.formatter, _OwnFormat):
            h.setFormatter(_OwnFormat(h.formatter))


# ------------------------------------------------------------------------------ Ctrl-C


def resume_line(args: Sequence[str], folder: str | None, multirun: bool) -> str:
    """The line an interrupted command prints: the same command into the same folder, which
    resumes a sweep (finished jobs are skipped) or runs a single run again."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    kept = [a for a in args if not a.startswith(key + "=")]
    if folder is None:
        return f"interrupted; run again with: {command_line(kept)}"
    again = command_line([*kept, f"{key}={folder}"])
    what = "resume (finished jobs are kept)" if multirun else "run again"
    return f"interrupted; to {what}: {again}"
