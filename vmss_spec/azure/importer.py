"""``vmss-spec import``: a scale set as Azure gives it, read through the SDK's
model (``azure.mgmt.compute.models.VirtualMachineScaleSet``), as the
``scale_set`` object of a trace (SPEC section 7; section 9 with today's
semantics).

Every value taken is checked and, when wrong, named by its ARM path. What
Azure's JSON does not hold (timings, the catalog, the probe's load balancer
sku and interval) comes from options with section 7's defaults and is listed
as assumed; what the model does not cover is one warning line each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from model.jsontext import short
from model.today import TODAY_API
from vmss_spec.azure.fields import AUTO, EXTENSIONS, IMAGE, PROBE, ROLLING, VMP
from vmss_spec.azure.read import AzureInputError, ScaleSetDocument, is_expression
from vmss_spec.azure.semantics import choose_api, get, not_covered

#: policy field of section 4 -> rollingUpgradePolicy's name
_POLICY = (
    ("max_batch_instance_percent", "maxBatchInstancePercent", int),
    ("max_unhealthy_instance_percent", "maxUnhealthyInstancePercent", int),
    ("max_unhealthy_upgraded_instance_percent", "maxUnhealthyUpgradedInstancePercent", int),
    ("pause_time_between_batches", "pauseTimeBetweenBatches", str),
    ("prioritize_unhealthy_instances", "prioritizeUnhealthyInstances", bool),
)

#: the order of section 7's example (section 9's fields after it)
_ORDER = (
    "api_version",
    "instances",
    "image",
    "catalog",
    "automatic_os_upgrade",
    "health_probe",
    "extensions",
    "credentials",
    "data_disks_per_instance",
    "disk_encryption",
    "single_placement_group",
    "service_fabric",
    "policy",
    "timings",
    "location",
    "epoch",
    "automatic_os_upgrade_policy",
    "first_rollout_delay_seconds",
)


@attrs.define
class Options:
    """What Azure's JSON does not say (section 7's defaults)."""

    api_version: str | None = None
    epoch: str | None = None
    current_version: str | None = None
    lb_sku: str | None = None
    probe_interval: int | None = None
    update_domains: int | None = None
    first_rollout_delay: int | None = None
    timings: dict[str, int] = attrs.field(factory=dict)


@attrs.define
class Imported:
    """The ``scale_set`` object and what was said of it."""

    scale_set: dict[str, Any]
    api_version: str
    #: why these semantics
    why: str
    assumed: list[str]
    warnings: list[str]
    #: trace field -> (ARM path, the value as Azure gave it)
    origin: dict[str, tuple[str, Any]]


def _want(path: str, value: Any, kind: type) -> Any:
    """``value`` checked to be of ``kind``; AzureInputError names the path."""
    if is_expression(value):
        raise AzureInputError(
            f"{path}: {short(value)} is an ARM template expression the import does not evaluate"
        )
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        what = {int: "a whole number", bool: "a boolean", str: "a string"}[kind]
        raise AzureInputError(f"{path}: {short(value)} is not {what}")
    return value


def _seconds(text: str) -> int:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def _sas_expiries(settings: Any) -> list[str]:
    """The ``se=`` of every SAS URI among the strings of public settings."""
    found: list[str] = []
    stack = [settings]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, str) and "se=" in value and "sig=" in value:
            query = parse_qs(urlsplit(value).query)
            found += query.get("se", [])[:1]
    return found


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class _Import:
    def __init__(self, doc: ScaleSetDocument, options: Options) -> None:
        self.doc, self.options = doc, options
        self.vmss = doc.model
        self.api, self.why = choose_api(doc, options.api_version)
        self.today = self.api == TODAY_API
        self.assumed: list[str] = []
        self.warnings: list[str] = []
        self.origin: dict[str, tuple[str, Any]] = {}
        self.out: dict[str, Any] = {}

    def take(self, field: str, path: str, value: Any) -> Any:
        self.origin[field] = (path, value)
        return value

    def run(self) -> Imported:
        out, props = self.out, self.vmss.properties
        if self.today:
            out["api_version"] = TODAY_API
        sku = self.vmss.sku
        if sku is None or sku.capacity is None:
            raise AzureInputError("sku.capacity: missing (the scale set's instance count)")
        out["instances"] = self.take(
            "instances", "sku.capacity", _want("sku.capacity", sku.capacity, int)
        )
        vmp = props.virtual_machine_profile
        storage = vmp.storage_profile if vmp is not None else None
        self.image(storage.image_reference if storage is not None else None)
        self.upgrade_policy(props.upgrade_policy)
        extensions = []
        if vmp is not None and vmp.extension_profile is not None:
            extensions = list(vmp.extension_profile.extensions or [])
        self.health(vmp, extensions)
        self.extensions(extensions)
        disks = list(storage.data_disks or []) if storage is not None else []
        out["data_disks_per_instance"] = self.take(
            "data_disks_per_instance", f"{VMP}.storageProfile.dataDisks", len(disks)
        )
        single = props.single_placement_group
        if single is None:
            single = True
            self.assumed.append("single_placement_group: true (Azure's default; not in the file)")
        else:
            _want("properties.singlePlacementGroup", single, bool)
        out["single_placement_group"] = self.take(
            "single_placement_group", "properties.singlePlacementGroup", single
        )
        self.location()
        self.times()
        self.warnings += not_covered(self.doc.data)
        ordered = {k: out[k] for k in _ORDER if k in out}
        if not ordered.get("timings"):
            ordered.pop("timings", None)
        return Imported(ordered, self.api, self.why, self.assumed, self.warnings, self.origin)

    # ------------------------------------------------------------ image
    def image(self, ref: Any) -> None:
        if ref is None:
            raise AzureInputError(f"{IMAGE}: missing (the scale set's image)")
        for name, attr in (
            ("sharedGalleryImageId", "shared_gallery_image_id"),
            ("communityGalleryImageId", "community_gallery_image_id"),
        ):
            if getattr(ref, attr, None):
                raise AzureInputError(
                    f"{IMAGE}.{name}: a direct shared or community gallery image is not "
                    "modelled (SPEC 9.17)"
                )
        current = self.options.current_version
        if ref.id:
            image_id = _want(f"{IMAGE}.id", ref.id, str)
            self.out["image"] = {"id": self.take("image.id", f"{IMAGE}.id", image_id)}
            if "/versions/" in image_id.lower():
                current = image_id.rsplit("/", 1)[-1]
            elif "/galleries/" in image_id.lower() and not self.today:
                self.warnings.append(
                    f"{IMAGE}.id: a Compute Gallery image is a custom image to the 2018 "
                    "model (V3); --api-version 2024-07-01 models it (SPEC 9.3)"
                )
        else:
            picture = {}
            for part in ("publisher", "offer", "sku"):
                value = getattr(ref, part)
                if value is None:
                    raise AzureInputError(f"{IMAGE}.{part}: missing")
                picture[part] = self.take(
                    f"image.{part}", f"{IMAGE}.{part}", _want(f"{IMAGE}.{part}", value, str)
                )
            version = ref.version
            if version is None:
                version = "latest"
                self.assumed.append(f'image.version: "latest" ({IMAGE}.version is absent)')
            picture["version"] = self.take(
                "image.version", f"{IMAGE}.version", _want(f"{IMAGE}.version", version, str)
            )
            if version.lower() != "latest":
                current = version
            self.out["image"] = picture
        if current is None:
            current = "1.0.0"
            self.assumed.append(
                'catalog: ["1.0.0"] (the version the instances run is not in the file; '
                "--current-version)"
            )
        self.out["catalog"] = [current]

    # ------------------------------------------------------------ policy
    def upgrade_policy(self, upgrade: Any) -> None:
        auto = upgrade.automatic_os_upgrade_policy if upgrade is not None else None
        rolling = upgrade.rolling_upgrade_policy if upgrade is not None else None
        enabled = auto.enable_automatic_os_upgrade if auto is not None else None
        if enabled is None:
            enabled = False
            self.assumed.append(
                f"automatic_os_upgrade: false ({AUTO}.enableAutomaticOSUpgrade is absent; "
                "Azure's default)"
            )
        path = f"{AUTO}.enableAutomaticOSUpgrade"
        self.out["automatic_os_upgrade"] = self.take(
            "automatic_os_upgrade", path, _want(path, enabled, bool)
        )
        policy: dict[str, Any] = {}
        for field, rest, kind in _POLICY:
            value = get(self.doc.data, f"{ROLLING}.{rest}")
            if value is not None:
                policy[field] = self.take(
                    f"policy.{field}", f"{ROLLING}.{rest}", _want(f"{ROLLING}.{rest}", value, kind)
                )
        disable = auto.disable_automatic_rollback if auto is not None else None
        if disable is not None:
            _want(f"{AUTO}.disableAutomaticRollback", disable, bool)
        if self.today:
            chosen = {}
            if disable is not None:
                chosen["disable_automatic_rollback"] = disable
            use = auto.use_rolling_upgrade_policy if auto is not None else None
            if use is not None:
                chosen["use_rolling_upgrade_policy"] = _want(
                    f"{AUTO}.useRollingUpgradePolicy", use, bool
                )
            self.out["automatic_os_upgrade_policy"] = chosen
        elif disable is not None:
            policy["automatic_rollback"] = self.take(
                "policy.automatic_rollback", f"{AUTO}.disableAutomaticRollback", not disable
            )
        if rolling is None:
            self.assumed.append(
                f"policy: {ROLLING} is absent; "
                + ("today's defaults (TD2)" if self.today else "section 4's defaults")
            )
        self.out["policy"] = policy

    # ------------------------------------------------------------ health
    def health(self, vmp: Any, extensions: list[Any]) -> None:
        sources: list[dict[str, Any]] = []
        probe = (
            vmp.network_profile.health_probe if vmp is not None and vmp.network_profile else None
        )
        if probe is not None:
            sku = self.options.lb_sku or "Standard"
            interval = self.options.probe_interval or 15
            if self.options.lb_sku is None or self.options.probe_interval is None:
                self.assumed.append(
                    f"health_probe: a load balancer probe, lb_sku {sku}, interval {interval}s "
                    f"(they live on the load balancer, not in {PROBE}; --lb-sku, --probe-interval)"
                )
            self.take("health_probe", PROBE, "a load balancer probe")
            self.take("health_probe.interval_seconds", f"{PROBE} (--probe-interval)", interval)
            sources.append({"kind": "load_balancer", "lb_sku": sku, "interval_seconds": interval})
        for k, ext in enumerate(extensions):
            kind = str(getattr(ext.properties, "type", "") or "") if ext.properties else ""
            if kind.lower().startswith("applicationhealth"):
                path = f"{EXTENSIONS}[{k}]"
                settings = ext.properties.settings or {}
                interval = settings.get("intervalInSeconds", 5) if isinstance(settings, dict) else 5
                where = f"{path}.properties.settings.intervalInSeconds"
                _want(where, interval, int)
                if not sources:
                    self.take("health_probe", path, f"the {kind} extension")
                    self.take("health_probe.interval_seconds", where, interval)
                sources.append({"kind": "application_health", "interval_seconds": interval})
                break
        if not sources:
            self.out["health_probe"] = self.take("health_probe", PROBE, None)
        elif len(sources) == 1 or self.today:
            self.out["health_probe"] = sources[0] if len(sources) == 1 else sources
        else:
            self.out["health_probe"] = sources[0]
            self.warnings.append(
                f"{PROBE} and an Application Health extension: the 2018 model takes one "
                "health source, the load balancer probe"
            )

    # ------------------------------------------------------------ extensions
    def extensions(self, extensions: list[Any]) -> None:
        epoch = self.epoch()
        listed, credentials = [], {}
        for k, ext in enumerate(extensions):
            path = f"{EXTENSIONS}[{k}]"
            name = _want(f"{path}.name", ext.name, str) if ext.name is not None else f"extension{k}"
            props = ext.properties
            publisher = str(getattr(props, "publisher", "") or "") if props else ""
            kind = str(getattr(props, "type", "") or "") if props else ""
            if kind.lower().startswith("azurediskencryption"):
                self.out["disk_encryption"] = self.take("disk_encryption", path, True)
            if publisher.lower() == "microsoft.azure.servicefabric":
                self.service_fabric(path, props)
            names = []
            settings = props.settings if props is not None else None
            for j, expiry in enumerate(_sas_expiries(settings)):
                credential = f"{name}-sas" if j == 0 else f"{name}-sas{j + 1}"
                try:
                    at = _seconds(expiry) - epoch
                except ValueError:
                    raise AzureInputError(
                        f"{path}.properties.settings: a SAS URI's se={short(expiry)} is not a date"
                    ) from None
                if at <= 0:
                    self.warnings.append(
                        f"{path}: the SAS URI of {name} expired at {expiry}, before the epoch"
                    )
                credentials[credential] = {"expires_at": max(0, at)}
                self.take(f"credentials.{credential}", f"{path}.properties.settings", expiry)
                names.append(credential)
            listed.append({"name": name, "credentials": names})
        self.out["extensions"] = listed
        self.out["credentials"] = credentials
        self.out.setdefault("disk_encryption", False)

    def service_fabric(self, path: str, props: Any) -> None:
        settings = props.settings if isinstance(props.settings, dict) else {}
        where = f"{path}.properties.settings.durabilityLevel"
        durability = settings.get("durabilityLevel")
        if durability is None:
            durability = "Bronze"
            self.assumed.append(f"service_fabric.durability: Bronze ({where} is absent)")
        _want(where, durability, str)
        domains = self.options.update_domains or 5
        if self.options.update_domains is None:
            self.assumed.append("service_fabric.update_domains: 5 (--update-domains)")
        sf: dict[str, Any] = {"durability": durability, "update_domains": domains}
        self.take("service_fabric.durability", where, durability)
        if self.today:
            version = props.type_handler_version
            if version is not None:
                version_path = f"{path}.properties.typeHandlerVersion"
                sf["extension_version"] = self.take(
                    "service_fabric.extension_version",
                    version_path,
                    _want(version_path, version, str),
                )
            self.assumed.append(
                "service_fabric.stateless_only: false (the cluster's isStateless is not in "
                "the scale set)"
            )
        self.out["service_fabric"] = sf

    # ------------------------------------------------------------ the rest
    def location(self) -> None:
        location = self.vmss.location
        if location is None or is_expression(location):
            self.assumed.append(
                "location: westeurope (section 7's default; "
                + ("not in the file)" if location is None else f"{short(location)} not evaluated)")
            )
            location = "westeurope"
        self.out["location"] = self.take("location", "location", _want("location", location, str))

    def epoch(self) -> int:
        if "epoch" not in self.out:
            epoch = self.options.epoch
            if epoch is None:
                epoch = _now()
                self.assumed.append(f"epoch: {epoch} (now; --epoch)")
            self.out["epoch"] = epoch
        try:
            return _seconds(self.out["epoch"])
        except ValueError:
            raise AzureInputError(
                f"--epoch: {short(self.out['epoch'])} is not a date-time"
            ) from None

    def times(self) -> None:
        given = self.options.timings
        self.out["timings"] = dict(given)
        missing = [
            k
            for k in (
                "os_disk_seconds",
                "extension_seconds",
                "app_start_seconds",
                "health_wait_seconds",
            )
            if k not in given
        ]
        if missing:
            self.assumed.append(f"timings: section 7's defaults for {', '.join(missing)}")
        if self.today:
            delay = self.options.first_rollout_delay
            self.out["first_rollout_delay_seconds"] = delay or 0
            if delay is None:
                self.assumed.append("first_rollout_delay_seconds: 0 (--first-rollout-delay)")


def import_scale_set(doc: ScaleSetDocument, options: Options | None = None) -> Imported:
    """The ``scale_set`` object of a trace for the scale set of ``doc``."""
    return _Import(doc, options or Options()).run()
