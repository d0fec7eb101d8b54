"""Section 8: `vmss-spec check` explores every behaviour of a scope (E1-E5)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from model.trace import load_trace
from properties.explore import Visited, explore
from properties.scope import STANDARD, ScopeError, load_scope, scope_from_data
from vmss_spec.cli import main
from vmss_spec.options import under_mutant
from vmss_spec.replay import replay

TINY = {
    "scale_set": {
        "instances": 2,
        "image": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS",
                  "version": "latest"},
        "health_probe": {"kind": "application_health"},
        "policy": {"max_batch_instance_percent": 50, "max_unhealthy_instance_percent": 50},
    },
    "events": {"publish_image": {"budget": 1, "app_healthy": [True, False]}},
}  # fmt: skip


def _pinned(name: str) -> dict[str, int]:
    text = resources.files("properties").joinpath("scopes", f"{name}.toml").read_text()
    return tomllib.loads(text)["pinned"]


@pytest.mark.parametrize("name", STANDARD)
def test_e5_each_standard_scope_is_explored_completely_with_its_pinned_counts(name: str) -> None:
    scope = load_scope(name)
    outcome = explore(scope)
    assert outcome.complete and outcome.violation is None
    counts = {"states": outcome.states, "transitions": outcome.transitions, "depth": outcome.depth}
    assert counts == _pinned(name), "the model's semantics changed: explain the new counts"
    # E5: per property, the transitions on which its rule applied; some apply in every scope
    assert outcome.applied["steps_in_d12_order"] > 0
    assert outcome.applied["I1"] > 0


def test_e1_a_publication_publishes_the_latest_with_its_last_part_increased() -> None:
    scope = scope_from_data(TINY, "tiny")
    events = list(scope.events(scope.budgets(), [0, 1], "1.0.9", 5))
    assert [(e.version, e.app_healthy, e.at) for _, e in events] == [
        ("1.0.10", True, 5),
        ("1.0.10", False, 5),
    ]


def test_e1_events_on_instances_take_every_set_up_to_the_size() -> None:
    data = {**TINY, "events": {"outage_start": {"budget": 1, "instances": 2}}}
    scope = scope_from_data(data, "tiny")
    sets = [e.instances for _, e in scope.events(scope.budgets(), [0, 1, 2], "1.0.0", 0)]
    assert sets == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
    assert list(scope.events((0,), [0, 1, 2], "1.0.0", 0)) == []  # no budget left


def test_e2_e5_no_violation_only_after_a_complete_exploration(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    assert main(["check", str(path), "--out", str(tmp_path / "ce.json")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("no violation in this scope")
    assert "one second before the next internal step" in out  # E2's abstraction is said
    assert main(["check", str(path), "--max-states", "5", "--out", str(tmp_path / "x")]) == 3
    out = capsys.readouterr().out
    assert "INCOMPLETE (--max-states 5 reached)" in out
    assert "no violation in this scope" not in out


def test_e5_json_result(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(
        '[scale_set]\ninstances = 2\nimage = {publisher = "Canonical", offer = "UbuntuServer", '
        'sku = "18.04-LTS", version = "latest"}\n[events.publish_image]\nbudget = 1\n'
    )
    assert main(["check", str(path), "--json", "--out", str(tmp_path / "ce.json")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] is True and doc["violation"] is None
    assert doc["states"] > 1 and doc["transitions"] >= doc["states"] - 1
    assert 0 < doc["collision_probability"] < 1e-15
    assert doc["applied"]["publication_newer_than_latest"] >= 1


@pytest.mark.parametrize(
    ("mutant", "prop"),
    [("batches_in_descending_id_order", "batch_is_d2_choice"), ("pause_never_ends", "L2")],
)
def test_e4_e5_a_violation_is_a_shortest_trace_that_replay_reports_alike(
    tmp_path: Path, capsys, mutant: str, prop: str
) -> None:
    policy = {"max_batch_instance_percent": 34, "pause_time_between_batches": "PT5S"}
    data = {**TINY, "scale_set": {**TINY["scale_set"], "instances": 3, "policy": policy}}
    path, out = tmp_path / "scope.json", tmp_path / "ce.json"
    path.write_text(json.dumps(data))
    assert main(["check", str(path), "--mutant", mutant, "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"VIOLATION {prop} at " in printed
    at = int(printed.split(f"VIOLATION {prop} at ")[1].split(":")[0])
    with under_mutant(mutant):
        violations = replay(load_trace(out)).result.violations
    assert violations and (violations[0].invariant, violations[0].at) == (prop, at)
    with under_mutant(mutant):
        found = explore(scope_from_data(data, "scope"))
    events = json.loads(out.read_text())["events"]
    assert found.violation is not None and found.violation.invariant == prop
    assert 1 <= len(events) <= found.counterexample_length  # an event is one transition
    assert f"shortest behaviour: {found.counterexample_length} transitions" in printed


def test_e1_a_wrong_field_of_a_scope_is_refused_with_its_place(tmp_path: Path, capsys) -> None:
    cases = {
        "budget.json": ({**TINY, "events": {"publish_image": {"budget": -1}}},
                        "events.publish_image.budget"),
        "kind.json": ({**TINY, "events": {"reboot": {"budget": 1}}}, "events"),
        "scale.json": ({**TINY, "scale_set": {"instances": "3"}}, "scale_set"),
        "cred.json": ({**TINY, "events": {"expire_credential": {"budget": 1, "name": ["x"]}}},
                      "events.expire_credential.name"),
    }  # fmt: skip
    for file, (data, place) in cases.items():
        path = tmp_path / file
        path.write_text(json.dumps(data))
        assert main(["check", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and place in err and "Traceback" not in err, err
    assert main(["check", str(tmp_path / "none.toml")]) == 2
    assert "cannot read it" in capsys.readouterr().err
    with pytest.raises(ScopeError):
        scope_from_data([], "list")


def test_e5_an_existing_counterexample_file_is_never_overwritten(tmp_path: Path, capsys) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    assert main(["check", str(path), "--out", str(path)]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert json.loads(path.read_text()) == TINY


def test_e3_visited_states_are_fingerprints_in_a_compact_table() -> None:
    visited = Visited(slots=4)
    rng = random.Random(7)
    fps = [rng.getrandbits(64) for _ in range(5000)]
    numbers = [visited.add(fp, 0, 0) for fp in fps]
    assert numbers == list(range(5000))
    assert all(visited.add(fp, 0, 0) == -1 for fp in fps)  # each seen once
    assert visited.add(0, 0, 0) == 5000  # zero is a fingerprint like any other
    # 8 bytes a slot (at most twice as many slots as states) and 8 bytes a state
    assert visited.nbytes() <= 5001 * (2 * 8 * 2 + 8)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_e5_ctrl_c_prints_what_was_explored_marked_incomplete(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vmss_spec.cli", "check", "small", "--out", str(tmp_path / "c")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    proc.stderr.readline()  # the first progress line: the check is under way
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "INCOMPLETE (interrupted)" in out and "distinct states" in out


def test_e5_the_guide_table_of_standard_scopes_is_their_files() -> None:
    """docs/check.md lists every standard scope with its description and its
    pinned counts, as the scope files say."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "check.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    assert list(rows) == list(STANDARD)
    for name, (what, states, transitions, depth) in rows.items():
        scope, pinned = load_scope(name), _pinned(name)
        assert what == scope.description
        assert [states, transitions, depth] == [
            f"{pinned['states']:,}",
            f"{pinned['transitions']:,}",
            str(pinned["depth"]),
        ]


def test_e5_two_workers_explore_the_same_states_and_find_the_same_violation() -> None:
    from properties.explore_workers import explore_parallel

    scope = load_scope("rollback")  # small: the suite itself runs on two workers
    alone, shared = explore(scope), explore_parallel(scope, 2)
    assert shared.complete and shared.violation is None
    assert (shared.states, shared.transitions, shared.depth) == (
        alone.states,
        alone.transitions,
        alone.depth,
    )
    assert shared.applied == alone.applied
    tiny = scope_from_data(TINY, "tiny")
    with under_mutant("batches_in_descending_id_order"):
        found = explore_parallel(tiny, 2)
    assert found.violation is not None and found.violation.invariant == "batch_is_d2_choice"
    assert found.counterexample_length == 1


def test_e5_each_broken_variant_is_in_the_table_of_what_check_catches() -> None:
    """docs/check-variants.md (written by ``mutants --check --markdown``) has
    one row per broken variant, and none of those a scope can reach is missed."""
    from properties.mutants import MUTANTS

    text = (Path(__file__).resolve().parent.parent / "docs" / "check-variants.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    names = [row.split("`")[1] for row in rows]
    assert sorted(names) == sorted(MUTANTS)
    assert not [row for row in rows if "MISSED" in row]


def test_e5_mutants_check_explores_a_variant_on_the_standard_scopes(capsys) -> None:
    assert main(["mutants", "--check", "batch_cap_rounded_up", "percent_of_5_refused"]) == 0
    out = capsys.readouterr().out
    assert "| `batch_cap_rounded_up` | D1 | " in out and "`batch_is_d2_choice`" in out
    assert "not explored (a trace document, V10)" in out
    assert "1 of 1 variants caught by check on a standard scope" in out
