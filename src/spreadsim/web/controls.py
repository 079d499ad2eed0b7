"""The page's controls, generated from the config schema, and the page's settings turned into a
job config.

Every control is one schema field (:func:`spreadsim.schema.fields.describe`): its default, range,
unit, allowed values and one-line description come from the field's declaration, nothing is
restated here. This module only chooses *which* fields the page shows (:data:`POLICY_FIELDS`,
:data:`SCENARIO_FIELDS`, ...) and how the page's flat settings (``{"fixed_latency.latency_h": 6,
"notice_and_takedown.on": true, ...}``) become the job config the command line composes
(:func:`job_config`). The page keeps its settings and sends all of them with every request, so
two tabs never share state.
"""

from __future__ import annotations

import functools
import math
import reprlib
from collections.abc import Mapping
from typing import Any

import yaml

from spreadsim.errors import ConfigError
from spreadsim.outputs.columns import plain
from spreadsim.schema.checks import mapping
from spreadsim.schema.config import complete_graph
from spreadsim.schema.fields import (
    Boolean,
    Check,
    Choice,
    FieldInfo,
    Integer,
    Number,
    Optional,
    Section,
    Text,
    describe,
)
from spreadsim.schema.graphs import GRAPH_KINDS, FilePath
from spreadsim.schema.model import CATEGORIES, CategoryFields, RunSettings, ScenarioConfig
from spreadsim.schema.policies import POLICY_PARAMS, PerCategory
from spreadsim.schema.yaml import scalar

__all__ = ["DEADLINES", "STACKABLE", "POLICY_FIELDS", "LATENCY_GRID_H", "MAX_YAML_CHARS", "controls",
           "job_config", "control_for_field", "default_settings", "finite_or_none", "short_repr",
           "read_yaml"]

#: the pre-decided removal policies the page offers (one at a time, first in the stack)
DEADLINES = ("fixed_latency", "latency_distribution")
#: the policies the page stacks after it, in stack order, each switched on or off
STACKABLE = ("notice_and_takedown", "automated_detection", "reupload", "hash_matching")
#: the fields of each policy the page shows (the others keep the schema's defaults);
#: ``a.b`` is field ``b`` of the section ``a``
POLICY_FIELDS: dict[str, tuple[str, ...]] = {
    "fixed_latency": ("latency_h", "removal_prob"),
    "latency_distribution": ("half_life_h", "removal_prob"),
    "notice_and_takedown": ("moderators", "review_time", "notice_prob", "removal_prob",
                            "trusted_flaggers.fraction", "trusted_flaggers.notice_weight",
                            "trusted_flaggers.removal_prob"),
    "automated_detection": ("recall", "precision", "delay"),
    "reupload": ("reupload_prob", "max_reuploads", "new_account_prob", "altered_prob"),
    "hash_matching": ("recall", "recall_altered"),
}
#: the lever each deadline policy's curve runs over (the x axis of reach against latency)
LEVERS = {"fixed_latency": "latency_h", "latency_distribution": "half_life_h"}
#: the content campaign's fields on the page (besides the category mix)
SCENARIO_FIELDS = ("illegal_posts", "legal_posts", "uploaders", "window_h", "horizon_h")
RUN_FIELDS = ("seeds", "seed")
#: removal latencies (hours) of the curve and of the latency slider's stops
LATENCY_GRID_H = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0, 336.0, math.inf)


#: the longest text a YAML control may hold (a duration or a block-size list is a few dozen
#: characters; a cap keeps any text's parse small)
MAX_YAML_CHARS = 1000
#: the longest value repr the page's messages show (``'aaaa...aaa'`` beyond it)
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 6
_REPR.maxlevel = 3


def finite_or_none(x: Any) -> Any:
    """A value JSON can hold: NaN -> None, infinities -> ``"inf"``/``"-inf"``, tuples as lists,
    numpy scalars as Python ones (recursively)."""
    if isinstance(x, Mapping):
        return {str(k): finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite_or_none(v) for v in x]
    x = plain(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a few dozen characters (the page's error messages)."""
    return _REPR.repr(value)


def read_yaml(key: str, text: str) -> Any:
    """A YAML control's text as a value: plain YAML only, at most :data:`MAX_YAML_CHARS`
    characters, without anchors or aliases (``&a [x, x]``, ``*a``: a few hundred characters of
    them can stand for gigabytes of nested lists).

    Raises
    ------
    ConfigError
        Too long, an anchor or alias, or not YAML.
    """
    if len(text) > MAX_YAML_CHARS:
        raise ConfigError(key, text, f"must be at most {MAX_YAML_CHARS} characters of YAML "
                                     f"(got {len(text)})")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise ConfigError(key, text, "YAML anchors and aliases (&name, *name) are not "
                                                         "allowed here; write the value out")
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(key, text, f"is not a YAML value ({str(e).splitlines()[0]})") from None


def control_for_field(key: str, info: FieldInfo) -> dict[str, Any]:
    """The page control of one schema field: what the page needs to draw it and to refuse a value
    out of range before sending it (the server checks again, with the schema's message).

    ``kind`` is ``number``, ``integer``, ``boolean``, ``choice``, ``text`` or ``yaml`` (a
    composite value typed as YAML, such as a duration ``{dist: lognormal, median_h: 0.5}``).
    """
    check: Check = info.check
    nullable = isinstance(check, Optional)
    inner = check.inner if isinstance(check, Optional) else check
    if isinstance(inner, PerCategory) and isinstance(info.default, int | float):
        inner = inner.inner  # one number for every category (a mapping: in the YAML)
    spec: dict[str, Any] = {"key": key, "label": key.rsplit(".", 1)[-1].replace("_", " "),
                            "help": info.help, "allowed": check.text(),
                            "default": None if info.required else finite_or_none(info.default),
                            "nullable": nullable}
    if isinstance(inner, Number):
        spec.update(kind="number", min=inner.lo, max=inner.hi, lo_open=inner.lo_open,
                    hi_open=inner.hi_open, allow_inf=inner.allow_inf, unit=inner.unit)
    elif isinstance(inner, Integer):
        spec.update(kind="integer", min=inner.lo, max=inner.hi)
    elif isinstance(inner, Boolean):
        spec.update(kind="boolean")
    elif isinstance(inner, Choice):
        spec.update(kind="choice", options=list(inner.options))
    elif isinstance(inner, Text | FilePath):
        spec.update(kind="text")
    else:  # a mapping, a list, a duration: typed as YAML
        spec.update(kind="yaml", default=scalar(info.default))
    return spec


def _field(cls: type, dotted: str) -> FieldInfo:
    """The :class:`FieldInfo` of ``dotted`` (``a.b``: field ``b`` of section field ``a``)."""
    head, _, rest = dotted.partition(".")
    info = {i.name: i for i in describe(cls)}[head]
    if not rest:
        return info
    check = info.check.inner if isinstance(info.check, Optional) else info.check
    assert isinstance(check, Section), dotted
    return _field(check.cls, rest)


def _policy_help(name: str) -> str:
    return str(_field(POLICY_PARAMS[name], "name").help)


@functools.cache
def controls() -> dict[str, Any]:
    """Every control of the page, from the schema (``GET /api/controls``).

    Returns
    -------
    dict
        The same object every call (do not modify it): ``graph`` (the ``kind`` choice and
        each kind's fields), ``scenario`` (campaign fields and the category mix),
        ``deadline`` (the choice of pre-decided policy and each one's fields),
        ``stack`` (the policies switched on or off, each with its fields), ``run`` (seeds) and
        ``grid`` (the latency slider's stops, ``"inf"`` for never).
    """
    kinds = {kind: [control_for_field(f"graph.{i.name}", i) for i in describe(cls)
                    if i.name not in ("kind", "name")] for kind, cls in GRAPH_KINDS.items()}
    kind_help = {kind: " ".join((cls.__doc__ or "").split()) for kind, cls in GRAPH_KINDS.items()}
    scen = {i.name: i for i in describe(ScenarioConfig)}
    cat_fields = describe(CategoryFields)
    cat_defaults = scen["categories"].default
    categories = [{"name": c, "controls": [
        {**control_for_field(f"scenario.categories.{c}.{i.name}", i),
         "default": finite_or_none(cat_defaults.get(c, {}).get(i.name, i.default))}
        for i in cat_fields if i.name in ("weight", "share_prob")]} for c in CATEGORIES]
    run = {i.name: i for i in describe(RunSettings)}

    def policy(name: str) -> dict[str, Any]:
        return {"name": name, "help": _policy_help(name),
                "doc": " ".join((POLICY_PARAMS[name].__doc__ or "").split()),
                "controls": [control_for_field(f"{name}.{f}", _field(POLICY_PARAMS[name], f))
                             for f in POLICY_FIELDS[name]]}

    return {
        "graph": {"kind": {"key": "graph.kind", "label": "graph kind", "kind": "choice",
                           "options": list(GRAPH_KINDS), "default": "barabasi_albert",
                           "help": "the social graph: a generator or an edge-list file",
                           "docs": kind_help},
                  "kinds": kinds},
        "scenario": {"controls": [control_for_field(f"scenario.{f}", scen[f]) for f in SCENARIO_FIELDS],
                     "categories": categories, "help": scen["categories"].help},
        "deadline": {"key": "deadline", "label": "pre-decided removal", "kind": "choice",
                     "options": ["none", *DEADLINES], "default": "fixed_latency",
                     "help": "none, or one policy that fixes each post's removal time at upload: "
                             + "; ".join(_policy_help(n) for n in DEADLINES),
                     "policies": [policy(n) for n in DEADLINES], "levers": dict(LEVERS)},
        "stack": [{**policy(n), "key": f"{n}.on", "default": False} for n in STACKABLE],
        "run": {"controls": [control_for_field(f, run[f]) for f in RUN_FIELDS]},
        "grid": [finite_or_none(x) for x in LATENCY_GRID_H],
    }


def default_settings() -> dict[str, Any]:
    """The settings of a fresh page: every control at its schema default (the default world)."""
    return dict(_default_settings())


@functools.cache
def _default_settings() -> dict[str, Any]:
    c = controls()
    out: dict[str, Any] = {"graph.kind": c["graph"]["kind"]["default"]}
    out.update({s["key"]: s["default"] for s in c["graph"]["kinds"][out["graph.kind"]]})
    out.update({s["key"]: s["default"] for s in c["scenario"]["controls"]})
    for cat in c["scenario"]["categories"]:
        out.update({s["key"]: s["default"] for s in cat["controls"]})
    out["deadline"] = c["deadline"]["default"]
    for p in c["deadline"]["policies"]:
        out.update({s["key"]: s["default"] for s in p["controls"]})
    for p in c["stack"]:
        out[p["key"]] = p["default"]
        out.update({s["key"]: s["default"] for s in p["controls"]})
    out.update({s["key"]: s["default"] for s in c["run"]["controls"]})
    return out


@functools.cache
def _yaml_keys() -> frozenset[str]:
    c = controls()
    keys = [s for p in (*c["deadline"]["policies"], *c["stack"]) for s in p["controls"]]
    keys += [s for k in c["graph"]["kinds"].values() for s in k]
    return frozenset(s["key"] for s in keys if s["kind"] == "yaml")


def _value(key: str, value: Any, yaml_keys: frozenset[str]) -> Any:
    """A setting's value as the schema reads it: a YAML control's text parsed
    (:func:`read_yaml`), anything else as sent (the schema checks it)."""
    if key in yaml_keys and isinstance(value, str):
        return read_yaml(key, value)
    return value


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` -> ``{"a": {"b": 1}, "c": 2}``."""
    out: dict[str, Any] = {}
    for key, v in flat.items():
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def job_config(settings: Any) -> tuple[dict[str, Any], list[str]]:
    """The job config of the page's settings, as the command line composes it, and the name of
    each policy of its stack (in order: the pre-decided policy, then those switched on).

    Settings left out take the schema's defaults. The result is checked by
    :func:`spreadsim.runs.jobspec.check_job_config` (the caller's job); here only the shape is:
    a mapping of known setting names to plain values.

    Raises
    ------
    ConfigError
        An unknown setting, a setting that is not a plain value, or a YAML control's text that is
        not YAML.
    """
    raw = mapping("settings", settings)
    defaults = default_settings()
    yaml_keys = _yaml_keys()
    kinds = controls()["graph"]["kinds"]
    known = known_keys()
    for key, v in raw.items():
        if not isinstance(key, str) or key not in known:
            raise ConfigError(str(key), v, "unknown setting of the page")
        if not (v is None or isinstance(v, str | int | float | bool)):
            raise ConfigError(key, v, "must be a plain value (a number, a string, true/false or null)")
    s = {**defaults, **raw}
    kind = s["graph.kind"]
    if not isinstance(kind, str) or kind not in kinds:
        raise ConfigError("graph.kind", kind, f"must be one of {', '.join(kinds)}")
    # the kind's fields as sent (the page sends every one); the schema fills in the others and
    # refuses a field of another kind
    graph = complete_graph({"kind": kind, **{k.removeprefix("graph."): _value(k, v, yaml_keys)
                                             for k, v in raw.items()
                                             if k.startswith("graph.") and k != "graph.kind"}})
    scenario = _nest({k.removeprefix("scenario."): _value(k, v, yaml_keys)
                      for k, v in s.items() if k.startswith("scenario.")})
    names: list[str] = []
    deadline = s["deadline"]
    if deadline not in ("none", *DEADLINES):
        raise ConfigError("deadline", deadline, f"must be one of none, {', '.join(DEADLINES)}")
    if deadline != "none":
        names.append(deadline)
    for name in STACKABLE:
        on = s[f"{name}.on"]
        if not isinstance(on, bool):
            raise ConfigError(f"{name}.on", on, "must be true or false")
        if on:
            names.append(name)
    stack = []
    for name in names:
        fields = {k.removeprefix(f"{name}."): _value(k, v, yaml_keys) for k, v in s.items()
                  if k.startswith(f"{name}.") and k != f"{name}.on"}
        stack.append({"name": name, **_nest(fields)})
    cfg = {"graph": graph, "scenario": scenario, "policy": stack or None,
           "seed": s["seed"], "seeds": s["seeds"], "baseline": True}
    return cfg, names


def control_key(field: str, names: list[str]) -> str | None:
    """The control a schema error's field belongs to (``policy[1].moderators`` ->
    ``notice_and_takedown.moderators``; ``...review_time.median_h`` -> its ``review_time``
    control), or None."""
    if field.startswith("policy[") and "]" in field:
        index, _, rest = field[len("policy["):].partition("]")
        if index.isdigit() and int(index) < len(names):
            field = f"{names[int(index)]}{rest}"
    parts = field.split(".")
    known = known_keys()
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return None


@functools.cache
def known_keys() -> frozenset[str]:
    """Every setting name of the page."""
    kinds = controls()["graph"]["kinds"]
    return frozenset(_default_settings()) | {s["key"] for k in kinds.values() for s in k}
