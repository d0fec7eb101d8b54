"""What SPEC section 9 says the answer is (today's Azure, behind the switch
``scale_set.api_version: "2024-07-01"``): the property layer's own
statement of its formulas, written from SPEC.md and never borrowed from the
model, as properties/expect.py is for sections 1-8.

Today's configuration checks (T13, T14, TD4, TV1-TV10, TW1, 9.13's order
of findings and Azure's texts), the policy a run uses and whether it rolls
back (T8, TD2, T10), and today's fixed error messages (T62, TD29).
"""

from __future__ import annotations

import re
from typing import Any

from model.config import Policy
from properties.expect import is_newer, pause_seconds

TODAY = "2024-07-01"  # T1

#: T13: today's supported platform images, as SPEC 9.3 lists them (TD4: in ASCII lower case)
_SKUS = """
Canonical 0001-com-ubuntu-server-focal 20_04-LTS
Canonical 0001-com-ubuntu-server-focal 20_04-LTS-Gen2
Canonical 0001-com-ubuntu-server-focal 20_04-LTS-arm64
Canonical ubuntu-24_04-lts server-arm64
Canonical 0001-com-ubuntu-server-jammy 22_04-LTS
Canonical 0001-com-ubuntu-server-jammy 22_04-LTS-arm64
Canonical 0001-com-ubuntu-server-jammy 22_04-LTS-Gen2
Canonical 0001-com-ubuntu-pro-microsoft pro-fips-20_04-Gen2
MicrosoftCblMariner Cbl-Mariner cbl-mariner-2
MicrosoftCblMariner Cbl-Mariner cbl-mariner-2-arm64
MicrosoftCblMariner Cbl-Mariner cbl-mariner-2-Gen2
MicrosoftCblMariner Cbl-Mariner cbl-mariner-2-fips
MicrosoftCblMariner Cbl-Mariner cbl-mariner-2-Gen2-fips
MicrosoftCblMariner Azure-Linux azure-linux-Gen2
MicrosoftCblMariner Azure-Linux azure-linux-3
MicrosoftCblMariner Azure-Linux azure-linux-arm64
MicrosoftSqlServer SQL2017-ws2019 enterprise
MicrosoftSqlServer SQL2019-ws2022 enterprise
MicrosoftSqlServer SQL2022-ws2022 enterprise-Gen2
"""
_WINDOWS = """
2012-R2-Datacenter 2016-Datacenter 2016-Datacenter-gensecond 2016-Datacenter-gs
2016-Datacenter-smalldisk 2016-Datacenter-with-Containers 2016-Datacenter-with-containers-gs
2019-Datacenter 2019-Datacenter-Core 2019-Datacenter-Core-smalldisk
2019-Datacenter-Core-with-Containers 2019-Datacenter-gensecond 2019-Datacenter-gs
2019-Datacenter-smalldisk 2019-Datacenter-with-Containers 2019-Datacenter-with-Containers-gs
2022-Datacenter 2022-Datacenter-smalldisk 2022-Datacenter-azure-edition
2022-Datacenter-azure-edition-core 2022-Datacenter-azure-edition-core-smalldisk
2022-Datacenter-core 2022-Datacenter-core-smalldisk 2022-Datacenter-g2
2022-Datacenter-smalldisk-g2 Datacenter-core-20h2-with-containers-smalldisk-gs
"""
SUPPORTED_TODAY = frozenset(
    {tuple(line.lower().split()) for line in _SKUS.strip().splitlines()}
    | {("microsoftwindowsserver", "windowsserver", sku.lower()) for sku in _WINDOWS.split()}
)

#: T14: a Compute Gallery image id, its literal parts in any case
_GALLERY = re.compile(
    r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute"
    r"/galleries/[^/]+/images/[^/]+(/versions/[^/]+)?",
)

#: Section 9.13: the field each check names, and the text Azure returns
FIELDS_TODAY = {
    "V1": "image.sku",
    "V3": "image.id",
    "V4": "disk_encryption",
    "V5": "health_probe",
    "TV1": "health_probe",
    "TV2": "health_probe",
    "TV7": "service_fabric.durability",
    "TV8": "health_probe",
    "TV9": "service_fabric.extension_version",
    "TV10": "service_fabric.extension_durability",
}
TEXTS_TODAY = {
    "V1": "Automatic OS Upgrade cannot be enabled on virtualMachineScaleSets configured with a "
    "Platform Image.",
    "V2": "virtualMachineScaleSets with Automatic OS Upgrade enabled must use Platform or "
    "Gallery Image with version set to 'latest'.",
    "TV1": "Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because a "
    "health probe or health extension was not specified.",
    "TV2": "Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because "
    "both a health probe and a health extension were provided. Remove the health probe or "
    "health extension prior to enabling automatic OS upgrade.",
    "TV7": "If Service Fabric durability is Bronze, only Stateless-only node types support "
    "automatic OS image upgrades.",
    "TV8": "Bronze durability with Stateless-only node types requires an additional health probe.",
    "TV9": "Service Fabric VM Extension version should be 1.1 or above for Auto OS Upgrade support",
    "TV10": "Durability level should be the same at the Service Fabric cluster and Service "
    "Fabric extension on the scale set model definition.",
}
#: TW1's text (section 9.2)
TW1_TEXT = (
    "Platform runs use the default rolling upgrade policy, not this one, because "
    "automatic_os_upgrade_policy.use_rolling_upgrade_policy is false (TD2); User runs use "
    "this one"
)
#: TD1: the errors that refuse a manual start too
MANUAL_TODAY = ("V1", "V2", "V3", "TV1", "TV2", "TV8")


def is_today(config: Any) -> bool:
    """T1: section 9 applies."""
    return config.api_version == TODAY


def gallery(image_id: str | None) -> str | None:
    """T14: "latest" for a gallery image id, "pinned" with /versions/, None otherwise."""
    if image_id is None:
        return None
    match = _GALLERY.fullmatch(image_id.lower())
    if match is None:
        return None
    return "pinned" if match.group(1) else "latest"


def sources(config: Any) -> tuple[Any, ...]:
    """T6: the health sources of the configuration as given."""
    probe = config.health_probe
    if probe is None:
        return ()
    return tuple(probe) if isinstance(probe, tuple) else (probe,)


def v_field_today(rule: str, config: Any) -> str:
    """The field a finding names (V2: the id of a gallery image, else the version)."""
    if rule == "V2":
        return "image.id" if config.image.id is not None else "image.version"
    return FIELDS_TODAY[rule]


def errors_today(config: Any) -> list[str]:
    """Section 9.13: the errors that stand, V findings first in V order, then
    TV findings in ascending number (V6 is TV7 today)."""
    found = []
    image = config.image
    if image.id is not None:
        kind = gallery(image.id)
        if kind is None:
            found.append("V3")
        elif kind == "pinned":
            found.append("V2")
    else:
        sku = tuple(str(part).lower() for part in (image.publisher, image.offer, image.sku))
        if sku not in SUPPORTED_TODAY:
            found.append("V1")
        if image.version != "latest":
            found.append("V2")
    if config.disk_encryption:
        found.append("V4")
    probes = sources(config)
    standard = any(p.kind == "application_health" or p.lb_sku == "Standard" for p in probes)
    if not config.single_placement_group and not standard:
        found.append("V5")
    found.sort(key=lambda rule: int(rule[1:]))
    sf = config.service_fabric
    if sf is None and not probes:
        found.append("TV1")
    if len(probes) == 2:
        found.append("TV2")
    if sf is not None:
        if sf.durability == "Bronze" and not sf.stateless_only:
            found.append("TV7")
        if sf.durability == "Bronze" and sf.stateless_only and not probes:
            found.append("TV8")
        if is_newer("1.1", sf.extension_version):
            found.append("TV9")
        if sf.extension_durability not in (None, sf.durability):
            found.append("TV10")
    return found


def names_today(reason: str, rules: list[str], config: Any) -> bool:
    """9.13's findings: ``<rule>: <field>: <text>`` for each standing rule, in
    order, joined by ``; `` (Azure's text where 9.13 gives one)."""
    expected = []
    for rule in rules:
        field = v_field_today(rule, config)
        text = TEXTS_TODAY.get(rule)
        expected.append(f"{rule}: {field}: {text}" if text else f"{rule}: {field}: ")
    parts = reason.split("; ") if reason else []
    if len(parts) != len(expected):
        return False
    return all(
        part == want if not want.endswith(": ") else part.startswith(want)
        for part, want in zip(parts, expected, strict=True)
    )


def warnings_today(config: Any) -> list[str]:
    """V7 for each health source of 120 s or more, then TW1 when Platform runs
    ignore a policy that differs from today's defaults (no V8: T4)."""
    found = ["V7" for p in sources(config) if p.interval_seconds >= 120]
    if not config.automatic_os_upgrade_policy.use_rolling_upgrade_policy:
        p = config.policy
        upgraded = p.max_unhealthy_upgraded_instance_percent
        if (
            p.max_batch_instance_percent != 20
            or p.max_unhealthy_instance_percent != 20
            or upgraded not in (None, 20)
            or pause_seconds(p.pause_time_between_batches) != 0
            or p.prioritize_unhealthy_instances
        ):
            found.append("TW1")
    return found


def run_policy(config: Any, platform: bool) -> Policy:
    """TD2, T8, T10: the policy a run reads, in section 4's fields: a
    Platform run uses today's defaults unless use_rolling_upgrade_policy; a
    User run (and a Platform run with it) the scale set's policy, T8's
    defaults for what it leaves out. Its automatic_rollback is T10's answer."""
    given = config.policy
    rollback = rolls_back_today(config, platform)
    if platform and not config.automatic_os_upgrade_policy.use_rolling_upgrade_policy:
        return Policy(20, 20, 20, "PT0S", False, rollback)
    upgraded = given.max_unhealthy_upgraded_instance_percent
    return Policy(
        given.max_batch_instance_percent,
        given.max_unhealthy_instance_percent,
        20 if upgraded is None else upgraded,
        given.pause_time_between_batches,
        given.prioritize_unhealthy_instances,
        rollback,
    )


def rest_policy(policy: Policy) -> dict[str, Any]:
    """T65, TD2: a policy in the REST names (the pause as the trace writes it)."""
    return {
        "maxBatchInstancePercent": policy.max_batch_instance_percent,
        "maxUnhealthyInstancePercent": policy.max_unhealthy_instance_percent,
        "maxUnhealthyUpgradedInstancePercent": policy.max_unhealthy_upgraded_instance_percent,
        "pauseTimeBetweenBatches": policy.pause_time_between_batches,
        "prioritizeUnhealthyInstances": policy.prioritize_unhealthy_instances,
    }


def rolls_back_today(config: Any, platform: bool) -> bool:
    """T10: rollback by default in Platform runs, never in User runs."""
    return platform and not config.automatic_os_upgrade_policy.disable_automatic_rollback


def t62_unhealthy(unhealthy: int, n: int, threshold: int) -> str:
    """T62, TD29: the MaxUnhealthyInstancePercent message (Before and In alike)."""
    return (
        "Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined "
        f"in the RollingUpgradePolicy. {(100 * unhealthy) // n}% of instances are in an "
        f"unhealthy state - more than the threshold of {threshold}%. To apply upgrades, "
        "consider increasing the MaxUnhealthyInstancePercent value."
    )


def t62_upgraded(successful: int, failed: int, threshold: int, first: int) -> str:
    """T62, TD29: the MaxUnhealthyUpgradedInstancePercent message."""
    share = (100 * failed) // (successful + failed)
    return (
        "Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value "
        f"defined in the RollingUpgradePolicy. {share}% of instances are in an unhealthy state "
        f"after being upgraded - more than the threshold of {threshold}%. The most impactful "
        "error is: Instance found to be unhealthy or unreachable.. First failed instance ID "
        f"is: {first}."
    )
