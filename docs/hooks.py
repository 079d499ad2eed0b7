"""MkDocs hooks: the pages generated at build time, so that they cannot drift from the code.

A page holds a marker comment where generated text goes (``<!-- spreadsim:NAME -->``):

* ``config-reference``: every configurable section of the schema (``spreadsim.schema``: the catalog of
  generated files, the job settings, several platforms, calibration), one table per section with
  each field's default, what is allowed and its description (``describe``, the ``param`` help);
* ``glossary``: every output column, from ``spreadsim.outputs.glossary``;
* ``experiments``: every ``conf/experiment/*.yaml``, its question from the file's comment and its YAML;
* ``tutorial``: ``docs/tutorial.ipynb``, executed with nbclient (its outputs are shown), unless the
  environment sets ``SPREADSIM_DOCS_EXECUTE=0`` (then its stored outputs, if any).

Registered in ``mkdocs.yml`` (``hooks: [docs/hooks.py]``). An error here fails the build.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*spreadsim:([a-z-]+)\s*-->")


# --------------------------------------------------------------------------- helpers


def _cell(text: Any) -> str:
    """Text for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


# --------------------------------------------------------------------------- config reference


def _field_rows(cls: type, prefix: str = "") -> list[list[str]]:
    from spreadsim.schema.fields import Optional, Section, describe
    from spreadsim.schema.yaml import scalar

    rows = []
    for f in describe(cls):
        key = f"{prefix}{f.name}"
        default = "required" if f.required else _code(scalar(f.default))
        rows.append([_code(key), default, f.check.text(), f.help])
        inner = f.check.inner if isinstance(f.check, Optional) else f.check
        if isinstance(inner, Section):
            rows += _field_rows(inner.cls, f"{key}.")
    return rows


def _section(title: str, cls: type, path: str, note: str = "") -> str:
    from spreadsim.schema.fields import describe

    out = [f"### {title}\n", f"`{path}`: {_doc(cls)}" + (f" {note}" if note else "") + "\n"]
    if describe(cls):
        out.append(_table(["key", "default", "allowed", "meaning"], _field_rows(cls)))
    else:
        out.append("No parameters.\n")
    return "\n".join(out)


def config_reference() -> str:
    from spreadsim.schema.catalog import generated_sections
    from spreadsim.schema.config import Limits
    from spreadsim.schema.model import (
        CATEGORIES,
        CalibrationSettings,
        CategoryFields,  # the fields of one scenario category
        RunSettings,
    )
    from spreadsim.schema.platforms import CrossPosting, HashSharing, PlatformSection
    from spreadsim.schema.values import DECAY, DURATION, KERNEL

    sections = generated_sections()
    parts = ["## Job settings\n", _section("Seeds, baseline and outputs", RunSettings, "(top level)"),
             _section("Guards", Limits, "(top level)")]
    parts += ["## Spread and scenario\n",
              _section("Spread", sections["spread/default.yaml"], "spread", "File: `conf/spread/default.yaml`."),
              _section("Scenario", sections["scenario/default.yaml"], "scenario",
                       "File: `conf/scenario/default.yaml`."),
              _section("A content category", CategoryFields, "scenario.categories.<category>",
                       "Categories: " + ", ".join(f"`{c}`" for c in CATEGORIES) + "."),
              "### Composite values\n",
              _table(["value", "allowed"], [["feed-delay kernel (`spread.kernel`)", KERNEL.text()],
                                            ["attention decay (`spread.decay`, a category's `decay`)",
                                             DECAY.text()],
                                            ["random duration (review times, delays)", DURATION.text()]])]
    parts.append("## Graphs\n\nChoose one with `graph=<kind>` on the command line or "
                 "`{\"graph\": {\"kind\": ...}}` from Python.\n")
    for name, cls in sections.items():
        if name.startswith("graph/"):
            kind = Path(name).stem
            parts.append(_section(f"`{kind}`", cls, "graph", f"File: `conf/{name}`."))
    parts.append("## Policies\n\nChoose one with `policy=<name>`, or stack several as a list "
                 "(`policy: [{name: ...}, {name: ...}]`; `notice_and_takedown` first when others "
                 "use its review queue). Their statistics are the `policy<i>_<name>_...` columns "
                 "of the [output glossary](glossary.md).\n")
    for name, cls in sections.items():
        if name.startswith("policy/"):
            pol = Path(name).stem
            parts.append(_section(f"`{pol}`", cls, "policy", f"File: `conf/{name}`."))
    parts += ["## Several platforms\n",
              "A config with `platforms:` (a list) instead of `graph`/`policy` runs several platforms "
              "in one world (`conf/experiment/two_platforms.yaml`).\n",
              _section("A platform", PlatformSection, "platforms[i]"),
              _section("Cross-posting", CrossPosting, "cross_posting"),
              _section("Shared hashes", HashSharing, "hash_sharing"),
              "## SLA calibration\n",
              _section("Calibration", CalibrationSettings, "calibration",
                       "Run with `experiment=sla_calibration`.")]
    known = {n for n in sections if not n.startswith(("graph/", "policy/"))}
    missing = known - {"spread/default.yaml", "scenario/default.yaml"}
    if missing:  # a new generated file needs a place on this page
        raise RuntimeError(f"docs/hooks.py: no place in the reference for {sorted(missing)}")
    return "\n".join(parts)


# --------------------------------------------------------------------------- glossary


def glossary() -> str:
    from spreadsim.outputs.glossary import TABLES, entries

    parts = []
    for table, what in TABLES.items():
        rows = [[_code(c.name), c.unit, c.meaning, c.when] for c in entries(table)]
        parts += [f"## `{table}`\n", f"{what[0].upper()}{what[1:]}.\n",
                  _table(["column", "unit", "meaning", "written when"], rows)]
    return "\n".join(parts)


# --------------------------------------------------------------------------- experiments

_LABEL = re.compile(r"^(Question|Model|Measured|Run|Read|Output|Study|Target|Every|One|Swept|"
                    r"Compare|An upper bound)\b")


def _comment_markdown(lines: list[str]) -> str:
    """An experiment's header comment as Markdown: paragraphs at labels, indented commands as code."""
    paras: list[str] = []
    code: list[str] = []
    for raw in lines:
        text = raw[1:] if raw.startswith("#") else raw
        text = text[1:] if text.startswith(" ") else text
        if text.startswith("  "):  # an indented command
            code.append(text.strip())
            continue
        if code:
            paras.append("```bash\n" + "\n".join(code) + "\n```")
            code = []
        if not paras or _LABEL.match(text) or paras[-1].startswith("```"):
            paras.append(text.strip())
        else:
            paras[-1] += " " + text.strip()
    if code:
        paras.append("```bash\n" + "\n".join(code) + "\n```")
    return "\n\n".join(paras) + "\n"


def experiments() -> str:
    parts = []
    for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml")):
        text = path.read_text()
        lines = text.splitlines()
        head = []
        for ln in lines:
            if not ln.startswith("#"):
                break
            if "@package" not in ln:
                head.append(ln)
        body = "\n".join(lines[len(head) + 1:]).strip("\n")
        parts += [f"## `{path.stem}`\n", _comment_markdown(head),
                  f"`spreadsim experiment={path.stem}`\n",
                  f'??? note "conf/experiment/{path.name}"\n\n    ```yaml\n'
                  + "\n".join(f"    {ln}" for ln in body.splitlines()) + "\n    ```\n"]
    return "\n".join(parts)


# --------------------------------------------------------------------------- tutorial


def _outputs_markdown(outputs: list[Mapping[str, Any]]) -> str:
    out = []
    for o in outputs:
        kind = o.get("output_type")
        if kind == "stream":
            out.append("```text\n" + "".join(o["text"]).rstrip("\n") + "\n```")
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {})
            if "image/png" in data:
                png = data["image/png"]
                png = png if isinstance(png, str) else "".join(png)
                base64.b64decode(png, validate=False)
                out.append(f'<img alt="output" src="data:image/png;base64,{png.strip()}"/>')
            elif "text/html" in data:
                out.append("<div class=\"nb-output\">\n" + "".join(data["text/html"]) + "\n</div>")
            elif "text/plain" in data:
                out.append("```text\n" + "".join(data["text/plain"]).rstrip("\n") + "\n```")
        elif kind == "error":
            raise RuntimeError(f"docs/tutorial.ipynb: a cell failed: {o.get('ename')}: {o.get('evalue')}")
    return "\n\n".join(out)


def tutorial() -> str:
    import nbformat

    path = ROOT / "docs" / "tutorial.ipynb"
    nb = nbformat.read(path, as_version=4)
    if os.environ.get("SPREADSIM_DOCS_EXECUTE", "1") != "0":
        from nbclient import NotebookClient

        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    parts = ["[Download the notebook](tutorial.ipynb) and run it with Jupyter, or execute it with "
             "`pytest --nbmake docs/tutorial.ipynb`.\n"]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        elif cell.cell_type == "code":
            parts.append("```python\n" + cell.source.rstrip("\n") + "\n```")
            if cell.get("outputs"):
                parts.append(_outputs_markdown(cell.outputs))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- the hook

GENERATORS = {"config-reference": config_reference, "glossary": glossary, "experiments": experiments,
              "tutorial": tutorial}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each marker with its generated text."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in GENERATORS:
            raise RuntimeError(f"{page.file.src_path}: unknown generated section {name!r}")
        return GENERATORS[name]()

    return MARKER.sub(fill, markdown)
