"""``vmss-spec plan``: the next upgrade of a scale set (a trace, or Azure's
JSON imported) from replaying the model: R5's batches with their times, the
fewest instances serving (R7), and before each batch R4's margin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.trace import load_trace, parse_trace
from vmss_spec.cli import main
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
AZURE = ROOT / "examples" / "azure"
EPOCH = ("--epoch", "2026-12-04T00:00:00Z")


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["plan", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def batches(doc: dict) -> list[tuple[list[int], int, int, int]]:
    return [(b["instances"], b["start"], b["end"], b["margin"]) for b in doc["batches"]]


#: fixture -> batches (ids, start, end, margin before), run end, fewest serving
EXPECTED = {
    "vmss-show.json": (
        [
            ([0, 1], 0, 210, 2),
            ([2, 3], 210, 420, 2),
            ([4, 5], 420, 630, 2),
            ([6, 7], 630, 840, 2),
            ([8, 9], 840, 1050, 2),
        ],
        1050,
        (8, 10),
    ),
    "get-minimal.json": (
        [([0], 0, 210, 0), ([1], 210, 420, 0), ([2], 420, 630, 0)],
        630,
        (2, 3),
    ),
    "get-full.json": (  # today's Platform run with useRollingUpgradePolicy: 25%, a 1-minute pause
        [
            ([0, 1, 2], 0, 210, 3),
            ([3, 4, 5], 270, 480, 3),
            ([6, 7, 8], 540, 750, 3),
            ([9, 10, 11], 810, 1020, 3),
        ],
        1020,
        (9, 12),
    ),
    "get-2020-06-01.json": (  # the Application Health extension, 20% of 5
        [([k], 210 * k, 210 * (k + 1), 1) for k in range(5)],
        1050,
        (4, 5),
    ),
    "get-2022-08-01.json": (  # Service Fabric Silver, five update domains of one
        [([k], 210 * k, 210 * (k + 1), 1) for k in range(5)],
        1050,
        (4, 5),
    ),
    "get-uncovered.json": (  # today's defaults for a Platform run: batches of 20% of 6
        [([k], 210 * k, 210 * (k + 1), 1) for k in range(6)],
        1260,
        (5, 6),
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_r5_r4_import_then_plan_gives_the_expected_plan(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    doc = plan_json(capsys, str(AZURE / name), *EPOCH)
    want, end, (fewest, of) = EXPECTED[name]
    assert batches(doc) == want
    assert doc["run"]["code"] == "Completed" and doc["run"]["end"] == end
    assert doc["run"]["duration"] == end - doc["run"]["start"]
    assert (doc["serving"]["fewest"], doc["serving"]["of"]) == (fewest, of)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plan_numbers_are_the_model_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The plan's batches are those a replay of the imported trace records."""
    assert main(["import", str(AZURE / name), "--trace", *EPOCH]) == 0
    trace = parse_trace(json.loads(capsys.readouterr().out))
    run = replay(trace).result.runs[0]
    doc = plan_json(capsys, str(AZURE / name), *EPOCH)
    assert [(b["instances"], b["start"], b["end"]) for b in doc["batches"]] == [
        (list(b.instances), b.start, b.end) for b in run.batches
    ]
    assert (doc["run"]["start"], doc["run"]["end"]) == (run.start, run.end)


def test_r4_unhealthy_instances_use_up_the_margin(capsys: pytest.CaptureFixture[str]) -> None:
    doc = plan_json(capsys, str(AZURE / "vmss-show.json"), *EPOCH, "--unhealthy", "2")
    assert doc["unhealthy_at_start"] == [0, 1]
    first = doc["batches"][0]
    assert (first["unhealthy_before"], first["limit"], first["margin"]) == (2, 2, 0)
    doc = plan_json(capsys, str(AZURE / "vmss-show.json"), *EPOCH, "--unhealthy", "3")
    assert doc["batches"] == []
    assert doc["run"]["code"] == "Faulted"
    assert doc["run"]["error"]["code"] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    assert doc["run"]["stopped_by_check"] == {"at": 0, "unhealthy": 3, "limit": 2}
    assert doc["serving"]["fewest"] == 7


def test_unhealthy_ids_choose_which(capsys: pytest.CaptureFixture[str]) -> None:
    doc = plan_json(capsys, str(AZURE / "get-minimal.json"), *EPOCH, "--unhealthy-ids", "2")
    assert doc["unhealthy_at_start"] == [2]
    assert doc["run"]["code"] == "Faulted"  # 1 of 3 is more than floor(3 x 20 / 100) = 0


def test_a_trace_is_planned_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "examples" / "rolling-upgrade-10.json"
    doc = plan_json(capsys, str(path))
    run = replay(load_trace(path)).result.runs[0]
    assert doc["assumed_publication"] is None
    assert [b["instances"] for b in doc["batches"]] == [list(b.instances) for b in run.batches]


def test_d16_a_v_error_means_no_run_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    doc = plan_json(capsys, str(AZURE / "template-2018.json"), *EPOCH)
    assert doc["run"] is None
    assert doc["why_no_run"].startswith("V2")


def test_text_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "plan.html"
    assert main(["plan", str(AZURE / "vmss-show.json"), *EPOCH, "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "batch 1: 0, 1  0s-210s; before it 0 unhealthy, limit 2: 2 more may become" in out
    assert "Fewest serving (healthy, in no operation): 8 of 10, first at 0s." in out
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--unhealthy", "11"], "--unhealthy: 11 is more than the 10 instances"),
        (["--unhealthy-ids", "10"], "--unhealthy-ids: 10 is not an instance"),
        (["--unhealthy-ids", "a,b"], "is not a list of ids"),
        (["--unhealthy", "-1"], "is not a whole number"),
    ],
)
def test_bad_options_are_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(["plan", str(AZURE / "vmss-show.json"), *EPOCH, *argv])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_readme_real_scale_set_lines_are_what_the_commands_print(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("### A real scale set", 1)[1].split("```", 2)[1]
    shown = [line for line in block.splitlines() if line and not line.startswith("$")]
    shown = [line for line in shown if "..." not in line]
    assert (
        main(
            ["plan", str(AZURE / "vmss-show.json"), *EPOCH, "--current-version", "22.04.202611010"]
        )
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert (
        main(
            [
                "explain",
                "--history",
                str(AZURE / "history.json"),
                "--scale-set",
                str(AZURE / "vmss-show.json"),
            ]
        )
        == 0
    )
    printed += capsys.readouterr().out.splitlines()
    assert len(shown) >= 4
    for line in shown:
        assert line in printed, line
