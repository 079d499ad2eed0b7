"""What a run recorded: the public read methods of a simulation (the engine's record API).

:class:`RunLog` is a base class of :class:`spreadsim.engine.simulation.Simulation`. Its methods
return small named tuples of read-only numpy arrays (views of the kernel's work arrays, no copies);
the metrics (:func:`spreadsim.engine.metrics.collect`), the deadline path
(:class:`spreadsim.runs.deadline.DeadlineTrace`) and any exporter read a run through them and
nothing else:

* :meth:`RunLog.exposure_log`: the logged exposures, one row each (time, copy deadline, post,
  user, source, flags);
* :meth:`RunLog.post_counters`: per post, upload and removal time, reach, views, shares and the
  exposure person-hours counted without a log row;
* :meth:`RunLog.settled_reach`: the first exposures counted without a log row, as a histogram;
* :meth:`RunLog.inert_views`: the exposures kept out of the event queue (``record_views`` runs);
* :meth:`RunLog.removal_causes`: each post's removal cause.

What the log holds depends on the run. A ``trace=True`` run logs every exposure that happened, in
the order the engine processed them (time order; ties by scheduling order), so it holds the whole
transmission tree:

* every exposure: ``(post, user, source, time)``; every logged exposure happened, i.e. came before
  the removal of its post and of its copy (an exposure due at or after a removal never happens
  and is not logged, see :mod:`spreadsim.engine.kernel.timing`); ``copy_deadline`` says when the
  copy it came through goes (``inf``: never), ``post_counters().removal_time`` when the post does;
* every share: the rows flagged ``RESHARED``: user ``user`` shared post ``post`` at ``time``; its
  parent share is ``(post, source)`` (the share of ``source``, itself a ``RESHARED`` row, or the
  upload when ``source`` is the post's uploader, ``Simulation.posts[post].uploader``).

Other runs log first exposures only (and only those not settled into the histogram): enough for
the tables, not for a tree. ``record_views`` runs (the deadline path's unmoderated twin) log the
first exposures and every exposure processed as an event, and keep the others in
:meth:`RunLog.inert_views`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from spreadsim.engine import kernel as K
from spreadsim.engine.records import Post

#: flags of a row of the exposure log: the user's first exposure to the post; the user reshared
#: it (a first exposure too); the first exposure was settled at the end from an inert exposure
#: (its source is not kept: -1; its view is in :meth:`RunLog.inert_views`)
FIRST, RESHARED, SETTLED = K.LOG_FIRST, K.LOG_SHARED, K.LOG_SETTLED


class ExposureLog(NamedTuple):
    """Logged exposures, one row each (equal-length arrays)."""

    time: np.ndarray           #: hours
    copy_deadline: np.ndarray  #: removal time of the copy it came through (``inf``: none)
    post: np.ndarray           #: post id (``Simulation.posts[post]``)
    user: np.ndarray           #: the user exposed
    source: np.ndarray         #: the user whose share (copy) they saw (-1: not kept)
    flags: np.ndarray          #: FIRST | RESHARED | SETTLED bits


class PostCounters(NamedTuple):
    """Per post (indexed by post id), what the kernel counted."""

    upload_time: np.ndarray    #: hours
    removal_time: np.ndarray   #: hours (``inf``: not removed)
    reach: np.ndarray          #: distinct users exposed (uploader excluded)
    views: np.ndarray          #: exposures, repeats included
    shares: np.ndarray         #: reshares
    settled_ticks: np.ndarray  #: exposure person-hours of first exposures not in the log,
                               #: in ticks of 1/``PH_TICKS`` h (see ``spreadsim.engine.metrics``)


class SettledReach(NamedTuple):
    """First exposures counted at the end without a log row (runs that log no first exposures)."""

    hist: np.ndarray  #: [0 illegal | 1 legal, k]: first exposures in ``((k-1) step, k step]``
    last: float       #: the latest of them (0: none)


class InertViews(NamedTuple):
    """Exposures kept out of the event queue, kept for ``record_views`` runs (the others are
    logged): each happened if it came before its post's and its copy's removal (the tie rule)."""

    time: np.ndarray
    copy_deadline: np.ndarray
    post: np.ndarray


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``."""
    v = a.view()
    v.flags.writeable = False
    return v


class RunLog:
    """The record API of a simulation (see the module docstring). Set up by
    :class:`~spreadsim.engine.workspace.Workspace` and the simulation."""

    posts: list[Post]
    _work: K.Work
    _state: Any
    _causes: dict[int, str]
    _inert_rows: int
    _log_released: bool

    def exposure_log(self) -> ExposureLog:
        """The exposure log so far (during a run) or of the whole run (after it: kept for
        ``trace`` and ``record_views`` runs, whose arrays are not handed to the next run).

        Raises
        ------
        RuntimeError
            After the run, when the log was not kept.
        """
        if self._log_released:
            raise RuntimeError("the exposure log is kept after a run only with trace=True or "
                               "record_views=True")
        m = int(self._state.log_len)
        lf, li = self._work.log_f[:m], self._work.log_i[:m]
        return ExposureLog(_frozen(lf[:, K.LF_TIME]), _frozen(lf[:, K.LF_DEADLINE]),
                           _frozen(li[:, K.LI_POST]), _frozen(li[:, K.LI_USER]),
                           _frozen(li[:, K.LI_SRC]), _frozen(li[:, K.LI_FLAGS]))

    def post_counters(self) -> PostCounters:
        """Per-post counters of the posts uploaded so far (reach and views are final after the
        run; during it, see ``Simulation.reach``)."""
        n = len(self.posts)
        pf, pi = self._work.pf[:n], self._work.pi[:n]
        return PostCounters(_frozen(pf[:, K.PF_T0]), _frozen(pf[:, K.PF_REMOVED]),
                            _frozen(pi[:, K.PI_REACH]), _frozen(pi[:, K.PI_VIEWS]),
                            _frozen(pi[:, K.PI_SHARES]), _frozen(pi[:, K.PI_PH_TICKS]))

    def settled_reach(self) -> SettledReach:
        """The first exposures settled at the end into a histogram instead of the log (empty,
        with no bins, when every first exposure is logged); the bins are the series steps of
        ``config.scenario.series_step_h``."""
        return SettledReach(_frozen(self._work.hist), float(self._work.hist_last[0]))

    def inert_views(self) -> InertViews:
        """The inert exposures buffered until the end of a finished run: for a ``record_views``
        run, every exposure that skipped the event queue (other runs count some of them as they
        are scheduled, and log their first exposures)."""
        k = self._inert_rows
        f, i = self._work.inert_f[:k], self._work.inert_i[:k]
        return InertViews(_frozen(f[:, 0]), _frozen(f[:, 1]), _frozen(i[:, 0]))

    def removal_causes(self) -> list[str | None]:
        """Each post's removal cause (``"<policy label>:<reason>"``; ``None``: not removed)."""
        return [self._causes.get(q) for q in range(len(self.posts))]
