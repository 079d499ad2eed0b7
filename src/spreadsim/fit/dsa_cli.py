"""``spreadsim dsa-delays FILES... [--platform P] [--category C] ... [--out DIR]``.

Reads DSA Transparency Database dumps, fits the removal delays of the matching statements of
reasons with interval censoring and writes, into ``--out`` (default ``dsa_delays``): the delay
table (``delays``), the refused rows by reason (``refused``), the fits (``fits``; Parquet + CSV),
one ``policy/dsa_<platform>_<category>.yaml`` per (platform, category) that the
``latency_distribution`` policy runs (with the empirical fit's quantiles beside it), a PNG of the
fitted against the observed CDFs, ``summary.txt`` (also printed) and ``report.html`` (a
self-contained report that opens with the answer), all or none. Bad input ends the command with
one line ``spreadsim: error: ...`` and exit status 2; see :func:`spreadsim.fit.dsa.dsa_delays`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from spreadsim.errors import EXIT_BAD_INPUT, EXIT_FAILED, ConfigError, DataError, OutputError
from spreadsim.fit import delays, dsa
from spreadsim.fit.files import error_status

__all__ = ["main", "parser"]


class _UsageError(Exception):
    """A command line argparse cannot read."""


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"dsa-delays: {message} (see spreadsim dsa-delays --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spreadsim dsa-delays",
                description="Removal delays from DSA Transparency Database dumps, fitted with interval "
                            "censoring (dates are known to the day), and a latency_distribution policy "
                            "config per (platform, category).")
    p.add_argument("files", nargs="+", help="dump files: .zip (as downloaded), .csv, .csv.gz, .parquet, "
                   "or folders of them")
    for name, f in dsa.FILTERS.items():
        allowed = f"; one of {', '.join(f.allowed)}" if f.allowed and len(f.allowed) < 10 else ""
        p.add_argument(f.option, dest=name, action="append", metavar="VALUE",
                       help=f"keep rows whose {f.column} is VALUE (repeat or comma-separate for several; "
                            f"any case, prefix optional){allowed}")
    p.add_argument("--earliest", action="append", default=[], metavar="PLATFORM=YYYY-MM-DD",
                   help="content dated before this day on this platform is refused (before_earliest_date)")
    p.add_argument("--earliest-content-date", default=str(dsa.EARLIEST_CONTENT), metavar="YYYY-MM-DD",
                   help="the same for every other platform (default: %(default)s, the database's own bound)")
    p.add_argument("--dist", default="auto", choices=["auto", *delays.MODELS],
                   help="model the policy configs use (auto: lowest AIC)")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap resamples for the empirical fit's intervals (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: %(default)s)")
    p.add_argument("--out", default="dsa_delays", metavar="DIR", help="output folder (default: %(default)s)")
    return p


def _earliest(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        platform, sep, day = pair.rpartition("=")
        if not sep or not platform.strip():
            raise ConfigError("--earliest", pair, "must be PLATFORM=YYYY-MM-DD")
        out[platform.strip()] = day.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status (0 done, 2 bad input, 1 output failure)."""
    try:
        argv = list(sys.argv[2:] if argv is None else argv)
        args = parser().parse_args(argv)
        filters = {name: getattr(args, name) for name in dsa.FILTERS}
        result = dsa.dsa_delays(args.files, earliest=_earliest(args.earliest),
                                earliest_content=args.earliest_content_date, dist=args.dist,
                                out=args.out, n_boot=args.bootstrap, seed=args.seed,
                                command=shlex.join(["spreadsim", "dsa-delays", *argv]), **filters)
    except OutputError as e:
        return error_status(str(e), EXIT_FAILED)
    except (ConfigError, DataError, _UsageError) as e:
        return error_status(str(e), EXIT_BAD_INPUT)
    sys.stdout.write(result.summary)
    sys.stdout.write(f"report: {result.written[-1].resolve()}\n")
    return 0

