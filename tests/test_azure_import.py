"""``vmss-spec import``: Azure's JSON (az vmss show, an ARM GET response, an
ARM template) read through the SDK's model into section 7's ``scale_set``,
with the semantics chosen (T1) and the V checks said in Azure's paths."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from model.trace import parse_trace
from vmss_spec.azure.fields import FIELDS, fields_table
from vmss_spec.azure.read import SCALE_SET_SHAPE
from vmss_spec.cli import main

ROOT = Path(__file__).resolve().parent.parent
AZURE = ROOT / "examples" / "azure"
EPOCH = "2026-12-04T00:00:00Z"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def imported(capsys: pytest.CaptureFixture[str], name: str, *more: str) -> tuple[dict, str]:
    code, out, err = run(capsys, "import", str(AZURE / name), "--epoch", EPOCH, *more)
    assert code == 0, err
    return json.loads(out), err


def write(tmp_path: Path, data: object, name: str = "vmss.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def minimal() -> dict:
    return json.loads((AZURE / "get-minimal.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------ shapes and semantics
@pytest.mark.parametrize(
    ("name", "shape", "api", "why"),
    [
        ("vmss-show.json", "az vmss show", "2024-07-01", "properties.orchestrationMode"),
        ("get-minimal.json", "ARM GET response", "2018-10-01", "no field is newer"),
        ("get-full.json", "ARM GET response", "2024-07-01", "properties.orchestrationMode"),
        ("template-2018.json", "ARM template", "2018-10-01", "apiVersion 2018-10-01"),
        ("get-uncovered.json", "ARM GET response", "2024-07-01", "orchestrationMode"),
    ],
)
def test_t1_each_fixture_is_read_with_the_semantics_its_api_implies(
    capsys: pytest.CaptureFixture[str], name: str, shape: str, api: str, why: str
) -> None:
    scale_set, err = imported(capsys, name)
    first = err.splitlines()[0]
    assert first.startswith(f"read as {shape}; api_version {api}")
    assert why in first
    assert scale_set.get("api_version", "2018-10-01") == api
    # what import writes is a scale set section 7 (and 9.16) accepts
    trace = parse_trace({"format": "vmss-upgrade-trace/1", "scale_set": scale_set, "events": []})
    assert trace.scale_set.api_version == api


def test_t1_api_version_forces_either_semantics(capsys: pytest.CaptureFixture[str]) -> None:
    scale_set, err = imported(capsys, "vmss-show.json", "--api-version", "2018-10-01")
    assert "api_version" not in scale_set
    assert "--api-version 2018-10-01 asks for the 2018 semantics" in err
    scale_set, err = imported(capsys, "get-minimal.json", "--api-version", "2024-07-01")
    assert scale_set["api_version"] == "2024-07-01"


def test_t1_a_template_of_today_api_is_read_with_today_semantics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = json.loads((AZURE / "template-2018.json").read_text(encoding="utf-8"))
    template["resources"][1]["apiVersion"] = "2024-07-01"
    code, out, err = run(capsys, "import", write(tmp_path, template), "--epoch", EPOCH)
    assert code == 0, err
    assert json.loads(out)["api_version"] == "2024-07-01"
    assert "apiVersion 2024-07-01 is 2024-07-01 or later" in err


def test_fields_are_taken_from_their_arm_paths(capsys: pytest.CaptureFixture[str]) -> None:
    scale_set, err = imported(capsys, "get-full.json")
    assert scale_set["instances"] == 12  # sku.capacity
    assert scale_set["location"] == "northeurope"
    assert scale_set["data_disks_per_instance"] == 2
    assert scale_set["policy"] == {
        "max_batch_instance_percent": 25,
        "max_unhealthy_instance_percent": 25,
        "max_unhealthy_upgraded_instance_percent": 10,
        "pause_time_between_batches": "PT1M",
        "prioritize_unhealthy_instances": True,
    }
    assert scale_set["automatic_os_upgrade_policy"] == {
        "disable_automatic_rollback": False,
        "use_rolling_upgrade_policy": True,
    }
    assert scale_set["health_probe"]["kind"] == "load_balancer"
    assert "assumed: health_probe: a load balancer probe, lb_sku Standard, interval 15s" in err
    # a SAS URI's se= in the extension's public settings: 16 days after the epoch
    assert scale_set["extensions"] == [{"name": "Setup", "credentials": ["Setup-sas"]}]
    assert scale_set["credentials"] == {"Setup-sas": {"expires_at": 16 * 86400}}


def test_application_health_extension_is_the_health_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scale_set, _ = imported(capsys, "vmss-show.json")
    assert scale_set["health_probe"] == {"kind": "application_health", "interval_seconds": 5}
    assert scale_set["credentials"] == {"CustomScript-sas": {"expires_at": 87 * 86400}}


def test_t6_tv2_both_sources_today_are_an_array_that_tv2_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((AZURE / "vmss-show.json").read_text(encoding="utf-8"))
    data["virtualMachineProfile"]["networkProfile"]["healthProbe"] = {"id": "/x/probes/p"}
    code, out, err = run(capsys, "import", write(tmp_path, data), "--epoch", EPOCH)
    assert code == 0
    assert [p["kind"] for p in json.loads(out)["health_probe"]] == [
        "load_balancer",
        "application_health",
    ]
    assert re.search(
        r"^check: properties\.virtualMachineProfile\.networkProfile\.healthProbe "
        r"is .*\(TV2\)$",
        err,
        re.M,
    )


def test_v2_speaks_azure_paths(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = imported(capsys, "template-2018.json")
    assert (
        "check: properties.virtualMachineProfile.storageProfile.imageReference.version is "
        '"18.04.201810030", must be "latest" (V2)'
    ) in err.splitlines()


def test_template_parameters_and_variables_are_resolved(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scale_set, err = imported(capsys, "template-2018.json")
    assert scale_set["instances"] == 5  # [parameters('instanceCount')]'s default
    assert scale_set["catalog"] == ["18.04.201810030"]
    assert scale_set["policy"]["automatic_rollback"] is False  # disableAutomaticRollback true
    assert "location: westeurope (section 7's default; '[resourceGroup().location]'" in err


def test_v4_v6_disk_encryption_and_service_fabric_extensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = minimal()
    data["properties"]["virtualMachineProfile"]["extensionProfile"] = {
        "extensions": [
            {
                "name": "ade",
                "properties": {
                    "publisher": "Microsoft.Azure.Security",
                    "type": "AzureDiskEncryptionForLinux",
                },
            },
            {
                "name": "sf",
                "properties": {
                    "publisher": "Microsoft.Azure.ServiceFabric",
                    "type": "ServiceFabricLinuxNode",
                    "typeHandlerVersion": "1.1",
                    "settings": {"durabilityLevel": "Bronze"},
                },
            },
        ]
    }
    code, out, err = run(capsys, "import", write(tmp_path, data), "--epoch", EPOCH)
    assert code == 0, err
    scale_set = json.loads(out)
    assert scale_set["disk_encryption"] is True
    assert scale_set["service_fabric"] == {"durability": "Bronze", "update_domains": 5}
    ext = "properties.virtualMachineProfile.extensionProfile.extensions"
    assert f"check: {ext}[0] is Azure Disk Encryption, must be absent" in err
    assert f'check: {ext}[1].properties.settings.durabilityLevel is "Bronze", must be' in err
    assert "(V6)" in err and "(V4)" in err


def test_what_the_model_does_not_cover_is_one_warning_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, err = imported(capsys, "get-uncovered.json")
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    named = [
        "Flexible orchestration",
        "availability-zone batching",
        "enableCrossZoneUpgrade",
        "MaxSurge",
        "rollback on policy breach",
        "upgrade deferral",
        "automatic instance repair",
        "OS-image scheduled-event handling",
        "Spot instances",
        "ephemeral OS disks",
        "Key Vault certificates",
    ]
    assert len(warnings) == len(named)
    for what, line in zip(named, warnings, strict=True):
        assert what in line


def test_an_expired_sas_is_a_credential_expired_at_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = minimal()
    sas = "https://s.blob.core.windows.net/c/x.sh?sp=r&se=2026-01-01T00:00:00Z&sig=S"
    data["properties"]["virtualMachineProfile"]["extensionProfile"] = {
        "extensions": [
            {"name": "cs", "properties": {"type": "CustomScript", "settings": {"fileUris": [sas]}}}
        ]
    }
    code, out, err = run(capsys, "import", write(tmp_path, data), "--epoch", EPOCH)
    assert code == 0, err
    assert json.loads(out)["credentials"] == {"cs-sas": {"expires_at": 0}}
    assert "the SAS URI of cs expired at 2026-01-01T00:00:00Z, before the epoch" in err


def test_trace_option_adds_the_next_version(capsys: pytest.CaptureFixture[str]) -> None:
    trace, _ = imported(capsys, "template-2018.json", "--trace")
    assert trace["format"] == "vmss-upgrade-trace/1"
    assert trace["events"] == [{"at": 0, "event": "publish_image", "version": "18.04.201810031"}]
    parse_trace(trace)


# ------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["sku"].update(capacity="three"),
            "sku.capacity: 'three' is not a whole number",
        ),
        (lambda d: d["sku"].pop("capacity"), "sku.capacity: missing"),
        (lambda d: d["sku"].update(capacity=150), "sku.capacity is 150: "),
        (
            lambda d: d["properties"]["virtualMachineProfile"]["storageProfile"].update(
                imageReference={"sharedGalleryImageId": "/sharedGalleries/g/images/i"}
            ),
            "sharedGalleryImageId: a direct shared or community gallery image is not modelled",
        ),
        (
            lambda d: (
                d["properties"]["upgradePolicy"]["rollingUpgradePolicy"].update(
                    maxBatchInstancePercent=200
                )
                if "rollingUpgradePolicy" in d["properties"]["upgradePolicy"]
                else d["properties"]["upgradePolicy"].update(
                    rollingUpgradePolicy={"maxBatchInstancePercent": 200}
                )
            ),
            "maxBatchInstancePercent is 200: ",
        ),
        (lambda d: d.update(type="Microsoft.Network/loadBalancers"), "/type: "),
    ],
)
def test_bad_scale_sets_are_exit_2_naming_the_arm_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change, message: str
) -> None:
    data = minimal()
    change(data)
    code, out, err = run(capsys, "import", write(tmp_path, data), "--epoch", EPOCH)
    assert code == 2 and out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "not a scale set"),
        ('{"name": "x"}', "not a scale set"),
        ("not json", ""),
        ('{"$schema": "x/deploymentTemplate.json#", "resources": []}', "no resource of type"),
    ],
)
def test_a_file_that_is_not_a_scale_set_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "import", str(path))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_history_given_to_import_says_where_it_belongs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "import", str(AZURE / "history.json"))
    assert code == 2
    assert "an upgrade history, not a scale set (read it with `vmss-spec explain --history`)" in err


def test_output_is_written_whole_and_never_over_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, minimal())
    before = Path(source).read_bytes()
    code, _, err = run(capsys, "import", source, "-o", source)
    assert code == 2 and "is the trace itself" in err
    assert Path(source).read_bytes() == before
    out = tmp_path / "scale-set.json"
    code, _, _ = run(capsys, "import", source, "-o", str(out), "--epoch", EPOCH)
    assert code == 0 and json.loads(out.read_text())["instances"] == 3


def test_docs_table_lists_every_field_and_its_arm_path() -> None:
    page = (ROOT / "docs" / "azure.md").read_text(encoding="utf-8")
    assert fields_table() in page
    assert len(FIELDS) >= 20


def _set(data: dict, path: str, value: object) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


@pytest.mark.parametrize(
    "path", [p for p, _ in SCALE_SET_SHAPE if "*" not in p], ids=lambda p: p.rsplit(".", 1)[-1]
)
def test_a_container_of_the_wrong_kind_is_named_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    data = json.loads((AZURE / "get-full.json").read_text(encoding="utf-8"))
    _set(data, path, 7)
    for command in ("import", "plan"):
        code, out, err = run(capsys, command, write(tmp_path, data), "--epoch", EPOCH)
        assert code == 2 and out == ""
        assert err.strip().endswith(f"{path}: 7 is not an object") or err.strip().endswith(
            f"{path}: 7 is not a list"
        ), err
        assert "Error" not in err and len(err.strip().splitlines()) == 1


def test_a_template_whose_names_refer_to_each_other_is_left_unevaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = json.loads((AZURE / "template-2018.json").read_text(encoding="utf-8"))
    template["variables"] = {"a": "[variables('b')]", "b": "[variables('a')]"}
    template["resources"][1]["sku"]["capacity"] = "[variables('a')]"
    code, _, err = run(capsys, "import", write(tmp_path, template), "--epoch", EPOCH)
    assert code == 2
    assert "sku.capacity: \"[variables('a')]\" is an ARM template expression" in err
