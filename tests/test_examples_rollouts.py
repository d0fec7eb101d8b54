"""Examples are specs, part 1: how a run rolls out and how it stops. The examples 1-8
under examples/ (the section 7 rolling upgrade, small scale sets, the pre-batch check,
broken images with and without a probe, rollback, maintenance during a batch, an
expired credential and its recovery) are replayed (model.load_trace + model.replay)
and their outcome is asserted against what SPEC.md implies. The helpers are in
tests/example_support.py; tests/test_examples_checks.py checks that every example
is covered by a test.

Every expected number is derived by hand from SPEC.md and the trace's timings; the
arithmetic is in the comments. Default timings (section 2, "Health, precisely"):
os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s. So a batch with a
probe takes 120 + 60 + 30 = 210 s (the run waits for the application, R6) and a batch
without one 120 + 60 = 180 s (no wait, R7). The first pre-batch check happens at the
run's start; with pause 0 the next check and batch follow at the batch's end (D7a).
History timestamps are the epoch 2018-10-01T00:00:00+00:00 plus the offset (section 1).
"""

from __future__ import annotations

import json

from model.trace import result_to_json
from tests.example_support import (
    NEW,
    NO_ROLLBACK,
    OLD,
    UBUNTU,
    batches,
    checks,
    history,
    instances,
    play,
    play_prefix,
    progress,
    warnings,
)


# --------------------------------------------------------------------------- 1
def test_r2_r5_r6_rolling_upgrade_of_ten_in_batches_of_two() -> None:
    """SPEC section 7's example: 10 instances with a probe, a publication at t=100;
    5 batches of 2, Completed at 1150, shown in the history view in the REST shape."""
    rep = play("rolling-upgrade-10.json")
    r = rep.result
    assert r.time == 86400  # the trace's until
    (run,) = r.runs
    assert (run.started_by, run.target_version, run.code, run.error) == (
        "Platform",
        NEW,
        "Completed",
        None,
    )
    # D1: cap(10) = max(1, floor(10 x 20 / 100)) = 2; D2 ascending ids; 210 s per batch.
    assert batches(run) == [
        ([0, 1], 100, 310),  # 100 + 120 disk + 60 ext + 30 app = 310
        ([2, 3], 310, 520),  # 310 + 210
        ([4, 5], 520, 730),
        ([6, 7], 730, 940),
        ([8, 9], 940, 1150),  # 100 + 5 x 210 = 1150
    ]
    assert (run.start, run.end) == (100, 1150)
    # R4, D1: the limit is floor(10 x 20 / 100) = 2 and nobody is unhealthy at a check.
    assert checks(rep) == [(t, 10, 0, 2) for t in (100, 310, 520, 730, 940)]
    assert run.progress == progress(10, 0, 0, 0)
    assert run.rollback == NO_ROLLBACK
    # R3: one OS disk replacement each (os-<id>-1), data disks untouched.
    for view in r.instances:
        i = view.id
        assert (view.image_version, view.power_state, view.provisioning_state) == (
            NEW,
            "running",
            "Succeeded",
        )
        assert view.healthy is True
        assert view.update_domain is None
        assert view.os_disk == f"os-{i}-1"
        assert view.data_disks == [f"data-{i}-0"]
    assert sorted(v.id for v in r.instances) == list(range(10))
    assert r.rejected == [] and r.warnings == []
    # R16, D13: the REST shape of section 7, endTime not completedTime.
    assert json.loads(result_to_json(r))["history"] == {
        "value": [
            {
                "properties": {
                    "runningStatus": {
                        "code": "Completed",
                        "startTime": "2018-10-01T00:01:40+00:00",  # 100 s
                        "endTime": "2018-10-01T00:19:10+00:00",  # 1150 s = 19 min 10 s
                    },
                    "progress": progress(10, 0, 0, 0),
                    "error": None,
                    "startedBy": "Platform",
                    "targetImageReference": {**UBUNTU, "version": NEW},
                    "rollbackInfo": NO_ROLLBACK,
                },
                "type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
                "location": "westeurope",
            }
        ]
    }


# --------------------------------------------------------------------------- 2
def test_d1_four_instances_give_batches_of_one() -> None:
    """D1: 5 or fewer instances give batches of 1; the probe makes each take 210 s."""
    rep = play("small-set-batches-of-one.json")
    (run,) = rep.result.runs
    # cap(4) = max(1, floor(4 x 20 / 100)) = max(1, 0) = 1
    assert batches(run) == [
        ([0], 100, 310),  # 100 + 210
        ([1], 310, 520),
        ([2], 520, 730),
        ([3], 730, 940),  # 100 + 4 x 210 = 940
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 940)
    # D1: limit floor(4 x 20 / 100) = 0, and nobody is unhealthy at any check.
    assert checks(rep) == [(t, 4, 0, 0) for t in (100, 310, 520, 730)]
    assert run.progress == progress(4, 0, 0, 0)
    assert rep.result.time == 940  # the last thing that happens: instance 3's app up
    assert {i: v[0] for i, v in instances(rep).items()} == {i: NEW for i in range(4)}
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:15:40+00:00",  # 940 s = 15 min 40 s
            None,
        )
    ]


def test_d1_d5_four_instances_one_unhealthy_blocks_the_run() -> None:
    """D1: with 4 instances the limit is floor(4 x 20 / 100) = 0, so a single
    unhealthy instance (probe answering unhealthy, R7) stops the run before its
    first batch (R4, D5)."""
    rep = play("small-set-one-unhealthy-blocks.json")
    (run,) = rep.result.runs
    assert (run.started_by, run.code, run.start, run.end) == ("Platform", "Faulted", 100, 100)
    assert run.error is not None
    assert run.error["code"] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    assert run.batches == []
    assert checks(rep) == [(100, 4, 1, 0)]  # 1 unhealthy > limit 0
    # D11: the scope is all 4 instances below the target, none touched.
    assert run.progress == progress(0, 0, 0, 4)
    states = instances(rep)
    assert {i: s[0] for i, s in states.items()} == {i: OLD for i in range(4)}
    assert [i for i, s in states.items() if not s[3]] == [3]
    assert rep.result.time == 100  # the last event; nothing happens after it
    assert history(rep) == [
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:01:40+00:00",
            "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade",
        )
    ]


# --------------------------------------------------------------------------- 3
def test_r4_d5_more_than_twenty_percent_unhealthy_refuses_the_first_batch() -> None:
    """R4, D5: 3 of 10 instances down at the publication (3 > floor(10 x 20/100) = 2):
    the run ends Faulted at once with no batch; D4: the end of the outage does not
    restart it."""
    rep = play("pre-batch-check-refuses.json")
    (run,) = rep.result.runs
    assert (run.code, run.start, run.end) == ("Faulted", 100, 100)
    assert run.error is not None
    assert run.error["code"] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    assert run.error["message"]
    assert run.batches == []
    assert checks(rep) == [(100, 10, 3, 2)]
    assert run.progress == progress(0, 0, 0, 10)
    assert run.rollback == NO_ROLLBACK
    # Nothing was upgraded; at 500 the outage is over and everyone is healthy again.
    assert instances(rep) == {
        i: (OLD, "running", "Succeeded", True, f"os-{i}-0") for i in range(10)
    }
    assert rep.result.time == 500  # the outage_end event
    assert history(rep) == [
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:01:40+00:00",
            "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade",
        )
    ]


# --------------------------------------------------------------------------- 4
def test_r6_r8_d5_broken_image_with_probe_is_stopped_by_the_next_check() -> None:
    """D14, R6: the published image is broken, so upgraded instances never report
    healthy; each waits health_wait_seconds and counts failed (D11). The pre-batch
    check stops the run once more than 2 instances are unhealthy (R8, D5)."""
    rep = play("broken-image-with-probe.json")
    (run,) = rep.result.runs
    assert batches(run) == [
        ([0, 1], 100, 580),  # 100 + 120 disk + 60 ext = 280; + 300 health wait = 580
        ([2, 3], 580, 1060),  # 580 + 120 + 60 + 300 = 1060
    ]
    # At 580: instances 0, 1 unhealthy: 2 <= limit 2, batch 2 starts.
    # At 1060: instances 0-3 unhealthy: 4 > 2, the run stops before batch 3.
    assert checks(rep) == [(100, 10, 0, 2), (580, 10, 2, 2), (1060, 10, 4, 2)]
    assert (run.code, run.end) == ("Faulted", 1060)
    assert run.error is not None
    assert run.error["code"] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert run.progress == progress(0, 4, 0, 6)
    assert run.rollback == NO_ROLLBACK
    states = instances(rep)
    for i in range(4):  # upgraded: new disk, provisioned, but the app never healthy
        assert states[i] == (NEW, "running", "Succeeded", False, f"os-{i}-1")
    for i in range(4, 10):
        assert states[i] == (OLD, "running", "Succeeded", True, f"os-{i}-0")
    assert rep.result.time == 1060
    assert history(rep) == [
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:17:40+00:00",  # 1060 s = 17 min 40 s
            "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
        )
    ]


# --------------------------------------------------------------------------- 5
def test_v8_r7_broken_image_without_probe_rolls_out_everywhere() -> None:
    """SPEC "Without a probe the platform cannot see the application": a broken image
    looks healthy and rolls out everywhere; V8 warns about the missing probe."""
    rep = play("broken-image-without-probe.json")
    (run,) = rep.result.runs
    # No probe: no health wait, a batch is 120 disk + 60 ext = 180 s.
    assert batches(run) == [
        ([0, 1], 100, 280),
        ([2, 3], 280, 460),
        ([4, 5], 460, 640),
        ([6, 7], 640, 820),
        ([8, 9], 820, 1000),  # 100 + 5 x 180 = 1000
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 1000)
    assert run.progress == progress(10, 0, 0, 0)
    assert instances(rep) == {
        i: (NEW, "running", "Succeeded", True, f"os-{i}-1") for i in range(10)
    }
    assert warnings(rep) == ["V8"]
    assert rep.result.warnings[0].message.startswith("health_probe")
    assert rep.result.time == 1000
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:16:40+00:00",  # 1000 s = 16 min 40 s
            None,
        )
    ]


# --------------------------------------------------------------------------- 6
def test_section4_broken_image_rollback_and_upgraded_unhealthy_limit() -> None:
    """Section 4: automatic_rollback gives instances that are not healthy in time their
    previous OS disk back; max_unhealthy_upgraded_instance_percent 20 then stops the
    run (D7a, D5). rollbackInfo counts the rolled back instances."""
    rep = play("broken-image-rollback.json")
    (run,) = rep.result.runs
    # 100 + 120 disk + 60 ext = 280; + 300 health wait = 580 (never healthy: broken);
    # + 120 rollback = 700: both done, failed and rolled back (D11).
    assert batches(run) == [([0, 1], 100, 700)]
    # D7a at 700: failed 2 > floor((0 + 2) x 20 / 100) = 0 -> Faulted.
    assert (run.code, run.end) == ("Faulted", 700)
    assert run.error is not None
    assert run.error["code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert run.progress == progress(0, 2, 0, 8)
    assert run.rollback == {
        "successfullyRolledbackInstanceCount": 2,
        "failedRolledbackInstanceCount": 0,
    }
    # I4, I5: the previous disk (name, version) is back; both data disks untouched.
    views = {v.id: v for v in rep.result.instances}
    for i in range(10):
        assert (views[i].image_version, views[i].provisioning_state, views[i].os_disk) == (
            OLD,
            "Succeeded",
            f"os-{i}-0",
        )
        assert views[i].data_disks == [f"data-{i}-0", f"data-{i}-1"]
    # The application restarts on the restored disk at 700 and is up at 700 + 30 = 730,
    # the last thing that happens.
    assert rep.result.time == 730
    assert all(v.healthy for v in views.values())
    assert history(rep) == [
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:11:40+00:00",  # 700 s = 11 min 40 s
            "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
        )
    ]
    entry = json.loads(result_to_json(rep.result))["history"]["value"][0]["properties"]
    assert entry["rollbackInfo"] == run.rollback


def test_section4_rollback_in_flight_is_updating_on_the_new_disk() -> None:
    """Section 2: provisioning state Updating during a rollback; the disk is only
    restored when the rollback ends (580 + 120 = 700)."""
    rep = play_prefix("broken-image-rollback.json", 600)
    states = instances(rep)
    for i in (0, 1):
        assert states[i] == (NEW, "running", "Updating", False, f"os-{i}-1")
    (run,) = rep.result.runs
    assert run.code == "RollingForward"
    assert batches(run) == [([0, 1], 100, None)]
    assert run.progress == progress(0, 0, 2, 8)
    assert history(rep)[0][4] is None  # endTime null while RollingForward


# --------------------------------------------------------------------------- 7
def test_r8_outage_during_a_batch_stops_the_run_only_at_the_next_check() -> None:
    """R8: the section 7 example's outage (instances 7, 8, 9 at 400) hits during batch
    2 (310-520). The batch finishes at 520; the pre-batch check then finds 3 > 2
    unhealthy and the run stops there, never mid-batch (D5 InRollingUpgrade)."""
    rep = play("maintenance-during-batch.json")
    (run,) = rep.result.runs
    assert batches(run) == [([0, 1], 100, 310), ([2, 3], 310, 520)]  # 210 s each
    assert checks(rep) == [(100, 10, 0, 2), (310, 10, 0, 2), (520, 10, 3, 2)]
    assert (run.code, run.end) == ("Faulted", 520)
    assert run.error is not None
    assert run.error["code"] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert run.progress == progress(4, 0, 0, 6)
    states = instances(rep)
    assert {i: s[0] for i, s in states.items()} == {
        **{i: NEW for i in range(4)},
        **{i: OLD for i in range(4, 10)},
    }
    # D4: the outage ends at 600; a Faulted run is not retried.
    assert len(rep.result.runs) == 1
    assert all(s[1] == "running" and s[3] for s in states.values())
    assert rep.result.time == 600
    assert history(rep) == [
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:08:40+00:00",  # 520 s = 8 min 40 s
            "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
        )
    ]


def test_r8_d10_mid_batch_the_run_keeps_rolling_forward() -> None:
    """R8, D10: at 450, 3 instances are down, yet batch 2 is still in flight."""
    rep = play_prefix("maintenance-during-batch.json", 450)
    (run,) = rep.result.runs
    assert run.code == "RollingForward"
    assert batches(run) == [([0, 1], 100, 310), ([2, 3], 310, None)]
    assert run.progress == progress(2, 0, 2, 6)
    assert [i for i, s in instances(rep).items() if s[1] == "stopped"] == [7, 8, 9]
    assert history(rep) == [
        ("RollingForward", "Platform", NEW, "2018-10-01T00:01:40+00:00", None, None)
    ]


# --------------------------------------------------------------------------- 8
def test_r14_d6_expired_credential_fails_the_first_batch() -> None:
    """R14, D6: the credential expired at 50; batch 1's extensions fail at 280
    (100 + 120 + 60): the run ends Faulted VMExtensionProvisioningError at the end of
    that batch, its instances on the new OS disk with provisioning state Failed."""
    rep = play_prefix("expired-credential-and-recovery.json", 399)
    (run,) = rep.result.runs
    assert batches(run) == [([0, 1], 100, 280)]
    assert (run.code, run.end) == ("Faulted", 280)
    assert run.error is not None
    assert run.error["code"] == "VMExtensionProvisioningError"
    assert run.progress == progress(0, 2, 0, 8)
    states = instances(rep)
    for i in (0, 1):
        assert states[i] == (NEW, "running", "Failed", False, f"os-{i}-1")
    for i in range(2, 10):
        assert states[i] == (OLD, "running", "Succeeded", True, f"os-{i}-0")


def test_r15_i12_d4_regenerate_and_deploy_recover_and_resume() -> None:
    """R15, D8, I12: regenerate at 400 and deploy at 500: extensions re-run on every
    instance (500 + 60 = 560) and all are Succeeded; D4: the deploy's successful end
    starts a Platform run that upgrades the 8 instances still on the old version."""
    rep = play("expired-credential-and-recovery.json")
    first, second = rep.result.runs
    assert (first.code, first.error["code"] if first.error else None) == (
        "Faulted",
        "VMExtensionProvisioningError",
    )
    assert (second.started_by, second.target_version, second.start) == ("Platform", NEW, 560)
    # D3: instances 0, 1 are already on the target: scope 2-9. At 560 the application of
    # 0 and 1 only starts (their extensions first succeeded then), up at 590: 2 unhealthy
    # <= limit 2, so the first batch starts.
    assert checks(rep, 1)[0] == (560, 10, 2, 2)
    assert batches(second) == [
        ([2, 3], 560, 770),  # 560 + 210
        ([4, 5], 770, 980),
        ([6, 7], 980, 1190),
        ([8, 9], 1190, 1400),  # 560 + 4 x 210 = 1400
    ]
    assert (second.code, second.error, second.end) == ("Completed", None, 1400)
    assert second.progress == progress(8, 0, 0, 0)
    # I12: no instance stays Failed; a deploy replaces no OS disk (os-<id>-1 for all).
    assert instances(rep) == {
        i: (NEW, "running", "Succeeded", True, f"os-{i}-1") for i in range(10)
    }
    assert rep.result.time == 1400
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:09:20+00:00",  # 560 s = 9 min 20 s
            "2018-10-01T00:23:20+00:00",  # 1400 s = 23 min 20 s
            None,
        ),
        (
            "Faulted",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:04:40+00:00",  # 280 s
            "VMExtensionProvisioningError",
        ),
    ]


def test_d8_deploy_in_flight_marks_every_instance_updating() -> None:
    """D8: the deploy re-runs extensions on every instance at once, failed ones too."""
    rep = play_prefix("expired-credential-and-recovery.json", 530)
    assert {i: s[2] for i, s in instances(rep).items()} == {i: "Updating" for i in range(10)}
    assert len(rep.result.runs) == 1  # D4: no run while the deploy is in flight


# --------------------------------------------------------------------------- section 4 pause
def test_section4_v10_a_pause_of_weeks_days_hours_minutes_seconds_is_waited_in_seconds() -> None:
    """Section 4, V10: ``P1W1DT1H1M1S`` is one week, one day, one hour, one
    minute and one second; each pre-batch check after the first comes that
    long after the batch before it ended."""
    pause = (((1 * 7 + 1) * 24 + 1) * 60 + 1) * 60 + 1
    assert pause == 694_861
    rep = play("pause-of-a-week-and-a-day.json")
    (run,) = rep.result.runs
    # each batch of one takes 210 s (120 s disk, 60 s extensions, 30 s application)
    first = 100 + 210
    second = first + pause + 210
    assert batches(run) == [
        ([0], 100, first),
        ([1], first + pause, second),
        ([2], second + pause, second + pause + 210),
    ]
    assert [t for t, *_ in checks(rep)] == [100, first + pause, second + pause]
    assert (run.code, run.end) == ("Completed", second + pause + 210)
    assert rep.result.violations == []


def test_section7_without_until_a_trace_ends_30_days_after_its_last_event() -> None:
    """Section 7 ``until``: a pause of two weeks, a day and 3,661 s puts the
    third batch past 30 days after the publication, so the trace ends there,
    the run still going (RollingForward, one instance pending)."""
    pause = (((2 * 7 + 1) * 24 + 1) * 60 + 1) * 60 + 1
    rep = play("pause-past-thirty-days.json")
    (run,) = rep.result.runs
    assert batches(run) == [([0], 100, 310), ([1], 310 + pause, 310 + pause + 210)]
    assert 310 + pause + 210 + pause > 100 + 30 * 86400  # the third batch would start later
    assert rep.result.time == 100 + 30 * 86400
    assert (run.code, run.progress) == ("RollingForward", progress(2, 0, 0, 1))
    assert rep.result.violations == []
