"""Actor: the instance lifecycle, each VM's operations step by step (R3, R7,
R14, R18, D8, D10, section 4 automatic_rollback).

The orchestrator and the model deploy start operations (``begin_*``); the
internal steps below end their phases. Every operation bumps the instance's
``op_token``; a queued step carries the token it was scheduled with and does
nothing (returns False) once it is stale: the instance started another
operation or was scaled in. When a phase ends, the instance hands over to
the one who started the operation: the orchestrator for a batch member
(``orchestrator.member_provisioned`` and ``member_rolled_back``), the model
deploy otherwise (``deploy.instance_finished``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import deploy, orchestrator
from model.instance import Instance, Provisioning

if TYPE_CHECKING:
    from model.run import UpgradeRun
    from model.scaleset import ScaleSet


def _new_instance(ss: ScaleSet, version: str, initial: str) -> Instance:
    """A new instance: the next id (ids are never reused after a scale-in), its
    disks, and R13's update domain (instance i is in UD i mod update_domains)."""
    instance_id = ss.next_id
    ss.next_id += 1  # ids are never reused after a scale-in
    sf = ss.service_fabric
    inst = Instance(
        id=instance_id,
        image_version=version,
        os_disk=f"os-{instance_id}-0",
        data_disks=tuple(
            f"data-{instance_id}-{k}" for k in range(ss.config.data_disks_per_instance)
        ),
        update_domain=instance_id % sf.update_domains if sf is not None else None,  # R13
    )
    ss.instance_machine.add_model(inst, initial=initial)
    ss.instances[instance_id] = inst
    return inst


# ---------------------------------------------------------------- operations begun
def add_initial(ss: ScaleSet) -> Instance:
    """The instances present at time 0 are running, provisioned, and healthy:
    on the catalog's latest version, their application up long since."""
    inst = _new_instance(ss, ss.catalog.latest, initial="ready")
    inst.app_started_at = -ss.timings.app_start_seconds
    return inst


def create(ss: ScaleSet) -> Instance:
    """R18: a new VM built from the latest published version at its creation
    (T17 with the switch: the latest available one, never an excluded one)."""
    inst = _new_instance(ss, ss.catalog.available, initial="creating")  # T17: latest available
    inst.provisioning_state = Provisioning.CREATING
    ss.record("instance_created", inst)
    ss.schedule_instance(inst, ss.timings.os_disk_seconds, "disk_replaced", inst.op_token)
    return inst


def begin_reimage(ss: ScaleSet, inst: Instance, run: UpgradeRun) -> None:
    """R3: replace the OS disk with one built from the run's target image;
    the previous disk is kept for a rollback. Data disks are untouched."""
    inst.reimage()
    inst.op_token += 1
    inst.previous_disk = (inst.os_disk, inst.image_version, inst.provisioning_state)
    inst.pending_version = run.target
    inst.provisioning_state = Provisioning.UPDATING
    inst.batch_run = run
    ss.schedule_instance(inst, ss.timings.os_disk_seconds, "disk_replaced", inst.op_token)


def begin_model_update(ss: ScaleSet, inst: Instance) -> None:
    """D8: re-run extension provisioning; no OS disk is replaced."""
    inst.update_model()
    inst.op_token += 1
    inst.provisioning_state = Provisioning.UPDATING
    ss.schedule_instance(inst, ss.timings.extension_seconds, "extensions_finished", inst.op_token)


def begin_rollback(ss: ScaleSet, inst: Instance) -> None:
    """Section 4 automatic_rollback: restore the previous OS disk."""
    inst.roll_back()
    inst.op_token += 1
    inst.provisioning_state = Provisioning.UPDATING
    ss.schedule_instance(inst, ss.timings.os_disk_seconds, "rollback_restored", inst.op_token)


def remove(ss: ScaleSet, inst: Instance) -> None:
    """D9: scale-in deletes the VM; its queued steps become stale and it leaves
    the scope of every run (D11: the scope counts instances that still exist)."""
    inst.op_token += 1
    del ss.instances[inst.id]
    ss.instance_machine.remove_model(inst)
    for run in ss.runs:
        run.leave_scope(inst.id)
    ss.record("instance_removed", inst)


def start_application(ss: ScaleSet, inst: Instance) -> None:
    """The application starts on the current OS disk; with a probe it can
    answer app_start_seconds later (the step ``application_up``)."""
    inst.app_started_at = ss.clock.now
    if ss.probe is not None:
        ss.schedule_instance(
            inst, ss.timings.app_start_seconds, "application_up", inst.app_started_at
        )


# ---------------------------------------------------------------- internal steps
def disk_replaced(ss: ScaleSet, arg: tuple[Instance, int]) -> bool:
    """R3, R18: the OS disk phase ends (a reimage or a creation): the disk counts
    as replaced and the version changes now; an earlier probe answer no longer
    stands. Extensions and the custom data script run next."""
    inst, token = arg
    if inst.op_token != token:
        return False
    if inst.state == "reimaging":
        inst.os_disk = f"os-{inst.id}-{inst.next_disk}"
        inst.next_disk += 1
        inst.image_version = inst.pending_version
    inst.pending_version = None
    inst.app_health = None
    inst.app_started_at = None
    inst.disk_replaced()
    ss.record("disk_replaced", inst)
    ss.schedule_instance(inst, ss.timings.extension_seconds, "extensions_finished", inst.op_token)
    return True


def extensions_finished(ss: ScaleSet, arg: tuple[Instance, int]) -> bool:
    """R3, R14, D8: the extensions and the custom data script finished; they
    failed if a credential the model references has expired. The application
    starts on a disk whose extensions first succeeded."""
    inst, token = arg
    if inst.op_token != token:
        return False
    now = ss.clock.now
    ok = not ss.provisioning_fails(now)
    inst.provisioning_state = Provisioning.SUCCEEDED if ok else Provisioning.FAILED
    inst.last_provisioned_at = now
    inst.provisioning_failure = None if ok else ss.expired_credential(now)
    if ok and inst.app_started_at is None:
        start_application(ss, inst)
    ss.record("extensions_finished", inst, ok)
    if inst.batch_run is not None:
        orchestrator.member_provisioned(ss, inst, ok)
    else:
        inst.extensions_finished()
        deploy.instance_finished(ss, inst.id)
    return True


def application_up(ss: ScaleSet, arg: tuple[Instance, int]) -> bool:
    """R6, R7: app_start_seconds after it started, the application can answer
    the probe; an awaited batch member may now be healthy."""
    inst, started = arg
    if inst.app_started_at != started or inst.id not in ss.instances:
        return False
    ss.record("application_up", inst)
    orchestrator.recheck(ss, inst)
    return True


def rollback_restored(ss: ScaleSet, arg: tuple[Instance, int]) -> bool:
    """Section 4: a rollback finished: the previous OS disk, version and
    provisioning are back and the application starts on it."""
    inst, token = arg
    if inst.op_token != token:
        return False
    inst.os_disk, inst.image_version, inst.provisioning_state = inst.previous_disk
    inst.app_health = None
    inst.restore()
    start_application(ss, inst)
    ss.record("rollback_restored", inst)
    orchestrator.member_rolled_back(ss, inst)
    return True
