"""The schema's building blocks: a field's type, range, unit, default and description, in one place.

A config section is a frozen dataclass whose fields are declared with the helpers below::

    @dataclass(frozen=True)
    class Scenario:
        \"\"\"The content campaign.\"\"\"
        illegal_posts: int = param(20, "illegal posts uploaded", Integer(lo=0))

:func:`param` stores the default *as a user writes it in YAML* and a :class:`Check` that turns the
raw value into the checked one, raising the project's one-line
:class:`~spreadsim.errors.ConfigError` (field, value, what is allowed). :func:`parse` builds a
section from a mapping (unknown keys refused, missing keys defaulted, every value checked);
:func:`describe` and :mod:`spreadsim.schema.yaml` read the same declarations for the docs, the
YAML files in ``conf/`` and the controls of a page. Nothing else holds a default or a range.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from spreadsim.errors import ConfigError
from spreadsim.schema import checks

REQUIRED: Any = "???"  # a field with no default (as Hydra writes a mandatory value)


class Check:
    """Turns a raw value into a checked one, or raises a one-line ConfigError."""

    #: what the value is, for docs and page controls: number, integer, boolean, choice, text, ...
    kind: ClassVar[str] = "value"

    def __call__(self, path: str, value: Any) -> Any:
        return value

    def text(self) -> str:
        """What is allowed, in words (the reference docs' column)."""
        return "any value"


@dataclasses.dataclass(frozen=True)
class Number(Check):
    """A real number in a range; ``allow_inf`` also takes ``inf``/``never`` (as ``math.inf``)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    allow_inf: bool = False
    unit: str = ""
    kind: ClassVar[str] = "number"

    def __call__(self, path: str, value: Any) -> float:
        return checks.number(path, value, lo=self.lo, hi=self.hi, lo_open=self.lo_open,
                             hi_open=self.hi_open, allow_inf=self.allow_inf, unit=self.unit)

    def text(self) -> str:
        return checks.range_text(self.lo, self.hi, self.lo_open, self.hi_open, self.allow_inf,
                                 self.unit).removeprefix("must be ")


def Probability() -> Number:  # noqa: N802 - reads as a type in declarations
    """A probability in [0, 1]."""
    return Number(0.0, 1.0)


def Hours(lo_open: bool = False, allow_inf: bool = False) -> Number:  # noqa: N802
    """A duration in hours, >= 0 (> 0 with ``lo_open``)."""
    return Number(0.0, lo_open=lo_open, allow_inf=allow_inf, unit="hours")


@dataclasses.dataclass(frozen=True)
class Integer(Check):
    """An integer (not a bool, not a float with a fraction) in [lo, hi]."""

    lo: int | None = None
    hi: int | None = None
    kind: ClassVar[str] = "integer"

    def __call__(self, path: str, value: Any) -> int:
        return checks.integer(path, value, lo=self.lo, hi=self.hi)

    def text(self) -> str:
        parts = [f">= {self.lo}" if self.lo is not None else "", f"<= {self.hi}" if self.hi is not None else ""]
        return " and ".join(["integer " + " and ".join(p for p in parts if p)] if any(parts) else ["integer"])


@dataclasses.dataclass(frozen=True)
class Boolean(Check):
    """``true`` or ``false``."""

    kind: ClassVar[str] = "boolean"

    def __call__(self, path: str, value: Any) -> bool:
        return checks.boolean(path, value)

    def text(self) -> str:
        return "true or false"


@dataclasses.dataclass(frozen=True)
class Choice(Check):
    """One of a fixed set of names."""

    options: tuple[str, ...]
    what: str = "value"
    kind: ClassVar[str] = "choice"

    def __call__(self, path: str, value: Any) -> str:
        return checks.choice(path, value, self.options, self.what)

    def text(self) -> str:
        return "one of " + ", ".join(self.options)


@dataclasses.dataclass(frozen=True)
class Text(Check):
    """A piece of text: a name, a file path, a column name. A number is read as its text (the
    command line reads ``column=2018`` as a number)."""

    kind: ClassVar[str] = "text"

    def __call__(self, path: str, value: Any) -> str:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(path, value, "must be a string")
        return str(value)

    def text(self) -> str:
        return "a string"


@dataclasses.dataclass(frozen=True)
class Optional(Check):
    """``null`` or what ``inner`` allows."""

    inner: Check
    kind: ClassVar[str] = "optional"

    def __call__(self, path: str, value: Any) -> Any:
        return None if value is None else self.inner(path, value)

    def text(self) -> str:
        return f"null or {self.inner.text()}"


@dataclasses.dataclass(frozen=True)
class Custom(Check):
    """A check written as a function ``(path, value) -> value`` (nested or polymorphic values)."""

    fn: Callable[[str, Any], Any]
    allowed: str
    kind: ClassVar[str] = "mapping"

    def __call__(self, path: str, value: Any) -> Any:
        return self.fn(path, value)

    def text(self) -> str:
        return self.allowed


@dataclasses.dataclass(frozen=True)
class Section(Check):
    """A nested section: a mapping parsed into the dataclass ``cls``."""

    cls: type
    kind: ClassVar[str] = "section"

    def __call__(self, path: str, value: Any) -> Any:
        return parse(self.cls, value, path)

    def text(self) -> str:
        return f"a mapping ({self.cls.__name__})"


def param(default: Any, help: str, check: Check | None = None) -> Any:  # noqa: A002 - the field's help
    """Declare a schema field: its default as written in YAML (:data:`REQUIRED` for none), a
    one-line description for readers, and its :class:`Check`."""
    return dataclasses.field(metadata={"default": default, "help": help, "check": check or Check()})


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of a section, as the docs, the YAML generator and page controls read it."""

    name: str
    default: Any
    help: str
    check: Check

    @property
    def required(self) -> bool:
        return isinstance(self.default, str) and self.default == REQUIRED


def describe(cls: type) -> list[FieldInfo]:
    """The fields of a schema section in declaration order."""
    return [FieldInfo(f.name, f.metadata["default"], f.metadata["help"], f.metadata["check"])
            for f in dataclasses.fields(cls)]


_T = TypeVar("_T")


def parse(cls: type[_T], raw: Any, path: str) -> _T:
    """Build section ``cls`` from a mapping at dotted ``path`` (empty: the top level of a config):
    unknown keys are refused, missing ones take their
    default, every value is checked (defaults too, so a default is never out of its own range),
    then the section's own ``validate(path)`` checks the fields together, if it has one."""
    raw = checks.mapping(path or "config", raw)
    infos = describe(cls)
    checks.check_keys(path, raw, [i.name for i in infos])
    values = {}
    for info in infos:
        value = raw.get(info.name, info.default)
        name = f"{path}.{info.name}" if path else info.name
        if info.required and (value is None or (isinstance(value, str) and value == REQUIRED)):
            raise ConfigError(name, raw.get(info.name), "is required")
        values[info.name] = info.check(name, value)
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(path)
    return obj


def defaults(cls: type) -> dict[str, Any]:
    """A section's defaults as a user would write them (the YAML form)."""
    return {i.name: i.default for i in describe(cls)}
