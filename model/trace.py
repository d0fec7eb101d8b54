"""The trace and result formats of SPEC section 7.

A trace (``vmss-upgrade-trace/1``) is data: it is parsed as JSON, validated
against ``model/schema/trace.schema.json`` with ``jsonschema``, checked for
the rules a schema cannot say (times non-decreasing, declared credentials,
V9, ``until``), and only then turned into ``attrs`` types with ``cattrs``.
A trace that fails any of this raises ``TraceError`` with one line naming
the place; nothing runs. The result (``vmss-upgrade-result/1``) goes the
other way through the same converter.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import cattrs
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
def _schema() -> dict[str, Any]:
    text = resources.files("model").joinpath("schema/trace.schema.json").read_text()
    return json.loads(text)


_VALIDATOR: jsonschema.protocols.Validator | None = None


def validator() -> jsonschema.protocols.Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = _schema()
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATOR = cls(schema)
    return _VALIDATOR


def _pointer(path: Any) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


_RULE_BY_PLACE = {"/scale_set/instances": "V9", "/scale_set/policy/": "V10"}


def _specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Descend from a failed ``oneOf`` to the cause in the branch that was meant."""
    while error.validator == "oneOf" and error.context:
        meant = [e for e in error.context if e.validator != "type" or e.instance is None]
        if not meant or _pointer(error.absolute_path) == "/scale_set/image":
            break
        error = jsonschema.exceptions.best_match(meant)
    return error


def _schema_message(error: jsonschema.ValidationError) -> str:
    best = _specific(jsonschema.exceptions.best_match([error]))
    where = _pointer(best.absolute_path)
    if where == "/scale_set/image" and best.validator == "oneOf":
        keys = sorted(best.instance) if isinstance(best.instance, dict) else best.instance
        return (
            f"{where}: an image is {{publisher, offer, sku, version}} or {{id}} "
            f"(a custom image), not {keys}"
        )
    message = best.message
    if best.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown field")
    elif best.validator == "enum" and where.endswith("/event"):
        message = f"unknown event {best.instance!r}"
    elif best.validator == "const" and where == "/format":
        message = f"unknown format {best.instance!r} (expected {TRACE_FORMAT!r})"
    if best.validator in ("minimum", "maximum", "pattern"):
        for place, rule in _RULE_BY_PLACE.items():
            if where == place or (place.endswith("/") and where.startswith(place)):
                message += f" ({rule})"
    return f"{where}: {message}"


def parse_trace(data: Any) -> Trace:
    """Validate a decoded trace document and turn it into a Trace. D16: a V9 or
    V10 error in the initial scale set makes the trace malformed."""
    if isinstance(data, dict) and "format" not in data:
        raise TraceError(f"/format: missing (expected {TRACE_FORMAT!r})")
    if isinstance(data, dict) and data["format"] != TRACE_FORMAT:
        raise TraceError(
            f"/format: unknown format {data.get('format')!r} (expected {TRACE_FORMAT!r})"
        )
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        deepest = jsonschema.exceptions.best_match(errors)
        raise TraceError(_schema_message(deepest))
    _check_semantics(data)
    try:
        scale_set = converter.structure(data["scale_set"], ScaleSetConfig)
        events = tuple(structure_event(ev) for ev in data["events"])
    except cattrs.BaseValidationError as exc:  # pragma: no cover - the schema comes first
        raise TraceError(f"/: {cattrs.transform_error(exc)[0]}") from None
    return Trace(scale_set=scale_set, events=events, until=data.get("until"))


def _check_semantics(data: dict[str, Any]) -> None:
    """The rules of section 7 that the schema cannot express."""
    scale_set = data["scale_set"]
    try:
        datetime.fromisoformat(scale_set.get("epoch", "2018-10-01T00:00:00+00:00"))
    except ValueError:
        raise TraceError(
            f"/scale_set/epoch: {scale_set['epoch']!r} is not an ISO 8601 time"
        ) from None
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


def load_trace_text(text: str, source: str = "trace") -> Trace:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    try:
        return parse_trace(data)
    except TraceError as exc:
        raise TraceError(f"{source}: {exc}") from None


def load_trace(path: str | Path) -> Trace:
    """Read, validate and convert a trace file; TraceError names the place."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return load_trace_text(text, str(path))
