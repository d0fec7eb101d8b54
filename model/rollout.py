"""The rollout over time, as data for a picture: each instance's phases (OS
disk, extensions, awaiting health, rollback, model update) and down periods,
and the unhealthy count after each moment (R4, R7, R8).

A :class:`Rollout` subscribes to a scale set (``ss.subscribe``) like the
timeline: the facts that touch instances mark them, and at the end of each
step it looks at those instances only. It also has the ``violations`` and
``finish`` of a replay observer (``model.replay.replay(trace,
observers=[Rollout])``); it never finds a violation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from model.instance import Power

if TYPE_CHECKING:
    from model.instance import Instance
    from model.scaleset import ScaleSet
    from model.trace import Violation

#: lifecycle state -> the phase a picture shows (``ready`` shows nothing)
PHASES = {
    "creating": "creating",
    "reimaging": "OS disk",
    "provisioning_extensions": "extensions",
    "awaiting_health": "awaiting health",
    "rolling_back": "rollback",
    "updating_model": "model update",
}

#: beyond this many instances the unhealthy count is sampled at pre-batch checks only
SAMPLE_EVERY_STEP_UP_TO = 2000


@attrs.define
class Span:
    """One interval of an instance: a phase, or a down period (``phase`` "down")."""

    instance: int
    phase: str
    start: int
    end: int | None = None
    #: the outage kind of a down period
    detail: str = ""


class Rollout:
    """A subscriber recording the rollout; read ``spans``, ``unhealthy``
    (time, count) samples and ``instances`` (every id that existed)."""

    def __init__(self, ss: ScaleSet) -> None:
        self.ss = ss
        self.violations: list[Violation] = []
        self.spans: list[Span] = []
        self.unhealthy: list[tuple[int, int]] = []
        self.instances: list[int] = []
        self._open: dict[int, Span] = {}
        self._down: dict[int, Span] = {}
        self._dirty: set[int] = set()
        self._every_step = len(ss.instances) <= SAMPLE_EVERY_STEP_UP_TO
        for inst in ss.instances.values():
            self.instances.append(inst.id)
            self._look(inst.id)
        self._sample()

    # ------------------------------------------------------------ facts
    def __call__(self, fact: str, *args: Any) -> None:
        if fact in ("step", "event", "rejected"):
            for i in sorted(self._dirty):
                self._look(i)
            self._dirty.clear()
            if self._every_step:
                self._sample()
            return
        handler = _MARKS.get(fact)
        if handler is not None:
            self._dirty.update(handler(self, *args))
        elif fact == "pre_batch_checked" and not self._every_step:
            self._sample()

    def finish(self) -> None:
        """Close the spans still open at the trace's end."""
        for i in sorted(self._dirty):
            self._look(i)
        for span in [*self._open.values(), *self._down.values()]:
            span.end = self.ss.now
        self._open.clear()
        self._down.clear()

    # ------------------------------------------------------------ looking
    def _sample(self) -> None:
        count = self.ss.count_unhealthy()
        now = self.ss.now
        if self.unhealthy and self.unhealthy[-1][0] == now:
            self.unhealthy[-1] = (now, count)
        elif not self.unhealthy or self.unhealthy[-1][1] != count:
            self.unhealthy.append((now, count))

    def _look(self, i: int) -> None:
        inst: Instance | None = self.ss.instances.get(i)
        now = self.ss.now
        phase = PHASES.get(inst.state) if inst is not None else None
        span = self._open.get(i)
        if span is not None and span.phase != phase:
            span.end = now
            del self._open[i]
            span = None
        if phase is not None and span is None:
            self._open[i] = Span(i, phase, now)
            self.spans.append(self._open[i])
        down = inst is not None and inst.power_state == Power.STOPPED
        span = self._down.get(i)
        if span is not None and not down:
            span.end = now
            del self._down[i]
        elif down and span is None and inst is not None:
            self._down[i] = Span(i, "down", now, detail=inst.down_kind or "")
            self.spans.append(self._down[i])

    def _created(self, inst: Instance) -> list[int]:
        if inst.id not in self.instances:
            self.instances.append(inst.id)
        return [inst.id]


def _one(_: Rollout, inst: Any, *rest: Any) -> list[int]:
    return [inst.id]


_MARKS: dict[str, Any] = {
    "instance_created": lambda r, inst: r._created(inst),
    "instance_removed": _one,
    "disk_replaced": _one,
    "extensions_finished": _one,
    "application_up": _one,
    "rollback_started": _one,
    "rollback_restored": _one,
    "member_done": lambda r, run, inst: [inst.id],
    "batch_started": lambda r, run, batch: batch.instances,
    "deploy_started": lambda r, deploy: deploy.members,
    "outage_started": lambda r, ev: ev.instances,
    "outage_ended": lambda r, ev: ev.instances,
}
