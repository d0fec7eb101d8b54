"""Shared builders for the spec tests: a default scale set, a way to play
events on it, and the batches of a run in a comparable shape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from model import Event, HealthProbe, ImageReference, ScaleSet, ScaleSetConfig

UBUNTU = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest")
PROBE = HealthProbe("load_balancer")


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
