"""Which schema section each generated file of ``conf/`` is written from."""

from __future__ import annotations

from spreadsim.schema.graphs import GRAPH_KINDS
from spreadsim.schema.model import ScenarioConfig, SpreadConfig
from spreadsim.schema.policies import POLICY_PARAMS


def generated_sections() -> dict[str, type]:
    """``conf``-relative path -> the schema section whose defaults that file holds."""
    sections: dict[str, type] = {"spread/default.yaml": SpreadConfig, "scenario/default.yaml": ScenarioConfig}
    sections.update({f"policy/{name}.yaml": cls for name, cls in POLICY_PARAMS.items()})
    sections.update({f"graph/{kind}.yaml": cls for kind, cls in GRAPH_KINDS.items()})
    return sections
