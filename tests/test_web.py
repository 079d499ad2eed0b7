"""The what-if page's server (spreadsim.web) through Starlette's TestClient, on a small world:
controls generated from the schema, the page's numbers equal to the Python API's and the command
line's, bad input answered with 4xx and the schema's one-line message (the server answers the
next request), independent tabs, superseded requests dropped, and the static export."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

import spreadsim
from spreadsim.errors import ConfigError, DataError
from spreadsim.outputs.answer import fmt_number
from spreadsim.runs.jobspec import check_job_config
from spreadsim.schema.fields import describe
from spreadsim.schema.policies import MAX_MODERATORS, FixedLatencyParams, TrustedFlaggers
from spreadsim.web.compute import Evaluator, Limits
from spreadsim.web.controls import LATENCY_GRID_H, control_key, default_settings, job_config
from spreadsim.web.export import STATIC, parse_grid, write_export
from spreadsim.web.server import MAX_BODY_BYTES, MAX_SEQ, TOKEN_HEADER, create_app, main, parse_settings
from spreadsim.web.text import CONFIG_DIR, EXPERIMENT
from spreadsim.web.worker import SUPERSEDED, Worker

ROOT = Path(__file__).resolve().parents[1]
#: a small world, so that every point is quick
SMALL = {"graph.n": 600, "graph.m": 3, "scenario.illegal_posts": 8, "scenario.legal_posts": 4,
         "scenario.uploaders": 3, "seeds": 4}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The page's data folder (--data-dir): the only place it reads edge lists from."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory, data_dir):
    ev = Evaluator(tmp_path_factory.mktemp("app"), data_dir=data_dir)
    yield ev
    ev.close()


@pytest.fixture(scope="module")
def client(evaluator):
    app = create_app(initial=SMALL, evaluator=evaluator, warm_up=False)
    with TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: app.state.token}) as c:
        yield c


def post(client, settings, tab="t", seq=0):
    return client.post("/api/evaluate", json={"tab": tab, "seq": seq, "settings": settings})


def small(**over):
    return {**default_settings(), **SMALL, **over}


def world(**graph):
    """The small settings with another graph (the default kind's fields left out)."""
    return {**{k: v for k, v in small().items() if not k.startswith("graph.")}, **graph}


# ----------------------------------------------------------------------------- the command


@pytest.mark.parametrize(("stop", "status", "said"), [
    (signal.SIGINT, 130, "spreadsim app: stopped\n"),
    pytest.param(signal.SIGTERM, 143, "", marks=pytest.mark.slow),  # (another 8 s: the same path)
])
def test_spreadsim_app_starts_and_prints_its_address(tmp_path, stop, status, said):
    """``spreadsim app`` listens on 127.0.0.1 (a free port), prints where, serves the page, and
    ends on Ctrl-C (one line, status 130) or SIGTERM leaving no folder behind."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "spreadsim.app.cli", "app", "--no-browser",
                             "--set", "graph.n=300", "--set", "seeds=2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "TMPDIR": str(scratch)})
    try:
        line = proc.stdout.readline()
        url, token = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([A-Za-z0-9_-]{20,})", line).groups()
        assert httpx2.get(url + "api/controls", timeout=30).status_code == 403  # no token, no API
        got = httpx2.get(url + "api/controls", timeout=30, headers={TOKEN_HEADER: token}).json()
        assert got["initial"]["graph.n"] == 300 and got["initial"]["seeds"] == 2
        assert "/static/app.js" in httpx2.get(url, timeout=30).text
        assert list(scratch.iterdir())  # the app's folder (traces, scratch jobs)
    finally:
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == status and err == said and out == ""
    assert not list(scratch.iterdir())


# ----------------------------------------------------------------------------- controls


def test_controls_come_from_the_schema(client):
    c = client.get("/api/controls").json()
    assert c["initial"]["graph.n"] == 600
    fixed = {s["key"]: s for s in c["controls"]["deadline"]["policies"][0]["controls"]}
    info = {i.name: i for i in describe(FixedLatencyParams)}
    lat = fixed["fixed_latency.latency_h"]
    assert (lat["kind"], lat["min"], lat["max"], lat["allow_inf"], lat["unit"]) == ("number", 0.0, None, True, "hours")
    assert lat["help"] == info["latency_h"].help and lat["default"] == info["latency_h"].default
    assert lat["allowed"] == info["latency_h"].check.text()
    prob = fixed["fixed_latency.removal_prob"]
    assert (prob["min"], prob["max"]) == (0.0, 1.0)
    stack = {p["name"]: {s["key"]: s for s in p["controls"]} for p in c["controls"]["stack"]}
    assert set(stack) == {"notice_and_takedown", "automated_detection", "reupload", "hash_matching"}
    mods = stack["notice_and_takedown"]["notice_and_takedown.moderators"]
    assert (mods["kind"], mods["min"], mods["max"]) == ("integer", 1, MAX_MODERATORS)
    tf = stack["notice_and_takedown"]["notice_and_takedown.trusted_flaggers.fraction"]
    assert tf["help"] == {i.name: i for i in describe(TrustedFlaggers)}["fraction"].help
    assert stack["notice_and_takedown"]["notice_and_takedown.review_time"]["kind"] == "yaml"
    assert {"automated_detection.recall", "automated_detection.precision"} <= set(stack["automated_detection"])
    assert "hash_matching.recall" in stack["hash_matching"]
    assert set(c["controls"]["graph"]["kinds"]) >= {"barabasi_albert", "edgelist", "sbm"}
    assert [s["key"] for s in c["controls"]["graph"]["kinds"]["edgelist"]][0] == "graph.path"
    cats = c["controls"]["scenario"]["categories"]
    assert [x["name"] for x in cats] == ["terrorist_propaganda", "hate_speech", "ip_infringement"]
    assert c["controls"]["grid"][-1] == "inf" and len(c["controls"]["grid"]) == len(LATENCY_GRID_H)
    # the default settings are the default world: the command line's composed config
    cfg, names = job_config(default_settings())
    assert names == ["fixed_latency"] and check_job_config(cfg).sim == check_job_config({}).sim


def test_page_and_assets_are_served_from_here(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for f in STATIC.iterdir():  # no asset names another host (the SVG namespace is a name)
        text = f.read_text().replace("http://www.w3.org/2000/svg", "")
        assert not re.findall(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), f.name
    assert re.findall(r'fetch\("([^"]+)"', (STATIC / "app.js").read_text()) == ["/api/evaluate", "/api/controls"]
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding


# ----------------------------------------------------------------------------- the numbers


def test_page_numbers_equal_the_python_api(client):
    """The page's summary is the CLI's summary (spreadsim.sweep runs the command's jobs), and its
    reach equals the engine's simulated runs seed by seed (the page reads the deadline path)."""
    r = post(client, small(**{"fixed_latency.latency_h": 6})).json()
    cfg, _ = job_config(small(**{"fixed_latency.latency_h": 6}))
    api = spreadsim.sweep(cfg, plots=False).summary.iloc[0]
    for col, value in r["summary"].items():
        want = api[col]
        if isinstance(want, float) and math.isnan(want):
            assert value is None, col
        else:
            assert value == (want.item() if hasattr(want, "item") else want), col
    runs = [spreadsim.simulate({k: cfg[k] for k in ("graph", "scenario", "policy")}, seed=s, baseline=True)
            for s in range(SMALL["seeds"])]
    # seed by seed: the page's results table (its results.csv) holds each seed's simulated run
    table = list(csv.DictReader(io.StringIO(r["csv"]["results"])))
    assert [int(row["seed"]) for row in table] == list(range(SMALL["seeds"]))
    for row, run in zip(table, runs, strict=True):
        for col in ("reach_mean", "reach_baseline_mean", "reach_prevented_mean", "removed_share"):
            assert float(row[col]) == pytest.approx(run.summary[col], rel=1e-12, abs=1e-12), (row["seed"], col)
    m = sum(x.summary["reach_mean"] for x in runs) / len(runs)
    assert r["summary"]["reach_mean"] == pytest.approx(m, rel=1e-12, abs=0)
    # the curve (read off the traces) at 6 h is the point itself; the marker sits there
    i = r["curve"]["x"].index(6.0)
    assert r["curve"]["reach"][i] == [r["summary"][k] for k in ("reach_mean", "reach_ci_low", "reach_ci_high")]
    assert r["curve"]["prevented"][i] == [r["summary"]["prevented_share"], r["summary"]["prevented_share_ci_low"],
                                          r["summary"]["prevented_share_ci_high"]]
    assert r["marker"]["x"] == 6.0 and r["marker"]["how"] == "lever"
    assert r["curve"]["baseline"] == pytest.approx(r["summary"]["reach_baseline_mean"], rel=1e-12)
    assert r["path"] == "deadline" and r["queue"] is None
    assert fmt_number(m) in r["sentence"] and "prevented" in r["sentence"]  # (as the CLI says it)
    # every illegal post of every seed is removed at 6 h, in the (4 h, 6 h] bin
    ttr = r["ttr"]
    assert ttr["posts"] == 8 * 4 and ttr["share"][ttr["ends"].index(6.0)] == pytest.approx(1.0) and ttr["never"] == 0


def test_a_queue_is_simulated_and_shows_its_figures(client):
    s = small(deadline="none", **{"notice_and_takedown.on": True, "notice_and_takedown.moderators": 2})
    r = post(client, s).json()
    assert r["path"] == "simulated" and r["curve"]["reference"] is True
    q = r["queue"]
    assert set(q) == {"notice_reviewed_24h_share", "notice_removed_share", "removed_share"}
    assert q["removed_share"][0] == r["summary"]["removed_share_mean"]
    assert q["notice_reviewed_24h_share"] == [r["summary"][f"notice_reviewed_24h_share_{k}"]
                                              for k in ("mean", "ci_low", "ci_high")]
    assert r["marker"]["how"] == "median time to removal"
    assert "notices" in r["sentence"]


def test_an_edge_list_from_disk(client, data_dir):
    path = data_dir / "karate.txt"
    path.write_text((ROOT / "data" / "karate_club.txt").read_text())
    settings = world(**{"graph.kind": "edgelist", "graph.path": str(path)})
    r = post(client, settings)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["n_seeds"] == SMALL["seeds"] and body["path"] == "deadline"
    assert "override /graph: edgelist" in body["yaml"] and str(path) in body["yaml"]
    # an edited file is another world (not a cached one): a star from user 1 to everyone
    with path.open("a") as f:
        f.writelines(f"1 {v}\n" for v in range(2, 35))
    again = post(client, settings).json()
    assert again["curve"]["baseline"] != body["curve"]["baseline"]
    assert again["summary"] == post(client, settings).json()["summary"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell paths")
def test_the_command_line_reproduces_the_page_tables(client, tmp_path):
    """The page's experiment file, run by the page's command, writes the page's summary.csv and
    results.csv, byte for byte (a stack: a half-life deadline and a notice queue)."""
    s = small(deadline="latency_distribution", **{"latency_distribution.half_life_h": 3,
                                                   "notice_and_takedown.on": True,
                                                   "notice_and_takedown.moderators": 3,
                                                   "scenario.categories.hate_speech.weight": 2})
    r = post(client, s).json()
    exp = tmp_path / CONFIG_DIR / "experiment"
    exp.mkdir(parents=True)
    (exp / f"{EXPERIMENT}.yaml").write_text(r["yaml"])
    cmd = r["command"].split() + [f"hydra.run.dir={tmp_path / 'run'}"]
    assert cmd[0] == "spreadsim"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    done = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", *cmd[1:]],  # (the spreadsim command)
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "summary.csv").read_text() == r["csv"]["summary"]
    assert (tmp_path / "run" / "results.csv").read_text() == r["csv"]["results"]


# ----------------------------------------------------------------------------- bad input


def _schema_message(settings):
    """The message the schema gives for the page's settings (without the server)."""
    with pytest.raises(ConfigError) as e:
        check_job_config(job_config(settings)[0])
    return str(e.value)


BAD_SETTINGS = [
    ({"fixed_latency.latency_h": -1}, "fixed_latency.latency_h"),
    ({"fixed_latency.removal_prob": 1.5}, "fixed_latency.removal_prob"),
    ({"graph.n": "many"}, "graph.n"),
    ({"seeds": True}, "seeds"),
    ({"notice_and_takedown.on": True, "notice_and_takedown.moderators": 0}, "notice_and_takedown.moderators"),
    ({"notice_and_takedown.on": True, "notice_and_takedown.review_time": "{dist: lognormal, median_h: -2}"},
     "notice_and_takedown.review_time"),
    ({"scenario.uploaders": 1000}, "scenario.uploaders"),
    ({"scenario.categories.hate_speech.share_prob": 2}, "scenario.categories.hate_speech.share_prob"),
]


@pytest.mark.parametrize(("bad", "control"), BAD_SETTINGS)
def test_a_bad_setting_gets_the_schemas_message_beside_its_control(client, bad, control):
    r = post(client, small(**bad))
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == _schema_message(small(**bad)) and "\n" not in body["error"]
    assert body["control"] == control
    assert post(client, small()).status_code == 200  # the server answers the next request


BAD_REQUESTS = [
    (b"{not json", "application/json", 400, "not JSON"),
    (b"[1, 2]", "application/json", 400, "JSON object"),
    (b'{"settings": [1, 2]}', "application/json", 400, "settings"),
    (b'{"settings": {"nosuch": 1}}', "application/json", 400, "unknown setting"),
    (b'{"settings": {"graph.n": {"a": 1}}}', "application/json", 400, "plain value"),
    (b'{"settings": {"deadline": "sometimes"}}', "application/json", 400, "deadline"),
    (b'{"settings": {"graph.kind": "hypercube"}}', "application/json", 400, "graph.kind"),
    (b'{"settings": {"graph.kind": "watts_strogatz", "graph.m": 3}}', "application/json", 400, "graph.m"),
    (b'{"settings": {"graph.kind": "edgelist", "graph.path": "no/such/file.txt"}}', "application/json", 400,
     "file not found"),
    (b'{"settings": {"graph.kind": "edgelist", "graph.path": "/no/such/file.txt"}}', "application/json", 400,
     "data folder"),
    (b'{"settings": {"fixed_latency.latency_h": NaN}}', "application/json", 400, "latency_h = nan"),
    (b'{"settings": {"seeds": 1e999}}', "application/json", 400, "seeds = inf"),
    (b'{"tab": 5, "settings": {}}', "application/json", 400, "tab"),
    (b'{"seq": -1, "settings": {}}', "application/json", 400, "seq"),
    (b'{"seq": 1000000000000000000000000000000, "settings": {}}', "application/json", 400, "seq"),
    (b'{"settings": {}}', "text/plain", 415, "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "not JSON"),
    (b" " * (MAX_BODY_BYTES + 1), "application/json", 413, "larger"),
]


@pytest.mark.parametrize(("body", "kind", "status", "words"), BAD_REQUESTS)
def test_malformed_requests_get_4xx_and_the_server_carries_on(client, body, kind, status, words):
    r = client.post("/api/evaluate", content=body, headers={"content-type": kind})
    assert r.status_code == status and words in r.json()["error"]
    assert client.get("/api/controls").status_code == 200
    assert post(client, small()).status_code == 200


@pytest.mark.parametrize(("huge", "field"), [
    (world(**{"graph.kind": "barabasi_albert", "graph.n": 10**9}), "graph.n"),
    (world(**{"graph.kind": "barabasi_albert", "graph.n": 300_000}), "graph.n"),
    (small(seeds=10**6), "seeds"),
    (small(**{"scenario.illegal_posts": 10**7}), "scenario.illegal_posts"),
    (world(**{"graph.kind": "erdos_renyi", "graph.n": 100_000, "graph.mean_degree": 90_000}), "graph.mean_degree"),
])
def test_worlds_too_large_for_the_page_are_refused_in_one_line(client, huge, field):
    r = post(client, huge)
    assert r.status_code == 400
    body = r.json()
    assert body["field"] == field and "\n" not in body["error"]
    assert "too large for the interactive page" in body["error"] or "memory" in body["error"]
    assert post(client, small()).status_code == 200


def test_error_fields_map_to_their_controls():
    names = ["fixed_latency", "notice_and_takedown"]
    assert control_key("policy[1].moderators", names) == "notice_and_takedown.moderators"
    assert control_key("policy[1].review_time.median_h", names) == "notice_and_takedown.review_time"
    assert control_key("policy[1].trusted_flaggers.fraction", names) == "notice_and_takedown.trusted_flaggers.fraction"
    assert control_key("graph.n", names) == "graph.n"
    assert control_key("nosuch", names) is None


# ----------------------------------------------------------------------------- tabs and supersession


def test_two_tabs_have_independent_states(client):
    a1 = post(client, small(**{"fixed_latency.latency_h": 1}), tab="a", seq=1).json()
    b1 = post(client, small(**{"fixed_latency.latency_h": 48}), tab="b", seq=1).json()
    a2 = post(client, small(**{"fixed_latency.latency_h": 1}), tab="a", seq=2).json()
    assert a1["summary"] == a2["summary"] and a1["summary"]["reach_mean"] < b1["summary"]["reach_mean"]
    # an older change arriving after the newer one has finished simply runs (the page ignores its
    # answer): a tab is remembered only while it has a request in flight
    assert post(client, small(), tab="a", seq=1).status_code == 200


def test_the_worker_drops_requests_a_newer_one_superseded():
    w = Worker()
    gate, started, ran = threading.Event(), threading.Event(), []

    def job(name):
        if name == "first":
            started.set()
            gate.wait(10)
        ran.append(name)
        return name

    first = w.submit("tab", 1, job, "first")
    assert started.wait(10)
    second = w.submit("tab", 2, job, "second")  # queued behind the first
    other = w.submit("other", 1, job, "other")  # another tab: not superseded
    third = w.submit("tab", 3, job, "third")
    gate.set()
    assert [f.result(10) for f in (first, second, other, third)] == ["first", SUPERSEDED, "other", "third"]
    assert ran == ["first", "other", "third"]
    # nothing in flight: the tab is forgotten, and a lower number runs
    assert w.submit("tab", 2, job, "late").result(10) == "late"
    w.close()


# ----------------------------------------------------------------------------- the static export


def test_the_static_export_is_self_contained_and_holds_the_grid(evaluator, tmp_path):
    out = tmp_path / "whatif.html"
    grid = parse_grid(["fixed_latency.latency_h=1,6,inf", "fixed_latency.removal_prob=0.5,1"])
    assert write_export(out, evaluator, SMALL, grid) == 6
    html = out.read_text()
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html
    assert "default-src 'none'" in html
    data = json.loads(re.search(r'<script id="spreadsim-export" type="application/json">(.*?)</script>', html,
                                re.S).group(1).replace("<\\/", "</"))
    assert [g["key"] for g in data["grid"]] == ["fixed_latency.latency_h", "fixed_latency.removal_prob"]
    assert len(data["points"]) == 6
    # the point (6 h, 0.5) is the 3rd (the last lever varies fastest) and is the server's answer
    live = evaluator.evaluate(small(**{"fixed_latency.latency_h": 6, "fixed_latency.removal_prob": 0.5}))
    assert data["points"][2]["summary"] == live["summary"]
    assert data["points"][2]["csv"] == live["csv"]


def test_grid_and_settings_errors_end_the_command_in_one_line(tmp_path, capsys):
    assert main(["--export", str(tmp_path / "x.html"), "--grid", "nosuch=1,2"]) == 2
    assert main(["--export", str(tmp_path / "x.html"), "--set", "graph.n=-1"]) == 2
    assert main(["--export", str(tmp_path / "x.html"), "--grid", "fixed_latency.latency_h=1,-2",
                 "--set", "graph.n=300", "--set", "seeds=2"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["spreadsim: error: --grid = 'nosuch': unknown setting of the page (see GET /api/controls)",
                   "spreadsim: error: graph.n = -1: must be an integer >= 2",
                   "spreadsim: error: policy[0].latency_h = -2: must be a number >= 0 (hours) or 'inf' (never)"]
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(ConfigError):
        parse_grid(["a=1", "b=2", "c=3", "d=4"])
    for bad in (["--port", "abc"], ["--port", "70000"], ["--nosuch"]):
        with pytest.raises(SystemExit) as e:
            main(bad)
        assert e.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(x.startswith("spreadsim: error: app: ") for x in lines)
    with socket.socket() as taken:  # a port in use: one line, status 1
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["--no-browser", "--port", str(taken.getsockname()[1])]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("spreadsim: error: cannot listen on 127.0.0.1:")
    assert Limits().users >= 10_000  # the default world is interactive


def test_the_pages_median_time_to_removal_is_the_median_of_the_pooled_delays(evaluator, tmp_path):
    """The marker of a simulated queue sits at the median of every seed's removal delays pooled
    (the categories table's definition of time_to_removal_median_h), not at a mean of per-seed
    medians."""
    import numpy as np

    from spreadsim.outputs.io import read_table
    from spreadsim.outputs.layout import POSTS
    from spreadsim.schema.model import LEGAL

    s = small(deadline="none", **{"notice_and_takedown.on": True, "notice_and_takedown.moderators": 1,
                                  "notice_and_takedown.notice_prob": 0.2, "scenario.illegal_posts": 30})
    cfg, _, _ = evaluator.check(s)
    point = evaluator.point(cfg)
    spreadsim.sweep(cfg, out_dir=tmp_path / "cli", plots=False)
    posts = read_table(tmp_path / "cli" / "0" / POSTS)
    delay = posts["removal_time_h"] - posts["upload_time_h"]
    removed = ~np.isnan(delay)
    ill = removed & (posts["category"] != LEGAL)
    assert ill.sum() > 2 * SMALL["seeds"]  # (enough removals for the two medians to differ)
    per_seed = np.mean([np.median(delay[ill & (posts["seed"] == sd)]) for sd in set(posts["seed"])])
    assert point.ttr_median_h == float(np.median(delay[ill])) != per_seed
    r = evaluator.evaluate(s, downloads=False)
    assert r["marker"]["how"] == "median time to removal" and r["marker"]["x"] == point.ttr_median_h
    cats = read_table(tmp_path / "cli" / "categories")
    for cat, median in zip(cats["category"], cats["time_to_removal_median_h"], strict=True):
        sel = removed & (posts["category"] == cat)
        assert median == float(np.median(delay[sel])) if sel.any() else math.isnan(median), cat


# ----------------------------------------------------------------------------- the reviewer's findings (issue 20)


def _alias_bomb(levels: int) -> str:
    """YAML whose anchors and aliases grow tenfold per level (a few hundred characters)."""
    parts = ["&a0 [" + ",".join(["x"] * 10) + "]"]
    parts += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def test_yaml_aliases_are_refused_and_messages_stay_short(client):
    """An alias bomb in a YAML control (262 bytes once answered 5.8 MB; 400 would need ~6 GB) is
    refused before it is expanded, a long YAML text is refused by its length, and the page's
    messages show a shortened value."""
    bomb = _alias_bomb(6)
    assert len(bomb) < 400
    on = {"notice_and_takedown.on": True}
    r = post(client, small(**on, **{"notice_and_takedown.review_time": bomb}))
    assert r.status_code == 400 and len(r.content) < 1000, len(r.content)
    body = r.json()
    assert "aliases" in body["error"] and body["control"] == "notice_and_takedown.review_time"
    r = post(client, small(**on, **{"notice_and_takedown.review_time": "[" + "1, " * 2000 + "1]"}))
    assert r.status_code == 400 and "at most 1000 characters" in r.json()["error"] and len(r.content) < 1000
    r = post(client, small(**on, **{"notice_and_takedown.moderators": "9" * 100_000}))
    assert r.status_code == 400 and len(r.json()["error"]) <= 300 and "..." in r.json()["error"]
    assert post(client, small()).status_code == 200
    with pytest.raises(ConfigError, match="aliases"):  # spreadsim app --set reads values the same way
        parse_settings([f"notice_and_takedown.review_time={bomb}"])


def test_the_api_needs_the_sessions_token(evaluator):
    """The address spreadsim app prints carries a token; the page sends it with every request,
    and the API answers 403 without it (the page itself and its assets need none)."""
    app = create_app(initial=SMALL, evaluator=evaluator, warm_up=False, token="s3cret-token")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        for headers in ({}, {TOKEN_HEADER: "wrong"}):
            assert c.get("/api/controls", headers=headers).status_code == 403
            r = c.post("/api/evaluate", json={"settings": small()}, headers=headers)
            assert r.status_code == 403 and "token" in r.json()["error"]
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        assert c.get("/api/controls", headers={TOKEN_HEADER: "s3cret-token"}).status_code == 200
    assert "X-Spreadsim-Token" in (STATIC / "app.js").read_text()


def test_edge_lists_only_from_the_data_folder_and_no_file_contents_shown(client, data_dir, tmp_path):
    """graph.path=/etc/passwd once answered a line of the file; now a path outside the data
    folder is refused before anything opens it, and a bad file inside it is named without its
    contents."""
    outside = tmp_path / "secret.txt"
    outside.write_text("topsecret:x:0:0:hidden:/home/hidden\n")
    (data_dir / "link.txt").symlink_to(outside)
    for path in ("/etc/passwd", str(outside), "../" * 8 + str(outside).lstrip("/"), "link.txt"):
        r = post(client, world(**{"graph.kind": "edgelist", "graph.path": path}))
        assert r.status_code == 400, path
        body = r.json()
        assert body["control"] == "graph.path" and "data folder" in body["error"] and "topsecret" not in r.text
    (data_dir / "bad.txt").write_text("topsecret:x:0:0:hidden:/home/hidden\n")
    r = post(client, world(**{"graph.kind": "edgelist", "graph.path": "bad.txt"}))
    assert r.status_code == 400 and r.json()["control"] == "graph.path"
    assert "line 1" in r.json()["error"] and "topsecret" not in r.text


def test_a_compressed_edge_list_unpacks_to_the_pages_limit_at_most(tmp_path):
    """graph.max_unpacked_mb (a page control, default 4096) is capped at the page's limit: a small
    gzip file that unpacks beyond it is refused in one line."""
    data = tmp_path / "data"
    data.mkdir()
    line = b"1 2\n"
    (data / "big.txt.gz").write_bytes(gzip.compress(line * (3 * 2**20 // len(line))))  # 3 MB unpacked
    ev = Evaluator(tmp_path / "app", Limits(unpacked_mb=2), data_dir=data)
    try:
        s = world(**{"graph.kind": "edgelist", "graph.path": "big.txt.gz", "graph.max_unpacked_mb": 4096})
        with pytest.raises(DataError, match="more than 2 MB"):  # (the 4096 sent is capped at 2)
            ev.check(s)
        app = create_app(evaluator=ev, warm_up=False, token="t")
        with TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: "t"}) as c:
            r = post(c, s)
        assert r.status_code == 400 and "more than 2 MB" in r.json()["error"], r.text
    finally:
        ev.close()


def test_a_huge_seq_does_not_lock_its_tab_out(client):
    """seq=10**30 is refused; the largest allowed one supersedes only what waits behind it."""
    assert post(client, small(), tab="z", seq=10**30).status_code == 400
    assert post(client, small(), tab="z", seq=MAX_SEQ).status_code == 200
    assert post(client, small(), tab="z", seq=1).status_code == 200


def test_an_overflowing_review_time_is_refused_and_a_failure_is_one_line(client, evaluator):
    """{dist: lognormal, median_h: 1e308, sigma: 1000} once raised OverflowError in the engine
    (500): the schema refuses it now (400, its message); and any unexpected failure of a
    computation is a 500 with one line, after which the server carries on."""
    bad = small(**{"notice_and_takedown.on": True,
                   "notice_and_takedown.review_time": "{dist: lognormal, median_h: 1e308, sigma: 1000}"})
    r = post(client, bad)
    assert r.status_code == 400 and r.json()["control"] == "notice_and_takedown.review_time"
    assert r.json()["error"] == _schema_message(bad)

    class Failing(Evaluator):  # a computation failing in a way no check foresaw
        def evaluate(self, settings, **kw):
            raise OverflowError("math range error\n" + "x" * 10_000)

    app = create_app(evaluator=Failing(evaluator.root / "failing"), warm_up=False, token="t")
    with TestClient(app, base_url="http://127.0.0.1", headers={TOKEN_HEADER: "t"}) as c:
        r = post(c, small())
        assert r.status_code == 500 and "OverflowError: math range error" in r.json()["error"]
        assert "\n" not in r.json()["error"] and len(r.json()["error"]) <= 300
        assert c.get("/api/controls").status_code == 200


@pytest.mark.parametrize(("sent", "hours", "words"), [
    ("6", 6.0, "removal 6 h after upload"), ("1e1", 10.0, "removal 10 h after upload"),
    (0.25, 0.25, "removal 0.25 h after upload"), ("inf", math.inf, "no removal (latency never)"),
])
def test_the_sentence_and_marker_read_the_checked_config(client, sent, hours, words):
    """A latency sent as text runs as the number the schema reads: the sentence and the marker
    say that number (they once said "never" and drew the marker at inf), in the command line's
    words (outputs.answer.fmt_latency: 0.25 h, not 15 min)."""
    r = post(client, small(**{"fixed_latency.latency_h": sent})).json()
    assert words in r["sentence"] and r["stack"] == words
    assert r["marker"]["x"] == ("inf" if math.isinf(hours) else hours) and r["marker"]["how"] == "lever"


def test_the_sentence_with_re_uploads_says_they_count_as_posts(client):
    """With re-uploads the moderated run has more posts than its twin (which removes nothing, so
    nothing is re-uploaded): the sentence says that reach per post counts re-uploads as posts
    and that the share prevented is of the total."""
    r = post(client, small(**{"reupload.on": True, "fixed_latency.latency_h": 1})).json()
    table = list(csv.DictReader(io.StringIO(r["csv"]["results"])))
    assert sum(float(row["policy1_reupload_uploaded"]) for row in table) > 0
    assert "re-uploads counted as posts" in r["sentence"] and "in total" in r["sentence"]
    plain = post(client, small(**{"fixed_latency.latency_h": 1})).json()
    assert "re-uploads" not in plain["sentence"]
