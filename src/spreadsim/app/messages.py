"""One-line messages for the errors of Hydra, OmegaConf and the command line's overrides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from spreadsim.errors import ConfigError
from spreadsim.runs.jobspec import check_job_config

__all__ = ["CONFIG_GROUPS", "exception_line", "first_line", "group_override_message",
           "hydra_error_message", "quote_hint"]

#: spreadsim's config groups (the folders of conf/)
CONFIG_GROUPS = ("graph", "spread", "policy", "scenario", "experiment")


def quote_hint(override: str) -> str:
    """How to write an override Hydra's lexer refused for a character outside ASCII: its value in
    double quotes for Hydra, the whole in single quotes for the shell."""
    key, _, value = override.partition("=")
    value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f"quote a value with characters outside ASCII: '{key}=\"{value}\"'"


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped (for one-line error messages)."""
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def exception_line(ex: BaseException) -> str:
    """One line for any exception: the message of spreadsim's own errors, ``<file>: <reason>``
    for an OS error, ``<type>: <first line>`` for anything else."""
    if isinstance(ex, OSError) and ex.strerror:
        where = f"{ex.filename}: " if ex.filename else ""
        return f"{where}{ex.strerror}"
    text = first_line(str(ex))
    if isinstance(ex, ValueError) and type(ex).__module__.startswith("spreadsim"):
        return text
    return f"{type(ex).__name__}: {text}" if text else type(ex).__name__


def hydra_error_message(ex: BaseException) -> str:
    """A one-line message for a Hydra/OmegaConf composition error.

    Parameters
    ----------
    ex : BaseException
        The exception raised while composing the config.

    Returns
    -------
    str
        ``<field> = <value>: <what is allowed>`` where the exception allows it, else the first
        line of Hydra's message.
    """
    if isinstance(ex, OverrideParseException):
        msg = f"cannot parse the override {ex.override!r}: {first_line(ex.message)}"
        if not str(ex.override).isascii() and "Lexer" in msg:
            msg += f" ({quote_hint(str(ex.override))})"
        return msg
    if isinstance(ex, MissingConfigException):
        missing = ex.missing_cfg_file or ""
        group, _, name = missing.rpartition("/")
        if group and ex.options:
            return f"{group} = {name!r}: unknown {group} config; allowed: {', '.join(ex.options)}"
        return first_line(str(ex)).replace("In 'config': ", "")
    cause = ex.__cause__
    text = str(ex)
    if isinstance(cause, OmegaConfBaseException) and "Could not override" in text:
        key = str(getattr(cause, "full_key", "") or "")
        hint = ""
        for ln in text.splitlines():
            if ln.startswith("To append to your config use "):
                hint = ln.removeprefix("To append to your config use ")
        parent = getattr(cause, "parent_node", None)
        refused = _hint_refused(parent, hint) if hint else None
        if refused is not None:  # following Hydra's hint would only give this error
            return refused
        allowed = ""
        if isinstance(parent, DictConfig) and len(parent):
            allowed = "; allowed: " + ", ".join(str(k) for k in parent.keys())
        value = hint.partition("=")[2] if hint else ""
        field = key or hint.lstrip("+").partition("=")[0]
        msg = f"{field} = {value!r}: unknown key{allowed}"
        if hint:
            msg += f" (to add a key use {hint})"
        return msg
    first = first_line(text).replace("In 'config': ", "")
    if isinstance(cause, OmegaConfBaseException):
        first += f" ({first_line(str(cause))})"
    return first


def _hint_refused(parent: Any, hint: str) -> str | None:
    """spreadsim's own one-line error for the key Hydra's hint (``+key=value``) would add, if its
    check refuses that key (spreadsim takes only its schema's keys); None if it takes it (a key
    the composed config leaves out, like ``max_events``, or one of a free mapping) or if the
    config cannot be checked here."""
    try:
        root = parent._get_root()
        override = OverridesParser.create().parse_override(hint)
        path, value = override.key_or_group.split("."), override.value()
        try:
            cfg = OmegaConf.to_container(root, resolve=True)
        except Exception:  # noqa: BLE001 - an interpolation of Hydra's: the plain values will do
            cfg = OmegaConf.to_container(root, resolve=False)
        assert isinstance(cfg, dict)
        cfg.pop("hydra", None)
        node = cfg
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = value
    except Exception:  # noqa: BLE001 - not checkable here: keep Hydra's hint
        return None
    try:
        check_job_config(cast(dict[str, Any], cfg))
    except ConfigError as e:
        if e.field == ".".join(path) or e.field.endswith("." + path[-1]):
            return str(e)
    except Exception:  # noqa: BLE001 - another value is wrong, not the added key
        return None
    return None


def group_override_message(args: Sequence[str]) -> str | None:
    """``group = value: ...`` for the first config-group override in ``args`` whose value is not
    the name of a config (``graph=null``, ``graph=[1,2]``: Hydra's defaults list fails on those
    with a bare ``TypeError`` or ``ValueError``); None if every group override is a name."""
    parser = OverridesParser.create()
    for a in args:
        try:
            o = parser.parse_override(a)
        except Exception:  # noqa: BLE001 - not an override (a flag such as --multirun)
            continue
        key = o.key_or_group
        if key in CONFIG_GROUPS or "/" in key:
            if o.is_sweep_override() or isinstance(o.value(), str):
                continue
            value = a.partition("=")[2]
            return (f"{key} = {value!r}: a config group takes the name of one of its configs "
                    "(or a comma-separated list of names to sweep)")
    return None
