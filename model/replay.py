"""Replay: drive the model from a trace (SPEC section 7) and produce its
result document and readable timeline.

This is the model alone: nothing here checks a property. ``vmss-spec
replay`` (vmss_spec/replay.py) subscribes the property checker to the scale
set through ``listeners`` and adds its violations to the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs

from model.result import Result, result_of
from model.scaleset import Listener, ScaleSet
from model.timeline import Entry, Timeline, format_timeline
from model.trace import THIRTY_DAYS, Trace, Violation


@attrs.define(eq=False)
class Played:
    """A trace played on the model: the scale set at its final time."""

    scale_set: ScaleSet
    #: the trace's end (section 7 `until`, or its default)
    final_time: int
    #: the model itself failed (a bug): what it raised, as a violation
    crash: Violation | None = None


def run_trace(trace: Trace, *, listeners: Sequence[Callable[[ScaleSet], Listener]] = ()) -> Played:
    """Apply the trace's events and internal steps up to its end. Each of
    ``listeners`` is called with the new scale set and returns a subscriber
    (``ScaleSet.subscribe``), before anything happens."""
    ss = ScaleSet(trace.scale_set)
    for make in listeners:
        ss.subscribe(make(ss))
    try:
        final = _play(ss, trace)
    except Exception as exc:  # noqa: BLE001 - the model itself failed: a bug to report
        # Not bad input (that is refused before anything runs): the state at the
        # crash is the result, and the crash is reported as a violation (exit 1).
        return Played(ss, ss.now, Violation(f"crash: {type(exc).__name__}", ss.now, str(exc)))
    ss.clock.now = final  # later queued steps, if any, are stale and changed nothing
    return Played(ss, final)


def _play(ss: ScaleSet, trace: Trace) -> int:
    """Apply the events and internal steps; returns the final time."""
    for event in trace.events:
        ss.apply(event)
    last_event = trace.events[-1].at if trace.events else 0
    if trace.until is not None:
        ss.advance(trace.until)
        return trace.until
    # Section 7: the last thing that happens, at most 30 days after the last event.
    cap = last_event + THIRTY_DAYS
    ss.run_until_idle(cap)
    if ss.clock.next_time() is not None and not _settled(ss, cap):
        return cap
    return max(last_event, ss.last_activity)


def _settled(ss: ScaleSet, cap: int) -> bool:
    """Section 7 `until`: whether nothing more happens after ``cap`` (the steps
    still queued are stale: a pause of a cancelled run, a health deadline of an
    instance already done). No run active, no deploy in flight, no instance
    mid-operation and, with a probe, no application still coming up."""
    if ss.active_run is not None or ss.deploy is not None:
        return False
    up_after = ss.timings.app_start_seconds
    return all(
        inst.state == "ready"
        and (
            ss.probe is None or inst.app_started_at is None or inst.app_started_at + up_after <= cap
        )
        for inst in ss.instances.values()
    )


@attrs.define(eq=False)
class Replay:
    """A finished replay: the scale set at the end, its result and timeline."""

    scale_set: ScaleSet
    result: Result
    #: (time, message, run number, progress) for each change, in order
    timeline: list[Entry]

    @property
    def exit_status(self) -> int:
        """Section 7: 0 when no invariant was violated, 1 otherwise."""
        return 1 if self.result.violations else 0

    def text(self) -> str:
        """The readable timeline, then the final history."""
        return format_timeline(self.timeline, self.result)


class Observer(Protocol):
    """What replay can attach to a scale set besides the timeline (the property
    checker, say): a subscriber that may find violations."""

    violations: list[Violation]

    def __call__(self, fact: str, *args: Any) -> None: ...

    def finish(self) -> None:
        """Called at the trace's end (unless the model crashed)."""


def replay(trace: Trace, *, observers: Sequence[Callable[[ScaleSet], Observer]] = ()) -> Replay:
    """Replay a trace: the result document and the timeline. Each of
    ``observers`` is called with the new scale set and returns an observer
    that subscribes to it; their violations, in order, and a crash of the
    model, if any, are the result's violations."""
    made: list[Observer] = []
    timeline: list[Timeline] = []

    def attach_timeline(ss: ScaleSet) -> Listener:
        timeline.append(Timeline(ss))
        return timeline[0]

    def attach(make: Callable[[ScaleSet], Observer]) -> Callable[[ScaleSet], Listener]:
        def build(ss: ScaleSet) -> Listener:
            made.append(make(ss))
            return made[-1]

        return build

    played = run_trace(trace, listeners=[attach_timeline, *map(attach, observers)])
    violations: list[Violation] = []
    if played.crash is None:
        for observer in made:
            observer.finish()
    for observer in made:
        violations += observer.violations
    if played.crash is not None:
        violations.append(played.crash)
    ss = played.scale_set
    return Replay(ss, result_of(ss, violations), timeline[0].entries)
