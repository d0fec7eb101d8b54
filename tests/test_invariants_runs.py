"""I7-I12, L1 and L2 (SPEC section 6): the predicates on runs and what surrounds
them, opt-out (I7), credentials (I8), accounting (I9), history (I10), no orphans
(I11) and recovery (I12), and the progress properties, completion (L1) and
termination (L2): each holds where it should and detects a broken state built by
hand, with a message that names the run, batch or instance and the numbers
involved."""

from __future__ import annotations

import pytest

from model import (
    CredentialConfig,
    ExpireCredential,
    Extension,
    Policy,
    PublishImage,
    ScaleSet,
    SetAutomaticUpgrade,
    StartUpgrade,
)
from model.actors.deploy import Deploy
from model.facts import run_view
from model.run import MemberOutcome, UpgradeRun
from properties import invariants as inv
from tests.support import PROBE, as_seen, batch, completed, make, run_with, seen, watched


# ----------------------------------------------------------------------- I7
def test_i7_platform_run_while_opted_out_detected() -> None:
    world = seen(watched(automatic_os_upgrade=False))
    run = run_with([])
    assert inv.platform_run_allowed(world, run) == [
        "Platform run 1 started at 100 while automatic upgrades are off"
    ]
    errored = seen(watched(disk_encryption=True))
    errored.auto = True  # forced on despite the V4 error
    assert inv.platform_run_allowed(errored, run) == [
        "Platform run 1 started at 100 while a V error stands"
    ]
    user = UpgradeRun(number=2, started_by="User", target="1.0.1", start=100, scope={})
    assert inv.platform_run_allowed(world, user) == []


def test_i7_platform_batch_after_opt_out_detected() -> None:
    ss = watched()
    ss.apply(SetAutomaticUpgrade(10, False))
    b = batch(2, [2, 3], 280)
    run = run_with([batch(1, [0, 1], 100, end=280), b])
    assert inv.no_platform_batch_after_opt_out(seen(ss), run, b) == [
        "run 1 batch 2 (Platform) started at 280 while automatic upgrades are off"
    ]


# ----------------------------------------------------------------------- I8
def _with_sas(n: int = 10) -> ScaleSet:
    return watched(
        n,
        extensions=(Extension("CustomScript", ("sas",)),),
        credentials={"sas": CredentialConfig(expires_at=10**8)},
    )


def test_i8_provisioned_with_expired_credential_detected() -> None:
    ss = _with_sas()
    ss.apply(ExpireCredential(50, "sas"))
    assert inv.expired_credential_fails(seen(ss), ss.instances[0], ok=True) == [
        "instance 0 provisioned at 50 with expired credential 'sas'"
    ]
    assert inv.expired_credential_fails(seen(ss), ss.instances[0], ok=False) == []


def test_i8_failures_in_two_batches_detected() -> None:
    first, second = batch(1, [0, 1], 100, end=280), batch(2, [2, 3], 280, end=460)
    first.outcomes = {0: MemberOutcome("failed", 280, provisioning_failed=True)}
    second.outcomes = {2: MemberOutcome("failed", 460, provisioning_failed=True)}
    assert inv.credential_failures_in_one_batch(as_seen(run_with([first, second]))) == [
        "run 1 has provisioning failures in batches [1, 2]"
    ]


# ----------------------------------------------------------------------- I9
def test_i9_miscount_detected() -> None:
    run = run_with([])
    observed = {"pending": 9, "inProgress": 1, "successful": 0, "failed": 0}
    assert inv.progress_accounted(run_view(run), observed) == [
        "run 1 reports {'successfulInstanceCount': 0, 'failedInstanceCount': 0, "
        "'inProgressInstanceCount': 0, 'pendingInstanceCount': 10}, but its scope holds "
        "{'successfulInstanceCount': 0, 'failedInstanceCount': 0, "
        "'inProgressInstanceCount': 1, 'pendingInstanceCount': 9}"
    ]


def test_i9_negative_and_ended_counts_detected() -> None:
    run = run_with([])
    run.counts["failed"] = -1
    counts = dict(run.counts)
    assert inv.progress_accounted(run_view(run), counts) == [
        "run 1 has a negative count: {'successfulInstanceCount': 0, 'failedInstanceCount': -1, "
        "'inProgressInstanceCount': 0, 'pendingInstanceCount': 10}"
    ]
    ended = completed().runs[0]
    ended.counts["inProgress"], ended.counts["pending"] = 1, 2
    problems = inv.progress_accounted(run_view(ended), dict(ended.counts))
    assert problems == [
        "run 1 ended Completed with 1 in progress",
        "run 1 Completed with 2 pending",
    ]


# ----------------------------------------------------------------------- I10
def test_i10_two_active_runs_detected() -> None:
    ss = make()
    ss.apply(PublishImage(100, "1.0.1"))
    ss.runs.append(UpgradeRun(number=2, started_by="User", target="1.0.1", start=150, scope={}))
    assert inv.one_active_run(ss.runs) == ["runs [1, 2] are active at once"]


def test_i10_history_view_out_of_bounds_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    from model import history

    ss = make(3)
    for t in range(7):
        ss.apply(StartUpgrade(t))
    ss.advance(61 * 86400)

    def starts() -> list[str]:
        return [e.properties.runningStatus.startTime for e in ss.history().value]

    epoch = ss.config.epoch
    assert inv.history_bounded(starts(), ss.now, epoch) == []  # runs 61 days old: none shown
    # A broken view: every run, oldest first.
    monkeypatch.setattr(history, "history_runs", lambda runs, now: list(runs))
    assert inv.history_bounded(starts(), ss.now, epoch) == [
        "the history view holds 7 entries, more than 5",
        "the history view shows entries [1, 2, 3, 4, 5, 6, 7] started more than 60 days ago",
        "the history view lists entry 1 (2018-10-01T00:00:00+00:00) before a newer one",
    ]


# ----------------------------------------------------------------------- I11
def test_i11_run_ended_with_instances_mid_operation_detected() -> None:
    ss = watched()
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(150)  # batch 1: instances 0 and 1 are reimaging
    assert inv.no_orphans(seen(ss), seen(ss).runs[0]) == [
        "run 1 ended RollingForward with instances [0, 1] mid-operation"
    ]


# ----------------------------------------------------------------------- I12
def test_i12_failed_after_valid_deploy_detected() -> None:
    world = seen(_with_sas(3))
    world.instances[1].provisioning = "Failed"
    deploy = Deploy(start=100, members=[0, 1, 2], remaining=set(), end=160, succeeded=False)
    assert inv.recovered_after_deploy(world, deploy) == [
        "model deploy started at 100 with valid credentials left instances [1] Failed"
    ]
    world.instances[1].provisioning = "Updating"
    assert inv.recovered_after_deploy(world, deploy) == [
        "model deploy started at 100 with valid credentials did not succeed (instances [1])"
    ]


def test_i12_not_required_with_expired_credentials() -> None:
    ss = _with_sas(3)
    ss.apply(ExpireCredential(50, "sas"))
    seen(ss).instances[1].provisioning = "Failed"
    deploy = Deploy(start=100, members=[0, 1, 2], remaining=set(), end=160, succeeded=False)
    assert inv.recovered_after_deploy(seen(ss), deploy) == []


# ----------------------------------------------------------------------- L1
def test_l1_quiet_run_completes_within_the_batch_bound() -> None:
    # Quiet from the start: every batch takes at most 120 + 60 + 30 = 210 s and the
    # run ends Completed with every in-scope instance on the target.
    ss = make(14, health_probe=PROBE, policy=Policy(max_batch_instance_percent=30))
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(10_000)
    run = ss.runs[0]
    assert run.code == "Completed"
    assert all(b.end - b.start <= 210 for b in run.batches)
    assert {ss.instances[i].image_version for i in run.scope} == {"1.0.1"}
    # cap(14) = floor(14 x 30 / 100) = 4: batches of 4, 4, 4, 2; 4 x 210 s from 100.
    assert [len(b.instances) for b in run.batches] == [4, 4, 4, 2]
    assert run.end == 100 + 4 * 210


# ----------------------------------------------------------------------- L2
def test_l2_batch_bound() -> None:
    assert inv.batch_bound(seen(watched())) == 120 + 60 + 300
    rollback = Policy(automatic_rollback=True)
    probed = seen(watched(health_probe=PROBE, policy=rollback))
    assert inv.batch_bound(probed) == 120 + 60 + 300 + 120
    assert inv.batch_bound(seen(watched(policy=rollback))) == 480  # no probe, no rollback (D15)


def test_l2_slow_batch_detected() -> None:
    world = seen(watched())
    b = batch(1, [0, 1], 100, end=581)
    assert inv.batch_terminates(world, run_with([b]), b) == [
        "run 1 batch 1 took 481s, more than 480s"
    ]
    ok = batch(1, [0, 1], 100, end=580)
    assert inv.batch_terminates(world, run_with([ok]), ok) == []


def test_l2_run_that_does_not_move_on_detected() -> None:
    world = seen(watched(policy=Policy(pause_time_between_batches="PT1M")))
    run = run_with([batch(1, [0, 1], 100, end=280)])
    assert inv.run_moves_on(world, as_seen(run), 340) == []  # 60 s = the pause
    assert inv.run_moves_on(world, as_seen(run), 341) == [
        "run 1 moved on at 341, 61s after batch 1 ended (pause 60s)"
    ]
