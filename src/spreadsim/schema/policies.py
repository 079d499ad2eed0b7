"""The policy sections: one frozen dataclass per removal policy, with every parameter's default,
range, unit and description.

A ``policy`` section of a config (or each entry of a policy stack) is parsed into the dataclass of
its ``name`` (:data:`POLICY_PARAMS`, :func:`parse_policy`); the policy classes of
:mod:`spreadsim.policies` read these typed sections and hold no default or check of their own, and
``conf/policy/<name>.yaml`` is generated from them (:mod:`spreadsim.schema.yaml`). Times are in
hours. A per-category value (:class:`PerCategory`) is one number or a mapping ``{category: value}``;
per-category overrides (:class:`Overrides`) replace some of a section's keys for one category.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from spreadsim.dists import Duration
from spreadsim.errors import ConfigError
from spreadsim.schema import checks
from spreadsim.schema.fields import (
    Boolean,
    Check,
    Choice,
    Custom,
    Hours,
    Integer,
    Number,
    Optional,
    Probability,
    Section,
    Text,
    defaults,
    param,
    parse,
)
from spreadsim.schema.model import ALL_CATEGORIES, CATEGORIES
from spreadsim.schema.values import DURATION

#: reviewers of one review queue at most (each moderator is a SimPy process)
MAX_MODERATORS = 100_000
#: review priorities by the source of a request (lower first)
PRIORITY = {"order": 0, "referral": 0, "trusted": 1, "detection": 1, "circuit_breaker": 1,
            "notice": 2}
#: latency distributions of ``latency_distribution`` and the parameters each reads
LATENCY_PARAMS = {
    "fixed": ("latency_h",),
    "exponential": ("half_life_h",),
    "lognormal": ("median_h", "sigma"),
    "empirical": ("path", "column"),
}
#: what automated detection does with a flagged post
ACTIONS = ("remove", "review")
#: what a notice_and_takedown decision to remove takes down
REMOVES = ("post", "copy", "content")


# --------------------------------------------------------------------------- reusable checks

@dataclass(frozen=True)
class PerCategory(Check):
    """One value, or a mapping ``{category: value}`` over ``categories``.

    A bare value applies to ``number_for`` (default: every category); a category a mapping leaves
    out, or a bare value does not cover, gets ``left_out``. Returns ``{category: value}`` for every
    category.
    """

    inner: Check
    categories: tuple[str, ...]
    left_out: float
    number_for: tuple[str, ...] | None = None
    kind: ClassVar[str] = "per_category"

    def __call__(self, path: str, value: Any) -> dict[str, Any]:
        if isinstance(value, Mapping):
            out = dict.fromkeys(self.categories, self.left_out)
            for cat, v in value.items():
                checks.choice(f"{path}.{cat}", cat, self.categories, "category")
                out[cat] = self.inner(f"{path}.{cat}", v)
            return out
        x = self.inner(path, value)
        given = self.categories if self.number_for is None else self.number_for
        return {c: x if c in given else self.left_out for c in self.categories}

    def text(self) -> str:
        return (f"{self.inner.text()}, or a mapping {{category: value}} over "
                f"{', '.join(self.categories)} (left out: {self.left_out:g})")


@dataclass(frozen=True)
class Overrides(Check):
    """Per-category overrides: a mapping ``{category: {key: value}}`` of some of a section's keys,
    each checked as the section checks it. Returns ``{category: {key: checked value}}``."""

    keys: tuple[tuple[str, Check], ...]
    categories: tuple[str, ...]
    what: str = "category"
    kind: ClassVar[str] = "overrides"

    def __call__(self, path: str, value: Any) -> dict[str, dict[str, Any]]:
        allowed = dict(self.keys)
        out = {}
        for cat, sub in checks.mapping(path, value).items():
            f = f"{path}.{cat}"
            checks.choice(f, cat, self.categories, self.what)
            sub = checks.mapping(f, sub)
            checks.check_keys(f, sub, allowed)
            out[cat] = {k: allowed[k](f"{f}.{k}", v) for k, v in sub.items()}
        return out

    def text(self) -> str:
        return (f"a mapping {{category: {{key: value}}}} over {', '.join(self.categories)} "
                f"overriding {', '.join(k for k, _ in self.keys)}")


def _name(name: str, help: str) -> Any:  # noqa: A002 - the field's help
    return param(name, help, Choice((name,), "policy"))


def _category_list(path: str, value: Any) -> tuple[str, ...]:
    cats = [value] if isinstance(value, str) else value
    if not isinstance(cats, list | tuple):
        raise ConfigError(path, value, "must be a category or a list of them")
    return tuple(checks.choice(f"{path}[{j}]", c, CATEGORIES, "category") for j, c in enumerate(cats))


def reach_thresholds(path: str, value: Any) -> tuple[int, ...]:
    """A list of reach thresholds (integers >= 1), returned sorted without duplicates."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(path, value, "must be a list of integers >= 1 (users reached)")
    return tuple(sorted({checks.integer(f"{path}[{i}]", v, lo=1, hi=2**62) for i, v in enumerate(value)}))


_TARGET = Choice(("illegal", "all"), "target")
_LATENCY = Hours(allow_inf=True)
_DIST = Choice(tuple(LATENCY_PARAMS), "latency distribution")
_HALF_LIFE = Optional(Hours(lo_open=True))
_MEDIAN = Optional(Hours(lo_open=True))
_SIGMA = Optional(Number(0.0))
_TEXT = Optional(Text())


class _PerCategoryRule:
    """The section as it applies to one category: its ``categories`` override on top."""

    categories: dict[str, dict[str, Any]]

    def for_category(self, category: str) -> Any:
        over = self.categories.get(category)
        return dataclasses.replace(self, **over) if over else self  # type: ignore[type-var]


# --------------------------------------------------------------------------- pre-decided removal

@dataclass(frozen=True)
class NoneParams:
    """No moderation: nothing is ever removed (the unmoderated baseline)."""

    name: str = _name("none", "none: no removal policy")


@dataclass(frozen=True)
class FixedLatencyParams(_PerCategoryRule):
    """Every illegal post is removed exactly latency_h after upload (with probability removal_prob)."""

    name: str = _name("fixed_latency", "fixed_latency: each post removed a fixed time after upload")
    latency_h: float = param(24, "hours from upload to removal; 0 = at upload, inf = never", _LATENCY)
    removal_prob: float = param(1.0, "share of the posts removed at all (a coin per post)", Probability())
    categories: dict[str, dict[str, Any]] = param(
        {}, "per-category overrides, e.g. {terrorist_propaganda: {latency_h: 1}}",
        Overrides((("latency_h", _LATENCY), ("removal_prob", Probability())), ALL_CATEGORIES))
    applies_to: str = param("illegal", "illegal | all (all: legal posts are removed too, wrongly)",
                            _TARGET)


@dataclass(frozen=True)
class LatencyDistributionParams(_PerCategoryRule):
    """Removal latency drawn per post: exponential with the given half-life (half of the removed
    posts are down within half_life_h). Other dists: fixed (latency_h), lognormal (median_h, sigma),
    empirical (path, column); a parameter of another dist stays null (or at its default)."""

    name: str = _name("latency_distribution", "latency_distribution: each post's removal latency "
                      "drawn from a distribution")
    dist: str = param("exponential", "fixed | exponential | lognormal | empirical", _DIST)
    latency_h: float | None = param(None, "dist fixed: hours from upload to removal (inf = never)",
                                    Optional(_LATENCY))
    half_life_h: float | None = param(24, "dist exponential: half of the removed posts are down "
                                      "within this many hours", _HALF_LIFE)
    median_h: float | None = param(None, "dist lognormal: median latency (hours)", _MEDIAN)
    sigma: float | None = param(None, "dist lognormal: sigma of the log latency (no unit)", _SIGMA)
    path: str | None = param(None, "dist empirical: CSV file of observed delays (hours; inf = never)",
                             _TEXT)
    column: str | None = param(None, "dist empirical: the column to read (null: the first)", _TEXT)
    removal_prob: float = param(1.0, "share of the posts removed at all (a coin per post)", Probability())
    categories: dict[str, dict[str, Any]] = param(
        {}, "per-category overrides of the keys above, e.g. {hate_speech: {half_life_h: 48}}",
        Overrides((("dist", _DIST), ("latency_h", Optional(_LATENCY)), ("half_life_h", _HALF_LIFE),
                   ("median_h", _MEDIAN), ("sigma", _SIGMA), ("path", _TEXT), ("column", _TEXT),
                   ("removal_prob", Probability())), ALL_CATEGORIES))
    applies_to: str = param("illegal", "illegal | all (all: legal posts are removed too, wrongly)",
                            _TARGET)

    def validate(self, path: str) -> None:
        self.check_dist(path)
        for cat in self.categories:
            self.for_category(cat).check_dist(f"{path}.categories.{cat}")

    def check_dist(self, path: str) -> None:
        """The chosen dist's parameters are given; another dist's are null (or at their default)."""
        names = LATENCY_PARAMS[self.dist]
        default = defaults(type(self))
        for k in ("latency_h", "half_life_h", "median_h", "sigma", "path", "column"):
            v = getattr(self, k)
            if v is not None and v != default[k] and k not in names:
                raise ConfigError(f"{path}.{k}", v, f"does not apply to dist '{self.dist}'; "
                                  f"allowed: {', '.join(names)}")
        for k in names:
            if k != "column" and getattr(self, k) is None:
                raise ConfigError(f"{path}.{k}", None, "is required")


# --------------------------------------------------------------------------- human moderation

@dataclass(frozen=True)
class WorkingHours:
    """Daily working hours of the moderators: reviews start only in [start_h, end_h) of each day;
    end_h < start_h is a shift that crosses midnight (20 to 8: from 20 h to 8 h the next day)."""

    start_h: float = param(8, "hour of the day the shift starts", Number(0.0, 24.0, hi_open=True))
    end_h: float = param(20, "hour of the day the shift ends (below start_h: the next day)",
                         Number(0.0, 24.0))

    def validate(self, path: str) -> None:
        if self.end_h == self.start_h:
            raise ConfigError(f"{path}.end_h", self.end_h, f"must differ from start_h "
                              f"({self.start_h:g}); end_h < start_h: a shift crossing midnight")


@dataclass(frozen=True)
class TrustedFlaggers:
    """Users whose notices count more (the DSA's trusted flaggers)."""

    fraction: float = param(0.0, "share of users who are trusted flaggers (drawn per user)",
                            Probability())
    notice_weight: float = param(5.0, "they notify this many times more often", Number(0.0))
    removal_prob: float = param(0.95, "probability that a review of their notice removes an illegal post",
                                Probability())
    priority: int = param(PRIORITY["trusted"], "review priority of their notices (notices: 2; "
                          "referrals: 0)", Integer(lo=0))


@dataclass(frozen=True)
class NoticeAndTakedownParams:
    """Notice and takedown: exposed users notify illegal posts; moderators review notified posts in
    a shared priority queue and remove them (or not). Stack authority_referral / circuit_breaker
    after it."""

    name: str = _name("notice_and_takedown", "notice_and_takedown: user notices, reviewed by "
                      "moderators in a shared queue")
    moderators: int = param(10, "reviewers working the queue", Integer(lo=1, hi=MAX_MODERATORS))
    review_time: Duration = param({"dist": "lognormal", "median_h": 0.5, "sigma": 1.0},
                                  "time one review takes (hours)", DURATION)
    shifts: WorkingHours | None = param(None, "null: around the clock; or {start_h: 8, end_h: 20} (hour "
                                        "of the day)", Optional(Section(WorkingHours)))
    notice_prob: dict[str, float] = param(
        0.01, "notice probability per exposed user (illegal categories); or {category: prob, legal: prob}",
        PerCategory(Probability(), ALL_CATEGORIES, 0.0, number_for=CATEGORIES))
    notice_threshold: int = param(1, "a post enters review at its k-th notice", Integer(lo=1))
    merge_notices: bool = param(True, "a notice on a post already waiting for or under review "
                                "joins that review (the queue counts posts); false: every notice "
                                "is a review of its own (the queue counts notices, as the Code of "
                                "Conduct monitoring counts notifications; needs notice_threshold 1)",
                                Boolean())
    removal_prob: dict[str, float] = param(
        0.9, "probability that a review removes a notified illegal post; or {category: prob} (left out: 1)",
        PerCategory(Probability(), CATEGORIES, 1.0))
    legal_removal_prob: float = param(0.0, "probability that a review wrongly removes a notified "
                                      "legal post", Probability())
    renotify: bool = param(True, "a kept post re-enters review after notice_threshold further "
                           "notices", Boolean())
    removes: str = param("post", "what a decision to remove takes down: post (the post and every "
                         "share of it), copy (spread.removal per_copy: only the copies the notices "
                         "came through; cascade: the post) or content (every live post of the "
                         "content, re-uploads too)", Choice(REMOVES, "what a removal takes down"))
    deadline_h: dict[str, float] = param(
        float("inf"), "hours from a notice to its deadline (share met reported); or {category: hours}",
        PerCategory(Hours(lo_open=True, allow_inf=True), ALL_CATEGORIES,
                                         float("inf")))
    trusted_flaggers: TrustedFlaggers = param(
        defaults(TrustedFlaggers), "users whose notices count more (the DSA's trusted flaggers)",
        Section(TrustedFlaggers))

    def validate(self, path: str) -> None:
        if not self.merge_notices and self.notice_threshold != 1:
            raise ConfigError(f"{path}.notice_threshold", self.notice_threshold,
                              "must be 1 when merge_notices is false (every notice is a review "
                              "of its own)")


@dataclass(frozen=True)
class AuthorityReferralParams:
    """Authority referral / removal order (Internet Referral Unit; EU TCO regulation 2021/784):
    illegal posts of the chosen categories are referred after a delay, go to the front of the
    shared review queue and must come down within deadline_h. Use in a stack after
    notice_and_takedown, e.g. policy: [{name: notice_and_takedown, ...}, {name: authority_referral, ...}]"""

    name: str = _name("authority_referral", "authority_referral: removal orders from an authority, "
                      "served first")
    categories: tuple[str, ...] = param(["terrorist_propaganda"], "categories the authority refers "
                                        "(a category or a list)",
                                        Custom(_category_list, "a category or a list of "
                                               + ", ".join(CATEGORIES)))
    referral_prob: float = param(1.0, "share of the posts the authority finds and refers",
                                 Probability())
    delay: Duration = param({"dist": "exponential", "mean_h": 6.0}, "upload -> referral (hours)",
                            DURATION)
    deadline_h: float = param(1.0, "hours from the order to its deadline (the TCO regulation's one "
                              "hour)", Hours(lo_open=True))
    order_compliance: float = param(1.0, "probability that the platform removes on an order",
                                    Probability())
    priority: int = param(PRIORITY["referral"], "review priority of orders (0 = front of the queue)",
                          Integer(lo=0))


@dataclass(frozen=True)
class CircuitBreakerParams:
    """Virality circuit breaker: a post with `threshold` reshares within the last window_h hours
    has its reshare probability scaled by `factor` and goes to review with priority; a post kept up
    is unthrottled. Use in a stack after notice_and_takedown (which sets the moderators)."""

    name: str = _name("circuit_breaker", "circuit_breaker: throttle and review posts whose "
                      "reshares spike")
    threshold: int = param(20, "reshares within window_h that trip the breaker", Integer(lo=1))
    window_h: float = param(1.0, "sliding window of the reshare count (hours)", Hours(lo_open=True))
    factor: float = param(0.1, "a tripped post's reshare probability is multiplied by this",
                          Probability())
    applies_to: str = param("all", "all | illegal (all: the breaker cannot tell legal posts apart)",
                            Choice(("all", "illegal"), "target"))
    removal_prob: float = param(1.0, "probability that the review removes a tripped illegal post",
                                Probability())
    legal_removal_prob: float = param(0.0, "probability that the review wrongly removes a tripped "
                                      "legal post", Probability())
    priority: int = param(PRIORITY["circuit_breaker"], "review priority of trips (lower first; "
                          "notices are 2)", Integer(lo=0))


# --------------------------------------------------------------------------- automated detection

@dataclass(frozen=True)
class AutomatedDetectionParams:
    """Automated detection: a classifier scans each post at upload and again when its reach
    reaches each threshold; flagged posts are removed (or sent to human review) `delay` after the
    scan.

    precision is turned into a false-positive probability per scan of a legal post from the
    scenario's expected counts: fpr = sum_c recall_c * N_c * (1 - precision_c) / (precision_c *
    N_legal) (see spreadsim.policies.detection); precision < 1 needs scenario.legal_posts > 0."""

    name: str = _name("automated_detection", "automated_detection: a classifier scans posts")
    at_upload: bool = param(True, "scan every post at upload", Boolean())
    reach_thresholds: tuple[int, ...] = param(
        [], "scan again when reach reaches each of these (users), e.g. [100, 1000]",
        Custom(reach_thresholds, "a list of integers >= 1 (users reached)"))
    recall: float = param(0.9, "probability that a scan flags an illegal post", Probability())
    precision: float = param(1.0, "share of flags that are illegal content", Probability())
    categories: dict[str, dict[str, Any]] = param(
        {}, "per-category overrides, e.g. {hate_speech: {recall: 0.5, precision: 0.8}}",
        Overrides((("recall", Probability()), ("precision", Probability())), CATEGORIES,
                  "illegal category"))
    delay: Duration = param(0.0, "hours from scan to action; or {dist: exponential, mean_h: 1}",
                            DURATION)
    action: str = param("remove", "remove | review (review needs notice_and_takedown's queue in "
                        "the stack)", Choice(ACTIONS, "action"))
    priority: int = param(PRIORITY["detection"], "review priority of flags (lower first; notices "
                          "are 2)", Integer(lo=0))
    review_error: float = param(0.0, "probability that a human reviewer decides a flagged post "
                                "wrongly", Probability())

    def rates(self, path: str) -> dict[str, tuple[float, float, str]]:
        """Per illegal category: (recall, precision, the field its precision comes from)."""
        out = {}
        for c in CATEGORIES:
            over = self.categories.get(c, {})
            if "precision" in over:
                precision, field = over["precision"], f"{path}.categories.{c}.precision"
            else:
                precision, field = self.precision, f"{path}.precision"
            out[c] = (over.get("recall", self.recall), precision, field)
        return out

    def validate(self, path: str) -> None:
        if not self.at_upload and not self.reach_thresholds:
            raise ConfigError(f"{path}.reach_thresholds", list(self.reach_thresholds),
                              "nothing would be scanned: give thresholds or set at_upload: true")
        for recall, precision, field in [(self.recall, self.precision, f"{path}.precision"),
                                         *self.rates(path).values()]:
            if precision == 0.0 and recall > 0.0:
                raise ConfigError(field, precision, "must be > 0 when recall > 0 (every flag would "
                                  "be a false positive of a legal post)")


# --------------------------------------------------------------------------- reappearance

@dataclass(frozen=True)
class ReuploadParams:
    """Adversaries re-upload removed material: after each removal of an adversarial post, with
    probability reupload_prob the same content comes back `delay` later (at most max_reuploads
    times per content), from a new account (a random user) with probability new_account_prob,
    altered (to evade hash matching) with probability altered_prob."""

    name: str = _name("reupload", "reupload: adversaries re-upload removed content")
    reupload_prob: float = param(0.8, "probability that a removed adversarial post comes back",
                                 Probability())
    delay: Duration = param({"dist": "exponential", "mean_h": 12}, "removal -> re-upload (hours)",
                            DURATION)
    max_reuploads: int = param(3, "re-uploads per content at most", Integer(lo=0))
    new_account_prob: float = param(0.3, "probability that a re-upload comes from a new account",
                                    Probability())
    altered_prob: float = param(0.3, "probability that a re-upload is altered (evades exact hashes)",
                                Probability())
    retry_blocked: bool = param(False, "true: a blocked re-upload is answered like a removal "
                                "(another try)", Boolean())


@dataclass(frozen=True)
class HashMatchingParams:
    """Hash matching: removed content enters a hash database sync_delay later; uploads of known
    content are blocked with probability recall (recall_altered for altered copies)."""

    name: str = _name("hash_matching", "hash_matching: block uploads of content removed before")
    recall: float = param(0.99, "probability that an upload of known content is blocked",
                          Probability())
    recall_altered: float = param(0.3, "the same for an altered copy", Probability())
    sync_delay: Duration = param(0.0, "removal -> hash in the database (hours); or {dist: "
                                 "exponential, mean_h: 1}", DURATION)


@dataclass(frozen=True)
class AccountStrikesParams:
    """Account strikes: after `strikes` removals of its posts an account is suspended and its
    uploads are blocked; an adversary comes back with a new account (a random user) return_delay
    after the suspension and uploads the blocked content from it."""

    name: str = _name("account_strikes", "account_strikes: suspend accounts after repeated removals")
    strikes: int = param(3, "removals of an account's posts that suspend it", Integer(lo=1))
    return_delay: Duration = param({"dist": "exponential", "mean_h": 48}, "suspension -> the "
                                   "adversary's new account (hours)", DURATION)


#: every policy's section by its ``name``
POLICY_PARAMS: dict[str, type] = {defaults(cls)["name"]: cls for cls in (
    NoneParams, FixedLatencyParams, LatencyDistributionParams, NoticeAndTakedownParams,
    AuthorityReferralParams, CircuitBreakerParams, AutomatedDetectionParams, ReuploadParams,
    HashMatchingParams, AccountStrikesParams)}


def parse_policy(raw: Any, path: str = "policy") -> Any:
    """Check one policy section (``name`` chooses its schema) and return it typed."""
    m = checks.mapping(path, raw)
    name = checks.choice(f"{path}.name", checks.require(path, m, "name"), sorted(POLICY_PARAMS), "policy")
    return parse(POLICY_PARAMS[name], m, path)


__all__ = ["POLICY_PARAMS", "parse_policy", "PRIORITY", "MAX_MODERATORS", "LATENCY_PARAMS", "ACTIONS", "REMOVES",
           "PerCategory", "Overrides", "reach_thresholds", "NoneParams", "FixedLatencyParams",
           "LatencyDistributionParams", "NoticeAndTakedownParams", "WorkingHours", "TrustedFlaggers",
           "AuthorityReferralParams", "CircuitBreakerParams", "AutomatedDetectionParams", "ReuploadParams",
           "HashMatchingParams", "AccountStrikesParams"]
