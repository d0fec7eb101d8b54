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


def _schema() -> dict[str, Any]:
    """The JSON Schema of section 7's trace (a fresh copy)."""
    return json.loads(_schema_text())


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
    schema = _schema()
    base = jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    return jsonschema.validators.extend(
        base,
        validators={"pattern": _pattern},
        type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer),
    )


@functools.cache
def validator() -> jsonschema.protocols.Validator:
    """The JSON Schema's validator for a whole trace: the contract, and the
    reference the fast path is tested against."""
    return _validator_class()(_schema())


@functools.cache
@functools.cache
def max_instance_ids() -> int:
    """Section 7: the most instance ids one event may name (the schema's maxItems)."""
    return int(_schema()["$defs"]["instance_ids"]["maxItems"])


def skeleton_validator() -> jsonschema.protocols.Validator:
    """The trace without looking into the events (each is checked on its own)."""
    schema = _schema()
    del schema["properties"]["events"]["items"]
    return _validator_class()(schema)


@functools.cache
def event_validator() -> jsonschema.protocols.Validator:
    schema = _schema()
    event = {k: schema[k] for k in ("$schema", "$id", "$defs")}
    return _validator_class()({**event, "$ref": "#/$defs/event"})


@functools.cache
def _fast_validators() -> tuple[Callable[[Any], Any], dict[str, Callable[[Any], Any]]]:
    """Compiled (fastjsonschema) checks from the same schema: the skeleton, and
    one per event kind (dispatched on `event`; each `event_<kind>` definition
    says all that the `event` definition says of that kind). They only say
    whether a trace is valid: a trace they refuse is checked again with
    jsonschema for the message."""
    schema = _schema()
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
    events = {
        name.removeprefix("event_"): compiled(definition)
        for name, definition in defs.items()
        if name.startswith("event_")
    }
    return compiled(skeleton), events


def fast_valid(data: Any) -> bool:
    skeleton, events = _fast_validators()
    try:
        skeleton(data)
        for event in data["events"]:
            events[event["event"]](event)
    except Exception:  # noqa: BLE001 - any failure: jsonschema finds and names it
        return False
    return True


def event_fast_valid(event: Any) -> bool:
    try:
        _fast_validators()[1][event["event"]](event)
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
