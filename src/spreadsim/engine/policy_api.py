"""What policies read and do during a run: the queries and actions of a simulation.

:class:`PolicyApi` is a base class of :class:`spreadsim.engine.simulation.Simulation`; its methods
read and write the simulation's state (the kernel's per-post tables, the removals, the reach
triggers) and are the only part of it that :mod:`spreadsim.policies` calls besides ``upload``,
``new_content_id`` and the simulation's attributes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from spreadsim.engine import kernel as K
from spreadsim.engine.records import Post
from spreadsim.errors import ConfigError
from spreadsim.graphs import Graph
from spreadsim.schema.config import SimConfig


class PolicyApi:
    """Queries and actions on a running simulation (set up by the simulation and its
    :class:`~spreadsim.engine.workspace.Workspace`)."""

    config: SimConfig
    graph: Graph
    env: simpy.Environment
    policies: list[Any]
    removals: list[tuple[float, int, str]]
    copy_removals: list[tuple[float, int, int, str]]
    _causes: dict[int, str]
    per_copy: bool
    exact_copies: bool
    replaced: dict[int, int]
    live_reach: bool
    live_views: bool
    _advances: int
    _reach_frozen: dict[int, int]
    _triggers: dict[int, list[int]]
    _work: K.Work
    _state: Any  # the one row of _work.state: named settings and counters
    _n_clocks: int
    if TYPE_CHECKING:
        def _set(self, **arrays: np.ndarray) -> None:
            """Replace work arrays (:meth:`~spreadsim.engine.workspace.Workspace._set`)."""

    # ------------------------------------------------------------------ queries
    def account(self, user: int) -> int:
        """The account ``user`` uploads from now: itself, or the account that replaced it after a
        suspension (following ``replaced`` to its end)."""
        for _ in range(len(self.replaced) + 1):
            if user not in self.replaced:
                break
            user = self.replaced[user]
        return user

    def is_removed(self, post: Post) -> bool:
        """Whether ``post`` has been removed (as of now)."""
        return bool(self._work.pf[post.id, K.PF_REMOVED] <= self.env.now)

    def reach(self, post: Post) -> int:
        """Distinct users exposed to ``post`` so far (during a run: needs a policy that wants
        exposure hooks or ``needs_live_counts``, or, with reach-threshold hooks only, a post
        whose reach is still counted live: one with a pending reach trigger)."""
        if not self.live_reach:
            raise RuntimeError("reach() during a run needs live counts: give the policy "
                               "needs_live_counts = True (or wants 'threshold')")
        if self._reach_frozen.get(post.id, self._advances) != self._advances:
            raise RuntimeError(f"reach() of post {post.id} during a run: with reach-threshold hooks "
                               "only, a post's reach is counted live while it has a pending reach "
                               "trigger (add triggers at upload); give the policy needs_live_counts "
                               "= True or want 'exposure' hooks to read it at any time")
        return int(self._work.pi[post.id, K.PI_REACH])

    def views(self, post: Post) -> int:
        """Exposures of ``post`` so far (during a run: needs a policy with
        ``needs_live_counts``)."""
        if not self.live_views:
            raise RuntimeError("views() during a run needs live counts: give the policy "
                               "needs_live_counts = True")
        return int(self._work.pi[post.id, K.PI_VIEWS])

    def shares(self, post: Post) -> int:
        """Reshares of ``post`` so far."""
        return int(self._work.pi[post.id, K.PI_SHARES])

    # ------------------------------------------------------------------ actions
    def removal_cause(self, post: Post) -> str | None:
        """The cause of ``post``'s removal (``"<policy label>:<reason>"``, see
        :meth:`spreadsim.policies.base.Policy.cause`), or ``None`` while it is up."""
        return self._causes.get(post.id) if self.is_removed(post) else None

    def remove_post(self, post: Post, cause: str) -> None:
        """Remove ``post`` now (cascade: every share of it goes with it); ``cause`` says which
        policy removed it and why (``Policy.cause(reason)``). A post already removed stays as it
        was (its first removal and cause)."""
        self._remove(post, self.env.now, cause)

    def _remove(self, post: Post, at: float, cause: str) -> None:
        if self._work.pf[post.id, K.PF_REMOVED] <= at:
            return  # already removed
        # exposures are checked against this time when they fire, so recording the exact
        # scheduled time (rather than the clock's float sum) keeps results path-independent
        self._work.pf[post.id, K.PF_REMOVED] = at
        self._work.pf[post.id, K.PF_CUT] = K.removal_cut(at)  # what exposures are compared with
        self.removals.append((at, post.id, cause))
        self._causes[post.id] = cause
        for p in self.policies:
            p.on_removal(post)

    def remove_copy(self, post: Post, sharer: int, cause: str) -> None:
        """Remove now the copy of ``post`` that ``sharer`` shared (the uploader: the upload's own
        copy): its exposures still due never happen (the tie rule applies), the post's other
        copies stay up. Under ``cascade`` a copy is the post: the post is removed. Under
        ``per_copy`` it needs a policy with ``removes_copies`` in the stack (the engine then
        keeps every exposure in its event queue)."""
        if not self.per_copy:
            self.remove_post(post, cause)
            return
        if not self.exact_copies:
            raise RuntimeError("remove_copy under per_copy needs a policy with removes_copies = "
                               "True in the stack")
        at = self.env.now
        if self.is_removed(post) or any(q == post.id and s == sharer for _, q, s, _ in self.copy_removals):
            return  # already down
        self.copy_removals.append((at, post.id, int(sharer), cause))
        K.cap_copy_deadline(self._work, post.id, int(sharer), float(at))

    def schedule_removal(self, post: Post, at: float, cause: str) -> None:
        """Remove ``post`` at time ``at`` (hours; no earlier than now) for ``cause`` (as
        :meth:`remove_post`). Removals due at the same time happen in the order they were
        scheduled: the first one is the post's."""
        if at <= self.env.now:
            self.remove_post(post, cause)
            return
        if at >= self.config.scenario.horizon_h:
            return  # after the end of the simulation: never observed
        # an upper bound on the removal time: spread events at or after it can be dropped early
        self._work.pf[post.id, K.PF_LIMIT] = min(self._work.pf[post.id, K.PF_LIMIT], K.removal_cut(at))
        self.env.timeout(at - self.env.now).callbacks.append(lambda _e: self._remove(post, at, cause))

    def set_copy_clock(self, post: Post, kind: int, a: float, b: float, prob: float,
                       table: np.ndarray, *, key: int) -> None:
        """Per-copy semantics: give every share of ``post`` a removal clock: with probability
        ``prob`` the copy is removed a latency of ``kind`` (parameters ``a``, ``b``; ``table``:
        the sorted delays of ``empirical``) after it was shared. The draws are
        ``uniform(key, sharer, 0)`` (the latency's quantile) and ``uniform(key, sharer, 1)`` (the
        coin): ``key`` is the calling policy's own, so that no other stream (the spread's, another
        policy's) moves a clock, nor a clock the spread. Clocks stack: a post may get one from each
        policy, and a copy is removed at the earliest of them, whatever order they
        were set in."""
        if kind == 0:
            return  # never
        w = self._work
        if table.size > 1:
            if w.lat_table.size > 1 and not np.array_equal(w.lat_table, table):
                raise ConfigError("policy", "empirical", "one empirical delay table per simulation "
                                  "in per_copy semantics")
            self._set(lat_table=np.ascontiguousarray(table, dtype=np.float64))
        if w.first.shape[0] == 1:  # keep the copies' deadlines from now on
            self._set(first=np.vstack([w.first, np.full_like(w.first, math.inf)]))
        c = self._n_clocks
        if c == w.clock_f.shape[0]:
            self._set(clock_f=np.concatenate([w.clock_f, np.zeros_like(w.clock_f)]),
                      clock_i=np.concatenate([w.clock_i, np.zeros_like(w.clock_i)]))
        w = self._work
        w.clock_f[c] = (a, b, prob)
        # linked from the post's first clock (the order does not matter: the earliest wins)
        w.clock_i[c] = (kind, key, w.pi[post.id, K.PI_CLOCKS] - 1)
        self._work.pi[post.id, K.PI_CLOCKS] = c + 1
        self._n_clocks = c + 1

    def set_notices(self, post: Post, prob: float, key: int) -> None:
        """Each first exposure to ``post`` files a notice with probability ``prob`` (times the
        user's notice weight), decided by the counter-based coin of stream ``key``."""
        self._notice_weights()
        self._work.pf[post.id, K.PF_NOTICE_P] = prob
        self._work.pi[post.id, K.PI_NOTICE_KEY] = key

    def set_notice_weights(self, users: np.ndarray, weight: float) -> None:
        """Multiply the notice probability of ``users`` by ``weight`` (a user group)."""
        self._notice_weights()[np.asarray(users, dtype=np.int64)] = weight

    def _notice_weights(self) -> np.ndarray:
        """The per-user notice weights, made full size (all 1) on first use."""
        if self._work.notice_weight.shape[0] != self.graph.n:
            self._set(notice_weight=np.ones(self.graph.n, dtype=np.float64))
        return self._work.notice_weight

    def add_reach_trigger(self, post: Post, reach: int) -> None:
        """Call ``on_reach_threshold`` when ``post``'s reach reaches ``reach`` users."""
        lst = self._triggers.setdefault(post.id, [])
        if reach > self.reach(post) and reach not in lst:
            lst.append(reach)
            lst.sort()
        self._work.pi[post.id, K.PI_REACH_TRIGGER] = lst[0] if lst else 0
        if lst:
            self._reach_frozen.pop(post.id, None)  # counted live again from now on

    def _next_trigger(self, post: Post) -> None:
        lst = self._triggers.get(post.id, [])
        while lst and lst[0] <= self.reach(post):
            lst.pop(0)
        self._work.pi[post.id, K.PI_REACH_TRIGGER] = lst[0] if lst else 0
        if not lst:
            self._freeze_reach(post)

    def _freeze_reach(self, post: Post) -> None:
        """With reach counted live only for posts with a pending trigger (``state.trigger_live``),
        ``post`` has none left: its reach stays exact only until the kernel advances."""
        if self._state.trigger_live:
            self._reach_frozen[post.id] = self._advances

    def throttle(self, post: Post, factor: float, *, field: str = "throttle.factor") -> None:
        """Scale ``post``'s reshare probability by ``factor`` (in [0, 1]) from now on; 1 undoes
        a throttle.

        A throttle only lowers the probability: the kernel decides when it schedules an
        exposure whether it may lead to a reshare, from the post's reshare probability then
        (:func:`spreadsim.engine.kernel.scheduling._share`), so a factor raised later would lose
        reshares of exposures already scheduled as inert.

        Raises
        ------
        ConfigError
            ``factor`` is not a number in [0, 1]; the message names ``field`` (the policy's
            config field the factor came from).
        """
        if not 0.0 <= factor <= 1.0:  # (NaN too)
            raise ConfigError(field, factor, "must be a number in [0, 1]: a throttle only lowers "
                              "the reshare probability")
        self._work.pf[post.id, K.PF_SCALE] = factor
