"""Which semantics a scale set of Azure's is read with (SPEC section 9's
switch, or the 2018 feature), and what in it the model does not cover."""

from __future__ import annotations

import json
from typing import Any

from model.today import SEED_API, TODAY_API
from vmss_spec.azure.fields import AUTO, ROLLING, VMP
from vmss_spec.azure.read import ScaleSetDocument

__all__ = ["SEED_API", "choose_api", "get", "not_covered"]


def get(data: Any, path: str) -> Any:
    """The value at a dotted ARM path of the REST JSON, or None."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


#: fields no 2018-10-01 response holds: any of them means today's API
NEWER_FIELDS = (
    "properties.orchestrationMode",
    "properties.timeCreated",
    "properties.scaleInPolicy",
    "properties.spotRestorePolicy",
    "properties.priorityMixPolicy",
    "properties.constrainedMaximumCapacity",
    "properties.resiliencyPolicy",
    "properties.scheduledEventsPolicy",
    f"{AUTO}.useRollingUpgradePolicy",
    f"{AUTO}.osRollingUpgradeDeferral",
    f"{ROLLING}.prioritizeUnhealthyInstances",
    f"{ROLLING}.enableCrossZoneUpgrade",
    f"{ROLLING}.maxSurge",
    f"{ROLLING}.rollbackFailedInstancesOnPolicyBreach",
    f"{VMP}.userData",
    f"{VMP}.securityProfile",
)


def choose_api(doc: ScaleSetDocument, forced: str | None) -> tuple[str, str]:
    if forced is not None:
        name = "today's" if forced == TODAY_API else "the 2018"
        return forced, f"--api-version {forced} asks for {name} semantics"
    if doc.api_version is not None and doc.api_version >= TODAY_API:
        return TODAY_API, f"the template's apiVersion {doc.api_version} is 2024-07-01 or later"
    newer = [p for p in NEWER_FIELDS if get(doc.data, p) is not None]
    if newer:
        return TODAY_API, f"{newer[0]} is a field the 2018-10-01 API does not have"
    if doc.api_version is not None:
        return SEED_API, (
            f"the template's apiVersion {doc.api_version} is before 2024-07-01 and no "
            "field is newer than 2018-10-01"
        )
    return SEED_API, "no field is newer than 2018-10-01 and the file states no api-version"


def not_covered(data: dict[str, Any]) -> list[str]:
    """One warning line for each thing Azure's JSON holds that the model
    does not cover (SPEC 9.17)."""
    found: list[str] = []
    warn = found.append
    mode = get(data, "properties.orchestrationMode")
    if isinstance(mode, str) and mode.lower() == "flexible":
        warn(
            "properties.orchestrationMode: Flexible orchestration is not modelled "
            "(SPEC 9.17); imported as Uniform"
        )
    if data.get("zones"):
        warn(
            f"zones {json.dumps(data['zones'])[:60]}: availability-zone batching is not modelled "
            "(SPEC 9.17); batches ignore zones"
        )
    checks = (
        (f"{ROLLING}.enableCrossZoneUpgrade", "availability-zone batching"),
        (f"{ROLLING}.maxSurge", "MaxSurge"),
        (f"{ROLLING}.rollbackFailedInstancesOnPolicyBreach", "rollback on policy breach"),
        (f"{AUTO}.osRollingUpgradeDeferral", "upgrade deferral"),
        ("properties.automaticRepairsPolicy.enabled", "automatic instance repair"),
        (
            f"{VMP}.scheduledEventsProfile.osImageNotificationProfile.enable",
            "OS-image scheduled-event handling",
        ),
    )
    for path, feature in checks:
        if get(data, path) is True:
            warn(f"{path}: {feature} is not modelled (SPEC 9.17); ignored")
    priority = get(data, f"{VMP}.priority")
    if isinstance(priority, str) and priority.lower() == "spot":
        warn(f"{VMP}.priority: Spot instances are not modelled (SPEC 9.17); ignored")
    if get(data, f"{VMP}.storageProfile.osDisk.diffDiskSettings") is not None:
        warn(
            f"{VMP}.storageProfile.osDisk.diffDiskSettings: ephemeral OS disks are not "
            "modelled (SPEC 9.17); ignored"
        )
    secrets = get(data, f"{VMP}.osProfile.secrets")
    if secrets:
        warn(
            f"{VMP}.osProfile.secrets: Key Vault certificates' expiry is not in the scale "
            "set's JSON; not modelled as credentials"
        )
    return found
