"""The YAML files of ``conf/`` written from the schema: a section's defaults with its descriptions.

``conf/<group>/<name>.yaml`` for the default spread and scenario, every graph kind and every policy
is generated here, so a default lives in the schema alone; a test fails when a file drifts.
Regenerate them after changing the schema with::

    python -m spreadsim.schema.yaml conf
"""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spreadsim.schema.catalog import generated_sections
from spreadsim.schema.fields import Section, describe

HEADER = "# Generated from the schema (spreadsim.schema); edit the schema and run\n" \
         "#   python -m spreadsim.schema.yaml conf\n"


def scalar(value: Any) -> str:
    """A value in YAML's flow style (``.inf``, ``null``, ``{a: 1}``, ``[1, 2]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        plain = value and value == value.strip() and not any(c in value for c in ":#{}[],&*!|>'\"%@`") \
            and value.lower() not in ("null", "true", "false", "yes", "no", "on", "off", ".inf", "inf")
        try:
            float(value)
            plain = False
        except ValueError:
            pass
        return value if plain else "'" + value.replace("'", "''") + "'"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    raise TypeError(f"no YAML form for {value!r}")


def section_yaml(cls: type, comment: str | None = None) -> str:
    """The YAML file of one section: ``comment`` (default: the class docstring) as a header, then
    one line per field, ``key: default  # description``."""
    doc = comment if comment is not None else (cls.__doc__ or "").strip()
    lines = [HEADER.rstrip("\n")]
    for para in doc.split("\n\n"):
        text = " ".join(para.split())
        lines += ["# " + row for row in textwrap.wrap(text, 98)]
    infos = describe(cls)
    entries = []
    for i in infos:
        nested = isinstance(i.default, Mapping) and any(isinstance(v, Mapping) for v in i.default.values())
        if isinstance(i.check, Section) and isinstance(i.default, Mapping):  # one line per field
            helps = {sub.name: sub.help for sub in describe(i.check.cls)}
            entries.append((f"{i.name}:", i.help))
            entries += [(f"  {k}: {scalar(v)}", helps.get(k, "")) for k, v in i.default.items()]
        elif nested:  # a mapping of mappings: one line per key
            entries.append((f"{i.name}:", i.help))
            entries += [(f"  {k}: {scalar(v)}", "") for k, v in i.default.items()]
        else:
            entries.append((f"{i.name}: {scalar(i.default)}", i.help))
    width = max(len(e) for e, _ in entries)
    lines += [f"{e:<{width}}  # {h}" if h else e for e, h in entries]
    return "\n".join(lines) + "\n"


def conf_files() -> dict[str, str]:
    """Every generated file of ``conf/``: relative path -> text."""
    return {path: section_yaml(cls) for path, cls in generated_sections().items()}


def write_conf(conf_dir: str | Path) -> list[Path]:
    """Write the generated files into ``conf_dir``; returns the files that changed."""
    changed = []
    for rel, text in conf_files().items():
        p = Path(conf_dir) / rel
        if not p.exists() or p.read_text() != text:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            changed.append(p)
    return changed


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    for p in write_conf(sys.argv[1] if len(sys.argv) > 1 else "conf"):
        print(f"wrote {p}")
