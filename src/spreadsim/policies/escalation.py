"""Escalations to the shared review queue: authority referrals (removal orders) and the virality
circuit breaker.

Both send posts to the :class:`~spreadsim.policies.review.ReviewQueue` that
:class:`~spreadsim.policies.notice.NoticeAndTakedown` sets up (it sets the moderators), ahead of
ordinary notices: put ``notice_and_takedown`` first in the stack, then ``authority_referral`` and/or
``circuit_breaker``. Every coin comes from the policy's own stream, keyed by the post's content
and copy (:func:`~spreadsim.policies.base.post_uniform`; never its id, which shifts when an upload
is blocked or added).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from spreadsim.engine.records import Post
from spreadsim.engine.simulation import Simulation
from spreadsim.policies.base import Policy, post_uniform
from spreadsim.policies.review import (
    BREAKER_ROUND,
    REFERRAL_ROUND,
    S_DECIDE,
    S_DELAY,
    S_REFER,
    ReviewRequest,
    median_h,
    require_review,
    share,
)
from spreadsim.rng import subkey
from spreadsim.schema.model import LEGAL
from spreadsim.schema.policies import AuthorityReferralParams, CircuitBreakerParams

__all__ = ["AuthorityReferral", "CircuitBreaker"]


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
        The section :class:`~spreadsim.schema.policies.AuthorityReferralParams` declares:
        ``categories`` (a category or a list), ``referral_prob``, ``delay``, ``deadline_h``,
        ``order_compliance``, ``priority``.
    field : str
        The config path used in error messages.

    Notes
    -----
    Summary keys: ``orders``, ``orders_met_share`` (removed within the deadline, by any means,
    among orders whose deadline fell before the horizon), ``order_removed_share``,
    ``order_to_removal_median_h`` (over removed orders). Table ``orders``.
    """

    name = "authority_referral"
    params_class = AuthorityReferralParams
    params: AuthorityReferralParams
    removal_reasons = ("order",)

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        self.categories = frozenset(self.params.categories)
        self._orders: dict[int, list[float]] = {}  # post id -> [issued, decided, removed at]

    def review_need(self) -> tuple[str, Any, bool] | None:
        return self.field, self.name, True  # the queue is taken at bind()

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.queue = require_review(sim, self.field, self.name)
        self._refer_key = subkey(key, S_REFER)
        self._delay_key = subkey(key, S_DELAY)
        self._decide_key = subkey(key, S_DECIDE)

    def on_upload(self, post: Post) -> None:
        if post.category not in self.categories:
            return
        if post_uniform(self._refer_key, post, 0) >= self.params.referral_prob:
            return
        d = self.params.delay.sample(post_uniform(self._delay_key, post, 0))
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
        self.queue.submit(post, "referral", self._decide, priority=self.params.priority,
                          deadline=now + self.params.deadline_h, round=REFERRAL_ROUND,
                          on_done=self._done, cause=self.cause("order"))

    def _decide(self, req: ReviewRequest) -> bool:
        return bool(post_uniform(self._decide_key, req.post, 0) < self.params.order_compliance)

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
            "deadline_h": issued + self.params.deadline_h,
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
            "orders_met_share": share(met[due]),
            "order_removed_share": share(removed),
            "order_to_removal_median_h": median_h(to_removal[removed]),
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
        The section :class:`~spreadsim.schema.policies.CircuitBreakerParams` declares:
        ``threshold``, ``window_h``, ``factor``, ``applies_to`` (``all``: the breaker cannot tell
        legal posts apart; or ``illegal``), ``removal_prob``, ``legal_removal_prob``, ``priority``.
    field : str
        The config path used in error messages.

    Notes
    -----
    Summary keys: ``trips``, ``trips_legal``, ``trips_removed``, ``trip_to_decision_median_h``.
    Table ``trips``.
    """

    name = "circuit_breaker"
    wants = frozenset({"share"})
    params_class = CircuitBreakerParams
    params: CircuitBreakerParams
    removal_reasons = ("trip",)

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        self._recent: dict[int, deque[float]] = {}
        self._done_posts: set[int] = set()
        self._trips: dict[int, list[Any]] = {}  # post id -> [time, category, decided, removed]

    def review_need(self) -> tuple[str, Any, bool] | None:
        return self.field, self.name, True  # the queue is taken at bind()

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.queue = require_review(sim, self.field, self.name)
        self._decide_key = subkey(key, S_DECIDE)

    def on_share(self, post: Post, user: int, source: int) -> None:
        if post.id in self._done_posts:
            return
        p = self.params
        if p.applies_to == "illegal" and post.category == LEGAL:
            return
        now = self.sim.env.now
        q = self._recent.setdefault(post.id, deque())
        q.append(now)
        while q and q[0] <= now - p.window_h:
            q.popleft()
        if len(q) >= p.threshold:
            self._done_posts.add(post.id)
            del self._recent[post.id]
            self.sim.throttle(post, p.factor)  # (a probability: the schema checked it)
            self._trips[post.id] = [now, post.category, math.nan, False]
            self.queue.submit(post, "circuit_breaker", self._decide, priority=p.priority,
                              round=BREAKER_ROUND, on_done=self._done, cause=self.cause("trip"))

    def _decide(self, req: ReviewRequest) -> bool:
        p = self.params.legal_removal_prob if req.post.category == LEGAL else self.params.removal_prob
        return bool(post_uniform(self._decide_key, req.post, 0) < p)

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
            "trip_to_decision_median_h": median_h(dt[~np.isnan(dt)]),
        }
