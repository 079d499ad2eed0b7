"""The static export: the page as one self-contained HTML file with a precomputed grid.

``spreadsim app --export FILE.html [--grid KEY=V1,V2,... ...]`` evaluates every combination of
one to three levers (default: removal latency x removal probability of the fixed deadline) with
the server's own code (:class:`~spreadsim.web.compute.Evaluator`), and writes the page's HTML
with its script and style sheet inlined and the results embedded as JSON. Its sliders move over
the grid and the same script draws the same figures, with no server and no network (the file's
content security policy forbids any request): an analyst can e-mail it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from spreadsim.errors import ConfigError
from spreadsim.outputs.io import atomic_write_bytes
from spreadsim.version import __version__
from spreadsim.web.compute import Evaluator
from spreadsim.web.controls import LATENCY_GRID_H, controls, default_settings, finite_or_none, known_keys

__all__ = ["STATIC", "DEFAULT_GRID", "MAX_POINTS", "parse_grid", "export_html", "write_export"]

#: the page's assets (package data)
STATIC = Path(__file__).parent / "static"
#: the grid when none is given: latency x removal probability of the fixed deadline
DEFAULT_GRID: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("fixed_latency.latency_h", tuple(LATENCY_GRID_H)),
    ("fixed_latency.removal_prob", (0.25, 0.5, 0.75, 1.0)),
)
#: grid points at most (each one is a job of every seed)
MAX_POINTS = 500
#: the export's own policy: inline script and style only, no request to anywhere
EXPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
              "img-src data: blob:")
_CSS_TAG = '<link rel="stylesheet" href="/static/app.css">'
#: the page's scripts, in the order they load
SCRIPTS = ("figures.js", "app.js")
_JS_TAGS = "\n".join(f'<script src="/static/{name}" defer></script>' for name in SCRIPTS)


def parse_grid(pairs: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``KEY=V1,V2,...`` pairs (values read as YAML) as the grid's levers, 1 to 3 of them;
    :data:`DEFAULT_GRID` if none.

    Raises
    ------
    ConfigError
        A malformed pair, an unknown setting, a lever given twice, more than 3 levers or more
        than :data:`MAX_POINTS` points.
    """
    if not pairs:
        return [(k, list(v)) for k, v in DEFAULT_GRID]
    grid: list[tuple[str, list[Any]]] = []
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not text:
            raise ConfigError("--grid", pair, "must be KEY=V1,V2,..., e.g. fixed_latency.latency_h=0,1,6,24,inf")
        if key not in known_keys():
            raise ConfigError("--grid", key, "unknown setting of the page (see GET /api/controls)")
        if any(k == key for k, _ in grid):
            raise ConfigError("--grid", key, "given twice")
        values = []
        for part in text.split(","):
            try:
                v = yaml.safe_load(part)
            except yaml.YAMLError:
                raise ConfigError(key, part, "is not a YAML value") from None
            values.append(part.strip() if isinstance(v, str) else v)
        grid.append((key, values))
    if len(grid) > 3:
        raise ConfigError("--grid", len(grid), "at most 3 levers")
    points = math.prod(len(v) for _, v in grid)
    if points > MAX_POINTS:
        raise ConfigError("--grid", points, f"at most {MAX_POINTS} grid points")
    return grid


def _lever_controls(keys: Sequence[str]) -> dict[str, Any]:
    """The control of each grid lever, from the page's controls."""
    c = controls()
    specs = [s for p in (*c["deadline"]["policies"], *c["stack"]) for s in p["controls"]]
    specs += [s for k in c["graph"]["kinds"].values() for s in k]
    specs += c["scenario"]["controls"] + c["run"]["controls"]
    specs += [s for cat in c["scenario"]["categories"] for s in cat["controls"]]
    by_key = {s["key"]: s for s in specs}
    return {k: by_key.get(k, {"key": k, "label": k, "help": "", "kind": "yaml"}) for k in keys}


def export_html(data: Mapping[str, Any]) -> str:
    """The page's HTML with its script and style sheet inlined and ``data`` embedded."""
    html = (STATIC / "index.html").read_text()
    css = (STATIC / "app.css").read_text()
    js = "\n".join((STATIC / name).read_text() for name in SCRIPTS)
    blob = json.dumps(finite_or_none(data), separators=(",", ":"), allow_nan=False)
    blob = blob.replace("</", "<\\/")  # (JSON inside a script element)
    assert _CSS_TAG in html and _JS_TAGS in html and "</script" not in js
    csp = f'<meta http-equiv="Content-Security-Policy" content="{EXPORT_CSP}">'
    html = html.replace("<head>", f"<head>\n{csp}", 1)
    html = html.replace(_CSS_TAG, f"<style>\n{css}\n</style>")
    return html.replace(_JS_TAGS, f'<script id="spreadsim-export" type="application/json">{blob}</script>\n'
                        f"<script>\n{js}\n</script>")


def write_export(path: str | Path, ev: Evaluator, initial: Mapping[str, Any],
                 grid: Sequence[tuple[str, Sequence[Any]]]) -> int:
    """Evaluate every grid point on top of ``initial`` and write the self-contained page.

    Returns
    -------
    int
        The number of grid points.

    Raises
    ------
    ConfigError
        A grid point the schema refuses (its one-line message) or too large for the page.
    OSError
        The file cannot be written (nothing is left behind: it is written under a temporary
        name and renamed).
    """
    base = {**default_settings(), **initial}
    keys = [k for k, _ in grid]
    points = []
    for combo in itertools.product(*(v for _, v in grid)):
        points.append(ev.evaluate({**base, **dict(zip(keys, combo, strict=True))}))
    data = {"version": __version__, "settings": base,
            "grid": [{"key": k, "values": list(v)} for k, v in grid],
            "levers": _lever_controls(keys), "points": points}
    atomic_write_bytes(Path(path), export_html(data).encode())
    return len(points)
