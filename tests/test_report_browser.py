"""report.html in a real browser (headless Chromium through Playwright): the answer is the first
heading, nothing is requested from outside the file, the page does not scroll sideways, and a
screenshot is kept (tmp_path, and $SPREADSIM_ARTIFACTS when set)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from spreadsim.outputs.sweep_outputs import write_outputs
from spreadsim.runs.job import run_job
from tests.helpers import latency_job

CHROMIUM = "/usr/bin/chromium"

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package; under CI=true this test "
                "runs and fails instead)", allow_module_level=True)


def _cfg(latency: float) -> dict:
    return latency_job(latency, seeds=3)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    dirs = []
    for j, lat in enumerate([0.0, 0.25, 1.0, 6.0, 24.0, 168.0, math.inf]):
        run_job(_cfg(lat), tmp / str(j), params={"policy.latency_h": lat,
                                                 "graph.path": "/a/long/unswept/override/path.txt"},
                job_num=j, cache_dir=tmp / ".cache")
        dirs.append(tmp / str(j))
    out = write_outputs(tmp, dirs, experiment="latency_sweep",
                        command="spreadsim seeds=3 graph.n=800",
                        graph="barabasi_albert: 800 users, 4,782 arcs (undirected)")
    return out


def test_report_opens_with_the_answer_and_loads_nothing_from_outside(report, tmp_path):
    from playwright.sync_api import sync_playwright

    url = report.report.resolve().as_uri()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            page.wait_for_load_state("load")
            first_heading = page.locator("h1, h2, h3, h4").first.inner_text()
            title = page.title()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            table_box = page.locator("#summary div.scroll").bounding_box()
            swept = page.locator("#summary th.swept").all_inner_texts()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert first_heading == report.answer.sentence
    assert title == f"latency_sweep: {report.answer.sentence}"
    outside = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert outside == [], outside
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    assert table_box is not None and table_box["width"] <= 1000
    assert swept == ["policy.latency_h (swept)"]  # graph.path took one value: not swept
    assert shot.stat().st_size > 10_000
    artifacts = os.environ.get("SPREADSIM_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "report.png")


def test_report_states_command_date_version_and_graph(report):
    from spreadsim.version import __version__

    text = report.report.read_text()
    head = text[: text.index('<section id="summary">')]
    for piece in ("spreadsim seeds=3 graph.n=800", f"spreadsim {__version__}", " UTC",
                  "barabasi_albert: 800 users", "Question:"):
        assert piece in head, piece
    assert "<code>docs/reference/glossary.md</code>" in text
