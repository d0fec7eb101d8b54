"""The model's osUpgradeHistory entries, flattened as the history property
(properties/rules_runs.py HistoryViewIsR16) builds its own expected ones,
so that the two compare as tuples."""

from __future__ import annotations

from typing import Any


def flat(entry: Any) -> tuple[Any, ...]:
    """The model's REST entry, flattened as ``_entry`` builds the expected one."""
    p = entry.properties
    try:
        end = p.runningStatus.endTime
    except AttributeError:  # D13: a view without the REST field breaks the shape
        end = "(no endTime)"
    status, progress, target, rollback = (
        p.runningStatus,
        p.progress,
        p.targetImageReference,
        p.rollbackInfo,
    )
    return (
        status.code,
        status.startTime,
        end,
        (
            progress.successfulInstanceCount,
            progress.failedInstanceCount,
            progress.inProgressInstanceCount,
            progress.pendingInstanceCount,
        ),
        None if p.error is None else (p.error.code, p.error.message),
        p.startedBy,
        target_of(target),
        (rollback.successfullyRolledbackInstanceCount, rollback.failedRolledbackInstanceCount),
        entry.type,
        entry.location,
    )


def target_of(target: Any) -> tuple[Any, ...]:
    """A targetImageReference, flattened: a platform image's four fields, or
    a gallery image's id and exactVersion (T64, TD30)."""
    try:
        return (target.publisher, target.offer, target.sku, target.version)
    except AttributeError:
        return (target.id, target.exactVersion)


def brief(entries: list[tuple[Any, ...]]) -> str:
    return "[" + ", ".join(f"{e[5]} {e[0]} {e[1]}..{e[2]} {e[3]}" for e in entries) + "]"
