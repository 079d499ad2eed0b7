"""Memory of ``spreadsim dsa-delays`` on a large DSA Transparency Database dump.

Writes a CSV in the database's full dump schema (the columns of its daily "full" files, rows of
about 1 kB like the real ones) of ``--gb`` GB (2^30 bytes; default 1.5) into a temporary folder, runs
``spreadsim dsa-delays`` on it in a subprocess and reports the child's peak resident set size
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) and its wall time; the file is deleted after.
The bound the command must stay within is 1 GB (``--limit-gb``). ``statements`` is also the
generator the tests' fixtures use.

    python benchmarks/bench_dsa.py            # 1.5 GB: a few minutes
    python benchmarks/bench_dsa.py --gb 0.05  # a quick check
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

#: the columns of a "full" daily dump file, in order (the database's StatementExportTrait::headings)
FULL_COLUMNS = (
    "uuid", "decision_visibility", "decision_visibility_other", "end_date_visibility_restriction",
    "decision_monetary", "decision_monetary_other", "end_date_monetary_restriction",
    "decision_provision", "end_date_service_restriction", "decision_account",
    "end_date_account_restriction", "account_type", "decision_ground", "decision_ground_reference_url",
    "illegal_content_legal_ground", "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "incompatible_content_illegal", "category", "category_addition",
    "category_specification", "category_specification_other", "content_type", "content_type_other",
    "content_language", "content_date", "content_id_ean", "territorial_scope", "application_date",
    "decision_facts", "source_type", "source_identity", "automated_detection", "automated_decision",
    "platform_name", "platform_uid", "created_at")
_FACTS = ("The content was reviewed against the provider's terms of service and the applicable law; "
          "it was found to violate the policy cited, and access to it was restricted in the territories "
          "listed. ") * 4
_EPOCH = np.datetime64("1970-01-01", "D")


def _dates(day: np.ndarray) -> np.ndarray:
    """Days since 1970 as the dumps write them: ``YYYY-MM-DD 00:00:00``."""
    return np.char.add(np.datetime_as_string(_EPOCH + day.astype("timedelta64[D]")), " 00:00:00")


def statements(rng: np.random.Generator, n: int, *, delays_h: np.ndarray, platform: str = "TikTok",
               category: str = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
               sources: tuple[str, ...] = ("SOURCE_ARTICLE_16", "SOURCE_VOLUNTARY"),
               first_day: str = "2025-03-01", days: int = 60) -> dict[str, np.ndarray]:
    """``n`` statements of reasons with true delays ``delays_h`` (hours): the content is posted at
    a uniform time within ``days`` days from ``first_day`` and decided ``delays_h`` later; both
    are written as the days they fall in (the dumps' day precision)."""
    posted_h = (np.datetime64(first_day, "D") - _EPOCH).astype(np.int64) * 24 + rng.uniform(0, 24 * days, n)
    content = np.floor(posted_h / 24).astype(np.int64)
    applied = np.floor((posted_h + delays_h) / 24).astype(np.int64)
    cols = dict.fromkeys(FULL_COLUMNS, np.full(n, "", dtype=object))
    cols.update({
        "uuid": np.array([f"{x:032x}" for x in rng.integers(0, 2**62, n)], dtype=object),
        "decision_visibility": np.full(n, '["DECISION_VISIBILITY_CONTENT_REMOVED"]', dtype=object),
        "decision_ground": np.where(rng.random(n) < 0.5, "DECISION_GROUND_ILLEGAL_CONTENT",
                                    "DECISION_GROUND_INCOMPATIBLE_CONTENT").astype(object),
        "category": np.full(n, category, dtype=object),
        "category_specification": np.full(n, '["KEYWORD_HATE_SPEECH"]', dtype=object),
        "content_type": np.full(n, '["CONTENT_TYPE_VIDEO"]', dtype=object),
        "content_date": _dates(content).astype(object), "application_date": _dates(applied).astype(object),
        "territorial_scope": np.full(n, '["AT","BE","DE","FR"]', dtype=object),
        "decision_facts": np.full(n, _FACTS, dtype=object),
        "source_type": rng.choice(np.array(sources, dtype=object), n),
        "automated_detection": np.where(rng.random(n) < 0.5, "Yes", "No").astype(object),
        "automated_decision": np.full(n, "AUTOMATED_DECISION_PARTIALLY", dtype=object),
        "platform_name": np.full(n, platform, dtype=object),
        "platform_uid": np.array([f"{platform}-{i}" for i in range(n)], dtype=object),
        "created_at": _dates(applied).astype(object)})
    return cols


def write_csv(path: Path, target_bytes: int, *, seed: int = 0, chunk: int = 50_000,
              half_life_h: float = 30.0) -> int:
    """Write a dump CSV of at least ``target_bytes`` (exponential delays); return its rows."""
    rng = np.random.default_rng(seed)
    rows = 0
    schema = pa.schema([(c, pa.string()) for c in FULL_COLUMNS])
    with pacsv.CSVWriter(str(path), schema) as w:
        while path.stat().st_size < target_bytes:
            cols = statements(rng, chunk, delays_h=rng.exponential(half_life_h / np.log(2), chunk))
            w.write_table(pa.table({c: pa.array(cols[c], pa.string()) for c in FULL_COLUMNS}, schema=schema))
            rows += chunk
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gb", type=float, default=1.5, help="size of the generated CSV (GB, 2^30 bytes)")
    ap.add_argument("--limit-gb", type=float, default=1.0, help="peak RSS allowed (GB, 2^30 bytes)")
    ap.add_argument("--tmp", default=None, help="folder for the temporary files (default: the system's)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=a.tmp, prefix="bench_dsa_") as d:
        csv = Path(d) / "sor-global-2025-03-01-full.csv"
        t0 = time.perf_counter()
        rows = write_csv(csv, int(a.gb * 2**30))
        size, gen_s = csv.stat().st_size, time.perf_counter() - t0
        print(f"generated {csv.name}: {size / 2**30:.2f} GB, {rows} rows in {gen_s:.0f} s", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "dsa-delays", str(csv),
                            "--platform", "TikTok", "--out", str(Path(d) / "out")],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: kB
    ok = r.returncode == 0 and peak <= a.limit_gb * 2**30
    print(r.stdout, end="")
    print(r.stderr, end="", file=sys.stderr)
    print(json.dumps({"csv_bytes": size, "rows": rows, "exit": r.returncode, "wall_s": round(wall, 1),
                      "peak_rss_mb": round(peak / 2**20), "limit_mb": round(a.limit_gb * 2**10),
                      "within_limit": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
