"""D4-D7a (SPEC section 5): when a run starts (D4) and how it stops: the error
codes (D5), a provisioning failure (D6), opt-out and cancel (D7) and the order of
the decisions at the end of a batch (D7a). Through the Python API. Timings are the
defaults (os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s): a
batch takes 180 s without a probe and 210 s with one."""

from __future__ import annotations

from model import (
    CancelUpgrade,
    ExpireCredential,
    ImageReference,
    OutageEnd,
    OutageStart,
    Policy,
    PublishImage,
    ScaleOut,
    ScaleSet,
    ScaleSetConfig,
    SetAutomaticUpgrade,
    StartUpgrade,
)
from model.run import ErrorCode
from tests.support import PROBE, SAS, batches, make, play, summary


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
