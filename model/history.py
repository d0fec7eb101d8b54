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
from typing import TYPE_CHECKING

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
class RollbackInfo:
    successfullyRolledbackInstanceCount: int  # noqa: N815
    failedRolledbackInstanceCount: int  # noqa: N815


@attrs.frozen
class UpgradeHistoryProperties:
    runningStatus: RunningStatus  # noqa: N815
    progress: Progress
    error: ApiError | None
    startedBy: str  # noqa: N815
    targetImageReference: TargetImageReference  # noqa: N815
    rollbackInfo: RollbackInfo  # noqa: N815


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
    """R16: the runs the view shows at time ``now``, newest first, at most five."""
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


def rollback_of(run: UpgradeRun) -> RollbackInfo:
    return RollbackInfo(run.rolled_back, run.failed_rollbacks)


def history_entry(
    run: UpgradeRun, image: ImageReference, epoch: str, location: str
) -> UpgradeHistoryEntry:
    """R16, D13: one osUpgradeHistory entry in the REST shape."""
    return UpgradeHistoryEntry(
        properties=UpgradeHistoryProperties(
            runningStatus=RunningStatus(
                run.code, timestamp(epoch, run.start), timestamp(epoch, run.end)
            ),
            progress=progress_of(run),
            error=error_of(run),
            startedBy=run.started_by,
            targetImageReference=TargetImageReference(
                image.publisher, image.offer, image.sku, run.target
            ),
            rollbackInfo=rollback_of(run),
        ),
        type=ROLLING_UPGRADE_TYPE,
        location=location,
    )


def history_view(
    runs: list[UpgradeRun], now: int, image: ImageReference, epoch: str, location: str
) -> UpgradeHistory:
    """R16: the osUpgradeHistory view at time ``now``."""
    return UpgradeHistory(
        [history_entry(run, image, epoch, location) for run in history_runs(runs, now)]
    )
