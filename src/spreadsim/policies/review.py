"""The human review queue: M moderators (SimPy processes) working a priority queue.

Notices, trusted-flagger notices, authority referrals, automated detections and circuit-breaker
trips all become :class:`ReviewRequest` s in one :class:`ReviewQueue`. Lower ``priority`` numbers
are served first; within a priority, first come first served. A moderator takes the next request,
spends a review time on it (drawn by inverse CDF from the queue's own stream, keyed by the post and
its review round, so two runs that differ only in head-count review each post at the same speed),
then the request's ``decide`` callback says whether the post comes down. A request for a post that
is already removed is dropped at no cost.

Shifts: with ``shifts`` set, moderators only start a review inside the daily working hours
``[start_h, end_h)`` (``end_h < start_h``: a shift that crosses midnight); a review that runs past
the end of the shift is finished. Off shift a moderator takes nothing from the queue: requests wait
there, in priority order, and the first moderators on shift take the first of them.

Statistics: waits (request to start of review), decision times (request to decision), queue length
over time, moderator utilisation (busy time over the time moderators were on shift).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from spreadsim.dists import Duration
from spreadsim.engine.records import Post
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.policies.base import NEEDS_QUEUE, post_uniform
from spreadsim.schema.policies import MAX_MODERATORS, PRIORITY

# review rounds of the queue's review-time draws for referrals and trips, apart from the notice
# rounds 0, 1, 2, ...
REFERRAL_ROUND = 1 << 20
BREAKER_ROUND = 1 << 21
# sub-streams of a moderation policy's key (notice_and_takedown, authority_referral, circuit_breaker)
S_QUEUE, S_TRUSTED, S_DECIDE, S_NOTICE, S_DELAY, S_REFER = range(6)


@dataclass(order=True)
class ReviewRequest:
    """One request to review a post. Ordered by (priority, arrival number)."""

    priority: int
    seq: int
    post: Post = field(compare=False)
    source: str = field(compare=False)
    created: float = field(compare=False)
    decide: Callable[[ReviewRequest], bool] = field(compare=False)
    deadline: float = field(default=math.inf, compare=False)
    round: int = field(default=0, compare=False)
    on_done: Callable[[ReviewRequest], None] | None = field(default=None, compare=False)
    # what a decision to remove takes down (None: the post, ``Simulation.remove_post``)
    take_down: Callable[[ReviewRequest], None] | None = field(default=None, compare=False)
    # the cause a removal on this request records (``Policy.cause``; "review:<source>" if none)
    cause: str = field(default="", compare=False)
    started: float = field(default=math.nan, compare=False)
    decided: float = field(default=math.nan, compare=False)
    removed: bool = field(default=False, compare=False)
    dropped: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Shifts:
    """Daily working hours: reviews start only in [start_h, end_h) of each 24 h day; with
    ``end_h < start_h`` the shift crosses midnight (it ends at ``end_h`` the next day)."""

    start_h: float
    end_h: float

    @property
    def length(self) -> float:
        """Hours of one shift."""
        return (self.end_h - self.start_h) % 24.0 or 24.0

    def _start_of(self, t: float) -> float:
        """The start of the latest shift that started at or before ``t``."""
        start = math.floor(t / 24.0) * 24.0 + self.start_h
        return start if start <= t else start - 24.0

    def on_shift(self, t: float) -> bool:
        """Whether ``t`` is inside a shift."""
        return t < self._start_of(t) + self.length

    def next_start(self, t: float) -> float:
        """The earliest time >= t inside a shift."""
        return t if self.on_shift(t) else self._start_of(t) + 24.0

    def shift_end(self, t: float) -> float:
        """The end of the shift that ``t`` is in (``t`` on shift)."""
        return self._start_of(t) + self.length

    def on_shift_between(self, a: float, b: float) -> float:
        """Hours of shift time within [a, b]."""
        total = 0.0
        start = self._start_of(a)
        while start < b:
            total += max(0.0, min(b, start + self.length) - max(a, start))
            start += 24.0
        return total


class ReviewQueue:
    """A review queue with ``moderators`` reviewers; see the module docstring.

    Parameters
    ----------
    sim : Simulation
    moderators : int
        Number of reviewers (>= 1).
    review_time : Duration
        Time one review takes.
    key : int
        Random stream of the review times.
    shifts : Shifts, optional
        Daily working hours; reviewers work around the clock if omitted.
    """

    def __init__(self, sim: Simulation, moderators: int, review_time: Duration, key: int,
                 shifts: Shifts | None = None) -> None:
        self.sim = sim
        self.env = sim.env
        self.moderators = moderators
        self.review_time = review_time
        self.shifts = shifts
        self.key = key
        self.store = simpy.PriorityStore(self.env)
        self._seq = itertools.count()
        self.requests: list[ReviewRequest] = []
        self.length_log: list[tuple[float, int]] = [(0.0, 0)]
        self.busy = 0.0
        for i in range(moderators):
            self.env.process(self._worker(i))

    def submit(self, post: Post, source: str, decide: Callable[[ReviewRequest], bool], *,
               priority: int | None = None, deadline: float = math.inf, round: int = 0,
               on_done: Callable[[ReviewRequest], None] | None = None,
               take_down: Callable[[ReviewRequest], None] | None = None,
               cause: str | None = None) -> ReviewRequest:
        """Queue a review of ``post``; ``decide(request)`` returns True to remove it, and then
        ``take_down(request)`` removes what the decision takes down (default: the post). A removal
        records ``cause``: the requesting policy's (``Policy.cause``); ``"review:<source>"`` if
        none is given."""
        req = ReviewRequest(PRIORITY.get(source, 2) if priority is None else priority,
                            next(self._seq), post, source, self.env.now, decide, deadline, round,
                            on_done, take_down, cause or f"review:{source}")
        self.requests.append(req)
        self.store.put(req)
        self._log_length()
        return req

    def withdraw(self, req: ReviewRequest) -> bool:
        """Take a waiting request out of the queue (to resubmit it with another priority).

        Returns False if a moderator already holds it. A withdrawn request is marked ``dropped``
        and its ``on_done`` is not called.
        """
        try:
            self.store.items.remove(req)
        except ValueError:
            return False
        heapq.heapify(self.store.items)
        req.dropped = True
        self._log_length()
        return True

    def _log_length(self) -> None:
        self.length_log.append((self.env.now, len(self.store.items)))

    def _take(self) -> Any:
        """The next request for a moderator, taken only while on shift (a SimPy process step:
        yields events, returns the request or None if the shift ended first)."""
        shifts, env = self.shifts, self.env
        if shifts is None:
            req = yield self.store.get()
            return req
        start = shifts.next_start(env.now)
        if start > env.now:
            yield env.timeout(start - env.now)
        get = self.store.get()
        end = env.timeout(shifts.shift_end(env.now) - env.now)
        yield get | end
        if not get.triggered:
            get.cancel()  # the shift ended: the requests wait in the queue
            return None
        req = get.value
        if not shifts.on_shift(env.now):  # taken as the shift ended: back into the queue
            self.store.put(req)
            return None
        return req

    def _worker(self, i: int) -> Any:
        while True:
            req = yield from self._take()
            if req is None:
                continue
            self._log_length()
            if self.sim.is_removed(req.post):
                req.dropped = True
                req.decided = self.env.now
                if req.on_done is not None:
                    req.on_done(req)
                continue
            req.started = self.env.now
            dt = self.review_time.sample(post_uniform(self.key, req.post, req.round))
            self.busy += dt
            yield self.env.timeout(dt)
            req.decided = self.env.now
            req.removed = bool(req.decide(req))
            if req.removed:
                if req.take_down is None:
                    self.sim.remove_post(req.post, req.cause)
                else:
                    req.take_down(req)
            if req.on_done is not None:
                req.on_done(req)

    def stats(self, horizon: float) -> dict[str, float]:
        """Summary statistics of the queue over [0, horizon]."""
        started = [r for r in self.requests if not math.isnan(r.started)]
        waits = np.array([r.started - r.created for r in started])
        decided = [r for r in self.requests if not math.isnan(r.decided)]
        dec = np.array([r.decided - r.created for r in decided])
        on_shift = horizon if self.shifts is None else self.shifts.on_shift_between(0.0, horizon)
        lengths = np.array([n for _, n in self.length_log])
        return {
            "requests": float(len(self.requests)),
            "reviewed": float(len(started)),
            "wait_mean_h": float(waits.mean()) if waits.size else math.nan,
            "decision_time_median_h": float(np.median(dec)) if dec.size else math.nan,
            "queue_length_max": float(lengths.max()) if lengths.size else 0.0,
            "utilisation": float(min(self.busy, self.moderators * on_shift) /
                                 (self.moderators * on_shift)) if on_shift > 0 else math.nan,
        }


def require_review(sim: Simulation, field_name: str, who: str) -> ReviewQueue:
    """The stack's shared review queue, or a one-line error if no policy in the stack provides one."""
    if sim.review is None:
        raise ConfigError(field_name, who, NEEDS_QUEUE)
    queue: ReviewQueue = sim.review
    return queue


def median_h(x: np.ndarray) -> float:
    """The median of some times (hours), NaN if there are none."""
    return float(np.median(x)) if x.size else math.nan


def share(x: np.ndarray) -> float:
    """The share of true values, NaN if there are none."""
    return float(x.mean()) if x.size else math.nan


__all__ = ["ReviewQueue", "ReviewRequest", "Shifts", "require_review", "MAX_MODERATORS", "PRIORITY",
           "REFERRAL_ROUND", "BREAKER_ROUND", "median_h", "share"]
