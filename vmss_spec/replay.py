"""Replay with every property checked: the model's replay (model/replay.py)
with the property checker (properties/checker.py) subscribed to the scale
set, as ``vmss-spec replay`` runs it (SPEC section 7: exit status 1 when a
property is violated)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.facts import outside
from model.replay import Replay
from model.replay import replay as replay_model
from model.rollout import Rollout
from model.trace import Trace, Violation, load_trace
from properties.checker import Checker
from properties.documents import judge_document

__all__ = ["Replay", "document_violation", "first_violation", "replay", "replay_with_rollout"]


def replay(trace: Trace) -> Replay:
    """Replay ``trace`` on the model with the invariants I1-I12 and the progress
    properties L1, L2 checked after every step."""
    return replay_model(trace, observers=[outside(_checker(trace))])


def _checker(trace: Trace) -> Callable[[Any], Checker]:
    """A checker of ``trace``, with its ``scale_set`` as the document gave it."""
    return functools.partial(Checker, given=trace.given)


def replay_with_rollout(trace: Trace) -> tuple[Replay, Rollout]:
    """``replay`` with the rollout recorded too (each instance's phases and down
    periods, the unhealthy count over time), for the picture of ``--html``."""
    made: list[Rollout] = []

    def record(ss: object) -> Rollout:
        made.append(Rollout(ss))  # type: ignore[arg-type]
        return made[-1]

    rep = replay_model(trace, observers=[outside(_checker(trace)), record])
    return rep, made[0]


def document_violation(path: str | Path) -> Violation | None:
    """V9, V10, D16 on a trace file's document: the loader's answer (refused,
    and for what, or accepted) is the one the rules give, or a violation of
    ``malformed_traces_refused_v9_v10`` at time 0."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        refused, problem = judge_document(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # not a trace document the rule speaks of
    if problem is None:
        return None
    return Violation("malformed_traces_refused_v9_v10", 0, problem)


def first_violation(trace: Trace | str | Path) -> Violation | None:
    """Replay a trace (or a trace file) and return the first violation, if any
    (for a file, the loader's answer to its document first)."""
    if not isinstance(trace, Trace):
        found = document_violation(trace)
        if found is not None:
            return found
        trace = load_trace(trace)
    violations = replay(trace).result.violations
    return violations[0] if violations else None
