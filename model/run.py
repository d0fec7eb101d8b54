"""An upgrade run and its batches: their data and their accounting (D11).

A run is one OS upgrade attempt: a REST rolling upgrade, an osUpgradeHistory
entry. What a run does (when it starts, how batches are chosen, what it
decides when a batch ends) is the orchestrator's (model/actors/orchestrator.py);
its lifecycle machine is in model/lifecycles.py. The machine's states
``pre_check``, ``batch_in_flight`` and ``pause`` are the REST code
RollingForward.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from model.snapshot import T

PLATFORM, USER = "Platform", "User"  # startedBy


class Code:
    """The REST runningStatus codes (section 7)."""

    ROLLING_FORWARD = "RollingForward"
    COMPLETED = "Completed"
    FAULTED = "Faulted"
    CANCELLED = "Cancelled"


class ErrorCode:
    """D5, D6: the error codes of a Faulted run."""

    BEFORE_ROLLING_UPGRADE = "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    IN_ROLLING_UPGRADE = "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    UPGRADED_UNHEALTHY = "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    PROVISIONING = "VMExtensionProvisioningError"


class Status:
    """D11: the status of an in-scope instance within its run."""

    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    SUCCESSFUL = "successful"
    FAILED = "failed"


# The run lifecycle's states in which a run is active (REST RollingForward).
ACTIVE_STATES = frozenset({"pre_check", "batch_in_flight", "pause"})


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class MemberOutcome:
    """D11: how one instance of a batch was done."""

    SNAPSHOT_TIMES: ClassVar = {"at": T}  # E3 (model/snapshot.py)

    status: str  # Status.SUCCESSFUL | Status.FAILED
    at: int
    provisioning_failed: bool = False
    rolled_back: bool = False
    #: why it failed, in words (text only: the timeline and explanation)
    cause: str | None = None


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class Batch:
    """R5, R13: the instances a run upgrades together, and the facts of its start."""

    SNAPSHOT_TIMES: ClassVar = {"start": T, "end": T}  # E3 (model/snapshot.py)

    number: int
    instances: list[int]
    start: int
    #: N at the moment the batch started (D1), and the cap that gave its size
    instance_count: int
    cap: int
    update_domain: int | None = None
    end: int | None = None
    outcomes: dict[int, MemberOutcome] = attrs.field(factory=dict)

    @property
    def provisioning_failed(self) -> bool:
        return any(o.provisioning_failed for o in self.outcomes.values())


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class Check:
    """One pre-batch health check (R4, R8): N, unhealthy, limit, at a time."""

    SNAPSHOT_TIMES: ClassVar = {"at": T}  # E3 (model/snapshot.py)

    at: int
    instance_count: int
    unhealthy: int
    limit: int
    #: max_unhealthy_instance_percent, and the unhealthy instances with why (R7)
    percent: int = 0
    unhealthy_ids: tuple[tuple[int, str], ...] = ()

    @property
    def passed(self) -> bool:
        return self.unhealthy <= self.limit


@attrs.define(eq=False, repr=False)
class UpgradeRun:
    """One run: who started it, its fixed target (D3), its scope and progress (D11)."""

    #: E3 (model/snapshot.py): its machine is not state; its times
    SNAPSHOT_SKIP: ClassVar = ("lifecycle",)
    SNAPSHOT_TIMES: ClassVar = {
        "start": T,
        "end": T,
        "cancel_asked_at": T,
        "opted_out_at": T,
        "first_failed": (T, None),
    }

    number: int
    started_by: str
    target: str
    start: int
    #: D11: in-scope instance id -> status; instances scaled in leave the scope
    scope: dict[int, str]
    end: int | None = None
    error: tuple[str, str] | None = None
    cancel_requested: bool = False
    batches: list[Batch] = attrs.field(factory=list)
    checks: list[Check] = attrs.field(factory=list)
    rolled_back: int = 0
    failed_rollbacks: int = 0
    #: what started it (D4's trigger, or "manual start"), and when a cancel was asked
    trigger: str = ""
    cancel_asked_at: int | None = None
    #: when automatic upgrades were turned off, for a Platform run they cancelled (D7)
    opted_out_at: int | None = None
    #: TD2, T10 (section 9; without it the scale set's policy and its
    #: automatic_rollback): the policy the run uses and whether it rolls back
    policy: object = None
    rolls_back: bool = False
    #: T62: (time, id) of the first instance done failed
    first_failed: tuple[int, int] | None = None
    counts: dict[str, int] = attrs.field(init=False)
    #: set by the machine (model/lifecycles.py), which also binds the trigger methods
    state: str = "pre_check"
    lifecycle: object = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        self.counts = {
            Status.PENDING: 0,
            Status.IN_PROGRESS: 0,
            Status.SUCCESSFUL: 0,
            Status.FAILED: 0,
        }
        for status in self.scope.values():
            self.counts[status] += 1

    def __repr__(self) -> str:
        return f"UpgradeRun({self.number}, {self.started_by}, {self.target}, {self.state})"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def code(self) -> str:
        """The REST runningStatus code."""
        return Code.ROLLING_FORWARD if self.state in ACTIVE_STATES else self.state

    @property
    def batch_in_flight(self) -> Batch | None:
        if self.state == "batch_in_flight":
            return self.batches[-1]
        return None

    def set_status(self, instance_id: int, status: str) -> None:
        """D11: move an in-scope instance from one count to another."""
        old = self.scope[instance_id]
        self.counts[old] -= 1
        self.counts[status] += 1
        self.scope[instance_id] = status

    def leave_scope(self, instance_id: int) -> None:
        """D11, D9: a scaled-in instance no longer counts in its run."""
        status = self.scope.pop(instance_id, None)
        if status is not None:
            self.counts[status] -= 1

    def pending(self) -> list[int]:
        """D2: the pending instances, ascending id."""
        return sorted(i for i, s in self.scope.items() if s == Status.PENDING)

    def progress(self) -> dict[str, int]:
        """D11 in the REST shape."""
        c = self.counts
        return {
            "successfulInstanceCount": c[Status.SUCCESSFUL],
            "failedInstanceCount": c[Status.FAILED],
            "inProgressInstanceCount": c[Status.IN_PROGRESS],
            "pendingInstanceCount": c[Status.PENDING],
        }
