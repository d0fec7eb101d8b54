"""``vmss-spec explain --history``: a real upgrade history (az's list or the
REST response) read through the SDK's ``UpgradeOperationHistoricalStatusInfo``
against D5, D6, D7, D11, I9, I10, R16 and section 7."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from azure.mgmt.compute.models import UpgradeOperationHistoricalStatusInfo

from model.trace import load_trace, result_to_dict
from vmss_spec.cli import main
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
AZURE = ROOT / "examples" / "azure"
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def entry(
    code: str = "Completed",
    start: str = "2026-12-01T00:00:00+00:00",
    end: str | None = "2026-12-01T00:20:00+00:00",
    s: int = 10,
    f: int = 0,
    ip: int = 0,
    p: int = 0,
    error: dict | None = None,
) -> dict:
    return {
        "properties": {
            "runningStatus": {"code": code, "startTime": start, "endTime": end},
            "progress": {
                "successfulInstanceCount": s,
                "failedInstanceCount": f,
                "inProgressInstanceCount": ip,
                "pendingInstanceCount": p,
            },
            "error": error,
            "startedBy": "Platform",
        },
        "type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
        "location": "westeurope",
    }


def history_file(tmp_path: Path, entries: list[dict], rest: bool = False) -> str:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"value": entries} if rest else entries), encoding="utf-8")
    return str(path)


def test_d5_d7_d7a_each_entry_said_with_its_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = explain(
        capsys,
        "--history",
        str(AZURE / "history.json"),
        "--scale-set",
        str(AZURE / "vmss-show.json"),
    )
    assert code == 0
    assert "R4 and D5 stopped it: the pre-batch check before a later batch" in out
    assert "the limit is floor(10 x 20 / 100) = 2: at least 3 were unhealthy" in out
    assert "It was cancelled (D7)" in out
    assert "It completed: no pending instance was left at the end of a batch (D7a)." in out
    assert "1 instance(s) got their previous OS disk back" in out
    assert "finding" not in out


def test_findings_name_rule_entry_and_field_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = explain(capsys, "--history", str(AZURE / "history-broken.json"))
    assert code == 1
    findings = [line.strip() for line in out.splitlines() if "finding (" in line]
    assert findings == [
        "finding (section 7): entry 0, runningStatus.endTime: set on a RollingForward run",
        "finding (I9): entry 1, progress.pendingInstanceCount: 2 in a Completed run",
        "finding (D5): entry 1, error: MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
        " on a Completed run",
        "finding (R16): entry 1, runningStatus.startTime: later than entry 0's, but R16 lists "
        "the newest first",
    ]
    assert "The spec cannot account for its error 'RollingUpgradeTimeoutError'" in out


@pytest.mark.parametrize(
    ("entries", "finding"),
    [
        (
            [
                entry("RollingForward", end=None, s=2, ip=2, p=6),
                entry("RollingForward", start="2026-11-30T00:00:00+00:00", end=None),
            ],
            "finding (I10): entries 0, 1: runningStatus.code: more than one run RollingForward",
        ),
        (
            [entry(start="2026-12-01T00:10:00+00:00"), entry()],
            "finding (I10): entries 1 and 0, runningStatus: both active",
        ),
        (
            [
                entry(
                    start=f"2026-11-{d:02d}T00:00:00+00:00", end=f"2026-11-{d:02d}T00:20:00+00:00"
                )
                for d in (20, 18, 16, 14, 12, 10)
            ],
            "finding (R16): the history: 6 entries, at most 5",
        ),
        (
            [entry(), entry(start="2026-09-01T00:00:00+00:00", end="2026-09-01T00:20:00+00:00")],
            "finding (R16): entry 1, runningStatus.startTime: more than 60 days",
        ),
        ([entry("Faulted")], "finding (D5): entry 0, error: null on a Faulted run"),
        (
            [entry("Cancelled", error={"code": "X", "message": "m"})],
            "finding (D5): entry 0, error: X: a Cancelled run has error null",
        ),
        ([entry("Completed", ip=1)], "finding (I9): entry 0, progress.inProgressInstanceCount"),
        (
            [entry("Completed", end=None)],
            "finding (section 7): entry 0, runningStatus.endTime: null",
        ),
        (
            [entry("Faulted", s=0, f=0, error={"code": "VMExtensionProvisioningError"})],
            "finding (D6): entry 0, progress.failedInstanceCount",
        ),
        (
            [
                entry(
                    "Faulted",
                    s=3,
                    f=1,
                    error={"code": "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"},
                )
            ],
            "finding (D5): entry 0, progress: 4 done before the first batch",
        ),
    ],
)
def test_each_rule_a_history_can_break_is_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entries: list[dict], finding: str
) -> None:
    code, out, _ = explain(capsys, "--history", history_file(tmp_path, entries))
    assert code == 1
    assert finding in out


def test_section_4_upgraded_unhealthy_counts_against_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = {"code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"}
    scale_set = str(AZURE / "vmss-show.json")  # today's: upgraded-unhealthy at 20%
    ok = history_file(tmp_path, [entry("Faulted", s=2, f=1, p=7, error=err)])
    code, out, _ = explain(capsys, "--history", ok, "--scale-set", scale_set)
    assert code == 0 and "1 failed of 3 done; floor(3 x 20 / 100) = 0." in out
    bad = history_file(tmp_path, [entry("Faulted", s=9, f=1, error=err)])
    code, out, _ = explain(capsys, "--history", bad, "--scale-set", scale_set)
    assert code == 1 and "1 is not more than 2: the check would not stop the run" in out


def test_an_unknown_code_is_said_not_explained_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = explain(capsys, "--history", history_file(tmp_path, [entry("RollingBack")]))
    assert code == 0
    assert "The spec cannot account for it: runningStatus.code 'RollingBack'" in out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_r16_the_model_history_round_trips_through_the_sdk_and_reads_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    history = result_to_dict(replay(load_trace(path)).result)["history"]
    for item in history["value"]:
        assert UpgradeOperationHistoricalStatusInfo(copy.deepcopy(item)).as_dict() == item
    code, out, _ = explain(
        capsys,
        "--history",
        history_file(tmp_path, history["value"], True),
        "--scale-set",
        str(path),
    )
    assert code == 0, out
    assert "finding" not in out


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"name": "x"}', "not an upgrade history"), ("[1]", "/0: not an object"), ("{", "")],
)
def test_not_a_history_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "h.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = explain(capsys, "--history", str(path))
    assert code == 2 and out == "" and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("field", ["startTime", "endTime"])
def test_a_time_that_is_not_a_date_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    bad = entry()
    bad["properties"]["runningStatus"][field] = "yesterday"
    code, out, err = explain(capsys, "--history", history_file(tmp_path, [bad], rest=True))
    assert code == 2 and out == ""
    assert f"/value/0/properties/runningStatus/{field}: 'yesterday' is not a date-time" in err
