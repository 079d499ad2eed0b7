"""The engine's rules (issue 16's bugs): each test pins one rule of docs/design.md, "The engine's
rules"."""

from __future__ import annotations

import pytest

from spreadsim import simulate

from .helpers import config, digraph

CHAIN = [(0, 1), (1, 2), (2, 3)]


# --------------------------------------------------------------------------- stacked clocks

@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
def test_stacked_pre_decided_policies_the_earliest_removal_wins(removal):
    """Bug 1: stacked pre-decided policies, whatever their order: the earliest removal wins (per
    post under cascade, per copy under per_copy). On a chain with 1 h hops, a 0.5 h latency
    alone gives reach 0, and so does any stack that holds it."""
    g = digraph(CHAIN)
    short = {"name": "fixed_latency", "latency_h": 0.5}
    long = {"name": "fixed_latency", "latency_h": 100.0}
    for stack in (short, [short, long], [long, short], [long, short, long]):
        r = simulate(config(policy=stack, removal=removal), seed=0, graph=g)
        assert r.posts["reach"].tolist() == [0], stack
    # a clock that lets every hop through, stacked with one that does not: the copy goes at the
    # earlier one (per_copy: 1.5 h after each share lets 1 h hops through, 0.5 h does not)
    if removal == "per_copy":
        mid = {"name": "fixed_latency", "latency_h": 1.5}
        assert simulate(config(policy=mid, removal=removal), seed=0, graph=g).posts["reach"].tolist() == [3]
        for stack in ([mid, short], [short, mid]):
            assert simulate(config(policy=stack, removal=removal), seed=0,
                            graph=g).posts["reach"].tolist() == [0]


# --------------------------------------------------------------------------- the tie rule

@pytest.mark.parametrize("removal", ["cascade", "per_copy"])
def test_the_tie_at_the_removal_time_does_not_depend_on_float_sums(removal):
    """Bug 2: an exposure due at the removal time never happens, whatever the order of the float
    sums that gave both times. Fixed feed delay 0.1 h, latency 0.3 h, the upload at a random time
    in [0, 10) h: the third hop is due at the removal time (cascade: reach 2 for every seed;
    per_copy, 0.1 h hops under 0.3 h clocks: reach 3)."""
    g = digraph(CHAIN)
    cfg = config(kernel={"dist": "fixed", "value_h": 0.1}, window_h=10.0, removal=removal,
                 policy={"name": "fixed_latency", "latency_h": 0.3})
    reach = {int(simulate(cfg, seed=s, graph=g).posts["reach"][0]) for s in range(40)}
    assert reach == ({2} if removal == "cascade" else {3})


def test_the_tie_rule_is_a_relative_tolerance():
    """The rule as documented: an exposure at t is void when t >= R * (1 - TIE_REL) of its
    post's removal time R; one at R * (1 - 3 TIE_REL) happens."""
    from spreadsim.engine.kernel import TIE_REL, removal_cut

    assert TIE_REL == 1e-9
    for r in (0.3, 7.0000001, 1234.5):
        assert removal_cut(r) == r * (1.0 - TIE_REL)
        assert r * (1 - 3 * TIE_REL) < removal_cut(r) < r
    assert removal_cut(float("inf")) == float("inf") and removal_cut(0.0) == 0.0
    # a removal 0.3 h after an upload at t0 voids the third 0.1 h hop, summed in any order
    for t0 in (0.7, 3.3, 9.1):
        r = t0 + 0.3
        for te in (((t0 + 0.1) + 0.1) + 0.1, t0 + (0.1 + (0.1 + 0.1)), t0 + 0.3):
            assert te >= removal_cut(r)
