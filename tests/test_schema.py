"""One schema: the YAML in conf/ is generated from it, the Python API and the command line share
its defaults, and every field is described for readers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import spreadsim
from spreadsim.errors import ConfigError
from spreadsim.outputs.io import read_table
from spreadsim.schema.catalog import generated_sections
from spreadsim.schema.config import DEFAULT_GRAPH, DEFAULT_POLICY, Limits, SimConfig
from spreadsim.schema.fields import Custom, Number, defaults, describe, parse
from spreadsim.schema.model import CalibrationSettings, Plots, RunSettings, ScenarioConfig, SpreadConfig
from spreadsim.schema.policies import POLICY_PARAMS
from spreadsim.schema.yaml import conf_files, scalar, section_yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


@pytest.mark.parametrize("rel", sorted(conf_files()))
def test_conf_files_are_generated_from_the_schema(rel):
    """Edit the schema, then run ``python -m spreadsim.schema.yaml conf``."""
    assert (CONF / rel).read_text() == conf_files()[rel], f"conf/{rel} drifted from the schema"


@pytest.mark.parametrize("rel", sorted(generated_sections()))
def test_generated_yaml_reads_back_as_the_defaults(rel):
    cls = generated_sections()[rel]
    loaded = yaml.safe_load((CONF / rel).read_text())
    assert parse(cls, loaded, "x") == parse(cls, {}, "x") if not _required(cls) else True
    assert list(loaded) == [i.name for i in describe(cls)]


def _required(cls: type) -> bool:
    return any(i.required for i in describe(cls))


def test_the_run_settings_of_config_yaml_are_the_schema_defaults():
    top = yaml.safe_load((CONF / "config.yaml").read_text())
    for info in describe(RunSettings):
        assert top[info.name] == info.default, info.name
    assert top["calibration"] is None


SECTIONS = [SpreadConfig, ScenarioConfig, RunSettings, Plots, CalibrationSettings, Limits,
            *generated_sections().values()]


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_every_field_is_described(cls):
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} needs a docstring (the YAML header)"
    for info in describe(cls):
        assert len(info.help.split()) >= 2, f"{cls.__name__}.{info.name} needs a description"
        assert info.check.text(), info.name


@pytest.mark.parametrize("cls", [c for c in SECTIONS if not _required(c)], ids=lambda c: c.__name__)
def test_defaults_pass_their_own_checks(cls):
    parse(cls, {}, "section")


def test_unknown_keys_missing_values_and_ranges_give_one_line():
    with pytest.raises(ConfigError, match=r"^spread\.speed = 3: unknown key; allowed: kernel, decay, removal$"):
        parse(SpreadConfig, {"speed": 3}, "spread")
    with pytest.raises(ConfigError, match=r"^calibration\.target = None: is required$"):
        parse(CalibrationSettings, {"lever": "policy.latency_h"}, "calibration")
    with pytest.raises(ConfigError, match=r"^seeds = 0: must be an integer >= 1"):
        parse(RunSettings, {"seeds": 0}, "")
    assert "\n" not in str(ConfigError("a.b", 1, "x"))


def test_check_texts_read_as_what_is_allowed():
    assert Number(0.0, allow_inf=True, unit="hours").text() == "a number >= 0 (hours) or 'inf' (never)"
    assert Custom(lambda p, v: v, "anything").text() == "anything"


def test_yaml_scalars():
    assert [scalar(x) for x in (None, True, 1, 0.5, float("inf"), "never", "a b", "1.5", "x: y")] == \
        ["null", "true", "1", "0.5", ".inf", "never", "a b", "'1.5'", "'x: y'"]
    assert scalar({"dist": "fixed", "value_h": 1.0}) == "{dist: fixed, value_h: 1.0}"


def test_section_yaml_has_a_header_and_one_line_per_field():
    text = section_yaml(Plots)
    assert text.startswith("# Generated from the schema")
    assert "svg: false  # also write every plot as SVG (PNG always)" in text


def test_sections_left_out_take_the_defaults():
    cfg = SimConfig.from_dict({})
    assert cfg.spread == parse(SpreadConfig, {}, "spread")
    assert cfg.scenario == parse(ScenarioConfig, {}, "scenario")
    assert cfg.graph["kind"] == DEFAULT_GRAPH["kind"] and cfg.graph["seed"] == 2018
    assert [dict(p) for p in cfg.policies] == [{**defaults(POLICY_PARAMS["fixed_latency"]), **DEFAULT_POLICY}]
    assert cfg.scenario.legal_posts == 20 and cfg.spread.kernel.dist == "lognormal"
    assert SimConfig.from_dict({"policy": None}).policies == ()  # null: no policy, the unmoderated run


def test_the_api_defaults_are_the_cli_defaults_list():
    """The default graph kind, policy and the spread/scenario files of conf/config.yaml's defaults
    list are the schema's (the generated files hold the schema's defaults)."""
    top = yaml.safe_load((CONF / "config.yaml").read_text())
    groups = {k: v for d in top["defaults"] if isinstance(d, dict) for k, v in d.items()}
    assert groups["graph"] == DEFAULT_GRAPH["kind"]
    assert groups["policy"] == DEFAULT_POLICY["name"]
    assert generated_sections()[f"spread/{groups['spread']}.yaml"] is SpreadConfig
    assert generated_sections()[f"scenario/{groups['scenario']}.yaml"] is ScenarioConfig


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def test_the_api_and_the_cli_simulate_the_same_world(tmp_path):
    """``simulate`` with no sections and ``spreadsim experiment=single`` with the same seed give
    the same tables: the CLI's run folder holds the job's per-post, per-run and series tables."""
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seed=3", "seeds=1",
                    f"hydra.run.dir={out}"], check=True, cwd=tmp_path, env=_env(),
                   capture_output=True, text=True)
    r = spreadsim.simulate({}, seed=3, baseline=True)
    for name, table in (("posts", r.posts), ("series", r.series)):
        cli = read_table(out / name)
        assert set(cli) == {"seed", *table}, name
        for col, values in table.items():
            np.testing.assert_array_equal(cli[col], values, err_msg=f"{name}.{col}")
    cli_runs = read_table(out / "runs")
    for col, value in r.summary.items():
        if col in cli_runs:
            np.testing.assert_array_equal(cli_runs[col][0], value, err_msg=f"runs.{col}")
    assert {"reach_mean", "reach_total", "reach_baseline_total", "reach_prevented_frac"} <= set(cli_runs)


def test_the_config_the_cli_prints_runs_through_the_api(tmp_path):
    printed = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=single", "seed=3",
                              "policy.latency_h=6", "--cfg", "job"], check=True, cwd=tmp_path, env=_env(),
                             capture_output=True, text=True).stdout
    (tmp_path / "job.yaml").write_text(printed)
    for source in (printed, tmp_path / "job.yaml", str(tmp_path / "job.yaml"), yaml.safe_load(printed)):
        spec = spreadsim.load_config(source)
        assert spec.seeds == tuple(range(3, 23)) and spec.baseline
    r = spreadsim.simulate(spec.sim, seed=spec.seeds[0], baseline=spec.baseline)
    same = spreadsim.simulate({"policy": {"name": "fixed_latency", "latency_h": 6}}, seed=3, baseline=True)
    assert r.summary == same.summary


def test_load_config_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^config = .*nosuch.yaml.: cannot be read \(No such file or directory\)$"):
        spreadsim.load_config(tmp_path / "nosuch.yaml")
    with pytest.raises(ConfigError, match=r"^config = .*: is not YAML"):
        spreadsim.load_config("seed: [1\nseeds: 2")
    with pytest.raises(ConfigError, match=r"^seeds = 0: must be an integer >= 1"):
        spreadsim.load_config("seeds: 0\n")
    with pytest.raises(ConfigError, match=r"^seeds = 0: must be an integer >= 1"):
        spreadsim.load_config("seeds: 0")  # one line of YAML is YAML, not a file name
    assert spreadsim.load_config("{seeds: 2, policy: null}").seeds == (0, 1)
    with pytest.raises(ConfigError, match=r"^config = .*: must be a mapping of config keys$"):
        spreadsim.load_config("- seeds\n- 2\n")
    with pytest.raises(ConfigError, match=r"^config = .*: must be a mapping of config keys$"):
        spreadsim.sweep("- seeds\n- 2\n", over={"seeds": [1]})


@pytest.mark.parametrize("path", sorted(p.relative_to(CONF).as_posix() for g in ("spread", "scenario")
                                        for p in (CONF / g).glob("*.yaml")))
def test_hand_written_presets_pass_the_schema(path):
    section = SpreadConfig if path.startswith("spread/") else ScenarioConfig
    parse(section, yaml.safe_load((CONF / path).read_text()), path.split("/")[0])
