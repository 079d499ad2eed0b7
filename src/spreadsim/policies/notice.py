"""Notice and takedown: users notify the posts they see, moderators review them in a shared queue.

:class:`NoticeAndTakedown` sets up the stack's one :class:`~spreadsim.policies.review.ReviewQueue`
(``sim.review``), which the policies of :mod:`spreadsim.policies.escalation` (authority referrals,
the circuit breaker) and automated detection with ``action: review`` feed too; stack order
matters: ``notice_and_takedown`` first.

Randomness: every coin comes from the policy's own stream, keyed by the post's content and copy
(:func:`~spreadsim.policies.base.post_uniform`, :func:`~spreadsim.policies.base.post_key`; never
its id, which shifts when an upload is blocked or added) and (for review decisions) the review
round, so runs that differ only in head-count or review speed see the same
notices, the same trusted flaggers and the same decision for the same review round (common random
numbers).

Examples
--------
>>> from spreadsim import simulate
>>> cfg = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3, "seed": 1},
...        "scenario": {"illegal_posts": 5, "uploaders": 2, "horizon_h": 48},
...        "policy": [{"name": "notice_and_takedown", "moderators": 2, "notice_prob": 0.05,
...                    "review_time": {"dist": "fixed", "value_h": 0.5}},
...                   {"name": "authority_referral", "delay": 2.0}]}
>>> r = simulate(cfg, seed=0)
>>> r.summary["policy0_notice_and_takedown_notices"] >= 0
True
>>> sorted(r.tables)[:2]
['policy0_notice_and_takedown_notices', 'policy0_notice_and_takedown_queue']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from spreadsim.engine.records import Post
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.policies.base import ONE_QUEUE, Policy, post_key, post_uniform
from spreadsim.policies.review import (
    PRIORITY,
    S_DECIDE,
    S_NOTICE,
    S_QUEUE,
    S_TRUSTED,
    ReviewQueue,
    ReviewRequest,
    Shifts,
    median_h,
    share,
)
from spreadsim.rng import subkey, uniform
from spreadsim.schema.model import LEGAL
from spreadsim.schema.policies import NoticeAndTakedownParams

__all__ = ["NoticeAndTakedown"]


class _PostState:
    """Notice bookkeeping of one post."""

    __slots__ = ("pending", "count", "round", "request", "open", "closed")

    def __init__(self) -> None:
        self.pending: list[int] = []  # notices not yet attached to a review (below the threshold)
        self.count = 0  # notices since the last decision, towards the threshold
        self.round = 0  # the next review round
        self.request: ReviewRequest | None = None  # the review waiting or under way (merged)
        self.open: list[ReviewRequest] = []  # every review waiting or under way (not merged)
        self.closed = False  # removed, or rejected without renotification


class NoticeAndTakedown(Policy):
    """Users notify posts they see; moderators review notified posts in a shared queue.

    Each first exposure files a notice with probability ``notice_prob`` (decided in the compiled
    kernel). A post enters review at its ``notice_threshold``-th notice (a trusted flagger's notice
    sends it at once, with priority); notices filed while it waits or is under review join that
    review (``merge_notices``, the default: the queue's load counts posts). With ``merge_notices:
    false`` every notice is a review of its own (the load counts notices, as the Code of Conduct
    monitoring counts notifications): its own place in the queue, review time and decision, each
    review a new round; a decision to remove takes the post down and decides the post's other
    open notices (their waiting reviews are withdrawn), a decision to keep decides only its own
    notice. The moderator removes an illegal post with probability ``removal_prob`` (its category's)
    and a legal one with ``legal_removal_prob``; the coin is keyed by (content, copy, review round). A kept
    post re-enters review after ``notice_threshold`` further notices if ``renotify``; otherwise its
    later notices are ignored (never decided; reviews of its own already queued still run). If
    the post comes down by any means, its open notices are decided at that moment as removed.

    What a decision to remove takes down is ``removes``: ``post`` (the default: the post and every
    share of it, as a platform takes content down), ``copy`` (under ``per_copy`` semantics only the
    copies the review's notices came through, :meth:`Simulation.remove_copy`; the post stays up, its
    other copies spread on and are notified in turn, each review a new round; under ``cascade`` a
    copy is the post) or ``content`` (every live post of the content: re-uploads too, as hash
    matching matches content).

    Parameters
    ----------
    cfg : Mapping
        The section :class:`~spreadsim.schema.policies.NoticeAndTakedownParams` declares (every
        parameter, its default and range): ``moderators``, ``review_time``, ``shifts``,
        ``notice_prob`` (a number for every illegal category, or a mapping over the categories and
        ``legal``; categories left out get 0), ``notice_threshold``, ``merge_notices``, ``removal_prob``,
        ``legal_removal_prob``, ``renotify``, ``removes``, ``deadline_h`` (a notice's deadline, reported as
        ``notice_deadline_met_share``), ``trusted_flaggers``.
    field : str
        The config path used in error messages (``policy`` or ``policy[i]``).

    Notes
    -----
    Summary keys (prefixed ``policy<i>_notice_and_takedown_`` in the run summary): ``notices``,
    ``notices_trusted``, ``reviews``, ``reviews_removed``, ``copies_removed`` (copies taken down
    alone, ``removes: copy``), ``wrongful_removals`` (legal posts removed),
    ``notice_reviewed_24h_share`` (the Code of Conduct's "reviewed within 24 h": share of notices
    filed at least 24 h before the horizon whose post was decided within 24 h),
    ``notice_removed_share`` (share of notices whose post was removed), ``notice_decided_share``,
    ``notice_to_decision_median_h`` (over decided notices), ``notice_deadline_met_share`` and the
    queue's statistics as ``queue_*``. Tables: ``notices`` (see :meth:`notice_table`) and
    ``queue`` (see :meth:`queue_series`).
    """

    name = "notice_and_takedown"
    wants = frozenset({"notice"})
    provides_review = True
    params_class = NoticeAndTakedownParams
    params: NoticeAndTakedownParams
    #: a review of user notices, of a trusted flagger's notices
    removal_reasons = ("notice", "trusted")

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        self.removes_copies = self.params.removes == "copy"
        self.copies_removed = 0
        hours = self.params.shifts
        self.shifts = None if hours is None else Shifts(hours.start_h, hours.end_h)
        # per notice
        self._n_post: list[int] = []
        self._n_user: list[int] = []
        self._n_source: list[int] = []
        self._n_time: list[float] = []
        self._n_trusted: list[bool] = []
        self._n_decided: list[float] = []
        self._n_removed: list[bool] = []
        self._n_round: list[int] = []
        self._attached: dict[int, list[int]] = {}  # request seq -> its notices
        self._state: dict[int, _PostState] = {}
        self._posts: dict[int, Post] = {}

    # ------------------------------------------------------------------ setup
    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        if sim.review is not None:
            raise ConfigError(f"{self.field}.name", self.name, ONE_QUEUE)
        self.queue = ReviewQueue(sim, self.params.moderators, self.params.review_time,
                                 subkey(key, S_QUEUE), self.shifts)
        sim.review = self.queue
        self._decide_key = subkey(key, S_DECIDE)
        self._notice_key = subkey(key, S_NOTICE)
        n = sim.graph.n
        tf = self.params.trusted_flaggers
        self.trusted = np.zeros(n, dtype=bool)
        if tf.fraction > 0:
            tkey = subkey(key, S_TRUSTED)
            # one coin per user: a larger fraction keeps every trusted flagger of a smaller one
            self.trusted = np.array([uniform(tkey, u, 0) < tf.fraction for u in range(n)], dtype=bool)
            sim.set_notice_weights(np.flatnonzero(self.trusted), tf.notice_weight)

    def on_upload(self, post: Post) -> None:
        p = self.params.notice_prob.get(post.category, 0.0)
        self._posts[post.id] = post
        if p > 0:
            self.sim.set_notices(post, p, post_key(self._notice_key, post))

    # ------------------------------------------------------------------ notices
    def on_notice(self, post: Post, user: int, source: int = -1) -> None:
        now = self.sim.env.now
        i = len(self._n_post)
        trusted = bool(self.trusted[user])
        self._n_post.append(post.id)
        self._n_user.append(user)
        self._n_source.append(source)
        self._n_time.append(now)
        self._n_trusted.append(trusted)
        self._n_decided.append(math.nan)
        self._n_removed.append(False)
        self._n_round.append(-1)
        st = self._state.setdefault(post.id, _PostState())
        if self.sim.is_removed(post):
            self._decide_notices([i], True)
            return
        if st.closed:
            return  # rejected earlier and renotify is off: ignored
        if not self.params.merge_notices:
            self._submit(post, st, [i], trusted=trusted)  # a review of its own
            return
        if st.request is not None:
            self._attach(st.request, [i])
            if trusted and st.request.priority > self.params.trusted_flaggers.priority \
                    and self.queue.withdraw(st.request):
                old = self._attached.pop(st.request.seq)
                st.request = None
                self._submit(post, st, old, trusted=True)
            return
        st.pending.append(i)
        st.count += 1
        if trusted or st.count >= self.params.notice_threshold:
            notices, st.pending, st.count = st.pending, [], 0
            self._submit(post, st, notices, trusted=trusted)

    def _attach(self, req: ReviewRequest, notices: list[int]) -> None:
        self._attached[req.seq].extend(notices)
        for i in notices:
            self._n_round[i] = req.round

    def _submit(self, post: Post, st: _PostState, notices: list[int], *, trusted: bool) -> None:
        now = self.sim.env.now
        req = self.queue.submit(
            post, "trusted" if trusted else "notice", self._decide,
            priority=self.params.trusted_flaggers.priority if trusted else PRIORITY["notice"],
            deadline=now + self.params.deadline_h[post.category], round=st.round, on_done=self._done,
            take_down=None if self.params.removes == "post" else self._take_down,
            cause=self.cause("trusted" if trusted else "notice"))
        self._attached[req.seq] = []
        self._attach(req, notices)
        if self.params.merge_notices:
            st.request = req
        else:  # every review its own round: its own review time and decision
            st.open.append(req)
            st.round += 1

    def _decide(self, req: ReviewRequest) -> bool:
        post = req.post
        if post.category == LEGAL:
            p = self.params.legal_removal_prob
        elif req.source == "trusted":
            p = self.params.trusted_flaggers.removal_prob
        else:
            p = self.params.removal_prob.get(post.category, 1.0)
        return bool(post_uniform(self._decide_key, post, req.round) < p)

    def _take_down(self, req: ReviewRequest) -> None:
        """What a decision to remove takes down when ``removes`` is not ``post``."""
        sim, post = self.sim, req.post
        if self.params.removes == "content":
            for p in list(sim.posts):
                if p.content_id == post.content_id and not sim.is_removed(p):
                    sim.remove_post(p, req.cause)
            return
        sources = {self._n_source[i] for i in self._attached.get(req.seq, [])}
        if not sim.per_copy or not sources or -1 in sources:
            sim.remove_post(post, req.cause)  # a copy is the post (cascade), or is not known
            return
        before = len(sim.copy_removals)
        for s in sorted(sources):
            sim.remove_copy(post, s, req.cause)
        self.copies_removed += len(sim.copy_removals) - before
        if not self.params.merge_notices:
            # the other open reviews of notices that came through these copies: decided removed
            st = self._state[post.id]
            self._close([r for r in st.open if r is not req and sources.issuperset(
                self._n_source[i] for i in self._attached[r.seq])], st)

    def _close(self, reqs: list[ReviewRequest], st: _PostState) -> None:
        """Decide the notices of open reviews ``reqs`` as removed now; withdraw those still
        waiting (one under way finishes, its notices already decided)."""
        for r in reqs:
            self._decide_notices(self._attached[r.seq], True)
            if self.queue.withdraw(r):
                st.open.remove(r)

    def _done(self, req: ReviewRequest) -> None:
        st = self._state[req.post.id]
        if not self.params.merge_notices:
            self._done_own(req, st)
            return
        if st.request is not req:
            return
        st.request = None
        notices = self._attached.get(req.seq, [])
        if req.dropped or (req.removed and self.sim.is_removed(req.post)):
            return  # the post came down: its notices were decided in on_removal
        if req.removed:
            # only the notified copies came down: their notices are decided, the post stays
            # open to notices of its other copies (a new review round)
            self._decide_notices(notices, True)
            st.round += 1
            return
        self._decide_notices(notices, False)
        st.round += 1
        if not self.params.renotify:
            st.closed = True

    def _done_own(self, req: ReviewRequest, st: _PostState) -> None:
        """A review of its own notice is done (``merge_notices: false``)."""
        st.open.remove(req)
        if req.dropped or (req.removed and self.sim.is_removed(req.post)):
            return  # the post came down: its notices were decided in on_removal
        notices = self._attached[req.seq]
        self._decide_notices(notices, req.removed)
        if not req.removed and not self.params.renotify:
            st.closed = True

    def _decide_notices(self, notices: list[int], removed: bool) -> None:
        now = self.sim.env.now
        for i in notices:
            if math.isnan(self._n_decided[i]):
                self._n_decided[i] = now
                self._n_removed[i] = removed

    def on_removal(self, post: Post) -> None:
        st = self._state.get(post.id)
        if st is None:
            return
        st.closed = True
        open_ = list(st.pending)
        if st.request is not None:
            open_ += self._attached.get(st.request.seq, [])
        st.pending = []
        self._decide_notices(open_, True)
        self._close(list(st.open), st)

    # ------------------------------------------------------------------ outputs
    def notice_table(self) -> dict[str, np.ndarray]:
        """One row per notice.

        Returns
        -------
        dict of numpy arrays
            ``post_id``, ``category``, ``user``, ``source`` (the user whose copy they saw: the
            uploader for the upload itself), ``trusted``, ``notice_time_h``,
            ``decision_time_h`` (NaN: never decided), ``removed`` (the post came down at the
            decision), ``round`` (review round that decided it; -1: none), ``deadline_h``.
        """
        cats = [self._posts[q].category for q in self._n_post]
        return {
            "post_id": np.array(self._n_post, dtype=np.int64),
            "category": np.array(cats, dtype=object),
            "user": np.array(self._n_user, dtype=np.int64),
            "source": np.array(self._n_source, dtype=np.int64),
            "trusted": np.array(self._n_trusted, dtype=bool),
            "notice_time_h": np.array(self._n_time, dtype=np.float64),
            "decision_time_h": np.array(self._n_decided, dtype=np.float64),
            "removed": np.array(self._n_removed, dtype=bool),
            "round": np.array(self._n_round, dtype=np.int64),
            "deadline_h": np.array([self.params.deadline_h[c] for c in cats], dtype=np.float64),
        }

    def queue_series(self) -> dict[str, np.ndarray]:
        """Queue length (requests waiting, not under review) after every change.

        Returns
        -------
        dict of numpy arrays
            ``time_h`` and ``length`` (a step function: the length holds until the next row).
        """
        log = self.queue.length_log
        return {"time_h": np.array([t for t, _ in log], dtype=np.float64),
                "length": np.array([n for _, n in log], dtype=np.int64)}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        return {"notices": self.notice_table(), "queue": self.queue_series()}

    def summary(self) -> dict[str, float]:
        horizon = self.sim.config.scenario.horizon_h
        t = self.notice_table()
        dt = t["decision_time_h"] - t["notice_time_h"]
        decided = ~np.isnan(dt)
        uncensored = t["notice_time_h"] <= horizon - 24.0
        with np.errstate(invalid="ignore"):
            within = decided & (dt <= 24.0)
            finite = np.isfinite(t["deadline_h"]) & (t["notice_time_h"] + t["deadline_h"] <= horizon)
            met = decided & (dt <= t["deadline_h"])
        mine = [r for r in self.queue.requests if r.source in ("notice", "trusted")]
        legal_removed = sum(1 for r in mine if r.removed and r.post.category == LEGAL)
        out = {
            "notices": float(len(dt)),
            "notices_trusted": float(t["trusted"].sum()),
            "reviews": float(sum(1 for r in mine if not (r.dropped and math.isnan(r.decided)))),
            "reviews_removed": float(sum(1 for r in mine if r.removed)),
            "copies_removed": float(self.copies_removed),
            "wrongful_removals": float(legal_removed),
            "notice_reviewed_24h_share": share(within[uncensored]),
            "notice_removed_share": share(t["removed"]),
            "notice_decided_share": share(decided),
            "notice_to_decision_median_h": median_h(dt[decided]),
            "notice_deadline_met_share": share(met[finite]),
        }
        for k, v in self.queue.stats(horizon).items():
            out[k if k.startswith("queue_") else f"queue_{k}"] = v
        return out
