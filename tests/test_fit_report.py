"""The reports of `spreadsim fit` and `spreadsim dsa-delays` (report.html), and their outputs
written all or none (spreadsim.fit.files.publish).

The reports: they exist, open with the answer (the numbers of the fit, the same as the printed
summary), show the command, the date and the version, embed the very PNG written beside them,
and refer to nothing outside themselves (checked in the HTML and in headless Chromium, which must
request nothing but the file). The outputs: real faults (a folder where a file goes, a file where a
folder goes, a path below a file) leave the output folder as it was: no file of the set, the files
it would have replaced back with their old content, no temporary folder, no folder made.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from spreadsim.errors import OutputError
from spreadsim.fit import cli as fit_cli
from spreadsim.fit import dsa_cli
from spreadsim.fit.files import publish
from spreadsim.fit.synthetic import simulate_cascades
from spreadsim.version import __version__
from tests.helpers import stderr_lines

CHROMIUM = "/usr/bin/chromium"
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dsa.py"
_spec = importlib.util.spec_from_file_location("bench_dsa_report", BENCH)
bench = importlib.util.module_from_spec(_spec)
assert _spec.loader is not None
_spec.loader.exec_module(bench)


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with a file's content (None: a folder)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _outside_references(page: str) -> list[str]:
    """src/href values that point outside the page (anything but data: URIs and #anchors)."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    refs += re.findall(r"url\(([^)#][^)]*)\)", page)
    return [r for r in refs if not r.startswith(("data:", "#"))]


def _embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


# --------------------------------------------------------------------------- the fit's report

@pytest.fixture(scope="module")
def shares(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fit")
    tab = simulate_cascades("lognormal", {"median_h": 2.0, "sigma": 1.0}, 0.6, 150, observed_until=72.0,
                            window_h=48.0, seed=8, links="tree")
    pacsv.write_csv(tab, d / "shares.csv")
    return d / "shares.csv"


@pytest.fixture(scope="module")
def fit_run(shares, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit_out") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = fit_cli.main([str(shares), "--out", str(out), "--name", "t", "--graph", "random_k_out",
                             "--graph-set", "n=1000"])
    assert code == 0
    return out, buf.getvalue()


def test_fit_report_opens_with_the_answer(fit_run, shares):
    out, printed = fit_run
    report = out / "report.html"
    assert printed.splitlines()[-1] == f"report: {report.resolve()}"
    page = report.read_text(encoding="utf-8")
    h1 = re.search(r"<h1>(.*?)</h1>", page).group(1)
    chosen = re.search(r"chosen kernel: (\w+)", printed).group(1)
    line = next(x for x in printed.splitlines() if x.startswith(" * "))
    n, lo, hi = re.search(r"n = (\S+) \[(\S+), (\S+)\]", line).groups()
    # the answer is the first heading, with the printed numbers
    assert page.index("<h1>") < page.index("<h2>")
    assert h1.startswith(f"Chosen kernel: {chosen} (smallest AIC)") and f"n = {n}, 95% interval {lo} to {hi}" in h1
    header = page[page.index('<header id="answer">'):page.index("</header>")]
    for kernel in ("exponential", "lognormal", "powerlaw"):  # every kernel: parameters, intervals, AIC
        assert re.search(rf"<li>kernel {kernel}: n = \S+ \[\S+, \S+\].*; AIC \d", header), kernel
    assert "KS test of the time-rescaled residuals against Exp(1): D = " in header and ", p = " in header
    assert f"<code>spreadsim fit {shares} --out {out} --name t" in header
    assert f"version: spreadsim {__version__}" in header and re.search(r"date: \d{4}-\d\d-\d\d \d\d:\d\d UTC", header)
    for section in ('id="kernels"', 'id="gof"', 'id="plots"', 'id="summary"'):
        assert section in page
    assert _embedded_pngs(page) == [(out / "fitted_t.png").read_bytes()]
    assert _outside_references(page) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".spreadsim-tmp-")]


# --------------------------------------------------------------------------- the DSA report

def _dump(path: Path) -> Path:
    rng = np.random.default_rng(3)
    parts = [bench.statements(rng, 1500, delays_h=rng.exponential(40.0, 1500)),
             bench.statements(rng, 300, delays_h=rng.exponential(100.0, 300), platform="YouTube")]
    bad = bench.statements(rng, 7, delays_h=np.zeros(7))
    bad["content_date"] = np.full(7, "", dtype=object)
    parts.append(bad)
    tables = [pa.table({c: pa.array(p[c], pa.string()) for c in bench.FULL_COLUMNS}) for p in parts]
    pacsv.write_csv(pa.concat_tables(tables), path)
    return path


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    return _dump(tmp_path_factory.mktemp("dsa") / "sor.csv")


@pytest.fixture(scope="module")
def dsa_run(dump, tmp_path_factory):
    out = tmp_path_factory.mktemp("dsa_out") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = dsa_cli.main([str(dump), "--platform", "TikTok", "--bootstrap", "10", "--out", str(out)])
    assert code == 0
    return out, buf.getvalue()


def test_dsa_report_opens_with_the_answer(dsa_run):
    out, printed = dsa_run
    report = out / "report.html"
    assert printed.splitlines()[-1] == f"report: {report.resolve()}"
    page = report.read_text(encoding="utf-8")
    h1 = re.search(r"<h1>(.*?)</h1>", page).group(1)
    median = re.search(r"median delay: (\S+ h \[\S+, \S+\])", printed).group(1)
    within = re.search(r"removed within 24 h: (\S+%) \[(\S+), (\S+)\]", printed).groups()
    assert page.index("<h1>") < page.index("<h2>")
    assert h1.startswith(f"TikTok / ILLEGAL_OR_HARMFUL_SPEECH: median removal delay {median}")
    assert f"{within[0]} [{within[1]}, {within[2]}] removed within 24 h" in h1
    header = page[page.index('<header id="answer">'):page.index("</header>")]
    used = re.search(r"rows used: (\d+); refused: (.*)", printed).groups()
    assert f"{used[0]} used, 7 refused (missing_date 7, unparseable_date 0" in header
    assert "<code>spreadsim dsa-delays " in header and f"version: spreadsim {__version__}" in header
    assert re.search(r"date: \d{4}-\d\d-\d\d \d\d:\d\d UTC", header)
    assert _embedded_pngs(page) == [(out / "dsa_tiktok_illegal_or_harmful_speech.png").read_bytes()]
    assert _outside_references(page) == []
    assert "policy/dsa_tiktok_illegal_or_harmful_speech.yaml" in page
    assert "a reported 0 days, content and decision on the same day, is a delay in [0, 24) h" in page


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing")
def test_reports_request_nothing_in_a_browser(fit_run, dsa_run):
    """Headless Chromium opens both reports: the answer is the first thing on the page and
    nothing is requested but the file itself."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            for out, _ in (fit_run, dsa_run):
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                requests: list[str] = []
                page.on("request", lambda r, seen=requests: seen.append(r.url))
                url = (out / "report.html").resolve().as_uri()
                page.goto(url)
                assert requests == [url]
                box = page.locator("h1").bounding_box()
                assert box is not None and box["y"] < 120
                assert page.locator("img").count() >= 1
                assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
                page.close()
        finally:
            browser.close()


# --------------------------------------------------------------------------- all or none

def test_dsa_delays_leaves_nothing_partial(dump, tmp_path, capsys):
    """A folder where report.html goes (the last file moved in) and, separately, a file where
    the policy folder goes: exit 1 with one line, and the output folder as it was (an old
    summary.txt back with its content)."""
    args = [str(dump), "--platform", "TikTok", "--bootstrap", "5", "--out"]
    for blocker in ("report.html", "policy"):
        out = tmp_path / blocker
        out.mkdir()
        (out / "summary.txt").write_text("an older summary")
        if blocker == "report.html":
            (out / "report.html").mkdir()
            (out / "report.html" / "keep").write_text("x")
        else:
            (out / "policy").write_text("a file where the policy folder goes")
        before = _tree(out)
        assert dsa_cli.main([*args, str(out)]) == 1
        lines = stderr_lines(capsys.readouterr().err)
        assert len(lines) == 1 and lines[0].startswith(f"spreadsim: error: cannot write {out}"), lines
        assert _tree(out) == before


def test_fit_leaves_nothing_partial(shares, tmp_path, capsys):
    """A file where the graph/ config folder goes: exit 1 with one line, nothing of the set left
    (the spread/ and scenario/ folders made for it removed again, an old fitted_t.txt back)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "graph").write_text("a file where a folder goes")
    (out / "fitted_t.txt").write_text("an older fit")
    before = _tree(out)
    assert fit_cli.main([str(shares), "--out", str(out), "--name", "t", "--kernels", "exponential"]) == 1
    lines = stderr_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"spreadsim: error: cannot write {out}"), lines
    assert _tree(out) == before


def test_publish_removes_the_folders_it_made(tmp_path):
    """A fault while the files are written (a path below a file): the new output folder and its
    parents made for it are gone; a fault-free set lands complete."""
    (tmp_path / "a_file").write_text("")

    def bad(folder: Path) -> list[str]:
        (folder / "one.txt").write_text("1")
        (folder / "sub").mkdir()
        (folder / "sub" / "two.txt").write_text("2")
        Path(tmp_path / "a_file" / "three.txt").write_text("3")  # NotADirectoryError
        return ["one.txt", "sub/two.txt"]

    with pytest.raises(OutputError, match="cannot write"):
        publish(tmp_path / "new" / "out", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]

    def good(folder: Path) -> list[str]:
        (folder / "sub").mkdir()
        (folder / "sub" / "two.txt").write_text("2")
        (folder / "one.txt").write_text("1")
        return ["one.txt", "sub/two.txt"]

    written = publish(tmp_path / "new" / "out", good)
    assert written == [tmp_path / "new" / "out" / "one.txt", tmp_path / "new" / "out" / "sub" / "two.txt"]
    assert _tree(tmp_path / "new" / "out") == {"one.txt": b"1", "sub": None, "sub/two.txt": b"2"}
