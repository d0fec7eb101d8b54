"""The README and the docs pages it links to are part of the product: the
README is a user's guide of at most 15 KB whose test command is what CI
runs; the Python example of docs/python.md runs, and the diagrams and tables
of docs/architecture.md are the machines' and the step table's own."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from model.diagrams import diagram

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PYTHON = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_readme_is_a_users_guide_under_15_kb() -> None:
    """What the project is, the quick start, a short tour and the further
    reading, in that order and nothing else, in at most 15 KB."""
    assert len((ROOT / "README.md").read_bytes()) <= 15 * 1024
    assert re.findall(r"^## (.*)$", README, re.M) == ["Quick start", "A tour", "Further reading"]
    tour = re.findall(r"^### (.*)$", _section("A tour"), re.M)
    assert [t.split(":")[0].split("?")[0] for t in tour] == [
        "Replay a trace",
        "Why did it stop",
        "Verify",
        "A counterexample, and how to replay it",
        "Every behaviour of a small scope",
        "Where a rule lives",
        "A picture",
        "Today's Azure",
        "A real scale set",
    ]


def test_readme_python_example_runs_and_prints_what_it_says() -> None:
    code = re.findall(r"```python\n(.*?)```", PYTHON, re.S)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/python.md", "exec"), {})
    lines = out.getvalue().splitlines()
    # R2, R5, D1: two batches of 2 are under way at 400 s (100-310, 310-520).
    assert lines[0].startswith("RollingForward [[0, 1], [2, 3]]")
    # R8, D5: 3 of 10 down > floor(10 x 20%) = 2 at the check after batch 2.
    assert lines[1] == "Faulted MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert lines[2] == "False"
    # D13, R16: the history entry in its REST shape; section 7: the instance view.
    assert lines[3].startswith("RunningStatus(code='Faulted', startTime='2018-10-01T00:01:40")
    assert lines[4].startswith("InstanceView(id=7, image_version='18.04.201810030', power_state=")
    # Each output the example's comments show is what it printed.
    shown = [c.strip()[2:] for c in code.splitlines() if c.startswith("# ")]
    for said, printed in zip(shown, [lines[0], lines[3], lines[4]], strict=True):
        assert printed.startswith(said.split("...")[0].rstrip(", ")), said


def test_readme_diagrams_are_generated_from_the_machines() -> None:
    blocks = re.findall(r"```mermaid\n(.*?)```", ARCHITECTURE, re.S)
    assert blocks == [diagram("instance", "mermaid"), diagram("run", "mermaid")]


def test_readme_quick_start_has_exactly_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    assert len(blocks) == 2
    assert all(len(b.strip().splitlines()) == 1 for b in blocks)
    assert "vmss-spec verify" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_readme_step_table_is_the_model_table() -> None:
    from model.steps import markdown_table

    assert markdown_table() in ARCHITECTURE


def test_readme_transition_table_says_where_each_trigger_fires() -> None:
    """Each instance trigger fires (``inst.<trigger>()``) exactly in the modules
    docs/architecture.md's table names; every run trigger in the orchestrator."""
    import re as _re

    from model.lifecycles import INSTANCE_TRANSITIONS, RUN_TRANSITIONS

    actors = ROOT / "model" / "actors"
    sources = {p.name: p.read_text() for p in actors.glob("*.py")}
    rows = _re.findall(r"^\| (instance|run) \| (.*?) \| (.*?) \|", ARCHITECTURE, _re.M)
    table: dict[str, set[str]] = {}
    for machine, triggers, where in rows:
        files = set(_re.findall(r"model/actors/(\w+\.py)", where))
        names = _re.findall(r"`(\w+)`", triggers)
        if machine == "run":
            names = [t["trigger"] for t in RUN_TRANSITIONS]
        for name in names:
            table[name] = files
    for t in INSTANCE_TRANSITIONS + RUN_TRANSITIONS:
        name = t["trigger"]
        var = "run" if t in RUN_TRANSITIONS else "inst"
        firing = {f for f, text in sources.items() if f"{var}.{name}()" in text}
        assert firing == table[name], (name, firing, table.get(name))
