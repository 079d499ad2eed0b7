"""Removal delays from DSA Transparency Database dumps (spreadsim.fit.dsa, spreadsim.fit.delays).

The fixtures are generated here in the database's full dump schema (benchmarks/bench_dsa.py's
``statements``: content posted at a uniform time, decided a known delay later, both written as
days), with every kind of bad row, and written as CSV, as a zip of zipped CSV parts (the layout
of the daily dumps) and as Parquet. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from spreadsim.errors import ConfigError, DataError
from spreadsim.fit import delays, dsa, dsa_cli, profile
from spreadsim.outputs.io import read_table

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dsa.py"
_spec = importlib.util.spec_from_file_location("bench_dsa", BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

HALF_LIFE = 30.0
N_GOOD = 3000
#: the bad rows of the fixture: (reason, content_date, application_date, how many)
BAD = [("missing_date", "", "2025-03-02 00:00:00", 7), ("missing_date", "2025-03-01 00:00:00", "", 5),
       ("unparseable_date", "2025-02-30 00:00:00", "2025-03-02 00:00:00", 3),
       ("unparseable_date", "2025-03-01", "yesterday", 2),
       ("before_earliest_date", "1999-12-31 00:00:00", "2025-03-02 00:00:00", 3),
       ("before_earliest_date", "2019-05-01 00:00:00", "2019-06-01 00:00:00", 2),
       ("content_after_decision", "2025-03-05 00:00:00", "2025-03-02 00:00:00", 6)]
OLD_SCHEMA_ROWS = 200  # TikTok rows under the pre-July-2025 name SCOPE_OF_PLATFORM_SERVICE


def _table(cols: dict[str, np.ndarray]) -> pa.Table:
    return pa.table({c: pa.array(cols[c], pa.string()) for c in bench.FULL_COLUMNS})


def _fixture(seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    exp = rng.exponential(HALF_LIFE / math.log(2), N_GOOD)
    parts = [bench.statements(rng, N_GOOD, delays_h=exp)]
    parts.append(bench.statements(rng, 500, delays_h=rng.exponential(100.0, 500), platform="YouTube"))
    parts.append(bench.statements(rng, 400, delays_h=rng.exponential(5.0, 400),
                                  category="STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"))
    parts.append(bench.statements(rng, OLD_SCHEMA_ROWS, delays_h=rng.exponential(50.0, OLD_SCHEMA_ROWS),
                                  category="STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"))
    for _, content, applied, k in BAD:
        bad = bench.statements(rng, k, delays_h=np.zeros(k))
        bad["content_date"] = np.full(k, content, dtype=object)
        bad["application_date"] = np.full(k, applied, dtype=object)
        parts.append(bad)
    tables = [_table(p) for p in parts]
    order = rng.permutation(sum(t.num_rows for t in tables))
    return pa.concat_tables(tables).take(pa.array(order))


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> dict[str, Path]:
    """The same statements as CSV, as a zip of zipped CSV parts (the daily dumps' layout) and as
    Parquet."""
    d = tmp_path_factory.mktemp("dsa")
    t = _fixture()
    pacsv.write_csv(t, d / "sor.csv")
    half = t.num_rows // 2
    with zipfile.ZipFile(d / "sor-global-2025-03-01-full.zip", "w") as outer:
        for i, part in enumerate((t.slice(0, half), t.slice(half))):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as inner:
                sink = io.BytesIO()
                pacsv.write_csv(part, sink)
                inner.writestr(f"sor-global-2025-03-01-full-{i:05d}.csv", sink.getvalue())
            outer.writestr(f"sor-global-2025-03-01-full-{i:05d}.csv.zip", buf.getvalue())
        outer.writestr("README.txt", "not data")
    pq.write_table(t, d / "sor.parquet", row_group_size=1000)
    return {"csv": d / "sor.csv", "zip": d / "sor-global-2025-03-01-full.zip", "parquet": d / "sor.parquet"}


TIKTOK_SPEECH = {"platform": "tiktok", "category": "illegal_or_harmful_speech"}


# --------------------------------------------------------------------------- reading and counting

def test_every_format_gives_the_same_counts_and_bad_rows_are_counted_exactly(dumps):
    scans = {k: dsa.scan([p], dsa.check_filters(**TIKTOK_SPEECH)) for k, p in dumps.items()}
    counts = {k: s.counts for k, s in scans.items()}
    assert counts["csv"] == counts["zip"] == counts["parquet"]
    s = scans["zip"]
    expected = dict.fromkeys(dsa.REFUSALS, 0)
    for reason, _, _, k in BAD:
        expected[reason] += k
    assert s.refused() == expected
    assert s.rows_used == N_GOOD
    assert s.rows_matched == N_GOOD + sum(k for *_, k in BAD)
    assert s.rows_read == N_GOOD + 500 + 400 + OLD_SCHEMA_ROWS + sum(k for *_, k in BAD)
    assert s.skipped == [f"{dumps['zip']}:README.txt"]
    table = dsa.delay_table(s)
    assert table["rows"].sum() == N_GOOD
    np.testing.assert_array_equal(table["delay_lo_h"], np.maximum(24.0 * (table["delay_days"] - 1), 0))
    np.testing.assert_array_equal(table["delay_hi_h"], 24.0 * (table["delay_days"] + 1))
    refused = dsa.refusal_table(s)
    assert {r: int(refused["rows"][refused["reason"] == r].sum()) for r in dsa.REFUSALS} == expected


def test_filters_select_exactly_the_matching_rows(dumps):
    zip_ = [dumps["zip"]]
    bad = sum(k for *_, k in BAD)

    def used(**f: object) -> int:
        return dsa.scan(zip_, dsa.check_filters(**f)).rows_used

    assert used(platform="YouTube") == 500
    assert used(platform="TIKTOK", category="intellectual_property_infringements") == 400
    # the old name and the new one select the same rows (the 2025 schema change)
    assert used(category="STATEMENT_CATEGORY_OTHER_VIOLATION_TC") == OLD_SCHEMA_ROWS
    assert used(category="scope_of_platform_service") == OLD_SCHEMA_ROWS
    s = dsa.scan(zip_, dsa.check_filters(category="other_violation_tc"))
    assert {k[1] for k in s.counts} == {"STATEMENT_CATEGORY_OTHER_VIOLATION_TC"}
    both = used(**TIKTOK_SPEECH, source="article_16") + used(**TIKTOK_SPEECH, source="SOURCE_VOLUNTARY")
    assert both == N_GOOD
    assert used(**TIKTOK_SPEECH, source="article_16,voluntary") == N_GOOD
    assert used(**TIKTOK_SPEECH, ground="illegal_content") + used(**TIKTOK_SPEECH, ground="incompatible_content") \
        == N_GOOD
    assert used(**TIKTOK_SPEECH, automated_detection="yes") + used(**TIKTOK_SPEECH, automated_detection="No") \
        == N_GOOD
    assert used(**TIKTOK_SPEECH, visibility="content_removed") == N_GOOD
    assert used(**TIKTOK_SPEECH, visibility="content_demoted") == 0
    assert used(**TIKTOK_SPEECH, keyword="keyword_hate_speech") == N_GOOD
    assert used(**TIKTOK_SPEECH, keyword="KEYWORD_HATE") == 0  # a whole keyword, not a prefix
    assert dsa.scan(zip_, dsa.check_filters(**TIKTOK_SPEECH)).rows_matched == N_GOOD + bad


def test_a_platforms_earliest_date_refuses_older_content(dumps):
    loose = dsa.scan([dumps["csv"]], dsa.check_filters(**TIKTOK_SPEECH))
    strict = dsa.scan([dumps["csv"]], dsa.check_filters(**TIKTOK_SPEECH), earliest={"TikTok": "2025-03-15"})
    moved = strict.refused()["before_earliest_date"] - loose.refused()["before_earliest_date"]
    # every good row posted before 15 March (of 60 days from 1 March) is now refused, and so are
    # the rows posted on 5 March but decided before (the date is checked first); no other
    early = loose.rows_used - strict.rows_used
    assert early > 0 and moved == early + loose.refused()["content_after_decision"]
    assert strict.refused()["content_after_decision"] == 0
    assert strict.refused()["missing_date"] == loose.refused()["missing_date"]
    assert strict.refused()["unparseable_date"] == loose.refused()["unparseable_date"]
    other = dsa.scan([dumps["csv"]], dsa.check_filters(platform="YouTube"), earliest={"TikTok": "2025-03-15"})
    assert other.rows_used == 500  # another platform keeps the global bound


def test_typed_parquet_columns_are_read(tmp_path):
    """A Parquet file with date-typed dates and list-typed visibility (as a converter may write)."""
    rng = np.random.default_rng(3)
    cols = bench.statements(rng, 100, delays_h=rng.exponential(30.0, 100))
    t = _table(cols)
    dates = {c: pa.array(np.array([v[:10] for v in cols[c]], dtype="datetime64[D]"), pa.date32())
             for c in ("content_date", "application_date")}
    t = t.set_column(t.schema.get_field_index("content_date"), "content_date", dates["content_date"])
    t = t.set_column(t.schema.get_field_index("application_date"), "application_date", dates["application_date"])
    vis = pa.array([["DECISION_VISIBILITY_CONTENT_REMOVED"]] * 100, pa.list_(pa.string()))
    t = t.set_column(t.schema.get_field_index("decision_visibility"), "decision_visibility", vis)
    pq.write_table(t, tmp_path / "typed.parquet")
    text = tmp_path / "text.csv"
    pacsv.write_csv(_table(cols), text)
    f = dsa.check_filters(visibility="content_removed")
    assert dsa.scan([tmp_path / "typed.parquet"], f).counts == dsa.scan([text], f).counts
    assert dsa.scan([tmp_path / "typed.parquet"], f).rows_used == 100


# --------------------------------------------------------------------------- the likelihood of a day

@pytest.mark.parametrize("model", ["exponential", "lognormal"])
def test_day_probabilities_match_two_day_truncated_times(model):
    """P(D = d) against D = floor(A/24) - floor(C/24) simulated from hour-precise times: each
    cell within 4.5 multinomial standard errors (a 10-cell family: a false alarm under 1e-4)."""
    rng = np.random.default_rng(11)
    n = 400_000
    x = rng.exponential(HALF_LIFE / math.log(2), n) if model == "exponential" else \
        np.exp(math.log(40.0) + 1.2 * rng.standard_normal(n))
    c = rng.uniform(0, 24 * 1000, n)
    d = np.floor((c + x) / 24) - np.floor(c / 24)
    obs = np.bincount(d.astype(int), minlength=10)[:10] / n
    cells = np.arange(10)
    p = delays.exponential_probs(cells, HALF_LIFE) if model == "exponential" else \
        delays.lognormal_probs(cells, math.log(40.0), 1.2)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(obs - p) < 4.5 * se), (obs, p)
    many = np.arange(5000)
    total = delays.exponential_probs(many, HALF_LIFE).sum() if model == "exponential" else \
        delays.lognormal_probs(many, math.log(40.0), 1.2).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


def test_what_a_reported_day_means():
    """A reported 0 days (content and decision on the same day) is a true delay in [0, 24) h and
    1 day one in (0, 48) h: the true delays behind simulated day-truncated dates fill exactly
    the intervals of day_interval_h, and the report and docs say so (not "0 to 48 h")."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 96, 200_000)
    c = rng.uniform(0, 24 * 1000, x.size)
    d = np.floor((c + x) / 24) - np.floor(c / 24)
    lo, hi = delays.day_interval_h(np.array([0, 1, 2]))
    for day in (0, 1, 2):
        seen = x[d == day]
        # the weight falls linearly to 0 at a triangle's end, so 200,000 delays uniform over
        # 96 h put 200,000/96 * 1.5^2/48 = 98 expected points within 1.5 h of it: a gap wider
        # than that has probability e^-98
        assert lo[day] <= seen.min() < lo[day] + 1.5 and hi[day] - 1.5 < seen.max() < hi[day], day
    assert (lo[0], hi[0], lo[1], hi[1]) == (0.0, 24.0, 0.0, 48.0)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "fitting.md").read_text()
    for text in (docs, delays.__doc__ or ""):
        flat = " ".join(text.split())
        assert "same day) is a delay in [0, 24) h" in flat and "0 to 48" not in flat


def _fisher_se(probs, theta: np.ndarray, n: int, h: float = 1e-5) -> np.ndarray:
    """Standard errors of theta from the expected information of n reported delays."""
    d = np.arange(2000)
    p = probs(d, theta)
    grads = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        grads.append((probs(d, theta + e) - probs(d, theta - e)) / (2 * h))
    g = np.array(grads)
    info = n * (g / np.maximum(p, 1e-300)) @ g.T
    return np.sqrt(np.diag(np.linalg.inv(info)))


def _reported(rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reported delays (days) and their counts of true delays ``x`` (hours) posted at uniform times."""
    c = rng.uniform(0, 24 * 365, x.size)
    d = (np.floor((c + x) / 24) - np.floor(c / 24)).astype(int)
    days, rows = np.unique(d, return_counts=True)
    return days, rows.astype(float)


def test_exponential_fit_recovers_the_half_life():
    """4000 delays at day precision: the half-life within 4 SE of the truth (SE from the
    expected information of day-censored data, 1.6% of 30 h here), the profile interval as wide
    as +-1.96 SE (within 15%)."""
    rng = np.random.default_rng(5)
    n = 4000
    days, rows = _reported(rng, rng.exponential(HALF_LIFE / math.log(2), n))
    fit = delays.fit_exponential(days, rows)
    se = _fisher_se(lambda d, th: delays.exponential_probs(d, th[0]), np.array([HALF_LIFE]), n)[0]
    h = fit.params["half_life_h"]
    assert abs(h.value - HALF_LIFE) < 4 * se
    assert h.lo < h.value < h.hi
    assert (h.hi - h.lo) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert fit.median_h == h
    assert fit.within_24h.value == pytest.approx(1 - 2 ** (-24 / h.value))


def test_lognormal_fit_recovers_median_and_sigma():
    """4000 lognormal delays (median 40 h, sigma 1.2): median and sigma each within 4 SE (from
    the expected information of day-censored data), intervals about +-1.96 SE."""
    rng = np.random.default_rng(6)
    n, mu, sigma = 4000, math.log(40.0), 1.2
    days, rows = _reported(rng, np.exp(mu + sigma * rng.standard_normal(n)))
    fit = delays.fit_lognormal(days, rows)
    se_mu, se_s = _fisher_se(lambda d, th: delays.lognormal_probs(d, th[0], th[1]), np.array([mu, sigma]), n)
    med, sig = fit.params["median_h"], fit.params["sigma"]
    assert abs(math.log(med.value) - mu) < 4 * se_mu
    assert abs(sig.value - sigma) < 4 * se_s
    assert math.log(med.hi) - math.log(med.lo) == pytest.approx(2 * 1.96 * se_mu, rel=0.15)
    assert sig.hi - sig.lo == pytest.approx(2 * 1.96 * se_s, rel=0.15)
    assert fit.within_24h.lo < fit.within_24h.value < fit.within_24h.hi


def test_a_median_in_the_first_day_bin_is_a_bound():
    """1000 delays all reported as 0 days: the histogram puts its median in the first bin,
    [0, 12) h, within which it cannot place it (uniform there by construction), so it reads
    "< 12 h [0, 12]", not "6.0 h [6.0, 6.0]"; a median beyond the first bin stays a point."""
    fit = delays.fit_empirical(np.array([0]), np.array([1000.0]), n_boot=50)
    m = fit.median_h
    assert m.below == 12.0 and m.lo == 0.0 and m.hi >= 12.0
    assert m.text(unit=" h").startswith("< 12 h [0, ")
    fits = delays.fit_all(np.array([0]), np.array([1000.0]), n_boot=50)
    assert "empirical: median < 12 h [0, " in "\n".join(delays.summary_lines(fits, "empirical"))
    later = delays.fit_empirical(np.array([2, 3, 4]), np.array([300.0, 400.0, 300.0]), n_boot=50).median_h
    assert later.below is None and 48.0 < later.value < 96.0 and later.lo < later.value < later.hi


def test_empirical_fit_recovers_a_day_bin_histogram():
    """True delays drawn from a histogram on the fit's own day bins: the fitted masses within
    4 SE of the truth, the SE of each bin's mass from 100 bootstrap refits of the counts."""
    rng = np.random.default_rng(8)
    q = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    edges = np.concatenate([[0.0], 24.0 * np.arange(q.size) + 12.0])
    n = 4000
    k = rng.choice(q.size, n, p=q)
    x = rng.uniform(edges[k], edges[k + 1])
    days, rows = _reported(rng, x)
    fit = delays.fit_empirical(days, rows, n_boot=100, rng=np.random.default_rng(1))
    masses = np.diff(fit.cdf(edges))
    boot = []
    counts = np.zeros(int(days.max()) + 1)
    np.add.at(counts, days, rows)
    for _ in range(100):
        b = rng.multinomial(n, counts / n)
        f = delays.fit_empirical(np.arange(b.size)[b > 0], b[b > 0].astype(float), n_boot=0)
        boot.append(np.diff(f.cdf(edges)))
    se = np.std(boot, axis=0)
    assert np.all(np.abs(masses - q) < 4 * se), (masses, q, se)
    true_median = float(np.interp(0.5, np.concatenate([[0], np.cumsum(q)]), edges))
    assert fit.median_h.lo < fit.median_h.hi
    assert abs(fit.median_h.value - true_median) < 4 * (fit.median_h.hi - fit.median_h.lo) / 3.92


# --------------------------------------------------------------------------- the command

def test_dsa_delays_writes_tables_policy_plot_and_summary(dumps, tmp_path):
    r = dsa.dsa_delays([dumps["zip"]], out=tmp_path / "out", n_boot=50, **TIKTOK_SPEECH)
    out = tmp_path / "out"
    name = "dsa_tiktok_illegal_or_harmful_speech"
    policy = yaml.safe_load((out / "policy" / f"{name}.yaml").read_text())
    fit = r.fits[("TikTok", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH")]
    chosen = r.chosen[("TikTok", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH")]
    assert chosen == min(delays.MODELS, key=lambda m: fit[m].aic)
    assert policy["name"] == "latency_distribution" and policy["dist"] == chosen
    # the fixture's 3000 good rows have exponential delays of half-life 30 h: recovered within
    # 4 SE (from the expected information of 3000 day-censored delays, about 0.55 h)
    se = _fisher_se(lambda d, th: delays.exponential_probs(d, th[0]), np.array([HALF_LIFE]), N_GOOD)[0]
    assert abs(fit["exponential"].params["half_life_h"].value - HALF_LIFE) < 4 * se
    from spreadsim.schema.policies import parse_policy

    parse_policy(policy, "policy")  # the schema accepts it
    assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = read_table(out / "delays")
    assert table["rows"].sum() == N_GOOD
    refused = read_table(out / "refused")
    assert refused["rows"].sum() == sum(k for *_, k in BAD)
    fits = read_table(out / "fits")
    assert set(fits["model"]) == set(delays.MODELS)
    summary = (out / "summary.txt").read_text()
    assert summary == r.summary
    assert "median delay:" in summary and "removed within 24 h:" in summary
    assert "content_after_decision 6" in summary and f"rows used: {N_GOOD};" in summary
    quantiles = np.loadtxt(out / "policy" / f"{name}_delays.csv", skiprows=2)
    assert quantiles.size == delays.N_QUANTILES and np.all(np.diff(quantiles) >= 0)
    # the same input gives the same bytes
    again = dsa.dsa_delays([dumps["zip"]], out=tmp_path / "again", n_boot=50, **TIKTOK_SPEECH)
    assert again.summary.replace("again", "out") == r.summary
    for f in ("delays.parquet", "fits.parquet", "refused.parquet"):
        assert (out / f).read_bytes() == (tmp_path / "again" / f).read_bytes()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("dist", ["empirical", pytest.param("auto", marks=pytest.mark.slow)])
def test_the_written_policy_runs_in_a_sweep(dumps, tmp_path, dist):
    """spreadsim dsa-delays on a generated dump, then spreadsim on the policy it wrote (the
    empirical one reads its delay table from the path in the config; auto, here exponential, is
    checked against the schema in the fast suite and run in the slow one)."""
    r = _cli("dsa-delays", str(dumps["zip"]), "--platform", "TikTok", "--category", "illegal_or_harmful_speech",
             "--dist", dist, "--bootstrap", "20", "--out", "fit", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "median delay:" in r.stdout
    run = tmp_path / "run"
    r = _cli("experiment=single", "policy=dsa_tiktok_illegal_or_harmful_speech", "seeds=2", "graph.n=500",
             "scenario.illegal_posts=4", "scenario.horizon_h=72", f"hydra.searchpath=[file://{tmp_path / 'fit'}]",
             f"hydra.run.dir={run}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    results = read_table(run / "results")
    assert results["removed_by_policy0_latency_distribution_latency"].sum() > 0  # the policy acted
    cfg = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    written = yaml.safe_load((tmp_path / "fit" / "policy" / "dsa_tiktok_illegal_or_harmful_speech.yaml").read_text())
    assert cfg["policy"] == written  # the sweep ran the written policy, key for key
    assert written["dist"] == "empirical" if dist == "empirical" else written["dist"] in delays.MODELS


@pytest.mark.parametrize("args, words", [
    (["nosuch.zip"], "file not found"),
    (["{csv}", "--category", "hate"], "--category = 'hate': not a category value"),
    (["{csv}", "--source", "SOURCE_X"], "--source = 'SOURCE_X'"),
    (["{csv}", "--platform", "Nobody"], "no row of"),
    (["{csv}", "--earliest", "TikTok=soon"], "must be a date"),
    (["{csv}", "--dist", "weibull"], "invalid choice"),
    (["{bad}"], "no column"),
    ([], "required"),
])
def test_bad_input_is_one_line_and_exit_2(dumps, tmp_path, capsys, args, words):
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    argv = [a.format(csv=dumps["csv"], bad=bad) for a in args] + ["--out", str(tmp_path / "out")]
    assert dsa_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("spreadsim: error: ") and len(err.splitlines()) == 1, err
    assert words in err
    assert not (tmp_path / "out").exists()


def test_dist_choices_are_the_fitted_models():
    """--dist offers auto and every model the fit has (delays.MODELS), from that one list."""
    from spreadsim.fit.dsa_cli import parser

    assert "--dist {" + ",".join(["auto", *delays.MODELS]) + "}" in " ".join(parser().format_help().split())


def test_errors_name_the_field():
    with pytest.raises(ConfigError, match="--visibility"):
        dsa.check_filters(visibility="hidden")
    with pytest.raises(ConfigError, match="--dist"):
        dsa.dsa_delays([BENCH], dist="gamma")
    with pytest.raises(ConfigError, match="not a dump file"):
        dsa.dsa_delays([BENCH])


def test_corrupt_zip_is_one_data_error(tmp_path):
    z = tmp_path / "broken.zip"
    z.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="broken.zip: cannot read"):
        dsa.scan([z], {})


@pytest.mark.slow
def test_memory_bound_on_a_generated_dump(tmp_path):
    """The benchmark on a 0.3 GB dump (the 1.5 GB run is python benchmarks/bench_dsa.py)."""
    r = subprocess.run([sys.executable, str(BENCH), "--gb", "0.3", "--tmp", str(tmp_path)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"within_limit": true' in r.stdout


def test_output_failure_is_one_line_and_exit_1(dumps, tmp_path, capsys):
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert dsa_cli.main([str(dumps["csv"]), "--platform", "YouTube", "--bootstrap", "5", "--out", str(blocked)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spreadsim: error: cannot write") and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("delays_h", [[5.0], [80.0, 80.0, 81.0], [1.0, 9000.0]])
def test_a_tiny_group_is_fitted_without_failing(tmp_path, delays_h):
    """One row, one reported delay, or a delay of a year next to a short one: the fits stay
    finite with intervals around them, and a policy is written."""
    rng = np.random.default_rng(4)
    cols = bench.statements(rng, len(delays_h), delays_h=np.array(delays_h))
    pacsv.write_csv(_table(cols), tmp_path / "tiny.csv")
    r = dsa.dsa_delays(tmp_path / "tiny.csv", out=tmp_path / "out", n_boot=10)
    (fit,) = r.fits.values()
    for m in delays.MODELS:
        e = fit[m].median_h
        assert math.isfinite(e.value) and e.lo <= e.value <= e.hi
    assert len(list((tmp_path / "out" / "policy").glob("*.yaml"))) == 1


def _coverage_band(reps: int) -> tuple[float, float]:
    """95% +- 3.5 binomial standard errors of a coverage over ``reps`` replicates."""
    se = math.sqrt(0.95 * 0.05 / reps)
    return 0.95 - 3.5 * se, 0.95 + 3.5 * se


@pytest.mark.slow
def test_interval_coverage():
    """Replicate fits of 1000 day-censored delays each: the 95% intervals cover the truth in 95%
    of them, within 3.5 binomial SE (exponential half-life and its share within 24 h: 1000
    replicates; lognormal median, sigma and share within 24 h: 200; the histogram's median and
    share within 24 h, bootstrap percentile intervals, on a histogram of its own bins: 200)."""
    rng = np.random.default_rng(2026)
    n = 1000
    hits: dict[str, list[bool]] = {}

    def hit(name: str, e: delays.Estimate, truth: float) -> None:
        hits.setdefault(name, []).append(e.lo < truth < e.hi)

    for _ in range(1000):
        f = delays.fit_exponential(*_reported(rng, rng.exponential(HALF_LIFE / math.log(2), n)))
        hit("exp half-life", f.params["half_life_h"], HALF_LIFE)
        hit("exp within 24 h", f.within_24h, 1 - 2 ** (-24 / HALF_LIFE))
    mu, sigma = math.log(40.0), 1.2
    for _ in range(200):
        f = delays.fit_lognormal(*_reported(rng, np.exp(mu + sigma * rng.standard_normal(n))))
        hit("lognormal median", f.params["median_h"], 40.0)
        hit("lognormal sigma", f.params["sigma"], sigma)
        hit("lognormal within 24 h", f.within_24h, float(0.5 * math.erfc(-(math.log(24) - mu) / sigma / math.sqrt(2))))
    q = np.array([0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    edges = np.concatenate([[0.0], 24.0 * np.arange(q.size) + 12.0])
    cum = np.concatenate([[0.0], np.cumsum(q)])
    for i in range(200):
        k = rng.choice(q.size, n, p=q)
        f = delays.fit_empirical(*_reported(rng, rng.uniform(edges[k], edges[k + 1])), n_boot=200,
                                 rng=np.random.default_rng(i))
        hit("histogram median", f.median_h, float(np.interp(0.5, cum, edges)))
        hit("histogram within 24 h", f.within_24h, float(np.interp(24.0, edges, cum)))
    for name, h in hits.items():
        lo, hi = _coverage_band(len(h))
        assert lo <= np.mean(h) <= hi, (name, np.mean(h), len(h))


@pytest.mark.parametrize("gradient", [True, False])
def test_profile_intervals_of_a_gaussian_likelihood(gradient):
    """The shared profile-likelihood code (spreadsim.fit.profile), with the gradient (the cascade
    fits) and gradient-free (the delay fits): on a correlated Gaussian negative log-likelihood the
    profile interval of each parameter is exactly its estimate +- 1.96 marginal SD; a parameter
    whose profile never rises enough ends at its bound."""
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    prec = np.linalg.inv(cov)
    centre = np.array([0.3, -0.2])

    def value(x: np.ndarray) -> float:
        d = x - centre
        return float(0.5 * d @ prec @ d)

    fun = ((lambda x: (value(x), prec @ (x - centre))) if gradient else profile.value_only(value))
    opt = profile.minimise(fun, [np.array([2.0, 1.0])], gradient=gradient)
    assert opt.x == pytest.approx(centre, abs=1e-5)
    z = math.sqrt(3.841458820694124)
    for k in range(2):
        lo, hi = profile.profile_interval(fun, opt, k, gradient=gradient, xtol=1e-9)
        sd = math.sqrt(cov[k, k])
        assert (lo, hi) == pytest.approx((centre[k] - z * sd, centre[k] + z * sd), abs=1e-5)
    lo, hi = profile.profile_interval(fun, opt, 0, gradient=gradient, bounds=[(-1.0, 1.0), (-5.0, 5.0)])
    assert (lo, hi) == (-1.0, 1.0)
