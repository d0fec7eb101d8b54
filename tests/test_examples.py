"""Examples are specs: every trace under examples/ is replayed (model.load_trace +
model.replay) and its outcome is asserted against what SPEC.md implies.

Every expected number is derived by hand from SPEC.md and the trace's timings; the
arithmetic is in the comments. Default timings (section 2, "Health, precisely"):
os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s. So a batch with a
probe takes 120 + 60 + 30 = 210 s (the run waits for the application, R6) and a batch
without one 120 + 60 = 180 s (no wait, R7). The first pre-batch check happens at the
run's start; with pause 0 the next check and batch follow at the batch's end (D7a).
History timestamps are the epoch 2018-10-01T00:00:00+00:00 plus the offset (section 1).

The traces under examples/malformed/ break V9 or V10 in the initial scale set, which
makes the trace malformed (D16): load_trace refuses it and replay exits 2.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

import model
from model.replay import Replay
from model.trace import TraceError, result_to_json
from vmss_spec.cli import main as cli_main
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MALFORMED = EXAMPLES / "malformed"

OLD = "18.04.201810030"  # the catalog's only version at time 0: instances start on it
NEW = "18.04.201811010"  # the first publication
NEWER = "18.04.201812010"  # a second publication
UBUNTU = {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"}
NO_ROLLBACK = {"successfullyRolledbackInstanceCount": 0, "failedRolledbackInstanceCount": 0}
TRACE_FIELDS = {"format", "scale_set", "events", "until"}  # section 7, top level
EXAMPLE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\.json")  # lowercase-hyphen names


# --------------------------------------------------------------------------- helpers
def play(name: str) -> Replay:
    """Replay examples/<name>; every example replays clean: no violation, exit 0."""
    rep = replay(model.load_trace(EXAMPLES / name))
    assert rep.result.violations == []
    assert rep.exit_status == 0
    return rep


def play_prefix(name: str, until: int) -> Replay:
    """Replay the events of examples/<name> at or before ``until`` and stop at ``until``
    (to look at the scale set in the middle of the example)."""
    trace = model.load_trace(EXAMPLES / name)
    events = tuple(ev for ev in trace.events if ev.at <= until)
    rep = replay(attrs.evolve(trace, events=events, until=until))
    assert rep.result.violations == []
    assert rep.exit_status == 0
    assert rep.result.time == until
    return rep


def batches(run: Any) -> list[tuple[list[int], int, int | None]]:
    return [(b.instances, b.start, b.end) for b in run.batches]


def progress(ok: int, failed: int, in_progress: int, pending: int) -> dict[str, int]:
    return {
        "successfulInstanceCount": ok,
        "failedInstanceCount": failed,
        "inProgressInstanceCount": in_progress,
        "pendingInstanceCount": pending,
    }


def instances(rep: Replay) -> dict[int, tuple[str, str, str, bool, str]]:
    """id -> (version, power state, provisioning state, healthy, OS disk)."""
    return {
        i.id: (i.image_version, i.power_state, i.provisioning_state, i.healthy, i.os_disk)
        for i in rep.result.instances
    }


def history(rep: Replay) -> list[tuple[str, str, str, str, str | None, str | None]]:
    """The osUpgradeHistory view: (code, startedBy, target version, startTime,
    endTime, error code) per entry, in the view's order."""
    rows = []
    for entry in rep.result.history.value:
        p = entry.properties
        rows.append(
            (
                p.runningStatus.code,
                p.startedBy,
                p.targetImageReference.version,
                p.runningStatus.startTime,
                p.runningStatus.endTime,
                None if p.error is None else p.error.code,
            )
        )
    return rows


def checks(rep: Replay, run: int = 0) -> list[tuple[int, int, int, int]]:
    """The pre-batch checks (R4, R8) of a run: (at, N, unhealthy, limit)."""
    return [(c.at, c.instance_count, c.unhealthy, c.limit) for c in rep.scale_set.runs[run].checks]


def rejected(rep: Replay) -> list[tuple[int, str, str]]:
    return [(r.at, r.event, r.reason) for r in rep.result.rejected]


def warnings(rep: Replay) -> list[str]:
    return [w.rule for w in rep.result.warnings]


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


# --------------------------------------------------------------------------- 9
def test_d7_opt_out_lets_the_batch_finish_then_cancels_r12_user_run() -> None:
    """D7: opting out at 200 during batch 1 (100-310) lets it finish, then the Platform
    run ends Cancelled with error null. R12: a manual start at 400, while opted out,
    runs (startedBy User); a second opt-out at 500 does not affect it (D7)."""
    rep = play("opt-out-during-run.json")
    first, second = rep.result.runs
    assert (first.started_by, first.code, first.error) == ("Platform", "Cancelled", None)
    assert batches(first) == [([0, 1], 100, 310)]
    assert (first.start, first.end) == (100, 310)
    assert first.progress == progress(2, 0, 0, 8)
    # R12: instances already on the latest (0, 1) are not touched: scope 2-9.
    assert (second.started_by, second.target_version) == ("User", NEW)
    assert batches(second) == [
        ([2, 3], 400, 610),  # 400 + 210
        ([4, 5], 610, 820),
        ([6, 7], 820, 1030),
        ([8, 9], 1030, 1240),  # 400 + 4 x 210
    ]
    assert (second.code, second.error, second.end) == ("Completed", None, 1240)
    assert second.progress == progress(8, 0, 0, 0)
    assert rep.result.rejected == []
    assert instances(rep) == {
        i: (NEW, "running", "Succeeded", True, f"os-{i}-1") for i in range(10)
    }
    assert rep.result.time == 1240
    assert history(rep) == [
        (
            "Completed",
            "User",
            NEW,
            "2018-10-01T00:06:40+00:00",  # 400 s
            "2018-10-01T00:20:40+00:00",  # 1240 s = 20 min 40 s
            None,
        ),
        (
            "Cancelled",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:05:10+00:00",  # 310 s
            None,
        ),
    ]


def test_d7_opting_in_again_before_the_decision_withdraws_the_opt_out() -> None:
    """D7: opt-out is judged by the setting when the run decides (310): opting in
    again at 200 withdraws the opt-out at 150, and the run completes as in example 1."""
    rep = play("opt-out-withdrawn.json")
    (run,) = rep.result.runs
    assert (run.code, run.error, run.end) == ("Completed", None, 1150)  # 100 + 5 x 210
    assert [b[0] for b in batches(run)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert run.progress == progress(10, 0, 0, 0)
    assert rep.result.rejected == []


# --------------------------------------------------------------------------- 10
def test_d7_r12_cancel_finishes_the_batch_and_409s() -> None:
    """D7: a cancel at 200 lets batch 1 (100-310) finish, then the run is Cancelled with
    error null. A cancel with no run and a manual start during a run are refused with
    409 (R12) and change nothing."""
    rep = play("cancel-upgrade.json")
    assert rejected(rep) == [
        (50, "cancel_upgrade", "409: no run is active"),
        (150, "start_upgrade", "409: a run is active"),
    ]
    (run,) = rep.result.runs
    assert (run.started_by, run.code, run.error) == ("Platform", "Cancelled", None)
    assert batches(run) == [([0, 1], 100, 310)]  # 100 + 210
    assert (run.start, run.end) == (100, 310)
    assert run.progress == progress(2, 0, 0, 8)
    states = instances(rep)
    assert {i: s[0] for i, s in states.items()} == {
        **{i: NEW for i in (0, 1)},
        **{i: OLD for i in range(2, 10)},
    }
    assert rep.result.time == 310
    assert history(rep) == [
        (
            "Cancelled",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:05:10+00:00",  # 310 s = 5 min 10 s
            None,
        )
    ]


# --------------------------------------------------------------------------- 11
def test_d3_d4_publication_during_a_run_keeps_the_target_then_reruns() -> None:
    """D3: a publication at 500 does not change the running target; D4: when the run
    Completes (1150) a newer version exists, so a Platform run towards it starts at
    once. D14: a publication that is not newer is refused."""
    rep = play("publication-during-run.json")
    first, second = rep.result.runs
    assert (first.target_version, first.code, first.end) == (NEW, "Completed", 1150)
    assert batches(first) == [
        ([0, 1], 100, 310),
        ([2, 3], 310, 520),
        ([4, 5], 520, 730),
        ([6, 7], 730, 940),
        ([8, 9], 940, 1150),  # 100 + 5 x 210
    ]
    assert first.progress == progress(10, 0, 0, 0)
    assert (second.started_by, second.target_version, second.start) == ("Platform", NEWER, 1150)
    assert batches(second) == [
        ([0, 1], 1150, 1360),  # 1150 + 210
        ([2, 3], 1360, 1570),
        ([4, 5], 1570, 1780),
        ([6, 7], 1780, 1990),
        ([8, 9], 1990, 2200),  # 1150 + 5 x 210
    ]
    assert (second.code, second.end) == ("Completed", 2200)
    assert second.progress == progress(10, 0, 0, 0)
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (600, "publish_image")
    assert reason.startswith("D14") and NEW in reason and NEWER in reason
    # Two OS disk replacements each.
    assert instances(rep) == {
        i: (NEWER, "running", "Succeeded", True, f"os-{i}-2") for i in range(10)
    }
    assert rep.result.time == 2200
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEWER,
            "2018-10-01T00:19:10+00:00",  # 1150 s
            "2018-10-01T00:36:40+00:00",  # 2200 s = 36 min 40 s
            None,
        ),
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:19:10+00:00",
            None,
        ),
    ]


# --------------------------------------------------------------------------- 12
def test_r18_d9_d1_scale_out_during_a_run() -> None:
    """R18: 5 instances created at 200 are built on the latest version; D9: they are not
    in the run's scope; D1: the cap uses N at each check (10, then 15). With
    pause PT5M each check comes 300 s after a batch, when the new instances are up.
    D9: a scale-in at 1700 removes the highest ids outside the batch in flight; a
    scale-out beyond V9 is refused."""
    rep = play("scale-out-during-run.json")
    (run,) = rep.result.runs
    assert batches(run) == [
        ([0, 1], 100, 310),  # N 10: cap 2; 100 + 210
        ([2, 3, 4], 610, 820),  # 310 + 300 pause = 610; N 15: cap floor(15 x 20/100) = 3
        ([5, 6, 7], 1120, 1330),  # 820 + 300 = 1120
        ([8, 9], 1630, 1840),  # 1330 + 300 = 1630; only 2 pending
    ]
    # New instances: created 200 + 120 + 60 + 30 = 410, healthy by the check at 610.
    assert checks(rep) == [
        (100, 10, 0, 2),
        (610, 15, 0, 3),
        (1120, 15, 0, 3),
        (1630, 15, 0, 3),
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 1840)  # no pause after
    assert run.progress == progress(10, 0, 0, 0)  # scope 0-9 only
    # Scale-in at 1700 (batch [8, 9] in flight): removes 14 and 13; ids never reused.
    states = instances(rep)
    assert sorted(states) == list(range(13))
    for i in range(10):
        assert states[i] == (NEW, "running", "Succeeded", True, f"os-{i}-1")
    for i in (10, 11, 12):  # R18: built on NEW, their first disk
        assert states[i] == (NEW, "running", "Succeeded", True, f"os-{i}-0")
    # V9: 13 + 90 = 103 > 100 instances in a single placement group.
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (1750, "scale_out")
    assert reason.startswith("V9") and "103" in reason
    # D4: the new instances are on the latest version: no further run.
    assert rep.result.time == 1840
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:30:40+00:00",  # 1840 s = 30 min 40 s
            None,
        )
    ]


def test_r18_d9_new_instances_are_creating_and_out_of_scope() -> None:
    """At 250 the 5 new instances are still Creating (200 + 120 + 60 = 380) on NEW."""
    rep = play_prefix("scale-out-during-run.json", 250)
    states = instances(rep)
    assert {i: (states[i][0], states[i][2]) for i in range(10, 15)} == {
        i: (NEW, "Creating") for i in range(10, 15)
    }
    (run,) = rep.result.runs
    assert sum(run.progress.values()) == 10  # D11: scope stays 0-9


# --------------------------------------------------------------------------- 13
DAY = 86400
SIXTY_DAYS = 60 * DAY  # 5,184,000 s


def test_r16_history_shows_last_five_within_60_days_newest_first() -> None:
    """R16: 9 runs; until 75 days = 6,480,000 s. Window: start >= 6,480,000 - 5,184,000
    = 1,296,000 (day 15): runs 4-9 qualify, the view shows the newest five; runs 8 (User)
    and 9 (Platform) start together at 74 d + 100 s: the later-created one first."""
    rep = play("history-five-in-60-days.json")
    r = rep.result
    assert r.time == 75 * DAY == 6480000
    # Every run lists (section 7), oldest first. One instance, no probe: 180 s a run.
    assert [(run.started_by, run.target_version, run.start, run.end) for run in r.runs] == [
        ("Platform", "1.0.1", 100, 280),
        ("Platform", "1.0.2", DAY + 100, DAY + 280),
        ("Platform", "1.0.3", 2 * DAY + 100, 2 * DAY + 280),
        ("Platform", "1.0.4", 70 * DAY + 100, 70 * DAY + 280),
        ("Platform", "1.0.5", 71 * DAY + 100, 71 * DAY + 280),
        ("Platform", "1.0.6", 72 * DAY + 100, 72 * DAY + 280),
        # D4: a User run with an empty scope ends Completed at once.
        ("User", "1.0.6", 73 * DAY + 100, 73 * DAY + 100),
        ("User", "1.0.6", 74 * DAY + 100, 74 * DAY + 100),
        ("Platform", "1.0.7", 74 * DAY + 100, 74 * DAY + 280),
    ]
    assert all(run.code == "Completed" for run in r.runs)
    assert r.runs[6].progress == progress(0, 0, 0, 0) and r.runs[6].batches == []
    # Oct 1 + 71 days = Dec 11 (Oct has 31 days, Nov 30).
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "1.0.7",
            "2018-12-14T00:01:40+00:00",
            "2018-12-14T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "User",
            "1.0.6",
            "2018-12-14T00:01:40+00:00",
            "2018-12-14T00:01:40+00:00",
            None,
        ),
        (
            "Completed",
            "User",
            "1.0.6",
            "2018-12-13T00:01:40+00:00",
            "2018-12-13T00:01:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.6",
            "2018-12-12T00:01:40+00:00",
            "2018-12-12T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.5",
            "2018-12-11T00:01:40+00:00",
            "2018-12-11T00:04:40+00:00",
            None,
        ),
    ]
    assert instances(rep) == {0: ("1.0.7", "running", "Succeeded", True, "os-0-7")}
    assert warnings(rep) == ["V8"]


def test_r16_history_window_is_start_at_or_after_now_minus_60_days() -> None:
    """R16, section 7: at 61 d + 100 s the window starts at 86,500 = run 2's start
    (included, >=); run 1 (start 100) is older than 60 days."""
    until = 61 * DAY + 100
    assert until - SIXTY_DAYS == 86500
    rep = play_prefix("history-five-in-60-days.json", until)
    assert len(rep.result.runs) == 3
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "1.0.3",
            "2018-10-03T00:01:40+00:00",
            "2018-10-03T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.2",
            "2018-10-02T00:01:40+00:00",
            "2018-10-02T00:04:40+00:00",
            None,
        ),
    ]


# --------------------------------------------------------------------------- 14
def test_r13_service_fabric_batches_are_whole_update_domains() -> None:
    """R13: Silver, 3 UDs, 7 instances: UD = id mod 3, a batch is a whole UD whatever
    its size (cap(7) would be 1). No probe: 180 s a batch. R17: 2016.1000.20180101 is
    newer than 2016.127.20180613 (part by part, 1000 > 127)."""
    rep = play("service-fabric-update-domains.json")
    (run,) = rep.result.runs
    assert run.target_version == "2016.1000.20180101"
    assert batches(run) == [
        ([0, 3, 6], 100, 280),  # UD 0; 100 + 180
        ([1, 4], 280, 460),  # UD 1
        ([2, 5], 460, 640),  # UD 2; 100 + 3 x 180
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 640)
    assert run.progress == progress(7, 0, 0, 0)
    assert [(v.id, v.update_domain) for v in rep.result.instances] == [(i, i % 3) for i in range(7)]
    assert all(v.image_version == "2016.1000.20180101" for v in rep.result.instances)
    assert rep.result.warnings == []  # V8 applies to non-Service-Fabric scale sets only
    assert rep.result.rejected == []
    entry = rep.result.history.value[0].properties
    assert attrs.asdict(entry.targetImageReference) == {
        "publisher": "MicrosoftWindowsServer",
        "offer": "WindowsServer",
        "sku": "2016-Datacenter",
        "version": "2016.1000.20180101",
    }
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "2016.1000.20180101",
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:10:40+00:00",  # 640 s = 10 min 40 s
            None,
        )
    ]


# --------------------------------------------------------------------------- 15
def _v_refuses_automatic_and_manual(name: str, rule: str, field: str, end: int) -> Replay:
    """D16: a V1-V3 error in the initial scale set is rejected at time 0 under
    set_automatic_upgrade, naming the rule and the field; no Platform run follows the
    publication at 100 (I7); D4: the manual start at 200 is refused with that reason."""
    rep = play(name)
    rows = rejected(rep)
    at, event, reason = rows[0]
    assert (at, event) == (0, "set_automatic_upgrade")
    assert reason.startswith(f"{rule}: {field}: ")
    assert rows[1] == (200, "start_upgrade", reason)
    assert rep.result.runs == [] and rep.result.history.value == []
    assert all(v.os_disk == f"os-{v.id}-0" for v in rep.result.instances)
    assert rep.result.warnings == []
    assert rep.result.time == end  # the last event
    return rep


def test_v1_unsupported_sku_refuses_automatic_and_manual_upgrades() -> None:
    """V1 (R9): Canonical/UbuntuServer/14.04.5-LTS is not in the supported list; opting
    in again at 300 is refused with the same reason."""
    rep = _v_refuses_automatic_and_manual("v1-unsupported-sku.json", "V1", "image.sku", 300)
    reason = rejected(rep)[0][2]
    assert rejected(rep)[2:] == [(300, "set_automatic_upgrade", reason)]
    assert {v.image_version for v in rep.result.instances} == {"14.04.201810010"}


def test_v2_pinned_version_refuses_automatic_and_manual_upgrades() -> None:
    """V2 (R9): the image version must be `latest`."""
    rep = _v_refuses_automatic_and_manual("v2-version-not-latest.json", "V2", "image.version", 200)
    assert len(rep.result.rejected) == 2
    assert {v.image_version for v in rep.result.instances} == {OLD}


def test_v3_custom_image_refuses_automatic_and_manual_upgrades() -> None:
    """V3 (R9): a custom image ({"id": ...}) cannot be upgraded automatically."""
    rep = _v_refuses_automatic_and_manual("v3-custom-image.json", "V3", "image.id", 200)
    assert len(rep.result.rejected) == 2
    assert {v.image_version for v in rep.result.instances} == {"1.0.0"}  # catalog default


def _v_refuses_automatic_allows_manual(
    name: str, rule: str, field: str, expected: list[tuple[list[int], int, int]]
) -> None:
    """D16: a V4-V6 error is rejected at time 0 under set_automatic_upgrade and no
    Platform run follows the publication at 100; D4: only V1-V3 block a manual start,
    so start_upgrade at 200 runs a User run to completion."""
    rep = play(name)
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (0, "set_automatic_upgrade")
    assert reason.startswith(f"{rule}: {field}: ")
    (run,) = rep.result.runs
    assert (run.started_by, run.start, run.code, run.error) == ("User", 200, "Completed", None)
    assert batches(run) == expected
    end = expected[-1][2]
    assert run.end == end == rep.result.time
    assert run.progress == progress(2, 0, 0, 0)
    assert all(v.image_version == run.target_version for v in rep.result.instances)
    assert rep.result.warnings == []
    assert [row[:2] for row in history(rep)] == [("Completed", "User")]
    assert history(rep)[0][3] == "2018-10-01T00:03:20+00:00"  # 200 s


def test_v4_disk_encryption_refuses_automatic_but_allows_manual() -> None:
    """V4 (R10). 2 instances with a probe: cap(2) = max(1, floor(0.4)) = 1; 210 s a batch."""
    _v_refuses_automatic_allows_manual(
        "v4-disk-encryption.json", "V4", "disk_encryption", [([0], 200, 410), ([1], 410, 620)]
    )


def test_v5_placement_groups_with_basic_lb_refuse_automatic_but_allow_manual() -> None:
    """V5 (R11): multiple placement groups with a Basic load balancer probe. Batches as V4."""
    _v_refuses_automatic_allows_manual(
        "v5-placement-groups-basic-lb.json",
        "V5",
        "health_probe",
        [([0], 200, 410), ([1], 410, 620)],  # 200 + 210, 410 + 210
    )


def test_v6_r13_d16_bronze_refuses_automatic_but_allows_manual() -> None:
    """V6 (R13, D16): Service Fabric Bronze; no Platform run. The manual run goes UD by
    UD (2 instances in UDs 0 and 1), no probe: 180 s a batch."""
    _v_refuses_automatic_allows_manual(
        "service-fabric-bronze-refused.json",
        "V6",
        "service_fabric.durability",
        [([0], 200, 380), ([1], 380, 560)],  # 200 + 180, 380 + 180
    )


def test_v7_probe_interval_is_a_warning_not_an_error() -> None:
    """V7: a probe interval of 120 s is not below 120 s: a warning, the run goes on."""
    rep = play("v7-probe-interval-warning.json")
    assert warnings(rep) == ["V7"]
    assert rep.result.warnings[0].message.startswith("health_probe.interval_seconds")
    assert rep.result.rejected == []
    (run,) = rep.result.runs
    assert batches(run) == [([0], 100, 310), ([1], 310, 520)]  # cap(2) = 1; 210 s each
    assert (run.started_by, run.code, run.end) == ("Platform", "Completed", 520)


MALFORMED_CASES = [
    # (file, JSON pointer, rule)
    ("v9-too-many-instances.json", "/scale_set/instances", "V9"),
    ("v9-over-1000-instances.json", "/scale_set/instances", "V9"),
    ("v10-batch-percent.json", "/scale_set/policy/max_batch_instance_percent", "V10"),
    (
        "v10-upgraded-percent.json",
        "/scale_set/policy/max_unhealthy_upgraded_instance_percent",
        "V10",
    ),
    ("v10-pause-duration.json", "/scale_set/policy/pause_time_between_batches", "V10"),
]


def _refused_by_load_trace(name: str, pointer: str, rule: str) -> None:
    """D16: V9 and V10 in the initial scale set make the trace malformed: load_trace
    raises TraceError, one line naming the file, the JSON pointer and the rule."""
    with pytest.raises(TraceError) as info:
        model.load_trace(MALFORMED / name)
    message = str(info.value)
    assert "\n" not in message
    assert f"{pointer}: " in message
    assert f"({rule})" in message
    assert name in message


@pytest.mark.parametrize(
    ("name", "pointer", "rule"), [c for c in MALFORMED_CASES if c[2] == "V9"], ids=lambda x: x
)
def test_v9_instance_count_makes_the_trace_malformed(name: str, pointer: str, rule: str) -> None:
    """V9: 101 instances in one placement group; 1001 instances."""
    _refused_by_load_trace(name, pointer, rule)


@pytest.mark.parametrize(
    ("name", "pointer", "rule"), [c for c in MALFORMED_CASES if c[2] == "V10"], ids=lambda x: x
)
def test_v10_policy_range_makes_the_trace_malformed(name: str, pointer: str, rule: str) -> None:
    """V10: batch percent 4 < 5; upgraded percent 101 > 100; pause P1M (months have
    no fixed length, not a duration the model accepts)."""
    _refused_by_load_trace(name, pointer, rule)


@pytest.mark.parametrize(("name", "pointer", "rule"), MALFORMED_CASES)
def test_section7_replay_of_a_malformed_trace_exits_2_with_one_line(
    name: str, pointer: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Section 7: a malformed trace is refused with exit status 2 and one line naming
    the place; nothing runs (nothing on stdout)."""
    status = cli_main(["replay", str(MALFORMED / name)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert pointer in err and f"({rule})" in err


# --------------------------------------------------------------------------- meta
def _referenced_examples() -> set[str]:
    """Every "*.json" string literal in this module (play, play_prefix, parametrize)."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and EXAMPLE_NAME.fullmatch(node.value)
    }


def test_every_example_is_covered_by_a_test() -> None:
    """A new example cannot go untested: every examples/*.json and
    examples/malformed/*.json is named by a test here, and every name exists."""
    on_disk = {p.name for p in EXAMPLES.glob("*.json")} | {p.name for p in MALFORMED.glob("*.json")}
    referenced = _referenced_examples()
    assert on_disk - referenced == set(), "examples without a test"
    assert referenced - on_disk == set(), "tests naming a missing example"
    # Both folders hold distinct names, so a name identifies one file.
    assert not {p.name for p in EXAMPLES.glob("*.json")} & {
        p.name for p in MALFORMED.glob("*.json")
    }


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_are_deterministic_and_top_level_compatible(path: Path) -> None:
    """Replaying an example twice gives byte-identical result JSON; its top level
    holds only the section 7 trace fields; it replays clean (exit 0)."""
    assert set(json.loads(path.read_text(encoding="utf-8"))) <= TRACE_FIELDS
    first = replay(model.load_trace(path))
    second = replay(model.load_trace(path))
    assert result_to_json(first.result) == result_to_json(second.result)
    assert first.exit_status == 0 and first.result.violations == []
