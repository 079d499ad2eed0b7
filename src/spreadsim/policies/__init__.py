"""Removal policies: one class each, chosen by the ``name`` of a ``policy`` config section.

Owns the policy classes (:mod:`.base`: the hooks and pre-decided deadlines; :mod:`.review`: the
shared review queue; :mod:`.notice`: notice and takedown; :mod:`.escalation`: authority referrals
and the circuit breaker; :mod:`.detection`; :mod:`.reappearance`) and the registry that maps a
config's ``name`` to its class. Their parameters, defaults and checks are the sections of
:mod:`spreadsim.schema.policies`, one per policy. May import :mod:`spreadsim.engine`,
:mod:`spreadsim.schema` and the base modules (:mod:`spreadsim.errors`, :mod:`spreadsim.dists`);
imports nothing above them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spreadsim.policies.base import (
    FixedLatency,
    LatencyDistribution,
    NoPolicy,
    Policy,
    PreDecidedRemoval,
    check_stack,
    post_uniform,
)
from spreadsim.policies.detection import AutomatedDetection
from spreadsim.policies.escalation import AuthorityReferral, CircuitBreaker
from spreadsim.policies.notice import NoticeAndTakedown
from spreadsim.policies.reappearance import AccountStrikes, HashMatching, Reupload
from spreadsim.schema.checks import choice, mapping, require

#: every policy a config can name, by its ``name``
POLICIES: dict[str, type[Policy]] = {cls.name: cls for cls in (
    NoPolicy, FixedLatency, LatencyDistribution, NoticeAndTakedown, AuthorityReferral, CircuitBreaker,
    AutomatedDetection, Reupload, HashMatching, AccountStrikes)}


def make_policy(cfg: Mapping[str, Any], field: str = "policy") -> Policy:
    """Build a policy from its config section (``name`` selects the class)."""
    cfg = mapping(field, cfg)
    name = choice(f"{field}.name", require(field, cfg, "name"), sorted(POLICIES), "policy")
    return POLICIES[name](cfg, field)


def make_policies(sections: Any) -> list[Policy]:
    """The policy stack of a config: one policy per section, named ``policy`` or ``policy[i]``."""
    n = len(sections)
    return [make_policy(p, "policy" if n == 1 else f"policy[{i}]") for i, p in enumerate(sections)]


__all__ = ["POLICIES", "Policy", "PreDecidedRemoval", "make_policy", "make_policies", "check_stack",
           "post_uniform"]
