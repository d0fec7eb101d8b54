"""The result document of SPEC section 7 (``vmss-upgrade-result/1``): the
instances, every run, the osUpgradeHistory view, the rejections, the
warnings and the violations, of a scale set at its current time.

The REST shapes of a run (progress, error, rollbackInfo) are the history
view's (model/history.py), so the two documents never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from model.history import error_of, history_view, latest_view, progress_of, rest_policy, rollback_of
from model.trace import (
    BatchView,
    InstanceView,
    InstanceViewToday,
    Result,
    ResultToday,
    RunView,
    RunViewToday,
    Violation,
    WarningView,
)

if TYPE_CHECKING:
    from model.scaleset import ScaleSet

__all__ = ["Result", "result_of"]


def result_of(ss: ScaleSet, violations: list[Violation]) -> Result:
    """The result document of the scale set at its current time."""
    cfg = ss.config
    today = ss.today
    instances = [
        (InstanceViewToday if today else InstanceView)(  # type: ignore[call-arg]
            id=inst.id,
            image_version=inst.image_version,
            power_state=inst.power_state,
            provisioning_state=inst.provisioning_state,
            healthy=ss.is_healthy(inst),
            update_domain=inst.update_domain,
            os_disk=inst.os_disk,
            data_disks=list(inst.data_disks),
            **(_protection(inst) if today else {}),
        )
        for inst in ss.instances.values()
    ]
    runs = [
        (RunViewToday if today else RunView)(  # type: ignore[call-arg]
            started_by=run.started_by,
            target_version=run.target,
            code=run.code,
            error=None if run.error is None else attrs.asdict(error_of(run)),
            start=run.start,
            end=run.end,
            batches=[BatchView(list(b.instances), b.start, b.end) for b in run.batches],
            progress=attrs.asdict(progress_of(run)),
            rollback=attrs.asdict(rollback_of(run, today)),
            **({"policy": rest_policy(run.policy)} if today else {}),
        )
        for run in ss.runs
    ]
    extra = {}
    if today:  # T3, T65
        extra = {"latest": latest_view(ss.runs, cfg.epoch, cfg.location)}
    return (ResultToday if today else Result)(  # type: ignore[call-arg]
        time=ss.now,
        instances=instances,
        runs=runs,
        history=history_view(ss.runs, ss.now, cfg.image, cfg.epoch, cfg.location, today),
        rejected=list(ss.rejected),
        warnings=[WarningView(w.rule, f"{w.field}: {w.message}") for w in ss.warnings],
        violations=violations,
        **extra,
    )


def _protection(inst: object) -> dict[str, dict[str, bool]]:
    """T27: an instance's protection policy in the REST names."""
    return {
        "protection": {
            "protectFromScaleIn": inst.protect_from_scale_in,  # type: ignore[attr-defined]
            "protectFromScaleSetActions": inst.protect_from_scale_set_actions,  # type: ignore[attr-defined]
        }
    }
