"""R1-R8 (SPEC section 2): the rolling upgrade itself: opt-in (R1), the
trigger (R2), the upgrade of one instance (R3), the pre-batch health check (R4),
the batch size (R5), health with and without a probe (R6, R7) and maintenance
during a run (R8). One or more tests per requirement, through the Python API.
Expected numbers are derived by hand from the spec and the default timings
(os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s): a batch takes
120 + 60 + 30 = 210 s with a probe and 120 + 60 = 180 s without one (no health
wait, R7)."""

from __future__ import annotations

from typing import Any

from model import (
    AppHealth,
    CredentialConfig,
    Extension,
    OutageEnd,
    OutageStart,
    Policy,
    PublishImage,
    SetAutomaticUpgrade,
    StartUpgrade,
    Timings,
)
from tests.support import PROBE, batches, make, play


# ----------------------------------------------------------------------- R1
def test_r1_no_run_while_opted_out() -> None:
    ss = play(make(automatic_os_upgrade=False), [PublishImage(100, "1.0.1")], until=5000)
    assert ss.runs == []
    assert {i.image_version for i in ss.instances.values()} == {"1.0.0"}


def test_r1_opting_in_starts_the_run() -> None:
    # D4: opting in is one of the moments a Platform run starts.
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), SetAutomaticUpgrade(200, True)],
        until=200,
    )
    assert [(r.started_by, r.target, r.start) for r in ss.runs] == [("Platform", "1.0.1", 200)]


# ----------------------------------------------------------------------- R2
def test_r2_each_publication_starts_a_platform_run_towards_latest() -> None:
    # No probe, 10 instances: 5 batches of 2 x 180 s = 900 s: run 1 ends at 1000.
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    run = ss.runs[0]
    assert (run.started_by, run.target, run.start, run.code, run.end) == (
        "Platform",
        "1.0.1",
        100,
        "Completed",
        1000,
    )
    play(ss, [PublishImage(2000, "1.0.2")], until=2000)
    assert [(r.started_by, r.target, r.start) for r in ss.runs[1:]] == [("Platform", "1.0.2", 2000)]


# ----------------------------------------------------------------------- R3
def test_r3_os_disk_replaced_then_extensions_rerun_data_disks_kept() -> None:
    ss = play(make(data_disks_per_instance=2), [PublishImage(100, "1.0.1")], until=219)
    inst = ss.instances[0]
    data = inst.data_disks
    assert data == ("data-0-0", "data-0-1")
    # 100 + 120: the OS disk phase ends at 220; before it the disk is the old one.
    assert (inst.os_disk, inst.image_version, inst.provisioning_state) == (
        "os-0-0",
        "1.0.0",
        "Updating",
    )
    ss.advance(220)
    assert (inst.os_disk, inst.image_version) == ("os-0-1", "1.0.1")
    # The extensions run again for 60 s: still Updating until 280.
    ss.advance(279)
    assert inst.provisioning_state == "Updating"
    ss.advance(280)
    assert inst.provisioning_state == "Succeeded"
    assert inst.data_disks == data


# ----------------------------------------------------------------------- R4
def test_r4_pre_batch_check_stops_run_when_more_than_limit_unhealthy() -> None:
    # limit = floor(10 x 20 / 100) = 2; three down: 3 > 2.
    ss = play(make(), [OutageStart(50, (7, 8, 9)), PublishImage(100, "1.0.1")], until=100)
    run = ss.runs[0]
    assert (run.code, run.end, run.batches) == ("Faulted", 100, [])
    assert run.error[0] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"


def test_r4_pre_batch_check_passes_at_the_limit() -> None:
    # Two down: 2 <= 2, the first batch starts.
    ss = play(make(), [OutageStart(50, (8, 9)), PublishImage(100, "1.0.1")], until=100)
    run = ss.runs[0]
    assert run.code == "RollingForward"
    assert batches(run) == [([0, 1], 100, None)]


# ----------------------------------------------------------------------- R5
def test_r5_batch_cap_rounds_down() -> None:
    # floor(10 x 0.2) = 2; floor(14 x 0.2) = floor(2.8) = 2; floor(4 x 0.2) = 0 -> 1.
    for n, cap in ((10, 2), (14, 2), (4, 1)):
        ss = play(make(n), [PublishImage(100, "1.0.1")], until=100_000)
        run = ss.runs[0]
        assert run.code == "Completed"
        assert [len(b.instances) for b in run.batches] == [cap] * (n // cap) + (
            [n % cap] if n % cap else []
        )


def test_r5_batches_never_overlap() -> None:
    # 14 instances, batches of 2, 180 s each: batch k runs [100 + 180k, 280 + 180k].
    ss = play(make(14), [PublishImage(100, "1.0.1")], until=100_000)
    run = ss.runs[0]
    assert [(b.start, b.end) for b in run.batches] == [
        (100 + 180 * k, 280 + 180 * k) for k in range(7)
    ]
    for before, after in zip(run.batches, run.batches[1:], strict=False):
        assert after.start >= before.end


def test_r5_percentage_option() -> None:
    # max_batch_instance_percent 50: floor(10 x 0.5) = 5: two batches.
    ss = play(
        make(policy=Policy(max_batch_instance_percent=50)),
        [PublishImage(100, "1.0.1")],
        until=460,
    )
    assert batches(ss.runs[0]) == [([0, 1, 2, 3, 4], 100, 280), ([5, 6, 7, 8, 9], 280, 460)]


# ----------------------------------------------------------------------- R6
def test_r6_batch_waits_for_health() -> None:
    # Extensions end at 100 + 120 + 60 = 280, healthy 30 s later: batch 1 ends at 310.
    ss = play(make(health_probe=PROBE), [PublishImage(100, "1.0.1")], until=309)
    run = ss.runs[0]
    assert run.batches[0].end is None
    ss.advance(310)
    assert batches(run)[:2] == [([0, 1], 100, 310), ([2, 3], 310, None)]
    # The spec's example: 5 batches x 210 s from 100: Completed at 1150.
    ss.advance(1150)
    assert (run.code, run.end) == ("Completed", 1150)


def _back_to_back_runs() -> tuple[Any, Any]:
    """One instance, a probe, an application that takes 100 s to start. Run 1:
    disk 0-120, extensions 120-180, healthy at 280 (its wait would end at 480),
    Completed at 280. A publication at 280 starts run 2 at once: disk 280-400,
    extensions 400-460, so the instance waits again while the deadline of its
    first wait (480) is still queued. It is healthy at 560, its own deadline 760."""
    from model.facts import observe
    from properties.checker import Checker

    ss = make(1, health_probe=PROBE, timings=Timings(app_start_seconds=100))
    checker = observe(ss, Checker)
    play(ss, [PublishImage(0, "1.0.1"), PublishImage(280, "1.0.2")], until=1000)
    return ss, checker


def test_r6_a_stale_health_deadline_of_an_earlier_wait_ends_nothing() -> None:
    ss, checker = _back_to_back_runs()
    first, second = ss.runs
    assert (first.code, first.end, second.start) == ("Completed", 280, 280)
    outcome = second.batches[0].outcomes[0]
    assert (outcome.status, outcome.at) == ("successful", 560)  # not failed at 480
    assert (second.code, second.end) == ("Completed", 560)
    assert "earlier health deadline inside a later wait" in checker.reached
    assert checker.violations == []


def test_r6_a_stale_deadline_acting_on_a_later_wait_is_caught() -> None:
    """A broken variant (one of mutmut's survivors on ci, docs/mutmut.md): a
    reimage resets the operation token to 1 instead of stepping it, so the
    first wait's deadline, still queued, ends the second wait at 480 with the
    instance not yet healthy."""
    from contextlib import ExitStack

    from model.actors import instances
    from properties.mutants import replace

    begin = instances.begin_reimage

    def begin_reimage(ss, inst, run) -> None:
        inst.op_token = 0  # every reimage then takes token 1, as the first did
        begin(ss, inst, run)

    with ExitStack() as stack:
        for patch in replace(instances, "begin_reimage", begin_reimage):
            stack.enter_context(patch)
        ss, checker = _back_to_back_runs()
    outcome = ss.runs[1].batches[0].outcomes[0]
    assert (outcome.status, outcome.at) == ("failed", 480)
    assert {v.invariant for v in checker.violations} >= {"health_wait_follows_r6"}


def test_r6_never_healthy_fails_after_health_wait() -> None:
    # An unhealthy answer after the new disk (220) stands: instance 0 is never
    # healthy, fails at 280 + 300 = 580; instance 1 is done at 310.
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1"), AppHealth(230, (0,), False)],
        until=579,
    )
    batch = ss.runs[0].batches[0]
    assert batch.end is None
    assert batch.outcomes[1].status == "successful" and batch.outcomes[1].at == 310
    ss.advance(580)
    assert batch.end == 580
    assert (batch.outcomes[0].status, batch.outcomes[0].at) == ("failed", 580)


def test_r6_healthy_exactly_at_end_of_wait_counts() -> None:
    # app_start_seconds == health_wait_seconds == 300: healthy at 280 + 300 = 580,
    # exactly the end of the wait: counted successful.
    ss = play(
        make(health_probe=PROBE, timings=Timings(app_start_seconds=300)),
        [PublishImage(100, "1.0.1")],
        until=580,
    )
    batch = ss.runs[0].batches[0]
    assert batch.end == 580
    assert {o.status for o in batch.outcomes.values()} == {"successful"}


def test_r6_healthy_one_second_late_fails() -> None:
    ss = play(
        make(health_probe=PROBE, timings=Timings(app_start_seconds=301)),
        [PublishImage(100, "1.0.1")],
        until=580,
    )
    batch = ss.runs[0].batches[0]
    assert batch.end == 580
    assert {o.status for o in batch.outcomes.values()} == {"failed"}


def test_r6_health_wait_option() -> None:
    # health_wait_seconds 100: a never-healthy instance fails at 280 + 100 = 380.
    ss = play(
        make(health_probe=PROBE, timings=Timings(health_wait_seconds=100)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=380,
    )
    assert ss.runs[0].batches[0].end == 380


# ----------------------------------------------------------------------- R7
def test_r7_without_probe_no_wait() -> None:
    # 100 + 120 + 60 = 280, with app_start_seconds irrelevant.
    ss = play(
        make(timings=Timings(app_start_seconds=1000)), [PublishImage(100, "1.0.1")], until=280
    )
    assert batches(ss.runs[0])[0] == ([0, 1], 100, 280)
    assert {o.status for o in ss.runs[0].batches[0].outcomes.values()} == {"successful"}


def test_r7_health_predicate() -> None:
    ss = make(4)
    inst = ss.instances
    assert all(ss.is_healthy(i) for i in inst.values())  # running, Succeeded, idle
    play(ss, [OutageStart(10, (0,)), AppHealth(10, (1,), False), StartUpgrade(10)])
    assert not ss.is_healthy(inst[0])  # stopped
    assert ss.is_healthy(inst[1])  # no probe: the application's answer is not seen
    # (the User run has an empty scope: nothing is in flight)
    # 10 instances: one unhealthy answer is within the limit floor(10 x 0.2) = 2.
    ss2 = make(10, health_probe=PROBE)
    play(ss2, [AppHealth(10, (1,), False), PublishImage(20, "1.0.1")], until=21)
    assert not ss2.is_healthy(ss2.instances[1])  # the probe answers unhealthy
    assert not ss2.is_healthy(ss2.instances[0])  # in the middle of an OS operation
    assert ss2.instances[0].provisioning_state == "Updating"


def test_r7_provisioning_failed_is_unhealthy() -> None:
    ss = make(
        5,
        extensions=(Extension("CustomScript", ("sas",)),),
        credentials={"sas": CredentialConfig(expires_at=50)},
    )
    # Extensions finish at 100 + 180 = 280 with a token expired at 50: Failed.
    play(ss, [PublishImage(100, "1.0.1")], until=280)
    assert ss.instances[0].provisioning_state == "Failed"
    assert ss.instances[0].power_state == "running"
    assert not ss.is_healthy(ss.instances[0])


# ----------------------------------------------------------------------- R8
def test_r8_maintenance_during_batch_stops_at_next_check_not_mid_batch() -> None:
    # Batch 1 [0, 1] runs 100..310; three others go down at 150 (3 > limit 2):
    # batch 1 finishes, the pre-batch check at 310 ends the run Faulted.
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1"), OutageStart(150, (5, 6, 7))],
        until=1000,
    )
    run = ss.runs[0]
    assert (run.code, run.end) == ("Faulted", 310)
    assert run.error[0] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert batches(run) == [([0, 1], 100, 310)]
    assert [ss.instances[i].image_version for i in (0, 1, 2)] == ["1.0.1", "1.0.1", "1.0.0"]


def test_r8_maintenance_over_before_the_check_lets_run_go_on() -> None:
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1"), OutageStart(150, (5, 6, 7)), OutageEnd(300, (5, 6, 7))],
        until=1150,
    )
    assert (ss.runs[0].code, ss.runs[0].end) == ("Completed", 1150)
