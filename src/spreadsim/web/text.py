"""The page's words: the setting in a phrase (the label of the answer sentence, which
:func:`spreadsim.outputs.answer.answer` writes from the summary as the command line does), and the
command line and experiment file that reproduce the page's table.

The command line cannot spell a policy stack as overrides (``policy`` is a config group), so the
page's settings become an experiment file, ``whatif/experiment/whatif.yaml``, and the command
``spreadsim --config-dir whatif experiment=whatif`` runs it as one job (RUN mode), with the same
``summary`` and ``results`` tables as the page's downloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from spreadsim.outputs.answer import fmt_latency
from spreadsim.outputs.report import config_yaml

__all__ = ["CONFIG_DIR", "EXPERIMENT", "command_line", "experiment_yaml", "stack_words"]

#: the folder the experiment file goes into (``<CONFIG_DIR>/experiment/<EXPERIMENT>.yaml``)
CONFIG_DIR = "whatif"
EXPERIMENT = "whatif"


def command_line() -> str:
    """The command that runs the page's experiment file."""
    return f"spreadsim --config-dir {CONFIG_DIR} experiment={EXPERIMENT}"


def experiment_yaml(cfg: Mapping[str, Any]) -> str:
    """The page's job config as an experiment file the command line composes to the same job
    (the graph kind chosen and the default policy removed in its defaults list, one run)."""
    kind = cfg["graph"]["kind"]
    head = [
        "# @package _global_",
        "# The settings of spreadsim's what-if page (spreadsim app). Save this file as",
        f"# {CONFIG_DIR}/experiment/{EXPERIMENT}.yaml and run:",
        f"#   {command_line()}",
        "# It runs one job (every seed) and writes summary.csv and results.csv, the page's tables.",
        "defaults:",
        f"  - override /graph: {kind}",
        "  - override /policy: null",
    ]
    return "\n".join(head) + "\n" + config_yaml(dict(cfg)) + "hydra:\n  mode: RUN\n"


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * float(x):.0f}%"


def stack_words(policies: Sequence[Any]) -> str:
    """The policy stack in a phrase (``removal 6 h after upload, notice and takedown with 10
    moderators``), from the checked policies (:func:`spreadsim.schema.policies.parse_policy`:
    a latency sent as ``"1e1"`` reads 10 h, as the engine runs it); hours as the command line's
    answer writes them (:func:`spreadsim.outputs.answer.fmt_latency`)."""
    words = []
    for p in policies:
        name = p.name
        if name == "fixed_latency":
            when = "at upload" if p.latency_h == 0 else f"{fmt_latency(p.latency_h)} after upload"
            words.append("no removal (latency never)" if math.isinf(p.latency_h) else
                         f"removal {when}"
                         + ("" if p.removal_prob == 1 else f" of {_pct(p.removal_prob)} of the illegal posts"))
        elif name == "latency_distribution":
            words.append(f"a removal half-life of {fmt_latency(p.half_life_h)}"
                         + ("" if p.removal_prob == 1 else f" for {_pct(p.removal_prob)} of the illegal posts"))
        elif name == "notice_and_takedown":
            tf = p.trusted_flaggers.fraction
            words.append(f"notice and takedown with {p.moderators} moderators"
                         + (f" and {_pct(tf)} trusted flaggers" if tf > 0 else ""))
        elif name == "automated_detection":
            words.append(f"automated detection (recall {p.recall:g}, precision {p.precision:g})")
        elif name == "reupload":
            words.append(f"re-uploads (probability {p.reupload_prob:g})")
        elif name == "hash_matching":
            words.append(f"hash matching (recall {p.recall:g})")
    return ", ".join(words) if words else "no moderation"
