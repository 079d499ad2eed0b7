"""Small validators that turn bad input into one-line :class:`~spreadsim.errors.ConfigError` s.

Every check names the field with its full dotted path (``policy.latency_h``), the value and what
is allowed. Used by every config section, so messages read the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from spreadsim.errors import ConfigError

INF_WORDS = ("inf", "infinity", "never", "none")


def check_keys(section: str, cfg: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Reject keys of ``cfg`` that are not in ``allowed`` (``section``: the dotted path of ``cfg``,
    empty for the top level of a config)."""
    allowed = list(allowed)
    for k in cfg:
        if k not in allowed:
            raise ConfigError(f"{section}.{k}" if section else str(k), cfg[k],
                              f"unknown key; allowed: {', '.join(allowed)}")


def require(section: str, cfg: Mapping[str, Any], key: str) -> Any:
    """Return ``cfg[key]``, raising if it is missing or null."""
    if key not in cfg or cfg[key] is None or cfg[key] == "???":
        raise ConfigError(f"{section}.{key}", cfg.get(key), "is required")
    return cfg[key]


def number(field: str, value: Any, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, allow_inf: bool = False,
           unit: str = "") -> float:
    """A real number in a range; ``allow_inf`` also accepts ``inf``/``never`` (as ``math.inf``)."""
    if isinstance(value, str) and allow_inf and value.strip().lower() in INF_WORDS:
        return math.inf
    if isinstance(value, bool | np.bool_):
        raise ConfigError(field, value, range_text(lo, hi, lo_open, hi_open, allow_inf, unit))
    if not isinstance(value, int | float):
        try:
            if isinstance(value, bool):
                raise TypeError
            value = float(value)  # numpy scalars, strings such as "1e-3"
        except (TypeError, ValueError):
            raise ConfigError(field, value, range_text(lo, hi, lo_open, hi_open, allow_inf, unit)) from None
    x = float(value)
    bad = math.isnan(x) or (math.isinf(x) and not (allow_inf and x > 0))
    if lo is not None and (x < lo or (lo_open and x == lo)):
        bad = True
    if hi is not None and not math.isinf(x) and (x > hi or (hi_open and x == hi)):
        bad = True
    if bad:
        raise ConfigError(field, value, range_text(lo, hi, lo_open, hi_open, allow_inf, unit))
    return x


def range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool,
                allow_inf: bool, unit: str) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    text = "must be a number " + " and ".join(parts) if parts else "must be a finite number"
    if unit:
        text += f" ({unit})"
    if allow_inf:
        text += " or 'inf' (never)"
    return text


def integer(field: str, value: Any, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool, not a float with a fraction) in [lo, hi]."""
    given = value
    if isinstance(value, np.integer):
        value = int(value)
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        ok, value = True, int(value)
    if ok and (lo is None or value >= lo) and (hi is None or value <= hi):
        return int(value)
    value = given  # the error shows the value as given (1e+300, not its 301 digits)
    rng = []
    if lo is not None:
        rng.append(f">= {lo}")
    if hi is not None:
        rng.append(f"<= {hi}")
    raise ConfigError(field, value, "must be an integer" + (" " + " and ".join(rng) if rng else ""))


def boolean(field: str, value: Any) -> bool:
    """A YAML boolean (``true``/``false``; a NumPy bool too), nothing else."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(field, value, "must be true or false")
    return bool(value)


def choice(field: str, value: Any, allowed: Iterable[str], what: str = "value") -> str:
    """One of a fixed set of names."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(field, value, f"unknown {what}; allowed: {', '.join(allowed)}")
    return value


def mapping(field: str, value: Any) -> Mapping[str, Any]:
    """A mapping (a YAML dict); ``None`` reads as empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(field, value, "must be a mapping of keys to values")
    return value
