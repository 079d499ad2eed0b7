"""The output glossary: every column of every table spreadsim writes, with its unit and meaning.

This is the one home of what an output column means. The docs site's glossary page is generated
from :data:`GLOSSARY` at build time, the report can look a column up (:func:`lookup`, :func:`unit`),
and ``tests/test_glossary.py`` fails when a real sweep or run writes a column without an entry
here. A new column gets its entry in the same commit.

An entry's ``name`` is a column name or a pattern with placeholders in angle brackets
(:data:`PLACEHOLDERS`): ``policy<i>_notice_and_takedown_notices`` is the ``notices`` statistic of
a ``notice_and_takedown`` policy at position ``i`` of the policy stack. Two placeholders stand for
whole families of columns: ``<parameter>`` (a job's command-line override, a dotted config key
such as ``policy.latency_h``; ``config.<key>`` when the key is also a column name) and
``<platform>.<column>`` (a ``runs`` column of one platform of a multi-platform run).

Tables (:data:`TABLES`): a job folder holds ``runs``, ``posts`` and ``series``; a sweep folder
(and a single run's folder) holds ``results``, ``summary`` and ``categories``; an SLA calibration
writes the ``calibration`` table and ``calibration.json``; a job with ``export`` set writes
``shares``, ``exposures`` (``export: exposures``) and ``cascades``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

__all__ = ["Column", "GLOSSARY", "TABLES", "PLACEHOLDERS", "lookup", "unit", "meaning",
           "undescribed", "entries"]


@dataclass(frozen=True)
class Column:
    """One glossary entry.

    Attributes
    ----------
    name : str
        The column name, or a pattern with placeholders (:data:`PLACEHOLDERS`).
    tables : tuple of str
        The tables (:data:`TABLES`) that have this column.
    unit : str
        Its unit (``hours``, ``users``, ``share`` for a number in [0, 1], ``text``, ...).
    meaning : str
        One sentence.
    when : str
        When the column is written ("" = always).
    """

    name: str
    tables: tuple[str, ...]
    unit: str
    meaning: str
    when: str = ""


#: every table spreadsim writes (file name stem -> what one row is)
TABLES = {
    "runs": "a job's table: one row per seed (job folder, Parquet + CSV)",
    "posts": "a job's table: one row per post per seed (job folder)",
    "series": "a job's table: reach over time, one row per time point per seed (job folder)",
    "results": "a sweep's table: one row per job x seed (the runs tables side by side)",
    "summary": "a sweep's table: one row per sweep point (job), means over seeds with 95% intervals",
    "categories": "a sweep's table: one row per sweep point and content category",
    "calibration": "an SLA calibration's evaluated curve: one row per lever value tried",
    "calibration.json": "an SLA calibration's answer (a JSON object; its fields)",
    "shares": "an export's table: one row per share, uploads included (job folder with export set)",
    "exposures": "an export's table: one row per exposure, repeats included (export: exposures)",
    "cascades": "an export's table: one row per cascade (post per seed), its size and depth",
}

#: the placeholders of entry names and the text each stands for (a regular expression)
PLACEHOLDERS = {
    "<i>": r"\d+",
    "<policy>": r"[a-z][a-z0-9_]*",
    "<reason>": r"[a-z][a-z0-9_]*",
    "<stat>": r"mean|p95",
    "<lever>": r"[A-Za-z_][A-Za-z0-9_.\[\]]*",
}

_JOB = ("runs", "results")  # a runs column is a results column too
_SWEEP = ("results", "summary", "categories")
_NT = "a notice_and_takedown policy in the stack"
_EXPORT = ("shares", "exposures", "cascades")  # the tables of export: shares | exposures
_EX = "export: shares or exposures"


def _nt(key: str, unit: str, text: str) -> Column:
    return Column(f"policy<i>_notice_and_takedown_{key}", _JOB, unit, text, _NT)


def _pol(policy: str, key: str, unit: str, text: str) -> Column:
    return Column(f"policy<i>_{policy}_{key}", _JOB, unit, text, f"a {policy} policy in the stack")


def _plat(key: str, unit: str, text: str) -> Column:
    return Column(key, _JOB, unit, text, "a multi-platform run (platforms:)")


#: the glossary, table by table
GLOSSARY: tuple[Column, ...] = (
    # ---------------------------------------------------------------- keys of sweeps and jobs
    Column("<parameter>", _SWEEP + ("calibration",), "as the config key",
           "The value of one command-line override of the job (a dotted config key such as "
           "policy.latency_h, named config.<key> when the key is also a column name); inf means never."),
    Column("job", _SWEEP, "index", "The job (sweep point) number, as the job folder's name."),
    Column("seed", ("runs", "posts", "series", "results", *_EXPORT), "seed",
           "The run seed; the same seeds run at every sweep point, so differences are the policy's."),
    Column("path", _JOB + ("summary",), "text",
           "How the runs were computed: deadline (read off one traced unmoderated run per seed, "
           "exact) or simulated."),
    # ---------------------------------------------------------------- runs (and results)
    Column("posts", _JOB, "posts", "Illegal posts uploaded in the run (re-uploads included)."),
    Column("reach_mean", _JOB, "users per post",
           "Mean reach per illegal post: distinct users exposed, the uploader excluded."),
    Column("reach_median", _JOB, "users per post", "Median reach of the run's illegal posts."),
    Column("reach_p95", _JOB, "users per post",
           "95th percentile of the reach of the run's illegal posts (linear interpolation)."),
    Column("reach_total", _JOB, "users", "Sum of the reach of the run's illegal posts."),
    Column("views_total", _JOB, "exposures",
           "All exposures to illegal posts, repeated exposures of a user included."),
    Column("shares_total", _JOB, "shares", "Reshares of illegal posts (uploads not counted)."),
    Column("exposure_person_hours", _JOB + ("posts",), "person-hours",
           "Summed over reached users, the time from a user's first exposure until the post (or, "
           "per_copy, the copy first seen) was removed or the horizon; per run: illegal posts only."),
    Column("removed_posts", _JOB, "posts", "Illegal posts removed before the horizon."),
    Column("removed_share", _JOB + ("categories",), "share",
           "Share of illegal posts removed before the horizon (categories: of the category's posts, "
           "over all seeds)."),
    Column("time_to_removal_median_h", _JOB + ("categories",), "hours",
           "Median time from upload to removal of the removed posts (empty if none was removed)."),
    Column("legal_posts", _JOB, "posts", "Legal background posts uploaded in the run."),
    Column("legal_reach_total", _JOB, "users", "Sum of the reach of the legal posts."),
    Column("removed_by_policy<i>_<policy>_<reason>", _JOB, "posts",
           "Illegal posts removed by the policy at stack position i for this reason (e.g. "
           "removed_by_policy0_fixed_latency_latency); the causes add up to removed_posts."),
    Column("uploads_blocked", _JOB, "uploads",
           "Upload attempts blocked before they went online (hash matching, suspended accounts)."),
    Column("legal_reach_lost_total", _JOB, "users",
           "Reach that wrongfully removed legal posts lost against the unmoderated twin.",
           "baseline: true"),
    Column("reach_baseline_total", _JOB, "users",
           "Total reach of the same content's original uploads in the paired unmoderated run (the twin).",
           "baseline: true"),
    Column("reach_prevented_total", _JOB, "users",
           "reach_baseline_total - reach_total: reach the moderation prevented in this seed.",
           "baseline: true"),
    Column("reach_prevented_frac", _JOB, "share",
           "1 - reach_total / reach_baseline_total for this seed (empty if the twin reached nobody: "
           "no reach to prevent).",
           "baseline: true"),
    Column("reach_baseline_mean", _JOB + ("summary",), "users per post",
           "The unmoderated twin's reach per illegal post (runs); summary: its mean over seeds.",
           "baseline: true"),
    Column("reach_prevented_mean", _JOB, "users per post",
           "Reach prevented per illegal post of the twin in this seed: (reach_baseline_total - "
           "reach_total) / the twin's posts (equal to reach_baseline_mean - reach_mean without re-uploads).",
           "baseline: true"),
    # per-policy statistics (keys of each policy's summary(), prefixed policy<i>_<name>_)
    _nt("notices", "notices", "Notices filed by exposed users and trusted flaggers."),
    _nt("notices_trusted", "notices", "Notices filed by trusted flaggers."),
    _nt("reviews", "reviews", "Reviews of this policy's notices that were started or decided."),
    _nt("reviews_removed", "reviews", "Reviews of this policy's notices that removed the post."),
    _nt("copies_removed", "copies", "Single copies removed (removes: copy, per_copy semantics)."),
    _nt("wrongful_removals", "posts", "Legal posts removed after a notice."),
    _nt("notice_reviewed_24h_share", "share",
        "Share of notices decided within 24 h, of those filed at least 24 h before the horizon "
        "(the Code of Conduct's 'reviewed within 24 h')."),
    _nt("notice_removed_share", "share",
        "Share of notices that led to removal (the Code of Conduct's 'removal rate')."),
    _nt("notice_decided_share", "share", "Share of notices decided before the horizon."),
    _nt("notice_to_decision_median_h", "hours", "Median time from notice to decision."),
    _nt("notice_deadline_met_share", "share",
        "Share of notices with a finite deadline due before the horizon decided within it."),
    _nt("queue_requests", "requests", "Requests that entered the shared review queue (all sources)."),
    _nt("queue_reviewed", "requests", "Requests a moderator started to review."),
    _nt("queue_wait_mean_h", "hours", "Mean wait in the queue until a moderator started a review."),
    _nt("queue_decision_time_median_h", "hours", "Median time from request to decision."),
    _nt("queue_length_max", "requests", "Longest queue observed."),
    _nt("queue_utilisation", "share",
        "Busy moderator time over moderator time on shift up to the horizon."),
    _pol("authority_referral", "orders", "orders", "Removal orders issued."),
    _pol("authority_referral", "orders_met_share", "share",
         "Share of orders due before the horizon whose post was removed by the deadline."),
    _pol("authority_referral", "order_removed_share", "share", "Share of orders whose post was removed."),
    _pol("authority_referral", "order_to_removal_median_h", "hours", "Median time from order to removal."),
    _pol("automated_detection", "scans", "scans", "Posts scanned (at upload and at reach thresholds)."),
    _pol("automated_detection", "detections_true", "posts", "Illegal posts flagged."),
    _pol("automated_detection", "detections_false", "posts", "Legal posts flagged (false positives)."),
    _pol("automated_detection", "removals_true", "posts", "Illegal posts removed after a flag."),
    _pol("automated_detection", "removals_wrongful", "posts", "Legal posts removed after a flag."),
    _pol("automated_detection", "precision_measured", "share",
         "removals_true / all removals after a flag (empty if none)."),
    _pol("automated_detection", "detection_precision", "share",
         "detections_true / all flags (empty if none)."),
    _pol("automated_detection", "fpr", "share",
         "False-positive rate per scan of a legal post implied by recall and precision."),
    _pol("automated_detection", "reviews", "reviews", "Flags sent to the review queue (action: review)."),
    _pol("circuit_breaker", "trips", "posts", "Posts throttled and sent to review."),
    _pol("circuit_breaker", "trips_legal", "posts", "Legal posts among the trips."),
    _pol("circuit_breaker", "trips_removed", "posts", "Tripped posts removed on review."),
    _pol("circuit_breaker", "trip_to_decision_median_h", "hours", "Median time from trip to decision."),
    _pol("reupload", "attempts", "uploads", "Re-upload attempts of removed material."),
    _pol("reupload", "blocked", "uploads", "Re-upload attempts blocked (hash matching, suspensions)."),
    _pol("reupload", "uploaded", "posts", "Re-uploads that went online."),
    _pol("reupload", "altered", "posts", "Re-uploads that went online altered (harder to hash-match)."),
    _pol("reupload", "new_accounts", "accounts", "Re-uploads made from a new account."),
    _pol("reupload", "live", "posts", "Re-uploads still online at the horizon."),
    _pol("reupload", "copies_reach", "users", "Total reach of illegal copies (copy > 0) of any origin."),
    _pol("reupload", "reuploads_reach", "users", "Total reach of this policy's re-uploads."),
    _pol("hash_matching", "known_attempts", "uploads", "Uploads whose content was in the hash database."),
    _pol("hash_matching", "blocked", "uploads", "Uploads the hash filter blocked."),
    _pol("hash_matching", "hashes", "hashes", "Content hashes in the database at the horizon."),
    _pol("account_strikes", "suspensions", "accounts", "Accounts suspended after too many strikes."),
    _pol("account_strikes", "new_accounts", "accounts", "Suspended adversaries back with a new account."),
    _pol("account_strikes", "blocked", "uploads", "Upload attempts from suspended accounts."),
    _pol("account_strikes", "returned_uploads", "uploads",
         "Blocked content uploaded again from a new account."),
    # several platforms (totals over platforms; <platform>.<column>: one platform's)
    _plat("reuploads_attempted", "uploads", "Re-upload attempts of illegal material (blocked ones included)."),
    _plat("reuploads_blocked", "uploads", "Re-upload attempts of illegal material blocked."),
    _plat("copies_reach", "users", "Total reach of illegal copies (copy > 0)."),
    _plat("cross_posts", "posts", "Posts cross-posted from one platform to another."),
    _plat("cross_posts_out", "posts", "Posts cross-posted from this platform to another."),
    _plat("cross_posts_in", "posts", "Posts cross-posted to this platform from another."),
    _plat("cross_posts_blocked", "uploads", "Cross-posts blocked on arrival (hash matching)."),
    _plat("cross_posts_reach", "users", "Reach of illegal cross-posts on the platform they arrived on."),
    Column("<platform>.<column>", (*_JOB, "summary"), "as the column",
           "The column <column> of one platform: a runs column in runs and results; in summary, "
           "the platform's reach per illegal post (reach_mean) and its 95% interval.",
           "a multi-platform run (platforms:)"),
    Column("platform", ("posts", "series"), "text", "The platform of the row.",
           "a multi-platform run (platforms:)"),
    # ---------------------------------------------------------------- posts
    Column("post_id", ("posts",), "index", "The post's index in the run (upload order)."),
    Column("content_id", ("posts",), "index",
           "The content's id: a re-upload has its original's, so copies can be matched."),
    Column("category", ("posts", "categories"), "text",
           "Content category: terrorist_propaganda, hate_speech, ip_infringement, or legal."),
    Column("uploader", ("posts",), "user", "The user who uploaded the post."),
    Column("copy", ("posts",), "count", "0 for an original upload, k for the k-th re-upload of the content."),
    Column("altered", ("posts",), "boolean", "Whether a re-upload was altered (harder to hash-match)."),
    Column("upload_time_h", ("posts",), "hours", "Upload time since the start of the run."),
    Column("removal_time_h", ("posts",), "hours", "Removal time since the start (empty: never removed)."),
    Column("removal_cause", ("posts",), "text",
           "Which policy removed the post and why, as <label>:<reason> (e.g. "
           "policy0_fixed_latency:latency); empty if not removed."),
    Column("reach", ("posts",), "users", "Distinct users exposed to the post, its uploader excluded."),
    Column("views", ("posts",), "exposures", "All exposures to the post, repeated ones included."),
    Column("shares", ("posts",), "shares", "Reshares of the post."),
    Column("reach_baseline", ("posts",), "users",
           "Reach of the same content's original upload in the unmoderated twin (0 for re-uploads).",
           "baseline: true"),
    Column("cross_post", ("posts",), "boolean", "Whether the post arrived by cross-posting.",
           "a multi-platform run (platforms:)"),
    # ---------------------------------------------------------------- series
    Column("time_h", ("series",), "hours", "Time since the start, in steps of scenario.series_step_h."),
    Column("reach_illegal", ("series",), "users",
           "Cumulative first exposures to illegal posts up to this time."),
    Column("reach_legal", ("series",), "users", "Cumulative first exposures to legal posts up to this time."),
    # ---------------------------------------------------------------- summary
    Column("n_seeds", ("summary", "categories"), "seeds", "Seeds averaged in this row."),
    Column("reach_mean", ("summary", "categories"), "users per post",
           "Mean over seeds of each seed's mean reach per illegal post (categories: of the "
           "category's posts)."),
    Column("reach_ci_low", ("summary", "categories"), "users per post",
           "Lower end of the 95% t-interval of reach_mean over seeds (not below 0: reach is never negative)."),
    Column("reach_ci_high", ("summary", "categories"), "users per post",
           "Upper end of the 95% t-interval of reach_mean over seeds."),
    Column("prevented_mean", ("summary",), "users per post",
           "Mean over seeds of reach_prevented_mean (the paired reach prevented per illegal post).",
           "baseline: true"),
    Column("prevented_ci_low", ("summary",), "users per post",
           "Lower end of the 95% t-interval of prevented_mean over seeds (not below 0 when every run "
           "of the point was on the deadline path, where no seed can prevent less than nothing).",
           "baseline: true"),
    Column("prevented_ci_high", ("summary",), "users per post",
           "Upper end of the 95% t-interval of prevented_mean over seeds.", "baseline: true"),
    Column("prevented_share", ("summary", "categories"), "share",
           "Share of reach prevented: 1 - sum of reach_total / sum of reach_baseline_total over the "
           "seeds, a ratio of totals (= 1 - reach_mean / reach_baseline_mean when every seed has "
           "the same posts; categories: of the category's posts).", "baseline: true"),
    Column("prevented_share_ci_low", ("summary", "categories"), "share",
           "Lower end of the 95% interval of prevented_share (delta method for a paired ratio; on "
           "the logit scale, inside [0, 1], when no seed's reach exceeds its twin's).",
           "baseline: true"),
    Column("prevented_share_ci_high", ("summary", "categories"), "share",
           "Upper end of the 95% interval of prevented_share (delta method for a paired ratio; on "
           "the logit scale, inside [0, 1], when no seed's reach exceeds its twin's).",
           "baseline: true"),
    *(Column(f"{prefix}{stem}{end}", ("summary",), "share", f"{what} {text}",
             _NT + (" (several: prefixed with the policy's label)" if prefix else ""))
      for prefix in ("", "policy<i>_")
      for stem, text in (("notice_reviewed_24h_share", "of the share of notices reviewed within 24 h "
                                                       "(the Code of Conduct's figure)."),
                         ("notice_removed_share", "of the share of notices that led to removal "
                                                  "(the Code of Conduct's figure)."))
      for end, what in (("_mean", "Mean over seeds"),
                        ("_ci_low", "Lower end of the 95% t-interval (cut to [0, 1]) over seeds"),
                        ("_ci_high", "Upper end of the 95% t-interval (cut to [0, 1]) over seeds"))),
    Column("target_round", ("results", "summary"), "text",
           "The Code of Conduct monitoring round the results are set beside: the config's "
           "target_round (data/code_of_conduct_rounds.csv).",
           "target_round set (experiment=coc_2016 or coc_2017)"),
    Column("target_notice_reviewed_24h_share", ("results", "summary"), "share",
           "The monitoring round's share of notifications reviewed within 24 h.",
           "target_round set (experiment=coc_2016 or coc_2017)"),
    Column("target_notice_removed_share", ("results", "summary"), "share",
           "The monitoring round's share of notifications that led to removal.",
           "target_round set (experiment=coc_2016 or coc_2017)"),
    Column("removed_share_mean", ("summary",), "share", "Mean over seeds of removed_share."),
    # ---------------------------------------------------------------- categories
    Column("posts_per_seed", ("categories",), "posts", "Posts of the category per seed (mean)."),
    # ---------------------------------------------------------------- calibration
    Column("reach_<stat>", ("calibration",), "users per post",
           "The calibrated statistic (mean or p95 of reach per illegal post) at this lever value, "
           "averaged over seeds."),
    Column("ci_low", ("calibration", "calibration.json"), "as the row",
           "calibration: lower end of the 95% t-interval of reach_<stat>; calibration.json: lower end "
           "of the answer's 95% interval (lever units)."),
    Column("ci_high", ("calibration", "calibration.json"), "as the row",
           "calibration: upper end of the 95% t-interval of reach_<stat>; calibration.json: upper end "
           "of the answer's 95% interval (lever units)."),
    Column("lever", ("calibration.json",), "text",
           "The config key calibrated (policy.latency_h, or an integer lever such as policy.moderators)."),
    Column("target", ("calibration.json",), "users per post", "The reach statistic not to exceed."),
    Column("stat", ("calibration.json",), "text", "The statistic: mean or p95 of reach per illegal post."),
    Column("value", ("calibration.json",), "lever units",
           "The answer: the largest latency (hours) or smallest count keeping the statistic at or "
           "below the target (null, with ci_low and ci_high, when the data do not support one)."),
    Column("supported", ("calibration.json",), "boolean",
           "Whether the data support an answer: a lever value meets the target on average and both "
           "ends of its 95% interval exist (false: the target lies inside the interval of every "
           "evaluated value that meets it)."),
    Column("points", ("calibration.json",), "list",
           "The evaluated points: lever value, the statistic and its 95% t-interval, in lever order."),
    Column("path", ("calibration.json",), "text", "How the curve was computed (deadline or simulated)."),
    Column("seeds", ("calibration.json",), "seeds", "The paired seeds used at every lever value."),
    Column("feasible", ("calibration.json",), "boolean", "Whether some lever value meets the target."),
    Column("line", ("calibration.json",), "text", "The answer in one line, as printed."),
    # ---------------------------------------------------------------- exported cascades
    Column("post_id", _EXPORT, "index", "The post's index in the run (as post_id of the posts table).", _EX),
    Column("content_id", ("shares",), "index", "The post's content id (as content_id of the posts table).", _EX),
    Column("copy", ("shares",), "count", "0 for an original upload, k for the k-th re-upload of the content.",
           _EX),
    Column("category", ("shares", "cascades"), "text",
           "The post's content category (legal for background posts).", _EX),
    Column("cascade", ("shares", "cascades"), "text",
           "The cascade's id, <seed>:<post> (the fit's cascade column).", _EX),
    Column("event", ("shares",), "user",
           "The share's id within its cascade: its sharer's user id (a user shares a post at most once).",
           _EX),
    Column("parent", ("shares",), "user",
           "The event (sharer) of the share this one reshared; empty for the upload.", _EX),
    Column("user", ("shares", "exposures"), "user",
           "shares: the sharer (the uploader for the upload); exposures: the user exposed.", _EX),
    Column("time", ("shares", "exposures"), "hours",
           "When the share or exposure happened, hours since the start of the run.", _EX),
    Column("observed_until", ("shares", "cascades"), "hours",
           "The cascade's observation end: the post's removal time if it was removed, else the "
           "horizon (no share of the post can happen after it).", _EX),
    Column("removal_time_h", ("shares", "exposures"), "hours",
           "shares: the post's removal time; exposures: when the copy seen went, the earlier of the "
           "post's and that copy's removal (empty: not removed before the horizon).", _EX),
    Column("source", ("exposures",), "user",
           "The sharer whose share (copy) the user saw: the event of that share in the shares table.",
           "export: exposures"),
    Column("first", ("exposures",), "boolean", "Whether this was the user's first exposure to the post.",
           "export: exposures"),
    Column("reshared", ("exposures",), "boolean",
           "Whether the user reshared the post at this exposure (a row of the shares table).",
           "export: exposures"),
    Column("before_removal", ("exposures",), "boolean",
           "Whether the exposure came before removal_time_h by the engine's tie rule; always true, "
           "since an exposure due at or after a removal never happens.", "export: exposures"),
    Column("reshares", ("cascades",), "shares", "Shares of the cascade, the upload not counted.", _EX),
    Column("depth", ("cascades",), "generations",
           "The longest chain of reshares below the upload (0: nobody reshared).", _EX),
    Column("breadth", ("cascades",), "shares", "The most shares at one depth below the upload.", _EX),
    Column("upload_time_h", ("cascades",), "hours", "The upload time, hours since the start of the run.", _EX),
    Column("last_share_time_h", ("cascades",), "hours", "The time of the cascade's latest share.", _EX),
    Column("removed", ("cascades",), "boolean", "Whether the post was removed before the horizon.", _EX),
    Column("version", ("calibration.json",), "text", "The spreadsim version that computed it."),
)


def _regex(name: str) -> re.Pattern[str]:
    parts = re.split(r"(<[a-z]+>)", name)
    return re.compile("".join(f"(?:{PLACEHOLDERS[p]})" if p in PLACEHOLDERS else re.escape(p)
                              for p in parts) + r"\Z")


@cache
def _compiled() -> tuple[tuple[Column, re.Pattern[str]], ...]:
    return tuple((c, _regex(c.name)) for c in GLOSSARY
                 if c.name not in ("<parameter>", "<platform>.<column>"))


def entries(table: str) -> list[Column]:
    """The entries of one table (a name of :data:`TABLES`), in glossary order."""
    return [c for c in GLOSSARY if table in c.tables]


def lookup(table: str, column: str, params: Iterable[str] = ()) -> Column | None:
    """The entry that describes ``column`` of ``table`` (None: undescribed).

    ``params``: the table's parameter columns (a job's overrides), described by ``<parameter>``.
    A name ``<platform>.<column>`` is described when ``<column>`` is a ``runs`` column.
    """
    if column in set(params):
        return next(c for c in GLOSSARY if c.name == "<parameter>")
    for c, rx in _compiled():
        if table in c.tables and rx.match(column):
            return c
    head, dot, rest = column.partition(".")
    if dot and head and ((table in _JOB and lookup("runs", rest) is not None)
                         or (table == "summary" and lookup("summary", rest) is not None)):
        return next(c for c in GLOSSARY if c.name == "<platform>.<column>")
    return None


def unit(table: str, column: str, params: Iterable[str] = ()) -> str:
    """The unit of a column ("" if undescribed)."""
    c = lookup(table, column, params)
    return c.unit if c else ""


def meaning(table: str, column: str, params: Iterable[str] = ()) -> str:
    """The meaning of a column ("" if undescribed)."""
    c = lookup(table, column, params)
    return c.meaning if c else ""


def undescribed(table: str, columns: Sequence[str], params: Iterable[str] = ()) -> list[str]:
    """The columns of ``table`` that no entry describes (for the glossary's test)."""
    p = list(params)
    return [c for c in columns if lookup(table, c, p) is None]
