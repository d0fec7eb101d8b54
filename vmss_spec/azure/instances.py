"""The instances of a scale set as Azure lists them (``az vmss list-instances``,
with or without ``--expand instanceView``, or the REST response
``{"value": [...]}``), read through the SDK's ``VirtualMachineScaleSetVM``.

What the model takes from them: Azure's instance ids (the model's id k is
the k-th instance in the order of Azure's ids, so a plan can speak Azure's
ids), the instances that are down now (their instance view says
``HealthState/unhealthy``, a power state other than running, or a failed
provisioning: planned as answering unhealthy from time 0, as ``--unhealthy``
does), and each instance's protection policy (T27; with today's semantics
only, since the 2018 feature has no instance protection).
"""

from __future__ import annotations

from typing import Any

import attrs

from model.jsontext import display, short
from vmss_spec.azure.read import (
    RESOURCE_KEYS,
    AzureInputError,
    check_shape,
    parse_json,
    read_bytes,
)

#: the keys of an instance that stay at the top in the CLI's output (the rest
#: are its ``properties``, flattened by the CLI)
_RESOURCE_KEYS = RESOURCE_KEYS | {"instanceId", "resources"}

INSTANCE_SHAPE: tuple[tuple[str, type], ...] = (
    ("properties", dict),
    ("properties.protectionPolicy", dict),
    ("properties.instanceView", dict),
    ("properties.instanceView.statuses", list),
    ("properties.instanceView.statuses.*", dict),
    ("properties.instanceView.vmHealth", dict),
    ("properties.instanceView.vmHealth.status", dict),
)


@attrs.frozen
class Instances:
    """Azure's instances, in the order of the model's ids."""

    source: str
    azure_ids: tuple[str, ...]
    #: model ids down now, and why (the first reason found for each)
    down: tuple[tuple[int, str], ...]
    #: (model id, protectFromScaleIn, protectFromScaleSetActions) of each protected one
    protected: tuple[tuple[int, bool, bool], ...]

    def model_ids(self) -> dict[str, int]:
        """Azure's id -> the model's."""
        return {a: k for k, a in enumerate(self.azure_ids)}


def _entries(value: Any, shown: str) -> tuple[list[Any], str]:
    if isinstance(value, dict) and isinstance(value.get("value"), list):
        return value["value"], "/value"
    if isinstance(value, list):
        return value, ""
    raise AzureInputError(
        f"{shown}: not a list of instances: expected `az vmss list-instances`'s list "
        'or {"value": [...]} (the REST response)'
    )


def _why_down(vm: Any) -> str | None:
    if isinstance(vm.provisioning_state, str) and vm.provisioning_state.lower() == "failed":
        return "provisioningState Failed"
    view = vm.instance_view
    if view is None:
        return None
    for status in view.statuses or ():
        code = status.get("code") if isinstance(status, dict) else getattr(status, "code", None)
        if (
            isinstance(code, str)
            and code.startswith("PowerState/")
            and code != "PowerState/running"
        ):
            return code
    health = view.vm_health.status if view.vm_health is not None else None
    code = health.get("code") if isinstance(health, dict) else getattr(health, "code", None)
    if isinstance(code, str) and code.lower() == "healthstate/unhealthy":
        return code
    return None


def read_instances(path: str, count: int) -> Instances:
    """The instances in ``path``; AzureInputError (one line naming the place)
    when it is not a list of ``count`` instances with distinct ids."""
    from azure.mgmt.compute.models import VirtualMachineScaleSetVM

    shown = display(path)
    entries, base = _entries(parse_json(read_bytes(path), path), shown)
    found: list[tuple[int, str, Any]] = []
    prefix = base.strip("/")
    for k, entry in enumerate(entries):
        where = f"{prefix}[{k}]"
        if not isinstance(entry, dict):
            raise AzureInputError(f"{shown}: {where}: not an object")
        shape = INSTANCE_SHAPE
        if "properties" not in entry:
            # the CLI's flattened form: checked, and named, as it is in the file
            shape = tuple((p.removeprefix("properties."), t) for p, t in shape[1:])
        try:
            check_shape(entry, shape, where)
        except AzureInputError as exc:
            raise AzureInputError(f"{shown}: {exc}") from None
        inner = entry.get("properties", entry)
        policy = inner.get("protectionPolicy") or {}
        for flag in ("protectFromScaleIn", "protectFromScaleSetActions"):
            if policy.get(flag) is not None and not isinstance(policy[flag], bool):
                place = ("properties." if inner is not entry else "") + "protectionPolicy"
                raise AzureInputError(
                    f"{shown}: {where}.{place}.{flag}: {short(policy[flag])} is not a boolean"
                )
        if inner is entry:
            entry = {
                **{n: v for n, v in entry.items() if n in _RESOURCE_KEYS},
                "properties": {n: v for n, v in entry.items() if n not in _RESOURCE_KEYS},
            }
        vm = VirtualMachineScaleSetVM(entry)
        ident = vm.instance_id
        if not (isinstance(ident, str) and ident.isascii() and ident.isdigit() and len(ident) < 10):
            raise AzureInputError(
                f"{shown}: {where}.instanceId: {short(ident)} is not an instance id "
                "(a string of digits)"
            )
        found.append((int(ident), where, vm))
    found.sort(key=lambda item: item[0])
    for (a, _, _), (b, where, _) in zip(found, found[1:], strict=False):
        if a == b:
            raise AzureInputError(f"{shown}: {where}.instanceId: {a} is listed twice")
    if len(found) != count:
        raise AzureInputError(
            f"{shown}: {len(found)} listed, but the scale set has {count} instances"
        )
    down, protected = [], []
    for model_id, (_, _, vm) in enumerate(found):
        why = _why_down(vm)
        if why is not None:
            down.append((model_id, why))
        policy = vm.protection_policy
        if policy is not None:
            flags = (
                policy.protect_from_scale_in is True,
                policy.protect_from_scale_set_actions is True,
            )
            if any(flags):
                protected.append((model_id, *flags))
    ids = tuple(str(ident) for ident, _, _ in found)
    return Instances(path, ids, tuple(down), tuple(protected))


def protection_events(instances: Instances) -> list[dict[str, Any]]:
    """T27's ``set_protection`` at time 0, one per pair of flags."""
    groups: dict[tuple[bool, bool], list[int]] = {}
    for model_id, scale_in, actions in instances.protected:
        groups.setdefault((scale_in, actions), []).append(model_id)
    return [
        {
            "at": 0,
            "event": "set_protection",
            "instances": ids,
            "protect_from_scale_in": scale_in,
            "protect_from_scale_set_actions": actions,
        }
        for (scale_in, actions), ids in sorted(groups.items())
    ]


def now_events(instances: Instances, api_version: str) -> tuple[dict[str, Any], ...]:
    """What the instances are now, as a trace's first events: T27's
    protection (today's semantics only) and the instances down answering
    unhealthy (R7), both at time 0."""
    events = protection_events(instances) if api_version == "2024-07-01" else []
    if instances.down:
        ids = [k for k, _ in instances.down]
        events.append({"at": 0, "event": "app_health", "instances": ids, "healthy": False})
    return tuple(events)


def instance_lines(instances: Instances, api_version: str) -> list[str]:
    """What standard error says of the instances read."""
    name = display(instances.source)
    pairs = ", ".join(f"{k}={a}" for k, a in enumerate(instances.azure_ids))
    lines = [f"instances: {len(instances.azure_ids)} from {name}; model id = Azure id: {pairs}"]
    if instances.down:
        said = ", ".join(f"{instances.azure_ids[k]} ({why})" for k, why in instances.down)
        lines.append(f"instances: down now, planned answering unhealthy from time 0: {said}")
    if instances.protected:
        said = ", ".join(
            instances.azure_ids[k] + " (" + ("scale set actions" if actions else "scale-in") + ")"
            for k, _, actions in instances.protected
        )
        if api_version == "2024-07-01":
            lines.append(f"instances: protected (T27): {said}")
        else:
            lines.append(
                f"warning: instances protected: {said}: instance protection is not in the "
                "2018 feature (SPEC section 9); ignored"
            )
    return lines
