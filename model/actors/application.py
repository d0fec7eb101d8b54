"""Actor: the application's health probe (R6, R7).

The application on an instance answers the probe; its answer stands until
the instance's OS disk is replaced or restored ("Health, precisely").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import orchestrator
from model.actors.maintenance import existing
from model.events import AppHealth

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def report_health(ss: ScaleSet, ev: AppHealth) -> None:
    """R6: the probe answer on those instances from now on (an awaited batch
    member that is healthy now is done)."""
    insts = existing(ss, ev.instances)
    for inst in insts:
        inst.app_health = ev.healthy
        inst.app_health_at = ss.now
    ss.record("health_reported", ev)
    for inst in insts:
        orchestrator.recheck(ss, inst)
