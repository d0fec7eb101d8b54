"""The property layer's own records of what it has seen: an instance, a
batch, a run, a model deploy (properties/observed.py keeps them up to date
from the facts)."""

from __future__ import annotations

from typing import Any

import attrs

from model.instance import Provisioning
from model.run import Code

#: the operations in flight that make an instance unhealthy (R7)
BUSY = frozenset({"creating", "reimaging", "extensions", "rolling_back", "model_update"})
#: the events that may stop a run at once (D7)
USER_STOPS = frozenset({"cancel_upgrade", "set_automatic_upgrade"})
#: the codes a run ends with (D5, D7)
ENDS = frozenset({Code.COMPLETED, Code.FAULTED, Code.CANCELLED})


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class SeenInstance:
    """One instance as observed."""

    id: int
    version: str
    disk: str
    data_disks: tuple[str, ...]
    update_domain: int | None
    up: bool = True
    provisioning: str = Provisioning.SUCCEEDED
    #: ready | creating | reimaging | extensions | awaiting | rolling_back | model_update
    op: str = "ready"
    #: when the current operation's phase began
    since: int = 0
    #: the last app_health answer since the disk was created, replaced or restored
    answer: bool | None = None
    #: when the application started on the current disk (None: not yet)
    app_since: int | None = None
    #: the disk before the last replacement: (name, version, provisioning)
    prior: tuple[str, str, str] | None = None
    #: when its extensions last finished
    provisioned_at: int | None = None
    #: the number of the run whose batch holds it
    run: int | None = None
    #: every OS disk name it has had
    disks: set[str] = attrs.field(factory=set)
    #: T27 (section 9): protected from scale-in, from scale set actions
    protected_in: bool = False
    protected_actions: bool = False


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class SeenBatch:
    number: int
    members: list[int]
    start: int
    end: int | None = None
    #: member id -> "successful" | "failed", as each was done
    done: dict[int, str] = attrs.field(factory=dict)
    #: when the last member was done
    last_done: int | None = None
    #: the members whose extensions failed (R14)
    extensions_failed: set[int] = attrs.field(factory=set)
    #: the members seen getting their previous disk back (section 4 rollback)
    restored: set[int] = attrs.field(factory=set)


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class SeenRun:
    number: int
    started_by: str
    target: str
    start: int
    #: D11: the scope as this layer computes it, id -> status
    statuses: dict[int, str]
    #: D11: how many of the scope are in each status, as counted here
    tally: dict[str, int]
    batches: list[SeenBatch] = attrs.field(factory=list)
    cancel_asked: bool = False
    end: int | None = None
    code: str = Code.ROLLING_FORWARD
    error_code: str | None = None
    #: (time, unhealthy, limit) of a pre-batch check that found unhealthy > limit
    failed_check: tuple[int, int, int] | None = None
    #: what this layer decided at the run's last decision point (D7a, D5, R4):
    #: "Completed", "Faulted <error code>", "Cancelled", "batch" or "pause"
    decision: str | None = None
    #: when this layer decided the run stops Faulted (I3: no batch after it)
    stopped_at: int | None = None
    #: TD2, T10 (section 9; otherwise the scale set's policy and its
    #: automatic_rollback): the policy the run reads, whether it rolls back
    policy: Any = None
    rollback: bool = False
    #: T62: (time, id) of the first member this layer saw done failed
    first_failed: tuple[int, int] | None = None
    #: T65: when the first cancel of it was asked
    cancel_at: int | None = None

    def set(self, instance_id: int, status: str) -> None:
        old = self.statuses.get(instance_id)
        if old is None:
            return
        self.tally[old] -= 1
        self.tally[status] += 1
        self.statuses[instance_id] = status


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class SeenDeploy:
    start: int
    members: set[int]
    remaining: set[int]
