"""The trace and result formats of SPEC section 7.

A trace (``vmss-upgrade-trace/1``) is data. Its bytes are decoded (UTF-8,
or UTF-16 / UTF-32 with a byte order mark, at most 64 MiB), parsed as one
JSON document (no duplicate key, no NaN or Infinity, at most 64 deep),
validated against ``model/schema/trace.schema.json``, checked for the rules
a schema cannot say (the epoch's calendar, times non-decreasing, declared
credentials, V9, V10, ``until``), and only then turned into ``attrs`` types
with ``cattrs``. A trace that fails any of this raises ``TraceError`` with
one line naming the place (a JSON pointer, ``FILE: byte offset N`` or
``FILE:line:col``); nothing runs. These are section 7's "Bounds of a
well-formed trace".

Validation has a fast path: validators compiled from the same schema by
``fastjsonschema``, one for the trace without its events and one per event
kind, dispatched on ``event``. They only say yes or no; a trace they refuse
is checked again with ``jsonschema``, on the part that failed, for the
message. The result (``vmss-upgrade-result/1``) goes the other way through
the same converter.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import cattrs
import fastjsonschema
import jsonschema

from model.config import Policy, ScaleSetConfig, check_instance_count, check_policy
from model.events import EVENT_TYPES, Event, Rejection
from model.history import UpgradeHistory

TRACE_FORMAT = "vmss-upgrade-trace/1"
RESULT_FORMAT = "vmss-upgrade-result/1"
THIRTY_DAYS = 30 * 86400


class TraceError(ValueError):
    """A malformed trace: exit status 2, one line naming the place."""


@attrs.frozen
class Trace:
    """A scale set, the events that happen to it, and how long to watch."""

    scale_set: ScaleSetConfig
    events: tuple[Event, ...] = ()
    until: int | None = None
    format: str = TRACE_FORMAT


# ----------------------------------------------------------------- result types
@attrs.frozen
class InstanceView:
    id: int
    image_version: str
    power_state: str
    provisioning_state: str
    healthy: bool
    update_domain: int | None
    os_disk: str
    data_disks: list[str]


@attrs.frozen
class BatchView:
    instances: list[int]
    start: int
    end: int | None


@attrs.frozen
class RunView:
    started_by: str
    target_version: str
    code: str
    error: dict[str, str] | None
    start: int
    end: int | None
    batches: list[BatchView]
    progress: dict[str, int]
    rollback: dict[str, int]


@attrs.frozen
class WarningView:
    rule: str
    message: str


@attrs.frozen
class Violation:
    """An invariant (I1-I12) or bounded progress property (L1, L2) that failed."""

    invariant: str
    at: int
    message: str


@attrs.frozen
class Result:
    """Section 7 `vmss-upgrade-result/1`."""

    time: int
    instances: list[InstanceView]
    runs: list[RunView]
    history: UpgradeHistory
    rejected: list[Rejection]
    warnings: list[WarningView]
    violations: list[Violation]
    format: str = RESULT_FORMAT


# ----------------------------------------------------------------- conversion
def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    for name, cls in EVENT_TYPES.items():
        base = cattrs.gen.make_dict_unstructure_fn(cls, conv)

        def unstructure(ev: Any, _base: Any = base, _name: str = name) -> dict[str, Any]:
            body = _base(ev)
            return {"at": body.pop("at"), "event": _name, **body}

        conv.register_unstructure_hook(cls, unstructure)
    # Instance id lists: the schema has checked every id (an integer in range)
    # before anything is structured, so no per-element conversion.
    conv.register_structure_hook_func(
        lambda t: t == tuple[int, ...], lambda value, _type: tuple(value)
    )
    return conv


converter = _make_converter()

_RESULT_ORDER = (
    "format",
    "time",
    "instances",
    "runs",
    "history",
    "rejected",
    "warnings",
    "violations",
)
_TRACE_ORDER = ("format", "scale_set", "events", "until")


def structure_event(data: dict[str, Any]) -> Event:
    body = {k: v for k, v in data.items() if k != "event"}
    return converter.structure(body, EVENT_TYPES[data["event"]])


def result_to_json(result: Result) -> str:
    """The result document, byte for byte the same for the same trace."""
    data = converter.unstructure(result)
    return json.dumps({k: data[k] for k in _RESULT_ORDER}, indent=2) + "\n"


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """A trace as the JSON of section 7 (how counterexamples are saved)."""
    data = converter.unstructure(trace)
    if data.get("until") is None:
        data.pop("until", None)
    # Section 7: an image is publisher/offer/sku/version or {"id": ...}, never nulls.
    image = data["scale_set"]["image"]
    data["scale_set"]["image"] = {k: v for k, v in image.items() if v is not None}
    return {k: data[k] for k in _TRACE_ORDER if k in data}


def trace_to_json(trace: Trace) -> str:
    return json.dumps(trace_to_dict(trace), indent=2) + "\n"


# ----------------------------------------------------------------- loading
# Section 7, "Bounds of a well-formed trace". The byte and JSON bounds are
# enforced here; the bounds of values (times, names, versions, ids, counts,
# data disks, the number of events) are in the JSON Schema; the epoch's
# calendar and years, and the rules across fields, in _check_semantics.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
EPOCH_YEARS = (1970, 9000)

# Byte order marks, longest first: UTF-32 LE's begins with UTF-16 LE's.
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16 LE"),
)
# C0 controls other than tab, line feed and carriage return: JSON text never
# holds one raw (inside a string it is escaped, outside a string it is not
# allowed). In UTF-8 these bytes are never part of a longer sequence.
_CONTROLS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
_CONTROL_SET = _CONTROLS.encode()
_CONTROL_BYTES = re.compile(b"[" + re.escape(_CONTROLS.encode()) + b"]")
_CONTROL_CHARS = re.compile("[" + re.escape(_CONTROLS) + "]")


def _too_large(source: str, size: int | None) -> TraceError:
    has = f"{size:,} bytes" if size is not None else "more"
    return TraceError(
        f"{source}: byte offset {MAX_FILE_BYTES}: a trace is at most 64 MiB "
        f"({MAX_FILE_BYTES:,} bytes); this one has {has}"
    )


def _decode(data: bytes, source: str) -> str:
    """Section 7: UTF-8 with or without a byte order mark, or UTF-16 / UTF-32
    with one; anything else is refused at the byte offset of the first bad byte."""
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(source, len(data))
    skip, codec, label = 0, "utf-8", "UTF-8"
    for bom, name, what in _BOMS:
        if data.startswith(bom):
            skip, codec, label = len(bom), name, what
            break
    body = memoryview(data)[skip:]
    bad: UnicodeDecodeError | None = None
    try:
        text = str(body, codec)
    except UnicodeDecodeError as exc:
        bad = exc
        text = str(body[: exc.start], codec)  # the good part before it
    if codec == "utf-8":
        end = skip + len(body) if bad is None else skip + bad.start
        clean = len(data.translate(None, _CONTROL_SET)) == len(data)  # faster than search
        control = None if clean else _CONTROL_BYTES.search(data, skip, end)
        offset = None if control is None else control.start()
    else:
        control = _CONTROL_CHARS.search(text)
        offset = None if control is None else skip + len(text[: control.start()].encode(codec))
    if control is not None:
        code = ord(control.group())
        hint = " (UTF-16 and UTF-32 need a byte order mark)" if code == 0 and skip == 0 else ""
        raise TraceError(
            f"{source}: byte offset {offset}: control character U+{code:04X} "
            f"is not allowed in JSON text{hint}"
        )
    if bad is not None:
        offset = skip + bad.start
        if codec == "utf-8":
            raise TraceError(
                f"{source}: byte offset {offset}: byte 0x{data[offset]:02x} is not UTF-8 "
                "(a trace is UTF-8, or UTF-16 or UTF-32 with a byte order mark)"
            )
        raise TraceError(f"{source}: byte offset {offset}: not {label} text ({bad.reason})")
    return text


class _Duplicate(dict):
    """An object in which ``key`` appeared more than once."""

    key: str = ""


class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's json reads them, JSON has none."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


class _HugeInteger:
    """An integer literal longer than Python converts (sys.get_int_max_str_digits)."""

    __slots__ = ("digits",)

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))


class _Float(float):
    """A number too large for a float (1e400), shown as it was written."""

    def __new__(cls, literal: str) -> _Float:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number

    def __repr__(self) -> str:
        return self.literal


def _integer(literal: str) -> int | _HugeInteger:
    limit = sys.get_int_max_str_digits()
    if limit and len(literal.lstrip("-")) > limit:
        return _HugeInteger(literal)
    return int(literal)


def _loads(text: str, source: str) -> tuple[Any, bool]:
    """Parse one JSON document; returns it and whether the parser met anything
    that _scan must look at (a duplicate key, NaN or Infinity, a fraction or
    an exponent, a huge integer). Syntax errors name ``source:line:col``."""
    flagged = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal flagged
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        flagged = True
        seen: set[str] = set()
        duplicate = _Duplicate(obj)
        duplicate.key = next(k for k, _ in items if k in seen or seen.add(k))
        return duplicate

    def constant(literal: str) -> _Constant:
        nonlocal flagged
        flagged = True
        return _Constant(literal)

    def number(literal: str) -> float:
        nonlocal flagged
        flagged = True
        value = float(literal)
        return value if math.isfinite(value) else _Float(literal)  # 1e400, not inf

    hooks: dict[str, Any] = {
        "object_pairs_hook": pairs,
        "parse_constant": constant,
        "parse_float": number,
    }
    try:
        try:
            data = json.JSONDecoder(**hooks).decode(text)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer literal past Python's digit limit: read again, marking it.
            data = json.JSONDecoder(**hooks, parse_int=_integer).decode(text)
            flagged = True
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        where = _too_deep_in_text(text) or f"/: nesting deeper than {MAX_DEPTH}"
        raise TraceError(f"{source}: {where}") from None
    return data, flagged


_STRUCTURE = re.compile(r'[\[\]{}",]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _too_deep_in_text(text: str) -> str | None:
    """The place of the first value nested deeper than MAX_DEPTH, found by a
    scan of the text that does not recurse (the parser gave up on the depth);
    None if there is none before the text stops being JSON."""
    path: list[Any] = []  # the current child of each open array or object
    in_object: list[bool] = []
    expect_key = False
    pos = 0
    while (match := _STRUCTURE.search(text, pos)) is not None:
        char, pos = match.group(), match.end()
        if char == '"':
            rest = _STRING_REST.match(text, pos)
            if rest is None:
                break
            if expect_key:
                try:
                    path[-1] = json.loads(text[pos - 1 : rest.end()])
                except ValueError:
                    path[-1] = text[pos : rest.end() - 1]
                expect_key = False
            pos = rest.end()
        elif char in "[{":
            if len(in_object) == MAX_DEPTH:
                return f"{_pointer(path)}: nesting deeper than {MAX_DEPTH}"
            in_object.append(char == "{")
            path.append("" if char == "{" else 0)
            expect_key = char == "{"
        elif char in "]}":
            if not in_object:
                break
            in_object.pop()
            path.pop()
            expect_key = False
        elif in_object:  # a comma
            if in_object[-1]:
                expect_key = True
            else:
                path[-1] += 1
    return None


def _scan(data: Any, at: tuple[Any, ...] = (), prune: Any = None) -> tuple[str | None, bool]:
    """Walk a value found at path ``at`` without recursing, in document order:
    the first JSON-level problem (nesting deeper than MAX_DEPTH, a duplicate
    key, NaN or Infinity, an integer too long to convert), and whether it holds
    a number with a fraction or an exponent (no field takes one: the schema
    names the type). The children of the container at path ``prune`` are not
    visited (the events, each checked on its own)."""
    bits = sys.get_int_max_str_digits() * 3.3219  # 0: no limit
    has_float = False

    def problem(value: Any, where: tuple[Any, ...]) -> str | None:
        if isinstance(value, dict | list):
            if len(where) >= MAX_DEPTH:
                return f"{_pointer(where)}: nesting deeper than {MAX_DEPTH}"
            if isinstance(value, _Duplicate):
                return f"{_pointer(where)}: duplicate key {_short(value.key)}"
        elif isinstance(value, _Constant):
            return (
                f"{_pointer(where)}: {value.literal} is not a JSON number "
                "(no NaN or Infinity in a trace)"
            )
        elif isinstance(value, _HugeInteger):
            return f"{_pointer(where)}: an integer of {value.digits:,} digits is out of range"
        elif isinstance(value, int) and bits and value.bit_length() > bits:
            # Only from Python data (JSON text gives _HugeInteger): too long to print.
            return f"{_pointer(where)}: an integer of more than {bits / 3.3219:,.0f} digits"
        return None

    found = problem(data, at)
    if found is not None or not isinstance(data, dict | list):
        return found, isinstance(data, float)
    stack: list[tuple[tuple[Any, ...], Any]] = [(at, _children(data, at == prune))]
    while stack:
        path, children = stack[-1]
        for key, child in children:
            kind = type(child)
            if kind is str or kind is bool or child is None:
                continue
            if kind is int and not (bits and child.bit_length() > bits):
                continue
            where = (*path, key)
            found = problem(child, where)
            if found is not None:
                return found, has_float
            if isinstance(child, dict | list):
                stack.append((where, _children(child, where == prune)))
                break
            has_float = has_float or isinstance(child, float)
        else:
            stack.pop()
    return None, has_float


def _children(value: dict[str, Any] | list[Any], pruned: bool) -> Any:
    if pruned:
        return iter(())
    return iter(value.items()) if isinstance(value, dict) else enumerate(value)


def _display(text: str) -> str:
    """Text for a one-line message: control characters, lone surrogates and
    other unprintable characters escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _pointer(path: Any) -> str:
    """A JSON pointer (RFC 6901), each segment shown printable and at most 64 characters."""
    segments = []
    for part in path:
        text = str(part).replace("~", "~0").replace("/", "~1")
        if len(text) > 64:
            text = text[:48] + f"...({len(text):,} characters)"
        segments.append(_display(text))
    return "/" + "/".join(segments)


def _short(value: Any, limit: int = 60) -> str:
    """repr() for a message: a long string, list, object or integer is cut short."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
        return digits if len(digits) <= 24 else f"{digits[:12]}...({len(digits):,} digits)"
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        head = repr(value[: limit // 2])
        return f"{head[:-1]}...{head[-1]} ({len(value):,} characters)"
    if isinstance(value, list):
        head = ", ".join(_short(item, 20) for item in value[:3])
        return f"[{head}, ...] ({len(value):,} items)"
    if isinstance(value, dict):
        head = ", ".join(f"{_short(key, 20)}: ..." for key in list(value)[:3])
        return f"{{{head}, ...}} ({len(value):,} fields)"
    return text[:limit] + "..."


# ----------------------------------------------------------------- the JSON Schema
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
def _skeleton_validator() -> jsonschema.protocols.Validator:
    """The trace without looking into the events (each is checked on its own)."""
    schema = _schema()
    del schema["properties"]["events"]["items"]
    return _validator_class()(schema)


@functools.cache
def _event_validator() -> jsonschema.protocols.Validator:
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


def _fast_valid(data: Any) -> bool:
    skeleton, events = _fast_validators()
    try:
        skeleton(data)
        for event in data["events"]:
            events[event["event"]](event)
    except Exception:  # noqa: BLE001 - any failure: jsonschema finds and names it
        return False
    return True


def _event_fast_valid(event: Any) -> bool:
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
        if not meant or _pointer((*prefix, *error.absolute_path)) == "/scale_set/image":
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
        return f"{_short(instance)}: {_name_problem(instance)}"
    if pattern == known["version"]:
        return (
            f"{_short(instance)} is not a version: 1 to 8 dot-separated parts, "
            "each 1 to 9 digits 0-9"
        )
    if pattern == known["epoch"]:
        return (
            f"{_short(instance)} is not an RFC 3339 date-time with an offset "
            "(such as 2018-10-01T00:00:00+00:00 or 2018-10-01T00:00:00Z)"
        )
    return None


def _schema_message(errors: list[Any], prefix: tuple[Any, ...] = ()) -> str:
    """One line: the JSON pointer of the most relevant error and its problem."""
    errors.sort(key=lambda e: _path_key(e.absolute_path))
    best = _specific(jsonschema.exceptions.best_match(errors), prefix)
    where = _pointer((*prefix, *best.absolute_path))
    instance = best.instance
    if where == "/scale_set/image" and best.validator == "oneOf":
        keys = sorted(instance) if isinstance(instance, dict) else instance
        return (
            f"{where}: an image is {{publisher, offer, sku, version}} or {{id}} "
            f"(a custom image), not {_short(keys)}"
        )
    message = best.message
    explained = (
        _pattern_message(instance, best.validator_value) if best.validator == "pattern" else None
    )
    if best.validator == "additionalProperties":
        known = best.schema.get("properties", {})
        extras = [key for key in instance if key not in known]
        listed = ", ".join(_short(key, 40) for key in extras[:5])
        more = ", ..." if len(extras) > 5 else ""
        verb = "was" if len(extras) == 1 else "were"
        message = f"unknown field ({listed}{more} {verb} unexpected)"
    elif best.validator == "enum" and where.endswith("/event"):
        message = f"unknown event {_short(instance)}"
    elif best.validator == "const" and where == "/format":
        message = f"unknown format {_short(instance)} (expected {TRACE_FORMAT!r})"
    elif explained is not None:
        message = explained
    elif best.validator == "maxLength":
        message = f"{_short(instance)} is longer than {best.validator_value:,} characters"
    elif best.validator == "maxItems":
        message = f"{len(instance):,} items are more than {best.validator_value:,}"
    else:
        full = repr(instance)
        if len(full) > 60:
            message = message.replace(full, _short(instance))
    if best.validator in ("minimum", "maximum", "pattern"):
        for place, rule in _RULE_BY_PLACE.items():
            if where == place or (place.endswith("/") and where.startswith(place)):
                message += f" ({rule})"
    return f"{where}: {message}"


# ----------------------------------------------------------------- parsing
def parse_trace(data: Any) -> Trace:
    """Validate a decoded trace document and turn it into a Trace. D16: a V9 or
    V10 error in the initial scale set makes the trace malformed."""
    return _parse(data, clean=False)


def _parse(data: Any, *, clean: bool) -> Trace:
    """``clean``: the JSON parser met nothing for _scan (no duplicate key, NaN,
    fraction or huge integer); a deep document still fails the fast check."""
    if not (clean and _fast_valid(data)):
        _diagnose(data, clean=clean)
    _check_semantics(data)
    try:
        scale_set = converter.structure(data["scale_set"], ScaleSetConfig)
        events = tuple(structure_event(ev) for ev in data["events"])
    except cattrs.BaseValidationError as exc:  # pragma: no cover - the schema comes first
        raise TraceError(f"/: {cattrs.transform_error(exc)[0]}") from None
    return Trace(scale_set=scale_set, events=events, until=data.get("until"))


def _diagnose(data: Any, *, clean: bool) -> None:
    """Find the first problem and raise it, part by part in the order of the
    file: the trace without its events (JSON-level problems, then the
    schema), then each event that may hold one (all of them unless ``clean``,
    else those the fast check refused). Returns if the schema finds nothing."""
    events_list = isinstance(data, dict) and isinstance(data.get("events"), list)
    problem, _ = _scan(data, prune=("events",) if events_list else None)
    if problem is not None:
        raise TraceError(problem)
    if isinstance(data, dict) and "format" not in data:
        raise TraceError(f"/format: missing (expected {TRACE_FORMAT!r})")
    if isinstance(data, dict) and data["format"] != TRACE_FORMAT:
        raise TraceError(
            f"/format: unknown format {_short(data['format'])} (expected {TRACE_FORMAT!r})"
        )
    errors = list(_skeleton_validator().iter_errors(data))
    if errors:
        raise TraceError(_schema_message(errors))
    events = _event_validator()
    for k, event in enumerate(data["events"]):
        if clean and _event_fast_valid(event):
            continue
        problem, has_float = _scan(event, ("events", k))
        if problem is not None:
            raise TraceError(problem)
        # A fraction is checked by jsonschema: the fast check takes 10.0 for an integer.
        if has_float or not _event_fast_valid(event):
            errors = list(events.iter_errors(event))
            if errors:
                raise TraceError(_schema_message(errors, ("events", k)))


def _check_semantics(data: dict[str, Any]) -> None:
    """The rules of section 7 that the schema cannot express."""
    scale_set = data["scale_set"]
    if "epoch" in scale_set:
        epoch = scale_set["epoch"]
        try:
            year = datetime.fromisoformat(epoch).year
        except ValueError as exc:
            raise TraceError(f"/scale_set/epoch: {epoch!r} is not a date-time: {exc}") from None
        if not EPOCH_YEARS[0] <= year <= EPOCH_YEARS[1]:
            raise TraceError(
                f"/scale_set/epoch: year {year} is outside {EPOCH_YEARS[0]} to {EPOCH_YEARS[1]}"
            )
    found = check_instance_count(
        scale_set["instances"], scale_set.get("single_placement_group", True)
    )
    if found is not None:
        raise TraceError(f"/scale_set/instances: {found.message} (V9)")
    policy = converter.structure(scale_set.get("policy", {}), Policy)
    for finding in check_policy(policy):
        raise TraceError(f"/scale_set/{finding.field.replace('.', '/')}: {finding.message} (V10)")
    declared = set(scale_set.get("credentials", {}))
    for e, ext in enumerate(scale_set.get("extensions", [])):
        for c, name in enumerate(ext.get("credentials", [])):
            if name not in declared:
                raise TraceError(
                    f"/scale_set/extensions/{e}/credentials/{c}: "
                    f"credential {name!r} is not declared"
                )
    previous = 0
    for k, ev in enumerate(data["events"]):
        if ev["at"] < previous:
            raise TraceError(
                f"/events/{k}/at: {ev['at']} is before the previous event's time {previous}"
            )
        previous = ev["at"]
        if "name" in ev and ev["name"] not in declared:
            raise TraceError(f"/events/{k}/name: credential {ev['name']!r} is not declared")
    until = data.get("until")
    if until is not None and until < previous:
        raise TraceError(f"/until: {until} is before the last event's time {previous}")


# ----------------------------------------------------------------- files
def load_trace_bytes(data: bytes, source: str) -> Trace:
    """Decode, validate and convert the bytes of a trace file; ``source`` (a
    path, ``-``) starts every TraceError, which names the place in one line."""
    shown = _display(source)
    return _load_text(_decode(data, shown), shown)


def load_trace_text(text: str, source: str = "trace") -> Trace:
    """Validate and convert the text of a trace."""
    return _load_text(text, _display(source))


def _load_text(text: str, shown: str) -> Trace:
    data, flagged = _loads(text, shown)
    try:
        return _parse(data, clean=not flagged)
    except TraceError as exc:
        raise TraceError(f"{shown}: {exc}") from None


def read_trace_bytes(file: BinaryIO, source: str) -> bytes:
    """At most MAX_FILE_BYTES from an open file (a pipe, standard input, a
    device): one byte more is refused, before anything else is read."""
    try:
        data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise TraceError(f"{_display(source)}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(_display(source), None)
    return data


def load_trace(path: str | Path) -> Trace:
    """Read, validate and convert a trace file; TraceError names the place."""
    source = str(path)
    shown = _display(source)
    try:
        file = open(path, "rb")
    except OSError as exc:
        raise TraceError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise TraceError(f"{shown}: cannot read: {exc}") from None
    with file:
        info = os.fstat(file.fileno())
        # The size first, where the file has one: nothing is read past the bound.
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_FILE_BYTES:
            raise _too_large(shown, info.st_size)
        data = read_trace_bytes(file, source)
    return load_trace_bytes(data, source)
