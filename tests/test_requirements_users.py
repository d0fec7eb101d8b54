"""R9-R18 (SPEC section 2): what the user's scale set and actions bring:
supported images, disk encryption and the probe configuration (R9-R11), the
manual start (R12), Service Fabric (R13), credentials and their recovery (R14,
R15), the history view (R16), the latest version (R17) and new instances (R18).
One or more tests per requirement, through the Python API. Expected numbers
are derived by hand from the spec and the default timings (os_disk 120 s,
extensions 60 s, app start 30 s, health wait 300 s): a batch takes
120 + 60 + 30 = 210 s with a probe and 120 + 60 = 180 s without one (no health
wait, R7)."""

from __future__ import annotations

from model import (
    CredentialConfig,
    ExpireCredential,
    Extension,
    HealthProbe,
    ImageReference,
    OutageStart,
    Policy,
    PublishImage,
    RegenerateCredential,
    ScaleOut,
    ScaleSet,
    ScaleSetConfig,
    ServiceFabric,
    StartUpgrade,
    UpdateModel,
    version_key,
)
from model.catalog import Catalog
from model.history import history_view
from model.trace import converter
from tests.support import PROBE, UBUNTU, batches, make, play


# ----------------------------------------------------------------------- R9, R10, R11
def _refused_auto(ss: ScaleSet, rule: str) -> None:
    assert not ss.auto_enabled
    assert [(r.at, r.event) for r in ss.rejected] == [(0, "set_automatic_upgrade")]
    assert ss.rejected[0].reason.startswith(rule + ": ")
    play(ss, [PublishImage(100, "1.0.1")], until=2000)
    assert ss.runs == []


def test_r9_custom_image_refused() -> None:
    _refused_auto(ScaleSet(ScaleSetConfig(instances=3, image=ImageReference(id="/my/img"))), "V3")


def test_r9_unsupported_sku_refused() -> None:
    image = ImageReference("Canonical", "UbuntuServer", "14.04-LTS", "latest")
    _refused_auto(ScaleSet(ScaleSetConfig(instances=3, image=image)), "V1")


def test_r9_pinned_version_refused() -> None:
    image = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "1.0.0")
    _refused_auto(ScaleSet(ScaleSetConfig(instances=3, image=image)), "V2")


def test_r9_every_supported_sku_accepted() -> None:
    skus = [
        ("Canonical", "UbuntuServer", "16.04-LTS"),
        ("Canonical", "UbuntuServer", "18.04-LTS"),
        ("OpenLogic", "CentOS", "7.5"),
        ("CoreOS", "CoreOS", "Stable"),
        ("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-Smalldisk"),
        ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-with-Containers"),
    ]
    for sku in skus:
        ss = ScaleSet(ScaleSetConfig(instances=1, image=ImageReference(*sku, "latest")))
        assert ss.v_errors == [] and ss.auto_enabled, sku


def test_r10_disk_encryption_refused() -> None:
    _refused_auto(make(3, disk_encryption=True), "V4")


def test_r11_probe_interval_warning_and_placement_groups() -> None:
    ss = make(3, health_probe=HealthProbe("load_balancer", interval_seconds=120))
    assert [w.rule for w in ss.warnings] == ["V7"] and ss.auto_enabled
    _refused_auto(
        make(3, single_placement_group=False, health_probe=HealthProbe("load_balancer", "Basic")),
        "V5",
    )
    ok = make(3, single_placement_group=False, health_probe=PROBE)
    assert ok.v_errors == [] and ok.auto_enabled


# ----------------------------------------------------------------------- R12
def test_r12_manual_start_while_opted_out() -> None:
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), StartUpgrade(200)],
        until=1100,
    )
    # 5 batches x 180 s from 200: Completed at 1100.
    assert [(r.started_by, r.target, r.start, r.code, r.end) for r in ss.runs] == [
        ("User", "1.0.1", 200, "Completed", 1100)
    ]


def test_r12_instances_already_on_latest_untouched() -> None:
    # Instances 10, 11 are created at 100 from 1.0.1 (R18) and done at 280.
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), ScaleOut(100, 2), StartUpgrade(300)],
        until=100_000,
    )
    run = ss.runs[0]
    assert sorted(run.scope) == list(range(10))
    assert all(i not in b.instances for b in run.batches for i in (10, 11))
    assert [ss.instances[i].os_disk for i in (10, 11)] == ["os-10-0", "os-11-0"]
    assert run.code == "Completed"


def test_r12_manual_start_refused_with_409_while_active() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=150)
    before = (len(ss.runs), ss.runs[0].state, [sorted(b.instances) for b in ss.runs[0].batches])
    rejection = ss.apply(StartUpgrade(150))
    assert rejection is not None and rejection.reason.startswith("409")
    assert (rejection.at, rejection.event) == (150, "start_upgrade")
    after = (len(ss.runs), ss.runs[0].state, [sorted(b.instances) for b in ss.runs[0].batches])
    assert after == before


# ----------------------------------------------------------------------- R13
def test_r13_service_fabric_rolls_out_by_update_domain_whatever_size() -> None:
    # 3 UDs: UD0 = {0, 3, 6, 9}, UD1 = {1, 4, 7}, UD2 = {2, 5, 8}; no probe, 180 s each.
    # The UD of 4 exceeds cap(10) = 2: the UD replaces the cap.
    ss = play(
        make(service_fabric=ServiceFabric("Silver", update_domains=3)),
        [PublishImage(100, "1.0.1")],
        until=640,
    )
    run = ss.runs[0]
    assert batches(run) == [([0, 3, 6, 9], 100, 280), ([1, 4, 7], 280, 460), ([2, 5, 8], 460, 640)]
    assert (run.code, run.end) == ("Completed", 640)
    assert [ss.instances[i].update_domain for i in range(4)] == [0, 1, 2, 0]


def test_r13_default_five_update_domains_and_no_prioritizing() -> None:
    # Instance 4 is down; prioritize_unhealthy_instances does not apply: UD 0 = {0, 5} first.
    ss = play(
        make(
            service_fabric=ServiceFabric("Gold"),
            policy=Policy(prioritize_unhealthy_instances=True),
        ),
        [OutageStart(50, (4,)), PublishImage(100, "1.0.1")],
        until=100,
    )
    assert batches(ss.runs[0]) == [([0, 5], 100, None)]


def test_r13_bronze_durability_refused() -> None:
    _refused_auto(make(3, service_fabric=ServiceFabric("Bronze")), "V6")


# ----------------------------------------------------------------------- R14, R15
def _with_sas(n: int = 10, expires_at: int = 10**8) -> ScaleSet:
    return make(
        n,
        extensions=(Extension("CustomScript", ("sas",)),),
        credentials={"sas": CredentialConfig(expires_at=expires_at)},
    )


def test_r14_expired_credential_fails_the_first_batch_and_the_run() -> None:
    ss = play(_with_sas(), [PublishImage(100, "1.0.1"), ExpireCredential(150, "sas")], until=5000)
    run = ss.runs[0]
    # Extensions finish at 280 and fail: the run is Faulted at the end of batch 1.
    assert (run.code, run.end) == ("Faulted", 280)
    assert run.error[0] == "VMExtensionProvisioningError"
    assert batches(run) == [([0, 1], 100, 280)]
    for i in (0, 1):
        inst = ss.instances[i]
        assert (inst.image_version, inst.os_disk, inst.provisioning_state) == (
            "1.0.1",
            f"os-{i}-1",
            "Failed",
        )
    assert all(ss.instances[i].image_version == "1.0.0" for i in range(2, 10))
    assert run.progress() == {
        "successfulInstanceCount": 0,
        "failedInstanceCount": 2,
        "inProgressInstanceCount": 0,
        "pendingInstanceCount": 8,
    }


def test_r14_expiry_at_the_finishing_moment_fails() -> None:
    # "expires_at at or before that moment": extensions end at 280.
    at_end = play(_with_sas(expires_at=280), [PublishImage(100, "1.0.1")], until=280)
    assert at_end.runs[0].code == "Faulted"
    after_end = play(_with_sas(expires_at=281), [PublishImage(100, "1.0.1")], until=280)
    assert after_end.runs[0].code == "RollingForward"
    assert after_end.instances[0].provisioning_state == "Succeeded"


def test_r14_credential_no_extension_uses_does_not_fail() -> None:
    ss = make(credentials={"unused": CredentialConfig(expires_at=50)})
    play(ss, [PublishImage(100, "1.0.1")], until=1000)
    assert (ss.runs[0].code, ss.runs[0].end) == ("Completed", 1000)


def test_r15_regenerate_and_deploy_recovers_and_resumes() -> None:
    ss = play(
        _with_sas(),
        [
            PublishImage(100, "1.0.1"),
            ExpireCredential(150, "sas"),
            RegenerateCredential(400, "sas", 10**8),
            UpdateModel(500),
        ],
        until=500,
    )
    assert all(i.provisioning_state == "Updating" for i in ss.instances.values())
    # The deploy re-runs extensions for 60 s on every instance: all Succeeded at 560.
    ss.advance(560)
    assert (ss.deploys[0].end, ss.deploys[0].succeeded) == (560, True)
    assert [ss.instances[i].provisioning_state for i in (0, 1)] == ["Succeeded"] * 2
    assert [i.os_disk for i in ss.instances.values()][:3] == ["os-0-1", "os-1-1", "os-2-0"]
    # D4: the deploy's successful end starts a Platform run for the 8 still on 1.0.0;
    # cap(10) = 2: 4 batches x 180 s from 560: Completed at 1280.
    run = ss.runs[1]
    assert (run.started_by, run.target, run.start, sorted(run.scope)) == (
        "Platform",
        "1.0.1",
        560,
        list(range(2, 10)),
    )
    ss.advance(1280)
    assert (run.code, run.end) == ("Completed", 1280)
    assert {i.image_version for i in ss.instances.values()} == {"1.0.1"}


def test_r15_regenerating_alone_does_not_fix_the_model() -> None:
    # The model keeps the old token until update_model: a manual start at 450
    # fails again in its first batch (extensions end at 450 + 180 = 630).
    ss = play(
        _with_sas(),
        [
            PublishImage(100, "1.0.1"),
            ExpireCredential(150, "sas"),
            RegenerateCredential(400, "sas", 10**8),
            StartUpgrade(450),
        ],
        until=630,
    )
    assert (ss.runs[1].code, ss.runs[1].end) == ("Faulted", 630)
    assert ss.runs[1].error[0] == "VMExtensionProvisioningError"


# ----------------------------------------------------------------------- R16
def test_r16_history_lists_last_five_newest_first() -> None:
    # Seven manual starts with an empty scope: each run is Completed at once.
    ss = play(make(3), [StartUpgrade(t) for t in range(7)], until=10)
    view = history_view(ss.runs, ss.now, UBUNTU, ss.config.epoch, "westeurope").value
    starts = [e.properties.runningStatus.startTime for e in view]
    assert starts == [f"2018-10-01T00:00:0{t}+00:00" for t in (6, 5, 4, 3, 2)]
    assert [e.properties.startedBy for e in view] == ["User"] * 5


def test_r16_history_later_created_run_first_when_started_together() -> None:
    # At 50: a User run with an empty scope (run 1, ends at once), then a
    # publication starts run 2 at the same time.
    ss = play(make(3), [StartUpgrade(50), PublishImage(50, "1.0.1")], until=50)
    view = history_view(ss.runs, ss.now, UBUNTU, ss.config.epoch, "westeurope").value
    assert [e.properties.startedBy for e in view] == ["Platform", "User"]
    assert view[0].properties.runningStatus.endTime is None  # RollingForward


def test_r16_history_keeps_sixty_days() -> None:
    day = 86400
    ss = play(make(3), [StartUpgrade(0), StartUpgrade(10 * day)])
    in_window = history_view(ss.runs, 60 * day, UBUNTU, ss.config.epoch, "westeurope").value
    assert len(in_window) == 2  # start 0 >= 60 days - 60 days
    later = history_view(ss.runs, 60 * day + 1, UBUNTU, ss.config.epoch, "westeurope").value
    assert [e.properties.runningStatus.startTime for e in later] == ["2018-10-11T00:00:00+00:00"]


def test_r16_history_rest_shape() -> None:
    # The spec's example: 10 instances with a probe, publish at 100, Completed at 1150.
    ss = play(make(health_probe=PROBE), [PublishImage(100, "18.04.201811010")], until=1150)
    view = history_view(ss.runs, ss.now, UBUNTU, ss.config.epoch, "westeurope")
    assert converter.unstructure(view) == {
        "value": [
            {
                "properties": {
                    "runningStatus": {
                        "code": "Completed",
                        "startTime": "2018-10-01T00:01:40+00:00",
                        "endTime": "2018-10-01T00:19:10+00:00",
                    },
                    "progress": {
                        "successfulInstanceCount": 10,
                        "failedInstanceCount": 0,
                        "inProgressInstanceCount": 0,
                        "pendingInstanceCount": 0,
                    },
                    "error": None,
                    "startedBy": "Platform",
                    "targetImageReference": {
                        "publisher": "Canonical",
                        "offer": "UbuntuServer",
                        "sku": "18.04-LTS",
                        "version": "18.04.201811010",
                    },
                    "rollbackInfo": {
                        "successfullyRolledbackInstanceCount": 0,
                        "failedRolledbackInstanceCount": 0,
                    },
                },
                "type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
                "location": "westeurope",
            }
        ]
    }


# ----------------------------------------------------------------------- R17
def test_r17_versions_compare_part_by_part() -> None:
    assert version_key("2016.127.20180613") < version_key("2016.1000.20180101")
    assert "2016.127.20180613" > "2016.1000.20180101"  # as strings it would be the other way
    assert version_key("1.9") < version_key("1.10")


def test_r17_latest_resolves_numerically() -> None:
    catalog = Catalog(["2016.1000.20180101", "2016.127.20180613"])
    assert catalog.latest == "2016.1000.20180101"
    ss = ScaleSet(
        ScaleSetConfig(instances=2, image=UBUNTU, catalog=("2016.1000.20180101", "2016.127.1"))
    )
    assert {i.image_version for i in ss.instances.values()} == {"2016.1000.20180101"}
    rejection = ss.apply(PublishImage(10, "2016.999.20190101"))
    assert rejection is not None and rejection.reason.startswith("D14")


# ----------------------------------------------------------------------- R18
def test_r18_scale_out_builds_from_latest_at_creation() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), ScaleOut(150, 2)], until=150)
    new = [ss.instances[10], ss.instances[11]]
    assert [(i.image_version, i.provisioning_state, i.os_disk) for i in new] == [
        ("1.0.1", "Creating", "os-10-0"),
        ("1.0.1", "Creating", "os-11-0"),
    ]
    assert 10 not in ss.runs[0].scope and 11 not in ss.runs[0].scope
    # Created at 150: OS disk until 270, extensions until 330.
    ss.advance(329)
    assert new[0].provisioning_state == "Creating"
    ss.advance(330)
    assert new[0].provisioning_state == "Succeeded" and ss.is_healthy(new[0])


def test_r18_scale_out_while_opted_out_uses_latest() -> None:
    ss = play(
        make(2, automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), PublishImage(200, "1.0.2"), ScaleOut(300, 1)],
        until=500,
    )
    assert ss.instances[2].image_version == "1.0.2"
    assert ss.instances[0].image_version == "1.0.0"
