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

import re
from pathlib import Path
from typing import Any

import attrs

from model.jsontext import decode, display, loads_json
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


def _resolve(value: Any, template: dict[str, Any]) -> Any:
    """A template's ``[parameters('x')]`` and ``[variables('x')]`` replaced by
    the parameter's ``defaultValue`` or the variable's value, where those are
    plain values; every other string is kept."""
    if isinstance(value, dict):
        return {k: _resolve(v, template) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, template) for v in value]
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match is not None:
            kind, name = match.groups()
            if kind == "parameters":
                found = (template.get("parameters") or {}).get(name)
                if isinstance(found, dict) and "defaultValue" in found:
                    return _resolve(found["defaultValue"], template)
            else:
                variables = template.get("variables") or {}
                if name in variables:
                    return _resolve(variables[name], template)
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
        if isinstance(value.get("properties"), dict):
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
    if not isinstance(data.get("properties"), dict):
        raise AzureInputError(f"{shown}: {at}/properties: not an object")
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
        data.append(entry)
    return [UpgradeOperationHistoricalStatusInfo(e) for e in data], data, shape


def source_name(path: str) -> str:
    """How a file is named in output."""
    return "standard input" if path == "-" else Path(path).name
