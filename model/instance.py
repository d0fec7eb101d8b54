"""The instance lifecycle: one VM of the scale set (R3, R7, R18, D10).

The lifecycle is an explicit ``transitions`` machine, shared by every
instance of a scale set (``Machine.add_model``). Its states are the
operations the spec names; ``ready`` means no operation is in flight:

    creating ──disk_replaced──▶ provisioning_extensions ──extensions_finished──▶ ready
    ready ──reimage──▶ reimaging ──disk_replaced──▶ provisioning_extensions
    provisioning_extensions ──await_health──▶ awaiting_health ──settle──▶ ready
    awaiting_health ──roll_back──▶ rolling_back ──restore──▶ ready
    ready ──update_model──▶ updating_model ──extensions_finished──▶ ready

Power state (running / stopped) is orthogonal to the lifecycle (D10): an
outage changes it whatever operation is in flight, so it is an attribute,
not a state of this machine. The provisioning state (Creating, Updating,
Succeeded, Failed) is the result the REST API shows, set by the actions.
"""

from __future__ import annotations

import attrs

from model.clock import INSTANCE_STEP

RUNNING, STOPPED = "running", "stopped"
CREATING, UPDATING, SUCCEEDED, FAILED = "Creating", "Updating", "Succeeded", "Failed"

INSTANCE_STATES = [
    "ready",
    "creating",
    "reimaging",
    "provisioning_extensions",
    "awaiting_health",
    "rolling_back",
    "updating_model",
]

# The states in which an operation is in flight: the instance is not healthy (R7).
BUSY_STATES = frozenset(
    {"creating", "reimaging", "provisioning_extensions", "rolling_back", "updating_model"}
)

INSTANCE_TRANSITIONS = [
    # R5/R3: a run's batch replaces the OS disk.
    {"trigger": "reimage", "source": "ready", "dest": "reimaging"},
    # R3, R18: the new OS disk is in place; extensions and custom data run again.
    {
        "trigger": "disk_replaced",
        "source": ["creating", "reimaging"],
        "dest": "provisioning_extensions",
    },
    # R6: with a probe, a run waits for the upgraded instance to report healthy.
    {"trigger": "await_health", "source": "provisioning_extensions", "dest": "awaiting_health"},
    {"trigger": "settle", "source": "awaiting_health", "dest": "ready"},
    # Section 4 automatic_rollback: the previous OS disk comes back.
    {"trigger": "roll_back", "source": "awaiting_health", "dest": "rolling_back"},
    {"trigger": "restore", "source": "rolling_back", "dest": "ready"},
    # D8: a model deploy re-runs extension provisioning.
    {"trigger": "update_model", "source": "ready", "dest": "updating_model"},
    {
        "trigger": "extensions_finished",
        "source": ["provisioning_extensions", "updating_model"],
        "dest": "ready",
    },
]


@attrs.define(eq=False, repr=False)
class Instance:
    """One VM: its disks, power and provisioning state, image version, and the
    application's health signal (SPEC "Health, precisely")."""

    id: int
    image_version: str
    os_disk: str
    data_disks: tuple[str, ...]
    update_domain: int | None = None
    power_state: str = RUNNING
    provisioning_state: str = SUCCEEDED
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
    #: the time its last extension provisioning finished, and whether it succeeded
    last_provisioned_at: int | None = None
    #: set by the machine (model/machines.py), which also binds the trigger methods
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


class InstanceActions:
    """The workers: each instance's operations, step by step (mixed into ScaleSet).

    Every operation bumps the instance's ``op_token``; a queued step carries
    the token it was scheduled with and does nothing once it is stale (the
    instance started another operation or was scaled in).
    """

    def _new_instance(self, version: str, initial: str) -> Instance:
        instance_id = self.next_id
        self.next_id += 1  # ids are never reused after a scale-in
        sf = self.service_fabric
        inst = Instance(
            id=instance_id,
            image_version=version,
            os_disk=f"os-{instance_id}-0",
            data_disks=tuple(
                f"data-{instance_id}-{k}" for k in range(self.config.data_disks_per_instance)
            ),
            update_domain=instance_id % sf.update_domains if sf is not None else None,  # R13
        )
        self._instance_machine.add_model(inst, initial=initial)
        self.instances[instance_id] = inst
        return inst

    def _schedule_instance(self, inst: Instance, delay: int, action) -> None:
        self.clock.schedule(
            self.clock.now + delay, INSTANCE_STEP, inst.id, action, (inst, inst.op_token)
        )

    def _stale(self, inst: Instance, token: int) -> bool:
        return inst.op_token != token

    # -- operations the platform starts
    def _instance_create(self) -> Instance:
        """R18: a new VM built from the latest published version at its creation."""
        inst = self._new_instance(self.catalog.latest, initial="creating")
        inst.provisioning_state = CREATING
        if self.watch is not None:
            self._note("instance_created", inst)
        self._schedule_instance(inst, self.timings.os_disk_seconds, self._instance_disk_ready)
        return inst

    def _instance_begin_reimage(self, inst: Instance, target: str, run: object) -> None:
        """R3: replace the OS disk with one built from the run's target image;
        the previous disk is kept for a rollback. Data disks are untouched."""
        inst.reimage()
        inst.op_token += 1
        inst.previous_disk = (inst.os_disk, inst.image_version, inst.provisioning_state)
        inst.pending_version = target
        inst.provisioning_state = UPDATING
        inst.batch_run = run
        self._schedule_instance(inst, self.timings.os_disk_seconds, self._instance_disk_ready)

    def _instance_begin_model_update(self, inst: Instance) -> None:
        """D8: re-run extension provisioning; no OS disk is replaced."""
        inst.update_model()
        inst.op_token += 1
        inst.provisioning_state = UPDATING
        self._schedule_instance(
            inst, self.timings.extension_seconds, self._instance_extensions_done
        )

    def _instance_begin_rollback(self, inst: Instance) -> None:
        """Section 4 automatic_rollback: restore the previous OS disk."""
        inst.roll_back()
        inst.op_token += 1
        inst.provisioning_state = UPDATING
        self._schedule_instance(inst, self.timings.os_disk_seconds, self._instance_restored)

    def _instance_remove(self, inst: Instance) -> None:
        """D9: scale-in deletes the VM; its queued steps become stale."""
        inst.op_token += 1
        del self.instances[inst.id]
        self._instance_machine.remove_model(inst)
        for run in self.runs:
            run.leave_scope(inst.id)
        if self.watch is not None:
            self._note("instance_removed", inst)

    # -- internal steps
    def _instance_disk_ready(self, arg: tuple[Instance, int]) -> bool:
        """The OS disk phase ends: the disk counts as replaced and the version
        changes now; any earlier probe answer no longer stands."""
        inst, token = arg
        if self._stale(inst, token):
            return False
        if inst.state == "reimaging":
            inst.os_disk = f"os-{inst.id}-{inst.next_disk}"
            inst.next_disk += 1
            inst.image_version = inst.pending_version
        inst.pending_version = None
        inst.app_health = None
        inst.app_started_at = None
        inst.disk_replaced()
        if self.watch is not None:
            self._note("instance_changed", inst)
        if self.log is not None:  # the timeline costs nothing when off
            self._log(
                inst.batch_run,
                "instance %d: OS disk %s (%s) in place",
                inst.id,
                inst.os_disk,
                inst.image_version,
            )
        self._schedule_instance(
            inst, self.timings.extension_seconds, self._instance_extensions_done
        )
        return True

    def _instance_extensions_done(self, arg: tuple[Instance, int]) -> bool:
        """R3, R14: the extensions and the custom data script finished; they
        failed if a credential the model references has expired."""
        inst, token = arg
        if self._stale(inst, token):
            return False
        now = self.clock.now
        ok = not self.provisioning_fails(now)
        inst.provisioning_state = SUCCEEDED if ok else FAILED
        inst.last_provisioned_at = now
        if ok and inst.app_started_at is None:
            self._instance_start_app(inst)
        if self.watch is not None:
            self._note("provisioned", inst, ok)
        if self.log is not None:  # the timeline costs nothing when off
            self._log(
                inst.batch_run,
                "instance %d: extensions %s",
                inst.id,
                "provisioned" if ok else "failed (credential expired)",
            )
        if inst.batch_run is not None:
            self._run_instance_provisioned(inst, ok)
        else:
            inst.extensions_finished()
            self._deploy_instance_finished(inst.id)
        return True

    def _instance_start_app(self, inst: Instance) -> None:
        """The application starts on the current OS disk."""
        inst.app_started_at = self.clock.now
        if self.probe is not None:
            self.clock.schedule(
                self.clock.now + self.timings.app_start_seconds,
                INSTANCE_STEP,
                inst.id,
                self._instance_app_up,
                (inst, inst.app_started_at),
            )

    def _instance_app_up(self, arg: tuple[Instance, int]) -> bool:
        """app_start_seconds after it started, the application can answer the probe."""
        inst, started = arg
        if inst.app_started_at != started or inst.id not in self.instances:
            return False
        if self.log is not None:  # the timeline costs nothing when off
            self._log(
                inst.batch_run,
                "instance %d: application up (%s)",
                inst.id,
                "healthy" if self.probe_ok(inst) else "not healthy",
            )
        self._run_recheck(inst)
        return True

    def _instance_health_deadline(self, arg: tuple[Instance, int]) -> bool:
        """R6: health_wait_seconds after its extensions finished."""
        inst, token = arg
        if self._stale(inst, token) or inst.state != "awaiting_health":
            return False
        self._run_health_deadline(inst)
        return True

    def _instance_restored(self, arg: tuple[Instance, int]) -> bool:
        """A rollback finished: the previous OS disk, version and provisioning are
        back and the application starts on it."""
        inst, token = arg
        if self._stale(inst, token):
            return False
        inst.os_disk, inst.image_version, inst.provisioning_state = inst.previous_disk
        inst.app_health = None
        inst.restore()
        self._instance_start_app(inst)
        if self.watch is not None:
            self._note("instance_changed", inst)
        if self.log is not None:  # the timeline costs nothing when off
            self._log(
                inst.batch_run,
                "instance %d: rolled back to %s (%s)",
                inst.id,
                inst.os_disk,
                inst.image_version,
            )
        self._run_instance_rolled_back(inst)
        return True
