"""Section 7's output vocabulary: the result schema of
properties/schema/result.schema.json holds the exact enumerations the spec
gives (run codes, error codes, startedBy, event names), every example's
result validates against it, and it refuses a document whose words drift from the REST API's."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from model.events import EVENT_TYPES
from model.trace import converter, load_trace
from properties.documents import history_schema, result_schema, schema_problems
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
SPEC = (ROOT / "docs" / "SPEC.md").read_text(encoding="utf-8")
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def _enum(name: str) -> set[str]:
    return set(result_schema()["$defs"][name]["enum"])


def test_section7_run_codes_are_the_specs() -> None:
    (line,) = [x for x in SPEC.splitlines() if x.startswith("Run codes:")]
    assert _enum("runCode") == set(re.findall(r"`(\w+)`", line))


def test_d5_d6_error_codes_are_the_specs() -> None:
    """Every error code the spec names (D5, D6: ...Exceeded..., ...Error), no other."""
    named = set(re.findall(r"`([A-Z]\w*(?:Exceeded\w*|ProvisioningError))`", SPEC))
    assert named and _enum("errorCode") == named


def test_r2_r12_started_by_is_platform_or_user() -> None:
    assert (
        _enum("startedBy")
        == set(re.findall(r"`startedBy: (\w+)`", SPEC))
        == {
            "Platform",
            "User",
        }
    )


def test_section7_event_names_are_the_trace_formats() -> None:
    assert _enum("eventName") == set(EVENT_TYPES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_section7_every_examples_result_and_history_validate(path: Path) -> None:
    result = replay(load_trace(path)).result
    document = converter.unstructure(result)
    today = document.get("api_version") == "2024-07-01"  # section 9's shapes (T3)
    assert schema_problems(document, today=today) == []
    assert schema_problems(document["history"], history=True, today=today) == []


def _history_document() -> dict:
    result = replay(load_trace(ROOT / "examples" / "rolling-upgrade-10.json")).result
    return converter.unstructure(result)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("runningStatus", "code"), "Succeeded"),
        (("startedBy",), "System"),
        (("rollbackInfo",), {"successfullyRolledbackInstanceCount": 0}),
        (("progress", "successfulInstanceCount"), -1),
        (("runningStatus", "startTime"), "2018-10-01 00:01:40"),
        (("error",), {"code": "MaxUnhealthyInstancePercentExceeded", "message": "x"}),
    ],
    ids=["run-code", "started-by", "rollback-info", "progress", "timestamp", "error-code"],
)
def test_section7_schema_refuses_drifted_words(where: tuple[str, ...], value: object) -> None:
    """A word of the REST vocabulary changed in the history is named by its pointer."""
    document = _history_document()
    broken = copy.deepcopy(document)
    target = broken["history"]["value"][0]["properties"]
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    problems = schema_problems(broken)
    assert problems and problems[0].startswith("/history/value/0/properties/"), problems
    assert schema_problems(broken["history"], history=True)


def test_r16_history_schema_refuses_six_entries() -> None:
    history = _history_document()["history"]
    entry = history["value"][0]
    assert schema_problems({"value": [entry] * 5}, history=True) == []
    assert schema_problems({"value": [entry] * 6}, history=True)


def test_history_schema_is_the_result_schemas_part() -> None:
    assert history_schema()["$ref"] == "#/$defs/history"
    assert json.dumps(history_schema()["$defs"]) == json.dumps(result_schema()["$defs"])


def test_e5_section7_a_trace_as_written_reads_back_as_the_same_trace() -> None:
    """What happened, written as a counterexample is and read back, is the same
    trace; a writer that leaves out a publication's eligible_at (T16) breaks
    it at the end of the replay."""
    from properties.mutants import MUTANTS

    trace = load_trace(ROOT / "examples" / "today-eligible-later.json")
    rep = replay(trace)
    assert rep.result.violations == []
    with MUTANTS["written_trace_drops_eligible_at"].applied():
        found = replay(trace).result.violations
    assert [(v.invariant, v.at) for v in found] == [
        ("traces_read_back_as_written", rep.result.time)
    ]
    assert "its events differ" in found[0].message
