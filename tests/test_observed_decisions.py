"""The property layer decides for itself (properties/observed.py) and counts
only what it put to the test: each member's status (D11, R6), who was
rolled back (section 4), how each run ends (D5, D7, D7a, R4), and the
applications of the rules whose condition held (I3 only where a run
stopped, the pause rule only after a batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.facts import outside
from model.replay import replay
from model.trace import load_trace
from properties.checker import Checker

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _checked(name: str) -> tuple[Checker, list[Any]]:
    """The checker of a replay of an example, and the model's runs."""
    made: list[Checker] = []

    def attach(published: object) -> Checker:
        made.append(Checker(published))
        return made[0]

    result = replay(load_trace(EXAMPLES / name), observers=[outside(attach)])
    assert result.result.violations == []
    return made[0], result.scale_set.runs


def test_d7a_d5_r4_the_world_decides_each_runs_end_code_and_error() -> None:
    """The codes and errors come from the layer's own decisions, and agree
    with what the model published."""
    checker, model_runs = _checked("pre-batch-check-refuses.json")
    runs = checker.world.runs
    assert [(r.code, r.error_code) for r in runs] == [
        (r.code, r.error[0] if r.error else None) for r in model_runs
    ]
    assert runs[0].code == "Faulted" and runs[0].error_code.startswith("MaxUnhealthy")
    assert runs[0].decision == runs[0].code + " " + runs[0].error_code


def test_d11_section4_rollback_is_seen_from_the_disks() -> None:
    """A member counts as rolled back when its previous disk (name and
    version) is seen back; the layer's count equals rollbackInfo's."""
    checker, model_runs = _checked("broken-image-rollback.json")
    restored = [i for r in checker.world.runs for b in r.batches for i in sorted(b.restored)]
    assert restored and len(restored) == sum(r.rolled_back for r in model_runs)
    for run in checker.world.runs:
        for batch in run.batches:
            assert all(batch.done[i] == "failed" for i in batch.restored)


def test_d7_cancel_stands_from_its_begin_and_ends_cancelled() -> None:
    checker, _ = _checked("cancel-upgrade.json")
    cancelled = [r for r in checker.world.runs if r.code == "Cancelled"]
    assert cancelled and all(r.cancel_asked and r.error_code is None for r in cancelled)


def test_i3_applies_only_where_a_run_was_seen_stopped() -> None:
    stopped = _checked("pre-batch-check-refuses.json")[0].counts()["I3"]
    assert stopped.applications >= 1
    completed = _checked("rolling-upgrade-10.json")[0].counts()["I3"]
    assert completed.applications == 0


def test_section4_pause_rule_counts_only_checks_after_a_batch() -> None:
    """Five batches: a check after each of the first four; the run's first
    check, at its start, is a guard and not an application, and the fifth
    batch's end completes the run (D7a) with no check after it."""
    checker, _ = _checked("rolling-upgrade-10.json")
    run = checker.world.runs[0]
    assert len(run.batches) == 5
    tally = checker.counts()["pause_is_waited_exactly"]
    assert tally.applications == len(run.batches) - 1
