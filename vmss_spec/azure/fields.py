"""Where each field of a trace's ``scale_set`` comes from in Azure's JSON:
the table of docs/azure.md, and the ARM paths the importer names.

Paths are written as in an ARM GET response (``properties`` nested);
``az vmss show`` prints the same fields without the ``properties.`` prefix.
"""

from __future__ import annotations

VMP = "properties.virtualMachineProfile"
IMAGE = f"{VMP}.storageProfile.imageReference"
EXTENSIONS = f"{VMP}.extensionProfile.extensions"
UPGRADE = "properties.upgradePolicy"
AUTO = f"{UPGRADE}.automaticOSUpgradePolicy"
ROLLING = f"{UPGRADE}.rollingUpgradePolicy"
PROBE = f"{VMP}.networkProfile.healthProbe"

#: (trace field, ARM path, how it is read); docs/azure.md has this table
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("instances", "sku.capacity", "a whole number"),
    ("image", IMAGE, "publisher, offer, sku and version, or an image `id`"),
    (
        "catalog",
        f"{IMAGE}.version, or the `/versions/` of an image id",
        "a pinned version is the one the instances run; otherwise `--current-version` "
        "(default `1.0.0`, assumed)",
    ),
    (
        "automatic_os_upgrade",
        f"{AUTO}.enableAutomaticOSUpgrade",
        "a boolean; absent is Azure's default, false",
    ),
    (
        "automatic_os_upgrade_policy",
        f"{AUTO}.disableAutomaticRollback, {AUTO}.useRollingUpgradePolicy",
        "with today's semantics (SPEC 9.2, T9)",
    ),
    (
        "policy.automatic_rollback",
        f"{AUTO}.disableAutomaticRollback",
        "with the 2018 semantics: its negation, where it is given (section 4)",
    ),
    (
        "policy.max_batch_instance_percent",
        f"{ROLLING}.maxBatchInstancePercent",
        "a whole number",
    ),
    (
        "policy.max_unhealthy_instance_percent",
        f"{ROLLING}.maxUnhealthyInstancePercent",
        "a whole number",
    ),
    (
        "policy.max_unhealthy_upgraded_instance_percent",
        f"{ROLLING}.maxUnhealthyUpgradedInstancePercent",
        "a whole number",
    ),
    (
        "policy.pause_time_between_batches",
        f"{ROLLING}.pauseTimeBetweenBatches",
        "an ISO 8601 duration",
    ),
    (
        "policy.prioritize_unhealthy_instances",
        f"{ROLLING}.prioritizeUnhealthyInstances",
        "a boolean",
    ),
    (
        "health_probe (load balancer)",
        PROBE,
        "present: a load balancer probe; its `lb_sku` and interval live on the load "
        "balancer, not here: `--lb-sku` (default Standard) and `--probe-interval` "
        "(default 15), assumed",
    ),
    (
        "health_probe (application health)",
        f"{EXTENSIONS}[k] of type ApplicationHealthLinux or ApplicationHealthWindows",
        "its `settings.intervalInSeconds` (default 5)",
    ),
    (
        "extensions",
        f"{EXTENSIONS}[k].name",
        "every extension of the profile, by name",
    ),
    (
        "credentials",
        f"{EXTENSIONS}[k].properties.settings (a SAS URI's `se=`)",
        "each SAS URI in an extension's public settings is a credential "
        "`<extension>-sas` that expires at its `se=`, in seconds after the epoch "
        "(0 when already expired)",
    ),
    (
        "data_disks_per_instance",
        f"{VMP}.storageProfile.dataDisks",
        "how many",
    ),
    (
        "disk_encryption",
        f"{EXTENSIONS}[k] of type AzureDiskEncryption or AzureDiskEncryptionForLinux",
        "present: true",
    ),
    (
        "single_placement_group",
        "properties.singlePlacementGroup",
        "a boolean; absent is Azure's default, true",
    ),
    (
        "service_fabric.durability",
        f"{EXTENSIONS}[k].properties.settings.durabilityLevel of type ServiceFabricNode "
        "or ServiceFabricLinuxNode",
        "Bronze, Silver or Gold; `update_domains` from `--update-domains` (default 5, assumed)",
    ),
    (
        "service_fabric.extension_version",
        f"{EXTENSIONS}[k].properties.typeHandlerVersion of the Service Fabric extension",
        "with today's semantics (TV9)",
    ),
    ("location", "location", "a string"),
    (
        "timings, epoch, first_rollout_delay_seconds",
        "(not in Azure's JSON)",
        "`--os-disk-seconds`, `--extension-seconds`, `--app-start-seconds`, "
        "`--health-wait-seconds` (section 7's defaults), `--epoch` (default now), "
        "`--first-rollout-delay` (default 0), assumed",
    ),
)


def fields_table() -> str:
    """The Markdown table of docs/azure.md."""
    rows = ["| trace field | ARM path | how it is read |", "| --- | --- | --- |"]
    rows += [f"| `{field}` | {path} | {how} |" for field, path, how in FIELDS]
    return "\n".join(rows) + "\n"
