"""The osUpgradeHistory view (R16, D13) and the REST shapes of a run.

The view lists the last five runs that started within the past 60 days,
newest first (a later-created run first when two start together), each as
Azure's REST API returns it (Microsoft.Compute, 2024-07-01). The shapes are
``attrs`` types whose field names are the REST API's; ``model.trace``'s
cattrs converter turns them into JSON.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from model.config import HISTORY_DAYS, HISTORY_SIZE

if TYPE_CHECKING:
    from model.config import ImageReference
    from model.run import UpgradeRun

HISTORY_WINDOW_SECONDS = HISTORY_DAYS * 86400
ROLLING_UPGRADE_TYPE = "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades"


@attrs.frozen
class RunningStatus:
    """A run's code and times; D13: the end is ``endTime`` (the REST API's
    name), not the seed example's ``completedTime``."""

    code: str
    startTime: str  # noqa: N815 (REST field names)
    endTime: str | None  # noqa: N815 (D13: the REST name, not completedTime)


@attrs.frozen
class Progress:
    successfulInstanceCount: int  # noqa: N815
    failedInstanceCount: int  # noqa: N815
    inProgressInstanceCount: int  # noqa: N815
    pendingInstanceCount: int  # noqa: N815


@attrs.frozen
class ApiError:
    code: str
    message: str


@attrs.frozen
class TargetImageReference:
    publisher: str | None
    offer: str | None
    sku: str | None
    version: str


@attrs.frozen
class GalleryImageReference:
    """T64, TD30 (with the switch): a gallery image's target, the image id
    with the run's target version, and that version."""

    id: str
    exactVersion: str  # noqa: N815


@attrs.frozen
class RollbackInfo:
    successfullyRolledbackInstanceCount: int  # noqa: N815
    failedRolledbackInstanceCount: int  # noqa: N815


@attrs.frozen
class RollbackInfoToday:
    """T63, TD3 (with the switch): rollbackInfo with its rollbackError (null)."""

    successfullyRolledbackInstanceCount: int  # noqa: N815
    failedRolledbackInstanceCount: int  # noqa: N815
    rollbackError: None = None  # noqa: N815


@attrs.frozen
class UpgradeHistoryProperties:
    runningStatus: RunningStatus  # noqa: N815
    progress: Progress
    error: ApiError | None
    startedBy: str  # noqa: N815
    targetImageReference: TargetImageReference | GalleryImageReference  # noqa: N815
    rollbackInfo: RollbackInfo | RollbackInfoToday  # noqa: N815


@attrs.frozen
class UpgradeHistoryEntry:
    """One osUpgradeHistory entry (a rollingUpgrades resource)."""

    properties: UpgradeHistoryProperties
    type: str
    location: str


@attrs.frozen
class UpgradeHistory:
    """R16: the list call's body, ``{"value": [...]}``."""

    value: list[UpgradeHistoryEntry]


def history_runs(runs: list[UpgradeRun], now: int) -> list[UpgradeRun]:
    """R16: the runs the view shows at time ``now``, newest first, at most five
    (T66: the same with the switch, and no nextLink)."""
    shown: list[UpgradeRun] = []
    for run in reversed(runs):  # runs are kept in creation order; starts never decrease
        if run.start < now - HISTORY_WINDOW_SECONDS:
            break
        shown.append(run)
        if len(shown) == HISTORY_SIZE:
            break
    return shown


@functools.lru_cache(maxsize=4096)
def timestamp(epoch: str, seconds: int | None) -> str | None:
    """Section 1: the scale set's epoch plus a simulated offset, ISO 8601."""
    if seconds is None:
        return None
    return (datetime.fromisoformat(epoch) + timedelta(seconds=seconds)).isoformat()


def progress_of(run: UpgradeRun) -> Progress:
    """D11 in the REST shape."""
    return Progress(**run.progress())


def error_of(run: UpgradeRun) -> ApiError | None:
    """D5, D6: the error of a Faulted run; null when Completed or Cancelled."""
    return None if run.error is None else ApiError(*run.error)


def rollback_of(run: UpgradeRun, today: bool = False) -> RollbackInfo | RollbackInfoToday:
    """Section 4's rollbackInfo (T63 with the switch: with rollbackError)."""
    if today:
        return RollbackInfoToday(run.rolled_back, run.failed_rollbacks)
    return RollbackInfo(run.rolled_back, run.failed_rollbacks)


def target_of(
    run: UpgradeRun, image: ImageReference, today: bool = False
) -> TargetImageReference | GalleryImageReference:
    """R16: the run's target image (T19, T64, TD30: a gallery image's with the switch)."""
    if today and image.id is not None:
        return GalleryImageReference(f"{image.id}/versions/{run.target}", run.target)
    return TargetImageReference(image.publisher, image.offer, image.sku, run.target)


def history_entry(
    run: UpgradeRun, image: ImageReference, epoch: str, location: str, today: bool = False
) -> UpgradeHistoryEntry:
    """R16, D13: one osUpgradeHistory entry in the REST shape (T60: its codes
    and startedBy are the 2024-07-01 enumerations')."""
    return UpgradeHistoryEntry(
        properties=UpgradeHistoryProperties(
            runningStatus=RunningStatus(
                run.code, timestamp(epoch, run.start), timestamp(epoch, run.end)
            ),
            progress=progress_of(run),
            error=error_of(run),
            startedBy=run.started_by,
            targetImageReference=target_of(run, image, today),
            rollbackInfo=rollback_of(run, today),
        ),
        type=ROLLING_UPGRADE_TYPE,
        location=location,
    )


def history_view(
    runs: list[UpgradeRun],
    now: int,
    image: ImageReference,
    epoch: str,
    location: str,
    today: bool = False,
) -> UpgradeHistory:
    """R16: the osUpgradeHistory view at time ``now`` (section 9.14's
    shapes with the switch)."""
    return UpgradeHistory(
        [history_entry(run, image, epoch, location, today) for run in history_runs(runs, now)]
    )


def rest_policy(policy: Any) -> dict[str, Any]:
    """TD2, T65: a run's effective policy in the REST names (the five fields
    phase 1 models; the pause as the trace writes it)."""
    return {
        "maxBatchInstancePercent": policy.max_batch_instance_percent,
        "maxUnhealthyInstancePercent": policy.max_unhealthy_instance_percent,
        "maxUnhealthyUpgradedInstancePercent": policy.max_unhealthy_upgraded_instance_percent,
        "pauseTimeBetweenBatches": policy.pause_time_between_batches,
        "prioritizeUnhealthyInstances": policy.prioritize_unhealthy_instances,
    }


def latest_view(runs: list[UpgradeRun], epoch: str, location: str) -> dict[str, Any] | None:
    """T65: get-latest, the run started last in the RollingUpgradeStatusInfo
    shape (no endTime; lastAction Cancel at an accepted cancel, else Start),
    or None when no run ever started."""
    if not runs:
        return None
    run = runs[-1]
    cancelled = run.cancel_asked_at is not None
    error = error_of(run)
    return {
        "properties": {
            "policy": rest_policy(run.policy),
            "runningStatus": {
                "code": run.code,
                "startTime": timestamp(epoch, run.start),
                "lastAction": "Cancel" if cancelled else "Start",
                "lastActionTime": timestamp(epoch, run.cancel_asked_at if cancelled else run.start),
            },
            "progress": run.progress(),
            "error": None if error is None else {"code": error.code, "message": error.message},
        },
        "type": ROLLING_UPGRADE_TYPE,
        "location": location,
    }
