"""Removal policies: one class each, a small set of hooks, validated at construction.

A policy watches the simulation through hooks and acts through it:

* hooks: :meth:`Policy.on_upload_attempt` (may block an upload), :meth:`Policy.on_upload`,
  :meth:`Policy.on_exposure`, :meth:`Policy.on_share`, :meth:`Policy.on_notice`,
  :meth:`Policy.on_reach_threshold`, :meth:`Policy.on_removal`, and :meth:`Policy.start` to launch
  SimPy processes of its own (moderators working a queue, a detector scanning, a hash database
  syncing);
* actions (methods of :class:`spreadsim.engine.simulation.Simulation`): ``remove_post`` (now,
  with the removal's cause: :meth:`Policy.cause` of one of the policy's ``removal_reasons``),
  ``schedule_removal`` (at a time), ``remove_copy`` (one copy, per_copy semantics),
  ``set_copy_clock`` (per-copy removal clocks), ``set_notices`` and
  ``set_notice_weights`` (which exposures file notices), ``add_reach_trigger``, ``throttle``,
  ``upload`` (re-uploads); queries ``is_removed``, ``removal_cause``, ``reach``, ``views``,
  ``shares``.

Exposure, share, notice and threshold hooks stop the compiled kernel (each becomes a SimPy event),
so a policy receives them only if it lists them in ``wants``; ``notice`` and ``threshold`` are
decided inside the kernel, so only the exposures that matter cost a SimPy event. Reading counts
during a run costs speed: ``needs_live_counts`` makes every exposure an event; a policy that only
wants ``threshold`` hooks gets a post's ``reach`` while that post has a pending trigger (add the
triggers at upload), after which its exposures leave the event queue again. Randomness comes
from the policy's own named stream (``self.key``), so adding a policy never shifts the spread's
draws.

Add a policy (docs/design.md, How to add a policy): declare its parameters as a section in
:mod:`spreadsim.schema.policies` (and in ``POLICY_PARAMS``; ``python -m spreadsim.schema.yaml``
then writes ``conf/policy/<name>.yaml``), subclass :class:`Policy` with its ``name`` and
``params_class`` (the instance then reads the checked section as ``self.params``), register it in
``spreadsim.policies.POLICIES``, and test it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spreadsim.dists import LATENCY_KINDS, latency_from_uniform
from spreadsim.engine.records import Attempt, Post
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError, DataError
from spreadsim.jit import njit
from spreadsim.rng import subkey, uniform
from spreadsim.schema.checks import INF_WORDS
from spreadsim.schema.fields import parse
from spreadsim.schema.model import ALL_CATEGORIES, LEGAL, ScenarioConfig
from spreadsim.schema.policies import FixedLatencyParams, LatencyDistributionParams, NoneParams


def post_uniform(key: int, post: Post | Attempt, counter: int) -> float:
    """Counter-based uniform of stream ``key`` that belongs to a post's content and copy.

    An original upload (copy 0) of content ``c`` draws ``uniform(key, c, counter)``; copy ``k`` of
    it draws from the sub-stream of ``c``. Post ids follow the order of uploads, which shifts when
    a policy adds or blocks re-uploads; content ids and copy numbers do not, so a draw keyed here
    stays with its post across runs that differ in another lever (common random numbers).
    """
    if post.copy == 0:
        return float(uniform(key, post.content_id, counter))
    return float(uniform(subkey(key, post.content_id), post.copy, counter))


def post_key(key: int, post: Post | Attempt) -> int:
    """The key of the sub-stream of stream ``key`` that belongs to a post's content and copy
    (``subkey(subkey(key, content_id), copy)``), for draws keyed by something else too (a user's
    notice coin: ``uniform(post_key(key, post), user, 0)``); like :func:`post_uniform`, it does
    not move when post ids do."""
    return int(subkey(subkey(key, post.content_id), post.copy))


class Policy:
    """Base class of removal policies.

    Parameters
    ----------
    cfg : Mapping
        The policy's config section (``name`` plus its parameters), checked against
        ``params_class`` into ``self.params`` (missing keys take the schema's defaults).
    field : str
        Dotted path of the section, used in error messages (``policy`` or ``policy[1]``).
    """

    name: ClassVar[str] = "base"
    #: the policy's schema section (:mod:`spreadsim.schema.policies`); None: no parameters read
    params_class: ClassVar[type | None] = None
    params: Any
    wants: ClassVar[frozenset[str]] = frozenset()
    #: set True if the policy reads ``sim.reach()``/``sim.views()`` while the run goes on
    needs_live_counts: ClassVar[bool] = False
    #: set True if the policy sets up the stack's shared review queue (the moderators)
    provides_review: ClassVar[bool] = False
    #: set True if the policy fixes every post's removal time at upload (the engine then counts
    #: exposures that trigger nothing as they are scheduled)
    pre_decided: ClassVar[bool] = False
    #: set True if the policy may remove single copies of a post (``Simulation.remove_copy``,
    #: ``per_copy`` semantics): the engine then runs every exposure through its event queue, so
    #: that a copy removed after its exposures were scheduled loses the ones still due
    removes_copies: bool = False
    #: why the policy removes posts: the reasons of its removal causes (:meth:`cause`)
    removal_reasons: tuple[str, ...] = ()
    #: ``policy<i>_<name>`` in the simulation's stack (set when it is bound), as the policy's
    #: summary keys and tables are named; the name alone before
    label: str = ""
    sim: Simulation
    key: int

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        self.field = field
        self.params = None if self.params_class is None else parse(self.params_class, cfg, field)

    def check_scenario(self, scenario: ScenarioConfig) -> Any:
        """Check the policy against the run's scenario, before any run (a sweep checks every job's
        policies this way before the first job starts); raise a one-line ConfigError if they
        cannot work together. Nothing to check by default."""
        return None

    def review_need(self) -> tuple[str, Any, bool] | None:
        """If the policy sends posts to the shared review queue: (field, value for the error
        message, whether the queue's policy must come before it in the stack); else None."""
        return None

    def bind(self, sim: Simulation, key: int) -> None:
        """Attach to a simulation; ``key`` is this policy's random stream."""
        self.sim = sim
        self.key = key

    def cause(self, reason: str) -> str:
        """The cause of a removal this policy makes for ``reason`` (one of its
        ``removal_reasons``): ``"<label>:<reason>"``, e.g. ``"policy0_fixed_latency:latency"``;
        recorded with the removal (``Simulation.remove_post``) and counted in the summary."""
        return f"{self.label or self.name}:{reason}"

    def causes(self) -> list[str]:
        """Every removal cause this policy can give."""
        return [self.cause(r) for r in self.removal_reasons]

    def start(self) -> None:
        """Start SimPy processes, if the policy has any (called once before the run)."""

    def on_upload_attempt(self, attempt: Attempt) -> bool:
        """An upload is about to happen; return ``False`` to block it (hash matching, suspension)."""
        return True

    def on_upload(self, post: Post) -> None:
        """A post was uploaded (``sim.env.now`` is its upload time)."""

    def on_exposure(self, post: Post, user: int, source: int) -> None:
        """``user`` saw ``post`` for the first time, via the share of ``source``."""

    def on_share(self, post: Post, user: int, source: int) -> None:
        """``user`` reshared ``post``."""

    def on_notice(self, post: Post, user: int, source: int = -1) -> None:
        """``user``, exposed to ``post`` through the copy that ``source`` shared (the uploader's:
        the upload itself; -1: not known), filed a notice (see ``Simulation.set_notices``)."""

    def on_reach_threshold(self, post: Post, reach: int) -> None:
        """``post``'s reach reached a trigger set with ``Simulation.add_reach_trigger``."""

    def on_removal(self, post: Post) -> None:
        """``post`` was removed (by any policy)."""

    def summary(self) -> dict[str, float]:
        """Policy statistics for the run summary (queue waits, orders met, ...)."""
        return {}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        """Policy tables for ``RunResult.tables`` (name -> columns of equal length)."""
        return {}


#: the errors of a policy stack's review queue (raised by check_stack and, at bind time, by the
#: engine and the queue's policy)
NEEDS_QUEUE = ("needs a review queue: put notice_and_takedown (which sets the moderators) before "
               "it in the policy stack")
ONE_QUEUE = "only one policy in the stack may set the moderators (the review queue is shared)"


def check_stack(policies: Sequence[Policy]) -> None:
    """The rules of a policy stack that binding it to a simulation enforces, checked on the
    policies alone (so that a sweep can fail before any job): one policy sets the moderators, and
    every policy that sends posts to review has that policy in the stack (before it, for those
    that take the queue when they are bound).

    Raises
    ------
    ConfigError
        The message :func:`spreadsim.policies.review.require_review` or the review queue's policy gives.
    """
    providers = [i for i, p in enumerate(policies) if p.provides_review]
    if len(providers) > 1:
        p = policies[providers[1]]
        raise ConfigError(f"{p.field}.name", p.name, ONE_QUEUE)
    for i, p in enumerate(policies):
        need = p.review_need()
        if need is None:
            continue
        field, who, before = need
        if not providers or (before and providers[0] > i):
            raise ConfigError(field, who, NEEDS_QUEUE)


class NoPolicy(Policy):
    """Nothing is ever removed: the unmoderated baseline."""

    name = "none"
    params_class = NoneParams


# --------------------------------------------------------------------------- pre-decided removal


class _Rule:
    """Latency distribution and removal probability for one category."""

    __slots__ = ("kind", "a", "b", "prob", "table")

    def __init__(self, kind: int, a: float, b: float, prob: float, table: np.ndarray) -> None:
        self.kind, self.a, self.b, self.prob, self.table = kind, a, b, prob, table


#: the sub-stream of a pre-decided policy's key that its per-copy clocks draw from
S_COPY_CLOCKS = 1


class PreDecidedRemoval(Policy):
    """Base of policies that fix each post's removal time at upload (a latency and a coin).

    In ``cascade`` semantics the post is removed ``latency`` after upload with probability
    ``removal_prob``; in ``per_copy`` semantics every share gets its own clock: the copy is
    removed ``latency`` after it was shared, with probability ``removal_prob``, drawn per copy
    from this policy's own stream (content, copy and sharer; see :meth:`on_upload`).
    Stacked with other removals, the earliest wins (the post's under ``cascade``, each copy's
    clocks under ``per_copy``), whatever the order of the stack. ``categories`` overrides the
    parameters per category; ``applies_to`` chooses whether legal posts are subject to the rule
    (default: illegal posts only).
    """

    pre_decided = True
    params: FixedLatencyParams | LatencyDistributionParams
    #: removed ``latency`` after upload (cascade; per_copy clocks remove copies, not posts)
    removal_reasons = ("latency",)

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        self.applies_to = self.params.applies_to
        base = self._rule(field, self.params)
        self.rules: dict[str, _Rule] = dict.fromkeys(ALL_CATEGORIES, base)
        for cat in self.params.categories:
            self.rules[cat] = self._rule(f"{field}.categories.{cat}", self.params.for_category(cat))

    def _rule(self, field: str, p: Any) -> _Rule:  # pragma: no cover - abstract
        raise NotImplementedError

    def applies(self, post: Post) -> bool:
        return self.applies_to == "all" or post.category != LEGAL

    def latency(self, post: Post) -> float:
        """This post's removal latency (hours; ``inf`` if it is never removed): the coin
        ``post_uniform(key, post, 0) < removal_prob``, then the latency's quantile
        ``post_uniform(key, post, 1)``. A subclass may override it; the engine and the deadline
        path both take every cascade removal time from :meth:`removal_time`, which calls it."""
        r = self.rules[post.category]
        if post_uniform(self.key, post, 0) >= r.prob:
            return math.inf
        return float(latency_from_uniform(r.kind, r.a, r.b, r.table, post_uniform(self.key, post, 1)))

    def removal_time(self, post: Post) -> float:
        """When this policy removes ``post`` under ``cascade`` (hours; ``inf``: never): upload
        time plus :meth:`latency` for a post it :meth:`applies` to. The one home of that
        arithmetic: :meth:`on_upload` schedules it, the deadline path
        (:class:`spreadsim.runs.deadline.DeadlineTrace`) reads it through :meth:`removal_times`."""
        if not self.applies(post):
            return math.inf
        return post.upload_time + self.latency(post)

    def removal_times(self, posts: Sequence[Post]) -> np.ndarray:
        """:meth:`removal_time` of every post (the policy must have its key: bound, or ``key``
        set). While :meth:`latency`, :meth:`applies` and :meth:`removal_time` are this class's,
        the same draws and arithmetic run vectorised (compiled) over the posts; a subclass that
        overrides any of them gets its own method called post by post."""
        cls = type(self)
        if (cls.latency is not PreDecidedRemoval.latency or cls.applies is not PreDecidedRemoval.applies
                or cls.removal_time is not PreDecidedRemoval.removal_time):
            return np.array([self.removal_time(p) for p in posts], dtype=np.float64)
        n = len(posts)
        content = np.fromiter((p.content_id for p in posts), dtype=np.int64, count=n)
        copy = np.fromiter((p.copy for p in posts), dtype=np.int64, count=n)
        t0 = np.fromiter((p.upload_time for p in posts), dtype=np.float64, count=n)
        category = np.array([p.category for p in posts], dtype=object)
        coin = _post_uniforms(self.key, content, copy, 0)
        u = _post_uniforms(self.key, content, copy, 1)
        at = np.full(n, math.inf)
        for cat, r in self.rules.items():
            if cat == LEGAL and self.applies_to != "all":
                continue
            sel = (category == cat) & (coin < r.prob)
            if sel.any():
                at[sel] = t0[sel] + _latencies(r.kind, r.a, r.b, r.table, u[sel])
        return at

    def on_upload(self, post: Post) -> None:
        if not self.applies(post):
            return
        r = self.rules[post.category]
        if self.sim.per_copy:
            # the clocks' draws: this policy's sub-stream of the post's content and copy, keyed
            # by the sharer (set_copy_clock), so that they move with no other stream
            self.sim.set_copy_clock(post, r.kind, r.a, r.b, r.prob, r.table,
                                    key=post_key(subkey(self.key, S_COPY_CLOCKS), post))
        else:
            at = self.removal_time(post)
            if not math.isinf(at):
                self.sim.schedule_removal(post, at, self.cause("latency"))


@njit(cache=True)
def _post_uniforms(key: int, content: np.ndarray, copy: np.ndarray,
                   counter: int) -> np.ndarray:  # pragma: no cover
    """:func:`post_uniform` for arrays of posts (content ids and copy numbers)."""
    out = np.empty(content.shape[0])
    for i in range(content.shape[0]):
        if copy[i] == 0:
            out[i] = uniform(key, content[i], counter)
        else:
            out[i] = uniform(subkey(key, content[i]), copy[i], counter)
    return out


@njit(cache=True)
def _latencies(kind: int, a: float, b: float, table: np.ndarray,
               u: np.ndarray) -> np.ndarray:  # pragma: no cover
    """``latency_from_uniform`` for an array of quantiles."""
    out = np.empty(u.shape[0])
    for i in range(u.shape[0]):
        out[i] = latency_from_uniform(kind, a, b, table, u[i])
    return out


class FixedLatency(PreDecidedRemoval):
    """Every post (of the targeted categories) is removed exactly ``latency_h`` after upload.

    ``latency_h: inf`` (or ``never``) removes nothing; ``removal_prob`` < 1 leaves the rest up.
    """

    name = "fixed_latency"
    params_class = FixedLatencyParams

    def _rule(self, field: str, p: FixedLatencyParams) -> _Rule:
        return _fixed_rule(p.latency_h, p.removal_prob)


_EMPTY = np.zeros(1, dtype=np.float64)


def _fixed_rule(latency_h: float, prob: float) -> _Rule:
    kind = LATENCY_KINDS["never"] if math.isinf(latency_h) else LATENCY_KINDS["fixed"]
    return _Rule(kind, latency_h, 0.0, prob, _EMPTY)


class LatencyDistribution(PreDecidedRemoval):
    """Removal latency drawn per post from a distribution.

    ``dist: exponential`` with ``half_life_h`` (half of the removed posts are down within the
    half-life); ``dist: lognormal`` with ``median_h`` and ``sigma``; ``dist: fixed`` with
    ``latency_h``; ``dist: empirical`` with ``path`` to a CSV of observed delays in hours and the
    ``column`` to read (the inverse empirical CDF is sampled; values must be finite and >= 0).
    """

    name = "latency_distribution"
    params_class = LatencyDistributionParams

    def _rule(self, field: str, p: LatencyDistributionParams) -> _Rule:
        # the schema checked that the chosen dist's parameters are given (not None)
        if p.dist == "exponential":
            assert p.half_life_h is not None
            return _Rule(LATENCY_KINDS["exponential"], p.half_life_h, 0.0, p.removal_prob, _EMPTY)
        if p.dist == "lognormal":
            assert p.median_h is not None and p.sigma is not None
            return _Rule(LATENCY_KINDS["lognormal"], p.median_h, p.sigma, p.removal_prob, _EMPTY)
        if p.dist == "fixed":
            assert p.latency_h is not None
            return _fixed_rule(p.latency_h, p.removal_prob)
        table = read_delays(p.path, p.column, f"{field}.path")
        return _Rule(LATENCY_KINDS["empirical"], 0.0, 0.0, p.removal_prob, table)


def read_delays(path: Any, column: Any, field: str) -> np.ndarray:
    """Read observed removal delays (hours) from one column of a CSV file, sorted ascending.

    Plain text parsing only (no code is ever executed from a data file). Every value must be a
    finite number >= 0; ``inf``/``never`` marks a post that was never removed.
    """
    p = Path(str(path))
    if not p.is_file():
        raise ConfigError(field, str(path), "file not found")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"delay file {p}: looks binary (not UTF-8 text)") from None
    if "\x00" in text:
        raise DataError(f"delay file {p}: looks binary (NUL bytes)")
    # keep the file's own line numbers: comment and blank lines are skipped, not renumbered
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise DataError(f"delay file {p}: empty")
    rows = list(csv.reader(line for _, line in numbered))
    header = rows[0]
    col = column if column is not None else header[0]
    if col not in header:
        raise ConfigError(field.rsplit(".", 1)[0] + ".column", col,
                          f"not a column of {p}; columns: {', '.join(header)}")
    j = header.index(col)
    vals = []
    for (i, _), row in zip(numbered[1:], rows[1:], strict=True):
        s = row[j].strip() if j < len(row) else ""
        try:
            x = math.inf if s.lower() in INF_WORDS else float(s)
        except ValueError:
            raise DataError(f"delay file {p} line {i}: {col} = {s!r} is not a number") from None
        if math.isnan(x) or x < 0:
            raise DataError(f"delay file {p} line {i}: {col} = {s!r}: delays must be >= 0 hours")
        vals.append(x)
    if not vals:
        raise DataError(f"delay file {p}: no delays in column {col!r}")
    return np.sort(np.asarray(vals, dtype=np.float64))


__all__ = ["Policy", "NoPolicy", "PreDecidedRemoval", "FixedLatency", "LatencyDistribution",
           "read_delays", "post_uniform", "post_key", "check_stack", "NEEDS_QUEUE", "ONE_QUEUE"]
