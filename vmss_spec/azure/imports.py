"""From a file of Azure's to a trace: the scale set imported, checked by the
model's own loader (bounds, V9, V10) and configuration checks (V1-V8, or
today's with the switch), each finding said in Azure's paths."""

from __future__ import annotations

import json
from typing import Any

from model.config import check_errors, check_warnings
from model.jsontext import short
from model.today import check_errors_today, check_warnings_today
from model.trace import Trace, TraceError, parse_trace
from vmss_spec.azure.importer import Imported, Options, import_scale_set
from vmss_spec.azure.read import AzureInputError, read_json, scale_set_document

FORMAT = "vmss-upgrade-trace/1"

#: what each rule asks, in the words of a finding line
_REQUIRES = {
    "V1": "must be a supported sku (R9)",
    "V2": 'must be "latest"',
    "V3": "must be a platform image (publisher, offer, sku)",
    "V4": "must be absent: Azure Disk Encryption cannot be upgraded automatically",
    "V5": "must be a probe on a Standard load balancer with multiple placement groups",
    "V6": 'must be "Silver" or "Gold"',
    "V7": "should be below 120 seconds",
    "V8": "a health probe is recommended",
    "V9": "must be 0 to 1000, at most 100 in a single placement group",
    "V10": "must be in range",
    "TV1": "a health probe or the Application Health extension is required",
    "TV2": "must not be both a load balancer probe and the Application Health extension",
    "TV7": 'must be "Silver" or "Gold" unless the node type is stateless',
    "TV8": "a health source is required for a stateless Bronze node type",
    "TV9": "must be 1.1 or later",
    "TV10": "must match the cluster's durability",
    "TW1": "is ignored by Platform runs unless useRollingUpgradePolicy is true",
}


def finding_line(rule: str, field: str, message: str, imported: Imported) -> str:
    """``<ARM path> is <value>, <what the rule asks> (<rule>)``."""
    origin = imported.origin.get(field)
    if origin is None and field.startswith("image.") and "image.id" in imported.origin:
        origin = imported.origin["image.id"]
    if origin is None:
        parent = field.rsplit(".", 1)[0]
        origin = imported.origin.get(parent, (field, None))
    path, value = origin
    if value is None:
        shown = "absent"
    elif field in ("health_probe", "disk_encryption"):
        shown = "Azure Disk Encryption" if field == "disk_encryption" else str(value)
    else:
        shown = json.dumps(value)
    requires = message if rule == "V10" else _REQUIRES.get(rule, message)
    return f"{path} is {shown}, {requires} ({rule})"


def trace_document(
    imported: Imported, publication: bool, first: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    """The trace: the scale set, the events ``first`` (what the instances
    are now), and with ``publication`` the next version published at time 0
    (its last part plus one, as section 8's TD5)."""
    events = list(first)
    if publication:
        version = next_version(imported.scale_set["catalog"][-1])
        events.append({"at": 0, "event": "publish_image", "version": version})
    return {"format": FORMAT, "scale_set": imported.scale_set, "events": events}


def checked(imported: Imported, document: dict[str, Any]) -> Trace:
    """The trace as the model's loader reads it; a refusal named in Azure's paths."""
    try:
        return parse_trace(document)
    except TraceError as exc:
        text = str(exc)
        place, _, rest = text.partition(": ")
        field = place.removeprefix("/scale_set/").replace("/", ".")
        origin = imported.origin.get(field) or imported.origin.get(field.split(".")[0])
        if origin is not None:
            raise AzureInputError(f"{origin[0]} is {short(origin[1])}: {rest}") from None
        raise AzureInputError(f"the imported scale set is refused: {text}") from None


def imported_trace(
    imported: Imported, publication: bool, first: tuple[dict[str, Any], ...] = ()
) -> Trace:
    """The trace of an import, checked by the loader before a publication of
    the next version is added (a version the loader refuses has no next)."""
    trace = checked(imported, trace_document(imported, publication=False))
    if not publication and not first:
        return trace
    return checked(imported, trace_document(imported, publication, first))


def findings(imported: Imported, trace: Trace) -> list[str]:
    """The configuration checks' errors, then warnings, in Azure's paths."""
    config = trace.scale_set
    if imported.api_version == "2024-07-01":
        found = check_errors_today(config) + check_warnings_today(config)
    else:
        found = check_errors(config) + check_warnings(config)
    return [finding_line(f.rule, f.field, f.message, imported) for f in found]


def load_azure(path: str, options: Options, name: str | None = None) -> tuple[Imported, str]:
    """Read and import a scale set file: (imported, the shape it came in)."""
    return import_value(read_json(path), path, options, name)


def import_value(
    value: Any, path: str, options: Options, name: str | None = None
) -> tuple[Imported, str]:
    """Import the scale set of a JSON value read from ``path``."""
    doc = scale_set_document(value, path, name)
    return import_scale_set(doc, options), doc.shape


def report_lines(imported: Imported, shape: str, trace: Trace) -> list[str]:
    """What stderr says of an import: the semantics and why, what was assumed,
    what is not covered, the configuration findings."""
    name = "today's (SPEC section 9)" if imported.api_version == "2024-07-01" else "2018"
    lines = [
        f"read as {shape}; api_version {imported.api_version}, {name} semantics: {imported.why}"
    ]
    lines += [f"assumed: {a}" for a in imported.assumed]
    lines += [f"warning: {w}" for w in imported.warnings]
    lines += [f"check: {f}" for f in findings(imported, trace)]
    return lines


def next_version(version: str) -> str:
    """TD5: the version with its last part increased by one."""
    parts = version.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)
