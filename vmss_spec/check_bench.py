"""The benchmark of `vmss-spec check` (part of ``vmss-spec bench``): the
distinct states and transitions per second of a complete check of the first
standard scope with every property on, with one worker and with two, the
bytes the visited table holds per
state at a million states, and what capturing and restoring a state costs
for 3 and for 10 instances (SPEC E3)."""

from __future__ import annotations

import random
import time
from typing import Any

import properties.memory  # noqa: F401 - the property layer's E3 declarations
from model.events import PublishImage
from model.facts import observe
from model.scaleset import ScaleSet
from model.snapshot import capture, restore
from properties.checker import Checker
from properties.explore import Visited, explore
from properties.scope import STANDARD, load_scope


def _mid_run(instances: int) -> tuple[ScaleSet, Checker]:
    """A scale set with its checker in the middle of a run's first batch."""
    from vmss_spec.bench import fleet_config

    ss = ScaleSet(fleet_config(instances))
    checker = observe(ss, Checker)
    ss.apply(PublishImage(at=0, version="18.04.201811010"))
    ss.advance(150)
    checker.tick()
    return ss, checker


def state_costs(instances: int, repeat: int) -> dict[str, Any]:
    """Microseconds to capture a state (its canonical form and its copy) and
    to restore it, the best of ``repeat`` rounds of 20."""
    ss, checker = _mid_run(instances)
    best_capture = best_restore = float("inf")
    snap = capture((ss, checker), ss.now)
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(20):
            snap = capture((ss, checker), ss.now)
        best_capture = min(best_capture, (time.perf_counter() - start) / 20)
        start = time.perf_counter()
        for _ in range(20):
            restore(snap)
        best_restore = min(best_restore, (time.perf_counter() - start) / 20)
    return {
        "instances": instances,
        "capture_us": round(best_capture * 1e6),
        "restore_us": round(best_restore * 1e6),
        "copy_bytes": len(snap.frozen),
    }


def table_bytes(states: int) -> float:
    """Bytes per state of the visited table holding ``states`` fingerprints."""
    visited = Visited()
    rng = random.Random(0)
    for k in range(states):
        visited.add(rng.getrandbits(64), k - 1, 0)
    return visited.nbytes() / states


def bench_check(quick: bool = False) -> dict[str, Any]:
    scope = load_scope(STANDARD[0])
    outcome = explore(scope, max_states=2_000 if quick else None)
    from properties.explore_workers import explore_parallel

    shared = explore_parallel(scope, 2, max_states=2_000 if quick else None)
    million = 100_000 if quick else 1_000_000
    return {
        "workers_2_seconds": round(shared.seconds, 2),
        "workers_2_states_per_second": round(shared.states / shared.seconds),
        "workers_2_speedup": round(
            (shared.states / shared.seconds) / (outcome.states / outcome.seconds), 2
        ),
        "scope": scope.name,
        "complete": outcome.complete,
        "states": outcome.states,
        "transitions": outcome.transitions,
        "seconds": round(outcome.seconds, 2),
        "states_per_second": round(outcome.states / outcome.seconds),
        "transitions_per_second": round(outcome.transitions / outcome.seconds),
        "table_states": million,
        "bytes_per_state": round(table_bytes(million), 1),
        "state_costs": [state_costs(n, 3 if quick else 5) for n in (3, 10)],
    }


def format_check(c: dict[str, Any]) -> list[str]:
    lines = [
        f"check {c['scope']}: {c['states']:,} distinct states, {c['transitions']:,} "
        f"transitions in {c['seconds']:.1f}s"
        + ("" if c["complete"] else " (stopped early)")
        + f": {c['states_per_second']:,} distinct states/s, "
        f"{c['transitions_per_second']:,} transitions/s (one core, every property on)",
        f"  --workers 2: {c['workers_2_states_per_second']:,} distinct states/s in "
        f"{c['workers_2_seconds']:.1f}s, {c['workers_2_speedup']:.2f}x one worker",
        f"  visited table at {c['table_states']:,} states: {c['bytes_per_state']} bytes per state",
    ]
    for row in c["state_costs"]:
        lines.append(
            f"  a state of {row['instances']} instances with its checker: capture "
            f"{row['capture_us']} us (canonical form and copy), restore {row['restore_us']} us, "
            f"{row['copy_bytes']:,} bytes"
        )
    return lines
