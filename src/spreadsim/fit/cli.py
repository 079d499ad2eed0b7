"""``spreadsim fit FILE ...``: fit observed cascades and write a spread config a sweep runs.

Prints the summary (every kernel's parameters with 95% intervals, AIC, the chosen kernel, the
goodness of fit) and writes, into ``--out`` (default: the current folder),
``fitted_<name>.txt`` (the summary), ``fitted_<name>.png`` (the figure), ``report.html`` (a
self-contained report that opens with the answer and embeds the figure) and the config groups
``spread/fitted_<name>.yaml``, ``scenario/fitted_<name>.yaml`` (the share probability for the
graph) and ``graph/fitted_<name>.yaml``, which run as::

    spreadsim hydra.searchpath=[file://<out>] graph=fitted_<name> spread=fitted_<name> scenario=fitted_<name>

Bad input: one line ``spreadsim: error: ...`` on stderr, exit status 2, nothing written. A file
that cannot be written: exit status 1, and none of the set is left (:func:`spreadsim.fit.files.publish`).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import yaml

from spreadsim.errors import EXIT_BAD_INPUT, EXIT_FAILED, ConfigError, DataError, OutputError
from spreadsim.fit.cascades import LEVEL, fit_cascades
from spreadsim.fit.files import error_status, publish
from spreadsim.fit.kernels import KERNELS
from spreadsim.fit.reader import LINK_MODES
from spreadsim.fit.report import png_bytes, report_page
from spreadsim.fit.spreadconfig import config_files, graph_section, sections
from spreadsim.outputs.layout import REPORT_FILE
from spreadsim.schema.model import CATEGORIES
from spreadsim.version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DataError(f"spreadsim fit: {message}".replace("\n", " "))


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spreadsim fit", description="Fit feed-delay kernels and the branching factor "
                "to observed cascades (docs/fitting.md) and write a spread config for a graph.")
    p.add_argument("file", help="CSV or Parquet of share events (columns cascade, time; optional "
                   "event, parent, user, followers, observed_until)")
    p.add_argument("--observed-until", metavar="T", help="observation end of cascades without an "
                   "observed_until value: hours on the file's clock, or an ISO-8601 timestamp "
                   "(default: the latest time in the file)")
    p.add_argument("--graph", default=None, metavar="KIND|FILE", help="the graph to set the share "
                   "probability for: a graph kind (conf/graph/) or a YAML file of a graph section "
                   "(default: the default graph, barabasi_albert)")
    p.add_argument("--graph-set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a key of the graph section (repeatable), e.g. n=5000")
    p.add_argument("--name", default=None, help="name of the written configs (fitted_<name>; "
                   "default: the file's name)")
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the configs, figure and "
                   "summary (default: .)")
    p.add_argument("--kernels", default=",".join(KERNELS), help="comma-separated kernels to fit "
                   f"(default: {','.join(KERNELS)})")
    p.add_argument("--kernel", default=None, help="the kernel written to the spread config "
                   "(default: the one with the smallest AIC)")
    p.add_argument("--links", default="auto", choices=LINK_MODES, help="use parent links (tree), "
                   "ignore them (hawkes) or decide from the data (auto)")
    p.add_argument("--marks", action=argparse.BooleanOptionalAction, default=None,
                   help="scale offspring by (1 + followers)^beta (default: when a followers column exists)")
    p.add_argument("--category", action="append", choices=CATEGORIES, default=None,
                   help="the illegal categories given the fitted share probability (repeatable; "
                   "default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cascades drawn for the size check")
    return p


def _graph(args: argparse.Namespace) -> dict[str, Any]:
    g: Any = args.graph
    if g is not None and (g.endswith((".yaml", ".yml")) or "/" in g):
        path = Path(g)
        try:
            g = yaml.safe_load(path.read_text())
        except OSError as e:
            raise DataError(f"{g}: cannot read: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise DataError(f"{g}: not YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(g, dict):
            raise ConfigError("--graph", args.graph, "must be a YAML file holding a graph section "
                              "(kind: ..., as in conf/graph/)")
    section = graph_section(g)
    for item in args.graph_set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("--graph-set", item, "must be KEY=VALUE, e.g. n=5000")
        section[key.strip()] = yaml.safe_load(value)
    return graph_section(section)


def run(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    name = args.name if args.name is not None else re.sub(r"[^A-Za-z0-9_-]", "_", Path(args.file).name.split(".")[0])
    kernels = tuple(k.strip() for k in args.kernels.split(",") if k.strip())
    graph = _graph(args)
    fit = fit_cascades(args.file, args.observed_until, kernels, links=args.links, marks=args.marks,
                       seed=args.seed)
    kernel = args.kernel or fit.chosen
    if kernel not in fit.fits:
        raise ConfigError("--kernel", kernel, "must be one of the fitted kernels: " + ", ".join(fit.fits))
    f = fit.fits[kernel]
    cats = tuple(args.category) if args.category else CATEGORIES
    secs, p, e, g = sections(f.spread_kernel, f.params["n"], graph, cats)
    n_iv = f.intervals.get("n", (float("nan"),) * 2)
    n0_iv = f.intervals.get("n0", (float("nan"),) * 2)
    comment = (f"Fitted by spreadsim fit from {args.file}: kernel {kernel}, n = {f.params['n']:.4g} "
               f"({100 * LEVEL:g}% interval {n_iv[0]:.4g} - {n_iv[1]:.4g}) direct reshares per reshare;\n"
               f"an original post: n0 = {f.params['n0']:.4g} ({n0_iv[0]:.4g} - {n0_iv[1]:.4g}), not used "
               "(it depends on who uploads).\n"
               f"Share probability {p:.6g} = n / {e:.6g}, the mean number of followers a reached user "
               f"passes a share to on graph {g.name}\n(n = {g.n} users; docs/fitting.md). No attention "
               "decay: n is the mean over all reshares.")
    files: dict[str, str | bytes] = dict(config_files(name, secs, graph, comment))
    config_line = (f"spread config (kernel {kernel}) for graph {g.name} (n = {g.n}): share_prob "
                   f"= {p:.6g} = n / {e:.6g}")
    text = fit.summary() + config_line + "\n"
    stem = f"fitted_{name}"
    files[f"{stem}.txt"] = text
    files[f"{stem}.png"] = png_bytes(fit)
    out = Path(args.out)
    meta = {"command": shlex.join(["spreadsim", "fit", *argv]),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "version": f"spreadsim {__version__}", "output": str(out.resolve())}

    def write(folder: Path) -> list[str]:
        for rel, content in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(content.encode() if isinstance(content, str) else content)
        page = report_page(fit, figure=folder / f"{stem}.png", meta=meta, config_line=config_line,
                           files=list(files), text=text)
        (folder / REPORT_FILE).write_text(page, encoding="utf-8")
        return [*files, REPORT_FILE]

    written = publish(out, write)
    sys.stdout.write(text)
    for path in written[:-1]:
        sys.stdout.write(f"wrote {path}\n")
    sys.stdout.write(f"run it: spreadsim 'hydra.searchpath=[file://{out.resolve()}]' graph={stem} "
                     f"spread={stem} scenario={stem}\n")
    sys.stdout.write(f"report: {written[-1].resolve()}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``spreadsim fit``: the exit status (0, 2 on bad input, 1 if a file could not
    be written)."""
    try:
        return run(sys.argv[2:] if argv is None else argv)
    except OutputError as e:
        return error_status(str(e), EXIT_FAILED)
    except (ConfigError, DataError) as e:
        return error_status(str(e), EXIT_BAD_INPUT)


__all__ = ["main", "parser", "run"]
