"""Human moderation: notice-and-takedown, trusted flaggers, authority referrals, circuit breaker.

All three policies feed the one shared :class:`~spreadsim.policies.review.ReviewQueue` (``sim.review``),
which :class:`NoticeAndTakedown` creates because it sets the moderators. Stack order matters:
``notice_and_takedown`` first, then ``authority_referral`` and/or ``circuit_breaker``.

Randomness: every coin comes from the policy's own stream, keyed by the post and (for review
decisions) the review round, so runs that differ only in head-count or review speed see the same
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
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from spreadsim.engine.records import Post
from spreadsim.engine.rng import subkey, uniform
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.policies.base import ONE_QUEUE, Policy
from spreadsim.policies.review import (
    MAX_MODERATORS,
    PRIORITY,
    ReviewQueue,
    ReviewRequest,
    Shifts,
    parse_shifts,
    require_review,
)
from spreadsim.schema.checks import boolean, check_keys, choice, integer, mapping, number, probability
from spreadsim.schema.model import ALL_CATEGORIES, CATEGORIES, LEGAL
from spreadsim.schema.values import duration

__all__ = ["NoticeAndTakedown", "AuthorityReferral", "CircuitBreaker"]

# review rounds used for the queue's review-time draws, apart from the notice rounds 0, 1, 2, ...
_REFERRAL_ROUND = 1 << 20
_BREAKER_ROUND = 1 << 21
# sub-streams of a policy's key
_S_QUEUE, _S_TRUSTED, _S_DECIDE, _S_NOTICE, _S_DELAY, _S_REFER = range(6)


def _per_category(field: str, value: Any, cats: tuple[str, ...], default: float,
                  check: Any) -> dict[str, float]:
    """A number for every category in ``cats``, or a mapping category -> number (the others get
    ``default``). ``check(field, value)`` validates one number."""
    if isinstance(value, Mapping):
        out = dict.fromkeys(cats, default)
        for cat, v in value.items():
            choice(f"{field}.{cat}", cat, cats, "category")
            out[cat] = check(f"{field}.{cat}", v)
        return out
    x = check(field, value)
    return dict.fromkeys(cats, x)


def _hours(field: str, value: Any) -> float:
    return number(field, value, lo=0.0, lo_open=True, allow_inf=True, unit="hours")


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def _share(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


class _PostState:
    """Notice bookkeeping of one post."""

    __slots__ = ("pending", "count", "round", "request", "closed")

    def __init__(self) -> None:
        self.pending: list[int] = []  # notices not yet attached to a review (below the threshold)
        self.count = 0  # notices since the last decision, towards the threshold
        self.round = 0  # the next review round
        self.request: ReviewRequest | None = None  # the review waiting or under way
        self.closed = False  # removed, or rejected without renotification


class NoticeAndTakedown(Policy):
    """Users notify posts they see; moderators review notified posts in a shared queue.

    Each first exposure files a notice with probability ``notice_prob`` (decided in the compiled
    kernel). A post enters review at its ``notice_threshold``-th notice (a trusted flagger's notice
    sends it at once, with priority); notices filed while it waits or is under review join that
    review. The moderator removes an illegal post with probability ``removal_prob`` (its category's)
    and a legal one with ``legal_removal_prob``; the coin is keyed by (post, review round). A kept
    post re-enters review after ``notice_threshold`` further notices if ``renotify``; otherwise its
    later notices are ignored (never decided). If the post comes down by any means, its open
    notices are decided at that moment as removed.

    Parameters
    ----------
    cfg : Mapping
        ``moderators`` (int >= 1, default 10), ``review_time`` (a Duration, default exponential
        with mean 1 h), ``shifts`` (null or ``{start_h, end_h}``), ``notice_prob`` (a number for
        every illegal category, or a mapping over ``terrorist_propaganda``, ``hate_speech``,
        ``ip_infringement``, ``legal``; categories left out get 0), ``notice_threshold`` (int >= 1,
        default 1), ``removal_prob`` (number or per-category mapping, default 1),
        ``legal_removal_prob`` (default 0), ``renotify`` (default true), ``deadline_h`` (number or
        per-category mapping; a notice's deadline, reported as ``notice_deadline_met_share``;
        default inf), ``trusted_flaggers`` (null or ``{fraction, notice_weight, removal_prob,
        priority}``).
    field : str
        The config path used in error messages (``policy`` or ``policy[i]``).

    Notes
    -----
    Summary keys (prefixed ``policy<i>_notice_and_takedown_`` in the run summary): ``notices``,
    ``notices_trusted``, ``reviews``, ``reviews_removed``, ``wrongful_removals`` (legal posts
    removed), ``notice_reviewed_24h_share`` (the Code of Conduct's "reviewed within 24 h": share of
    notices filed at least 24 h before the horizon whose post was decided within 24 h),
    ``notice_removed_share`` (share of notices whose post was removed), ``notice_decided_share``,
    ``notice_to_decision_median_h`` (over decided notices), ``notice_deadline_met_share`` and the
    queue's statistics as ``queue_*``. Tables: ``notices`` (see :meth:`notice_table`) and
    ``queue`` (see :meth:`queue_series`).
    """

    name = "notice_and_takedown"
    wants = frozenset({"notice"})
    provides_review = True
    KEYS = ("name", "moderators", "review_time", "shifts", "notice_prob", "notice_threshold",
            "removal_prob", "legal_removal_prob", "renotify", "deadline_h", "trusted_flaggers")
    TRUSTED_KEYS = ("fraction", "notice_weight", "removal_prob", "priority")

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        check_keys(field, cfg, self.KEYS)
        f = field
        self.moderators = integer(f"{f}.moderators", cfg.get("moderators", 10), lo=1,
                                  hi=MAX_MODERATORS)
        self.review_time = duration(
            f"{f}.review_time", cfg.get("review_time", {"dist": "exponential", "mean_h": 1.0}))
        self.shifts: Shifts | None = parse_shifts(f"{f}.shifts", cfg.get("shifts"))
        self.notice_prob = _per_category(f"{f}.notice_prob", cfg.get("notice_prob", 0.01),
                                         ALL_CATEGORIES, 0.0, probability)
        if not isinstance(cfg.get("notice_prob", 0.01), Mapping):
            self.notice_prob[LEGAL] = 0.0  # a bare number: illegal categories only
        self.threshold = integer(f"{f}.notice_threshold", cfg.get("notice_threshold", 1), lo=1)
        self.removal_prob = _per_category(f"{f}.removal_prob", cfg.get("removal_prob", 1.0),
                                          CATEGORIES, 1.0, probability)
        self.legal_removal_prob = probability(f"{f}.legal_removal_prob",
                                              cfg.get("legal_removal_prob", 0.0))
        self.renotify = boolean(f"{f}.renotify", cfg.get("renotify", True))
        self.deadline = _per_category(f"{f}.deadline_h", cfg.get("deadline_h", math.inf),
                                      ALL_CATEGORIES, math.inf, _hours)
        tf = mapping(f"{f}.trusted_flaggers", cfg.get("trusted_flaggers"))
        check_keys(f"{f}.trusted_flaggers", tf, self.TRUSTED_KEYS)
        g = f"{f}.trusted_flaggers"
        self.trusted_fraction = probability(f"{g}.fraction", tf.get("fraction", 0.0))
        self.trusted_weight = number(f"{g}.notice_weight", tf.get("notice_weight", 1.0), lo=0.0)
        self.trusted_removal_prob = probability(f"{g}.removal_prob", tf.get("removal_prob", 1.0))
        self.trusted_priority = integer(f"{g}.priority", tf.get("priority", PRIORITY["trusted"]),
                                        lo=0)
        # per notice
        self._n_post: list[int] = []
        self._n_user: list[int] = []
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
        self.queue = ReviewQueue(sim, self.moderators, self.review_time, subkey(key, _S_QUEUE),
                                 self.shifts)
        sim.review = self.queue
        self._decide_key = subkey(key, _S_DECIDE)
        self._notice_key = subkey(key, _S_NOTICE)
        n = sim.graph.n
        self.trusted = np.zeros(n, dtype=bool)
        if self.trusted_fraction > 0:
            tkey = subkey(key, _S_TRUSTED)
            # one coin per user: a larger fraction keeps every trusted flagger of a smaller one
            self.trusted = np.array([uniform(tkey, u, 0) < self.trusted_fraction for u in range(n)],
                                    dtype=bool)
            sim.set_notice_weights(np.flatnonzero(self.trusted), self.trusted_weight)

    def on_upload(self, post: Post) -> None:
        p = self.notice_prob.get(post.category, 0.0)
        self._posts[post.id] = post
        if p > 0:
            self.sim.set_notices(post, p, subkey(self._notice_key, post.id))

    # ------------------------------------------------------------------ notices
    def on_notice(self, post: Post, user: int) -> None:
        now = self.sim.env.now
        i = len(self._n_post)
        trusted = bool(self.trusted[user])
        self._n_post.append(post.id)
        self._n_user.append(user)
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
        if st.request is not None:
            self._attach(st.request, [i])
            if trusted and st.request.priority > self.trusted_priority \
                    and self.queue.withdraw(st.request):
                old = self._attached.pop(st.request.seq)
                st.request = None
                self._submit(post, st, old, trusted=True)
            return
        st.pending.append(i)
        st.count += 1
        if trusted or st.count >= self.threshold:
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
            priority=self.trusted_priority if trusted else PRIORITY["notice"],
            deadline=now + self.deadline[post.category], round=st.round, on_done=self._done)
        st.request = req
        self._attached[req.seq] = []
        self._attach(req, notices)

    def _decide(self, req: ReviewRequest) -> bool:
        post = req.post
        if post.category == LEGAL:
            p = self.legal_removal_prob
        elif req.source == "trusted":
            p = self.trusted_removal_prob
        else:
            p = self.removal_prob.get(post.category, 1.0)
        return bool(uniform(self._decide_key, post.id, req.round) < p)

    def _done(self, req: ReviewRequest) -> None:
        st = self._state[req.post.id]
        if st.request is not req:
            return
        st.request = None
        notices = self._attached.get(req.seq, [])
        if req.removed or req.dropped:  # removed: already decided in on_removal
            return
        self._decide_notices(notices, False)
        st.round += 1
        if not self.renotify:
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

    # ------------------------------------------------------------------ outputs
    def notice_table(self) -> dict[str, np.ndarray]:
        """One row per notice.

        Returns
        -------
        dict of numpy arrays
            ``post_id``, ``category``, ``user``, ``trusted``, ``notice_time_h``,
            ``decision_time_h`` (NaN: never decided), ``removed`` (the post came down at the
            decision), ``round`` (review round that decided it; -1: none), ``deadline_h``.
        """
        cats = [self._posts[q].category for q in self._n_post]
        return {
            "post_id": np.array(self._n_post, dtype=np.int64),
            "category": np.array(cats, dtype=object),
            "user": np.array(self._n_user, dtype=np.int64),
            "trusted": np.array(self._n_trusted, dtype=bool),
            "notice_time_h": np.array(self._n_time, dtype=np.float64),
            "decision_time_h": np.array(self._n_decided, dtype=np.float64),
            "removed": np.array(self._n_removed, dtype=bool),
            "round": np.array(self._n_round, dtype=np.int64),
            "deadline_h": np.array([self.deadline[c] for c in cats], dtype=np.float64),
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
            "wrongful_removals": float(legal_removed),
            "notice_reviewed_24h_share": _share(within[uncensored]),
            "notice_removed_share": _share(t["removed"]),
            "notice_decided_share": _share(decided),
            "notice_to_decision_median_h": _median(dt[decided]),
            "notice_deadline_met_share": _share(met[finite]),
        }
        for k, v in self.queue.stats(horizon).items():
            out[k if k.startswith("queue_") else f"queue_{k}"] = v
        return out


class AuthorityReferral(Policy):
    """An Internet Referral Unit or competent authority refers illegal posts, with a deadline.

    Each post of the ``categories`` is referred with probability ``referral_prob`` after a
    ``delay`` (a Duration from upload). The referral is a removal order: it enters the shared
    review queue with top ``priority`` and a deadline ``deadline_h`` after it was issued (the TCO
    regulation's 1 hour by default); the platform complies (removes) with probability
    ``order_compliance``. Needs ``notice_and_takedown`` earlier in the stack (the moderators).

    Parameters
    ----------
    cfg : Mapping
        ``categories`` (a category or list, default ``[terrorist_propaganda]``), ``referral_prob``
        (default 1), ``delay`` (Duration, default exponential with mean 6 h), ``deadline_h``
        (default 1), ``order_compliance`` (default 1), ``priority`` (int >= 0, default 0).
    field : str
        The config path used in error messages.

    Notes
    -----
    Summary keys: ``orders``, ``orders_met_share`` (removed within the deadline, by any means,
    among orders whose deadline fell before the horizon), ``order_removed_share``,
    ``order_to_removal_median_h`` (over removed orders). Table ``orders``.
    """

    name = "authority_referral"
    KEYS = ("name", "categories", "referral_prob", "delay", "deadline_h", "order_compliance",
            "priority")

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        check_keys(field, cfg, self.KEYS)
        cats = cfg.get("categories", ["terrorist_propaganda"])
        if isinstance(cats, str):
            cats = [cats]
        if not isinstance(cats, list | tuple):
            raise ConfigError(f"{field}.categories", cats, "must be a category or a list of them")
        self.categories = frozenset(choice(f"{field}.categories[{j}]", c, CATEGORIES, "category")
                                    for j, c in enumerate(cats))
        self.referral_prob = probability(f"{field}.referral_prob", cfg.get("referral_prob", 1.0))
        self.delay = duration(f"{field}.delay",
                                          cfg.get("delay", {"dist": "exponential", "mean_h": 6.0}))
        self.deadline_h = number(f"{field}.deadline_h", cfg.get("deadline_h", 1.0), lo=0.0,
                                 lo_open=True, unit="hours")
        self.compliance = probability(f"{field}.order_compliance", cfg.get("order_compliance", 1.0))
        self.priority = integer(f"{field}.priority", cfg.get("priority", PRIORITY["referral"]), lo=0)
        self._orders: dict[int, list[float]] = {}  # post id -> [issued, decided, removed at]

    def review_need(self) -> tuple[str, Any, bool] | None:
        return self.field, self.name, True  # the queue is taken at bind()

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.queue = require_review(sim, self.field, self.name)
        self._refer_key = subkey(key, _S_REFER)
        self._delay_key = subkey(key, _S_DELAY)
        self._decide_key = subkey(key, _S_DECIDE)

    def on_upload(self, post: Post) -> None:
        if post.category not in self.categories:
            return
        if uniform(self._refer_key, post.id, 0) >= self.referral_prob:
            return
        d = self.delay.sample(uniform(self._delay_key, post.id, 0))
        if post.upload_time + d >= self.sim.config.scenario.horizon_h:
            return
        if d == 0:
            self._refer(post)
        else:
            self.sim.env.timeout(d).callbacks.append(lambda _e: self._refer(post))

    def _refer(self, post: Post) -> None:
        if self.sim.is_removed(post):
            return  # already down: no order needed
        now = self.sim.env.now
        self._orders[post.id] = [now, math.nan, math.nan]
        self.queue.submit(post, "referral", self._decide, priority=self.priority,
                          deadline=now + self.deadline_h, round=_REFERRAL_ROUND,
                          on_done=self._done)

    def _decide(self, req: ReviewRequest) -> bool:
        return bool(uniform(self._decide_key, req.post.id, 0) < self.compliance)

    def _done(self, req: ReviewRequest) -> None:
        self._orders[req.post.id][1] = req.decided

    def on_removal(self, post: Post) -> None:
        o = self._orders.get(post.id)
        if o is not None and math.isnan(o[2]):
            o[2] = self.sim.env.now

    def order_table(self) -> dict[str, np.ndarray]:
        """One row per order: ``post_id``, ``issued_h``, ``deadline_h`` (absolute),
        ``decision_time_h`` and ``removal_time_h`` (NaN: not yet / never)."""
        ids = sorted(self._orders, key=lambda q: (self._orders[q][0], q))
        issued = np.array([self._orders[q][0] for q in ids], dtype=np.float64)
        return {
            "post_id": np.array(ids, dtype=np.int64),
            "issued_h": issued,
            "deadline_h": issued + self.deadline_h,
            "decision_time_h": np.array([self._orders[q][1] for q in ids], dtype=np.float64),
            "removal_time_h": np.array([self._orders[q][2] for q in ids], dtype=np.float64),
        }

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        return {"orders": self.order_table()}

    def summary(self) -> dict[str, float]:
        t = self.order_table()
        horizon = self.sim.config.scenario.horizon_h
        to_removal = t["removal_time_h"] - t["issued_h"]
        removed = ~np.isnan(to_removal)
        with np.errstate(invalid="ignore"):
            met = removed & (t["removal_time_h"] <= t["deadline_h"])
        due = t["deadline_h"] <= horizon
        return {
            "orders": float(len(to_removal)),
            "orders_met_share": _share(met[due]),
            "order_removed_share": _share(removed),
            "order_to_removal_median_h": _median(to_removal[removed]),
        }


class CircuitBreaker(Policy):
    """Throttle a post whose share velocity spikes and send it to review with priority.

    When a post collects ``threshold`` reshares within the last ``window_h`` hours, its reshare
    probability is multiplied by ``factor`` and it enters the shared review queue with
    ``priority``. The moderator removes an illegal post with probability ``removal_prob`` and a
    legal one with ``legal_removal_prob``; a post kept up is unthrottled and never trips again.
    Needs ``notice_and_takedown`` earlier in the stack (the moderators).

    Parameters
    ----------
    cfg : Mapping
        ``threshold`` (int >= 1, default 20), ``window_h`` (default 1), ``factor`` (in [0, 1],
        default 0.1), ``applies_to`` (``all`` (default; the breaker cannot tell legal posts apart)
        or ``illegal``), ``removal_prob`` (default 1), ``legal_removal_prob`` (default 0),
        ``priority`` (int >= 0, default 1).
    field : str
        The config path used in error messages.

    Notes
    -----
    Summary keys: ``trips``, ``trips_legal``, ``trips_removed``, ``trip_to_decision_median_h``.
    Table ``trips``.
    """

    name = "circuit_breaker"
    wants = frozenset({"share"})
    KEYS = ("name", "threshold", "window_h", "factor", "applies_to", "removal_prob",
            "legal_removal_prob", "priority")

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        check_keys(field, cfg, self.KEYS)
        self.threshold = integer(f"{field}.threshold", cfg.get("threshold", 20), lo=1)
        self.window_h = number(f"{field}.window_h", cfg.get("window_h", 1.0), lo=0.0, lo_open=True,
                               unit="hours")
        self.factor = probability(f"{field}.factor", cfg.get("factor", 0.1))
        self.applies_to = choice(f"{field}.applies_to", cfg.get("applies_to", "all"),
                                 ("all", "illegal"), "target")
        self.removal_prob = probability(f"{field}.removal_prob", cfg.get("removal_prob", 1.0))
        self.legal_removal_prob = probability(f"{field}.legal_removal_prob",
                                              cfg.get("legal_removal_prob", 0.0))
        self.priority = integer(f"{field}.priority",
                                cfg.get("priority", PRIORITY["circuit_breaker"]), lo=0)
        self._recent: dict[int, deque[float]] = {}
        self._done_posts: set[int] = set()
        self._trips: dict[int, list[Any]] = {}  # post id -> [time, category, decided, removed]

    def review_need(self) -> tuple[str, Any, bool] | None:
        return self.field, self.name, True  # the queue is taken at bind()

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.queue = require_review(sim, self.field, self.name)
        self._decide_key = subkey(key, _S_DECIDE)

    def on_share(self, post: Post, user: int, source: int) -> None:
        if post.id in self._done_posts:
            return
        if self.applies_to == "illegal" and post.category == LEGAL:
            return
        now = self.sim.env.now
        q = self._recent.setdefault(post.id, deque())
        q.append(now)
        while q and q[0] <= now - self.window_h:
            q.popleft()
        if len(q) >= self.threshold:
            self._done_posts.add(post.id)
            del self._recent[post.id]
            self.sim.throttle(post, self.factor)
            self._trips[post.id] = [now, post.category, math.nan, False]
            self.queue.submit(post, "circuit_breaker", self._decide, priority=self.priority,
                              round=_BREAKER_ROUND, on_done=self._done)

    def _decide(self, req: ReviewRequest) -> bool:
        p = self.legal_removal_prob if req.post.category == LEGAL else self.removal_prob
        return bool(uniform(self._decide_key, req.post.id, 0) < p)

    def _done(self, req: ReviewRequest) -> None:
        trip = self._trips[req.post.id]
        trip[2] = req.decided
        trip[3] = req.removed or self.sim.is_removed(req.post)
        if not trip[3]:
            self.sim.throttle(req.post, 1.0)

    def trip_table(self) -> dict[str, np.ndarray]:
        """One row per trip: ``post_id``, ``category``, ``trip_time_h``, ``decision_time_h``
        (NaN: not reviewed by the horizon), ``removed``."""
        ids = list(self._trips)
        return {
            "post_id": np.array(ids, dtype=np.int64),
            "category": np.array([self._trips[q][1] for q in ids], dtype=object),
            "trip_time_h": np.array([self._trips[q][0] for q in ids], dtype=np.float64),
            "decision_time_h": np.array([self._trips[q][2] for q in ids], dtype=np.float64),
            "removed": np.array([self._trips[q][3] for q in ids], dtype=bool),
        }

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        return {"trips": self.trip_table()}

    def summary(self) -> dict[str, float]:
        t = self.trip_table()
        dt = t["decision_time_h"] - t["trip_time_h"]
        return {
            "trips": float(len(dt)),
            "trips_legal": float((t["category"] == LEGAL).sum()),
            "trips_removed": float(t["removed"].sum()),
            "trip_to_decision_median_h": _median(dt[~np.isnan(dt)]),
        }
