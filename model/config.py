"""The scale set's configuration (SPEC section 7 `scale_set`), its options
(section 4) and the configuration checks V1-V10 (section 3, D16).

Every class here is an immutable ``attrs`` type whose field names are the
trace format's; defaults are the spec's defaults, so the defaults reproduce
the seed's behaviour.
"""

from __future__ import annotations

import functools
import re

import attrs

# R9: the platform images that support automatic OS upgrades (publisher, offer, sku).
SUPPORTED_SKUS: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("Canonical", "UbuntuServer", "16.04-LTS"),
        ("Canonical", "UbuntuServer", "18.04-LTS"),
        ("OpenLogic", "CentOS", "7.5"),
        ("CoreOS", "CoreOS", "Stable"),
        ("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-Smalldisk"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-with-Containers"),
    }
)

MAX_INSTANCES = 1000  # V9
SINGLE_PLACEMENT_GROUP_MAX = 100  # V9
HISTORY_DAYS = 60  # R16
HISTORY_SIZE = 5  # R16
DEFAULT_EPOCH = "2018-10-01T00:00:00+00:00"


@attrs.frozen
class ImageReference:
    """A platform image (publisher/offer/sku/version) or a custom image (`id`, V3)."""

    publisher: str | None = None
    offer: str | None = None
    sku: str | None = None
    version: str | None = None
    id: str | None = None

    @property
    def is_custom(self) -> bool:
        return self.id is not None


@attrs.frozen
class HealthProbe:
    """R6, R11: a load balancer probe or the application health extension."""

    kind: str  # "load_balancer" | "application_health"
    lb_sku: str = "Standard"
    interval_seconds: int = attrs.field()

    @interval_seconds.default
    def _default_interval(self) -> int:
        return 15 if self.kind == "load_balancer" else 5


@attrs.frozen
class Extension:
    """R3: an extension that runs again after each OS disk replacement."""

    name: str
    credentials: tuple[str, ...] = ()


@attrs.frozen
class CredentialConfig:
    """R14: a credential's first token and its expiry (simulated seconds)."""

    expires_at: int


@attrs.frozen
class ServiceFabric:
    """R13: a Service Fabric cluster's durability tier and update domains."""

    durability: str  # Bronze | Silver | Gold
    update_domains: int = 5
    #: section 9.13 (with the switch only): TV7, TV9, TV10
    stateless_only: bool = False
    extension_version: str = "1.1"
    extension_durability: str | None = None  # None: the value of durability


@attrs.frozen
class Policy:
    """Section 4: the rolling upgrade policy; defaults are the seed's."""

    max_batch_instance_percent: int = 20  # R5
    max_unhealthy_instance_percent: int = 20  # R4, R8
    max_unhealthy_upgraded_instance_percent: int | None = None
    pause_time_between_batches: str = "PT0S"
    prioritize_unhealthy_instances: bool = False
    automatic_rollback: bool = False

    @property
    def pause_seconds(self) -> int:
        return parse_duration(self.pause_time_between_batches)


@attrs.frozen
class AutomaticOSUpgradePolicy:
    """T9 (with the switch only): the scale set's automaticOSUpgradePolicy."""

    disable_automatic_rollback: bool = False
    use_rolling_upgrade_policy: bool = False


@attrs.frozen
class Timings:
    """Operation durations (SPEC section 2, "Health, precisely")."""

    os_disk_seconds: int = 120
    extension_seconds: int = 60
    app_start_seconds: int = 30
    health_wait_seconds: int = 300  # R6: 5 minutes


@attrs.frozen
class ScaleSetConfig:
    """The initial scale set of a trace (SPEC section 7)."""

    instances: int
    image: ImageReference
    catalog: tuple[str, ...] = ("1.0.0",)
    automatic_os_upgrade: bool = True
    #: T6 (with the switch only): an array of one or two sources
    health_probe: HealthProbe | tuple[HealthProbe, ...] | None = None
    extensions: tuple[Extension, ...] = ()
    credentials: dict[str, CredentialConfig] = attrs.field(factory=dict)
    data_disks_per_instance: int = 1
    disk_encryption: bool = False
    single_placement_group: bool = True
    service_fabric: ServiceFabric | None = None
    policy: Policy = Policy()
    timings: Timings = Timings()
    location: str = "westeurope"
    epoch: str = DEFAULT_EPOCH
    #: T1: "2024-07-01" switches section 9 on; the fields below are section 9's
    api_version: str = "2018-10-01"
    automatic_os_upgrade_policy: AutomaticOSUpgradePolicy = AutomaticOSUpgradePolicy()
    first_rollout_delay_seconds: int = 0  # T18


#: T2: the fields a trace names only with the switch on (in this order)
TODAY_FIELDS = ("api_version", "automatic_os_upgrade_policy", "first_rollout_delay_seconds")
TODAY_SERVICE_FABRIC = ("stateless_only", "extension_version", "extension_durability")


_DURATION = re.compile(
    r"P(?!\Z)(?:(?P<w>[0-9]+)W)?(?:(?P<d>[0-9]+)D)?"
    r"(?:T(?=[0-9])(?:(?P<h>[0-9]+)H)?(?:(?P<m>[0-9]+)M)?(?:(?P<s>[0-9]+)S)?)?\Z"
)


@functools.lru_cache(maxsize=256)  # a run reads its pause at every batch's end
def parse_duration(text: str) -> int:
    """V10: a non-negative ISO 8601 duration (weeks, days, hours, minutes,
    whole seconds) in seconds. Years and months have no fixed length and are
    refused."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT0S or PT1M30S")
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
    return (
        parts["w"] * 604800 + parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    )


@attrs.frozen
class Finding:
    """The outcome of one configuration check: the rule, the field, a message."""

    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.field}: {self.message}"


def check_errors(config: ScaleSetConfig) -> list[Finding]:
    """The configuration errors (D16: they keep automatic upgrades off; the scale
    set exists): V1 an unsupported sku and V2 a version other than latest
    (R9), V3 a custom image (R9), V4 disk encryption (R10), V5 multiple
    placement groups without a probe on a Standard load balancer (R11), V6 a
    Service Fabric durability below Silver (R13)."""
    errors: list[Finding] = []
    image = config.image
    if image.is_custom:
        errors.append(Finding("V3", "image.id", "a custom image cannot be upgraded automatically"))
    else:
        sku = (image.publisher, image.offer, image.sku)
        if sku not in SUPPORTED_SKUS:
            errors.append(
                Finding("V1", "image.sku", f"{'/'.join(map(str, sku))} is not a supported sku")
            )
        if image.version != "latest":
            errors.append(
                Finding("V2", "image.version", f"version must be 'latest', not {image.version!r}")
            )
    probe = config.health_probe
    errors += encryption_and_placement(config, () if probe is None else (probe,))
    sf = config.service_fabric
    if sf is not None and sf.durability not in ("Silver", "Gold"):
        errors.append(
            Finding(
                "V6",
                "service_fabric.durability",
                f"durability {sf.durability} is not Silver or Gold",
            )
        )
    return errors


def encryption_and_placement(config: ScaleSetConfig, probes: tuple) -> list[Finding]:
    """V4 disk encryption (R10) and V5 multiple placement groups without a
    probe on a Standard load balancer (R11), ``probes`` being the health
    sources (one at most without section 9's switch, T6: either may satisfy V5)."""
    found: list[Finding] = []
    if config.disk_encryption:
        found.append(
            Finding("V4", "disk_encryption", "Azure Disk Encryption is not supported (R10)")
        )
    if not config.single_placement_group and not any(
        p.kind == "application_health" or p.lb_sku == "Standard" for p in probes
    ):
        found.append(
            Finding(
                "V5",
                "health_probe",
                "multiple placement groups need a probe on a Standard load balancer",
            )
        )
    return found


#: D16: the actions that standing V errors can refuse
ENABLE, MANUAL_START = "enable", "manual start"


def v_refusal(errors: list[Finding], action: str) -> str | None:
    """D16, where each V check bites: the reason the standing V errors refuse
    ``action``, naming each rule and field, or None. Every error among V1-V6
    refuses enabling automatic upgrades (so no Platform run starts, D4);
    V1, V2 and V3 refuse a manual start (D4). V7 and V8 are warnings; V9 and V10
    make a trace malformed (model/trace.py) or refuse a scale-out."""
    if action == MANUAL_START:
        errors = [f for f in errors if f.rule in ("V1", "V2", "V3")]
    return "; ".join(str(f) for f in errors) or None


def check_warnings(config: ScaleSetConfig) -> list[Finding]:
    """V7 (R11: a probe interval of two minutes or more) and V8 (no probe):
    warnings, reported once from the initial configuration (D16)."""
    warnings: list[Finding] = []
    probe = config.health_probe
    if probe is not None and probe.interval_seconds >= 120:
        warnings.append(
            Finding(
                "V7",
                "health_probe.interval_seconds",
                f"probe interval {probe.interval_seconds}s should be below 120 seconds",
            )
        )
    if probe is None and config.service_fabric is None:
        warnings.append(
            Finding(
                "V8",
                "health_probe",
                "no health probe: a broken image looks healthy and rolls out everywhere",
            )
        )
    return warnings


def check_instance_count(count: int, single_placement_group: bool) -> Finding | None:
    """V9: 0 to 1000 instances; more than 100 need multiple placement groups."""
    if count < 0 or count > MAX_INSTANCES:
        return Finding("V9", "instances", f"{count} instances is outside 0 to {MAX_INSTANCES}")
    if count > SINGLE_PLACEMENT_GROUP_MAX and single_placement_group:
        return Finding(
            "V9",
            "instances",
            f"{count} instances need multiple placement groups "
            f"(single_placement_group false) above {SINGLE_PLACEMENT_GROUP_MAX}",
        )
    return None


def check_policy(policy: Policy) -> list[Finding]:
    """V10: policy values in range."""
    found: list[Finding] = []
    for name in ("max_batch_instance_percent", "max_unhealthy_instance_percent"):
        value = getattr(policy, name)
        if not 5 <= value <= 100:
            found.append(Finding("V10", f"policy.{name}", f"{value} is outside 5 to 100"))
    upgraded = policy.max_unhealthy_upgraded_instance_percent
    if upgraded is not None and not 0 <= upgraded <= 100:
        found.append(
            Finding(
                "V10",
                "policy.max_unhealthy_upgraded_instance_percent",
                f"{upgraded} is outside 0 to 100",
            )
        )
    try:
        parse_duration(policy.pause_time_between_batches)
    except ValueError as exc:
        found.append(Finding("V10", "policy.pause_time_between_batches", str(exc)))
    return found
