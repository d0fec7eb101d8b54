"""D8 and D12-D16 (SPEC section 5): what surrounds the runs: the model deploy
(D8), the order of simultaneous steps (D12), the history timestamps (D13), the
catalog (D14), credentials and rollback (D15) and where each V check bites (D16).
Through the Python API. Timings are the defaults (os_disk 120 s, extensions 60 s,
app start 30 s, health wait 300 s): a batch takes 180 s without a probe and 210 s
with one."""

from __future__ import annotations

import json

from model import (
    AppHealth,
    CancelUpgrade,
    ExpireCredential,
    HealthProbe,
    OutageStart,
    Policy,
    PublishImage,
    RegenerateCredential,
    ScaleOut,
    ScaleSetConfig,
    StartUpgrade,
    Timings,
    UpdateModel,
)
from model.clock import INSTANCE_STEP, RUN_STEP, Clock
from model.history import history_view
from model.run import ErrorCode
from model.trace import converter
from tests.support import PROBE, SAS, UBUNTU, batches, make, play, summary


# ----------------------------------------------------------------------- D8
def test_d8_deploy_refused_while_run_active() -> None:
    ss = play(make(**SAS), [PublishImage(100, "1.0.1")])
    rejection = ss.apply(UpdateModel(150))
    assert rejection is not None and rejection.reason == "409: a run is active"
    assert ss.deploy is None and ss.deploys == []


def test_d8_manual_start_and_second_deploy_refused_while_deploy_in_flight() -> None:
    ss = play(make(**SAS), [UpdateModel(100)])
    assert [ss.apply(StartUpgrade(110)).reason, ss.apply(UpdateModel(120)).reason] == [
        "409: a model deploy is in flight",
        "409: a model deploy is in flight",
    ]
    # A publication during the deploy starts no run (D4); its end at 160 does.
    play(ss, [PublishImage(130, "1.0.1")])
    assert ss.runs == []
    ss.advance(160)
    assert [(r.started_by, r.start) for r in ss.runs] == [("Platform", 160)]


def test_d8_deploy_reruns_extensions_without_replacing_disks() -> None:
    ss = play(make(3, **SAS), [UpdateModel(100)], until=159)
    assert [i.provisioning_state for i in ss.instances.values()] == ["Updating"] * 3
    assert not any(ss.is_healthy(i) for i in ss.instances.values())
    ss.advance(160)  # 100 + 60
    assert [(i.provisioning_state, i.os_disk) for i in ss.instances.values()] == [
        ("Succeeded", f"os-{k}-0") for k in range(3)
    ]
    assert (ss.deploys[0].end, ss.deploys[0].succeeded, ss.runs) == (160, True, [])


def test_d8_creating_instances_use_new_model() -> None:
    # The token expires at 100; instance 3 is created at 200 (extensions end at 380).
    # A new token at 250 and a deploy at 260: instance 3 uses it and succeeds.
    ss = play(
        make(3, **SAS),
        [
            ExpireCredential(100, "sas"),
            ScaleOut(200, 1),
            RegenerateCredential(250, "sas", 10**8),
            UpdateModel(260),
        ],
        until=380,
    )
    assert 3 not in ss.deploys[0].members
    assert ss.instances[3].provisioning_state == "Succeeded"
    # Without the deploy the new instance fails on the expired token.
    without = play(
        make(3, **SAS),
        [ExpireCredential(100, "sas"), ScaleOut(200, 1), RegenerateCredential(250, "sas", 10**8)],
        until=380,
    )
    assert without.instances[3].provisioning_state == "Failed"


def test_d8_deploy_with_expired_token_fails() -> None:
    ss = play(make(3, **SAS), [ExpireCredential(50, "sas"), UpdateModel(100)], until=160)
    assert [i.provisioning_state for i in ss.instances.values()] == ["Failed"] * 3
    assert ss.deploys[0].succeeded is False


# ----------------------------------------------------------------------- D12
def test_d12_instance_steps_before_run_steps() -> None:
    clock = Clock()
    order: list[str] = []
    clock.schedule(10, RUN_STEP, 1, order.append, "run 1")
    clock.schedule(10, INSTANCE_STEP, 5, order.append, "instance 5")
    clock.schedule(10, INSTANCE_STEP, 2, order.append, "instance 2")
    clock.schedule(9, RUN_STEP, 1, order.append, "run 1 earlier")
    while (step := clock.pop_due(10)) is not None:
        action, arg = step
        action(arg)
    assert order == ["run 1 earlier", "instance 2", "instance 5", "run 1"]
    assert clock.now == 10


def test_d12_external_event_after_internal_steps_at_same_time() -> None:
    # Batch 1 ends at 280 and batch 2 starts at 280 (pause 0), before a cancel at
    # 280: batch 2 finishes, the run is Cancelled at 460.
    ss = play(make(), [PublishImage(100, "1.0.1"), CancelUpgrade(280)], until=2000)
    assert batches(ss.runs[0]) == [([0, 1], 100, 280), ([2, 3], 280, 460)]
    assert summary(ss.runs[0]) == ("Cancelled", 460, None)


def test_d12_outage_at_the_moment_counted_healthy_comes_after() -> None:
    # With a probe, instance 0 is healthy at 310; an outage at 310 comes after.
    ss = play(
        make(health_probe=PROBE), [PublishImage(100, "1.0.1"), OutageStart(310, (0,))], until=310
    )
    assert ss.runs[0].batches[0].outcomes[0].status == "successful"
    early = play(
        make(health_probe=PROBE), [PublishImage(100, "1.0.1"), OutageStart(309, (0,))], until=310
    )
    assert 0 not in early.runs[0].batches[0].outcomes


def test_d12_expiry_event_at_extension_end_comes_after() -> None:
    # Batch 1's extensions finish at 280; an expiry at 280 is applied after them.
    same = play(make(**SAS), [PublishImage(100, "1.0.1"), ExpireCredential(280, "sas")], until=280)
    assert [same.instances[i].provisioning_state for i in (0, 1)] == ["Succeeded"] * 2
    assert same.runs[0].code == "RollingForward"
    # Batch 2 (280..460) then fails: Faulted at 460.
    same.advance(460)
    assert summary(same.runs[0]) == ("Faulted", 460, ErrorCode.PROVISIONING)


def test_d12_reaction_happens_at_the_event_time() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")])
    assert (ss.now, ss.runs[0].start, ss.runs[0].batches[0].start) == (100, 100, 100)


# ----------------------------------------------------------------------- D13
def test_d13_end_time_name() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    view = history_view(ss.runs, ss.now, UBUNTU, ss.config.epoch, "westeurope")
    text = json.dumps(converter.unstructure(view))
    assert '"endTime": "2018-10-01T00:16:40+00:00"' in text  # 1000 s
    assert "completedTime" not in text


# ----------------------------------------------------------------------- D14
def test_d14_publication_not_newer_rejected() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    for version in ("1.0.1", "1.0.0", "0.9"):
        rejection = ss.apply(PublishImage(1100, version))
        assert rejection is not None
        assert rejection.reason == f"D14: version {version} is not newer than the latest 1.0.1"
    assert ss.catalog.latest == "1.0.1" and len(ss.runs) == 1


def test_d14_broken_image_never_reports_healthy() -> None:
    ss = play(
        make(health_probe=PROBE), [PublishImage(100, "1.0.1", app_healthy=False)], until=100_000
    )
    assert not ss.probe_ok(ss.instances[0])
    # Batch 1 fails at 580, batch 2 (580..1060) fails too; 4 unhealthy > 2 at 1060.
    run = ss.runs[0]
    assert batches(run) == [([0, 1], 100, 580), ([2, 3], 580, 1060)]
    assert summary(run) == ("Faulted", 1060, ErrorCode.IN_ROLLING_UPGRADE)


def test_d14_app_health_answer_overrides_broken_image() -> None:
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1", app_healthy=False), AppHealth(300, (0, 1), True)],
        until=300,
    )
    assert [o.at for o in ss.runs[0].batches[0].outcomes.values()] == [300, 300]


# ----------------------------------------------------------------------- D15
def test_d15_expire_all_tokens_so_far() -> None:
    # A second token issued at 50 expires with the first at 60; a third at 70 is
    # new. The deploy at 80 points at the third: succeeds at 140.
    ss = play(
        make(3, **SAS),
        [
            RegenerateCredential(50, "sas", 10**8),
            ExpireCredential(60, "sas"),
        ],
    )
    assert ss.tokens["sas"] == [60, 60]
    failing = play(make(3, **SAS), [RegenerateCredential(50, "sas", 10**8)])
    play(failing, [ExpireCredential(60, "sas"), UpdateModel(80)], until=140)
    assert failing.deploys[0].succeeded is False
    play(ss, [RegenerateCredential(70, "sas", 10**8), UpdateModel(80)], until=140)
    assert ss.deploys[0].succeeded is True


def test_d12_a_stale_deadline_at_the_second_of_a_later_application_is_in_order() -> None:
    """Instance 0's first wait (extensions at 3, health_wait 9) ended early at
    4; its stale deadline, queued first, comes at 12 before the application
    of its second upgrade, also due at 12. D12's order holds: the stale step
    was scheduled first, and it does nothing."""
    from model.trace import Trace
    from vmss_spec.replay import first_violation

    timings = Timings(
        os_disk_seconds=3, extension_seconds=0, app_start_seconds=1, health_wait_seconds=9
    )
    config = ScaleSetConfig(instances=2, image=UBUNTU, health_probe=PROBE, timings=timings)
    events = (PublishImage(0, "1.0.9"), PublishImage(0, "1.0.10"))
    assert first_violation(Trace(scale_set=config, events=events, until=12)) is None


def test_d15_a_later_expiry_leaves_tokens_already_expired_as_they_were() -> None:
    """Each expiry expires the tokens issued so far, now: a token expired at
    60 stays expired at 60 when the credential expires again at 90; the one
    issued at 70 expires at 90; the one issued at 95 is valid. (Each token
    is touched by one expiry only, however many follow.)"""
    ss = play(
        make(3, **SAS),
        [
            ExpireCredential(60, "sas"),
            RegenerateCredential(70, "sas", 10**8),
            ExpireCredential(90, "sas"),
            ExpireCredential(92, "sas"),
            RegenerateCredential(95, "sas", 10**8),
        ],
    )
    assert ss.tokens["sas"] == [60, 90, 10**8]


def test_d15_automatic_rollback_needs_a_probe() -> None:
    # No probe: no health wait, no rollback; the broken image rolls out everywhere.
    ss = play(
        make(policy=Policy(automatic_rollback=True)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=1000,
    )
    run = ss.runs[0]
    assert summary(run) == ("Completed", 1000, None)
    assert run.rolled_back == 0
    assert {i.image_version for i in ss.instances.values()} == {"1.0.1"}


# ----------------------------------------------------------------------- D16
def test_d16_v_error_in_initial_scale_set_recorded_at_time_zero() -> None:
    ss = make(3, disk_encryption=True)
    assert [(r.at, r.event, r.reason.split(":")[0]) for r in ss.rejected] == [
        (0, "set_automatic_upgrade", "V4")
    ]
    assert not ss.auto_enabled
    quiet = make(3, disk_encryption=True, automatic_os_upgrade=False)
    assert quiet.rejected == []  # nothing was asked


def test_d16_warnings_reported_once_and_allowed() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), PublishImage(2000, "1.0.2")], until=3000)
    assert [w.rule for w in ss.warnings] == ["V8"]
    assert len(ss.runs) == 2  # the warning does not stop automatic upgrades


def test_d16_application_health_probe_satisfies_v5() -> None:
    app = make(3, single_placement_group=False, health_probe=HealthProbe("application_health"))
    assert app.v_errors == [] and app.auto_enabled
    basic = make(
        3, single_placement_group=False, health_probe=HealthProbe("load_balancer", "Basic")
    )
    assert [f.rule for f in basic.v_errors] == ["V5"]
