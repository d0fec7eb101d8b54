"""Actor: maintenance, planned or unplanned (R8, D10).

Maintenance takes instances down and brings them back at any time. Power
state and OS operations are independent (D10): an operation in flight goes
on while the instance is down, but a down instance is unhealthy (R7).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import orchestrator
from model.events import OutageEnd, OutageStart, Rejected
from model.instance import Instance, Power

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def existing(ss: ScaleSet, ids: tuple[int, ...]) -> list[Instance]:
    """The instances of ``ids``; refused if one does not exist (section 7)."""
    missing = [i for i in ids if i not in ss.instances]
    if missing:
        raise Rejected(f"no such instance: {', '.join(map(str, missing))}")
    return [ss.instances[i] for i in ids]


def start_outage(ss: ScaleSet, ev: OutageStart) -> None:
    """R8, D10: the instances go down; operations in flight go on."""
    for inst in existing(ss, ev.instances):
        if inst.power_state == Power.RUNNING:
            inst.down_since, inst.down_kind = ss.now, ev.kind
        inst.power_state = Power.STOPPED
    ss.record("outage_started", ev)


def end_outage(ss: ScaleSet, ev: OutageEnd) -> None:
    """R8, D10: the instances come back up (an awaited one may now be healthy, R6)."""
    insts = existing(ss, ev.instances)
    for inst in insts:
        inst.power_state = Power.RUNNING
        inst.down_since = inst.down_kind = None
    ss.record("outage_ended", ev)
    for inst in insts:
        orchestrator.recheck(ss, inst)
