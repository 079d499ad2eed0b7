"""The engine's contract (issue 16): named kernel state, the public record API of a run, one home
for removal arithmetic and for the policies' stream keys."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import numpy as np
import pytest

import spreadsim
from spreadsim import SimConfig, simulate
from spreadsim.engine import kernel as K
from spreadsim.engine.kernel import heap, loop, scheduling, settling
from spreadsim.engine.runlog import FIRST, RESHARED, SETTLED
from spreadsim.engine.simulation import Simulation, policy_label, policy_stream_key
from spreadsim.graphs import build_graph
from spreadsim.policies import POLICIES
from spreadsim.policies.base import FixedLatency, LatencyDistribution
from spreadsim.runs.deadline import deadline_sweep
from spreadsim.runs.single import new_simulation

from .helpers import config
from .test_oracle import CASES, assert_same_run, world

SRC = Path(spreadsim.__file__).parent


# ------------------------------------------------------------------------------ named state

def test_no_kernel_state_addressed_by_index():
    """No ``_meta[i]`` anywhere: the settings and counters are the fields of kernel.STATE."""
    hits = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if "_meta[" in line]
    assert hits == []
    assert {"heap_size", "next_seq", "log_len", "n_seen", "n_inert", "n_touched", "ev_time",
            "horizon", "stop_mask", "track", "trigger_live"} <= set(K.STATE.names)


def test_kernel_functions_take_the_work_tuple_and_few_arguments():
    """Every compiled kernel function takes at most 8 arguments (but the heap's two primitives
    that write one row: the two flat tables, the slot or size, and the row's six values); those
    that read the run's work arrays take them as one :class:`kernel.Work`."""
    funcs = [getattr(m, name) for m in (heap, loop, scheduling, settling)
             for name in dir(m) if hasattr(getattr(m, name), "py_func")
             or (inspect.isfunction(getattr(m, name)) and getattr(m, name).__module__ == m.__name__)]
    assert len(funcs) >= 10
    for f in funcs:
        params = list(inspect.signature(getattr(f, "py_func", f)).parameters)
        assert len(params) <= (9 if f.__name__ in ("_push", "_set_row") else 8), (f.__name__, params)
    for f in (K.advance, K.share, K.settle_inert, K.cap_copy_deadline):
        assert list(inspect.signature(getattr(f, "py_func", f)).parameters)[0] == "w"


# ------------------------------------------------------------------------------ record API

@pytest.mark.parametrize("case", ["none", "fixed_latency", "notice", "stack_distributions"])
def test_a_traced_run_records_its_transmission_tree(case):
    """A traced run's exposure log is its transmission tree: every share's parent share (post,
    source) is the upload or an earlier share of the same post; every logged exposure came before
    its post's removal; the per-post counters add up from the log; the log is what the run's
    ``exposures`` table says."""
    cfg = world(CASES[case])
    sim = new_simulation(cfg, 4, trace=True)
    r = sim.run()
    log, pc = sim.exposure_log(), sim.post_counters()
    n = len(sim.posts)
    assert log.time.size > 50 and np.all(log.flags & SETTLED == 0)
    assert np.array_equal(log.time, r.exposures["time_h"]) and np.array_equal(log.source, r.exposures["source"])
    assert np.array_equal((log.flags & FIRST) > 0, r.exposures["first"])
    assert np.array_equal((log.flags & RESHARED) > 0, r.exposures["shared"])
    assert np.all(np.diff(log.time) >= 0)  # processed in time order
    shared_at = {(int(q), int(u)): float(t) for q, u, t, f
                 in zip(log.post, log.user, log.time, log.flags, strict=True) if f & RESHARED}
    for q, src, t in zip(log.post.tolist(), log.source.tolist(), log.time.tolist(), strict=True):
        if src != sim.posts[q].uploader:  # else: the upload's own copy
            assert shared_at[(q, src)] < t  # the parent share came first
    cut = np.array([K.removal_cut(x) for x in pc.removal_time])
    assert np.all(log.time < cut[log.post])  # nothing after a removal is logged (tie rule)
    first = (log.flags & FIRST) > 0
    assert np.array_equal(np.bincount(log.post[first], minlength=n), pc.reach)
    assert np.array_equal(np.bincount(log.post, minlength=n), pc.views)
    assert np.array_equal(np.bincount(log.post[(log.flags & RESHARED) > 0], minlength=n), pc.shares)
    assert np.array_equal(pc.reach, r.posts["reach"]) and np.array_equal(pc.upload_time, r.posts["upload_time_h"])
    assert sim.removal_causes() == r.posts["removal_cause"].tolist()
    with pytest.raises(ValueError):
        log.time[0] = 0.0  # read-only views of the engine's arrays


def test_the_exposure_log_after_a_run_is_kept_only_when_asked():
    cfg = world(CASES["fixed_latency"])
    sim = new_simulation(cfg, 1)
    sim.run()
    with pytest.raises(RuntimeError, match="trace=True or record_views=True"):
        sim.exposure_log()
    kept = Simulation(cfg, 1, record_views=True)
    r = kept.run()
    log, inert = kept.exposure_log(), kept.inert_views()
    first = (log.flags & FIRST) > 0
    # every first exposure is logged (settled ones flagged, without a source) ...
    assert np.array_equal(np.bincount(log.post[first], minlength=len(kept.posts)), r.posts["reach"])
    assert np.all(log.source[(log.flags & SETTLED) > 0] == -1)
    # ... and every exposure is a logged event or an inert view that came before the removals
    n = len(kept.posts)
    cut = np.array([K.removal_cut(x) for x in kept.post_counters().removal_time])
    happened = (inert.time < cut[inert.post]) & (inert.time < inert.copy_deadline)
    views = (np.bincount(log.post[(log.flags & SETTLED) == 0], minlength=n)
             + np.bincount(inert.post[happened], minlength=n))
    assert np.array_equal(views, r.posts["views"]) and inert.time.size > 0


# ------------------------------------------------------------------------------ removal arithmetic

class _ByContent(FixedLatency):
    """A latency of its own: 0.5 h plus 1 h per content id modulo 4, every post removed."""

    def latency(self, post):
        return 0.5 + (post.content_id % 4)


class _AllPosts(LatencyDistribution):
    """Applies to legal posts too, whatever applies_to says."""

    def applies(self, post):
        return True


def _deadline_cfg(policy):
    c = config(share_prob=0.15, kernel={"dist": "exponential", "rate_per_h": 0.7}, policy=policy,
               posts=20, uploaders=6, window_h=12.0, horizon_h=200.0, selection="random")
    c["scenario"]["legal_posts"] = 6
    return SimConfig.from_dict(c)


@pytest.mark.parametrize(("name", "cls", "policy"), [
    ("fixed_latency", _ByContent, {"name": "fixed_latency", "latency_h": 30.0}),
    ("latency_distribution", _AllPosts, {"name": "latency_distribution", "half_life_h": 2.0}),
])
def test_the_deadline_path_calls_the_policys_own_removal_time(monkeypatch, name, cls, policy):
    """A PreDecidedRemoval subclass that overrides latency() (or applies()) gets the same results
    on the deadline path as in simulation: both take removal times from the policy's methods."""
    g = build_graph({"kind": "barabasi_albert", "n": 1500, "m": 3}, seed=2)
    cfg = _deadline_cfg(policy)
    plain = [simulate(cfg, seed, graph=g) for seed in range(3)]
    monkeypatch.setitem(POLICIES, name, cls)
    for seed in range(3):
        sim = simulate(cfg, seed, graph=g)
        (fast,) = deadline_sweep([cfg], seed, graph=g)
        assert_same_run(fast, sim)
        assert fast.removals == sim.removals
    # the subclass changed the results (the test compares something)
    changed = [not np.array_equal(simulate(cfg, s, graph=g).posts["removal_time_h"],
                                  plain[s].posts["removal_time_h"], equal_nan=True) for s in range(3)]
    assert any(changed)


def test_removal_times_vectorised_equal_post_by_post():
    """PreDecidedRemoval.removal_times (compiled over the posts) equals removal_time post by post."""
    cfg = _deadline_cfg({"name": "latency_distribution", "dist": "lognormal", "median_h": 3.0,
                         "sigma": 1.0, "removal_prob": 0.6, "applies_to": "all",
                         "categories": {"hate_speech": {"median_h": 1.0}}})
    sim = new_simulation(cfg, 5)
    sim.run()
    pol = sim.policies[0]
    at = pol.removal_times(sim.posts)
    each = np.array([pol.removal_time(p) for p in sim.posts])
    assert np.array_equal(at, each) and np.isfinite(at).sum() >= 5 and np.isinf(at).sum() >= 3


def test_policy_stream_keys_have_one_home():
    """A bound policy's key and label are policy_stream_key's and policy_label's, and no other
    module spells the stream's name."""
    cfg = world([CASES["fixed_latency"], CASES["exponential"]])
    sim = new_simulation(cfg, 9)
    for i, p in enumerate(sim.policies):
        assert p.key == policy_stream_key(9, i, p.name) and p.label == policy_label(i, p.name)
    spelled = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if re.search(r"policy:\{", p.read_text())]
    assert spelled == ["engine/simulation.py"]
    assert math.isfinite(sim.run().summary["reach_mean"])


# ------------------------------------------------------------------------------ the share routine's modes

class _Watch(FixedLatency):
    """fixed_latency that also wants exposure hooks (and counts them)."""

    wants = frozenset({"exposure"})
    seen = 0

    def on_exposure(self, post, user, source):
        self.seen += 1
        assert self.sim.views(post) >= self.sim.reach(post) >= 1  # counts are live


def _mode(sim):
    st = sim._state
    if not st.track:
        return "every event"
    if st.trigger_live:
        return "triggers"
    return "inert, final" if st.final else "inert"


@pytest.mark.parametrize(("case", "mode"), [
    ("fixed_latency", "inert, final"), ("none", "inert, final"), ("notice", "inert"),
    ("detection", "triggers"), ("watch", "every event")])
def test_the_four_modes_give_the_tables_of_the_every_event_mode(monkeypatch, case, mode):
    """The share routine has four modes (docs/design.md); a policy with exposure hooks runs every
    exposure as an event (its counts are live). Each mode's tables equal those of the same run
    with every exposure as an event (a trace)."""
    if case == "watch":
        monkeypatch.setitem(POLICIES, "fixed_latency", _Watch)
    cfg = world(CASES["fixed_latency" if case == "watch" else case])
    for seed in range(2):
        sim = new_simulation(cfg, seed)
        assert _mode(sim) == mode
        r = sim.run()
        exact = new_simulation(cfg, seed, trace=True)
        assert _mode(exact) == "every event"
        want = exact.run()
        want.exposures = {}
        assert_same_run(r, want)
        if case == "watch":
            assert sim.policies[0].seen == r.summary["reach_total"] + r.summary["legal_reach_total"]
