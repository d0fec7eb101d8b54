"""Examples are specs, part 4: today's Azure behind the switch (SPEC section 9).
Each examples/today-*.json has ``"api_version": "2024-07-01"`` and replays clean
(no violation of any property, section 9's included); its outcome is asserted
against what section 9 says, and ``explain`` names the T rule it shows.

Default timings (section 2): a batch with a probe takes 120 + 60 + 30 = 210 s; a
member that stays unhealthy waits 300 s after its extensions, and its rollback
(T10) takes another 120 s. Timestamps are the epoch 2026-12-01T00:00:00+00:00
plus the offset.
"""

from __future__ import annotations

import json
from typing import Any

from model.config import HealthProbe
from model.explain import explain
from model.trace import load_trace_text, result_to_json
from tests.example_support import EXAMPLES, play, progress
from vmss_spec.replay import replay

JAMMY_OLD, JAMMY_NEW, JAMMY_NEWER = "22.04.202410010", "22.04.202411010", "22.04.202412010"
GALLERY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
    "Microsoft.Compute/galleries/gallery1/images/web"
)
DEFAULT_POLICY = {
    "maxBatchInstancePercent": 20,
    "maxUnhealthyInstancePercent": 20,
    "maxUnhealthyUpgradedInstancePercent": 20,
    "pauseTimeBetweenBatches": "PT0S",
    "prioritizeUnhealthyInstances": False,
}


def result(name: str) -> tuple[dict[str, Any], str]:
    """The result document of an example (it replays clean) and its explanation."""
    rep = play(name)
    document = json.loads(result_to_json(rep.result))
    assert document["api_version"] == "2024-07-01"  # T3
    assert list(document)[:3] == ["format", "time", "api_version"]
    return document, explain(rep.scale_set)


def runs(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (r["started_by"], r["target_version"], r["code"], r["start"], r["end"])
        for r in document["runs"]
    ]


def versions(document: dict[str, Any]) -> dict[int, str]:
    return {i["id"]: i["image_version"] for i in document["instances"]}


def test_t4_tv1_td1_health_required_refuses_opt_in_and_manual_start() -> None:
    """T4, TV1, TD1: without a probe, automatic upgrades stay off (refused at 0 and
    at the opt-in at 300) and the manual start at 200 is refused too, with Azure's
    text; no run ever starts and latest is null (T65)."""
    document, text = result("today-health-required.json")
    reason = (
        "TV1: health_probe: Automatic OS Upgrade is not supported for this Virtual Machine "
        "Scale Set because a health probe or health extension was not specified."
    )
    assert document["rejected"] == [
        {"at": 0, "event": "set_automatic_upgrade", "reason": reason},
        {"at": 200, "event": "start_upgrade", "reason": reason},
        {"at": 300, "event": "set_automatic_upgrade", "reason": reason},
    ]
    assert document["runs"] == [] and document["latest"] is None
    assert document["warnings"] == []  # T4: V8 became the error TV1
    assert "TV1" in text


def test_t10_rollback_by_default_in_a_platform_run_that_goes_on() -> None:
    """T10, T11: instance 4 of batch 3 (520-) answers unhealthy at 650, after its
    disk (640); its wait runs out at 1000 and the previous disk is back at 1120
    (rolled back by default). 1 x 100 > 20 x 6 is false, so the run goes on and
    completes with 9 upgraded and 1 failed."""
    document, text = result("today-rollback-by-default.json")
    run = document["runs"][0]
    assert runs(document) == [("Platform", JAMMY_NEW, "Completed", 100, 1540)]
    assert run["progress"] == progress(9, 1, 0, 0)
    assert run["rollback"] == {
        "successfullyRolledbackInstanceCount": 1,
        "failedRolledbackInstanceCount": 0,
        "rollbackError": None,  # T63
    }
    assert run["batches"][2] == {"instances": [4, 5], "start": 520, "end": 1120}
    assert versions(document)[4] == JAMMY_OLD
    assert run["policy"] == DEFAULT_POLICY  # TD2
    assert "automatic rollback on (T10)" in text


def test_t11_t62_small_set_first_failure_stops_the_run() -> None:
    """T11, T62: with 4 instances batches are of 1; instance 0 answers unhealthy at
    230 (its disk came at 220), is rolled back (700) and 1 x 100 > 20 x 1 ends the
    run Faulted with Azure's message, naming instance 0."""
    document, text = result("today-small-set-first-failure-stops.json")
    assert runs(document) == [("Platform", JAMMY_NEW, "Faulted", 100, 700)]
    error = document["runs"][0]["error"]
    assert error == {
        "code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
        "message": "Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent "
        "value defined in the RollingUpgradePolicy. 100% of instances are in an unhealthy state "
        "after being upgraded - more than the threshold of 20%. The most impactful error is: "
        "Instance found to be unhealthy or unreachable.. First failed instance ID is: 0.",
    }
    assert document["latest"]["properties"]["error"] == error
    assert "T11" in text


def test_t14_t16_t64_gallery_image_excluded_version_is_never_latest() -> None:
    """T14, T16, T17, T64: a gallery image at latest; 1.1.0 is excluded, so no run
    starts at 100 and the instance created at 200 is built from 1.0.0; 1.2.0 at
    1000 starts a run over all four, its history entry naming the gallery version."""
    document, text = result("today-gallery-excluded-version.json")
    assert runs(document) == [("Platform", "1.2.0", "Completed", 1000, 1840)]
    assert set(versions(document).values()) == {"1.2.0"}
    entry = document["history"]["value"][0]["properties"]
    assert entry["targetImageReference"] == {
        "id": f"{GALLERY}/versions/1.2.0",
        "exactVersion": "1.2.0",
    }
    assert "1.1.0" not in text.split("Triggers")[0]


def test_t14_a_gallery_image_with_a_version_is_pinned_v2() -> None:
    """T14, A19: a gallery id ending in /versions/1.0.0 breaks V2 with today's text,
    refusing the opt-in at 0 and the manual start (TD1: V2 refuses it too)."""
    document, _ = result("today-gallery-pinned-version.json")
    reason = (
        "V2: image.id: virtualMachineScaleSets with Automatic OS Upgrade enabled must use "
        "Platform or Gallery Image with version set to 'latest'."
    )
    assert [(r["at"], r["event"], r["reason"]) for r in document["rejected"]] == [
        (0, "set_automatic_upgrade", reason),
        (200, "start_upgrade", reason),
    ]
    assert document["runs"] == []


def test_t17_eligibility_later_than_publication() -> None:
    """T17, TD6: a platform version published at 100 is available at once (the
    instance created at 200 is built from it) but eligible only at 5000, when the
    Platform run starts over the three older instances."""
    document, text = result("today-eligible-later.json")
    assert runs(document) == [("Platform", JAMMY_NEW, "Completed", 5000, 5630)]
    assert document["runs"][0]["batches"][0]["instances"] == [0]
    assert set(versions(document).values()) == {JAMMY_NEW}
    assert "becoming eligible in the scale set's region (T17, D4)" in text


def test_t18_first_rollout_delay_holds_the_first_run() -> None:
    """T18, TD7: opting in at 500 with a delay of 3600 s: the publications at 100
    and 1000 start nothing; at 4100 the delay's end starts a run to the newest."""
    document, text = result("today-first-rollout-delay.json")
    assert runs(document) == [("Platform", JAMMY_NEWER, "Completed", 4100, 4730)]
    assert "the end of the first-rollout delay (T18, D4)" in text
    assert "the first rollout waits until 4100s (T18)" in text


def test_t27_td12_t29_td31_protection_during_a_run() -> None:
    """T27, TD12, T29, TD31: instance 4 is protected from scale-in only (still
    upgraded, T28); at 250, 0 (in the batch in flight) finishes as usual and 3
    (pending) leaves the scope; actions without scale-in is refused at 260; the
    scale-in at 270 skips 4 and 3 and removes 2; the deploy at 1500 touches 1 and 4."""
    document, _ = result("today-protection-during-run.json")
    run = document["runs"][0]
    assert runs(document) == [("Platform", JAMMY_NEW, "Completed", 200, 830)]
    assert [b["instances"] for b in run["batches"]] == [[0], [1], [4]]
    assert run["progress"] == progress(3, 0, 0, 0)
    assert document["rejected"] == [
        {
            "at": 260,
            "event": "set_protection",
            "reason": "You can't specify protectFromScaleIn false when setting "
            "protectFromScaleSetActions true",
        }
    ]
    assert sorted(versions(document)) == [0, 1, 3, 4]
    assert versions(document)[3] == JAMMY_OLD
    protection = {i["id"]: i["protection"] for i in document["instances"]}
    assert protection[4] == {"protectFromScaleIn": True, "protectFromScaleSetActions": False}
    assert protection[3] == {"protectFromScaleIn": True, "protectFromScaleSetActions": True}
    assert document["time"] == 1560  # the deploy's extensions (1500 + 60)


def test_t65_get_latest_after_a_cancel_and_tw1() -> None:
    """T65, TD2, TW1: a User run uses the scale set's policy (batches of 50%, so
    5 of 10); a cancel at 300 ends it after its batch (410) and get-latest shows
    lastAction Cancel at 300. TW1 warns that Platform runs would ignore the policy."""
    document, _ = result("today-get-latest-cancel.json")
    assert runs(document) == [("User", JAMMY_NEW, "Cancelled", 200, 410)]
    latest = document["latest"]
    assert list(latest) == ["properties", "type", "location"]
    assert latest["properties"]["policy"] == {**DEFAULT_POLICY, "maxBatchInstancePercent": 50}
    assert latest["properties"]["runningStatus"] == {
        "code": "Cancelled",
        "startTime": "2026-12-01T00:03:20+00:00",
        "lastAction": "Cancel",
        "lastActionTime": "2026-12-01T00:05:00+00:00",
    }
    assert latest["properties"]["progress"] == progress(5, 0, 0, 5)
    assert [w["rule"] for w in document["warnings"]] == ["TW1"]


def test_section_9_16_example_is_as_the_spec_tells_it() -> None:
    """SPEC 9.16's example, point by point: the run starts at 3600 (T18) towards
    1.1.0 (T16, T17) over 0-3 (T28), rolls back instance 2 (T10) and ends Faulted at
    4620 (T11, T62); the result's time is 4650."""
    document, text = result("today-spec-example.json")
    assert document["time"] == 4650
    assert runs(document) == [("Platform", "1.1.0", "Faulted", 3600, 4620)]
    run = document["runs"][0]
    assert [(b["instances"], b["start"], b["end"]) for b in run["batches"]] == [
        ([0], 3600, 3810),
        ([1], 3810, 4020),
        ([2], 4020, 4620),
    ]
    assert run["progress"] == progress(2, 1, 0, 1)
    assert "33% of instances" in run["error"]["message"]
    assert run["error"]["message"].endswith("First failed instance ID is: 2.")
    assert versions(document) == {0: "1.1.0", 1: "1.1.0", 2: "1.0.0", 3: "1.0.0", 4: "1.0.0"}
    entry = document["history"]["value"][0]["properties"]
    assert entry["runningStatus"] == {
        "code": "Faulted",
        "startTime": "2026-12-01T01:00:00+00:00",
        "endTime": "2026-12-01T01:17:00+00:00",
    }
    assert entry["targetImageReference"]["exactVersion"] == "1.1.0"
    assert document["latest"]["properties"]["runningStatus"]["lastAction"] == "Start"
    assert document["warnings"] == [] and document["rejected"] == []
    assert "T18" in text and "T10" in text and "T28" in text


def test_t6_an_array_of_one_health_source_is_that_source() -> None:
    """T6: ``health_probe`` may be an array of one or two sources; an array of
    one reads as that source alone, and the trace replays exactly as the same
    trace with the source given as an object."""
    rep = play("today-one-health-source-array.json")
    assert rep.scale_set.config.health_probe == HealthProbe("application_health")
    data = json.loads((EXAMPLES / "today-one-health-source-array.json").read_text())
    data["scale_set"]["health_probe"] = data["scale_set"]["health_probe"][0]
    alone = replay(load_trace_text(json.dumps(data)))
    assert result_to_json(alone.result) == result_to_json(rep.result)
    assert rep.result.violations == [] and rep.result.runs[0].code == "Completed"
