"""Causes in the timeline: each line that ends, refuses or fails something says
why, with the numbers and the rule (R4, R6, R7, R8, R13, R14, D1, D2, D4,
D7); every refusal is listed, time-0 ones too (D16); violations appear at
their time; names are printed with control characters escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model import (
    AppHealth,
    CancelUpgrade,
    CredentialConfig,
    ExpireCredential,
    Extension,
    OutageStart,
    PublishImage,
    ScaleOut,
    ScaleSet,
    ScaleSetConfig,
    SetAutomaticUpgrade,
    StartUpgrade,
    UpdateModel,
)
from model.actors import orchestrator
from model.config import Policy, ServiceFabric, Timings
from model.events import Event
from model.timeline import Timeline
from model.trace import load_trace
from tests.support import PROBE, SAS, UBUNTU
from vmss_spec.replay import replay

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def lines(events: list[Event], until: int = 5000, n: int = 10, **config: Any) -> list[str]:
    """The timeline's lines (``<t>s <message>``) of a scale set after ``events``."""
    ss = ScaleSet(ScaleSetConfig(instances=n, image=UBUNTU, **config))
    timeline = Timeline(ss)
    ss.subscribe(timeline)
    for event in events:
        ss.apply(event)
    ss.advance(until)
    return [f"{at}s {message}" for at, message, _run, _progress in timeline.entries]


# ------------------------------------------------------------------ R4, R8, D1
def test_r4_r8_d1_pre_batch_check_names_counts_limit_formula_and_down_instances() -> None:
    found = lines([PublishImage(100, "1.0.1"), OutageStart(400, (7, 8, 9))], health_probe=PROBE)
    assert (
        "520s run 1 pre-batch check failed: 3 of 10 unhealthy > limit 2 = floor(10 x 20%) "
        "(R4, R8, D1); unhealthy: 7, 8, 9 down since 400s (unplanned outage)"
    ) in found
    assert (
        "520s run 1 Faulted: MaxUnhealthyInstancePercentExceededInRollingUpgrade: "
        "pre-batch check 3 of 10 unhealthy > limit 2 = floor(10 x 20%) (R4, R8, D1)"
    ) in found
    assert (
        "100s run 1 pre-batch check passed: 0 of 10 unhealthy <= limit 2 = floor(10 x 20%) "
        "(R4, R8, D1)"
    ) in found


def test_r4_d1_one_unhealthy_of_two_blocks_before_the_first_batch() -> None:
    """The two-VM scale set: 1 of 2 unhealthy is more than floor(2 x 20%) = 0."""
    found = lines([AppHealth(50, (1,), False), PublishImage(100, "1.0.1")], n=2, health_probe=PROBE)
    assert (
        "100s run 1 pre-batch check failed: 1 of 2 unhealthy > limit 0 = floor(2 x 20%) "
        "(R4, R8, D1); unhealthy: 1 probe unhealthy (reported at 50s)"
    ) in found
    assert (
        "100s run 1 Faulted: MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade: "
        "pre-batch check 1 of 2 unhealthy > limit 0 = floor(2 x 20%) (R4, R8, D1)"
    ) in found


def test_r7_d11_pre_batch_check_names_instances_still_being_created() -> None:
    found = lines([ScaleOut(50, 2), PublishImage(60, "1.0.1")], health_probe=PROBE)
    assert (
        "60s run 1 pre-batch check passed: 2 of 12 unhealthy <= limit 2 = floor(12 x 20%) "
        "(R4, R8, D1); unhealthy: 10, 11 still being created"
    ) in found


def test_r7_d14_pre_batch_check_names_instances_on_a_broken_image() -> None:
    found = lines([PublishImage(100, "1.0.1", app_healthy=False)], health_probe=PROBE)
    assert (
        "580s run 1 pre-batch check passed: 2 of 10 unhealthy <= limit 2 = floor(10 x 20%) "
        "(R4, R8, D1); unhealthy: 0, 1 on a broken image 1.0.1"
    ) in found


def test_r7_r14_pre_batch_check_names_provisioning_failures() -> None:
    """The credential's token expires at 250, during batch 1 (D6 stops the run);
    a manual start at 400 meets the two Failed instances (R12)."""
    creds = {
        "extensions": (Extension("CustomScript", ("sas",)),),
        "credentials": {"sas": CredentialConfig(expires_at=250)},
    }
    found = lines([PublishImage(100, "1.0.1"), StartUpgrade(400)], **creds)
    assert (
        "280s instance 0: failed in batch 1: extensions failed: credential sas expired at "
        "250s (R14)"
    ) in found
    assert (
        "400s run 2 pre-batch check passed: 2 of 10 unhealthy <= limit 2 = floor(10 x 20%) "
        "(R4, R8, D1); unhealthy: 0, 1 provisioning failed: credential sas expired at 250s"
    ) in found


# ------------------------------------------------------------------ R5, D1, D2, R13
def test_r5_d1_d2_batch_says_its_cap_and_why_these_ids() -> None:
    found = lines([PublishImage(100, "1.0.1")])
    assert (
        "100s run 1 batch 1 started: instances 0, 1 (cap 2 = max(1, floor(10 x 20%)) of 10 "
        "instances (R5, D1); the lowest ids of 10 pending (D2))"
    ) in found


def test_d2_prioritize_unhealthy_batch_says_which_went_first() -> None:
    found = lines(
        [AppHealth(50, (5,), False), PublishImage(100, "1.0.1")],
        health_probe=PROBE,
        policy=Policy(prioritize_unhealthy_instances=True),
    )
    assert (
        "100s run 1 batch 1 started: instances 5, 0 (cap 2 = max(1, floor(10 x 20%)) of 10 "
        "instances (R5, D1); of 10 pending, unhealthy first (5), then the lowest ids "
        "(D2, prioritize_unhealthy_instances))"
    ) in found


def test_r13_d2_service_fabric_batch_is_an_update_domain() -> None:
    found = lines([PublishImage(100, "1.0.1")], n=7, service_fabric=ServiceFabric("Silver", 3))
    assert (
        "100s run 1 batch 1 started: instances 0, 3, 6 (update domain 0: all its 3 pending "
        "instances, the lowest domain with any (R13, D2))"
    ) in found


# ------------------------------------------------------------------ R6, R7: members
def test_r6_member_failed_health_wait_ran_out_probe_unhealthy() -> None:
    found = lines([PublishImage(100, "1.0.1"), AppHealth(250, (0,), False)], health_probe=PROBE)
    assert (
        "580s instance 0: failed in batch 1: health wait ran out at 580s: probe unhealthy "
        "(reported at 250s) (R6)"
    ) in found


def test_r6_r8_member_failed_health_wait_ran_out_down() -> None:
    found = lines([PublishImage(100, "1.0.1"), OutageStart(250, (1,))], health_probe=PROBE)
    assert (
        "580s instance 1: failed in batch 1: health wait ran out at 580s: down since 250s "
        "(unplanned outage) (R6)"
    ) in found


def test_r6_member_failed_application_not_up_yet() -> None:
    slow = Timings(app_start_seconds=400)
    found = lines([PublishImage(100, "1.0.1")], health_probe=PROBE, timings=slow)
    assert (
        "580s instance 0: failed in batch 1: health wait ran out at 580s: application not "
        "up yet (up at 680s) (R6)"
    ) in found


def test_r6_rollback_says_why_and_the_member_after_it() -> None:
    found = lines(
        [PublishImage(100, "1.0.1", app_healthy=False)],
        health_probe=PROBE,
        policy=Policy(automatic_rollback=True),
    )
    assert (
        "580s instance 0: not healthy in time, rolling back (health wait ran out at 580s: "
        "on a broken image 1.0.1 (R6); section 4 automatic_rollback)"
    ) in found
    assert (
        "700s instance 0: failed in batch 1: rolled back after its health wait ran out at "
        "580s: on a broken image 1.0.1 (R6)"
    ) in found


def test_r7_application_up_while_powered_off_is_not_healthy() -> None:
    found = lines([PublishImage(100, "1.0.1"), OutageStart(250, (0,))], health_probe=PROBE)
    assert (
        "310s instance 0: application up (not healthy: down since 250s (unplanned outage))"
    ) in found
    assert "310s instance 1: application up (healthy)" in found


def test_r7_without_probe_member_failed_when_down_at_its_extensions_end() -> None:
    found = lines([PublishImage(100, "1.0.1"), OutageStart(250, (0,))])
    assert (
        "280s instance 0: failed in batch 1: not healthy when its extensions finished: "
        "down since 250s (unplanned outage) (R7)"
    ) in found


# ------------------------------------------------------------------ R14, D6
def test_r14_d6_extension_failure_names_the_expired_credential() -> None:
    creds = {
        "extensions": (Extension("CustomScript", ("sas",)),),
        "credentials": {"sas": CredentialConfig(expires_at=10**8)},
    }
    found = lines([ExpireCredential(50, "sas"), PublishImage(100, "1.0.1")], **creds)
    assert "280s instance 0: extensions failed: credential sas expired at 50s (R14)" in found
    assert (
        "280s instance 1: failed in batch 1: extensions failed: credential sas expired at 50s (R14)"
    ) in found
    assert (
        "280s run 1 Faulted: VMExtensionProvisioningError: extension provisioning failed on "
        "instances 0, 1 in batch 1: credential sas expired at 50s (R14), so no further "
        "batch (D6)"
    ) in found


def test_d7a_upgraded_unhealthy_limit_with_its_formula() -> None:
    found = lines(
        [PublishImage(100, "1.0.1", app_healthy=False)],
        health_probe=PROBE,
        policy=Policy(max_unhealthy_upgraded_instance_percent=20),
    )
    assert (
        "580s run 1 Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: "
        "2 of 2 upgraded instances failed > limit 0 = floor(2 x 20%) (section 4 "
        "max_unhealthy_upgraded_instance_percent, D7a)"
    ) in found


# ------------------------------------------------------------------ D7: cancelled runs
def test_d7_cancel_and_opt_out_say_when_and_where() -> None:
    found = lines([PublishImage(100, "1.0.1"), CancelUpgrade(200)])
    assert (
        "280s run 1 Cancelled: cancel asked at 200s, ended at the end of its batch (D7)"
    ) in found
    found = lines([PublishImage(100, "1.0.1"), SetAutomaticUpgrade(200, False)])
    assert (
        "280s run 1 Cancelled: automatic upgrades turned off at 200s, ended at the end of "
        "its batch (D7)"
    ) in found


# ------------------------------------------------------------------ D4: no run
def test_d4_r1_publication_while_off_starts_no_run() -> None:
    found = lines([PublishImage(100, "1.0.1")], automatic_os_upgrade=False)
    assert "100s no Platform run started (publication): automatic upgrades are off (R1, D4)" in (
        found
    )


def test_d4_publication_during_a_run_or_a_deploy_starts_no_run() -> None:
    found = lines([PublishImage(100, "1.0.1"), PublishImage(150, "1.0.2")])
    assert "150s no Platform run started (publication): run 1 is active (D4, D3)" in found
    found = lines([UpdateModel(50), PublishImage(60, "1.0.1")], **SAS)
    assert (
        "60s no Platform run started (publication): a model deploy is in flight (D4, D8)"
    ) in found


def test_d4_opt_in_with_nothing_below_latest_starts_no_run() -> None:
    found = lines([SetAutomaticUpgrade(10, False), SetAutomaticUpgrade(20, True)])
    assert (
        "20s no Platform run started (opt-in): no instance is below the latest version 1.0.0 (D4)"
    ) in found


def test_d16_time_0_refusal_is_in_the_text_timeline() -> None:
    rep = replay(load_trace(EXAMPLES / "v1-unsupported-sku.json"))
    assert rep.result.rejected[0].at == 0
    first = rep.text().splitlines()[0]
    assert first == (
        "       0s  set_automatic_upgrade refused: V1: image.sku: "
        "Canonical/UbuntuServer/14.04.5-LTS is not a supported sku"
    )


# ------------------------------------------------------------------ names, violations
def test_names_with_control_characters_are_escaped() -> None:
    name = "sa\ns\x1b[31m\ud800\u202e"
    creds = {
        "extensions": (Extension("CustomScript", (name,)),),
        "credentials": {name: CredentialConfig(expires_at=10**8)},
    }
    found = lines([ExpireCredential(50, name), ExpireCredential(60, "x\ty")], **creds)
    assert "50s credential sa\\x0as\\x1b[31m\\ud800\\u202e expired" in found
    assert "60s expire_credential refused: no such credential: x\\x09y" in found
    for line in found:
        line.encode("utf-8")
        assert "\n" not in line and "\x1b" not in line


def test_i1_violations_appear_at_their_time_and_in_the_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A broken model: batches of N instead of cap(N) (R5, D1).
    monkeypatch.setattr(orchestrator, "batch_cap", lambda ss, n: n)
    rep = replay(load_trace(EXAMPLES / "rolling-upgrade-10.json"))
    text = rep.text().splitlines()
    assert rep.result.violations
    first = rep.result.violations[0]
    at_time = [k for k, line in enumerate(text) if f"s  VIOLATION {first.invariant}:" in line]
    summary = [k for k, line in enumerate(text) if line.startswith("VIOLATION ")]
    assert at_time and summary and at_time[0] < summary[0]
    k = at_time[0]
    assert text[k].startswith(f"{first.at:>8}s  VIOLATION")
    before = int(text[k - 1].split("s  ", 1)[0])
    assert before <= first.at
