"""D1-D16 and D7a (SPEC section 5), through the Python API. Timings are the
defaults (os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s):
a batch takes 180 s without a probe and 210 s with one."""

from __future__ import annotations

import json

from model import (
    AppHealth,
    CancelUpgrade,
    CredentialConfig,
    ExpireCredential,
    Extension,
    HealthProbe,
    ImageReference,
    OutageEnd,
    OutageStart,
    Policy,
    PublishImage,
    RegenerateCredential,
    ScaleIn,
    ScaleOut,
    ScaleSet,
    ScaleSetConfig,
    SetAutomaticUpgrade,
    StartUpgrade,
    UpdateModel,
)
from model.actors import orchestrator
from model.clock import INSTANCE_STEP, RUN_STEP, Clock
from model.history import history_view
from model.run import ErrorCode
from model.trace import converter
from tests.support import PROBE, UBUNTU, batches, make, play

SAS = {
    "extensions": (Extension("CustomScript", ("sas",)),),
    "credentials": {"sas": CredentialConfig(expires_at=10**8)},
}


def summary(run) -> tuple[str, int | None, str | None]:
    return run.code, run.end, None if run.error is None else run.error[0]


# ----------------------------------------------------------------------- D1
def test_d1_batch_cap_formula() -> None:
    ss = make()
    # max(1, floor(N x 20 / 100))
    assert [orchestrator.batch_cap(ss, n) for n in (1, 4, 5, 9, 10, 14, 15, 100)] == [
        1,
        1,
        1,
        1,
        2,
        2,
        3,
        20,
    ]


def test_d1_unhealthy_limit_floor() -> None:
    # 4 instances: limit floor(0.8) = 0, one down blocks the run.
    four = play(make(4), [OutageStart(50, (3,)), PublishImage(100, "1.0.1")], until=100)
    assert summary(four.runs[0]) == ("Faulted", 100, ErrorCode.BEFORE_ROLLING_UPGRADE)
    assert four.runs[0].checks[0].limit == 0
    # 5 instances: limit floor(1.0) = 1, one down is allowed.
    five = play(make(5), [OutageStart(50, (4,)), PublishImage(100, "1.0.1")], until=100)
    assert five.runs[0].code == "RollingForward"
    assert five.runs[0].checks[0].limit == 1


def test_d1_n_is_the_instance_count_at_the_check() -> None:
    # Five instances created at 100 are done at 280 (instance steps first, D12);
    # the check at 280 sees N = 15: cap floor(15 x 0.2) = 3.
    ss = play(make(), [PublishImage(100, "1.0.1"), ScaleOut(100, 5)], until=280)
    run = ss.runs[0]
    assert batches(run) == [([0, 1], 100, 280), ([2, 3, 4], 280, None)]
    assert (run.batches[1].instance_count, run.batches[1].cap) == (15, 3)


# ----------------------------------------------------------------------- D2
def test_d2_ascending_id() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    assert [sorted(b.instances) for b in ss.runs[0].batches] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
        [8, 9],
    ]


def test_d2_prioritize_unhealthy_first() -> None:
    events = [OutageStart(50, (4, 7)), PublishImage(100, "1.0.1")]
    prioritized = play(make(policy=Policy(prioritize_unhealthy_instances=True)), events, 100)
    assert batches(prioritized.runs[0]) == [([4, 7], 100, None)]
    plain = play(make(), events, 100)
    assert batches(plain.runs[0]) == [([0, 1], 100, None)]
    # One unhealthy: it goes first, then the lowest healthy id.
    one = play(
        make(policy=Policy(prioritize_unhealthy_instances=True)),
        [OutageStart(50, (7,)), PublishImage(100, "1.0.1")],
        100,
    )
    assert one.runs[0].batches[0].instances == [7, 0]


# ----------------------------------------------------------------------- D3
def test_d3_target_fixed_during_run() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), PublishImage(200, "1.0.2")], until=1000)
    run = ss.runs[0]
    assert (run.target, run.code, run.end) == ("1.0.1", "Completed", 1000)
    assert len(run.batches) == 5


def test_d3_instances_at_target_not_in_scope() -> None:
    # Instances 10, 11 created at 100 on 1.0.1 are at the target of a run started at 300.
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), ScaleOut(100, 2), StartUpgrade(300)],
        until=300,
    )
    assert sorted(ss.runs[0].scope) == list(range(10))


# ----------------------------------------------------------------------- D4
def test_d4_completed_run_restarts_when_newer_exists() -> None:
    # Run 1 (1.0.1) ends at 1000; 1.0.2 exists: run 2 starts then, target 1.0.2.
    ss = play(make(), [PublishImage(100, "1.0.1"), PublishImage(200, "1.0.2")], until=1000)
    assert [(r.started_by, r.target, r.start) for r in ss.runs] == [
        ("Platform", "1.0.1", 100),
        ("Platform", "1.0.2", 1000),
    ]


def test_d4_completed_run_restarts_for_instance_outside_its_scope() -> None:
    # Instance 10 is created at 50 from 1.0.0 and still Creating at 100: outside
    # run 1's scope. Run 1 ends at 1000 with 10 below 1.0.1: run 2 takes it.
    ss = play(make(), [ScaleOut(50, 1), PublishImage(100, "1.0.1")], until=1000)
    assert 10 not in ss.runs[0].scope
    assert (ss.runs[0].code, ss.runs[0].end) == ("Completed", 1000)
    run2 = ss.runs[1]
    assert (run2.target, run2.start, sorted(run2.scope)) == ("1.0.1", 1000, [10])
    ss.advance(1180)
    assert (run2.code, run2.end) == ("Completed", 1180)


def test_d4_all_rolled_back_not_rerun_at_once() -> None:
    # Broken image, probe, automatic rollback: each batch is 120 + 60 + 300 (wait)
    # + 120 (rollback) = 600 s: 5 batches from 100: Completed at 3100, all rolled back.
    ss = play(
        make(health_probe=PROBE, policy=Policy(automatic_rollback=True)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=10_000,
    )
    assert len(ss.runs) == 1
    run = ss.runs[0]
    assert (run.code, run.end, run.rolled_back) == ("Completed", 3100, 10)
    assert {i.image_version for i in ss.instances.values()} == {"1.0.0"}
    # A newer publication starts the next run.
    play(ss, [PublishImage(10_000, "1.0.2")])
    assert [(r.target, r.start) for r in ss.runs[1:]] == [("1.0.2", 10_000)]


def test_d4_stopped_run_not_retried_until_a_trigger() -> None:
    ss = play(
        make(), [OutageStart(50, (7, 8, 9)), PublishImage(100, "1.0.1"), OutageEnd(200, (7, 8, 9))]
    )
    play(ss, [], until=5000)
    assert [summary(r) for r in ss.runs] == [("Faulted", 100, ErrorCode.BEFORE_ROLLING_UPGRADE)]
    # Opting in again while already on is no trigger; a user start is.
    play(ss, [SetAutomaticUpgrade(5000, True), StartUpgrade(5100)])
    assert [(r.started_by, r.start) for r in ss.runs[1:]] == [("User", 5100)]


def test_d4_opt_in_starts_a_run() -> None:
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), SetAutomaticUpgrade(500, True)],
    )
    assert [(r.started_by, r.start) for r in ss.runs] == [("Platform", 500)]


def test_d4_user_run_with_empty_scope_completes_at_once() -> None:
    ss = play(make(3), [StartUpgrade(50)])
    run = ss.runs[0]
    assert (run.started_by, run.target, run.code, run.start, run.end) == (
        "User",
        "1.0.0",
        "Completed",
        50,
        50,
    )
    assert run.batches == [] and run.scope == {}


def test_d4_manual_start_refused_only_for_v1_to_v3() -> None:
    custom = ScaleSet(ScaleSetConfig(instances=3, image=ImageReference(id="/img")))
    rejection = custom.apply(StartUpgrade(10))
    assert rejection is not None and rejection.reason.startswith("V3: image.id")
    assert custom.runs == []
    # V4 (disk encryption) keeps automatic upgrades off but allows a manual start.
    encrypted = play(make(3, disk_encryption=True), [PublishImage(10, "1.0.1"), StartUpgrade(20)])
    assert [(r.started_by, r.start) for r in encrypted.runs] == [("User", 20)]


# ----------------------------------------------------------------------- D5
def test_d5_error_codes() -> None:
    before = play(make(), [OutageStart(50, (7, 8, 9)), PublishImage(100, "1.0.1")], until=100)
    assert summary(before.runs[0]) == ("Faulted", 100, ErrorCode.BEFORE_ROLLING_UPGRADE)
    # Three down during batch 1 (100..280): the check at 280 fails.
    during = play(make(), [PublishImage(100, "1.0.1"), OutageStart(150, (7, 8, 9))], until=280)
    assert summary(during.runs[0]) == ("Faulted", 280, ErrorCode.IN_ROLLING_UPGRADE)
    # Broken image with a probe: both of batch 1 fail at 280 + 300 = 580;
    # 2 failed > floor(2 x 0 / 100) = 0.
    upgraded = play(
        make(health_probe=PROBE, policy=Policy(max_unhealthy_upgraded_instance_percent=0)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=580,
    )
    assert summary(upgraded.runs[0]) == ("Faulted", 580, ErrorCode.UPGRADED_UNHEALTHY)
    cancelled = play(make(), [PublishImage(100, "1.0.1"), CancelUpgrade(150)], until=280)
    assert summary(cancelled.runs[0]) == ("Cancelled", 280, None)


def test_d5_upgraded_unhealthy_limit_is_floor() -> None:
    # Instance 0 is down from 150: it fails at 580, instance 1 succeeds at 310.
    # 1 failed of 2: limit floor(2 x 50 / 100) = 1 -> go on; floor(2 x 49 / 100) = 0 -> stop.
    events = [PublishImage(100, "1.0.1"), OutageStart(150, (0,))]
    at_50 = play(
        make(health_probe=PROBE, policy=Policy(max_unhealthy_upgraded_instance_percent=50)),
        events,
        until=580,
    )
    assert at_50.runs[0].code == "RollingForward" and len(at_50.runs[0].batches) == 2
    at_49 = play(
        make(health_probe=PROBE, policy=Policy(max_unhealthy_upgraded_instance_percent=49)),
        events,
        until=580,
    )
    assert summary(at_49.runs[0]) == ("Faulted", 580, ErrorCode.UPGRADED_UNHEALTHY)


# ----------------------------------------------------------------------- D6
def test_d6_provisioning_failure_faults_whatever_percentages() -> None:
    lenient = Policy(
        max_unhealthy_instance_percent=100, max_unhealthy_upgraded_instance_percent=100
    )
    ss = play(
        make(policy=lenient, **SAS),
        [PublishImage(100, "1.0.1"), ExpireCredential(150, "sas")],
        until=5000,
    )
    assert summary(ss.runs[0]) == ("Faulted", 280, ErrorCode.PROVISIONING)
    assert len(ss.runs[0].batches) == 1


def test_d6_failure_with_probe_ends_batch_without_health_wait() -> None:
    # A provisioning failure is done at once (D11): the batch ends at 280, not 580.
    ss = play(
        make(health_probe=PROBE, **SAS),
        [PublishImage(100, "1.0.1"), ExpireCredential(150, "sas")],
        until=280,
    )
    assert summary(ss.runs[0]) == ("Faulted", 280, ErrorCode.PROVISIONING)


# ----------------------------------------------------------------------- D7
def test_d7_opt_out_lets_batch_finish_then_cancels() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), SetAutomaticUpgrade(150, False)], until=5000)
    assert summary(ss.runs[0]) == ("Cancelled", 280, None)
    assert batches(ss.runs[0]) == [([0, 1], 100, 280)]


def test_d7_opt_in_again_withdraws_opt_out() -> None:
    # Off at 150, on again at 200, both during batch 1: the run goes on.
    ss = play(
        make(),
        [
            PublishImage(100, "1.0.1"),
            SetAutomaticUpgrade(150, False),
            SetAutomaticUpgrade(200, True),
        ],
        until=1000,
    )
    assert [summary(r) for r in ss.runs] == [("Completed", 1000, None)]


def test_d7_cancel_during_pause_is_immediate() -> None:
    # Pause 10 minutes: batch 1 ends at 280, the next check would be at 880.
    ss = play(
        make(policy=Policy(pause_time_between_batches="PT10M")),
        [PublishImage(100, "1.0.1"), CancelUpgrade(500)],
        until=2000,
    )
    assert summary(ss.runs[0]) == ("Cancelled", 500, None)
    assert len(ss.runs[0].batches) == 1


def test_d7_opt_out_during_pause_is_immediate() -> None:
    ss = play(
        make(policy=Policy(pause_time_between_batches="PT10M")),
        [PublishImage(100, "1.0.1"), SetAutomaticUpgrade(500, False)],
        until=2000,
    )
    assert summary(ss.runs[0]) == ("Cancelled", 500, None)


def test_d7_pause_between_batches() -> None:
    # Pause 1 minute: batch k starts at 100 + 240k.
    ss = play(
        make(policy=Policy(pause_time_between_batches="PT1M")),
        [PublishImage(100, "1.0.1")],
        until=2000,
    )
    assert [(b.start, b.end) for b in ss.runs[0].batches] == [
        (100 + 240 * k, 280 + 240 * k) for k in range(5)
    ]
    assert ss.runs[0].end == 100 + 240 * 4 + 180


def test_d7_cancel_stands_once_asked() -> None:
    # Cancel at 150 during batch 1; nothing withdraws it: Cancelled at 280.
    ss = play(
        make(),
        [PublishImage(100, "1.0.1"), CancelUpgrade(150), SetAutomaticUpgrade(200, True)],
        until=2000,
    )
    assert summary(ss.runs[0]) == ("Cancelled", 280, None)


def test_d7_user_run_not_affected_by_opt_out() -> None:
    # A User run from 100 (5 x 180 s); opted in at 120 (no second run: one is
    # active), out at 150 during batch 1: the User run still ends Completed at 1000.
    ss = play(
        make(automatic_os_upgrade=False),
        [
            PublishImage(100, "1.0.1"),
            StartUpgrade(100),
            SetAutomaticUpgrade(120, True),
            SetAutomaticUpgrade(150, False),
        ],
        until=2000,
    )
    assert [(r.started_by, r.start) for r in ss.runs] == [("User", 100)]
    assert summary(ss.runs[0]) == ("Completed", 1000, None)


def test_d7_cancel_without_run_is_refused() -> None:
    ss = make()
    rejection = ss.apply(CancelUpgrade(10))
    assert rejection is not None and rejection.reason.startswith("409")


def test_d7_cancel_of_user_run() -> None:
    ss = play(make(automatic_os_upgrade=False), [PublishImage(10, "1.0.1"), StartUpgrade(100)])
    play(ss, [CancelUpgrade(150)], until=2000)
    assert summary(ss.runs[0]) == ("Cancelled", 280, None)


# ----------------------------------------------------------------------- D7a
def test_d7a_provisioning_failure_decides_before_completion() -> None:
    # 5 instances at 100%: one batch holds all, nothing pending after it.
    ss = play(
        make(5, policy=Policy(max_batch_instance_percent=100), **SAS),
        [PublishImage(100, "1.0.1"), ExpireCredential(150, "sas")],
        until=280,
    )
    assert summary(ss.runs[0]) == ("Faulted", 280, ErrorCode.PROVISIONING)


def test_d7a_provisioning_failure_decides_before_upgraded_limit() -> None:
    ss = play(
        make(policy=Policy(max_unhealthy_upgraded_instance_percent=0), **SAS),
        [PublishImage(100, "1.0.1"), ExpireCredential(150, "sas")],
        until=280,
    )
    assert summary(ss.runs[0]) == ("Faulted", 280, ErrorCode.PROVISIONING)


def test_d7a_upgraded_limit_decides_before_completion() -> None:
    # One batch of all 5, all fail at 580: Faulted, not Completed.
    ss = play(
        make(
            5,
            health_probe=PROBE,
            policy=Policy(
                max_batch_instance_percent=100, max_unhealthy_upgraded_instance_percent=0
            ),
        ),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=580,
    )
    assert summary(ss.runs[0]) == ("Faulted", 580, ErrorCode.UPGRADED_UNHEALTHY)


def test_d7a_upgraded_limit_decides_before_cancel() -> None:
    ss = play(
        make(health_probe=PROBE, policy=Policy(max_unhealthy_upgraded_instance_percent=0)),
        [PublishImage(100, "1.0.1", app_healthy=False), CancelUpgrade(150)],
        until=580,
    )
    assert summary(ss.runs[0]) == ("Faulted", 580, ErrorCode.UPGRADED_UNHEALTHY)


def test_d7a_completion_decides_before_cancel_and_opt_out() -> None:
    pct100 = Policy(max_batch_instance_percent=100)
    cancelled = play(
        make(5, policy=pct100), [PublishImage(100, "1.0.1"), CancelUpgrade(150)], until=280
    )
    assert summary(cancelled.runs[0]) == ("Completed", 280, None)
    opted_out = play(
        make(5, policy=pct100),
        [PublishImage(100, "1.0.1"), SetAutomaticUpgrade(150, False)],
        until=280,
    )
    assert summary(opted_out.runs[0]) == ("Completed", 280, None)


def test_d7a_cancel_decides_before_the_pre_batch_check() -> None:
    # Three down at 150 would fail the check at 280, but the cancel comes first.
    ss = play(
        make(),
        [PublishImage(100, "1.0.1"), OutageStart(150, (7, 8, 9)), CancelUpgrade(160)],
        until=280,
    )
    assert summary(ss.runs[0]) == ("Cancelled", 280, None)


def test_d7a_pre_batch_check_after_the_pause() -> None:
    # Pause 10 min: batch 1 ends at 280; three down at 300, up at 870; the check at
    # 880 passes. Down again at 1060 (batch 2 ends at 1060): the check at 1660 fails.
    ss = play(
        make(policy=Policy(pause_time_between_batches="PT10M")),
        [
            PublishImage(100, "1.0.1"),
            OutageStart(300, (7, 8, 9)),
            OutageEnd(870, (7, 8, 9)),
            OutageStart(1000, (7, 8, 9)),
        ],
        until=2000,
    )
    assert batches(ss.runs[0]) == [([0, 1], 100, 280), ([2, 3], 880, 1060)]
    assert summary(ss.runs[0]) == ("Faulted", 1660, ErrorCode.IN_ROLLING_UPGRADE)


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


# ----------------------------------------------------------------------- D9
def test_d9_scale_in_spares_batch_in_flight() -> None:
    # 8 and 9 are down, prioritized: batch 1 = [8, 9]. Scale in 2 removes 7 and 6.
    ss = play(
        make(policy=Policy(prioritize_unhealthy_instances=True)),
        [OutageStart(50, (8, 9)), PublishImage(100, "1.0.1"), ScaleIn(150, 2)],
    )
    assert sorted(ss.instances) == [0, 1, 2, 3, 4, 5, 8, 9]
    assert sorted(ss.runs[0].scope) == [0, 1, 2, 3, 4, 5, 8, 9]


def test_d9_scale_in_removes_highest_ids() -> None:
    ss = play(make(), [ScaleIn(10, 3)])
    assert sorted(ss.instances) == list(range(7))
    # Ids are never reused.
    play(ss, [ScaleOut(20, 1)])
    assert sorted(ss.instances) == [*range(7), 10]


def test_d9_scale_in_refused_when_too_few() -> None:
    # Batch 1 [0, 1] in flight: only 8 instances are outside it.
    ss = play(make(), [PublishImage(100, "1.0.1")])
    rejection = ss.apply(ScaleIn(150, 9))
    assert rejection is not None and rejection.reason.startswith("D9: cannot remove 9 instances")
    assert len(ss.instances) == 10
    # Removing all 8 others is allowed; the run completes with batch 1 at 280.
    assert ss.apply(ScaleIn(160, 8)) is None
    ss.advance(280)
    assert sorted(ss.instances) == [0, 1]
    assert summary(ss.runs[0]) == ("Completed", 280, None)


def test_d9_scale_out_refused_beyond_v9() -> None:
    ss = make(100)
    rejection = ss.apply(ScaleOut(10, 1))
    assert rejection is not None and rejection.reason.startswith("V9")
    assert len(ss.instances) == 100
    multi = make(999, single_placement_group=False, health_probe=PROBE)
    assert multi.apply(ScaleOut(10, 1)) is None
    assert multi.apply(ScaleOut(20, 1)).reason.startswith("V9")
    assert len(multi.instances) == 1000


def test_d9_new_instances_not_in_active_scope() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), ScaleOut(150, 3)], until=5000)
    assert sorted(ss.runs[0].scope) == list(range(10))
    assert len(ss.runs) == 1  # they were built on 1.0.1 already


# ----------------------------------------------------------------------- D10
def test_d10_down_instance_fails_at_health_deadline() -> None:
    # Instance 0 down at 150: its disk (220) and extensions (280) go on;
    # never healthy: failed at 280 + 300 = 580. Instance 1 succeeds at 310.
    ss = play(
        make(health_probe=PROBE), [PublishImage(100, "1.0.1"), OutageStart(150, (0,))], until=580
    )
    inst = ss.instances[0]
    assert (inst.image_version, inst.provisioning_state, inst.power_state) == (
        "1.0.1",
        "Succeeded",
        "stopped",
    )
    batch = ss.runs[0].batches[0]
    assert (batch.outcomes[0].status, batch.outcomes[0].at) == ("failed", 580)
    assert (batch.outcomes[1].status, batch.outcomes[1].at) == ("successful", 310)
    assert batch.end == 580


def test_d10_instance_back_before_deadline_succeeds_then() -> None:
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1"), OutageStart(150, (0,)), OutageEnd(400, (0,))],
        until=400,
    )
    batch = ss.runs[0].batches[0]
    assert (batch.outcomes[0].status, batch.outcomes[0].at, batch.end) == ("successful", 400, 400)


def test_d10_without_probe_down_at_extension_end_fails() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), OutageStart(150, (0,))], until=280)
    outcomes = ss.runs[0].batches[0].outcomes
    assert (outcomes[0].status, outcomes[1].status) == ("failed", "successful")


# ----------------------------------------------------------------------- D11
def _progress_total(run) -> int:
    return sum(run.progress().values())


def test_d11_progress_sums_to_scope() -> None:
    ss = play(make(health_probe=PROBE), [PublishImage(100, "1.0.1")])
    run = ss.runs[0]
    expected = {
        100: (0, 0, 2, 8),
        250: (0, 0, 2, 8),
        310: (2, 0, 2, 6),  # batch 1 done, batch 2 started at once
        1150: (10, 0, 0, 0),
    }
    for t, counts in expected.items():
        ss.advance(t)
        p = run.progress()
        assert (
            p["successfulInstanceCount"],
            p["failedInstanceCount"],
            p["inProgressInstanceCount"],
            p["pendingInstanceCount"],
        ) == counts
        assert _progress_total(run) == len(run.scope) == 10


def test_d11_scale_in_leaves_every_scope() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    assert ss.runs[0].progress()["successfulInstanceCount"] == 10
    play(ss, [ScaleIn(2000, 3)])
    assert ss.runs[0].progress()["successfulInstanceCount"] == 7
    assert _progress_total(ss.runs[0]) == 7


def test_d11_rollback_counts_failed_and_rolled_back() -> None:
    # Batch 1: fails at 580, rolls back until 700; counted failed, rolled back.
    ss = play(
        make(health_probe=PROBE, policy=Policy(automatic_rollback=True)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=700,
    )
    run = ss.runs[0]
    batch = run.batches[0]
    assert batch.end == 700
    assert [(o.status, o.rolled_back, o.at) for o in batch.outcomes.values()] == [
        ("failed", True, 700),
        ("failed", True, 700),
    ]
    assert (ss.instances[0].image_version, ss.instances[0].os_disk) == ("1.0.0", "os-0-0")
    assert run.progress()["failedInstanceCount"] == 2
    assert (run.rolled_back, run.failed_rollbacks) == (2, 0)


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
