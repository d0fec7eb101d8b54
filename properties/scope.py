"""A scope (SPEC E1): the initial scale set and, for each kind of event, how
many times it may happen in one behaviour and the values it may take.

A scope file is TOML or JSON::

    description = "three instances with a probe, two publications, ..."
    [scale_set]                  # section 7's scale_set, as in a trace
    instances = 3
    image = {publisher = "Canonical", offer = "UbuntuServer", sku = "18.04-LTS", version = "latest"}
    health_probe = {kind = "application_health"}
    [events.publish_image]       # an event kind of section 7
    budget = 2                   # at most twice in one behaviour
    app_healthy = [true, false]  # the values it may take
    [events.outage_start]
    budget = 1
    instances = 1                # every set of up to this many instances

Several initial states (as a TLA+ ``Init`` may have) are given as
``[[scale_sets]]`` instead of ``[scale_set]``: every behaviour from each.

Instances are those of the scale set at the moment (each id, or every set
of up to ``instances`` of them); a publication publishes the catalog's
latest version with its last part increased by one (E1); a regenerated
token expires ``expires_in`` seconds after the moment it is made. A field
not given takes the values of section 7's default (one value), or both
``true`` and ``false`` for ``healthy`` and ``enabled``.

``pinned`` records what a complete check of the scope explores (distinct
states, transitions, the longest behaviour); tests/test_check.py fails when
the model's semantics change those numbers.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import jsonschema

from model import events as ev
from model.config import ScaleSetConfig
from model.jsontext import TraceError
from model.trace import parse_trace

DRIVER = True  # it builds and drives scale sets

FORMAT = "vmss-upgrade-trace/1"

#: event kind -> its parameters besides ``at`` and ``instances``, with the
#: values each takes when the scope does not say
PARAMETERS: dict[str, dict[str, list[Any]]] = {
    # eligible_in (section 9, with the switch): seconds after the publication
    # at which the version becomes eligible (0: at once, T17)
    "publish_image": {"app_healthy": [True], "eligible_in": [0], "exclude_from_latest": [False]},
    "outage_start": {"kind": ["unplanned"]},
    "outage_end": {},
    "app_health": {"healthy": [True, False]},
    "expire_credential": {"name": []},
    "regenerate_credential": {"name": [], "expires_in": [31536000]},
    "update_model": {},
    "scale_out": {"count": [1]},
    "scale_in": {"count": [1]},
    "set_automatic_upgrade": {"enabled": [True, False]},
    "start_upgrade": {},
    "cancel_upgrade": {},
    "set_protection": {"protect_from_scale_in": [True], "protect_from_scale_set_actions": [True]},
}
#: the events that act on instances
ON_INSTANCES = frozenset({"outage_start", "outage_end", "app_health", "set_protection"})

_VALUE = {
    "app_healthy": {"type": "boolean"},
    "healthy": {"type": "boolean"},
    "enabled": {"type": "boolean"},
    "kind": {"enum": ["planned", "unplanned"]},
    "name": {"type": "string", "minLength": 1},
    "expires_in": {"type": "integer", "minimum": 0, "maximum": 3155760000},
    "count": {"type": "integer", "minimum": 1, "maximum": 1000},
    "eligible_in": {"type": "integer", "minimum": 0, "maximum": 3155760000},
    "exclude_from_latest": {"type": "boolean"},
    "protect_from_scale_in": {"type": "boolean"},
    "protect_from_scale_set_actions": {"type": "boolean"},
}


def _event_schema(kind: str) -> dict[str, Any]:
    props: dict[str, Any] = {"budget": {"type": "integer", "minimum": 0, "maximum": 100}}
    if kind in ON_INSTANCES:
        props["instances"] = {"type": "integer", "minimum": 1, "maximum": 8}
    for name in PARAMETERS[kind]:
        props[name] = {"type": "array", "minItems": 1, "maxItems": 16, "items": _VALUE[name]}
    return {"type": "object", "properties": props, "required": ["budget"],
            "additionalProperties": False}  # fmt: skip


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "scale_set": {"type": "object"},
        "scale_sets": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "object"}},
        "events": {
            "type": "object",
            "properties": {kind: _event_schema(kind) for kind in PARAMETERS},
            "additionalProperties": False,
        },
        "pinned": {
            "type": "object",
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in ("states", "transitions", "depth")
            },
            "additionalProperties": False,
        },
    },
    "required": ["events"],
    "oneOf": [{"required": ["scale_set"]}, {"required": ["scale_sets"]}],
    "additionalProperties": False,
}


class ScopeError(ValueError):
    """A scope file that is not a scope: the message names the place."""


@attrs.frozen
class EventChoice:
    """One kind of event: its budget and every value it may take."""

    kind: str
    budget: int
    #: every set of parameters, instances aside (tuples of (field, value))
    values: tuple[tuple[tuple[str, Any], ...], ...]
    #: for an event on instances: the largest set of instances it names
    instances: int = 0


@attrs.frozen
class Scope:
    name: str
    description: str
    #: the initial states: each scale set, and its object as written (a
    #: counterexample's trace repeats it)
    initial: tuple[tuple[ScaleSetConfig, dict[str, Any]], ...]
    choices: tuple[EventChoice, ...]
    pinned: dict[str, int]

    def budgets(self) -> tuple[int, ...]:
        return tuple(c.budget for c in self.choices)

    def events(
        self, budgets: tuple[int, ...], ids: list[int], latest: str, now: int
    ) -> Iterator[tuple[int, ev.Event]]:
        """E1: each event the environment may give now, (choice index, event):
        every value of each kind with budget left, on each set of instances."""
        for k, choice in enumerate(self.choices):
            if budgets[k] == 0:
                continue
            for values in choice.values:
                for event in _events(choice, dict(values), ids, latest, now):
                    yield k, event


def _events(
    choice: EventChoice, values: dict[str, Any], ids: list[int], latest: str, now: int
) -> Iterator[ev.Event]:
    kind = choice.kind
    if kind in ON_INSTANCES:
        for size in range(1, min(choice.instances, len(ids)) + 1):
            for members in itertools.combinations(ids, size):
                yield ev.EVENT_TYPES[kind](at=now, instances=members, **values)
        return
    if kind == "publish_image":
        parts = latest.split(".")
        version = ".".join([*parts[:-1], str(int(parts[-1]) + 1)])
        later = values["eligible_in"]
        yield ev.PublishImage(
            at=now,
            version=version,
            app_healthy=values["app_healthy"],
            eligible_at=now + later if later else None,  # 9.16: an offset from at
            exclude_from_latest=values["exclude_from_latest"],
        )
        return
    if kind == "regenerate_credential":
        yield ev.RegenerateCredential(
            at=now, name=values["name"], expires_at=now + values["expires_in"]
        )
        return
    yield ev.EVENT_TYPES[kind](at=now, **values)


def _place(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "/"


def scope_from_data(data: Any, name: str) -> Scope:
    """E1: validate a decoded scope document (``name``: how messages call it):
    its scale set as a trace's, each event kind's budget and values."""
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=_order)
    if errors:
        first = errors[0]
        raise ScopeError(f"{name}: {_place(first)}: {first.message}")
    if "scale_set" in data:
        written = [("scale_set", data["scale_set"])]
    else:
        written = [(f"scale_sets.{k}", s) for k, s in enumerate(data["scale_sets"])]
    initial = []
    for place, scale_set in written:
        trace = {"format": FORMAT, "scale_set": scale_set, "events": []}
        try:
            initial.append((parse_trace(trace).scale_set, scale_set))
        except TraceError as exc:  # it names the place as in a trace: /scale_set/...
            where = "" if place == "scale_set" else f"{place}: "
            raise ScopeError(f"{name}: {where}{exc}") from None
    credentials = sorted(set.intersection(*(set(c.credentials) for c, _ in initial)))
    choices = []
    for kind, spec in data["events"].items():
        params = {}
        for field, default in PARAMETERS[kind].items():
            given = spec.get(field, default if field != "name" else credentials)
            if field == "name":
                unknown = [n for n in given if n not in credentials]
                if unknown or not given:
                    what = unknown[0] if unknown else "(none declared)"
                    raise ScopeError(f"{name}: events.{kind}.name: unknown credential {what}")
            params[field] = list(dict.fromkeys(given))
        values = tuple(
            tuple(zip(params, combo, strict=True)) for combo in itertools.product(*params.values())
        )
        choices.append(EventChoice(kind, spec["budget"], values, spec.get("instances", 1)))
    return Scope(
        name=name,
        description=data.get("description", ""),
        initial=tuple(initial),
        choices=tuple(choices),
        pinned=dict(data.get("pinned", {})),
    )


def _order(error: jsonschema.ValidationError) -> tuple[int, str]:
    return len(error.absolute_path), _place(error)


#: the standard scopes, run by name (``vmss-spec check small``)
STANDARD = (
    "small",
    "rollback",
    "service-fabric",
    "credentials",
    "users",
    "configurations",
    "history",
    "long-pause",
    "today",
    "today-users",
)


def load_scope(where: str) -> Scope:
    """A standard scope by name, or a scope file (TOML or JSON) by path."""
    if where in STANDARD:
        text = resources.files("properties").joinpath("scopes", f"{where}.toml").read_text()
        return scope_from_data(tomllib.loads(text), where)
    path = Path(where)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScopeError(f"{where}: cannot read it ({exc.strerror or 'unreadable'})") from None
    if len(raw) > 1 << 20:
        raise ScopeError(f"{where}: larger than 1 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScopeError(f"{where}: not UTF-8 at byte {exc.start}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ScopeError(f"{where}: line {exc.lineno}: not JSON ({exc.msg})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScopeError(f"{where}: not TOML ({exc})") from None
    return scope_from_data(data, where)
