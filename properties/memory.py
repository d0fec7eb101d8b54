"""What the property layer remembers across steps (SPEC E3), for
model/snapshot.py: of each of its classes, the attributes that are not
memory (wiring, what was read once from the configuration, what was found
and counted) and those that hold a time, taken relative to the current time
in a state's canonical form.

A property whose memory holds a time needs a line here: without it, two
states that differ only by when they happen are taken as two (never the
other way round: an attribute left out as not memory would merge states
that differ, so only wiring and counters are). The checker's tables of
handlers are left out of a copy and built again (:func:`_reduce_checker`).

This module copies the layer's objects for `vmss-spec check`: it reads
their attributes whole, so it is a driver, outside the scan of
tests/test_independence.py.
"""

from __future__ import annotations

import functools
from typing import Any

from model.snapshot import T, copy_with
from properties import (
    checker,
    documents,
    liveness,
    observed,
    rules_instances,
    rules_order,
    rules_runs,
)
from properties.checker import Checker
from properties.rule import Property

DRIVER = True

#: class -> (attributes that are not memory, attributes holding times)
MEMORY: dict[type, tuple[tuple[str, ...], dict[str, object]]] = {
    Checker: (
        (
            "published", "violations", "reached", "tallies", "_on_violation", "_plan",
            "_dispatch", "_begin", "_end", "_ticks", "_world", "_view",
        ),
        {"_ticked_at": T},
    ),
    Property: (("checker", "world", "published", "applications"), {}),
    observed.World: (
        (
            "published", "config", "policy", "timings", "pause", "probe", "service_fabric",
            "extension_credentials", "errors", "recoveries",
        ),
        {
            "now": T,
            "last_check": (None, T, None, None),
            "tokens": {"*": [T]},
            "rollout_from": T,
        },
    ),
    observed.SeenInstance: ((), {"since": T, "app_since": T, "provisioned_at": T}),
    observed.SeenBatch: ((), {"start": T, "end": T, "last_done": T}),
    observed.SeenRun: (
        (),
        {
            "start": T,
            "end": T,
            "failed_check": (T, None, None),
            "stopped_at": T,
            "first_failed": (T, None),
            "cancel_at": T,
        },
    ),
    observed.SeenDeploy: ((), {"start": T}),
    liveness.Liveness: (
        ("world", "published", "report", "quiet_started", "quiet_completed"),
        {"next_due": T},
    ),
    liveness.QuietRun: ((), {"until": T}),
    rules_instances.HealthWaitFollowsR6: ((), {"awaiting": {"*": T}, "deadlines": {"*": T}}),
    rules_runs.HistoryViewIsR16: ((), {"edge": T, "compared_at": T}),
    rules_runs.LastChangeEndsTheTrace: ((), {"latest": T}),
    # the events seen, written again at the end (not memory any rule decides by)
    documents.TracesReadBackAsWritten: (("events",), {}),
    # the last event's time: read only at the end of a replay of a document
    # (check explores no document), so no state differs by it
    documents.TraceEndsAsSection7Says: (("last_event",), {}),
    # its own form (_d12_form below): only the order of its expectations matters
    rules_order.StepsHappenInD12Order: ((), {}),
}  # fmt: skip

for _cls, (_skip, _times) in MEMORY.items():
    _cls.SNAPSHOT_SKIP = _skip  # type: ignore[attr-defined]
    _cls.SNAPSHOT_TIMES = _times  # type: ignore[attr-defined]


def _reduce_checker(obj: Checker) -> tuple[Any, ...]:
    """A copy of a checker without its tables of handlers (closures), which
    :func:`_set_checker` builds again, and with its tallies as one list of
    counts (about half the objects of a state were tallies)."""
    state = {**vars(obj), "_dispatch": {}, "_begin": {}, "_end": {}}
    del state["_plan"], state["_world"]
    tallies = state["tallies"]
    counts = [n for t in tallies.values() for n in (t.evaluations, t.applications)]
    state["tallies"] = (tuple(tallies), counts)
    return object.__new__, (Checker,), state, None, None, _set_checker


def _set_checker(obj: Checker, state: dict[str, Any]) -> None:
    names, counts = state["tallies"]
    state["tallies"] = {
        name: checker.Tally(counts[2 * k], counts[2 * k + 1]) for k, name in enumerate(names)
    }
    vars(obj).update(state)
    obj._plan = checker._plan(tuple(type(p) for p in obj.rules))
    obj._world = {name[3:]: getattr(obj.world, name) for name in _world_facts(type(obj.world))}


@functools.cache
def _world_facts(cls: type) -> tuple[str, ...]:
    """The world's ``on_<fact>`` handlers (World.handlers, read once per class)."""
    return tuple(name for name in dir(cls) if name.startswith("on_"))


copy_with(Checker, _reduce_checker)


def _d12_form(prop: rules_order.StepsHappenInD12Order, enc: Any) -> tuple[Any, ...]:
    """The memory of the D12 property: its live expectations in order, each
    time relative to now, each order number replaced by its place."""
    now = enc.now
    live = sorted((at, k, actor, n, step) for (step, k, actor), (at, n) in prop.due_at.items())
    return (
        tuple((at - now, klass, actor, step) for at, klass, actor, _, step in live),
        enc.time(prop.last_step_at, T),
        prop.app_starts,
        enc.value(prop.open_event),
        enc.value(prop.places),
        enc.time(prop.last_eligible, T),
        prop._rollout_expected,
    )


rules_order.StepsHappenInD12Order.snapshot_form = _d12_form  # type: ignore[attr-defined]
