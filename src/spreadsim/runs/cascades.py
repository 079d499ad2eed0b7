"""Cascades out (issue 19, section 2): a traced run's transmission tree as Parquet tables.

:func:`export_cascades` writes, from a finished ``trace=True`` run (read through the engine's
record API, :mod:`spreadsim.engine.runlog`), into a folder:

* ``shares.parquet``: every share, the uploads included (columns:
  :data:`spreadsim.outputs.cascade_tables.SHARE_SCHEMA`), in the input format of
  ``spreadsim fit`` (``cascade``, ``event``, ``parent``, ``user``, ``time``, ``observed_until``),
  so that fitting spreadsim's own cascades is the round trip;
* ``exposures.parquet`` (``exposures=True``): every exposure, repeats included
  (:data:`~spreadsim.outputs.cascade_tables.EXPOSURE_SCHEMA`);
* ``cascades.parquet`` / ``.csv``: per cascade its reshares, depth and breadth
  (:func:`spreadsim.outputs.cascade_tables.cascade_table`), computed from ``shares.parquet``.

The tables are streamed: :class:`CascadeExport` writes row groups of at most :data:`ROW_GROUP`
exposure-log rows with :class:`pyarrow.parquet.ParquetWriter`, each built from slices of the log's
arrays (no Python object per row), so the export adds a bounded amount of memory to the run's own
log. Several runs (the seeds of a job) go into one file, told apart by ``seed`` (``cascade`` is
``"<seed>:<post>"``). Files are written under temporary names and moved into place when the
export is closed; an export that fails leaves none of them behind.

**Censoring.** A share at ``t`` could have had children until its cascade's observation end:
the horizon (nothing happens at or after it) or, when the post was removed, its removal time
``R`` (under ``cascade`` removal every exposure due at or after ``R`` is cut, the tie rule). So
``observed_until = min(horizon, R)``: the fit then counts a share made just before a removal as
censored, not as childless. Under ``per_copy`` removal a copy removed before its post cuts only
its own sharer's children; the fit's format has one observation end per cascade, so the post's
end is written and a fit of such a run underestimates ``n`` by the copies' early ends.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spreadsim.engine.kernel import removal_cut
from spreadsim.engine.runlog import FIRST, RESHARED
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.jit import njit
from spreadsim.outputs.cascade_tables import EXPOSURE_SCHEMA, SHARE_SCHEMA, cascade_table
from spreadsim.outputs.io import COMPRESSION, write_table
from spreadsim.outputs.layout import CASCADES, EXPOSURES, SHARES

#: exposure-log rows per row group of the exposures table (and per slice read for the shares)
ROW_GROUP = 1 << 18

__all__ = ["ROW_GROUP", "CascadeExport", "export_cascades", "export_files"]


def export_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every file an export writes into ``folder`` (whether it exists or not)."""
    d = Path(folder)
    return [d / f"{SHARES}.parquet", d / f"{EXPOSURES}.parquet", d / f"{CASCADES}.parquet",
            d / f"{CASCADES}.csv"]


@njit(cache=True)
def _before(time: np.ndarray, removal: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``time < removal_cut(removal)``: the engine's tie rule, row by row."""
    out = np.empty(time.shape[0], dtype=np.bool_)
    for i in range(time.shape[0]):
        out[i] = time[i] < removal_cut(removal[i])
    return out


def _check_traced(sim: Simulation) -> None:
    if not sim.trace:
        raise ConfigError("trace", sim.trace, "must be true to export a run's cascades "
                          "(Simulation(..., trace=True), or simulate(..., export=...))")


def _nullable(values: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(values, mask=null) if null.any() else pa.array(values)


class CascadeExport:
    """The export of one or more finished traced runs into ``folder`` (see the module docstring).

    Use as a context manager, or call :meth:`close` (moves the files into place and writes the
    per-cascade table) or :meth:`abort` (removes them)::

        with CascadeExport("out", exposures=True) as ex:
            for seed in range(3):
                sim = new_simulation(cfg, seed, trace=True)
                sim.run()
                ex.add(sim)

    Parameters
    ----------
    folder : path-like
        Where the tables go (created if missing).
    exposures : bool
        Also write the exposures table.
    """

    def __init__(self, folder: str | os.PathLike[str], exposures: bool = False) -> None:
        self.folder = Path(folder)
        self.exposures = bool(exposures)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._tmp: dict[Path, Path] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows = {SHARES: 0, EXPOSURES: 0}
        try:
            for name, schema in ((SHARES, SHARE_SCHEMA), (EXPOSURES, EXPOSURE_SCHEMA))[: 1 + self.exposures]:
                final = self.folder / f"{name}.parquet"
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.folder)
                os.close(fd)
                self._tmp[final] = Path(tmp)
                self._writers[name] = pq.ParquetWriter(tmp, schema, compression=COMPRESSION,
                                                       version="2.6", data_page_version="1.0",
                                                       write_statistics=True)
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> CascadeExport:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def add(self, sim: Simulation) -> None:
        """Append one finished ``trace=True`` run.

        Raises
        ------
        ConfigError
            The run was not traced (its log holds first exposures only, not the tree).
        """
        _check_traced(sim)
        posts = sim.posts
        counters = sim.post_counters()
        horizon = float(sim.config.scenario.horizon_h)
        removal = np.asarray(counters.removal_time, dtype=np.float64)
        removed = removal < horizon
        post_removal = np.where(removed, removal, np.inf)
        per_post = {
            "content": np.array([p.content_id for p in posts], dtype=np.int64),
            "copy": np.array([p.copy for p in posts], dtype=np.int64),
            "category": pa.array([p.category for p in posts], type=pa.string()),
            "observed_until": np.minimum(post_removal, horizon),
            "removal_time": post_removal, "removed": removed, "horizon": horizon,
        }
        uploader = np.array([p.uploader for p in posts], dtype=np.int64)
        ids = np.arange(len(posts), dtype=np.int64)
        self._write_shares(sim.seed, per_post, ids, uploader, None,
                           np.asarray(counters.upload_time, dtype=np.float64))
        log = sim.exposure_log()
        copy_keys, copy_times = self._copy_removals(sim, len(posts))
        m = log.time.shape[0]
        for a in range(0, m, ROW_GROUP):
            b = min(a + ROW_GROUP, m)
            flags = np.asarray(log.flags[a:b])
            sh = np.flatnonzero(flags & RESHARED)
            if sh.shape[0]:
                self._write_shares(sim.seed, per_post, np.asarray(log.post[a:b])[sh],
                                   np.asarray(log.user[a:b])[sh], np.asarray(log.source[a:b])[sh],
                                   np.asarray(log.time[a:b])[sh])
            if self.exposures:
                self._write_exposures(sim.seed, per_post, log, a, b, flags, copy_keys, copy_times,
                                      len(posts))

    @staticmethod
    def _copy_removals(sim: Simulation, n_posts: int) -> tuple[np.ndarray, np.ndarray]:
        """The single copies removed (per_copy runs), as sorted keys ``post + n_posts * sharer``
        and the earliest removal time of each."""
        if not sim.copy_removals:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cr = np.array([(q, u, t) for t, q, u, _ in sim.copy_removals], dtype=np.float64)
        keys = cr[:, 0].astype(np.int64) + n_posts * cr[:, 1].astype(np.int64)
        order = np.lexsort((cr[:, 2], keys))
        keys, times = keys[order], cr[order, 2]
        first = np.ones(keys.shape[0], dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return keys[first], times[first]

    def _write_shares(self, seed: int, per_post: dict[str, Any], post: np.ndarray, user: np.ndarray,
                      parent: np.ndarray | None, time: np.ndarray) -> None:
        n = post.shape[0]
        if n == 0:
            return
        post_arr = pa.array(post)
        removed = per_post["removed"][post]
        cols = [pa.array(np.full(n, seed, dtype=np.int64)), post_arr,
                pa.array(per_post["content"][post]), pa.array(per_post["copy"][post]),
                per_post["category"].take(post_arr),
                pc.binary_join_element_wise(str(int(seed)), pc.cast(post_arr, pa.string()), ":"),
                pa.array(user), pa.nulls(n, pa.int64()) if parent is None else pa.array(parent),
                pa.array(user), pa.array(time), pa.array(per_post["observed_until"][post]),
                _nullable(per_post["removal_time"][post], ~removed)]
        self._writers[SHARES].write_table(pa.Table.from_arrays(cols, schema=SHARE_SCHEMA),
                                          row_group_size=ROW_GROUP)
        self.rows[SHARES] += n

    def _write_exposures(self, seed: int, per_post: dict[str, Any], log: Any, a: int, b: int,
                         flags: np.ndarray, copy_keys: np.ndarray, copy_times: np.ndarray,
                         n_posts: int) -> None:
        post = np.asarray(log.post[a:b])
        source = np.asarray(log.source[a:b])
        time = np.asarray(log.time[a:b], dtype=np.float64)
        rem = np.minimum(per_post["removal_time"][post], np.asarray(log.copy_deadline[a:b]))
        if copy_keys.shape[0]:
            k = post + n_posts * source
            pos = np.minimum(np.searchsorted(copy_keys, k), copy_keys.shape[0] - 1)
            hit = (copy_keys[pos] == k) & (source >= 0)
            rem = np.where(hit, np.minimum(rem, copy_times[pos]), rem)
        rem = np.where(rem < per_post["horizon"], rem, np.inf)  # a clock past the horizon never rings
        cols = [pa.array(np.full(b - a, seed, dtype=np.int64)), pa.array(post),
                pa.array(np.asarray(log.user[a:b])), _nullable(source, source < 0), pa.array(time),
                pa.array((flags & FIRST) != 0), pa.array((flags & RESHARED) != 0),
                _nullable(rem, ~np.isfinite(rem)), pa.array(_before(time, rem))]
        self._writers[EXPOSURES].write_table(pa.Table.from_arrays(cols, schema=EXPOSURE_SCHEMA),
                                             row_group_size=ROW_GROUP)
        self.rows[EXPOSURES] += b - a

    def close(self) -> list[Path]:
        """Finish the files, move them into place, write the per-cascade table next to them;
        returns the files written."""
        try:
            for w in self._writers.values():
                w.close()
            self._writers.clear()
            for final, tmp in self._tmp.items():
                os.replace(tmp, final)
            written = list(self._tmp)
            self._tmp.clear()
            if not self.exposures:
                (self.folder / f"{EXPOSURES}.parquet").unlink(missing_ok=True)  # an earlier export's
            write_table(cascade_table(self.folder / f"{SHARES}.parquet"), self.folder / CASCADES)
        except BaseException:
            self.abort()
            raise
        return [*written, self.folder / f"{CASCADES}.parquet", self.folder / f"{CASCADES}.csv"]

    def abort(self) -> None:
        """Stop writing and remove every file of this export (temporary and final)."""
        for w in self._writers.values():
            try:
                w.close()
            except (OSError, pa.ArrowException):
                pass
        self._writers.clear()
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)
        self._tmp.clear()
        for f in export_files(self.folder):
            f.unlink(missing_ok=True)


def export_cascades(sim: Simulation, folder: str | os.PathLike[str], exposures: bool = False
                    ) -> list[Path]:
    """Write a finished ``trace=True`` run's cascades into ``folder``: ``shares.parquet``,
    ``exposures.parquet`` (with ``exposures``) and the per-cascade table ``cascades.parquet`` /
    ``.csv`` (see the module docstring for the columns and the censoring).

    Parameters
    ----------
    sim : Simulation
        A run made with ``trace=True``, after ``run()``.
    folder : path-like
        Created if missing; files of an earlier export there are replaced.
    exposures : bool
        Also write every exposure.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from spreadsim.runs.single import new_simulation
    >>> from spreadsim.schema.config import SimConfig
    >>> cfg = SimConfig.from_dict({"graph": {"kind": "random_k_out", "n": 2000, "k": 4},
    ...                            "scenario": {"illegal_posts": 5, "legal_posts": 0}})
    >>> sim = new_simulation(cfg, 0, trace=True)
    >>> _ = sim.run()
    >>> [p.name for p in export_cascades(sim, tempfile.mkdtemp())]
    ['shares.parquet', 'cascades.parquet', 'cascades.csv']
    """
    _check_traced(sim)  # (before the folder is made)
    with CascadeExport(folder, exposures) as ex:
        ex.add(sim)
    return [f for f in export_files(folder) if f.exists()]

