"""Several platforms in one run: exact interleaved traces, cross-posting only between accounts,
shared hash databases with a sync delay, determinism, one platform = spreadsim.simulate, bad input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spreadsim.runs.platforms as P
from spreadsim import ConfigError, simulate
from spreadsim.graphs import build_graph
from spreadsim.policies.base import Policy
from spreadsim.runs.platforms import MultiConfig, MultiSimulation, simulate_platforms
from spreadsim.schema.fields import describe, parse
from spreadsim.schema.platforms import MULTI_KEYS, CrossPosting, HashSharing, PlatformSection

from .helpers import config, digraph

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# staged outside conf/experiment until the CLI dispatches multi-platform configs (the CLI's
# config check rejects the `platforms` key); composed here through Hydra's search path
CHAIN_A = digraph([(0, 1), (1, 2), (2, 3)])           # user 0 uploads; 1, 2, 3 reshare
CHAIN_B = digraph([(0, 1), (1, 2), (2, 3), (3, 4)])   # user 0 uploads; 1..4 reshare
DUMMY_GRAPH = {"kind": "barabasi_albert", "n": 10, "m": 2}  # replaced by graphs=


def multi(platforms: list[dict[str, Any]], *, posts: int = 1, cross: dict[str, Any] | None = None,
          hash_sharing: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """A multi-platform config dict sharing the spread and scenario of ``helpers.config``."""
    base = config(posts=posts, **kw)
    cfg: dict[str, Any] = {"platforms": platforms, "spread": base["spread"], "scenario": base["scenario"]}
    if cross is not None:
        cfg["cross_posting"] = cross
    if hash_sharing is not None:
        cfg["hash_sharing"] = hash_sharing
    return cfg


def plat(name: str, policy: Any = None, graph: dict[str, Any] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "graph": graph or DUMMY_GRAPH}
    if policy is not None:
        d["policy"] = policy
    return d


class _Recorder(Policy):
    """Logs uploads, exposures and removals of its platform into a log shared by all platforms,
    at SimPy's clock: (platform, event, time, content, copy, user)."""

    name = "recorder"
    wants = frozenset({"exposure"})

    def __init__(self, platform: str, log: list[tuple], remove_own_on_cross_post: bool = False) -> None:
        super().__init__({})
        self.platform, self.log, self.remove_own = platform, log, remove_own_on_cross_post

    def on_upload(self, post):
        self.log.append((self.platform, "upload", self.sim.env.now, post.content_id, post.copy,
                         post.uploader))
        if self.remove_own and post.copy > 0:
            for p in self.sim.posts:
                if p.copy == 0:
                    self.sim.remove_post(p, self.cause("cross_post"))

    def on_exposure(self, post, user, source):
        self.log.append((self.platform, "expose", self.sim.env.now, post.content_id, post.copy, user))

    def on_removal(self, post):
        self.log.append((self.platform, "remove", self.sim.env.now, post.content_id, post.copy, -1))


class _Driver(Policy):
    """Uploads one fresh post from user 0 at time ``at`` (a platform's own cascade)."""

    name = "driver"

    def __init__(self, at: float) -> None:
        super().__init__({})
        self.at = at

    def start(self):
        def go():
            yield self.sim.env.timeout(self.at)
            self.sim.upload("hate_speech", 0)
        self.sim.env.process(go())


def _trace_run(order=("A", "B"), delay=0.25, driver_a=None, driver_b=0.5, remove_own=False, posts=1):
    log: list[tuple] = []
    extra: dict[str, list[Policy]] = {"A": [], "B": []}
    if driver_a is not None:
        extra["A"].append(_Driver(driver_a))
    if driver_b is not None:
        extra["B"].append(_Driver(driver_b))
    extra["A"].append(_Recorder("A", log))
    extra["B"].append(_Recorder("B", log, remove_own))
    cfg = MultiConfig.from_dict(multi([plat(n) for n in order], posts=posts,
                                      cross={"overlap": 0.0, "prob": 1.0, "delay": delay}))
    sim = MultiSimulation(cfg, 0, graphs={"A": CHAIN_A, "B": CHAIN_B}, extra_policies=extra,
                          accounts={("A", "B"): {1: 0}})  # A's user 1 is B's user 0
    return log, sim.run()


def test_cross_post_interleaves_with_the_other_platforms_cascade():
    log, r = _trace_run()
    # A: chain 0->1->2->3 from t=0; A's user 1 reshares at 1.0 and, as B's user 0, cross-posts
    # content 0 on B at 1.25 (copy 1). B's own post (content 1) starts at 0.5 from B's user 0.
    assert log == [
        ("A", "upload", 0.0, 0, 0, 0),
        ("B", "upload", 0.5, 1, 0, 0),
        ("A", "expose", 1.0, 0, 0, 1),
        ("B", "upload", 1.25, 0, 1, 0),
        ("B", "expose", 1.5, 1, 0, 1),
        ("A", "expose", 2.0, 0, 0, 2),
        ("B", "expose", 2.25, 0, 1, 1),
        ("B", "expose", 2.5, 1, 0, 2),
        ("A", "expose", 3.0, 0, 0, 3),
        ("B", "expose", 3.25, 0, 1, 2),
        ("B", "expose", 3.5, 1, 0, 3),
        ("B", "expose", 4.25, 0, 1, 3),
        ("B", "expose", 4.5, 1, 0, 4),
        ("B", "expose", 5.25, 0, 1, 4),
    ]
    assert r.posts["platform"].tolist() == ["A", "B", "B"]
    assert r.posts["content_id"].tolist() == [0, 1, 0] and r.posts["copy"].tolist() == [0, 0, 1]
    assert r.posts["cross_post"].tolist() == [False, False, True]
    assert r.posts["reach"].tolist() == [3, 4, 4]
    s = r.summary
    assert (s["A.cross_posts_out"], s["B.cross_posts_in"], s["B.cross_posts_reach"]) == (1, 1, 4)
    assert (s["B.reuploads_attempted"], s["B.copies_reach"], s["cross_posts"]) == (1, 4, 1)


def _naive(sims, until):
    for s in sims:  # every kernel straight to SimPy's next event: wrong once a hook acts across
        s._advance(until)


@pytest.mark.parametrize("naive", [False, True])
def test_other_platform_waits_for_a_hook(naive, monkeypatch):
    """A's hook at 1.0 cross-posts to B at 1.25, where B's policy removes B's own post: B's own
    exposure due at 1.5 must never happen. Advancing B straight to SimPy's next event (the naive
    scheme) processes it before A's hook has run."""
    if naive:
        monkeypatch.setattr(P, "advance_platforms", _naive)
    log, r = _trace_run(remove_own=True)
    exact = [
        ("A", "upload", 0.0, 0, 0, 0),
        ("B", "upload", 0.5, 1, 0, 0),
        ("A", "expose", 1.0, 0, 0, 1),
        ("B", "upload", 1.25, 0, 1, 0),
        ("B", "remove", 1.25, 1, 0, -1),
        ("A", "expose", 2.0, 0, 0, 2),
        ("B", "expose", 2.25, 0, 1, 1),
        ("A", "expose", 3.0, 0, 0, 3),
        ("B", "expose", 3.25, 0, 1, 2),
        ("B", "expose", 4.25, 0, 1, 3),
        ("B", "expose", 5.25, 0, 1, 4),
    ]
    if naive:
        assert ("B", "expose", 1.5, 1, 0, 1) in log and log != exact
    else:
        assert log == exact
        assert r.platforms["B"].posts["reach"].tolist() == [0, 4]


@pytest.mark.parametrize("order", [("A", "B"), ("B", "A")])
def test_ties_between_platforms_go_in_platform_order(order):
    # both platforms start their own post at 0 (drivers, no campaign); A's user 1 cross-posts
    # to B with zero delay, so every exposure time is a tie between the platforms
    log, _ = _trace_run(order=order, delay=0.0, driver_a=0.0, driver_b=0.0, posts=0)
    if order == ("A", "B"):
        assert log == [
            ("A", "upload", 0.0, 0, 0, 0), ("B", "upload", 0.0, 1, 0, 0),
            ("A", "expose", 1.0, 0, 0, 1),
            ("B", "upload", 1.0, 0, 1, 0),  # the cross-post: a SimPy event at 1.0 goes first
            ("B", "expose", 1.0, 1, 0, 1),
            ("A", "expose", 2.0, 0, 0, 2), ("B", "expose", 2.0, 0, 1, 1), ("B", "expose", 2.0, 1, 0, 2),
            ("A", "expose", 3.0, 0, 0, 3), ("B", "expose", 3.0, 0, 1, 2), ("B", "expose", 3.0, 1, 0, 3),
            ("B", "expose", 4.0, 0, 1, 3), ("B", "expose", 4.0, 1, 0, 4),
            ("B", "expose", 5.0, 0, 1, 4),
        ]
    else:
        assert log == [
            ("B", "upload", 0.0, 0, 0, 0), ("A", "upload", 0.0, 1, 0, 0),
            ("B", "expose", 1.0, 0, 0, 1),
            ("A", "expose", 1.0, 1, 0, 1),
            ("B", "upload", 1.0, 1, 1, 0),
            ("B", "expose", 2.0, 0, 0, 2), ("B", "expose", 2.0, 1, 1, 1), ("A", "expose", 2.0, 1, 0, 2),
            ("B", "expose", 3.0, 0, 0, 3), ("B", "expose", 3.0, 1, 1, 2), ("A", "expose", 3.0, 1, 0, 3),
            ("B", "expose", 4.0, 0, 0, 4), ("B", "expose", 4.0, 1, 1, 3),
            ("B", "expose", 5.0, 1, 1, 4),
        ]


# --------------------------------------------------------------------------- cross-posting

def _ring(n: int):
    return digraph([(i, (i + 1) % n) for i in range(n)])


def test_cross_posts_only_from_users_with_both_accounts():
    """With prob 1, the cross-posts on each platform are exactly the (content, account) pairs of
    the users with accounts on both who reshared the content on the other platform (once each)."""
    delay, horizon = 0.5, 100.0
    cfg = multi([plat("A"), plat("B")], posts=100, uploaders=10, window_h=24.0, horizon_h=horizon,
                selection="random", share_prob=0.3, cross={"overlap": 0.3, "prob": 1.0, "delay": delay},
                kernel={"dist": "exponential", "rate_per_h": 1.0})
    r = simulate_platforms(cfg, seed=4, graphs={"A": _ring(200), "B": _ring(200)}, trace=True)
    acc = r.accounts
    assert len(acc[("A", "B")]) == 60 and len(set(acc[("A", "B")].values())) == 60
    assert acc[("B", "A")] == {v: u for u, v in acc[("A", "B")].items()}
    n_unmapped_shares = 0
    for src, dst in (("A", "B"), ("B", "A")):
        x = r.platforms[src]
        content = x.posts["content_id"]
        e = x.exposures
        expected = set()
        for t, q, u, shared in zip(e["time_h"], e["post_id"], e["user"], e["shared"], strict=True):
            if not shared:
                continue
            if int(u) not in acc[(src, dst)]:
                n_unmapped_shares += 1
            elif t + delay < horizon:
                expected.add((int(content[q]), acc[(src, dst)][int(u)]))
        y = r.platforms[dst].posts
        crossed = r.posts["cross_post"][r.posts["platform"] == dst]
        got = list(zip(y["content_id"][crossed].tolist(), y["uploader"][crossed].tolist(), strict=True))
        assert len(got) == len(set(got))  # a person cross-posts a content to a platform once
        assert set(got) == expected, (src, dst)
        assert (y["copy"][crossed] > 0).all()
    assert r.summary["cross_posts"] > 20 and n_unmapped_shares > 20
    assert r.summary["A.posts"] > 100  # cross-posts came back to A


def test_no_overlap_no_cross_posts():
    cfg = multi([plat("A"), plat("B")], posts=20, uploaders=5, window_h=24.0, selection="random",
                share_prob=0.5, cross={"overlap": 0.0, "prob": 1.0})
    r = simulate_platforms(cfg, seed=1, graphs={"A": _ring(50), "B": _ring(50)})
    assert r.summary["cross_posts"] == 0 and len(r.platforms["B"].posts["post_id"]) == 0
    assert r.accounts[("A", "B")] == {}


# --------------------------------------------------------------------------- shared hashes

RING50 = _ring(50)
# B's users 0..49 (A's users' accounts) have no followers: cross-posts on B reach nobody
SILENT_B = digraph([(50, 51)], n=100)
SAME_USERS = {("A", "B"): {u: u for u in range(50)}}


def _hash_run(n: int, recall: float, *, sync: float | None, delay: float = 1.0, seed: int = 5):
    """n posts on A, each removed 1.5 h after upload; A's user who reshared it at +1 h cross-posts
    it to B at +1 h + delay; B runs hash matching with ``recall``."""
    cfg = multi([plat("A", {"name": "fixed_latency", "latency_h": 1.5}),
                 plat("B", {"name": "hash_matching", "recall": recall})],
                posts=n, uploaders=20, window_h=24.0, selection="random",
                cross={"overlap": 0.0, "prob": 1.0, "delay": delay},
                hash_sharing=None if sync is None else {"sync_delay_h": sync})
    sim = MultiSimulation(MultiConfig.from_dict(cfg), seed, graphs={"A": RING50, "B": SILENT_B},
                          accounts=SAME_USERS)
    return sim.run()


def test_shared_hashes_block_with_the_recall():
    n, recall = 2000, 0.7
    r = _hash_run(n, recall, sync=0.0)
    s = r.summary
    assert s["B.cross_posts_in"] == n  # every attempt comes after the removal on A
    sd = math.sqrt(recall * (1 - recall) / n)  # 0.0102
    got = s["B.cross_posts_blocked"] / n
    assert abs(got - recall) < 3 * sd, (got, recall, sd)
    assert s["B.policy0_hash_matching_known_attempts"] == n
    assert s["B.reuploads_blocked"] == s["B.cross_posts_blocked"] == s["B.uploads_blocked"]
    assert s["B.reuploads_attempted"] == n


def test_private_databases_block_nothing():
    r = _hash_run(500, 1.0, sync=None)
    assert r.summary["B.cross_posts_in"] == 500 and r.summary["B.cross_posts_blocked"] == 0


def test_sync_delay():
    # removal at +1.5 h, known on B from +1.5 h + 10 h; attempts at +2 h are not blocked, at
    # +12 h every one is (recall 1)
    r = _hash_run(500, 1.0, sync=10.0, delay=1.0)
    assert r.summary["B.cross_posts_in"] == 500 and r.summary["B.cross_posts_blocked"] == 0
    assert r.summary["B.policy0_hash_matching_known_attempts"] == 0
    r = _hash_run(500, 1.0, sync=10.0, delay=11.0)
    assert r.summary["B.cross_posts_in"] == r.summary["B.cross_posts_blocked"] == 500


# --------------------------------------------------------------------------- determinism


def _busy_cfg(**cross: Any) -> dict[str, Any]:
    a_pol = [{"name": "latency_distribution", "dist": "exponential", "half_life_h": 3.0},
             {"name": "reupload", "delay": {"dist": "exponential", "mean_h": 2.0}, "altered_prob": 0.3},
             {"name": "hash_matching", "recall": 0.9}]
    b_pol = [{"name": "fixed_latency", "latency_h": 4.0}, {"name": "hash_matching", "recall": 0.8}]
    return multi([plat("A", a_pol, {"kind": "barabasi_albert", "n": 600, "m": 3}),
                  plat("B", b_pol, {"kind": "barabasi_albert", "n": 400, "m": 2}),
                  plat("C", None, {"kind": "erdos_renyi", "n": 300, "p": 0.02})],
                 posts=30, uploaders=5, window_h=24.0, horizon_h=120.0, selection="random",
                 share_prob=0.15, kernel={"dist": "exponential", "rate_per_h": 1.0},
                 cross={"overlap": 0.4, "prob": 0.3, "delay": {"dist": "exponential", "mean_h": 1.0},
                        **cross},
                 hash_sharing={"sync_delay_h": 0.5})


def test_same_seed_same_tables():
    cfg = _busy_cfg()
    a, b = simulate_platforms(cfg, seed=3), simulate_platforms(cfg, seed=3)
    assert a.posts.keys() == b.posts.keys()
    for k in a.posts:
        np.testing.assert_array_equal(a.posts[k], b.posts[k], err_msg=k)
    assert a.summary == pytest.approx(b.summary, nan_ok=True)
    for name in a.platforms:
        assert a.platforms[name].removals == b.platforms[name].removals
        assert a.platforms[name].blocked == b.platforms[name].blocked
    assert a.summary["cross_posts"] > 0 and a.summary["reuploads_blocked"] > 0
    c = simulate_platforms(cfg, seed=4)
    assert not np.array_equal(a.posts["reach"], c.posts["reach"]) or a.accounts != c.accounts
    table = a.platform_table()
    assert table["platform"].tolist() == ["A", "B", "C", "total"]
    for k in P.PLATFORM_KEYS:
        assert table[k][-1] == (table[k][:-1].sum() if k != "cross_posts_out"
                                else a.summary["cross_posts"]), k


def test_without_cross_posting_the_first_platform_runs_as_alone():
    """Cross-posting and hash sharing off: no platform wants hooks, every kernel runs straight to
    SimPy's next event, and the first platform's tables are those of its single-platform run."""
    cfg = _busy_cfg(prob=0.0)
    cfg["hash_sharing"] = None
    r = simulate_platforms(cfg, seed=2)
    p = cfg["platforms"][0]
    s = simulate({"graph": p["graph"], "policy": p["policy"], "spread": cfg["spread"],
                  "scenario": cfg["scenario"]}, seed=2)
    assert s.summary["reach_total"] > 0
    for k in s.posts:
        np.testing.assert_array_equal(s.posts[k], r.platforms["A"].posts[k], err_msg=k)
    assert r.summary["B.posts"] == r.summary["C.posts"] == 0


# --------------------------------------------------------------------------- one platform


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_one_platform_equals_simulate(seed):
    single = config(posts=40, uploaders=8, window_h=24.0, horizon_h=150.0, selection="random",
                    share_prob=0.12, kernel={"dist": "lognormal", "median_h": 1.0, "sigma": 1.0})
    single["graph"] = {"kind": "barabasi_albert", "n": 800, "m": 3}  # graph drawn from the seed
    single["policy"] = [{"name": "latency_distribution", "dist": "exponential", "half_life_h": 4.0},
                        {"name": "reupload", "delay": {"dist": "exponential", "mean_h": 3.0},
                         "new_account_prob": 0.3, "altered_prob": 0.3},
                        {"name": "hash_matching", "recall": 0.9, "sync_delay": 0.5},
                        {"name": "account_strikes", "strikes": 2, "return_delay": 6.0}]
    cfg = {"platforms": [{"name": "only", "graph": single["graph"], "policy": single["policy"]}],
           "spread": single["spread"], "scenario": single["scenario"],
           "cross_posting": {"overlap": 0.5, "prob": 1.0}, "hash_sharing": {"sync_delay_h": 0.0}}
    a = simulate(single, seed=seed)
    m = simulate_platforms(cfg, seed=seed)
    b = m.platforms["only"]
    assert a.posts.keys() == b.posts.keys()
    for k in a.posts:
        np.testing.assert_array_equal(a.posts[k], b.posts[k], err_msg=k)
    for k in a.series:
        np.testing.assert_array_equal(a.series[k], b.series[k], err_msg=k)
    assert a.summary == pytest.approx(b.summary, nan_ok=True)
    assert a.removals == b.removals and a.blocked == b.blocked
    assert a.summary["reach_total"] > 0 and m.summary["reach_total"] == a.summary["reach_total"]
    assert m.posts["platform"].tolist() == ["only"] * len(a.posts["post_id"])


# --------------------------------------------------------------------------- bad input


def _good() -> dict[str, Any]:
    return multi([plat("A", {"name": "fixed_latency", "latency_h": 1.0}), plat("B")],
                 cross={"overlap": 0.5, "prob": 0.5}, hash_sharing={"sync_delay_h": 1.0})


def _with(path: str, value: Any) -> dict[str, Any]:
    cfg = _good()
    d: Any = cfg
    keys = path.split("/")
    for k in keys[:-1]:
        d = d[int(k)] if isinstance(d, list) else d[k]
    last = keys[-1]
    if isinstance(d, list):
        d[int(last)] = value
    else:
        d[last] = value
    return cfg


@pytest.mark.parametrize("cfg, field", [
    ({"spread": {}}, "platforms"),
    (_with("platforms", []), "platforms"),
    (_with("platforms", {"name": "A"}), "platforms"),
    (_with("platforms/1/name", "A"), "platforms[1].name"),
    (_with("platforms/1/name", 3), "platforms[1].name"),
    (_with("platforms/1/name", "two words"), "platforms[1].name"),
    (_with("platforms/0/name", None), "platforms[0].name"),
    (_with("platforms/0/grpah", {}), "platforms[0].grpah"),
    (_with("platforms/1/graph", None), "platforms[1].graph"),
    (_with("platforms/1/graph", {"kind": "barabasi_albert", "n": "ten", "m": 2}), "platforms[1].graph.n"),
    (_with("platforms/0/graph", {"kind": "barabasi_albert", "n": 10, "m": 20}), "platforms[0].graph.m"),
    (_with("platforms/0/graph", {"kind": "nosuch"}), "platforms[0].graph.kind"),
    (_with("platforms/0/policy", {"name": "fixed_latency", "latency_h": -1}), "platforms[0].policy.latency_h"),
    (_with("platforms/1/policy", [{"name": "fixed_latency", "latency_h": 1},
                                  {"name": "account_strikes", "strikes": 0}]), "platforms[1].policy[1].strikes"),
    (_with("platforms/1/policy", "fast"), "platforms[1].policy"),
    (_with("cross_posting/overlap", 1.5), "cross_posting.overlap"),
    (_with("cross_posting/overlap", -0.1), "cross_posting.overlap"),
    (_with("cross_posting/prob", math.nan), "cross_posting.prob"),
    (_with("cross_posting/delay", -1.0), "cross_posting.delay"),
    (_with("cross_posting/overlpa", 0.5), "cross_posting.overlpa"),
    (_with("hash_sharing/sync_delay_h", -1.0), "hash_sharing.sync_delay_h"),
    (_with("hash_sharing/sync", 1.0), "hash_sharing.sync"),
    (_with("scenario/window_h", -1.0), "scenario.window_h"),
    (_with("polciy", {}), "config.polciy"),
])
def test_bad_input(cfg, field):
    with pytest.raises(ConfigError) as info:
        MultiConfig.from_dict(cfg)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(field + " = "), msg


def test_sections_come_from_the_schema():
    """Every key of a platform, cross_posting and hash_sharing has a description and one default;
    a section left out takes them."""
    for cls in (PlatformSection, CrossPosting, HashSharing):
        for info in describe(cls):
            assert info.help and info.check.text(), (cls.__name__, info.name)
    cfg = _good()
    del cfg["cross_posting"]
    m = MultiConfig.from_dict(cfg)
    assert m.cross_posting == parse(CrossPosting, {}, "cross_posting") == MultiConfig(()).cross_posting
    assert (m.cross_posting.overlap, m.cross_posting.prob, m.cross_posting.delay.sample(0.5)) == (0.0, 0.0, 0.0)
    assert MultiConfig.from_dict({**_good(), "hash_sharing": {}}).hash_sync_h == 0.0
    assert MultiConfig.from_dict({**_good(), "hash_sharing": None}).hash_sync_h is None


def test_bad_graph_names_the_platform():
    """Found when the config is read (before any graph is built), named by the platform."""
    cfg = _with("platforms/1/graph", {"kind": "barabasi_albert", "n": 10, "m": 20})
    with pytest.raises(ConfigError, match=r"^platforms\[1\]\.graph\.m = 20:"):
        MultiConfig.from_dict(cfg)
    with pytest.raises(ConfigError, match=r"^platforms\[1\]\.graph\.m = 20:"):
        simulate_platforms(cfg, seed=0)


def test_bad_accounts():
    cfg = MultiConfig.from_dict(_good())
    with pytest.raises(ConfigError, match="one to one"):
        MultiSimulation(cfg, 0, graphs={"A": RING50, "B": RING50}, accounts={("A", "B"): {1: 2, 3: 2}})
    with pytest.raises(ConfigError, match="^accounts"):
        MultiSimulation(cfg, 0, graphs={"A": RING50, "B": RING50}, accounts={("A", "C"): {1: 2}})


# --------------------------------------------------------------------------- the shipped experiment


def _compose(overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(CONF), version_base="1.3"):
        c = compose("config", overrides=["experiment=two_platforms", *overrides])
    d = OmegaConf.to_container(c, resolve=True)
    assert isinstance(d, dict)
    return {k: d[k] for k in MULTI_KEYS if k in d}


def test_two_platforms_experiment_runs_small():
    cfg = _compose(("platforms.0.graph.n=1500", "platforms.1.graph.n=800", "scenario.illegal_posts=10"))
    assert [p["name"] for p in cfg["platforms"]] == ["big", "small"]
    assert "graph" not in cfg and "policy" not in cfg
    r = simulate_platforms(cfg, seed=0)
    assert r.summary["big.posts"] >= 10 and r.summary["posts"] >= 10
    assert len(r.accounts[("big", "small")]) == round(cfg["cross_posting"]["overlap"] * 1500)


def test_two_platforms_through_the_cli(tmp_path):
    """`spreadsim experiment=two_platforms` runs several platforms and writes tables with a
    platform column."""
    import subprocess
    import sys

    from spreadsim.outputs.io import read_table

    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=two_platforms",
                          "seeds=2", "platforms.0.graph.n=1500", "platforms.1.graph.n=800",
                          "scenario.illegal_posts=6", f"hydra.run.dir={out}"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    posts = read_table(out / "posts")
    assert set(posts["platform"].tolist()) <= {"big", "small"} and "big" in posts["platform"]
    runs = read_table(out / "runs")
    assert runs["seed"].tolist() == [0, 1] and "big.reach_total" in runs
    bad = subprocess.run([sys.executable, "-m", "spreadsim.app.cli", "experiment=two_platforms",
                          "seeds=2", "baseline=true", f"hydra.run.dir={tmp_path / 'bad'}"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("spreadsim: error: baseline")


def test_graph_seed_streams_differ_per_platform():
    """Unpinned graphs of the same kind are drawn from each platform's own stream."""
    cfg = _good()
    unpinned = {"kind": "barabasi_albert", "n": 50, "m": 2, "seed": None}
    cfg["platforms"][0]["graph"] = cfg["platforms"][1]["graph"] = unpinned
    sim = MultiSimulation(MultiConfig.from_dict(cfg), 0)
    a, b = (s.graph for s in sim.sims)
    assert not np.array_equal(a.indices, b.indices)
    # the first platform's graph is the single-platform one (stream "graph")
    single = simulate(config(policy=None) | {"graph": unpinned}, seed=0)
    assert single.summary["posts"] == 1
    from spreadsim.graphs import graph_seed
    g0 = build_graph(unpinned, graph_seed(unpinned, 0))
    np.testing.assert_array_equal(g0.indices, a.indices)
