"""Today's Azure behind one switch (SPEC section 9, phase 1): the switch
(T1), today's configuration checks (T4, T6, T13, T14, TD4, TV1, TV2,
TV7-TV10, TW1), which policy a run uses (T8, TD2) and whether it rolls back
(T10), and today's fixed error messages (T62, TD29).

Nothing here is read without the switch (T2): a scale set whose
``api_version`` is the default takes every answer from model/config.py as
before. The behaviour of the switch inside a run (eligibility, the
first-rollout delay, protection) lives where each rule acts: the catalog,
the orchestrator, the user's actions.
"""

from __future__ import annotations

import re

import attrs

from model.catalog import version_key
from model.config import (
    MANUAL_START,
    Finding,
    Policy,
    ScaleSetConfig,
    encryption_and_placement,
)

SEED_API, TODAY_API = "2018-10-01", "2024-07-01"  # T1

#: T13: the platform skus that support automatic OS upgrades today (publisher, offer, sku)
TODAY_SKUS: tuple[tuple[str, str, str], ...] = (
    tuple(
        ("Canonical", offer, sku)
        for offer, sku in (
            ("0001-com-ubuntu-server-focal", "20_04-LTS"),
            ("0001-com-ubuntu-server-focal", "20_04-LTS-Gen2"),
            ("0001-com-ubuntu-server-focal", "20_04-LTS-arm64"),
            ("ubuntu-24_04-lts", "server-arm64"),
            ("0001-com-ubuntu-server-jammy", "22_04-LTS"),
            ("0001-com-ubuntu-server-jammy", "22_04-LTS-arm64"),
            ("0001-com-ubuntu-server-jammy", "22_04-LTS-Gen2"),
            ("0001-com-ubuntu-pro-microsoft", "pro-fips-20_04-Gen2"),
        )
    )
    + tuple(
        ("MicrosoftCblMariner", offer, sku)
        for offer, sku in (
            ("Cbl-Mariner", "cbl-mariner-2"),
            ("Cbl-Mariner", "cbl-mariner-2-arm64"),
            ("Cbl-Mariner", "cbl-mariner-2-Gen2"),
            ("Cbl-Mariner", "cbl-mariner-2-fips"),
            ("Cbl-Mariner", "cbl-mariner-2-Gen2-fips"),
            ("Azure-Linux", "azure-linux-Gen2"),
            ("Azure-Linux", "azure-linux-3"),
            ("Azure-Linux", "azure-linux-arm64"),
        )
    )
    + (
        ("MicrosoftSqlServer", "SQL2017-ws2019", "enterprise"),
        ("MicrosoftSqlServer", "SQL2019-ws2022", "enterprise"),
        ("MicrosoftSqlServer", "SQL2022-ws2022", "enterprise-Gen2"),
    )
    + tuple(
        ("MicrosoftWindowsServer", "WindowsServer", sku)
        for sku in (
            "2012-R2-Datacenter",
            "2016-Datacenter",
            "2016-Datacenter-gensecond",
            "2016-Datacenter-gs",
            "2016-Datacenter-smalldisk",
            "2016-Datacenter-with-Containers",
            "2016-Datacenter-with-containers-gs",
            "2019-Datacenter",
            "2019-Datacenter-Core",
            "2019-Datacenter-Core-smalldisk",
            "2019-Datacenter-Core-with-Containers",
            "2019-Datacenter-gensecond",
            "2019-Datacenter-gs",
            "2019-Datacenter-smalldisk",
            "2019-Datacenter-with-Containers",
            "2019-Datacenter-with-Containers-gs",
            "2022-Datacenter",
            "2022-Datacenter-smalldisk",
            "2022-Datacenter-azure-edition",
            "2022-Datacenter-azure-edition-core",
            "2022-Datacenter-azure-edition-core-smalldisk",
            "2022-Datacenter-core",
            "2022-Datacenter-core-smalldisk",
            "2022-Datacenter-g2",
            "2022-Datacenter-smalldisk-g2",
            "Datacenter-core-20h2-with-containers-smalldisk-gs",
        )
    )
)

#: TD4: V1 compares publisher, offer and sku in ASCII case
_SKU_KEYS = frozenset(tuple(part.lower() for part in sku) for sku in TODAY_SKUS)

#: T14: a Compute Gallery image (its literal parts in any case), and one with a version
GALLERY_IMAGE = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute"
    r"/galleries/[^/]+/images/[^/]+",
    re.IGNORECASE | re.ASCII,
)
_VERSIONS = re.compile(r"/versions/[^/]+", re.IGNORECASE | re.ASCII)

# The texts Azure returns (section 9.13, T13, T14).
V1_TODAY = (
    "Automatic OS Upgrade cannot be enabled on virtualMachineScaleSets configured "
    "with a Platform Image."
)
V2_TODAY = (
    "virtualMachineScaleSets with Automatic OS Upgrade enabled must use Platform or "
    "Gallery Image with version set to 'latest'."
)
TV_TEXT = {
    "TV1": (
        "Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because "
        "a health probe or health extension was not specified."
    ),
    "TV2": (
        "Automatic OS Upgrade is not supported for this Virtual Machine Scale Set because "
        "both a health probe and a health extension were provided. Remove the health probe "
        "or health extension prior to enabling automatic OS upgrade."
    ),
    "TV7": (
        "If Service Fabric durability is Bronze, only Stateless-only node types support "
        "automatic OS image upgrades."
    ),
    "TV8": "Bronze durability with Stateless-only node types requires an additional health probe.",
    "TV9": (
        "Service Fabric VM Extension version should be 1.1 or above for Auto OS Upgrade support"
    ),
    "TV10": (
        "Durability level should be the same at the Service Fabric cluster and Service "
        "Fabric extension on the scale set model definition."
    ),
}
TW1_TEXT = (
    "Platform runs use the default rolling upgrade policy, not this one, because "
    "automatic_os_upgrade_policy.use_rolling_upgrade_policy is false (TD2); User runs "
    "use this one"
)
#: TD1: the errors that also refuse a manual start
MANUAL_START_TV = ("TV1", "TV2", "TV8")

#: T8: today's policy defaults
TODAY_POLICY = Policy(max_unhealthy_upgraded_instance_percent=20)


def is_today(config: ScaleSetConfig) -> bool:
    """T1: whether section 9 applies to this scale set."""
    return config.api_version == TODAY_API


def gallery_image(image_id: str | None) -> str | None:
    """T14: "latest" for a gallery image id, "pinned" for one with
    ``/versions/...``, None for any other id."""
    if image_id is None or not GALLERY_IMAGE.match(image_id):
        return None
    rest = image_id[GALLERY_IMAGE.match(image_id).end() :]  # type: ignore[union-attr]
    if not rest:
        return "latest"
    return "pinned" if _VERSIONS.fullmatch(rest) else None


def probes(config: ScaleSetConfig) -> tuple:
    """T6: the health sources (an array of one is that object)."""
    probe = config.health_probe
    if probe is None:
        return ()
    return probe if isinstance(probe, tuple) else (probe,)


def today_policy(config: ScaleSetConfig) -> Policy:
    """T8: ``scale_set.policy`` with each missing field at today's default."""
    policy = config.policy
    if policy.max_unhealthy_upgraded_instance_percent is None:
        return attrs.evolve(policy, max_unhealthy_upgraded_instance_percent=20)
    return policy


def check_errors_today(config: ScaleSetConfig) -> list[Finding]:
    """Section 9.13 with T13, T14, TD4: V1-V5 as today's Azure words them,
    then TV1, TV2, TV7, TV8, TV9 and TV10 in ascending number (V6 is replaced
    by TV7). T4: a health source is required (TV1), so (T5) only a Service
    Fabric scale set at Silver or Gold runs without one."""
    errors: list[Finding] = []
    image = config.image
    if image.is_custom:
        kind = gallery_image(image.id)
        if kind == "pinned":
            errors.append(Finding("V2", "image.id", V2_TODAY))
        elif kind is None:
            errors.append(
                Finding("V3", "image.id", "a custom image cannot be upgraded automatically")
            )
    else:
        key = tuple(str(part).lower() for part in (image.publisher, image.offer, image.sku))
        if key not in _SKU_KEYS:
            errors.append(Finding("V1", "image.sku", V1_TODAY))
        if image.version != "latest":
            errors.append(Finding("V2", "image.version", V2_TODAY))
    sources = probes(config)
    errors += encryption_and_placement(config, sources)  # V4, V5 (T6: either source)
    sf = config.service_fabric
    if sf is None and not sources:
        errors.append(Finding("TV1", "health_probe", TV_TEXT["TV1"]))
    if len(sources) == 2:
        errors.append(Finding("TV2", "health_probe", TV_TEXT["TV2"]))
    if sf is not None:
        if not (sf.durability in ("Silver", "Gold") or sf.stateless_only):
            errors.append(Finding("TV7", "service_fabric.durability", TV_TEXT["TV7"]))
        if sf.durability == "Bronze" and sf.stateless_only and not sources:
            errors.append(Finding("TV8", "health_probe", TV_TEXT["TV8"]))
        if version_key(sf.extension_version) < version_key("1.1"):
            errors.append(Finding("TV9", "service_fabric.extension_version", TV_TEXT["TV9"]))
        if (sf.extension_durability or sf.durability) != sf.durability:
            errors.append(Finding("TV10", "service_fabric.extension_durability", TV_TEXT["TV10"]))
    return errors


def check_warnings_today(config: ScaleSetConfig) -> list[Finding]:
    """V7 for each health source (T6), no V8 (T4: it became TV1), and TW1."""
    warnings: list[Finding] = []
    sources = probes(config)
    for k, probe in enumerate(sources):
        if probe.interval_seconds >= 120:
            field = "health_probe.interval_seconds"
            if isinstance(config.health_probe, tuple):
                field = f"health_probe[{k}].interval_seconds"
            warnings.append(
                Finding(
                    "V7",
                    field,
                    f"probe interval {probe.interval_seconds}s should be below 120 seconds",
                )
            )
    if not config.automatic_os_upgrade_policy.use_rolling_upgrade_policy and _differs(
        today_policy(config)
    ):
        warnings.append(Finding("TW1", "policy", TW1_TEXT))
    return warnings


def _differs(policy: Policy) -> bool:
    """TW1: a field other than its T8 default (the pause by its length)."""
    base = TODAY_POLICY
    return (
        policy.max_batch_instance_percent != base.max_batch_instance_percent
        or policy.max_unhealthy_instance_percent != base.max_unhealthy_instance_percent
        or policy.max_unhealthy_upgraded_instance_percent
        != base.max_unhealthy_upgraded_instance_percent
        or policy.pause_seconds != 0
        or policy.prioritize_unhealthy_instances
    )


def refusal_today(errors: list[Finding], action: str) -> str | None:
    """Section 9.13 "where they bite", TD1: every error refuses enabling;
    V1-V3, TV1, TV2 and TV8 refuse a manual start."""
    if action == MANUAL_START:
        errors = [f for f in errors if f.rule in ("V1", "V2", "V3", *MANUAL_START_TV)]
    return "; ".join(str(f) for f in errors) or None


def effective_policy(config: ScaleSetConfig, platform: bool) -> Policy:
    """TD2, T9: the policy a run uses, fixed at its start: a Platform run uses
    today's defaults unless use_rolling_upgrade_policy; a User run, and a
    Platform run with it, ``scale_set.policy`` with defaults filled (T8)."""
    if platform and not config.automatic_os_upgrade_policy.use_rolling_upgrade_policy:
        return TODAY_POLICY
    return today_policy(config)


def rolls_back(config: ScaleSetConfig, platform: bool) -> bool:
    """T10: automatic rollback is on by default, in Platform runs only."""
    return platform and not config.automatic_os_upgrade_policy.disable_automatic_rollback


def unhealthy_message(unhealthy: int, n: int, threshold: int) -> str:
    """T62, TD29: the MaxUnhealthyInstancePercent messages (In and Before)."""
    return (
        "Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value "
        f"defined in the RollingUpgradePolicy. {100 * unhealthy // n}% of instances are in "
        f"an unhealthy state - more than the threshold of {threshold}%. To apply upgrades, "
        "consider increasing the MaxUnhealthyInstancePercent value."
    )


def upgraded_message(successful: int, failed: int, threshold: int, first_failed: int) -> str:
    """T62, TD29: the MaxUnhealthyUpgradedInstancePercent message (Azure's
    double full stop included)."""
    return (
        "Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent "
        f"value defined in the RollingUpgradePolicy. {100 * failed // (successful + failed)}% "
        "of instances are in an unhealthy state after being upgraded - more than the "
        f"threshold of {threshold}%. The most impactful error is: Instance found to be "
        f"unhealthy or unreachable.. First failed instance ID is: {first_failed}."
    )
