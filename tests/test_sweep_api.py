"""spreadsim.sweep: the command's jobs from Python, its tables as pandas DataFrames.

The reference is the ``spreadsim`` command itself, run in a subprocess on the same config: the
DataFrames must equal its Parquet tables exactly and its CSV tables to the CSV's 10 significant
digits (integers and text exactly).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import spreadsim
from spreadsim import ConfigError
from spreadsim.outputs.io import CSV_DIGITS
from spreadsim.outputs.layout import DONE, REPORT_FILE, SWEEP_TABLES
from spreadsim.runs.sweep import SweepResult

#: a small world (the command's defaults for everything else: the default policy fixed_latency)
WORLD = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 2, "seed": 1},
         "scenario": {"illegal_posts": 4, "uploaders": 2, "horizon_h": 48}, "seeds": 2}
#: the grid: a config group's options x latency (with never); the last key varies fastest
OVER = {"spread": ["default", "exponential"], "policy.latency_h": [1, 6, "never"]}


@pytest.fixture(scope="module")
def cli_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``spreadsim --config-dir <d> experiment=small spread=default,exponential
    policy.latency_h=1,6,never`` with WORLD as the experiment: the swept keys are its only
    overrides, as ``over`` is the Python sweep's only parameters."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "conf" / "experiment").mkdir(parents=True)
    (tmp / "conf" / "experiment" / "small.yaml").write_text(
        "# @package _global_\n" + yaml.safe_dump({**WORLD, "hydra": {"mode": "MULTIRUN"}}))
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    sweep_args = [f"{k}={','.join(map(str, v))}" for k, v in OVER.items()]
    r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "--config-dir", str(tmp / "conf"),
                        "experiment=small", *sweep_args, "hydra.launcher.n_jobs=1",
                        f"hydra.sweep.dir={tmp / 'sweep'}"],
                       cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return tmp / "sweep"


@pytest.fixture(scope="module")
def api_sweep() -> SweepResult:
    return spreadsim.sweep(WORLD, over=OVER)


def test_the_command_records_never_as_inf(cli_sweep):
    """``policy.latency_h=1,6,never``: a float column with inf, in the summary and the results,
    Parquet and CSV alike."""
    for table in ("summary", "results"):
        for ext in ("parquet", "csv"):
            col = pd.read_parquet(cli_sweep / f"{table}.parquet") if ext == "parquet" else \
                pd.read_csv(cli_sweep / f"{table}.csv")
            lat = col["policy.latency_h"]
            assert lat.dtype == np.float64, (table, ext)
            assert sorted(set(lat)) == [1.0, 6.0, math.inf], (table, ext)


@pytest.mark.parametrize("table", SWEEP_TABLES)
def test_sweep_returns_the_commands_tables(cli_sweep, api_sweep, table):
    got = getattr(api_sweep, table)
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, pd.read_parquet(cli_sweep / f"{table}.parquet"), check_exact=True)
    csv = pd.read_csv(cli_sweep / f"{table}.csv")
    assert list(csv) == list(got)
    for c in got:
        if got[c].dtype.kind == "f":
            a, b = got[c].to_numpy(), csv[c].to_numpy(dtype=np.float64)
            assert np.array_equal(np.isnan(a), np.isnan(b)), c
            ok = ~np.isnan(a)
            np.testing.assert_allclose(b[ok], a[ok], rtol=10.0 ** (1 - CSV_DIGITS), atol=0, err_msg=c)
        elif got[c].dtype.kind in "iub":
            assert csv[c].tolist() == got[c].tolist(), c  # integers exactly
        else:
            assert csv[c].astype(str).tolist() == got[c].astype(str).tolist(), c


def test_the_grid_is_the_basic_sweepers(api_sweep):
    s = api_sweep.summary
    assert api_sweep.params == ("spread", "policy.latency_h")
    assert s["job"].tolist() == list(range(6))
    assert s["spread"].tolist() == ["default"] * 3 + ["exponential"] * 3
    assert s["policy.latency_h"].tolist() == [1.0, 6.0, math.inf] * 2
    assert s["n_seeds"].tolist() == [2] * 6
    assert (api_sweep.results["seed"].to_numpy().reshape(6, 2) == [0, 1]).all()
    # the options are the command's: another feed delay, another reach before a removal at 1 h
    assert s["reach_mean"][0] != s["reach_mean"][3]
    # a deadline: every share prevented and its interval inside [0, 1]; never prevents nothing
    lo, share, hi = (s[c].to_numpy() for c in ("prevented_share_ci_low", "prevented_share",
                                               "prevented_share_ci_high"))
    assert ((0 <= lo) & (lo <= share) & (share <= hi) & (hi <= 1)).all()
    assert share[2] == 0.0 and share[-1] == 0.0


def test_out_dir_gets_the_commands_folder_and_resumes(tmp_path, caplog):
    over = {"policy.latency_h": [0, "inf"]}
    s = spreadsim.sweep(WORLD, over=over, seeds=2, out_dir=tmp_path)
    assert s.out_dir == tmp_path
    for j in range(2):
        assert (tmp_path / str(j) / DONE).is_file()
    for t in SWEEP_TABLES:
        pd.testing.assert_frame_equal(getattr(s, t), pd.read_parquet(tmp_path / f"{t}.parquet"))
        assert (tmp_path / f"{t}.csv").is_file()
    assert (tmp_path / REPORT_FILE).is_file() and (tmp_path / "reach_vs_latency.png").is_file()
    assert not (tmp_path / ".cache").exists()
    caplog.set_level("INFO", logger="spreadsim.sweep")
    again = spreadsim.sweep(WORLD, over=over, seeds=2, out_dir=tmp_path)  # resume: nothing to run
    assert sum("already done" in r.getMessage() for r in caplog.records) == 2
    pd.testing.assert_frame_equal(again.summary, s.summary)


def test_config_as_yaml_text_or_file(tmp_path):
    text = yaml.safe_dump({**WORLD, "seeds": 2})
    (tmp_path / "job.yaml").write_text(text)
    a = spreadsim.sweep(text, over={"policy.latency_h": [6]})
    b = spreadsim.sweep(tmp_path / "job.yaml", over={"policy.latency_h": [6]})
    c = spreadsim.sweep(str(tmp_path / "job.yaml"), over={"policy.latency_h": [6]})
    pd.testing.assert_frame_equal(a.results, b.results)
    pd.testing.assert_frame_equal(a.results, c.results)
    one = spreadsim.sweep(WORLD, seeds=3, seed=5)  # no sweep: one point, no parameter column
    assert one.params == () and one.results["seed"].tolist() == [5, 6, 7]


def test_bad_input_fails_before_any_job(tmp_path):
    with pytest.raises(ConfigError, match=r"^policy.latency_h = -2"):
        spreadsim.sweep(WORLD, over={"policy.latency_h": [1, -2]}, out_dir=tmp_path / "out")
    assert not any((tmp_path / "out").rglob("job.json"))
    with pytest.raises(ConfigError, match=r"^over.policy.latency_h"):
        spreadsim.sweep(WORLD, over={"policy.latency_h": []})
    with pytest.raises(ConfigError, match=r"^scenario.nosuch"):
        spreadsim.sweep(WORLD, over={"scenario.nosuch": [1]})
    with pytest.raises(ConfigError, match=r"^calibration"):
        spreadsim.sweep({**WORLD, "calibration": {"target": 5, "lever": "policy.latency_h"}})
    with pytest.raises(ConfigError, match=r"^config"):
        spreadsim.sweep(42)
    with pytest.raises(ConfigError, match=r"^config = 'a JobSpec'"):
        spreadsim.sweep(spreadsim.load_config(WORLD))
    with pytest.raises(ConfigError, match=r"^policy = 'nosuch': unknown policy option; options: .*none"):
        spreadsim.sweep(WORLD, over={"policy": ["none", "nosuch"]})


def test_run_result_frames():
    r = spreadsim.simulate({k: WORLD[k] for k in ("graph", "scenario")}, seed=0, baseline=True)
    f = r.frames()
    assert set(f) >= {"posts", "series", "summary"}
    pd.testing.assert_frame_equal(f["posts"], pd.DataFrame(r.posts))
    pd.testing.assert_frame_equal(f["series"], pd.DataFrame(r.series))
    assert len(f["summary"]) == 1 and f["summary"]["reach_total"].iloc[0] == r.summary["reach_total"]


#: a small version of experiment=coc_2017 (command-line overrides; the Python sweep's config)
COC_SMALL = {"seeds": 2, "graph.n": 800, "graph.m": 3, "scenario.illegal_posts": 30,
             "scenario.legal_posts": 10, "scenario.uploaders": 5, "scenario.horizon_h": 72}


def test_the_code_of_conduct_round_comes_with_the_experiments_config(tmp_path):
    """``spreadsim.sweep`` of the body of conf/experiment/coc_2017.yaml gets the round's target
    columns (its ``target_round``), the same as ``spreadsim experiment=coc_2017``, and the same
    Code of Conduct figures."""
    from spreadsim.runs.jobspec import set_dotted
    from spreadsim.runs.sweep import group_option

    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    r = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=coc_2017",
                        *(f"{k}={v}" for k, v in COC_SMALL.items()),
                        f"hydra.run.dir={tmp_path / 'cli'}"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "in the 2017-06 monitoring round" in r.stdout, r.stdout
    cli = pd.read_parquet(tmp_path / "cli" / "summary.parquet")
    body = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "experiment" /
                           "coc_2017.yaml").read_text())
    cfg = {k: v for k, v in body.items() if k not in ("defaults", "hydra")}
    cfg["spread"] = group_option("spread", "exponential")  # (its defaults: override /spread)
    for key, value in COC_SMALL.items():
        set_dotted(cfg, key, value)
    api = spreadsim.sweep(cfg).summary
    targets = ["target_round", "target_notice_reviewed_24h_share", "target_notice_removed_share"]
    assert [c for c in api if c.startswith("target_")] == targets
    assert api[targets].values.tolist() == [["2017-06", 0.51, 0.59]]
    assert cli[targets].values.tolist() == api[targets].values.tolist()
    figures = [c for c in api if c.startswith("notice_")] + ["reach_mean", "reach_ci_low"]
    assert len(figures) == 8
    pd.testing.assert_frame_equal(cli[figures], api[figures])
