"""V1-V10 (SPEC section 3) and where each bites (D16): every rule's trigger and
non-trigger, its severity, and a message that names the field and the rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from model import (
    HealthProbe,
    ImageReference,
    Policy,
    PublishImage,
    ScaleOut,
    ScaleSet,
    ScaleSetConfig,
    ServiceFabric,
    SetAutomaticUpgrade,
    StartUpgrade,
    TraceError,
    parse_trace,
)
from model.config import (
    check_errors,
    check_instance_count,
    check_policy,
    check_warnings,
    parse_duration,
)

UBUNTU = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest")
PROBE = HealthProbe("load_balancer")


def config(image: ImageReference = UBUNTU, **kwargs: Any) -> ScaleSetConfig:
    kwargs.setdefault("instances", 3)
    kwargs.setdefault("health_probe", PROBE)  # no V8 unless a test asks for it
    return ScaleSetConfig(image=image, **kwargs)


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def assert_error(cfg: ScaleSetConfig, rule: str, field: str) -> None:
    """Severity error (D16): the scale set exists, automatic upgrades stay off,
    the refusal is in `rejected` at 0 and any later opt-in is refused with a
    message naming the rule and the field."""
    found = [f for f in check_errors(cfg) if f.rule == rule]
    assert [f.field for f in found] == [field]
    ss = ScaleSet(cfg)
    assert len(ss.instances) == cfg.instances
    assert not ss.auto_enabled
    assert [(r.at, r.event) for r in ss.rejected] == [(0, "set_automatic_upgrade")]
    assert f"{rule}: {field}: " in ss.rejected[0].reason
    rejection = ss.apply(SetAutomaticUpgrade(10, True))
    assert rejection is not None and f"{rule}: {field}: " in rejection.reason
    assert not ss.auto_enabled
    ss.apply(PublishImage(20, "1.0.1"))
    assert ss.runs == []


def assert_clean(cfg: ScaleSetConfig) -> None:
    assert check_errors(cfg) == []
    ss = ScaleSet(cfg)
    assert ss.auto_enabled and ss.rejected == []


# ----------------------------------------------------------------------- V1
def test_v1_unsupported_sku_is_an_error() -> None:
    assert_error(
        config(ImageReference("Canonical", "UbuntuServer", "14.04-LTS", "latest")),
        "V1",
        "image.sku",
    )
    assert_error(config(ImageReference("Debian", "debian-10", "10", "latest")), "V1", "image.sku")


def test_v1_supported_sku_passes() -> None:
    assert_clean(config(ImageReference("OpenLogic", "CentOS", "7.5", "latest")))


# ----------------------------------------------------------------------- V2
def test_v2_pinned_version_is_an_error() -> None:
    image = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "18.04.201810030")
    assert_error(config(image), "V2", "image.version")
    assert "18.04.201810030" in check_errors(config(image))[0].message


def test_v2_latest_passes() -> None:
    assert_clean(config())


# ----------------------------------------------------------------------- V3
def test_v3_custom_image_is_an_error() -> None:
    assert_error(config(ImageReference(id="/subscriptions/s/images/mine")), "V3", "image.id")


def test_v3_manual_start_refused_too() -> None:
    ss = ScaleSet(config(ImageReference(id="/img")))
    rejection = ss.apply(StartUpgrade(10))
    assert rejection is not None and rejection.reason.startswith("V3: image.id: ")


# ----------------------------------------------------------------------- V4
def test_v4_disk_encryption_is_an_error() -> None:
    assert_error(config(disk_encryption=True), "V4", "disk_encryption")


def test_v4_no_encryption_passes() -> None:
    assert_clean(config(disk_encryption=False))


# ----------------------------------------------------------------------- V5
def test_v5_multiple_placement_groups_without_probe_is_an_error() -> None:
    assert_error(config(single_placement_group=False, health_probe=None), "V5", "health_probe")


def test_v5_basic_load_balancer_is_an_error() -> None:
    cfg = config(single_placement_group=False, health_probe=HealthProbe("load_balancer", "Basic"))
    assert_error(cfg, "V5", "health_probe")


def test_v5_standard_load_balancer_passes() -> None:
    assert_clean(config(single_placement_group=False, health_probe=PROBE))


def test_v5_application_health_probe_satisfies_it() -> None:
    # D16: V5 concerns load balancer probes; an application health probe satisfies it.
    assert_clean(
        config(single_placement_group=False, health_probe=HealthProbe("application_health"))
    )


def test_v5_single_placement_group_needs_nothing() -> None:
    assert check_errors(config(health_probe=HealthProbe("load_balancer", "Basic"))) == []
    assert check_errors(config(health_probe=None)) == []


# ----------------------------------------------------------------------- V6
def test_v6_bronze_durability_is_an_error() -> None:
    assert_error(config(service_fabric=ServiceFabric("Bronze")), "V6", "service_fabric.durability")


@pytest.mark.parametrize("durability", ["Silver", "Gold"])
def test_v6_silver_and_gold_pass(durability: str) -> None:
    assert_clean(config(service_fabric=ServiceFabric(durability)))


# ----------------------------------------------------------------------- V7
def test_v7_probe_interval_at_120_is_a_warning() -> None:
    cfg = config(health_probe=HealthProbe("load_balancer", interval_seconds=120))
    warnings = check_warnings(cfg)
    assert [(w.rule, w.field) for w in warnings] == [("V7", "health_probe.interval_seconds")]
    assert "120" in warnings[0].message
    # A warning: reported, and automatic upgrades are on.
    ss = ScaleSet(cfg)
    assert rules(ss.warnings) == ["V7"] and ss.auto_enabled and ss.rejected == []
    ss.apply(PublishImage(10, "1.0.1"))
    assert len(ss.runs) == 1


def test_v7_probe_interval_below_120_passes() -> None:
    assert (
        check_warnings(config(health_probe=HealthProbe("load_balancer", interval_seconds=119)))
        == []
    )
    assert check_warnings(config(health_probe=HealthProbe("application_health"))) == []


# ----------------------------------------------------------------------- V8
def test_v8_no_probe_is_a_warning() -> None:
    cfg = config(health_probe=None)
    assert [(w.rule, w.field) for w in check_warnings(cfg)] == [("V8", "health_probe")]
    ss = ScaleSet(cfg)
    assert ss.auto_enabled and ss.v_errors == []


def test_v8_service_fabric_or_probe_passes() -> None:
    assert check_warnings(config(health_probe=None, service_fabric=ServiceFabric("Gold"))) == []
    assert check_warnings(config()) == []


def test_warnings_are_reported_once() -> None:
    ss = ScaleSet(config(health_probe=None))
    for t in (10, 20):
        ss.apply(SetAutomaticUpgrade(t, False))
        ss.apply(SetAutomaticUpgrade(t, True))
    assert rules(ss.warnings) == ["V8"]


def test_errors_are_all_named() -> None:
    cfg = config(
        ImageReference("Canonical", "UbuntuServer", "14.04-LTS", "1.0"), disk_encryption=True
    )
    reason = ScaleSet(cfg).rejected[0].reason
    assert reason.split("; ")[0].startswith("V1: image.sku: ")
    assert [part.split(":")[0] for part in reason.split("; ")] == ["V1", "V2", "V4"]


def test_opt_out_is_never_refused() -> None:
    ss = ScaleSet(config(disk_encryption=True))
    assert ss.apply(SetAutomaticUpgrade(10, False)) is None


# ----------------------------------------------------------------------- V9
@pytest.mark.parametrize(
    ("count", "single", "ok"),
    [
        (0, True, True),
        (100, True, True),
        (101, True, False),  # more than 100 need multiple placement groups
        (101, False, True),
        (1000, False, True),
        (1001, False, False),
        (-1, False, False),
    ],
)
def test_v9_instance_count(count: int, single: bool, ok: bool) -> None:
    found = check_instance_count(count, single)
    if ok:
        assert found is None
    else:
        assert (found.rule, found.field) == ("V9", "instances")
        assert str(count) in found.message


def test_v9_scale_out_beyond_is_refused() -> None:
    ss = ScaleSet(config(instances=98))
    assert ss.apply(ScaleOut(10, 2)) is None  # 100
    rejection = ss.apply(ScaleOut(20, 1))  # 101 with a single placement group
    assert rejection is not None and rejection.reason.startswith("V9: ")
    assert (rejection.at, rejection.event) == (20, "scale_out")
    assert len(ss.instances) == 100


TRACE: dict[str, Any] = {
    "format": "vmss-upgrade-trace/1",
    "scale_set": {
        "instances": 3,
        "image": {
            "publisher": "Canonical",
            "offer": "UbuntuServer",
            "sku": "18.04-LTS",
            "version": "latest",
        },
    },
    "events": [],
}


def trace_with(**scale_set: Any) -> dict[str, Any]:
    data = copy.deepcopy(TRACE)
    data["scale_set"].update(scale_set)
    return data


@pytest.mark.parametrize(
    "scale_set",
    [
        {"instances": 101},
        {"instances": 1001, "single_placement_group": False},
    ],
)
def test_v9_in_initial_scale_set_makes_trace_malformed(scale_set: dict[str, Any]) -> None:
    with pytest.raises(TraceError) as info:
        parse_trace(trace_with(**scale_set))
    message = str(info.value)
    assert message.startswith("/scale_set/instances: ") and "(V9)" in message
    assert "\n" not in message


def test_v9_large_multi_placement_group_trace_is_fine() -> None:
    trace = parse_trace(trace_with(instances=101, single_placement_group=False))
    assert trace.scale_set.instances == 101


# ----------------------------------------------------------------------- V10
@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (Policy(max_batch_instance_percent=4), "policy.max_batch_instance_percent"),
        (Policy(max_batch_instance_percent=101), "policy.max_batch_instance_percent"),
        (Policy(max_unhealthy_instance_percent=4), "policy.max_unhealthy_instance_percent"),
        (Policy(max_unhealthy_instance_percent=101), "policy.max_unhealthy_instance_percent"),
        (
            Policy(max_unhealthy_upgraded_instance_percent=-1),
            "policy.max_unhealthy_upgraded_instance_percent",
        ),
        (
            Policy(max_unhealthy_upgraded_instance_percent=101),
            "policy.max_unhealthy_upgraded_instance_percent",
        ),
        (Policy(pause_time_between_batches="PT-1S"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="1 minute"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="P"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="PT"), "policy.pause_time_between_batches"),
        # V10: years, months and fractions have no fixed length in seconds
        (Policy(pause_time_between_batches="P1Y"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="P1M"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="PT1.5S"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="PT0,5S"), "policy.pause_time_between_batches"),
        # digits are ASCII digits, and the duration is the whole text
        (Policy(pause_time_between_batches="PT\u0663S"), "policy.pause_time_between_batches"),
        (Policy(pause_time_between_batches="PT1S\n"), "policy.pause_time_between_batches"),
    ],
)
def test_v10_out_of_range(policy: Policy, field: str) -> None:
    assert [(f.rule, f.field) for f in check_policy(policy)] == [("V10", field)]


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(max_batch_instance_percent=5, max_unhealthy_instance_percent=5),
        Policy(max_batch_instance_percent=100, max_unhealthy_instance_percent=100),
        Policy(max_unhealthy_upgraded_instance_percent=0),
        Policy(max_unhealthy_upgraded_instance_percent=100),
        Policy(pause_time_between_batches="PT1M30S"),
        Policy(pause_time_between_batches="P1DT1H"),
        Policy(pause_time_between_batches="P1W"),
    ],
)
def test_v10_in_range(policy: Policy) -> None:
    assert check_policy(policy) == []


def test_v10_pause_durations_in_seconds() -> None:
    assert [parse_duration(d) for d in ("PT0S", "PT1M30S", "P1DT1H", "P1W", "PT2H")] == [
        0,
        90,
        86400 + 3600,
        7 * 86400,
        7200,
    ]


@pytest.mark.parametrize(
    ("policy", "place"),
    [
        ({"max_batch_instance_percent": 4}, "/scale_set/policy/max_batch_instance_percent"),
        (
            {"max_unhealthy_instance_percent": 101},
            "/scale_set/policy/max_unhealthy_instance_percent",
        ),
        (
            {"max_unhealthy_upgraded_instance_percent": 101},
            "/scale_set/policy/max_unhealthy_upgraded_instance_percent",
        ),
        ({"pause_time_between_batches": "soon"}, "/scale_set/policy/pause_time_between_batches"),
    ],
)
def test_v10_in_trace_makes_it_malformed(policy: dict[str, Any], place: str) -> None:
    with pytest.raises(TraceError) as info:
        parse_trace(trace_with(policy=policy))
    message = str(info.value)
    assert message.startswith(place + ": ") and "(V10)" in message
    assert "\n" not in message
