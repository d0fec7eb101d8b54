"""The command line (SPEC section 7): `vmss-spec replay TRACE [--json]` and
`vmss-spec diagram [instance|run] [--format mermaid|dot]`, their output and
exit statuses (0 fine, 1 an invariant violated, 2 refused input)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from model.actors import orchestrator
from model.lifecycles import INSTANCE_STATES, INSTANCE_TRANSITIONS, RUN_STATES, RUN_TRANSITIONS
from vmss_spec.cli import main

# The spec's example: 10 instances with a probe, a publication at 100. Batches of
# cap(10) = 2 take 120 + 60 + 30 = 210 s: 100..310, ..., 940..1150.
EXAMPLE: dict[str, Any] = {
    "format": "vmss-upgrade-trace/1",
    "scale_set": {
        "instances": 10,
        "image": {
            "publisher": "Canonical",
            "offer": "UbuntuServer",
            "sku": "18.04-LTS",
            "version": "latest",
        },
        "catalog": ["18.04.201810030"],
        "health_probe": {"kind": "load_balancer"},
    },
    "events": [{"at": 100, "event": "publish_image", "version": "18.04.201811010"}],
}


def write(tmp_path: Path, data: dict[str, Any], name: str = "trace.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------- replay --json
def test_replay_json_result_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(["replay", str(write(tmp_path, EXAMPLE)), "--json"], capsys)
    assert (status, err) == (0, "")
    doc = json.loads(out)
    assert list(doc) == [
        "format",
        "time",
        "instances",
        "runs",
        "history",
        "rejected",
        "warnings",
        "violations",
    ]
    assert doc["format"] == "vmss-upgrade-result/1"
    assert doc["time"] == 1150  # until defaults to the last internal step
    assert doc["instances"][0] == {
        "id": 0,
        "image_version": "18.04.201811010",
        "power_state": "running",
        "provisioning_state": "Succeeded",
        "healthy": True,
        "update_domain": None,
        "os_disk": "os-0-1",
        "data_disks": ["data-0-0"],
    }
    assert list(doc["instances"][0]) == [
        "id",
        "image_version",
        "power_state",
        "provisioning_state",
        "healthy",
        "update_domain",
        "os_disk",
        "data_disks",
    ]
    run = doc["runs"][0]
    assert list(run) == [
        "started_by",
        "target_version",
        "code",
        "error",
        "start",
        "end",
        "batches",
        "progress",
        "rollback",
    ]
    assert run["batches"] == [
        {"instances": [2 * k, 2 * k + 1], "start": 100 + 210 * k, "end": 310 + 210 * k}
        for k in range(5)
    ]
    assert (run["code"], run["error"], run["start"], run["end"]) == ("Completed", None, 100, 1150)
    assert run["progress"] == {
        "successfulInstanceCount": 10,
        "failedInstanceCount": 0,
        "inProgressInstanceCount": 0,
        "pendingInstanceCount": 0,
    }
    entry = doc["history"]["value"][0]
    assert list(entry) == ["properties", "type", "location"]
    assert list(entry["properties"]) == [
        "runningStatus",
        "progress",
        "error",
        "startedBy",
        "targetImageReference",
        "rollbackInfo",
    ]
    assert entry["properties"]["runningStatus"] == {
        "code": "Completed",
        "startTime": "2018-10-01T00:01:40+00:00",
        "endTime": "2018-10-01T00:19:10+00:00",
    }
    assert (entry["type"], entry["location"]) == (
        "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
        "westeurope",
    )
    assert (doc["rejected"], doc["warnings"], doc["violations"]) == ([], [], [])


def test_replay_json_is_byte_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, EXAMPLE)
    first = run_cli(["replay", str(path), "--json"], capsys)
    second = run_cli(["replay", str(path), "--json"], capsys)
    assert first == second
    assert first[1].endswith("}\n")


def test_replay_json_end_time_null_while_rolling_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # At 700 batch 3 (520..730) is in flight.
    status, out, _ = run_cli(
        ["replay", str(write(tmp_path, {**EXAMPLE, "until": 700})), "--json"], capsys
    )
    doc = json.loads(out)
    assert status == 0 and doc["time"] == 700
    assert (doc["runs"][0]["code"], doc["runs"][0]["end"]) == ("RollingForward", None)
    status_json = doc["history"]["value"][0]["properties"]["runningStatus"]
    assert status_json == {
        "code": "RollingForward",
        "startTime": "2018-10-01T00:01:40+00:00",
        "endTime": None,
    }
    assert doc["runs"][0]["progress"] == {
        "successfulInstanceCount": 4,
        "failedInstanceCount": 0,
        "inProgressInstanceCount": 2,
        "pendingInstanceCount": 4,
    }


def test_replay_json_warnings_and_rejections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(json.dumps(EXAMPLE))
    del data["scale_set"]["health_probe"]
    data["events"].append({"at": 150, "event": "start_upgrade"})
    status, out, _ = run_cli(["replay", str(write(tmp_path, data)), "--json"], capsys)
    doc = json.loads(out)
    assert status == 0
    assert [w["rule"] for w in doc["warnings"]] == ["V8"]
    assert doc["warnings"][0]["message"].startswith("health_probe: ")
    assert doc["rejected"] == [
        {"at": 150, "event": "start_upgrade", "reason": "409: a run is active"}
    ]


def test_replay_json_faulted_run_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Three of 10 down at 400 during batch 2 (310..520): 3 > 2 at the check at 520.
    data = json.loads(json.dumps(EXAMPLE))
    data["events"].append({"at": 400, "event": "outage_start", "instances": [7, 8, 9]})
    status, out, _ = run_cli(["replay", str(write(tmp_path, data)), "--json"], capsys)
    doc = json.loads(out)
    assert status == 0 and doc["time"] == 520
    run = doc["runs"][0]
    assert (run["code"], run["end"]) == ("Faulted", 520)
    assert run["error"]["code"] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert list(run["error"]) == ["code", "message"] and run["error"]["message"]
    props = doc["history"]["value"][0]["properties"]
    assert props["error"] == run["error"]
    assert props["runningStatus"]["endTime"] == "2018-10-01T00:08:40+00:00"  # 520 s


# ----------------------------------------------------------------------- replay text
def test_replay_text_timeline_then_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(["replay", str(write(tmp_path, EXAMPLE))], capsys)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    split = lines.index("")
    timeline, history = lines[:split], lines[split + 1 :]
    times = [int(re.match(r"^\s*(\d+)s  ", line).group(1)) for line in timeline]
    assert times == sorted(times) and times[0] == 100 and times[-1] == 1150
    # Batch 1 ends at 310 with 2 successful and 8 pending.
    assert any(
        re.fullmatch(
            r"\s+310s  .*batch 1 ended.*\[ok 2, failed 0, in progress 0, pending 8\]", line
        )
        for line in timeline
    )
    assert any(
        re.fullmatch(r"\s+1150s  .*Completed.*\[ok 10, failed 0, in progress 0, pending 0\]", line)
        for line in timeline
    )
    assert history[0] == "osUpgradeHistory at 1150s (1 entries):"
    entry = history[1]
    for word in (
        "Completed",
        "Platform",
        "18.04.201811010",
        "2018-10-01T00:01:40+00:00",
        "2018-10-01T00:19:10+00:00",
        "ok 10",
    ):
        assert word in entry


# ----------------------------------------------------------------------- violations
def test_replay_exit_1_on_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken model: batches of N instead of cap(N) = max(1, floor(N x 20 / 100)).
    monkeypatch.setattr(orchestrator, "batch_cap", lambda ss, n: n)
    path = write(tmp_path, EXAMPLE)
    status, out, _ = run_cli(["replay", str(path), "--json"], capsys)
    assert status == 1
    i1 = [v for v in json.loads(out)["violations"] if v["invariant"] == "I1"]
    assert i1 and i1[0]["at"] == 100
    assert "run 1 batch 1" in i1[0]["message"]
    assert "10 instances" in i1[0]["message"] and "cap(10) = 2" in i1[0]["message"]
    status, out, _ = run_cli(["replay", str(path)], capsys)
    assert status == 1
    assert re.search(r"^VIOLATION I1 at 100s: run 1 batch 1 ", out, re.MULTILINE)


# ----------------------------------------------------------------------- diagram
def _names(states: list[str], transitions: list[dict[str, Any]]) -> set[str]:
    return set(states) | {t["trigger"] for t in transitions}


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
@pytest.mark.parametrize(
    ("machine", "names"),
    [
        ("instance", _names(INSTANCE_STATES, INSTANCE_TRANSITIONS)),
        ("run", _names(RUN_STATES, RUN_TRANSITIONS)),
    ],
)
def test_diagram_names_every_state_and_trigger(
    machine: str, names: set[str], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(["diagram", machine, "--format", fmt], capsys)
    assert (status, err) == (0, "")
    words = set(re.findall(r"[A-Za-z_]+", out))
    assert names <= words, names - words
    if fmt == "mermaid":
        assert "stateDiagram" in out
    else:
        assert out.lstrip().startswith("digraph")


def test_diagram_edges_follow_the_transitions(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(["diagram", "run", "--format", "mermaid"], capsys)
    for t in RUN_TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for source in sources:
            assert f"{source} --> {t['dest']}: {t['trigger']}" in out


def test_diagram_defaults_to_instance_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    default = run_cli(["diagram"], capsys)
    explicit = run_cli(["diagram", "instance", "--format", "mermaid"], capsys)
    assert default == explicit


# ----------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["replay"],
        ["replay", "a.json", "--bogus"],
        ["diagram", "cluster"],
        ["diagram", "run", "--format", "png"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("vmss-spec")
    assert "Traceback" not in err


def test_replay_reports_a_model_crash_as_a_violation_not_a_traceback(
    monkeypatch, tmp_path, capsys
) -> None:
    """A crash of the model (a bug, as the property machine saves them) replays to
    a `crash: ...` violation with exit 1, never a traceback."""

    def broken(ss, run, n):
        raise KeyError("no batch")

    monkeypatch.setattr(orchestrator, "choose_batch", broken)
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "format": "vmss-upgrade-trace/1",
                "scale_set": {
                    "instances": 3,
                    "image": {
                        "publisher": "Canonical",
                        "offer": "UbuntuServer",
                        "sku": "18.04-LTS",
                        "version": "latest",
                    },
                },
                "events": [{"at": 10, "event": "publish_image", "version": "1.0.1"}],
            }
        )
    )
    assert main(["replay", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["violations"] == [
        {"invariant": "crash: KeyError", "at": 10, "message": "'no batch'"}
    ]
    assert "Traceback" not in err


# ----------------------------------------------------------------------- --version
def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"vmss-spec {version('vmss-upgrade-spec')}\n"


# ----------------------------------------------------------------------- replay -
def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_replay_dash_reads_the_trace_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`replay -` replays the trace on standard input exactly as the same file."""
    path = write(tmp_path, EXAMPLE)
    _stdin(monkeypatch, path.read_bytes())
    piped = run_cli(["replay", "-", "--json"], capsys)
    assert piped == run_cli(["replay", str(path), "--json"], capsys)
    assert piped[0] == 0


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"format": ', "-:1:12: not JSON"),
        (b"\xff\xfe\x00", "-: byte offset"),
        (b"[]", "-"),
    ],
)
def test_replay_dash_refuses_bad_input_as_a_file_would(
    data: bytes,
    words: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Standard input is held to the same bounds and errors as a file: one line
    naming `-` and the place, exit 2; the file gives the same message."""
    _stdin(monkeypatch, data)
    status, out, err = run_cli(["replay", "-"], capsys)
    assert (status, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"vmss-spec replay: {words}") or words == "-"
    path = tmp_path / "t.json"
    path.write_bytes(data)
    _, _, from_file = run_cli(["replay", str(path)], capsys)
    assert err.replace("vmss-spec replay: -", "") == from_file.replace(
        f"vmss-spec replay: {path}", ""
    )


def test_replay_dash_too_large_is_refused_before_reading_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from model import trace

    monkeypatch.setattr(trace, "MAX_FILE_BYTES", 16)
    _stdin(monkeypatch, b" " * 64 + b"{}")
    status, out, err = run_cli(["replay", "-"], capsys)
    assert (
        (status, out) == (2, "") and err.count("\n") == 1 and err.startswith("vmss-spec replay: -")
    )


# ----------------------------------------------------------------------- --out
@pytest.mark.parametrize("kind", ["empty", "file", "unwritable", "under a file"])
def test_verify_unusable_out_refused_in_one_line_before_anything_runs(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from properties import campaign

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the campaign ran")

    monkeypatch.setattr(campaign, "run_campaign", never)
    monkeypatch.setattr("vmss_spec.verify.run_campaign", never)
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = {
        "empty": "",
        "file": str(blocker),
        "unwritable": "/proc",  # a directory no one may write in, not even root
        "under a file": str(blocker / "out"),
    }[kind]
    status, stdout, err = run_cli(["verify", "--out", out], capsys)
    assert (status, stdout) == (2, "")
    assert err.count("\n") == 1 and err.startswith("vmss-spec verify: --out")


# ----------------------------------------------------------------------- unexpected errors
def test_unexpected_exception_is_one_line_exit_2_never_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from model import diagrams

    def broken(*args: Any) -> str:
        raise RuntimeError("graphviz went away\nsecond line")

    monkeypatch.setattr(diagrams, "diagram", broken)
    status, out, err = run_cli(["diagram", "run"], capsys)
    assert (status, out) == (2, "")
    assert err == "vmss-spec diagram: error: RuntimeError: graphviz went away\n"
