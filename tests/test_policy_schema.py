"""The policy schema: one section per registered policy, the shipped conf/policy files generated
from it, every policy built from its name alone, and the experiments' policy sections checked
against it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

import spreadsim
from spreadsim import ConfigError
from spreadsim.dists import Duration
from spreadsim.policies import POLICIES, make_policy
from spreadsim.schema.fields import defaults, describe, parse
from spreadsim.schema.policies import POLICY_PARAMS, parse_policy
from spreadsim.schema.yaml import section_yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SRC = ROOT / "src" / "spreadsim" / "policies"

#: policies that send posts to the review queue of notice_and_takedown, which must come first
NEEDS_QUEUE = {"authority_referral", "circuit_breaker"}
#: a small world, so that every policy runs in a fraction of a second
SMALL = {"graph": {"kind": "barabasi_albert", "n": 300, "m": 3, "seed": 1},
         "scenario": {"illegal_posts": 10, "legal_posts": 5, "uploaders": 2, "window_h": 6.0,
                      "horizon_h": 48.0}}


def test_registry_and_schema_name_the_same_policies():
    assert list(POLICIES) == list(POLICY_PARAMS)
    for name, cls in POLICIES.items():
        assert cls.params_class is POLICY_PARAMS[name], name
        assert describe(POLICY_PARAMS[name])[0].name == "name"
        assert defaults(POLICY_PARAMS[name])["name"] == name


def test_every_policy_file_is_generated_from_the_schema():
    """Edit schema.policies, then run ``python -m spreadsim.schema.yaml conf``."""
    shipped = {p.stem for p in (CONF / "policy").glob("*.yaml")}
    assert shipped == set(POLICY_PARAMS)
    for name, cls in POLICY_PARAMS.items():
        text = (CONF / "policy" / f"{name}.yaml").read_text()
        assert text == section_yaml(cls), f"conf/policy/{name}.yaml drifted from the schema"
        loaded = OmegaConf.to_container(OmegaConf.load(CONF / "policy" / f"{name}.yaml"))
        assert parse_policy(loaded) == parse_policy({"name": name})


@pytest.mark.parametrize("name", list(POLICY_PARAMS))
def test_every_policy_runs_from_its_name_alone(name):
    # authority_referral and circuit_breaker need the moderators of a notice_and_takedown before
    # them in the stack (a stack rule, not a missing key): both sections still give only a name
    policy: Any = [{"name": "notice_and_takedown"}, {"name": name}] if name in NEEDS_QUEUE else {"name": name}
    r = spreadsim.simulate({**SMALL, "policy": policy}, seed=0)
    assert r.summary["posts"] >= 10  # the illegal posts (and their re-uploads)
    assert make_policy({"name": name}).params == parse(POLICY_PARAMS[name], {}, "policy")


def test_the_yaml_values_are_the_defaults():
    ntd = parse_policy({"name": "notice_and_takedown"})
    assert ntd.review_time == Duration("lognormal", 0.5, 1.0)
    assert set(ntd.removal_prob.values()) == {0.9}
    assert ntd.notice_prob["legal"] == 0.0 and ntd.notice_prob["hate_speech"] == 0.01
    assert math.isinf(ntd.deadline_h["legal"])
    assert (ntd.trusted_flaggers.notice_weight, ntd.trusted_flaggers.removal_prob) == (5.0, 0.95)
    assert parse_policy({"name": "automated_detection"}).precision == 1.0
    assert make_policy({"name": "fixed_latency"}).rules["hate_speech"].a == 24.0
    assert parse_policy({"name": "reupload"}).delay == Duration("exponential", 12.0)
    assert parse_policy({"name": "account_strikes"}).return_delay == Duration("exponential", 48.0)


def test_detection_defaults_run_where_legal_posts_exist():
    """The code's old precision 0.95 made this fail on a value the user never set."""
    cfg = {**SMALL, "policy": {"name": "automated_detection"}}
    cfg["scenario"] = {**SMALL["scenario"], "legal_posts": 0}
    r = spreadsim.simulate(cfg, seed=0)
    assert r.summary["policy0_automated_detection_fpr"] == 0.0


def test_latency_distribution_dists():
    # another dist's parameter at its default (the YAML's half_life_h: 24) is no error: a
    # composed config switches dist without deleting it
    p = make_policy({"name": "latency_distribution", "dist": "lognormal", "median_h": 2, "sigma": 0.5})
    assert (p.rules["hate_speech"].a, p.rules["hate_speech"].b) == (2.0, 0.5)
    with pytest.raises(ConfigError, match=r"^policy\.half_life_h = 3\.0: does not apply to dist "
                                          r"'lognormal'; allowed: median_h, sigma$"):
        make_policy({"name": "latency_distribution", "dist": "lognormal", "median_h": 2, "sigma": 0.5,
                     "half_life_h": 3})
    with pytest.raises(ConfigError, match=r"^policy\.sigma = None: is required$"):
        make_policy({"name": "latency_distribution", "dist": "lognormal", "median_h": 2})
    # dist fixed reads latency_h
    fixed = make_policy({"name": "latency_distribution", "dist": "fixed", "latency_h": 5})
    assert fixed.rules["legal"].a == 5.0
    assert fixed.rules["legal"].kind == make_policy({"name": "fixed_latency", "latency_h": 5}).rules["legal"].kind
    # a category override may switch the dist
    over = make_policy({"name": "latency_distribution", "categories": {
        "hate_speech": {"dist": "lognormal", "median_h": 1, "sigma": 1}}})
    assert over.rules["hate_speech"].a == 1.0 and over.rules["ip_infringement"].a == 24.0
    with pytest.raises(ConfigError, match=r"^policy\.categories\.hate_speech\.median_h = None: is required$"):
        make_policy({"name": "latency_distribution", "categories": {"hate_speech": {"dist": "lognormal"}}})


def test_per_category_values():
    ntd = parse_policy({"name": "notice_and_takedown", "notice_prob": {"legal": 0.2},
                        "removal_prob": {"hate_speech": 0.5}, "deadline_h": {"legal": 168}})
    assert ntd.notice_prob == {"terrorist_propaganda": 0.0, "hate_speech": 0.0, "ip_infringement": 0.0,
                               "legal": 0.2}
    assert ntd.removal_prob == {"terrorist_propaganda": 1.0, "hate_speech": 0.5, "ip_infringement": 1.0}
    assert ntd.deadline_h["legal"] == 168.0 and math.isinf(ntd.deadline_h["hate_speech"])
    det = make_policy({"name": "automated_detection", "precision": 0.9,
                       "categories": {"hate_speech": {"recall": 0.5}}}, "policy[2]")
    r = det.rates["hate_speech"]
    assert (r.recall, r.precision, r.field) == (0.5, 0.9, "policy[2].precision")


def test_parse_policy_errors():
    with pytest.raises(ConfigError, match=r"^policy\.name = None: is required$"):
        parse_policy({})
    with pytest.raises(ConfigError, match=r"^policy\[1\]\.name = 'takedown': unknown policy; allowed: "):
        parse_policy({"name": "takedown"}, "policy[1]")
    with pytest.raises(ConfigError, match=r"^policy = 3: must be a mapping"):
        parse_policy(3)


def _policy_sections(cfg: dict[str, Any]) -> list[tuple[str, Any]]:
    out = []
    for k, section in (("", cfg), *((f"platforms[{i}].", p) for i, p in enumerate(cfg.get("platforms") or []))):
        pol = section.get("policy")
        pols = pol if isinstance(pol, list) else [] if pol is None else [pol]
        out += [(f"{k}policy" if len(pols) == 1 else f"{k}policy[{i}]", p) for i, p in enumerate(pols)]
    return out


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_composes_policies_the_schema_accepts(experiment):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        c = compose("config", overrides=[f"experiment={experiment}"])
    cfg = OmegaConf.to_container(c, resolve=True)
    assert isinstance(cfg, dict)
    sections = _policy_sections(cfg)
    assert sections, experiment
    for field, section in sections:
        assert parse_policy(section, field).name == section["name"]


def test_policy_modules_stay_small():
    for path in SRC.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 450, path.name
