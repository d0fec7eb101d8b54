"""Today's Azure behind the switch (SPEC section 9), rule by rule, part 2:
instance protection (9.6), today's configuration checks (9.13) and the REST
output (9.14). Each test is named after the numbers it shows and replays a
small trace through the model and every property (no violation)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.today_support import (
    GALLERY,
    NEW,
    NEWER,
    OLD,
    PROBE,
    UNHEALTHY_FIRST,
    publish,
    refused,
    run,
    runs,
    trace,
)


# ---------------------------------------------------------------- 9.6 protection
def protect(at: int, ids: list[int], scale_in: bool = True, actions: bool = True) -> dict[str, Any]:
    return {
        "at": at,
        "event": "set_protection",
        "instances": ids,
        "protect_from_scale_in": scale_in,
        "protect_from_scale_set_actions": actions,
    }


def test_t27_refusals_and_flags() -> None:
    doc = run(
        trace([protect(10, [0], False, True), protect(20, [7]), protect(30, [1], True, False)])
    )
    assert [r["reason"] for r in doc["rejected"]] == [
        "You can't specify protectFromScaleIn false when setting protectFromScaleSetActions true",
        "no such instance: 7",
    ]
    assert doc["instances"][1]["protection"] == {
        "protectFromScaleIn": True,
        "protectFromScaleSetActions": False,
    }


def test_td34_an_instance_being_created_cannot_be_protected() -> None:
    doc = run(trace([{"at": 10, "event": "scale_out", "count": 1}, protect(20, [3])]))
    assert doc["rejected"][0]["reason"] == "instance 3 is still being created"


def test_t28_ti3_protected_instances_are_not_in_a_runs_scope() -> None:
    doc = run(trace([protect(10, [1]), publish(100)]))
    assert [b["instances"] for b in doc["runs"][0]["batches"]] == [[0], [2]]
    assert doc["instances"][1]["image_version"] == OLD


def test_td12_protection_during_a_run_takes_pending_instances_out() -> None:
    doc = run(trace([publish(100), protect(150, [0, 2])]))
    run0 = doc["runs"][0]
    assert [b["instances"] for b in run0["batches"]] == [[0], [1]]  # 0 was in flight
    assert run0["progress"] == {
        "successfulInstanceCount": 2,
        "failedInstanceCount": 0,
        "inProgressInstanceCount": 0,
        "pendingInstanceCount": 0,
    }


def test_td33_nothing_left_pending_ends_the_run_completed() -> None:
    doc = run(
        trace(
            [publish(100), protect(400, [1, 2])],
            policy={"pause_time_between_batches": "PT10M"},
            automatic_os_upgrade_policy={"use_rolling_upgrade_policy": True},
        )
    )
    assert runs(doc) == [("Platform", NEW, "Completed", 100, 910)]  # the pause's end: 310 + 600


def test_t29_scale_in_skips_protected_instances() -> None:
    doc = run(
        trace(
            [
                protect(10, [2], True, False),
                {"at": 20, "event": "scale_in", "count": 1},
                {"at": 30, "event": "scale_in", "count": 2},
            ]
        )
    )
    assert sorted(i["id"] for i in doc["instances"]) == [0, 2]
    assert doc["rejected"][0]["reason"].startswith("D9, T29: cannot remove 2 instances")


def test_td31_ti12_a_deploy_leaves_protected_instances_alone() -> None:
    doc = run(trace([protect(10, [0]), {"at": 20, "event": "update_model"}]))
    assert doc["time"] == 80  # the deploy's extensions on 1 and 2
    assert doc["instances"][0]["provisioning_state"] == "Succeeded"


def test_td32_a_protected_instance_below_latest_starts_no_run() -> None:
    doc = run(trace([protect(10, [0, 1, 2]), publish(100)]))
    assert doc["runs"] == []


# ---------------------------------------------------------------- 9.13 checks
def fabric(**fields: Any) -> dict[str, Any]:
    return {"durability": "Silver", "update_domains": 2, **fields}


@pytest.mark.parametrize(
    ("number", "service_fabric", "probe", "field"),
    [
        ("TV7", fabric(durability="Bronze"), PROBE, "service_fabric.durability"),
        ("TV8", fabric(durability="Bronze", stateless_only=True), None, "health_probe"),
        ("TV9", fabric(extension_version="1.0"), PROBE, "service_fabric.extension_version"),
        ("TV10", fabric(extension_durability="Gold"), PROBE, "service_fabric.extension_durability"),
    ],
)
def test_tv7_tv8_tv9_tv10_service_fabric_checks(number, service_fabric, probe, field) -> None:
    doc = run(trace(service_fabric=service_fabric, health_probe=probe))
    assert doc["rejected"][0]["reason"].startswith(f"{number}: {field}: ")


def test_tv2_findings_are_v_first_then_tv_in_order() -> None:
    doc = run(trace(health_probe=[{"kind": "load_balancer"}, PROBE], disk_encryption=True))
    reason = doc["rejected"][0]["reason"]
    assert [part.split(":")[0] for part in reason.split("; ")] == ["V4", "TV2"]


def test_tv1_bronze_stateless_with_a_probe_runs() -> None:
    ok = run(trace([publish(100)], service_fabric=fabric(durability="Bronze", stateless_only=True)))
    assert ok["rejected"] == [] and runs(ok)[0][2] == "Completed"


def test_tv14_section_9_bounds_make_a_trace_malformed() -> None:
    long = trace(image={"id": GALLERY + "x" * 1000})
    assert "/scale_set/image" in refused(long)
    assert "/scale_set/first_rollout_delay_seconds" in refused(
        trace(first_rollout_delay_seconds=-1)
    )
    bad = trace(service_fabric=fabric(extension_durability="Platinum"))
    assert "/scale_set/service_fabric/extension_durability" in refused(bad)


# ---------------------------------------------------------------- 9.14 REST output
def test_t60_codes_and_started_by() -> None:
    doc = run(trace([publish(100), {"at": 150, "event": "cancel_upgrade"}]))
    assert {r["code"] for r in doc["runs"]} <= {
        "RollingForward",
        "Completed",
        "Faulted",
        "Cancelled",
    }
    assert doc["history"]["value"][0]["properties"]["startedBy"] in ("Platform", "User")


def test_t62_td29_the_unhealthy_messages_round_down() -> None:
    outage = {"at": 100, "event": "outage_start", "instances": [0, 1]}
    doc = run(trace([outage, publish(100)], instances=3))
    assert doc["runs"][0]["error"]["message"] == (
        "Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined in "
        "the RollingUpgradePolicy. 66% of instances are in an unhealthy state - more than the "
        "threshold of 20%. To apply upgrades, consider increasing the MaxUnhealthyInstancePercent "
        "value."
    )


def test_t63_rollback_error_is_last_and_null() -> None:
    doc = run(trace(UNHEALTHY_FIRST))
    assert list(doc["runs"][0]["rollback"])[-1] == "rollbackError"
    info = doc["history"]["value"][0]["properties"]["rollbackInfo"]
    assert list(info)[-1] == "rollbackError" and info["rollbackError"] is None


def test_t65_latest_is_null_before_any_run_then_the_last_one() -> None:
    assert run(trace())["latest"] is None
    doc = run(trace([publish(100), publish(200, NEWER)]))
    status = doc["latest"]["properties"]["runningStatus"]
    assert status["lastAction"] == "Start" and status["code"] == "Completed"
    assert "endTime" not in status


def test_t66_the_history_keeps_five_entries_and_no_next_link() -> None:
    events = [{"at": 10 + 300 * k, "event": "start_upgrade"} for k in range(7)]
    doc = run(trace(events, automatic_os_upgrade=False, instances=1))
    assert len(doc["history"]["value"]) == 5 and "nextLink" not in doc["history"]
