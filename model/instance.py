"""One VM of the scale set: its data (SPEC section 1, "Health, precisely").

The instance's operations are the instance lifecycle's actions
(model/actors/instances.py); its lifecycle machine is in model/lifecycles.py.
Power state (running / stopped) is orthogonal to the lifecycle (D10): an
outage changes it whatever operation is in flight, so it is an attribute,
not a state of the machine. The provisioning state is the value the REST API
shows, set by the actions.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from model.snapshot import T


class Power:
    """D10: the power state, which outages change."""

    RUNNING = "running"
    STOPPED = "stopped"


class Provisioning:
    """Section 7 result values: the provisioning state the REST API shows."""

    CREATING = "Creating"  # scale-out, until its extensions finish
    UPDATING = "Updating"  # OS disk replacement and its extensions, a rollback, a model deploy
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


# The lifecycle states in which an operation is in flight: not healthy (R7).
BUSY_STATES = frozenset(
    {"creating", "reimaging", "provisioning_extensions", "rolling_back", "updating_model"}
)


@attrs.define(eq=False, repr=False)
class Instance:
    """One VM: its disks, power and provisioning state, image version, and the
    application's health signal (SPEC "Health, precisely")."""

    #: E3 (model/snapshot.py): its machine is not state; its times
    SNAPSHOT_SKIP: ClassVar = ("lifecycle",)
    SNAPSHOT_TIMES: ClassVar = {
        "app_started_at": T,
        "last_provisioned_at": T,
        "down_since": T,
        "app_health_at": T,
        "provisioning_failure": (None, T),
    }

    id: int
    image_version: str
    os_disk: str
    data_disks: tuple[str, ...]
    update_domain: int | None = None
    power_state: str = Power.RUNNING
    provisioning_state: str = Provisioning.SUCCEEDED
    #: the last app_health answer since the OS disk was created/replaced/restored
    app_health: bool | None = None
    #: when the application started on the current OS disk (None: not yet)
    app_started_at: int | None = None
    #: the disk a rollback restores: (name, version, provisioning state)
    previous_disk: tuple[str, str, str] | None = None
    #: the version the OS disk operation in flight installs
    pending_version: str | None = None
    #: bumped at every new operation, so stale queued steps are ignored
    op_token: int = 0
    #: the number of the next OS disk of this instance (disk names are unique)
    next_disk: int = 1
    #: the run whose batch this instance is in, while that batch is in flight
    batch_run: object | None = None
    #: the time its last extension provisioning finished
    last_provisioned_at: int | None = None
    #: causes (text only, read by model/causes.py): since when it is down and by
    #: which outage kind (R8, D10); when the standing probe answer came (R6)
    down_since: int | None = None
    down_kind: str | None = None
    app_health_at: int | None = None
    #: R14: the credential whose expiry failed its last extension provisioning,
    #: and when it expired
    provisioning_failure: tuple[str, int] | None = None
    #: why its health wait ran out unhealthy (R6), while it rolls back
    wait_cause: str | None = None
    #: T27 (section 9): its protection policy
    protect_from_scale_in: bool = False
    protect_from_scale_set_actions: bool = False
    #: set by the machine (model/lifecycles.py), which also binds the trigger methods
    state: str = "ready"
    lifecycle: object = attrs.field(default=None, repr=False)

    def __repr__(self) -> str:
        return (
            f"Instance({self.id}, {self.state}, v{self.image_version}, {self.power_state}, "
            f"{self.provisioning_state})"
        )

    @property
    def busy(self) -> bool:
        """R7: an OS operation is in flight."""
        return self.state in BUSY_STATES

    @property
    def being_created(self) -> bool:
        """D11: created by a scale-out and not yet provisioned."""
        return self.provisioning_state == Provisioning.CREATING
