"""Reading Azure's own JSON: which document a file is, and the scale set or
upgrade history it holds, through the Azure SDK's models
(``azure-mgmt-compute``).

Four shapes are recognised:

- ``az vmss show``: the resource with its ``properties`` flattened to the
  top level (what the CLI prints);
- an ARM GET response of ``Microsoft.Compute/virtualMachineScaleSets``
  (``properties`` nested, as the REST reference shows it);
- an ARM template (``$schema`` ``…deploymentTemplate.json#``) whose
  ``resources`` hold a scale set; ``[parameters('x')]`` and
  ``[variables('x')]`` are resolved from the template's defaults, any other
  expression is left as it is and named where it matters;
- an upgrade history: ``az vmss get-os-upgrade-history`` (a list) or the
  REST response ``{"value": [...]}``.

The SDK's models take the REST JSON as it is (``VirtualMachineScaleSet(data)``,
``UpgradeOperationHistoricalStatusInfo(entry)``) and give snake_case
attributes; they do not check types, so the importer checks every value it
takes and names it by its ARM path.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import attrs

from model.jsontext import decode, display, loads_json, short
from model.trace import TraceError, read_trace_bytes

VMSS_TYPE = "microsoft.compute/virtualmachinescalesets"
HISTORY_TYPE = "microsoft.compute/virtualmachinescalesets/rollingupgrades"

#: the keys of a resource that stay at the top in ``az vmss show``'s output
#: (the rest are its ``properties``, flattened by the CLI)
RESOURCE_KEYS = frozenset(
    {
        "id",
        "name",
        "type",
        "location",
        "tags",
        "sku",
        "plan",
        "identity",
        "zones",
        "extendedLocation",
        "etag",
        "managedBy",
        "resourceGroup",
        "apiVersion",
        "properties",
        "systemData",
    }
)

_EXPRESSION = re.compile(r"\A\[\s*(parameters|variables)\s*\(\s*'([^']*)'\s*\)\s*\]\Z")


#: the containers the importer walks, by ARM path ([] a list, {} an object;
#: "*" every item of a list): a value of another kind is refused by its path
#: before the SDK's model is built (the models do not check types)
SCALE_SET_SHAPE: tuple[tuple[str, type], ...] = (
    ("sku", dict),
    ("properties", dict),
    ("zones", list),
    ("properties.upgradePolicy", dict),
    ("properties.upgradePolicy.automaticOSUpgradePolicy", dict),
    ("properties.upgradePolicy.rollingUpgradePolicy", dict),
    ("properties.automaticRepairsPolicy", dict),
    ("properties.virtualMachineProfile", dict),
    ("properties.virtualMachineProfile.storageProfile", dict),
    ("properties.virtualMachineProfile.storageProfile.imageReference", dict),
    ("properties.virtualMachineProfile.storageProfile.osDisk", dict),
    ("properties.virtualMachineProfile.storageProfile.dataDisks", list),
    ("properties.virtualMachineProfile.networkProfile", dict),
    ("properties.virtualMachineProfile.networkProfile.healthProbe", dict),
    ("properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations", list),
    ("properties.virtualMachineProfile.extensionProfile", dict),
    ("properties.virtualMachineProfile.extensionProfile.extensions", list),
    ("properties.virtualMachineProfile.extensionProfile.extensions.*", dict),
    ("properties.virtualMachineProfile.extensionProfile.extensions.*.properties", dict),
    ("properties.virtualMachineProfile.extensionProfile.extensions.*.properties.settings", dict),
    ("properties.virtualMachineProfile.osProfile", dict),
    ("properties.virtualMachineProfile.osProfile.secrets", list),
    ("properties.virtualMachineProfile.scheduledEventsProfile", dict),
    ("properties.virtualMachineProfile.scheduledEventsProfile.osImageNotificationProfile", dict),
)

#: the same for an entry of an upgrade history
HISTORY_SHAPE: tuple[tuple[str, type], ...] = (
    ("properties", dict),
    ("properties.runningStatus", dict),
    ("properties.progress", dict),
    ("properties.error", dict),
    ("properties.rollbackInfo", dict),
    ("properties.targetImageReference", dict),
)

_KINDS = {dict: "an object", list: "a list"}


def check_shape(data: Any, shape: tuple[tuple[str, type], ...], base: str = "") -> None:
    """Every container of ``shape`` present in ``data`` is of its kind
    (null counts as absent); AzureInputError names the first that is not."""
    for path, kind in shape:
        found: list[tuple[str, Any]] = [(base, data)]
        for part in path.split("."):
            step: list[tuple[str, Any]] = []
            for at, value in found:
                if part == "*":
                    if isinstance(value, list):
                        step += [(f"{at}[{k}]", v) for k, v in enumerate(value)]
                elif isinstance(value, dict) and value.get(part) is not None:
                    step.append((f"{at}.{part}" if at else part, value[part]))
            found = step
        for at, value in found:
            if not isinstance(value, kind):
                raise AzureInputError(f"{at}: {short(value)} is not {_KINDS[kind]}")


class AzureInputError(ValueError):
    """A file that is not what the command reads: one line naming the place."""


@attrs.define
class ScaleSetDocument:
    """A scale set found in a file: its REST JSON (``properties`` nested),
    the SDK model of it, the shape it came in, and the api-version the file
    states (a template's resource), if any."""

    data: dict[str, Any]
    model: Any
    shape: str
    api_version: str | None
    #: where in the file the resource is (a JSON pointer; "" for the whole file)
    at: str = ""


def read_bytes(path: str) -> bytes:
    """The bytes of a file (or ``-``), with the trace loader's bound of 64 MiB."""
    shown = display(path)
    try:
        if path == "-":
            import sys

            if sys.stdin is None:
                raise AzureInputError("-: standard input is closed")
            return read_trace_bytes(sys.stdin.buffer, "-")
        try:
            with open(path, "rb") as file:
                return read_trace_bytes(file, path)
        except OSError as exc:
            raise AzureInputError(f"{shown}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise AzureInputError(f"{shown}: cannot read: {exc}") from None
    except TraceError as exc:
        raise AzureInputError(str(exc)) from None


def parse_json(data: bytes, path: str) -> Any:
    """One JSON document, as the trace loader reads one: UTF-8/16/32 with a
    byte order mark, no duplicate keys, no NaN, nesting at most 64 deep."""
    shown = display(path)
    try:
        value, _ = loads_json(decode(data, shown), shown)
    except TraceError as exc:
        raise AzureInputError(str(exc)) from None
    return value


def read_json(path: str) -> Any:
    """The JSON of a file (or ``-``)."""
    return parse_json(read_bytes(path), path)


def _is_history(value: Any) -> bool:
    entries = value.get("value") if isinstance(value, dict) else value
    return isinstance(entries, list) and all(
        isinstance(e, dict)
        and (
            str(e.get("type", "")).lower() == HISTORY_TYPE
            or isinstance(e.get("properties"), dict)
            and "runningStatus" in e["properties"]
            or "runningStatus" in e
        )
        for e in entries
    )


def _resolve(value: Any, template: dict[str, Any], seen: frozenset[str] = frozenset()) -> Any:
    """A template's ``[parameters('x')]`` and ``[variables('x')]`` replaced by
    the parameter's ``defaultValue`` or the variable's value, where those are
    plain values (a name that refers back to itself is left as it is); every
    other string is kept."""
    if isinstance(value, dict):
        return {k: _resolve(v, template, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, template, seen) for v in value]
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match is not None and value not in seen:
            kind, name = match.groups()
            table = template.get(kind)
            found = table.get(name) if isinstance(table, dict) else None
            if kind == "parameters":
                if isinstance(found, dict) and "defaultValue" in found:
                    return _resolve(found["defaultValue"], template, seen | {value})
            elif isinstance(table, dict) and name in table:
                return _resolve(found, template, seen | {value})
    return value


def is_expression(value: Any) -> bool:
    """An ARM template expression left unresolved (``[concat(...)]``)."""
    return isinstance(value, str) and value.startswith("[") and not value.startswith("[[")


def _template_scale_sets(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    resources = template.get("resources")
    if not isinstance(resources, list):
        return found
    for k, res in enumerate(resources):
        if isinstance(res, dict) and str(res.get("type", "")).lower() == VMSS_TYPE:
            found.append((f"/resources/{k}", res))
    return found


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def scale_set_document(value: Any, source: str, name: str | None = None) -> ScaleSetDocument:
    """The scale set a file holds, or AzureInputError saying why it holds none."""
    from azure.mgmt.compute.models import VirtualMachineScaleSet

    shown = display(source)
    if _is_history(value) and value not in ({}, []):
        raise AzureInputError(
            f"{shown}: an upgrade history, not a scale set "
            "(read it with `vmss-spec explain --history`)"
        )
    if not isinstance(value, dict):
        raise AzureInputError(
            f"{shown}: not a scale set: the JSON is {_kind(value)}, not an object"
            " (expected `az vmss show`, an ARM GET response or an ARM template)"
        )
    api_version, at = None, ""
    if "$schema" in value or isinstance(value.get("resources"), list):
        found = _template_scale_sets(value)
        if name is not None:
            found = [(p, r) for p, r in found if _resolve(r.get("name"), value) == name]
        if not found:
            which = f" named {name!r}" if name is not None else ""
            raise AzureInputError(
                f"{shown}: /resources: no resource of type "
                f"Microsoft.Compute/virtualMachineScaleSets{which} in the template"
            )
        if len(found) > 1:
            names = ", ".join(repr(_resolve(r.get("name"), value)) for _, r in found)
            raise AzureInputError(
                f"{shown}: /resources: {len(found)} scale sets ({names}); choose one with --name"
            )
        at, resource = found[0]
        data = _resolve({k: v for k, v in resource.items() if k != "dependsOn"}, value)
        api_version = data.get("apiVersion") if isinstance(data.get("apiVersion"), str) else None
        shape = "ARM template"
    else:
        kind = value.get("type")
        if kind is not None and str(kind).lower() != VMSS_TYPE:
            raise AzureInputError(
                f"{shown}: /type: {str(kind)[:80]!r} is not "
                "Microsoft.Compute/virtualMachineScaleSets"
            )
        if value.get("properties") is not None:
            data, shape = value, "ARM GET response"
        elif any(k not in RESOURCE_KEYS for k in value) and (
            "virtualMachineProfile" in value or "upgradePolicy" in value
        ):
            props = {k: v for k, v in value.items() if k not in RESOURCE_KEYS}
            data = {k: v for k, v in value.items() if k in RESOURCE_KEYS}
            data["properties"] = props
            shape = "az vmss show"
        else:
            raise AzureInputError(
                f"{shown}: not a scale set: no properties, virtualMachineProfile or "
                "upgradePolicy (expected `az vmss show`, an ARM GET response or an ARM template)"
            )
    if data.get("properties") is None:
        raise AzureInputError(f"{shown}: {at}/properties: missing (the scale set's properties)")
    try:
        check_shape(data, SCALE_SET_SHAPE)
    except AzureInputError as exc:
        raise AzureInputError(f"{shown}: {exc}") from None
    return ScaleSetDocument(data, VirtualMachineScaleSet(data), shape, api_version, at)


def history_entries(value: Any, source: str) -> tuple[list[Any], list[dict[str, Any]], str]:
    """The entries of an upgrade history (SDK models and their JSON), and its
    shape; AzureInputError when the file is not one."""
    from azure.mgmt.compute.models import UpgradeOperationHistoricalStatusInfo

    shown = display(source)
    if isinstance(value, dict) and isinstance(value.get("value"), list):
        entries, shape, base = value["value"], "REST response", "/value"
    elif isinstance(value, list):
        entries, shape, base = value, "az vmss get-os-upgrade-history", ""
    else:
        raise AzureInputError(
            f"{shown}: not an upgrade history: expected a list of entries "
            '(`az vmss get-os-upgrade-history`) or {"value": [...]} (the REST response)'
        )
    data = []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise AzureInputError(f"{shown}: {base}/{k}: not an object")
        if "properties" not in entry and "runningStatus" in entry:
            outer = {k2: v for k2, v in entry.items() if k2 in ("type", "location")}
            entry = {**outer, "properties": {k2: v for k2, v in entry.items() if k2 not in outer}}
        if not isinstance(entry.get("properties"), dict):
            raise AzureInputError(f"{shown}: {base}/{k}/properties: not an object")
        try:
            check_shape(entry, HISTORY_SHAPE, f"{base.strip('/') or 'entry'}[{k}]")
        except AzureInputError as exc:
            raise AzureInputError(f"{shown}: {exc}") from None
        data.append(entry)
    models = [UpgradeOperationHistoricalStatusInfo(e) for e in data]
    for k, model in enumerate(models):
        status = model.properties.running_status
        for name, attr in (("startTime", "start_time"), ("endTime", "end_time")):
            value = getattr(status, attr, None) if status is not None else None
            if value is not None and not isinstance(value, dt.datetime):
                raise AzureInputError(
                    f"{shown}: {base}/{k}/properties/runningStatus/{name}: "
                    f"{short(data[k]['properties']['runningStatus'][name])} is not a date-time"
                )
    return models, data, shape


def source_name(path: str) -> str:
    """How a file is named in output."""
    return "standard input" if path == "-" else Path(path).name
