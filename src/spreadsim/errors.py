"""Errors raised by spreadsim.

Every user-facing error is a :class:`ConfigError` whose message is one line naming the field,
the offending value and what is allowed, e.g.::

    policy.latency_h = -1.0: must be a number >= 0 (hours) or 'inf'
"""

from __future__ import annotations

from typing import Any

#: the exit statuses of every spreadsim command (``spreadsim``, ``fit``, ``dsa-delays``, ``app``):
#: bad input (a config, a file, an argument), one line ``spreadsim: error: ...`` on stderr
EXIT_BAD_INPUT = 2
#: a run, sweep or command that failed for another reason (an output folder that cannot be
#: written, a sweep folder held by another sweep, a failed aggregation, an unexpected error)
EXIT_FAILED = 1
#: a command interrupted with Ctrl-C (SIGINT), as a shell gives it
EXIT_INTERRUPTED = 130


class ConfigError(ValueError):
    """Bad input: a one-line message naming the field, its value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        # the arguments, not the message, as ``args``: whoever copies the error as
        # ``type(e)(*e.args)`` gets it back (SimPy does, for an error raised in a process)
        super().__init__(field, value, allowed)

    def __str__(self) -> str:
        return f"{self.field} = {self.value!r}: {self.allowed}"

    def __reduce__(self) -> tuple[type, tuple[str, object, str]]:
        # picklable, so errors raised in parallel workers (joblib, Ray, Slurm) come back intact
        return (type(self), (self.field, self.value, self.allowed))


class DataError(ValueError):
    """Bad input file (edge list, delay CSV): a one-line message naming the file and the line."""


class OutputError(DataError):
    """A result file could not be written (read-only folder, disk full): one line naming the
    file and the reason; nothing partial is left behind."""
