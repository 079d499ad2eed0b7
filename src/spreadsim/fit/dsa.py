"""Removal delays from the DSA Transparency Database: read its dumps, filter, count delays, fit.

Statements of reasons carry a ``content_date`` (content posted) and an ``application_date``
(decision applied), both at day precision. :func:`dsa_delays` reads the daily dumps (a zip of
``*.csv.zip`` parts as downloaded, CSV, gzipped CSV, Parquet, folders of them, many at once) in a
stream (:mod:`spreadsim.fit.dsa_files`: pyarrow's CSV stream reader over each zip member,
``ParquetFile.iter_batches``; only the columns needed, as text; one batch and the counts in
memory), counts the reported delay in days
per (platform, category, source) of the rows matching the filters and the refused rows by reason,
fits each (platform, category) with interval censoring (:mod:`spreadsim.fit.delays`) and writes a
``latency_distribution`` policy config, the plots, the text summary and a report
(:mod:`spreadsim.fit.dsa_report`), all or none. Names and values are the database's (its API
documentation and ``app/Models/Statement.php`` of github.com/digital-services-act/transparency-database);
the categories renamed on 1 July 2025 are read as their new names (:data:`RENAMED_CATEGORIES`).
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spreadsim.errors import ConfigError, DataError
from spreadsim.fit import delays, dsa_report
from spreadsim.fit.delays import Fit
from spreadsim.fit.dsa_files import expand, file_batches
from spreadsim.fit.files import publish
from spreadsim.outputs.io import write_table
from spreadsim.outputs.layout import REPORT_FILE
from spreadsim.version import __version__

# --------------------------------------------------------------------------- the database's schema

PLATFORM, CATEGORY, SOURCE = "platform_name", "category", "source_type"
CONTENT_DATE, APPLICATION_DATE = "content_date", "application_date"
#: categories of the schema in force since 1 July 2025 (API v2)
CATEGORIES = tuple(f"STATEMENT_CATEGORY_{c}" for c in (
    "ANIMAL_WELFARE", "CONSUMER_INFORMATION", "CYBER_VIOLENCE", "CYBER_VIOLENCE_AGAINST_WOMEN",
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "ILLEGAL_OR_HARMFUL_SPEECH",
    "INTELLECTUAL_PROPERTY_INFRINGEMENTS", "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "NOT_SPECIFIED_NOTICE", "OTHER_VIOLATION_TC", "PROTECTION_OF_MINORS", "RISK_FOR_PUBLIC_SECURITY",
    "SCAMS_AND_FRAUD", "SELF_HARM", "UNSAFE_AND_PROHIBITED_PRODUCTS", "VIOLENCE"))
#: old (API v1) category -> its v2 name (the database's correspondence table of July 2025)
RENAMED_CATEGORIES = {
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS": "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
}
#: old categories without a v2 counterpart: kept as they are
REMOVED_CATEGORIES = ("STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
                      "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT")
SOURCES = ("SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION",
           "SOURCE_VOLUNTARY")
GROUNDS = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")
DETECTIONS = ("Yes", "No")
AUTOMATED_DECISIONS = ("AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY",
                       "AUTOMATED_DECISION_NOT_AUTOMATED")
VISIBILITIES = tuple(f"DECISION_VISIBILITY_{v}" for v in (
    "CONTENT_REMOVED", "CONTENT_DISABLED", "CONTENT_DEMOTED", "CONTENT_AGE_RESTRICTED",
    "CONTENT_INTERACTION_RESTRICTED", "CONTENT_LABELLED", "OTHER"))
#: the database refuses content dates before this day (its validation rule since v1.0.1) and
#: decisions before EARLIEST_DECISION; a platform's own launch date can be given (``earliest``)
EARLIEST_CONTENT = dt.date(2000, 1, 1)
EARLIEST_DECISION = dt.date(2020, 1, 1)
#: why a matching row is not used, in the order they are checked
REFUSALS = ("missing_date", "unparseable_date", "before_earliest_date", "content_after_decision")
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Filter:
    """One filter: the command-line option, the column, the allowed values (None: any text), and
    whether the column holds a list of values (a row matches when one of them is wanted)."""

    option: str
    column: str
    allowed: tuple[str, ...] | None
    prefix: str = ""
    is_list: bool = False


FILTERS = {
    "platform": Filter("--platform", PLATFORM, None),
    "category": Filter("--category", CATEGORY, CATEGORIES + tuple(RENAMED_CATEGORIES) + REMOVED_CATEGORIES,
                       "STATEMENT_CATEGORY_"),
    "ground": Filter("--ground", "decision_ground", GROUNDS, "DECISION_GROUND_"),
    "automated_detection": Filter("--automated-detection", "automated_detection", DETECTIONS),
    "automated_decision": Filter("--automated-decision", "automated_decision", AUTOMATED_DECISIONS,
                                 "AUTOMATED_DECISION_"),
    "source": Filter("--source", SOURCE, SOURCES, "SOURCE_"),
    "visibility": Filter("--visibility", "decision_visibility", VISIBILITIES, "DECISION_VISIBILITY_",
                         is_list=True),
    "keyword": Filter("--keyword", "category_specification", None, is_list=True),
}

__all__ = ["dsa_delays", "scan", "Scan", "DsaResult", "FILTERS", "CATEGORIES", "RENAMED_CATEGORIES",
           "REFUSALS", "EARLIEST_CONTENT", "EARLIEST_DECISION", "delay_table", "refusal_table", "groups",
           "expand", "check_filters", "policy_name", "slug"]


def _values(value: str | Sequence[str] | None) -> tuple[str, ...]:
    items = [] if value is None else [value] if isinstance(value, str) else list(value)
    return tuple(v.strip() for item in items for v in str(item).split(",") if v.strip())


def check_filters(**given: str | Sequence[str] | None) -> dict[str, tuple[str, ...]]:
    """The filters as tuples of the database's values: a value may be written in any case and
    without its prefix (``illegal_or_harmful_speech``); an old category also selects its new
    name and the other way round. Unknown values raise a one-line :class:`ConfigError`."""
    out = {}
    for name, value in given.items():
        if name not in FILTERS:
            raise ConfigError("filter", name, f"allowed: {', '.join(FILTERS)}")
        f = FILTERS[name]
        vals = _values(value)
        if not vals:
            continue
        if f.allowed is None:
            out[name] = tuple(v.upper() if name == "keyword" else v for v in vals)
            continue
        by_key = {a.upper(): a for a in f.allowed}
        chosen = []
        for v in vals:
            key = v.upper()
            hit = by_key.get(key) or by_key.get(f.prefix + key)
            if hit is None:
                raise ConfigError(f.option, v, f"not a {f.column} value; allowed: {', '.join(f.allowed)}")
            chosen.append(hit)
        if name == "category":
            canon = {RENAMED_CATEGORIES.get(c, c) for c in chosen}
            chosen = sorted(c for c in f.allowed if RENAMED_CATEGORIES.get(c, c) in canon)
        out[name] = tuple(dict.fromkeys(chosen))
    return out


def slug(text: str) -> str:
    """A file-name part: lower-case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


# --------------------------------------------------------------------------- counting

@dataclass
class Scan:
    """What the files hold: rows read, rows matching the filters, and the count of each
    (platform, category, source, code): code >= 0 is a delay in days, code < 0 a refusal
    (-1 - its index in :data:`REFUSALS`)."""

    files: list[str]
    rows_read: int = 0
    rows_matched: int = 0
    counts: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)

    def refused(self) -> dict[str, int]:
        out = dict.fromkeys(REFUSALS, 0)
        for (_, _, _, code), n in self.counts.items():
            if code < 0:
                out[REFUSALS[-1 - code]] += n
        return out

    @property
    def rows_used(self) -> int:
        return sum(n for k, n in self.counts.items() if k[3] >= 0)


def _text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        col = pc.binary_join(col, ",")
    return pc.utf8_trim_whitespace(pc.fill_null(pc.cast(col, pa.string()), ""))


def _days(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days since 1970, missing, unparseable) of a date column (text ``YYYY-MM-DD...`` or a
    date/timestamp type)."""
    if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
        days = pc.cast(pc.cast(col, pa.date32()), pa.int32())
        missing = pc.is_null(days).to_numpy(zero_copy_only=False)
        return pc.fill_null(days, 0).to_numpy(zero_copy_only=False), missing, np.zeros_like(missing)
    s = _text(col)
    missing = pc.equal(s, "").to_numpy(zero_copy_only=False)
    ymd = pc.utf8_slice_codeunits(s, 0, 10)
    parsed = pc.strptime(ymd, format="%Y-%m-%d", unit="s", error_is_null=True)  # 02-30 -> 03-02:
    days = pc.cast(pc.cast(parsed, pa.date32()), pa.int32())  # so a date must print as it reads
    same = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), ymd), False)
    bad = ~same.to_numpy(zero_copy_only=False) & ~missing
    return pc.fill_null(days, 0).to_numpy(zero_copy_only=False), missing, bad


def _count_batch(batch: pa.RecordBatch, filters: Mapping[str, tuple[str, ...]],
                 earliest: Mapping[str, int], out: Scan) -> None:
    out.rows_read += batch.num_rows
    mask = None
    for name, values in filters.items():
        f = FILTERS[name]
        col = _text(batch.column(f.column))
        if name == "platform":
            m = pc.is_in(pc.utf8_lower(col), value_set=pa.array([v.lower() for v in values]))
        elif f.is_list:
            pattern = r"(^|[^A-Za-z0-9_])(" + "|".join(map(re.escape, values)) + r")([^A-Za-z0-9_]|$)"
            m = pc.match_substring_regex(pc.utf8_upper(col) if name == "keyword" else col, pattern)
        else:
            m = pc.is_in(col, value_set=pa.array(values))
        mask = m if mask is None else pc.and_(mask, m)
    if mask is not None:
        batch = batch.filter(mask)
    n = batch.num_rows
    out.rows_matched += n
    platform = _text(batch.column(PLATFORM))
    content, c_missing, c_bad = _days(batch.column(CONTENT_DATE))
    applied, a_missing, a_bad = _days(batch.column(APPLICATION_DATE))
    floor = np.full(n, earliest[""], dtype=np.int64)
    if len(earliest) > 1:
        lower = pc.utf8_lower(platform).to_numpy(zero_copy_only=False)
        for p, day in earliest.items():
            if p:
                floor[lower == p] = day
    too_early = (content < floor) | (applied < (EARLIEST_DECISION - _EPOCH).days)
    delay = applied.astype(np.int64) - content
    code = np.where(c_missing | a_missing, -1, np.where(c_bad | a_bad, -2, np.where(
        too_early, -3, np.where(delay < 0, -4, delay))))
    t = pa.table({"p": platform, "c": _text(batch.column(CATEGORY)), "s": _text(batch.column(SOURCE)),
                  "code": pa.array(code, type=pa.int64())})
    for row in t.group_by(["p", "c", "s", "code"]).aggregate([("code", "count")]).to_pylist():
        cat = RENAMED_CATEGORIES.get(row["c"], row["c"])
        out.counts[(row["p"], cat, row["s"], row["code"])] += row["code_count"]


def _day(field: str, v: Any) -> int:
    try:
        return ((v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))) - _EPOCH).days
    except ValueError:
        raise ConfigError(field, v, "must be a date YYYY-MM-DD") from None


def scan(files: Iterable[str | Path], filters: Mapping[str, tuple[str, ...]], *,
         earliest: Mapping[str, Any] | None = None, earliest_content: Any = EARLIEST_CONTENT) -> Scan:
    """Stream every file and count delays and refusals of the rows matching ``filters`` (as
    returned by :func:`check_filters`). ``earliest`` maps a platform to the first day it existed
    (default for every platform: ``earliest_content``)."""
    paths = expand(files)
    floors = {"": _day("--earliest-content-date", earliest_content)}
    floors.update({str(p).lower(): _day(f"--earliest {p}", v) for p, v in (earliest or {}).items()})
    columns = list(dict.fromkeys([PLATFORM, CATEGORY, SOURCE, CONTENT_DATE, APPLICATION_DATE,
                                  *(FILTERS[k].column for k in filters)]))
    out = Scan([str(p) for p in paths])
    for path in paths:
        try:
            for batch in file_batches(path, columns, out.skipped):
                _count_batch(batch, filters, floors, out)
        except (pa.ArrowException, zipfile.BadZipFile, OSError, EOFError) as e:
            raise DataError(f"{path}: cannot read: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    return out


# --------------------------------------------------------------------------- tables

def _keyed(keys: list[tuple[str, str, str, int]]) -> dict[str, np.ndarray]:
    return {name: np.array([k[i] for k in keys], dtype=object)
            for i, name in enumerate(("platform", "category", "source"))}


def delay_table(s: Scan) -> dict[str, np.ndarray]:
    """Rows per (platform, category, source, reported delay in days), with the interval (hours)
    each delay puts the true delay in."""
    keys = sorted(k for k in s.counts if k[3] >= 0)
    days = np.array([k[3] for k in keys], dtype=np.int64)
    lo, hi = delays.day_interval_h(days)
    return {**_keyed(keys), "delay_days": days, "delay_lo_h": lo, "delay_hi_h": hi,
            "rows": np.array([s.counts[k] for k in keys], dtype=np.int64)}


def refusal_table(s: Scan) -> dict[str, np.ndarray]:
    """Refused rows per (platform, category, source, reason)."""
    keys = sorted((k for k in s.counts if k[3] < 0), key=lambda k: (k[0], k[1], k[2], -k[3]))
    return {**_keyed(keys), "reason": np.array([REFUSALS[-1 - k[3]] for k in keys], dtype=object),
            "rows": np.array([s.counts[k] for k in keys], dtype=np.int64)}


def groups(s: Scan) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(platform, category) -> (reported delays in days, rows), pooled over sources."""
    acc: dict[tuple[str, str], Counter[int]] = {}
    for (p, c, _, code), n in s.counts.items():
        if code >= 0:
            acc.setdefault((p, c), Counter())[code] += n
    return {k: (np.array(sorted(v)), np.array([v[d] for d in sorted(v)])) for k, v in sorted(acc.items())}


# --------------------------------------------------------------------------- the whole command

@dataclass
class DsaResult:
    """What :func:`dsa_delays` found: the scan, the fits per (platform, category), the model each
    policy uses, the text summary and the files written."""

    scan: Scan
    filters: dict[str, tuple[str, ...]]
    fits: dict[tuple[str, str], dict[str, Fit]]
    chosen: dict[tuple[str, str], str]
    summary: str
    written: list[Path]


def policy_name(platform: str, category: str) -> str:
    """``dsa_<platform>_<category>``: the policy config's name (``policy=<name>``), e.g.
    ``dsa_tiktok_illegal_or_harmful_speech``."""
    return f"dsa_{slug(platform)}_{slug(category.removeprefix('STATEMENT_CATEGORY_'))}"


def dsa_delays(files: Iterable[str | Path] | str | Path, *, earliest: Mapping[str, Any] | None = None,
               earliest_content: Any = EARLIEST_CONTENT, dist: str = "auto", out: str | Path | None = None,
               n_boot: int = 200, seed: int = 0, command: str | None = None,
               **filters: str | Sequence[str] | None) -> DsaResult:
    """Removal delays of DSA statements of reasons, fitted with interval censoring.

    Parameters
    ----------
    files : path or paths
        Dump files (``.zip`` of CSV parts, ``.csv``, ``.csv.gz``, ``.parquet``) or folders of them.
    **filters
        ``platform``, ``category``, ``ground``, ``automated_detection``, ``automated_decision``,
        ``source``, ``visibility``, ``keyword`` (:data:`FILTERS`): one value, a list, or
        comma-separated; a row is kept when it matches every filter given (values in any case,
        prefixes optional).
    earliest : mapping, optional
        ``{platform_name: first day}``: content dated before it is refused (``before_earliest_date``).
    earliest_content : date or str
        The same for every other platform (default: the database's own lower bound, 2000-01-01).
    dist : str
        The model each policy config uses: ``auto`` (lowest AIC), ``exponential``, ``lognormal``
        or ``empirical``.
    out : path, optional
        Folder to write the tables, the policy configs (``policy/``), the plots, ``summary.txt``
        and ``report.html`` into, all or none (:func:`spreadsim.fit.files.publish`).
    n_boot, seed : int
        Bootstrap resamples of the empirical fit and the seed of their generator.
    command : str, optional
        The command line the report shows (``spreadsim dsa-delays ...``, given by the command).

    Returns
    -------
    DsaResult
        The scan (rows read, used and refused by reason), the fits per (platform, category), the
        model each policy config uses, the text summary and the files written.
    """
    if dist not in ("auto", *delays.MODELS):
        raise ConfigError("--dist", dist, f"allowed: auto, {', '.join(delays.MODELS)}")
    for name, v in (("--bootstrap", n_boot), ("--seed", seed)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(name, v, "must be an integer >= 0")
    flt = check_filters(**filters)
    s = scan([files] if isinstance(files, str | Path) else files, flt, earliest=earliest,
             earliest_content=earliest_content)
    described = "; ".join(f"{FILTERS[k].column} in {', '.join(v)}" for k, v in flt.items()) or "none"
    if s.rows_matched == 0:
        raise DataError(f"no row of {s.rows_read} in {len(s.files)} file(s) matches the filters ({described})")
    grouped = groups(s)
    refused = s.refused()
    if not grouped:
        raise DataError(f"none of the {s.rows_matched} matching rows has a usable delay (refused: "
                        + ", ".join(f"{k} {v}" for k, v in refused.items()) + ")")
    fits = {k: delays.fit_all(d, n, n_boot=n_boot, seed=seed) for k, (d, n) in grouped.items()}
    chosen = {k: delays.choose(f, dist) for k, f in fits.items()}
    lines = [f"DSA removal delays: {len(s.files)} file(s), {s.rows_read} rows read, {s.rows_matched} "
             f"match the filters ({described})",
             f"rows used: {s.rows_used}; refused: " + ", ".join(f"{k} {v}" for k, v in refused.items())]
    by_group = Counter[tuple[str, str, str]]()
    for (p, c, _, code), n in s.counts.items():
        by_group[(p, c, "used" if code >= 0 else REFUSALS[-1 - code])] += n
    for (p, c), f in fits.items():
        lines += ["", f"{p} / {c}: {by_group[(p, c, 'used')]} rows used; refused: "
                  + ", ".join(f"{r} {by_group[(p, c, r)]}" for r in REFUSALS)]
        lines += delays.summary_lines(f, chosen[(p, c)])
        if out is not None:
            lines.append(f"  policy: {Path(out) / 'policy' / (policy_name(p, c) + '.yaml')}")
    if s.skipped:
        lines += ["", f"zip members skipped (not data): {', '.join(s.skipped)}"]
    if out is not None:
        lines += ["", f"run a policy: spreadsim experiment=single 'hydra.searchpath=[file://{Path(out).resolve()}]' "
                  "policy=<name>"]
    summary = "\n".join(lines) + "\n"
    meta = {"command": command or "spreadsim.dsa_delays(...)", "date": dt.datetime.now(dt.UTC).strftime(
        "%Y-%m-%d %H:%M UTC"), "version": f"spreadsim {__version__}"}
    written = _write(Path(out), s, fits, chosen, grouped, summary, described, by_group, meta) if out is not None else []
    return DsaResult(s, flt, fits, chosen, summary, written)


def _write(out: Path, s: Scan, fits: Mapping[tuple[str, str], dict[str, Fit]],
           chosen: Mapping[tuple[str, str], str], grouped: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]],
           summary: str, described: str, by_group: Counter[tuple[str, str, str]], meta: dict[str, str]) -> list[Path]:
    """Every output file into ``out``, all or none (:func:`spreadsim.fit.files.publish`)."""
    names = {k: policy_name(*k) for k in fits}
    tables = {"delays": delay_table(s), "refused": refusal_table(s), "fits": delays.fits_table(fits, chosen)}

    def write(tmp: Path) -> list[str]:
        rels = []
        for name, table in tables.items():
            write_table(table, tmp / name)
            rels += [f"{name}.parquet", f"{name}.csv"]
        (tmp / "policy").mkdir()
        for (p, c), f in fits.items():
            csv, yaml, png = (f"policy/{names[(p, c)]}_delays.csv", f"policy/{names[(p, c)]}.yaml",
                              f"{names[(p, c)]}.png")
            (tmp / csv).write_text("# quantiles of the empirical (day-bin) fit, hours\n"
                                   + delays.quantile_table(f["empirical"]))
            head = [f"Removal delays of {p}, {c}, from the DSA Transparency Database (spreadsim dsa-delays):",
                    f"{int(grouped[(p, c)][1].sum())} statements of reasons; filters: {described}."]
            (tmp / yaml).write_text(delays.policy_yaml(f, chosen[(p, c)], str((out / csv).resolve()), head))
            (tmp / png).write_bytes(delays.plot_fits(f, *grouped[(p, c)], f"{p} / {c}"))
            rels += [csv, yaml, png]
        (tmp / "summary.txt").write_text(summary)
        page = dsa_report.report_page(
            fits=fits, chosen=chosen, used={k: by_group[(*k, "used")] for k in fits},
            refused_by_group={k: {r: by_group[(*k, r)] for r in REFUSALS} for k in fits}, refused=s.refused(),
            rows_read=s.rows_read, rows_matched=s.rows_matched, rows_used=s.rows_used, n_files=len(s.files),
            filters=described, policies={k: f"policy/{n}.yaml" for k, n in names.items()},
            figures=[tmp / f"{n}.png" for n in names.values()],
            tables=[("Every model's fit (value and 95% interval)", tables["fits"]),
                    ("Rows refused per (platform, category, source)", tables["refused"])],
            text=summary, meta={**meta, "output": str(out.resolve())})
        (tmp / REPORT_FILE).write_text(page, encoding="utf-8")
        return [*rels, "summary.txt", REPORT_FILE]

    return publish(out, write)
