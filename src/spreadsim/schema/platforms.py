"""The sections of a multi-platform run: each platform (name, graph, policy), cross-posting between
platforms and the shared hash database.

A multi-platform config holds the keys :data:`MULTI_KEYS`: ``platforms`` (a non-empty list of
:class:`PlatformSection`), the shared ``spread`` and ``scenario`` (as for one platform),
``cross_posting`` (:class:`CrossPosting`), ``hash_sharing`` (:class:`HashSharing`, or null: every
platform's hash database is private) and ``max_events``. The model these sections configure is
described in :mod:`spreadsim.runs.platforms`; a platform's graph and policies are checked against
their own schema when the run is configured (:mod:`spreadsim.runs.multiconfig`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spreadsim.dists import Duration
from spreadsim.errors import ConfigError
from spreadsim.schema.config import complete_graph, policy_stack
from spreadsim.schema.fields import REQUIRED, Custom, Hours, Probability, param
from spreadsim.schema.values import DURATION

#: the keys of a multi-platform config (used instead of ``graph`` and ``policy``)
MULTI_KEYS = ("platforms", "spread", "scenario", "cross_posting", "hash_sharing", "max_events")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

__all__ = ["MULTI_KEYS", "PlatformSection", "CrossPosting", "HashSharing"]


def _name(path: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(path, value, "must be a name of letters, digits, '_' and '-', starting with a letter")
    return value


def _graph(path: str, value: Any) -> Mapping[str, Any]:
    return complete_graph(value, path)


@dataclass(frozen=True)
class PlatformSection:
    """One platform: its name, its social graph and its policy stack (``platforms[i]``)."""

    name: str = param(REQUIRED, "the platform's name, unique in the run (its tables' platform column)",
                      Custom(_name, "a name of letters, digits, '_' and '-', starting with a letter"))
    graph: Mapping[str, Any] = param(REQUIRED, "the platform's social graph (a graph section: kind and "
                                     "its parameters)", Custom(_graph, "a graph mapping"))
    policy: tuple[Mapping[str, Any], ...] = param(
        None, "the platform's removal policy, a list of them (a stack), or null (none)",
        Custom(policy_stack, "null, a policy mapping or a list of them"))


@dataclass(frozen=True)
class CrossPosting:
    """Users with accounts on two platforms, and how often they re-post there (``cross_posting``)."""

    overlap: float = param(0.0, "for platforms A before B: the share of A's users who also have an "
                           "account on B", Probability())
    prob: float = param(0.0, "probability that a user who reshares a post uploads it on their other "
                        "platforms", Probability())
    delay: Duration = param(0.0, "delay from the reshare to the cross-post (hours, or a duration "
                            "distribution)", DURATION)


@dataclass(frozen=True)
class HashSharing:
    """One hash database shared by every platform (``hash_sharing``)."""

    sync_delay_h: float = param(0.0, "delay until a removal on one platform enters the other "
                                "platforms' hash databases", Hours(allow_inf=True))
