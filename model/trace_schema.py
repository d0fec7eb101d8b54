"""The JSON Schema of section 7's trace (``model/schema/trace.schema.json``)
and the messages of its refusals.

Two validators are compiled from the one schema: ``fastjsonschema``'s, for
the trace without its events and per event kind (dispatched on ``event``),
which only say yes or no; and ``jsonschema``'s, run again on the part that
failed for a message that names the JSON pointer and, where a rule decides
it (V9, V10), the rule.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema
import jsonschema

from model.jsontext import pointer, short

TRACE_FORMAT = "vmss-upgrade-trace/1"


@functools.cache
def _schema_text() -> str:
    return resources.files("model").joinpath("schema/trace.schema.json").read_text()


SEED, TODAY = "2018-10-01", "2024-07-01"  # T1: the values of scale_set.api_version


def _schema(api: str = SEED) -> dict[str, Any]:
    """The JSON Schema of section 7's trace (a fresh copy); with ``api``
    "2024-07-01", the same schema with section 9.16's names and bounds."""
    schema = json.loads(_schema_text())
    return _today(schema) if api == TODAY else schema


def _today(schema: dict[str, Any]) -> dict[str, Any]:
    """Section 9.16 (TV14): the new fields and event, and what changes, as a
    patch of section 7's schema (one source for both)."""
    defs = schema["$defs"]
    schema["$id"] += "/2024-07-01"
    props = defs["scale_set"]["properties"]
    props["automatic_os_upgrade_policy"] = {
        "type": "object",
        "properties": {
            "disable_automatic_rollback": {"type": "boolean"},
            "use_rolling_upgrade_policy": {"type": "boolean"},
        },
        "additionalProperties": False,
        "description": "T9",
    }
    props["first_rollout_delay_seconds"] = {
        "type": "integer",
        "minimum": 0,
        "maximum": 10800,
        "description": "T18: 0 to 10800 seconds",
    }
    probe = props["health_probe"]["oneOf"][1]
    props["health_probe"]["oneOf"].append(
        {"type": "array", "items": probe, "minItems": 1, "maxItems": 2, "description": "T6"}
    )
    fabric = props["service_fabric"]["oneOf"][1]["properties"]
    fabric["stateless_only"] = {"type": "boolean"}
    fabric["extension_version"] = {"$ref": "#/$defs/version"}
    fabric["extension_durability"] = {"enum": ["Bronze", "Silver", "Gold"]}
    policy = props["policy"]["properties"]
    del policy["automatic_rollback"]  # T8: T9's field takes its place
    policy["max_unhealthy_upgraded_instance_percent"]["type"] = "integer"  # T8: null is wrong
    defs["image_id"] = {**defs["name"], "maxLength": 1024, "description": "9.16: 1 to 1024"}
    defs["image"]["oneOf"][1]["properties"]["id"] = {"$ref": "#/$defs/image_id"}
    publish = defs["event_publish_image"]["properties"]
    publish["eligible_at"] = {"$ref": "#/$defs/time", "description": "T17"}
    publish["exclude_from_latest"] = {"type": "boolean", "description": "T16"}
    defs["event"]["properties"]["event"]["enum"].append("set_protection")
    defs["event"]["allOf"].append(
        {
            "if": {"properties": {"event": {"const": "set_protection"}}, "required": ["event"]},
            "then": {"$ref": "#/$defs/event_set_protection"},
        }
    )
    defs["event_set_protection"] = {
        "type": "object",
        "properties": {
            "at": {"$ref": "#/$defs/time"},
            "event": {"const": "set_protection"},
            "instances": {"$ref": "#/$defs/instance_ids"},
            "protect_from_scale_in": {"type": "boolean"},
            "protect_from_scale_set_actions": {"type": "boolean"},
        },
        "required": ["at", "event", "instances"],
        "additionalProperties": False,
        "description": "T27",
    }
    return schema


def api_of(data: Any) -> str:
    """T1: the trace's api_version when it is today's, else the seed's (a wrong
    value is refused by the seed's schema, which names the place)."""
    if isinstance(data, dict):
        scale_set = data.get("scale_set")
        if isinstance(scale_set, dict) and scale_set.get("api_version") == TODAY:
            return TODAY
    return SEED


@functools.cache
def _patterns() -> dict[str, str]:
    defs = _schema()["$defs"]
    return {
        "name": defs["name"]["pattern"],
        "version": defs["version"]["pattern"],
        "epoch": defs["scale_set"]["properties"]["epoch"]["pattern"],
    }


_DOLLAR = re.compile(r"(?<!\\)\$")


@functools.lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    # ECMA 262, the schema's dialect: `$` is the end of the string, not a newline before it.
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(checker: Any, instance: Any) -> bool:
    # Section 7: numbers that must be whole are integers; 10.0 is a wrong type.
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator_class() -> type[jsonschema.protocols.Validator]:
    schema = _schema(TODAY)
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    return jsonschema.validators.extend(
        base,
        validators={"pattern": _pattern},
        type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer),
    )


@functools.cache
def validator(api: str = SEED) -> jsonschema.protocols.Validator:
    """The JSON Schema's validator for a whole trace: the contract, and the
    reference the fast path is tested against."""
    return _validator_class()(_schema(api))


@functools.cache
def max_instance_ids() -> int:
    """Section 7: the most instance ids one event may name (the schema's maxItems)."""
    return int(_schema()["$defs"]["instance_ids"]["maxItems"])


def skeleton_validator(api: str = SEED) -> jsonschema.protocols.Validator:
    """The trace without looking into the events (each is checked on its own)."""
    schema = _schema(api)
    del schema["properties"]["events"]["items"]
    return _validator_class()(schema)


@functools.cache
def event_validator(api: str = SEED) -> jsonschema.protocols.Validator:
    schema = _schema(api)
    event = {k: schema[k] for k in ("$schema", "$id", "$defs")}
    return _validator_class()({**event, "$ref": "#/$defs/event"})


@functools.cache
def _fast_validators(
    api: str = SEED,
) -> tuple[Callable[[Any], Any], dict[str, Callable[[Any], Any]]]:
    """Compiled (fastjsonschema) checks from the same schema: the skeleton, and
    one per event kind (dispatched on `event`; each `event_<kind>` definition
    says all that the `event` definition says of that kind). They only say
    whether a trace is valid: a trace they refuse is checked again with
    jsonschema for the message."""
    schema = _schema(api)
    defs = schema["$defs"]

    def inline(node: Any) -> Any:  # no $ref left: nothing to resolve, nothing fetched
        if isinstance(node, dict):
            if "$ref" in node:
                target = inline(defs[node["$ref"].removeprefix("#/$defs/")])
                return {**target, **{k: inline(v) for k, v in node.items() if k != "$ref"}}
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    def compiled(definition: dict[str, Any]) -> Callable[[Any], Any]:
        return fastjsonschema.compile(inline(definition), use_default=False, use_formats=False)

    skeleton = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
    del skeleton["properties"]["events"]["items"]
    return compiled(skeleton), _PerKind(defs, compiled)


class _PerKind(dict):  # type: ignore[type-arg]
    """The check of each event kind, compiled when a trace first holds one (a
    replay of one kind of event does not wait for the other twelve); an
    unknown kind is a KeyError, as in a plain dict."""

    def __init__(self, defs: dict[str, Any], compile: Callable[[Any], Any]) -> None:
        super().__init__()
        self._defs, self._compile = defs, compile

    def __missing__(self, kind: str) -> Callable[[Any], Any]:
        definition = self._defs.get(f"event_{kind}") if isinstance(kind, str) else None
        if definition is None:
            raise KeyError(kind)
        self[kind] = check = self._compile(definition)
        return check


def fast_valid(data: Any, api: str = SEED) -> bool:
    skeleton, events = _fast_validators(api)
    try:
        skeleton(data)
        for event in data["events"]:
            events[event["event"]](event)
    except Exception:  # noqa: BLE001 - any failure: jsonschema finds and names it
        return False
    return True


def event_fast_valid(event: Any, api: str = SEED) -> bool:
    try:
        _fast_validators(api)[1][event["event"]](event)
    except Exception:  # noqa: BLE001
        return False
    return True


_RULE_BY_PLACE = {"/scale_set/instances": "V9", "/scale_set/policy/": "V10"}


def _path_key(path: Any) -> list[tuple[bool, Any]]:
    return [(isinstance(part, str), part) for part in path]


def _specific(error: jsonschema.ValidationError, prefix: tuple[Any, ...]) -> Any:
    """Descend from a failed ``oneOf`` to the cause in the branch that was meant."""
    while error.validator == "oneOf" and error.context:
        meant = [e for e in error.context if e.validator != "type" or e.instance is None]
        if not meant or pointer((*prefix, *error.absolute_path)) == "/scale_set/image":
            break
        error = jsonschema.exceptions.best_match(meant)
    return error


def _name_problem(text: str) -> str:
    for index, char in enumerate(text):
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"character {index} is a control character (U+{code:04X})"
        if 0xD800 <= code <= 0xDFFF:
            return f"character {index} is a lone surrogate (U+{code:04X})"
    return "it is not a name"  # pragma: no cover - the pattern says one of the above


def _pattern_message(instance: str, pattern: str) -> str | None:
    known = _patterns()
    if pattern == known["name"]:
        return f"{short(instance)}: {_name_problem(instance)}"
    if pattern == known["version"]:
        return (
            f"{short(instance)} is not a version: 1 to 8 dot-separated parts, "
            "each 1 to 9 digits 0-9"
        )
    if pattern == known["epoch"]:
        return (
            f"{short(instance)} is not an RFC 3339 date-time with an offset "
            "(such as 2018-10-01T00:00:00+00:00 or 2018-10-01T00:00:00Z)"
        )
    return None


def schema_message(errors: list[Any], prefix: tuple[Any, ...] = ()) -> str:
    """One line: the JSON pointer of the most relevant error and its problem."""
    errors.sort(key=lambda e: _path_key(e.absolute_path))
    best = _specific(jsonschema.exceptions.best_match(errors), prefix)
    where = pointer((*prefix, *best.absolute_path))
    instance = best.instance
    if where == "/scale_set/image" and best.validator == "oneOf":
        keys = sorted(instance) if isinstance(instance, dict) else instance
        return (
            f"{where}: an image is {{publisher, offer, sku, version}} or {{id}} "
            f"(a custom image), not {short(keys)}"
        )
    message = best.message
    explained = (
        _pattern_message(instance, best.validator_value) if best.validator == "pattern" else None
    )
    if best.validator == "additionalProperties":
        known = best.schema.get("properties", {})
        extras = [key for key in instance if key not in known]
        listed = ", ".join(short(key, 40) for key in extras[:5])
        more = ", ..." if len(extras) > 5 else ""
        verb = "was" if len(extras) == 1 else "were"
        message = f"unknown field ({listed}{more} {verb} unexpected)"
    elif best.validator == "enum" and where.endswith("/event"):
        message = f"unknown event {short(instance)}"
    elif best.validator == "const" and where == "/format":
        message = f"unknown format {short(instance)} (expected {TRACE_FORMAT!r})"
    elif explained is not None:
        message = explained
    elif best.validator == "maxLength":
        message = f"{short(instance)} is longer than {best.validator_value:,} characters"
    elif best.validator == "maxItems":
        message = f"{len(instance):,} items are more than {best.validator_value:,}"
    else:
        full = repr(instance)
        if len(full) > 60:
            message = message.replace(full, short(instance))
    if best.validator in ("minimum", "maximum", "pattern"):
        for place, rule in _RULE_BY_PLACE.items():
            if where == place or (place.endswith("/") and where.startswith(place)):
                message += f" ({rule})"
    return f"{where}: {message}"
