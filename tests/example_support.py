"""Shared helpers of the example tests (tests/test_examples_*.py): where the
examples live, the image versions they use, a way to replay an example (whole, or
up to a moment) and the parts of a replay that the tests compare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

import model
from model.replay import Replay
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MALFORMED = EXAMPLES / "malformed"

OLD = "18.04.201810030"  # the catalog's only version at time 0: instances start on it
NEW = "18.04.201811010"  # the first publication
NEWER = "18.04.201812010"  # a second publication
UBUNTU = {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS"}
NO_ROLLBACK = {"successfullyRolledbackInstanceCount": 0, "failedRolledbackInstanceCount": 0}


def play(name: str) -> Replay:
    """Replay examples/<name>; every example replays clean: no violation, exit 0."""
    rep = replay(model.load_trace(EXAMPLES / name))
    assert rep.result.violations == []
    assert rep.exit_status == 0
    return rep


def play_prefix(name: str, until: int) -> Replay:
    """Replay the events of examples/<name> at or before ``until`` and stop at ``until``
    (to look at the scale set in the middle of the example)."""
    trace = model.load_trace(EXAMPLES / name)
    events = tuple(ev for ev in trace.events if ev.at <= until)
    rep = replay(attrs.evolve(trace, events=events, until=until))
    assert rep.result.violations == []
    assert rep.exit_status == 0
    assert rep.result.time == until
    return rep


def batches(run: Any) -> list[tuple[list[int], int, int | None]]:
    return [(b.instances, b.start, b.end) for b in run.batches]


def progress(ok: int, failed: int, in_progress: int, pending: int) -> dict[str, int]:
    return {
        "successfulInstanceCount": ok,
        "failedInstanceCount": failed,
        "inProgressInstanceCount": in_progress,
        "pendingInstanceCount": pending,
    }


def instances(rep: Replay) -> dict[int, tuple[str, str, str, bool, str]]:
    """id -> (version, power state, provisioning state, healthy, OS disk)."""
    return {
        i.id: (i.image_version, i.power_state, i.provisioning_state, i.healthy, i.os_disk)
        for i in rep.result.instances
    }


def history(rep: Replay) -> list[tuple[str, str, str, str, str | None, str | None]]:
    """The osUpgradeHistory view: (code, startedBy, target version, startTime,
    endTime, error code) per entry, in the view's order."""
    rows = []
    for entry in rep.result.history.value:
        p = entry.properties
        rows.append(
            (
                p.runningStatus.code,
                p.startedBy,
                p.targetImageReference.version,
                p.runningStatus.startTime,
                p.runningStatus.endTime,
                None if p.error is None else p.error.code,
            )
        )
    return rows


def checks(rep: Replay, run: int = 0) -> list[tuple[int, int, int, int]]:
    """The pre-batch checks (R4, R8) of a run: (at, N, unhealthy, limit)."""
    return [(c.at, c.instance_count, c.unhealthy, c.limit) for c in rep.scale_set.runs[run].checks]


def rejected(rep: Replay) -> list[tuple[int, str, str]]:
    return [(r.at, r.event, r.reason) for r in rep.result.rejected]


def warnings(rep: Replay) -> list[str]:
    return [w.rule for w in rep.result.warnings]
