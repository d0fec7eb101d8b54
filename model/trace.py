"""The trace and result formats of SPEC section 7.

A trace (``vmss-upgrade-trace/1``) is data. Its bytes are decoded (UTF-8,
or UTF-16 / UTF-32 with a byte order mark, at most 64 MiB), parsed as one
JSON document (no duplicate key, no NaN or Infinity, at most 64 deep),
validated against ``model/schema/trace.schema.json``, checked for what a
schema cannot say (the epoch's calendar, times non-decreasing, credentials,
V9, V10, ``until``), and then turned into ``attrs`` types with ``cattrs``.
A trace that fails any of this raises ``TraceError``, one line naming the
place (a JSON pointer, ``FILE: byte offset N``, ``FILE:line:col``); nothing
runs. These are section 7's "Bounds of a well-formed trace".

Validation has a fast path: validators compiled from the same schema by
``fastjsonschema``, one for the trace without its events and one per event
kind, dispatched on ``event``. They say yes or no; a trace they refuse is
checked again with ``jsonschema``, on the part that failed, for the message.
The result (``vmss-upgrade-result/1``) goes back through the same converter.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import cattrs

from model.config import (
    TODAY_FIELDS,
    TODAY_SERVICE_FABRIC,
    HealthProbe,
    Policy,
    ScaleSetConfig,
    check_instance_count,
    check_policy,
)
from model.events import EVENT_TYPES, TODAY_EVENT_FIELDS, Event, Rejection
from model.history import UpgradeHistory
from model.jsontext import (
    EPOCH_YEARS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    TraceError,
    decode,
    display,
    loads_json,
    pointer,
    scan,
    short,
    too_large,
)
from model.trace_schema import (
    SEED,
    TODAY,
    TRACE_FORMAT,
    api_of,
    event_fast_valid,
    event_validator,
    fast_valid,
    max_instance_ids,
    schema_message,
    skeleton_validator,
)
from model.trace_today import check_today, not_modelled

# The loader's bounds and error are part of this module's interface.
__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "RESULT_FORMAT",
    "THIRTY_DAYS",
    "TRACE_FORMAT",
    "BatchView",
    "InstanceView",
    "InstanceViewToday",
    "Result",
    "ResultToday",
    "RunView",
    "RunViewToday",
    "Trace",
    "TraceError",
    "Violation",
    "WarningView",
    "converter",
    "event_to_dict",
    "load_trace",
    "load_trace_bytes",
    "load_trace_text",
    "parse_trace",
    "read_trace_bytes",
    "result_to_dict",
    "result_to_json",
    "structure_event",
    "trace_to_dict",
    "trace_to_json",
]

RESULT_FORMAT = "vmss-upgrade-result/1"
THIRTY_DAYS = 30 * 86400


@attrs.frozen
class Trace:
    """A scale set, the events that happen to it, and how long to watch."""

    scale_set: ScaleSetConfig
    events: tuple[Event, ...] = ()
    until: int | None = None
    format: str = TRACE_FORMAT
    #: the document read, but its events (for the property layer); loader-set only
    given: dict[str, Any] | None = attrs.field(default=None, init=False, eq=False, repr=False)


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
class InstanceViewToday(InstanceView):
    """T27 (with the switch only): an instance with its protection."""

    protection: dict[str, bool]


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
    rollback: dict[str, Any]


@attrs.frozen
class RunViewToday(RunView):
    """TD2 (with the switch only): a run with its effective policy, REST names."""

    policy: dict[str, Any]


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


@attrs.frozen(kw_only=True)
class ResultToday(Result):
    """T3, T65 (with the switch only): the marker, the get-latest view, and
    the instances and runs with section 9.16's keys."""

    instances: list[InstanceViewToday]  # type: ignore[assignment]
    runs: list[RunViewToday]  # type: ignore[assignment]
    api_version: str = "2024-07-01"
    latest: dict[str, Any] | None = None


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

    # T6: a health probe, or (with the switch) an array of one (that probe) or two.
    def probe(value: Any, _type: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            found = tuple(conv.structure(item, HealthProbe) for item in value)
            return found[0] if len(found) == 1 else found
        return conv.structure(value, HealthProbe)

    conv.register_structure_hook_func(
        lambda t: t == HealthProbe | tuple[HealthProbe, ...] | None, probe
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


_TODAY_ORDER = (
    *_RESULT_ORDER[:2],
    "api_version",
    *_RESULT_ORDER[2:5],
    "latest",
    *_RESULT_ORDER[5:],
)


def result_to_dict(result: Result) -> dict[str, Any]:
    """The result document as JSON data, its keys in section 7's order (T2:
    section 9's keys only with the switch, T3)."""
    data = converter.unstructure(result)
    return {k: data[k] for k in (_TODAY_ORDER if "api_version" in data else _RESULT_ORDER)}


def result_to_json(result: Result) -> str:
    """The result document, byte for byte the same for the same trace."""
    return json.dumps(result_to_dict(result), indent=2) + "\n"


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """A trace as the JSON of section 7 (how counterexamples are saved)."""
    data = converter.unstructure(trace)
    if data.get("until") is None:
        data.pop("until", None)
    scale_set = data["scale_set"]
    # Section 7: an image is publisher/offer/sku/version or {"id": ...}, never nulls.
    scale_set["image"] = {k: v for k, v in scale_set["image"].items() if v is not None}
    if trace.scale_set.api_version == TODAY:
        # T1: the switch first; a service_fabric extension_durability null is `durability`.
        data["scale_set"] = {"api_version": scale_set.pop("api_version"), **scale_set}
        fabric = scale_set.get("service_fabric")
        if fabric is not None and fabric["extension_durability"] is None:
            del fabric["extension_durability"]
        policy = scale_set["policy"]
        del policy["automatic_rollback"]  # T8: not a field today
        if policy["max_unhealthy_upgraded_instance_percent"] is None:  # T8: the default, 20
            del policy["max_unhealthy_upgraded_instance_percent"]
    else:  # T2: section 9's names are not written without the switch
        for name in TODAY_FIELDS:
            del scale_set[name]
        if scale_set.get("service_fabric") is not None:
            for name in TODAY_SERVICE_FABRIC:
                del scale_set["service_fabric"][name]
    today = trace.scale_set.api_version == TODAY
    data["events"] = [event_to_dict(event, today) for event in trace.events]
    return {k: data[k] for k in _TRACE_ORDER if k in data}


def event_to_dict(event: Event, today: bool = False) -> dict[str, Any]:
    """An event as the JSON of section 7 (T2: without the switch, none of
    section 9's fields; with it, ``eligible_at`` and ``exclude_from_latest``
    only when they are not the default)."""
    data = converter.unstructure(event)
    if not today:
        for name in TODAY_EVENT_FIELDS.get(event.NAME, ()):
            del data[name]
    else:  # given only when not the default (T16: with a platform image, never)
        if data.get("eligible_at", 0) is None:
            del data["eligible_at"]
        if data.get("exclude_from_latest") is False:
            del data["exclude_from_latest"]
    return data


def trace_to_json(trace: Trace) -> str:
    return json.dumps(trace_to_dict(trace), indent=2) + "\n"


# ----------------------------------------------------------------- parsing
def parse_trace(data: Any) -> Trace:
    """A decoded trace document, validated (D16: V9 or V10 make it malformed)."""
    return _parse(data, clean=False)


def _parse(data: Any, *, clean: bool) -> Trace:
    """``clean``: the JSON parser met nothing for scan (no duplicate key, NaN,
    fraction, huge integer); a deep document still fails the fast check."""
    api = api_of(data)
    if not (clean and fast_valid(data, api)):
        _diagnose(data, clean=clean, api=api)
    _check_semantics(data)
    if api == TODAY:
        check_today(data)
    try:
        scale_set = converter.structure(data["scale_set"], ScaleSetConfig)
        events = tuple(structure_event(ev) for ev in data["events"])
    except cattrs.BaseValidationError as exc:  # pragma: no cover - the schema comes first
        raise TraceError(f"/: {cattrs.transform_error(exc)[0]}") from None
    trace = Trace(scale_set, events, data.get("until"))
    object.__setattr__(trace, "given", {k: v for k, v in data.items() if k != "events"})
    return trace


def _diagnose(data: Any, *, clean: bool, api: str) -> None:
    """Find the first problem and raise it, part by part in the order of the
    file: the trace without its events (JSON-level problems, then the
    schema), then each event that may hold one (all of them unless ``clean``,
    else those the fast check refused). Returns if the schema finds nothing."""
    events_list = isinstance(data, dict) and isinstance(data.get("events"), list)
    problem, _ = scan(data, prune=("events",) if events_list else None)
    if problem is not None:
        raise TraceError(problem)
    if isinstance(data, dict) and "format" not in data:
        raise TraceError(f"/format: missing (expected {TRACE_FORMAT!r})")
    if isinstance(data, dict) and data["format"] != TRACE_FORMAT:
        raise TraceError(
            f"/format: unknown format {short(data['format'])} (expected {TRACE_FORMAT!r})"
        )
    if isinstance(data, dict) and isinstance(data.get("scale_set"), dict):
        version = data["scale_set"].get("api_version", SEED)
        if version not in (SEED, TODAY):  # T1: a wrong value, named first
            raise TraceError(
                f"/scale_set/api_version: {short(version)} is not {SEED!r} or {TODAY!r} (T1)"
            )
    if api == TODAY:
        refused = not_modelled(data)  # T1, 9.17: before anything is said of the names
        if refused is not None:
            raise TraceError(refused)
    errors = list(skeleton_validator(api).iter_errors(data))
    if errors:
        raise TraceError(schema_message(errors))
    events = event_validator(api)
    for k, event in enumerate(data["events"]):
        if clean and event_fast_valid(event, api):
            continue
        problem, has_float = scan(event, ("events", k))
        if problem is not None:
            raise TraceError(problem)
        # A fraction is checked by jsonschema: the fast check takes 10.0 for an integer.
        if has_float or not event_fast_valid(event, api):
            _check_id_lists(event, k)  # before jsonschema walks a list item by item
            errors = list(events.iter_errors(event))
            if errors:
                raise TraceError(schema_message(errors, ("events", k)))


def _check_id_lists(event: Any, k: int) -> None:
    """Section 7's bound on the instances one event names, checked first and
    in constant time: the schema's own message, without validating a million
    items to report that there are too many."""
    if not isinstance(event, dict):
        return
    most = max_instance_ids()
    for key, value in event.items():
        if isinstance(value, list) and len(value) > most:
            where = pointer(("events", k, key))
            raise TraceError(f"{where}: {len(value):,} items are more than {most:,}")


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
    shown = display(source)
    return _load_text(decode(data, shown), shown)


def load_trace_text(text: str, source: str = "trace") -> Trace:
    """Validate and convert the text of a trace."""
    return _load_text(text, display(source))


def _load_text(text: str, shown: str) -> Trace:
    data, flagged = loads_json(text, shown)
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
        raise TraceError(f"{display(source)}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large(display(source), None)
    return data


def load_trace(path: str | Path) -> Trace:
    """Read, validate and convert a trace file; TraceError names the place."""
    source = str(path)
    shown = display(source)
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
            raise too_large(shown, info.st_size)
        data = read_trace_bytes(file, source)
    return load_trace_bytes(data, source)
