"""One self-contained HTML report per sweep (``report.html``).

The report holds, in one file that opens in a browser without a network: the configuration
(YAML), the summary table, every plot (PNG embedded as base64 ``data:`` URIs, or SVG inline), the
versions of spreadsim and of the libraries the numbers depend on, the seeds, and which path
computed the results (the exact deadline path or simulation). No script, style sheet, font or
image is loaded from anywhere else.
"""

from __future__ import annotations

import base64
import html
import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from spreadsim.outputs.io import atomic_write_bytes, canonical

__all__ = ["versions", "config_yaml", "render_report", "write_report", "SECTIONS"]

SECTIONS = ("summary", "plots", "config", "seeds", "path", "versions")
_PACKAGES = ("spreadsim", "numpy", "networkx", "simpy", "hydra-core", "numba", "scipy", "pyarrow",
             "matplotlib")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em;
text-align:right}th{background:#f3f3f3}td.s{text-align:left}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
"""


#: strings YAML 1.1 reads as booleans: written quoted, as OmegaConf writes them
_YAML_BOOLS = frozenset(("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True",
                         "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"))


def _reads_as_number(text: str) -> bool:
    for kind in (int, float):
        try:
            kind(text)
            return True
        except ValueError:
            pass
    return False


class _ConfigDumper(yaml.Dumper):
    """YAML's dumper, with a string that would read back as a boolean or a number quoted."""


def _represent_str(dumper: yaml.Dumper, data: str) -> yaml.ScalarNode:
    quoted = data in _YAML_BOOLS or _reads_as_number(data)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'" if quoted else None)


_ConfigDumper.add_representer(str, _represent_str)


def config_yaml(config: Any) -> str:
    """A configuration (plain containers) as YAML text for a report, without Hydra: the text
    ``OmegaConf.to_yaml`` gives for it (key order kept, infinities as ``'inf'``).

    Parameters
    ----------
    config : mapping
        The configuration as plain containers.

    Returns
    -------
    str
    """
    return yaml.dump(canonical(config), Dumper=_ConfigDumper, default_flow_style=False,
                     allow_unicode=True, sort_keys=False)


def versions() -> dict[str, str]:
    """Versions of Python, spreadsim and the libraries its results depend on.

    Returns
    -------
    dict of str to str
        ``python`` plus one entry per installed package (``-`` when absent).
    """
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def _cell(v: Any) -> tuple[str, bool]:
    if isinstance(v, float | np.floating):
        f = float(v)
        if math.isnan(f):
            return "-", False
        if math.isinf(f):
            return ("never" if f > 0 else "-inf"), False
        return f"{f:.4g}", False
    if isinstance(v, bool | np.bool_):
        return str(bool(v)).lower(), True
    if isinstance(v, int | np.integer):
        return str(int(v)), False
    return str(v), True


def _table(columns: Mapping[str, np.ndarray]) -> str:
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    rows = ["<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in names) + "</tr>"]
    for i in range(n):
        cells = []
        for c in names:
            text, is_str = _cell(columns[c][i])
            cls = ' class="s"' if is_str else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _figure(path: Path) -> str:
    caption = html.escape(path.stem.replace("_", " "))
    if path.suffix == ".svg":
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"<\?xml[^>]*\?>", "", text)
        text = re.sub(r"<!DOCTYPE[^>]*>", "", text)
        # links inside matplotlib's SVG are internal (href="#id")
        body = text.strip()
    else:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body = f'<img alt="{caption}" src="data:image/png;base64,{data}">'
    return f'<figure id="plot-{html.escape(path.stem)}">{body}<figcaption>{caption}</figcaption></figure>'


def render_report(*, title: str, config_text: str, summary: Mapping[str, np.ndarray],
                  plots: Sequence[str | os.PathLike[str]], seeds: Sequence[int],
                  paths: Mapping[str, int], answer: str | None = None,
                  versions_: Mapping[str, str] | None = None) -> str:
    """The report as an HTML string.

    Parameters
    ----------
    title : str
        Heading (e.g. the sweep folder).
    config_text : str
        The configuration as YAML (plus the sweep's overrides).
    summary : mapping of str to numpy.ndarray
        The summary table (one row per sweep point).
    plots : sequence of path-like
        PNG files (embedded as base64) or SVG files (inlined).
    seeds : sequence of int
        The paired seeds.
    paths : mapping of str to int
        How many runs each path computed (``deadline``, ``simulated``).
    answer : str, optional
        A one-line answer (SLA calibration) shown above the summary.
    versions_ : mapping, optional
        Package versions; :func:`versions` if omitted.

    Returns
    -------
    str
    """
    v = dict(versions_ or versions())
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    if answer:
        parts.append(f'<p id="answer"><strong>{html.escape(answer)}</strong></p>')
    parts.append('<section id="summary"><h2>Summary</h2>')
    parts.append(_table(summary))
    parts.append("</section>")
    parts.append('<section id="plots"><h2>Plots</h2>')
    parts.extend(_figure(Path(p)) for p in plots)
    parts.append("</section>")
    parts.append('<section id="config"><h2>Configuration</h2>')
    parts.append(f"<pre>{html.escape(config_text)}</pre></section>")
    s = sorted(int(x) for x in seeds)
    contiguous = bool(s) and s == list(range(s[0], s[-1] + 1))
    seed_text = (f"{len(s)} paired seeds: {s[0]} to {s[-1]}" if contiguous and len(s) > 1
                 else f"{len(s)} paired seed(s): {', '.join(map(str, s))}")
    parts.append(f'<section id="seeds"><h2>Seeds</h2><p>{html.escape(seed_text)} '
                 "(the same at every sweep point).</p></section>")
    path_rows = {"path": np.array(list(paths), dtype=object),
                 "runs": np.array(list(paths.values()), dtype=np.int64)}
    parts.append('<section id="path"><h2>Path</h2><p>deadline: exact results read off one traced '
                 "unmoderated run per seed (pure deadline policies, cascade semantics); simulated: "
                 "every run simulated with its policies.</p>")
    parts.append(_table(path_rows) + "</section>")
    ver_rows = {"package": np.array(list(v), dtype=object), "version": np.array(list(v.values()), dtype=object)}
    parts.append('<section id="versions"><h2>Versions</h2>' + _table(ver_rows) + "</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`render_report` output to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        The HTML file.
    **kwargs
        As for :func:`render_report`.

    Returns
    -------
    Path
    """
    text = render_report(**kwargs)
    atomic_write_bytes(path, text.encode("utf-8"))
    return Path(path)
