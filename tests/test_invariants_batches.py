"""Normal runs, and I1-I6 (SPEC section 6): every predicate of
properties/invariants.py holds on normal runs, and the predicates on a run's
batches and their instances, batch cap (I1), pre-check (I2), stop rule (I3),
versions (I4), data (I5) and health wait (I6), each detect a broken state built by
hand, with a message that names the run, batch or instance and the numbers
involved; replay's checker reports a broken model."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from model import OutageStart, Policy, PublishImage, ServiceFabric, parse_trace
from model.facts import batch_view, run_view
from model.run import Check, MemberOutcome
from properties import invariants as inv
from tests.support import PROBE, as_seen, batch, completed, make, run_with, seen, watched
from vmss_spec.replay import replay

IMAGE = {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS", "version": "latest"}


# ----------------------------------------------------------------------- normal runs
def trace(events: list[dict[str, Any]], **scale_set: Any) -> dict[str, Any]:
    return {
        "format": "vmss-upgrade-trace/1",
        "scale_set": {"instances": 10, "image": IMAGE, **scale_set},
        "events": events,
    }


NORMAL = {
    "example-with-probe": trace(
        [{"at": 100, "event": "publish_image", "version": "1.0.1"}],
        health_probe={"kind": "load_balancer"},
    ),
    "service-fabric": trace(
        [{"at": 100, "event": "publish_image", "version": "1.0.1"}],
        service_fabric={"durability": "Silver", "update_domains": 3},
    ),
    "credentials-and-recovery": trace(
        [
            {"at": 100, "event": "publish_image", "version": "1.0.1"},
            {"at": 150, "event": "expire_credential", "name": "sas"},
            {"at": 400, "event": "regenerate_credential", "name": "sas", "expires_at": 10**8},
            {"at": 500, "event": "update_model"},
        ],
        health_probe={"kind": "application_health"},
        extensions=[{"name": "CustomScript", "credentials": ["sas"]}],
        credentials={"sas": {"expires_at": 10**8}},
    ),
    "broken-image-rollback": trace(
        [{"at": 100, "event": "publish_image", "version": "1.0.1", "app_healthy": False}],
        health_probe={"kind": "load_balancer"},
        policy={"automatic_rollback": True, "max_unhealthy_upgraded_instance_percent": 100},
    ),
    "weather": trace(
        [
            {"at": 100, "event": "publish_image", "version": "1.0.1"},
            {"at": 120, "event": "outage_start", "instances": [0]},
            {"at": 150, "event": "scale_out", "count": 2},
            {"at": 300, "event": "app_health", "instances": [3], "healthy": False},
            {"at": 400, "event": "scale_in", "count": 3},
            {"at": 500, "event": "outage_end", "instances": [0]},
            {"at": 900, "event": "publish_image", "version": "1.0.2"},
            {"at": 1000, "event": "set_automatic_upgrade", "enabled": False},
            {"at": 1300, "event": "set_automatic_upgrade", "enabled": True},
            {"at": 1500, "event": "cancel_upgrade"},
            {"at": 3000, "event": "start_upgrade"},
        ],
        health_probe={"kind": "load_balancer"},
        policy={"pause_time_between_batches": "PT30S", "prioritize_unhealthy_instances": True},
    ),
    "history": trace([{"at": t, "event": "start_upgrade"} for t in range(7)]),
}


@pytest.mark.parametrize("name", list(NORMAL))
def test_every_invariant_holds_on_normal_runs(name: str) -> None:
    rep = replay(parse_trace(NORMAL[name]))
    assert rep.result.violations == []
    assert rep.exit_status == 0
    assert rep.scale_set.runs  # something happened


def test_each_predicate_holds_on_a_completed_run() -> None:
    ss = watched(health_probe=PROBE)
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(2000)
    world = seen(ss)
    run = ss.runs[0]
    assert run.code == "Completed"
    for b in run.batches:
        assert inv.batch_within_cap(world, run, b) == []
        assert inv.stopped_runs_start_no_batch(world, as_seen(run, before=b), b.number) == []
        assert inv.batch_members_all_done(run, b, set(b.instances)) == []
        assert inv.batch_terminates(world, run, b) == []
    for b in run.batches:
        assert inv.one_batch_in_flight(as_seen(run, before=b), batch_view(b)) == []
    for inst in ss.instances.values():
        assert inv.upgraded_to_target(run, inst, False) == []
        assert inv.data_disks_kept(inst, (f"data-{inst.id}-0",)) == []
        assert inv.waited_for_health(world, world.runs[0].batches[-1], inst) == []
        assert inv.expired_credential_fails(world, inst, True) == []
    assert inv.target_unchanged(run, "1.0.1") == []
    assert inv.credential_failures_in_one_batch(world.runs[0]) == []
    assert inv.progress_accounted(run_view(run), dict(run.counts)) == []
    assert inv.one_active_run(ss.runs) == []
    starts = [e.properties.runningStatus.startTime for e in ss.history().value]
    assert inv.history_bounded(starts, ss.now, ss.config.epoch) == []
    assert inv.no_orphans(world, world.runs[0]) == []
    assert inv.run_moves_on(world, world.runs[0], run.end) == []


# ----------------------------------------------------------------------- I1
def test_i1_batch_over_cap_detected() -> None:
    world = seen(watched())
    run = run_with([batch(1, [0, 1, 2], 100)])
    # cap(10) = max(1, floor(10 x 20 / 100)) = 2 < 3.
    assert inv.batch_within_cap(world, run, run.batches[0]) == [
        "run 1 batch 1 has 3 instances, more than cap(10) = 2"
    ]
    assert inv.batch_within_cap(world, run, batch(1, [0, 1], 100)) == []


def test_i1_service_fabric_batch_across_update_domains_detected() -> None:
    world = seen(watched(service_fabric=ServiceFabric("Silver")))  # UD(i) = i mod 5
    run = run_with([batch(1, [0, 1, 5], 100)])
    problems = inv.batch_within_cap(world, run, run.batches[0])
    assert problems == ["run 1 batch 1 spans update domains [0, 1]"]
    # A whole UD (0 and 5) is fine whatever the cap.
    assert inv.batch_within_cap(world, run, batch(1, [0, 5], 100)) == []


def test_i1_overlapping_batches_detected() -> None:
    second = batch(2, [2, 3], 200)
    run = run_with([batch(1, [0, 1], 100, end=280), second])
    assert inv.one_batch_in_flight(as_seen(run, before=second), batch_view(second)) == [
        "run 1 batch 2 started at 200 while batch 1 was in flight (end 280)"
    ]
    later = batch(2, [2, 3], 300)
    unended = run_with([batch(1, [0, 1], 100), later])
    assert inv.one_batch_in_flight(as_seen(unended, before=later), batch_view(later)) == [
        "run 1 batch 2 started at 300 while batch 1 was in flight (end None)"
    ]


# ----------------------------------------------------------------------- I2
def test_i2_batch_started_over_the_unhealthy_limit_detected() -> None:
    ss = watched()
    ss.apply(OutageStart(50, (7, 8, 9)))
    run = run_with([batch(1, [0, 1], 50)])
    # limit floor(10 x 20 / 100) = 2 < 3 unhealthy.
    assert inv.pre_check_passed(seen(ss), run, run.batches[0]) == [
        "run 1 batch 1 started with 3 of 10 instances unhealthy, more than the limit 2"
    ]
    ss2 = watched()
    ss2.apply(OutageStart(50, (8, 9)))
    assert inv.pre_check_passed(seen(ss2), run, run.batches[0]) == []


# ----------------------------------------------------------------------- I3
def test_i3_batch_after_provisioning_failure_detected() -> None:
    first = batch(1, [0, 1], 100, end=280)
    first.outcomes = {
        0: MemberOutcome("failed", 280, provisioning_failed=True),
        1: MemberOutcome("successful", 280),
    }
    second = batch(2, [2, 3], 280)
    run = run_with([first, second])
    assert inv.stopped_runs_start_no_batch(seen(watched()), as_seen(run, second), 2) == [
        "run 1 batch 2 started after batch 1 ended with a provisioning failure"
    ]


def test_i3_batch_after_upgraded_limit_detected() -> None:
    first = batch(1, [0, 1], 100, end=580)
    first.outcomes = {0: MemberOutcome("failed", 580), 1: MemberOutcome("successful", 310)}
    second = batch(2, [2, 3], 580)
    run = run_with([first, second])
    # 1 failed of 2: limit floor(2 x 49 / 100) = 0 is exceeded; floor(2 x 50 / 100) = 1 is not.
    strict = seen(watched(policy=Policy(max_unhealthy_upgraded_instance_percent=49)))
    assert inv.stopped_runs_start_no_batch(strict, as_seen(run, second), 2) == [
        "run 1 batch 2 started after batch 1 left 1 of 2 upgraded instances failed (limit 0)"
    ]
    lenient = seen(watched(policy=Policy(max_unhealthy_upgraded_instance_percent=50)))
    assert inv.stopped_runs_start_no_batch(lenient, as_seen(run, second), 2) == []


def test_i3_batch_after_failed_check_detected() -> None:
    second = batch(2, [2, 3], 300)
    run = run_with([batch(1, [0, 1], 100, end=280), second])
    run.checks.extend([Check(100, 10, 0, 2), Check(280, 10, 3, 2)])
    assert inv.stopped_runs_start_no_batch(seen(watched()), as_seen(run, second), 2) == [
        "run 1 batch 2 started after the pre-batch check at 280 found 3 unhealthy, more than 2"
    ]


# ----------------------------------------------------------------------- I4
def test_i4_done_instance_off_target_detected() -> None:
    ss = make()
    run = run_with([])
    inst = ss.instances[4]  # on 1.0.0, the run's target is 1.0.1
    assert inv.upgraded_to_target(run, inst, rolled_back=False) == [
        "instance 4 is done in run 1 on version 1.0.0, not the target 1.0.1"
    ]
    assert inv.upgraded_to_target(run, inst, rolled_back=True) == []


def test_i4_target_not_latest_or_changed_detected() -> None:
    ss = watched()
    ss.apply(PublishImage(10, "1.0.2"))  # a run starts towards 1.0.2
    run = run_with([])  # towards 1.0.1
    assert inv.target_is_latest(seen(ss), run) == [
        "run 1 started at 100 towards 1.0.1, not the latest 1.0.2"
    ]
    assert inv.target_is_latest(seen(ss), ss.runs[0]) == []
    assert inv.target_unchanged(run, "1.0.0") == ["run 1 changed its target from 1.0.0 to 1.0.1"]


def test_i4_version_decrease_detected_unless_own_previous_disk() -> None:
    ss = completed()
    inst = ss.instances[0]  # now os-0-1 on 1.0.1, before that os-0-0 on 1.0.0
    before, prior = ("os-0-1", "1.0.1"), ("os-0-0", "1.0.0")
    assert inv.version_never_decreases(inst, ("os-0-0", "1.0.0"), None) == []
    inst.os_disk, inst.image_version = "os-0-2", "1.0.0"
    assert inv.version_never_decreases(inst, before, prior) == [
        "instance 0 went from version 1.0.1 (os-0-1) down to 1.0.0 (os-0-2), "
        "which is not its previous disk"
    ]
    inst.os_disk = "os-0-0"  # a rollback to its own previous disk
    assert inv.version_never_decreases(inst, before, prior) == []


# ----------------------------------------------------------------------- I5
def test_i5_renamed_data_disk_detected() -> None:
    ss = completed()
    inst = ss.instances[3]
    inst.data_disks = ("data-3-7",)
    assert inv.data_disks_kept(inst, ("data-3-0",)) == [
        "instance 3 data disks changed from ['data-3-0'] to ['data-3-7']"
    ]


def test_i5_missing_os_disk_detected() -> None:
    inst = make().instances[2]
    inst.os_disk = ""
    assert inv.data_disks_kept(inst, ("data-2-0",)) == ["instance 2 has no single OS disk ('')"]


# ----------------------------------------------------------------------- I6
def test_i6_outcome_counted_before_the_wait_detected() -> None:
    # With a probe, at 290 instance 0 has provisioned (280) but is not healthy
    # before 310: counting it done now has waited 10 s of 300.
    ss = watched(health_probe=PROBE)
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(290)
    inst = ss.instances[0]
    assert not ss.is_healthy(inst)
    world = seen(ss)
    assert inv.waited_for_health(world, world.runs[0].batches[-1], inst) == [
        "instance 0 done in batch 1 at 290, unhealthy after waiting 10s of 300s"
    ]
    # At the end of the wait (580) a failure is legitimate.
    late = watched(health_probe=PROBE)
    late.apply(PublishImage(100, "1.0.1", app_healthy=False))
    late.advance(580)
    assert late.runs[0].batches[0].outcomes[0].status == "failed"
    world = seen(late)
    assert inv.waited_for_health(world, world.runs[0].batches[0], late.instances[0]) == []


def test_i6_batch_ended_before_members_done_detected() -> None:
    b = batch(1, [0, 1], 100, end=280)
    run = run_with([b])
    assert inv.batch_members_all_done(run, b, {0}) == [
        "run 1 batch 1 ended at 280 before instances [1] were done"
    ]


def test_checker_reports_a_broken_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # The checker attached by replay turns a broken model into violations (I1).
    from model.actors import orchestrator

    monkeypatch.setattr(orchestrator, "batch_cap", lambda ss, n: n)
    rep = replay(parse_trace(copy.deepcopy(NORMAL["example-with-probe"])))
    i1 = [v for v in rep.result.violations if v.invariant == "I1"]
    assert [(v.at, v.message) for v in i1] == [
        (100, "run 1 batch 1 has 10 instances, more than cap(10) = 2")
    ]
    assert rep.exit_status == 1
