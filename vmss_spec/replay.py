"""Replay with every property checked: the model's replay (model/replay.py)
with the property checker (properties/checker.py) subscribed to the scale
set, as ``vmss-spec replay`` runs it (SPEC section 7: exit status 1 when a
property is violated)."""

from __future__ import annotations

from pathlib import Path

from model.replay import Replay
from model.replay import replay as replay_model
from model.trace import Trace, Violation, load_trace
from properties.checker import Checker

__all__ = ["Replay", "first_violation", "replay"]


def replay(trace: Trace) -> Replay:
    """Replay ``trace`` on the model with the invariants I1-I12 and the progress
    properties L1, L2 checked after every step."""
    return replay_model(trace, observers=[Checker])


def first_violation(trace: Trace | str | Path) -> Violation | None:
    """Replay a trace (or a trace file) and return the first violation, if any."""
    if not isinstance(trace, Trace):
        trace = load_trace(trace)
    violations = replay(trace).result.violations
    return violations[0] if violations else None
