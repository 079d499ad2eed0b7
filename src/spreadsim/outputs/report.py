"""One self-contained HTML report per sweep (``report.html``).

The report holds, in one file that opens in a browser without a network: the configuration
(YAML), the summary table, every plot (PNG embedded as base64 ``data:`` URIs, or SVG inline), the
versions of spreadsim and of the libraries the numbers depend on, the seeds, and which path
computed the results (the exact deadline path or simulation). No script, style sheet, font or
image is loaded from anywhere else.

:func:`render_page` is the general page (the answer first, then tables, figures and text, then the
versions) that the sweep's report (:func:`render_report`) and the fitting commands' reports
(``spreadsim fit``, ``spreadsim dsa-delays``) are made of.
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

__all__ = ["versions", "config_yaml", "render_page", "write_page", "html_section", "html_table", "html_figure",
           "render_report", "write_report", "SECTIONS", "GLOSSARY"]

SECTIONS = ("answer", "summary", "plots", "config", "seeds", "path", "versions")
#: the output glossary (every column of every table): the documentation page, by its name in the repository
GLOSSARY = "docs/reference/glossary.md"
_PACKAGES = ("spreadsim", "numpy", "networkx", "simpy", "hydra-core", "numba", "scipy", "pyarrow",
             "matplotlib")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.45em;line-height:1.3;margin:.2em 0 .4em}
h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
p.experiment{margin:0;color:#555;font-size:.9em;text-transform:uppercase;letter-spacing:.04em}
p.question{margin:.2em 0;color:#333}ul.details{margin:.3em 0 .6em;padding-left:1.2em}
p.meta{font-size:.85em;color:#555}p.meta code{font-size:.95em;overflow-wrap:anywhere}
div.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em;
text-align:right}th{background:#f3f3f3;vertical-align:bottom}td.s{text-align:left}
th .unit{display:block;font-weight:normal;color:#666;font-size:.9em}
th.swept,td.swept{background:#fff6d6}th.swept{background:#f5e6b0}
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


def _table(columns: Mapping[str, np.ndarray], *, swept: Sequence[str] = (),
           units: Mapping[str, str] | None = None,
           meanings: Mapping[str, str] | None = None) -> str:
    """An HTML table in a horizontally scrolling box (it never widens the page); the ``swept``
    columns marked as swept, a unit under each header that ``units`` gives one and its meaning
    as the header's tooltip."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    units, meanings = units or {}, meanings or {}
    head = []
    for c in names:
        cls = ' class="swept"' if c in swept else ""
        if meanings.get(c):
            cls += f' title="{html.escape(meanings[c])}"'
        label = html.escape(c) + (" (swept)" if c in swept else "")
        unit = f'<span class="unit">{html.escape(units[c])}</span>' if units.get(c) else ""
        head.append(f"<th{cls}>{label}{unit}</th>")
    rows = ["<tr>" + "".join(head) + "</tr>"]
    for i in range(n):
        cells = []
        for c in names:
            text, is_str = _cell(columns[c][i])
            classes = " ".join(k for k, on in (("s", is_str), ("swept", c in swept)) if on)
            cls = f' class="{classes}"' if classes else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<div class="scroll"><table>\n' + "\n".join(rows) + "\n</table></div>"


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


def html_table(columns: Mapping[str, np.ndarray], *, swept: Sequence[str] = (),
               units: Mapping[str, str] | None = None, meanings: Mapping[str, str] | None = None) -> str:
    """A table (columns of equal length) as HTML in a horizontally scrolling box: the ``swept``
    columns marked, a unit under each header that ``units`` gives one, a meaning as its tooltip."""
    return _table(columns, swept=swept, units=units, meanings=meanings)


def html_figure(path: str | os.PathLike[str]) -> str:
    """A figure for a page: a PNG embedded as a base64 ``data:`` URI, or an SVG inlined."""
    return _figure(Path(path))


def html_section(heading: str, content: str, *, id: str | None = None) -> str:
    """A section of a page: a heading and its HTML ``content``."""
    ident = f' id="{html.escape(id)}"' if id else ""
    return f"<section{ident}><h2>{html.escape(heading)}</h2>{content}</section>"


def render_page(*, heading: str, body: Sequence[str] = (), title: str | None = None,
                label: str | None = None, question: str | None = None, details: Sequence[str] = (),
                meta: Mapping[str, str] | Sequence[tuple[str, str]] = (),
                versions_: Mapping[str, str] | None = None) -> str:
    """A self-contained HTML page that opens with the answer.

    The header holds ``label`` (small capitals), ``heading`` (the answer, the first heading),
    the question, further figures (``details``, one line each) and one line of ``meta`` (the
    command, the date, the version, ...); the ``body`` blocks follow in order, then the versions.
    Nothing is loaded from outside the page.

    Parameters
    ----------
    heading : str
        The answer in one sentence.
    body : sequence of str
        HTML blocks (:func:`html_section` of :func:`html_table`, :func:`html_figure`, ...).
    title : str, optional
        The page's title (default: ``heading``).
    label : str, optional
        What the page is (``Experiment latency_sweep``), above the heading.
    question : str, optional
        The question answered.
    details : sequence of str
        Further figures of the answer.
    meta : mapping or sequence of (str, str)
        ``command`` (shown as code), ``date``, ``version``, ...: shown in this order, empty
        values left out.
    versions_ : mapping, optional
        Package versions; :func:`versions` if omitted.

    Returns
    -------
    str
    """
    v = dict(versions_ or versions())
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title or heading)}</title><style>{_CSS}</style></head><body>",
             '<header id="answer">']
    if label:
        parts.append(f'<p class="experiment">{html.escape(label)}</p>')
    parts.append(f"<h1>{html.escape(heading)}</h1>")
    if question:
        parts.append(f'<p class="question"><strong>Question:</strong> {html.escape(question)}</p>')
    if details:
        parts.append('<ul class="details">' + "".join(f"<li>{html.escape(d)}</li>" for d in details)
                     + "</ul>")
    info = [(k, str(val)) for k, val in (meta.items() if isinstance(meta, Mapping) else meta) if val]
    if info:
        cells = [f"{html.escape(k)}: <code>{html.escape(val)}</code>" if k == "command"
                 else f"{html.escape(k)}: {html.escape(val)}" for k, val in info]
        parts.append('<p class="meta">' + " &middot; ".join(cells) + "</p>")
    parts.append("</header>")
    parts.extend(body)
    ver_rows = {"package": np.array(list(v), dtype=object), "version": np.array(list(v.values()), dtype=object)}
    parts.append(html_section("Versions", _table(ver_rows), id="versions"))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_page(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`render_page` output to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        The HTML file.
    **kwargs
        As for :func:`render_page`.

    Returns
    -------
    Path
    """
    atomic_write_bytes(path, render_page(**kwargs).encode("utf-8"))
    return Path(path)


def render_report(*, title: str, config_text: str, summary: Mapping[str, np.ndarray],
                  plots: Sequence[str | os.PathLike[str]], seeds: Sequence[int],
                  paths: Mapping[str, int], answer: str | None = None,
                  versions_: Mapping[str, str] | None = None, experiment: str | None = None,
                  question: str | None = None, details: Sequence[str] = (),
                  meta: Mapping[str, str] | None = None,
                  tables: Sequence[tuple[str, Mapping[str, np.ndarray]]] = (),
                  swept: Sequence[str] = (), units: Mapping[str, str] | None = None,
                  meanings: Mapping[str, str] | None = None,
                  glossary: str | None = GLOSSARY) -> str:
    """The report as an HTML string.

    It opens with the answer: the experiment's name, then the one-sentence answer as the first
    heading (the page's title is both), the question, further figures, and one line with the
    command, the date, the version and the graph (``meta``). The summary table follows (swept
    columns marked, units under the headers, the output glossary named), then the plots, the
    configuration, the seeds, the path and the versions.

    Parameters
    ----------
    title : str
        What the report is about when there is no answer (e.g. the sweep folder); shown in the
        meta line otherwise.
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
        The one-sentence answer: the first heading.
    versions_ : mapping, optional
        Package versions; :func:`versions` if omitted.
    experiment : str, optional
        The experiment's name (``latency_sweep``).
    question : str, optional
        The question the experiment asks.
    details : sequence of str
        Further figures of the answer, one line each.
    meta : mapping of str to str, optional
        ``command``, ``date``, ``version``, ``graph`` (any subset), shown in this order.
    tables : sequence of (str, table)
        Tables that belong to the answer (a heading and its table), shown before the summary.
    swept : sequence of str
        The summary's swept columns (marked as swept).
    units : mapping of str to str, optional
        A unit per summary column, shown under its header (:mod:`spreadsim.outputs.glossary`).
    meanings : mapping of str to str, optional
        A sentence per summary column, the header's tooltip.
    glossary : str, optional
        The output glossary's page in the documentation, named above the summary (not linked:
        the report refers to nothing outside itself).

    Returns
    -------
    str
    """
    exp = experiment or ""
    info = [(k, str(val)) for k, val in (meta or {}).items() if val]
    if answer and title:
        info.append(("output", title))
    parts = [f"<section><h2>{html.escape(heading)}</h2>{_table(table)}</section>" for heading, table in tables]
    parts.append('<section id="summary"><h2>Summary</h2>')
    if glossary:
        parts.append("<p>Every column is explained in the output glossary, "
                     f"<code>{html.escape(glossary)}</code> in spreadsim's documentation (the "
                     "report links nothing outside itself).</p>")
    parts.append(_table(summary, swept=swept, units=units, meanings=meanings))
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
    return render_page(heading=answer or title, body=parts,
                       title=f"{exp}: {answer}" if exp and answer else answer or title,
                       label=f"Experiment {exp}" if exp else None, question=question, details=details,
                       meta=info, versions_=versions_)


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
