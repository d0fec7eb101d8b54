"""Shared builders for the spec tests: a default scale set, a way to play
events on it, the batches of a run in a comparable shape, a run's outcome in
short, and the hand-built runs and batches the invariant tests break on purpose."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from model import (
    CredentialConfig,
    Event,
    Extension,
    HealthProbe,
    ImageReference,
    PublishImage,
    ScaleSet,
    ScaleSetConfig,
)
from model.facts import observe
from model.run import Batch, UpgradeRun
from properties.checker import Checker
from properties.observed import SeenBatch, SeenRun, World

UBUNTU = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest")
PROBE = HealthProbe("load_balancer")
# An extension using the credential "sas", valid until far in the future (D6, D8, D15).
SAS = {
    "extensions": (Extension("CustomScript", ("sas",)),),
    "credentials": {"sas": CredentialConfig(expires_at=10**8)},
}


def make(n: int = 10, **kwargs: Any) -> ScaleSet:
    """A scale set of ``n`` instances of Ubuntu 18.04 on catalog 1.0.0."""
    return ScaleSet(ScaleSetConfig(instances=n, image=UBUNTU, **kwargs))


def play(ss: ScaleSet, events: Iterable[Event], until: int | None = None) -> ScaleSet:
    """Apply the events in order, then advance to ``until`` if given."""
    for event in events:
        ss.apply(event)
    if until is not None:
        ss.advance(until)
    return ss


def batches(run: Any) -> list[tuple[list[int], int, int | None]]:
    """A run's batches as (sorted instance ids, start, end)."""
    return [(sorted(b.instances), b.start, b.end) for b in run.batches]


def summary(run) -> tuple[str, int | None, str | None]:
    return run.code, run.end, None if run.error is None else run.error[0]


def completed(probe: bool = True) -> ScaleSet:
    """The spec's example, ended: 5 batches of 2, Completed at 1150 (1000 without probe)."""
    ss = make(health_probe=PROBE if probe else None)
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(2000)
    assert ss.runs[0].code == "Completed"
    return ss


def batch(number: int, instances: list[int], start: int, end: int | None = None) -> Batch:
    n = 10
    return Batch(
        number=number,
        instances=instances,
        start=start,
        instance_count=n,
        cap=2,
        end=end,
    )


def run_with(batches: list[Batch], **kwargs: Any) -> UpgradeRun:
    kwargs.setdefault("scope", {i: "pending" for i in range(10)})
    run = UpgradeRun(number=1, started_by="Platform", target="1.0.1", start=100, **kwargs)
    run.batches.extend(batches)
    return run


# ----------------------------------------------------------------------- the observed world
_WORLDS: weakref.WeakKeyDictionary[ScaleSet, World] = weakref.WeakKeyDictionary()


def watched(n: int = 10, **kwargs: Any) -> ScaleSet:
    """``make``, with the property layer's observed world following it from
    time 0 (``seen(ss)``), as the checker keeps it."""
    ss = make(n, **kwargs)
    checker = observe(ss, lambda published: Checker(published, properties=()))
    _WORLDS[ss] = checker.world
    return ss


def seen(ss: ScaleSet) -> World:
    """The observed world of a scale set made by ``watched``, at the time now
    (as the checker's tick brings it when time moved on without a step)."""
    world = _WORLDS[ss]
    world.now = ss.now
    return world


def as_seen(run: UpgradeRun, before: Batch | None = None) -> SeenRun:
    """A hand-built model run as the checker would have observed it, with its
    batches before ``before`` (and the first check that failed, if any)."""
    batches = []
    for b in run.batches:
        if b is before:
            break
        seen_batch = SeenBatch(b.number, list(b.instances), b.start, b.end)
        for i, outcome in b.outcomes.items():
            seen_batch.done[i] = outcome.status
            if outcome.provisioning_failed:
                seen_batch.extensions_failed.add(i)
        batches.append(seen_batch)
    counts = {"pending": 0, "inProgress": 0, "successful": 0, "failed": 0}
    for status in run.scope.values():
        counts[status] += 1
    result = SeenRun(run.number, run.started_by, run.target, run.start, dict(run.scope), counts)
    result.batches = batches
    failed = [c for c in run.checks if not c.passed]
    if failed:
        result.failed_check = (failed[0].at, failed[0].unhealthy, failed[0].limit)
    return result
