"""``--instances``: the instances as ``az vmss list-instances`` lists them,
through the SDK's ``VirtualMachineScaleSetVM``: the plan speaks Azure's
instance ids, plans the instances down now as unhealthy (R4's margin, R7),
and with today's semantics leaves the protected ones alone (T27, T28)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.trace import parse_trace
from vmss_spec.azure.instances import read_instances
from vmss_spec.cli import main

ROOT = Path(__file__).resolve().parent.parent
AZURE = ROOT / "examples" / "azure"
SHOW = str(AZURE / "vmss-show.json")
LISTED = str(AZURE / "list-instances.json")
EPOCH = ("--epoch", "2026-12-04T00:00:00Z")


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["plan", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_instances_are_ordered_by_azure_id_with_health_and_protection() -> None:
    listed = read_instances(LISTED, 10)
    assert listed.azure_ids == ("0", "1", "2", "4", "5", "7", "8", "9", "11", "12")
    assert listed.down == ((4, "HealthState/unhealthy"), (6, "PowerState/deallocated"))
    assert listed.protected == ((8, True, True), (9, True, False))


def test_r4_t28_plan_speaks_azure_ids_and_leaves_the_protected_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = plan_json(capsys, SHOW, *EPOCH, "--instances", LISTED)
    assert doc["azure_instance_ids"][8] == "11"
    assert doc["unhealthy_at_start"] == [4, 6]
    assert [b["azure_instances"] for b in doc["batches"]] == [
        ["0", "1"],
        ["2", "4"],
        ["5", "7"],
        ["8", "9"],
        ["12"],
    ]  # 11 is protected from scale set actions (T28); 12 only from scale-in
    assert [b["margin"] for b in doc["batches"]] == [0, 0, 0, 1, 2]
    assert doc["run"]["code"] == "Completed"
    assert doc["serving"]["fewest"] == 6


def test_unhealthy_ids_are_azure_ids_with_instances(capsys: pytest.CaptureFixture[str]) -> None:
    doc = plan_json(capsys, SHOW, *EPOCH, "--instances", LISTED, "--unhealthy-ids", "11,12")
    assert doc["unhealthy_at_start"] == [8, 9]
    doc = plan_json(capsys, SHOW, *EPOCH, "--instances", LISTED, "--unhealthy", "0")
    assert doc["unhealthy_at_start"] == []


def test_t27_import_trace_sets_protection_and_health_at_time_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["import", SHOW, "--trace", *EPOCH, "--instances", LISTED]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [e["event"] for e in document["events"]] == [
        "set_protection",
        "set_protection",
        "app_health",
        "publish_image",
    ]
    assert document["events"][2] == {
        "at": 0,
        "event": "app_health",
        "instances": [4, 6],
        "healthy": False,
    }
    parse_trace(document)  # the loader takes it


def test_without_the_switch_protection_is_a_warning_not_an_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "three.json"
    listed.write_text(
        json.dumps(
            [
                {"instanceId": "3", "protectionPolicy": {"protectFromScaleIn": True}},
                {"instanceId": "5"},
                {"instanceId": "4"},
            ]
        ),
        encoding="utf-8",
    )
    minimal = str(AZURE / "get-minimal.json")
    assert main(["import", minimal, "--trace", *EPOCH, "--instances", str(listed)]) == 0
    captured = capsys.readouterr()
    assert [e["event"] for e in json.loads(captured.out)["events"]] == ["publish_image"]
    assert "instance protection is not in the 2018 feature" in captured.err
    assert "model id = Azure id: 0=3, 1=4, 2=5" in captured.err


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("{}", "not a list of instances"),
        ("[1]", "[0]: not an object"),
        ('[{"instanceId": "x"}]', "[0].instanceId: 'x' is not an instance id"),
        ('[{"instanceId": "1", "protectionPolicy": 3}]', "[0].protectionPolicy: 3 is not an"),
        (
            '[{"instanceId": "1", "protectionPolicy": {"protectFromScaleIn": "yes"}}]',
            "[0].protectionPolicy.protectFromScaleIn: 'yes' is not a boolean",
        ),
        (
            '{"value": [{"instanceId": "1", "properties": {"instanceView": {"statuses": 5}}}]}',
            "value[0].properties.instanceView.statuses: 5 is not a list",
        ),
        ('[{"instanceId": "1"}, {"instanceId": "01"}]', "[1].instanceId: 1 is listed twice"),
        ('[{"instanceId": "1"}]', "1 listed, but the scale set has 10 instances"),
    ],
)
def test_a_wrong_list_of_instances_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], listed: str, message: str
) -> None:
    path = tmp_path / "instances.json"
    path.write_text(listed, encoding="utf-8")
    assert main(["plan", SHOW, *EPOCH, "--instances", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_unknown_azure_id_and_import_without_trace_are_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", SHOW, *EPOCH, "--instances", LISTED, "--unhealthy-ids", "3"]) == 2
    assert "--unhealthy-ids: 3 is not an instanceId" in capsys.readouterr().err
    assert main(["import", SHOW, "--instances", LISTED]) == 2
    assert "--instances goes with --trace" in capsys.readouterr().err
