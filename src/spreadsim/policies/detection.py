"""Automated detection: a classifier scans posts and removes them or sends them to human review.

A scan happens at upload (``at_upload``) and/or when a post's reach reaches each of
``reach_thresholds`` (a detector that only looks at content once it has spread). A scan flags an
illegal post of category ``c`` with probability ``recall`` (per category), and a legal post with
the false-positive probability below. A flagged post is acted on ``delay`` after the scan: removed
outright (``action: remove``) or queued for human review (``action: review``, with ``priority``;
needs the review queue of a ``notice_and_takedown`` policy earlier in the stack). A post that is
removed, or flagged and waiting for its action, is not scanned again.

Precision calibration
---------------------
``precision`` is the share of the detector's flags that are illegal content, as a platform would
report it. The simulation turns it into a false-positive probability per scan of a legal post from
the scenario's expected counts: with ``N_c`` the expected number of posts of category ``c``
(``scenario.illegal_posts`` times the category's weight share) and ``N_legal`` =
``scenario.legal_posts``, flags of category ``c`` are expected at ``recall_c * N_c`` true and
``recall_c * N_c * (1 - precision_c) / precision_c`` false, so

    fpr = sum_c recall_c * N_c * (1 - precision_c) / (precision_c * N_legal).

With one scan per post (``at_upload`` only, no earlier removal) the measured precision of flags
and removals is then the configured one in expectation. Re-uploads (more illegal posts than
expected) raise it; reach thresholds, which legal and illegal posts reach at different rates,
move it either way: the summary reports the measured figure. ``fpr`` above 1, or ``precision`` < 1
with no legal posts to misflag, is a configuration error naming ``precision``.

Human review (``action: review``) removes an illegal post and keeps a legal one, except with
probability ``review_error`` (the reviewer gets it wrong).

Randomness: every coin and delay is a counter-based uniform of the policy's stream keyed by the
post's content id, copy number and scan number (:func:`~spreadsim.policies.base.post_uniform`), so runs
that differ in another lever scan each post with the same coins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from spreadsim.engine.records import Post
from spreadsim.engine.simulation import Simulation
from spreadsim.errors import ConfigError
from spreadsim.policies.base import Policy, post_uniform
from spreadsim.policies.review import ReviewQueue, ReviewRequest, require_review
from spreadsim.schema.model import LEGAL, ScenarioConfig
from spreadsim.schema.policies import AutomatedDetectionParams


class _Rates:
    __slots__ = ("recall", "precision", "field")

    def __init__(self, recall: float, precision: float, field: str) -> None:
        self.recall, self.precision, self.field = recall, precision, field


class AutomatedDetection(Policy):
    """Automated detection at upload and/or at reach thresholds; see the module docstring.

    Parameters
    ----------
    cfg : Mapping
        The section :class:`~spreadsim.schema.policies.AutomatedDetectionParams` declares:
        ``at_upload``, ``reach_thresholds`` (a list of reach values), ``recall`` and ``precision``
        with per-category overrides in ``categories`` (``{hate_speech: {recall: 0.5, precision:
        0.8}}``), ``delay`` (from scan to action), ``action`` (``remove`` or ``review``),
        ``priority`` (review priority), ``review_error`` (probability a human reviewer decides
        wrongly).
    field : str
        Dotted path of the section, for error messages.

    Notes
    -----
    Summary: ``scans``, ``detections_true`` / ``detections_false`` (flags of illegal / legal
    posts), ``removals_true`` / ``removals_wrongful`` (posts this policy took down, illegal /
    legal), ``precision_measured`` (true removals over all removals), ``detection_precision``
    (true flags over all flags), ``fpr`` (the calibrated false-positive probability) and
    ``reviews`` (requests sent to the review queue). The reach wrongly removed legal posts lost
    is ``legal_reach_lost_total`` of a run with a baseline twin
    (:func:`spreadsim.engine.metrics.add_baseline`).

    Examples
    --------
    >>> AutomatedDetection({"name": "automated_detection", "recall": 0.8,
    ...                     "reach_thresholds": [1000, 100]}).thresholds
    (100, 1000)
    """

    name = "automated_detection"
    wants = frozenset({"threshold"})
    params_class = AutomatedDetectionParams
    params: AutomatedDetectionParams

    def __init__(self, cfg: Mapping[str, Any], field: str = "policy") -> None:
        super().__init__(cfg, field)
        self.thresholds = self.params.reach_thresholds
        self.rates = {c: _Rates(*r) for c, r in self.params.rates(field).items()}
        self.fpr = 0.0
        # flagged and removed outright, or flagged and removed by a human review
        self.removal_reasons = ("flag",) if self.params.action == "remove" else ("review",)
        if not self.thresholds:  # upload scans only: spread events need not stop for this policy
            self.wants = frozenset()  # type: ignore[misc]

    # ------------------------------------------------------------------ calibration
    def check_scenario(self, sc: ScenarioConfig) -> float:
        """The false-positive probability per scan of a legal post (module docstring); a one-line
        error if the scenario cannot give it (precision < 1 without legal posts, or above 1)."""
        total_w = sum(c.weight for c in sc.categories)
        fpr = 0.0
        worst = None
        for c in sc.categories:
            r = self.rates.get(c.name)
            if r is None or r.recall == 0.0 or r.precision == 1.0 or c.weight == 0.0:
                continue
            n_c = sc.illegal_posts * c.weight / total_w
            if n_c == 0.0:
                continue
            if sc.legal_posts == 0:
                raise ConfigError(r.field, r.precision, "< 1 needs legal posts to misflag, but "
                                  "scenario.legal_posts = 0 (set precision: 1 or add legal posts)")
            f_c = r.recall * n_c * (1.0 - r.precision) / (r.precision * sc.legal_posts)
            fpr += f_c
            if worst is None or f_c > worst[0]:
                worst = (f_c, r)
        if fpr > 1.0 and worst is not None:
            raise ConfigError(worst[1].field, worst[1].precision,
                              f"too low for the scenario: the false-positive probability per legal "
                              f"post would be {fpr:.3g} > 1 (recall * N_illegal * (1 - precision) / "
                              f"(precision * N_legal)); raise precision or scenario.legal_posts")
        return fpr

    def bind(self, sim: Simulation, key: int) -> None:
        super().bind(sim, key)
        self.fpr = self.check_scenario(sim.config.scenario)
        self.queue: ReviewQueue | None = None
        self._due: dict[int, float] = {}  # post id -> time of its pending removal
        self._busy: set[int] = set()  # posts flagged and waiting for their action
        self.scan_log: list[tuple[float, int, int, bool]] = []  # (time, post id, reach, flagged)
        self.scans = self.detections_true = self.detections_false = 0
        self.removals_true = self.removals_wrongful = self.reviews = 0

    def review_need(self) -> tuple[str, Any, bool] | None:
        # the queue is taken at start(), once the whole stack is bound: anywhere in the stack
        return (f"{self.field}.action", self.params.action, False) if self.params.action == "review" else None

    def start(self) -> None:
        if self.params.action == "review":
            self.queue = require_review(self.sim, f"{self.field}.action", self.params.action)

    # ------------------------------------------------------------------ scans
    def on_upload(self, post: Post) -> None:
        if self.params.at_upload:
            self._scan(post, 0)
        for r in self.thresholds:
            self.sim.add_reach_trigger(post, r)

    def on_reach_threshold(self, post: Post, reach: int) -> None:
        if reach in self.thresholds:
            self._scan(post, 1 + self.thresholds.index(reach))

    def _scan(self, post: Post, s: int) -> None:
        sim = self.sim
        if post.id in self._busy or sim.is_removed(post):
            return
        self.scans += 1
        legal = post.category == LEGAL
        p = self.fpr if legal else self.rates[post.category].recall
        flagged = post_uniform(self.key, post, 3 * s) < p
        now = sim.env.now
        # at upload nobody has seen the post yet (and reach needs live counts)
        self.scan_log.append((now, post.id, 0 if s == 0 else sim.reach(post), flagged))
        if not flagged:
            return
        if legal:
            self.detections_false += 1
        else:
            self.detections_true += 1
        self._busy.add(post.id)
        at = now + self.params.delay.sample(post_uniform(self.key, post, 3 * s + 1))
        if self.params.action == "remove":
            self._due[post.id] = at
            sim.schedule_removal(post, at, self.cause("flag"))
        elif at <= now:
            self._submit(post, s)
        elif at < sim.config.scenario.horizon_h:
            sim.env.timeout(at - now).callbacks.append(lambda _e: self._submit(post, s))

    # ------------------------------------------------------------------ actions
    def on_removal(self, post: Post) -> None:
        due = self._due.pop(post.id, None)
        if due is None:
            return
        self._busy.discard(post.id)
        if self.sim.removal_cause(post) == self.cause("flag"):  # this policy's, not another's
            self._count_removal(post)

    def _count_removal(self, post: Post) -> None:
        if post.category == LEGAL:
            self.removals_wrongful += 1
        else:
            self.removals_true += 1

    def _submit(self, post: Post, s: int) -> None:
        assert self.queue is not None
        if self.sim.is_removed(post):
            self._busy.discard(post.id)
            return
        self.reviews += 1
        self.queue.submit(post, "detection", self._decide, priority=self.params.priority, round=s,
                          on_done=self._reviewed, cause=self.cause("review"))

    def _decide(self, req: ReviewRequest) -> bool:
        wrong = post_uniform(self.key, req.post, 3 * req.round + 2) < self.params.review_error
        return (req.post.category != LEGAL) != wrong

    def _reviewed(self, req: ReviewRequest) -> None:
        self._busy.discard(req.post.id)
        if req.removed and self.sim.removal_cause(req.post) == self.cause("review"):
            self._count_removal(req.post)  # removed on this review, not by another policy

    # ------------------------------------------------------------------ outputs
    def summary(self) -> dict[str, float]:
        removals = self.removals_true + self.removals_wrongful
        flags = self.detections_true + self.detections_false
        return {
            "scans": self.scans,
            "detections_true": self.detections_true,
            "detections_false": self.detections_false,
            "removals_true": self.removals_true,
            "removals_wrongful": self.removals_wrongful,
            "precision_measured": self.removals_true / removals if removals else math.nan,
            "detection_precision": self.detections_true / flags if flags else math.nan,
            "fpr": self.fpr,
            "reviews": self.reviews,
        }


__all__ = ["AutomatedDetection"]
