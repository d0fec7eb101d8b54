"""The house rules of the code: layers point one way, every change of state
starts from a row of the step table, and no source file grows past 500 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from model import steps
from model.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("model", "properties", "vmss_spec")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("model", ("properties", "vmss_spec")), ("properties", ("vmss_spec",))],
)
def test_layers_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    """model/ knows nothing of the properties that check it nor of the command
    line; properties/ knows nothing of the command line."""
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _sources(package)
        for module in sorted(_imports(path))
        if module.split(".")[0] in forbidden
    ]
    assert not bad, bad


def test_no_source_file_over_500_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for package in (*PACKAGES, "tests")
        for path in _sources(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    ]
    assert not long, long


def test_step_table_has_a_row_per_event_of_section_7() -> None:
    assert set(steps.EVENTS) == set(EVENT_TYPES)


def test_step_table_rows_name_actor_rules_and_function() -> None:
    for row in steps.TABLE:
        assert row.actor and row.rules and callable(row.perform), row
        assert re.search(r"\b(?:[RDV]|T|TD)\d+a?\b|section 4", row.rules), row


def test_every_scheduled_step_is_a_queued_row() -> None:
    """Internal steps are queued by name; each name is a queued row of the table."""
    names = set()
    for path in _sources("model"):
        text = path.read_text()
        names |= set(re.findall(r'schedule_(?:instance|run)\([^)]*?"(\w+)"', text))
        names |= set(re.findall(r'INTERNAL\["(\w+)"\]', text))  # section 9's queued steps
    assert names, "no scheduled step found"
    assert names == set(steps.INTERNAL)


def test_actors_call_each_other_through_named_modules() -> None:
    """No actor is a mixin: the actions are functions of the scale set, and the
    scale set does not inherit from any of them."""
    from model.scaleset import ScaleSet

    assert ScaleSet.__bases__ == (object,)
    for path in _sources("model/actors"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert not [c for c in classes if c.endswith("Actions")], path


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.json")))
def test_d12_loop_is_the_same_whether_or_not_anyone_listens(name: str) -> None:
    """D12 and the recording channel: a scale set nobody subscribes to runs the
    quiet step loop, one with a subscriber the loop that reports each step;
    both play an example to the same result document, and the subscriber hears
    a begin for every step the model took and an end for each that did something."""
    import model
    from model.replay import run_trace
    from model.trace import result_to_json

    trace = model.load_trace(ROOT / "examples" / name)
    quiet = run_trace(trace)
    heard: list[str] = []
    loud = run_trace(trace, listeners=[lambda ss: lambda fact, *args: heard.append(fact)])
    for played in (quiet, loud):
        assert played.crash is None
    same = [result_to_json(p.scale_set.result()) for p in (quiet, loud)]
    assert same[0] == same[1]
    assert quiet.scale_set.steps_taken == loud.scale_set.steps_taken
    assert heard.count("step") == loud.scale_set.steps_taken
    ends = heard.count("step") + heard.count("event") + heard.count("rejected")
    assert heard.count("begin") >= ends > 0  # a stale queued step begins and records no end
