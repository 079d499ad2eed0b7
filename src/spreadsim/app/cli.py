"""The ``spreadsim`` command: a thin Hydra app over :mod:`spreadsim.runs` (one job: :mod:`spreadsim.runs.job`).

``spreadsim`` with no arguments runs the default experiment (``latency_sweep``: removal latency
0 h ... never on the embedded 10k-user graph, 20 paired seeds per point) and prints the summary.
Every config group (graph, spread, policy, scenario, experiment) and key can be overridden on the
command line the Hydra way: ``spreadsim experiment=single policy.latency_h=6 seeds=5``.

Bad input ends the command with one line on stderr, ``spreadsim: error: <message>``, naming the
field, its value and what is allowed, and exit status 2; nothing is written. Set
``HYDRA_FULL_ERROR=1`` for Hydra's full tracebacks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from spreadsim.app.callback import LOG_FAILURES, cleanup_failed_sweep, is_multirun, output_dir
from spreadsim.app.console import resume_line
from spreadsim.app.messages import exception_line, group_override_message, hydra_error_message
from spreadsim.app.task import hydra_job
from spreadsim.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    ConfigError,
    DataError,
    OutputError,
)
from spreadsim.runs.jobspec import InvalidConfig, JobError, SweepFailed

__all__ = ["console", "main", "hydra_error_message"]


@hydra.main(version_base="1.3", config_path="pkg://spreadsim.conf", config_name="config")
def _app(cfg: DictConfig) -> None:
    hydra_job(cfg)


class _DropHydraJobErrorLines:
    """stderr wrapper dropping Hydra's extra 'Error executing job' line (we print our own)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, s: str) -> int:
        if s.startswith("Error executing job with overrides"):
            return len(s)
        return self._stream.write(s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    try:
        cleanup_failed_sweep()
    except Exception as e:  # noqa: BLE001 - the clean-up must not hide the error itself
        message += f" (and the clean-up failed: {exception_line(e)})"
    _exit(f"error: {message}", code)


def _exit(line: str, code: int) -> NoReturn:
    """Flush what was printed, write ``spreadsim: <line>`` to stderr and exit with ``code``."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.stderr.write(f"spreadsim: {line}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _register_plugins() -> None:
    """Register spreadsim's Hydra sweeper (``hydra_plugins.spreadsim_sweeper``, the default
    ``hydra/sweeper``) with Hydra's ``Plugins.register``: Hydra finds plugins by scanning the
    ``hydra_plugins`` folders, which an editable install does not expose."""
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()  # scan first: the scan re-imports Hydra's core plugins
    from hydra_plugins.spreadsim_sweeper import SpreadsimSweeper

    plugins.register(SpreadsimSweeper)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``spreadsim`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (without the program name); ``sys.argv[1:]`` if omitted.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["validate"]:  # spreadsim validate [--quick|--full]: the engine against theory
        from spreadsim.runs.validation import main as validate_main

        raise SystemExit(validate_main(args[1:]))
    if args[:1] == ["fit"]:  # spreadsim fit FILE ...: observed cascades -> a spread config
        from spreadsim.fit.cli import main as fit_main

        raise SystemExit(fit_main(args[1:]))
    if args[:1] == ["dsa-delays"]:  # spreadsim dsa-delays FILES...: removal delays of DSA statements of reasons
        from spreadsim.fit.dsa_cli import main as dsa_main

        raise SystemExit(dsa_main(args[1:]))
    if args[:1] == ["app"]:  # spreadsim app [--port N] [--export FILE.html]: the what-if page
        from spreadsim.web.server import main as app_main

        raise SystemExit(app_main(args[1:]))
    user_full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Let exceptions leave Hydra so that they can be reported as one line here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if argv is not None:
        sys.argv = [sys.argv[0] if sys.argv else "spreadsim", *argv]
    _register_plugins()
    real_stderr = sys.stderr
    sys.stderr = _DropHydraJobErrorLines(real_stderr)
    try:
        _app()
    except KeyboardInterrupt:
        sys.stderr = real_stderr
        _interrupted(args)
    except InvalidConfig as e:
        sys.stderr = real_stderr
        _fail(str(e))
    except SweepFailed as e:
        sys.stderr = real_stderr
        _fail(str(e), EXIT_FAILED)
    except OutputError as e:  # a result file that cannot be written: one line, nothing partial
        sys.stderr = real_stderr
        if user_full_error:
            raise
        _fail(str(e), EXIT_FAILED)
    except (ConfigError, DataError, JobError) as e:
        sys.stderr = real_stderr
        if user_full_error:
            raise
        _fail(str(e))
    except (HydraException, OmegaConfBaseException) as e:
        sys.stderr = real_stderr
        if user_full_error:
            raise
        _fail(hydra_error_message(e))
    except (TypeError, ValueError) as e:  # Hydra's defaults list on a group given a non-name
        sys.stderr = real_stderr
        if user_full_error:
            raise
        os_error = _os_error(e)  # e.g. Hydra's log file handler in a read-only folder
        if os_error is not None:
            _fail(_cannot_write(os_error), EXIT_FAILED)
        message = group_override_message(args)
        if message is None:
            _fail(f"{exception_line(e)} (HYDRA_FULL_ERROR=1 for the traceback)", EXIT_FAILED)
        _fail(message)
    except OSError as e:  # e.g. a read-only or full output folder, before our own writers ran
        sys.stderr = real_stderr
        if user_full_error:
            raise
        _fail(_cannot_write(e), EXIT_FAILED)
    except Exception as e:  # noqa: BLE001 - anything else: one line, the traceback on request
        sys.stderr = real_stderr
        if user_full_error:
            raise
        _fail(f"{exception_line(e)} (HYDRA_FULL_ERROR=1 for the traceback)", EXIT_FAILED)
    finally:
        sys.stderr = real_stderr
        if not user_full_error:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    if LOG_FAILURES:  # the command succeeded, but its log file could not be written
        sys.stderr.write(f"spreadsim: warning: {LOG_FAILURES[0]}\n")


def _interrupted(args: Sequence[str]) -> NoReturn:
    """Ctrl-C: one line saying how to resume (or run again), exit status 130, no traceback.
    The sweep folder keeps its finished jobs; the sweep lock is released."""
    folder, multirun = output_dir(), is_multirun()
    try:
        cleanup_failed_sweep()
    except Exception:  # noqa: BLE001 - the line below still says how to go on
        pass
    if folder is not None and not os.path.isabs(folder):
        folder = os.path.abspath(folder)
    _exit(resume_line(args, folder, multirun), EXIT_INTERRUPTED)


def _os_error(e: BaseException) -> OSError | None:
    """The OS error that caused ``e`` (its ``__cause__``/``__context__`` chain), if any."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 10:
        if isinstance(cur, OSError):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def _cannot_write(e: OSError) -> str:
    folder = output_dir()
    where = f" {e.filename}" if e.filename else (f" into {folder}" if folder else "")
    return f"cannot write{where}: {e.strerror or e}"


def _exit_code(code: Any) -> int:
    """The exit status Python gives ``SystemExit(code)`` (a message is printed to stderr)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def console() -> None:
    """The ``spreadsim`` console script: :func:`main`, with its exit status.

    Standard streams are flushed at the end; one that was closed by the reader (``spreadsim |
    head``) ends the command with status 1 (if it had none) and no traceback, as Python's docs
    advise for a broken pipe: the stream is pointed at ``os.devnull`` so that the interpreter's
    own flush at exit has nothing left to fail on.
    """
    try:
        main()
        code = 0
    except SystemExit as e:
        code = _exit_code(e.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to say
            code = code or 1
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
            except (OSError, ValueError):
                pass
    raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
