"""Today's Azure behind the switch (SPEC section 9), rule by rule: each test is
named after the number it shows, replays a small trace through the model and
the property checker (no violation), and asserts what the rule says.

Default timings (section 2): a batch with a probe takes 210 s; a member that
stays unhealthy waits 300 s after its extensions and is rolled back in 120 s.
"""

from __future__ import annotations

import copy
import json

from model.trace import load_trace_text, result_to_json
from tests import today_support
from tests.today_support import (
    GALLERY,
    JAMMY,
    NEW,
    NEWER,
    OLD,
    PROBE,
    ROOT,
    publish,
    refused,
    run,
    runs,
    trace,
)
from vmss_spec.replay import replay


# ---------------------------------------------------------------- 9.0 the switch
def test_t1_a_wrong_switch_value_and_a_name_not_modelled_are_refused_with_the_place() -> None:
    data = trace()
    data["scale_set"]["api_version"] = "2021-03-01"
    assert refused(data) == (
        "t.json: /scale_set/api_version: '2021-03-01' is not '2018-10-01' or '2024-07-01' (T1)"
    )
    data = trace(zones=None)
    assert refused(data) == (
        "t.json: /scale_set/zones: availability-zone batching is not modelled yet (SPEC 9.17)"
    )
    data = trace([{"at": 5, "event": "approve_upgrade"}])
    assert refused(data).endswith(
        "/events/0/event: upgrade deferral is not modelled yet (SPEC 9.17)"
    )


def test_t2_without_the_switch_section_9_names_are_unknown_and_2018_is_the_default() -> None:
    data = trace([publish(100, eligible_at=200)])
    del data["scale_set"]["api_version"]
    data["scale_set"]["image"] = {
        "publisher": "Canonical",
        "offer": "UbuntuServer",
        "sku": "18.04-LTS",
        "version": "latest",
    }
    assert "/events/0: unknown field ('eligible_at' was unexpected)" in refused(data)
    data["events"] = [{"at": 5, "event": "set_protection", "instances": [0]}]
    assert "/events/0/event: unknown event 'set_protection'" in refused(data)
    for path in sorted((ROOT / "examples").glob("*.json")):
        original = json.loads(path.read_text(encoding="utf-8"))
        if "api_version" in original["scale_set"]:
            continue
        explicit = copy.deepcopy(original)
        explicit["scale_set"]["api_version"] = "2018-10-01"
        first = replay(load_trace_text(json.dumps(original)))
        second = replay(load_trace_text(json.dumps(explicit)))
        assert result_to_json(first.result) == result_to_json(second.result), path.name
        assert first.text() == second.text(), path.name


def test_t3_the_result_carries_the_switch_after_its_time() -> None:
    doc = run(trace())
    assert list(doc)[:3] == ["format", "time", "api_version"]
    assert doc["api_version"] == "2024-07-01" and list(doc).index("latest") == 6


# ---------------------------------------------------------------- 9.1 health
def test_t4_tv1_no_health_source_refuses_automatic_upgrades() -> None:
    doc = run(trace([publish(100)], health_probe=None))
    assert doc["rejected"][0]["reason"].startswith(
        "TV1: health_probe: Automatic OS Upgrade is not supported for this Virtual Machine "
        "Scale Set because a health probe or health extension was not specified."
    )
    assert doc["runs"] == [] and doc["warnings"] == []


def test_t5_only_service_fabric_silver_or_gold_runs_without_a_probe() -> None:
    doc = run(
        trace(
            [publish(100)],
            health_probe=None,
            service_fabric={"durability": "Silver", "update_domains": 3},
        )
    )
    assert runs(doc) == [("Platform", NEW, "Completed", 100, 640)]  # three UDs of 180 s


def test_t6_tv2_two_sources_break_tv2_and_one_in_an_array_is_that_source() -> None:
    single = run(trace([publish(100)], health_probe=[PROBE]))
    plain = run(trace([publish(100)]))
    assert single == plain
    two = run(trace([publish(100)], health_probe=[{"kind": "load_balancer"}, PROBE]))
    assert two["rejected"][0]["reason"].startswith(
        "TV2: health_probe: Automatic OS Upgrade is "
        "not supported for this Virtual Machine Scale "
        "Set because both a health probe and a health "
        "extension were provided."
    )
    slow = run(
        trace(
            health_probe=[
                {"kind": "load_balancer"},
                {"kind": "application_health", "interval_seconds": 120},
            ]
        )
    )
    assert slow["warnings"][0]["message"].startswith("health_probe[1].interval_seconds: ")
    same = trace(health_probe=[PROBE, PROBE])
    assert "/scale_set/health_probe/1/kind" in refused(same)
    assert "/scale_set/health_probe" in refused(trace(health_probe=[]))


def test_td1_a_manual_start_is_refused_while_tv1_stands() -> None:
    doc = run(trace([publish(100), {"at": 200, "event": "start_upgrade"}], health_probe=None))
    assert [r["event"] for r in doc["rejected"]] == ["set_automatic_upgrade", "start_upgrade"]
    assert doc["rejected"][1]["reason"].startswith("TV1: health_probe: ")


# ---------------------------------------------------------------- 9.2 policy, rollback
def test_t8_todays_defaults_and_fields() -> None:
    doc = run(
        trace(
            [publish(100), {"at": 225, "event": "app_health", "instances": [0], "healthy": False}],
            instances=10,
        )
    )
    # 10 instances, batches of 2; instance 0 fails in the first batch: 1 x 100 > 20 x 2
    assert runs(doc)[0][2] == "Faulted" and len(doc["runs"][0]["batches"]) == 1
    nulled = trace(policy={"max_unhealthy_upgraded_instance_percent": None})
    assert "/scale_set/policy/max_unhealthy_upgraded_instance_percent" in refused(nulled)
    assert "'automatic_rollback' was unexpected" in refused(
        trace(policy={"automatic_rollback": True})
    )
    assert "MaxSurge is not modelled yet" in refused(trace(policy={"max_surge": False}))


def test_t9_automatic_os_upgrade_policy_fields() -> None:
    data = trace(
        automatic_os_upgrade_policy={
            "disable_automatic_rollback": True,
            "use_rolling_upgrade_policy": True,
        }
    )
    assert load_trace_text(
        json.dumps(data)
    ).scale_set.automatic_os_upgrade_policy.disable_automatic_rollback
    bad = trace(automatic_os_upgrade_policy={"os_rolling_upgrade_deferral": True})
    assert "upgrade deferral is not modelled yet (SPEC 9.17)" in refused(bad)


UNHEALTHY_FIRST = today_support.UNHEALTHY_FIRST


def test_t10_rollback_by_default_in_platform_runs_never_in_user_runs() -> None:
    platform = run(trace(UNHEALTHY_FIRST))
    assert platform["runs"][0]["rollback"]["successfullyRolledbackInstanceCount"] == 1
    assert platform["instances"][0]["image_version"] == OLD
    user = run(
        trace(
            [
                publish(100),
                {"at": 150, "event": "start_upgrade"},
                {"at": 275, "event": "app_health", "instances": [0], "healthy": False},
            ],
            automatic_os_upgrade=False,
        )
    )
    assert user["runs"][0]["started_by"] == "User"
    assert user["runs"][0]["rollback"]["successfullyRolledbackInstanceCount"] == 0
    assert user["instances"][0]["image_version"] == NEW
    off = run(
        trace(UNHEALTHY_FIRST, automatic_os_upgrade_policy={"disable_automatic_rollback": True})
    )
    assert off["runs"][0]["rollback"]["successfullyRolledbackInstanceCount"] == 0


def test_ti8_every_failed_member_of_a_platform_run_is_back_on_its_version() -> None:
    doc = run(trace(UNHEALTHY_FIRST, instances=2))
    assert runs(doc)[0][2] == "Faulted"
    assert (
        doc["instances"][0]["image_version"] == OLD and doc["instances"][0]["os_disk"] == "os-0-0"
    )


def test_t11_ti9_upgraded_unhealthy_stop_at_twenty_percent() -> None:
    doc = run(trace(UNHEALTHY_FIRST, instances=5))
    assert runs(doc) == [("Platform", NEW, "Faulted", 100, 700)]  # rolled back at 700
    assert doc["runs"][0]["progress"]["pendingInstanceCount"] == 4  # no batch after the stop


def test_t12_a_provisioning_failure_is_not_rolled_back() -> None:
    doc = run(
        trace(
            [publish(100)],
            extensions=[{"name": "cse", "credentials": ["sas"]}],
            credentials={"sas": {"expires_at": 150}},
        )
    )
    first = doc["instances"][0]
    assert first["image_version"] == NEW and first["provisioning_state"] == "Failed"
    assert doc["runs"][0]["error"]["code"] == "VMExtensionProvisioningError"
    assert doc["runs"][0]["rollback"]["successfullyRolledbackInstanceCount"] == 0


def test_td2_which_policy_a_run_uses() -> None:
    policy = {"max_batch_instance_percent": 50}
    platform = run(trace([publish(100)], instances=4, policy=policy))
    assert platform["runs"][0]["policy"]["maxBatchInstancePercent"] == 20
    assert [w["rule"] for w in platform["warnings"]] == ["TW1"]
    rolling = run(
        trace(
            [publish(100)],
            instances=4,
            policy=policy,
            automatic_os_upgrade_policy={"use_rolling_upgrade_policy": True},
        )
    )
    assert rolling["runs"][0]["policy"]["maxBatchInstancePercent"] == 50
    assert len(rolling["runs"][0]["batches"]) == 2 and rolling["warnings"] == []


def test_tw1_policy_ignored_by_platform_runs_is_warned_once() -> None:
    doc = run(trace(policy={"pause_time_between_batches": "PT1M"}, automatic_os_upgrade=False))
    assert doc["warnings"] == [
        {
            "rule": "TW1",
            "message": (
                "policy: Platform runs use the default rolling upgrade policy, not this one, "
                "because automatic_os_upgrade_policy.use_rolling_upgrade_policy is false (TD2); "
                "User runs use this one"
            ),
        }
    ]
    assert run(trace(policy={"pause_time_between_batches": "PT0S"}))["warnings"] == []


def test_td3_restores_always_succeed() -> None:
    doc = run(trace(UNHEALTHY_FIRST))
    assert doc["runs"][0]["rollback"]["failedRolledbackInstanceCount"] == 0
    assert doc["runs"][0]["rollback"]["rollbackError"] is None


# ---------------------------------------------------------------- 9.3 images
def test_t13_todays_sku_list_and_its_v1_text() -> None:
    doc = run(trace(image={**JAMMY, "offer": "UbuntuServer", "sku": "18.04-LTS"}))
    assert doc["rejected"][0]["reason"] == (
        "V1: image.sku: Automatic OS Upgrade cannot be enabled on virtualMachineScaleSets "
        "configured with a Platform Image."
    )
    assert run(trace())["rejected"] == []


def test_td4_skus_compare_in_any_case() -> None:
    assert (
        run(trace(image={**JAMMY, "sku": "22_04-lts", "publisher": "canonical"}))["rejected"] == []
    )


def test_t14_gallery_images_latest_pinned_managed_and_the_pair() -> None:
    assert run(trace(image={"id": GALLERY}, catalog=["1.0.0"]))["rejected"] == []
    pinned = run(trace(image={"id": f"{GALLERY}/versions/latest"}, catalog=["1.0.0"]))
    assert pinned["rejected"][0]["reason"].startswith("V2: image.id: virtualMachineScaleSets")
    managed = run(
        trace(
            image={
                "id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/images/web"
            }
        )
    )
    assert managed["rejected"][0]["reason"].startswith("V3: image.id: ")
    assert "/scale_set/image" in refused(trace(image={"id": GALLERY, "version": "latest"}))


def test_t15_gallery_versions_have_three_parts() -> None:
    assert "/scale_set/catalog/0" in refused(trace(image={"id": GALLERY}, catalog=["1.0"]))
    bad = trace([publish(100, "1.1")], image={"id": GALLERY}, catalog=["1.0.0"])
    assert "/events/0/version" in refused(bad)


def test_t16_exclusion_only_for_gallery_images_and_never_latest() -> None:
    assert "/events/0/exclude_from_latest" in refused(
        trace([publish(100, exclude_from_latest=True)])
    )
    doc = run(
        trace(
            [publish(100, "1.1.0", exclude_from_latest=True)],
            image={"id": GALLERY},
            catalog=["1.0.0"],
        )
    )
    assert doc["runs"] == []


def test_td5_a_publication_must_be_newer_than_every_version_so_far() -> None:
    doc = run(
        trace(
            [publish(100, "1.2.0", exclude_from_latest=True), publish(200, "1.1.0")],
            image={"id": GALLERY},
            catalog=["1.0.0"],
        )
    )
    assert doc["rejected"][0]["reason"].startswith("D14, TD5: version 1.1.0 is not newer")


def test_t17_eligible_later_and_never_before_the_publication() -> None:
    assert "/events/0/eligible_at" in refused(trace([publish(100, eligible_at=99)]))
    doc = run(trace([publish(100, eligible_at=1000)]))
    assert runs(doc) == [("Platform", NEW, "Completed", 1000, 1630)]
    gallery = run(
        trace(
            [
                publish(100, "1.1.0", eligible_at=1000),
                {"at": 200, "event": "scale_out", "count": 1},
            ],
            image={"id": GALLERY},
            catalog=["1.0.0"],
        )
    )
    assert gallery["instances"][3]["image_version"] == "1.1.0"  # upgraded by the run
    assert gallery["runs"][0]["batches"][0]["instances"] == [0]


def test_td6_a_version_eligible_at_a_runs_end_is_the_next_runs_target() -> None:
    # run 1 (100-310 for one instance) ends at 310, the second version is eligible at 310:
    # eligibility comes before run steps, so the Completed run's end starts run 2 towards it
    doc = run(trace([publish(100), publish(200, NEWER, eligible_at=310)], instances=1))
    assert runs(doc) == [
        ("Platform", NEW, "Completed", 100, 310),
        ("Platform", NEWER, "Completed", 310, 520),
    ]


def test_ti10_targets_latest_eligible_for_platform_latest_available_for_user() -> None:
    doc = run(
        trace(
            [publish(100, eligible_at=5000), {"at": 200, "event": "start_upgrade"}],
            automatic_os_upgrade=False,
        )
    )
    assert runs(doc) == [("User", NEW, "Completed", 200, 830)]


def test_t18_td7_the_first_rollout_waits_for_the_delay() -> None:
    doc = run(trace([publish(100)], first_rollout_delay_seconds=600))
    assert runs(doc)[0][3] == 600
    later = run(
        trace(
            [
                publish(100),
                {"at": 200, "event": "set_automatic_upgrade", "enabled": False},
                {"at": 300, "event": "set_automatic_upgrade", "enabled": True},
            ],
            first_rollout_delay_seconds=900,
        )
    )
    assert runs(later)[0][3] == 900  # the opt-in at 300 does not restart it
    assert "/scale_set/first_rollout_delay_seconds" in refused(
        trace(first_rollout_delay_seconds=10801)
    )


def test_ti11_no_platform_run_before_the_delay_nor_while_a_tv_error_stands() -> None:
    doc = run(trace([publish(100), publish(200, NEWER)], first_rollout_delay_seconds=1000))
    assert [r[3] for r in runs(doc)] == [1000]


def test_t19_t64_td30_a_gallery_images_target_reference() -> None:
    doc = run(trace([publish(100, "1.1.0")], image={"id": GALLERY}, catalog=["1.0.0"]))
    assert doc["history"]["value"][0]["properties"]["targetImageReference"] == {
        "id": f"{GALLERY}/versions/1.1.0",
        "exactVersion": "1.1.0",
    }
