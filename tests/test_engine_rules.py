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
