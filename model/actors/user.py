"""Actor: the user (R1, R12, R15, R18, D4, D7, D8, D9, D16).

The user regenerates credentials, deploys the model, scales the set in and
out, opts in and out of automatic upgrades, and starts and cancels runs by
hand. Each action checks its guards first (a refusal raises ``Rejected``:
the event is recorded under ``rejected`` and nothing changes), then acts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import deploy, instances, orchestrator
from model.actors.expiry import tokens_of
from model.actors.maintenance import existing
from model.config import ENABLE, MANUAL_START, check_instance_count
from model.events import (
    CancelUpgrade,
    RegenerateCredential,
    Rejected,
    ScaleIn,
    ScaleOut,
    SetAutomaticUpgrade,
    SetProtection,
    StartUpgrade,
    UpdateModel,
)
from model.run import USER, Status

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def regenerate_credential(ss: ScaleSet, ev: RegenerateCredential) -> None:
    """R15, D15: a new token; the model references the old one until a deploy."""
    tokens_of(ss, ev.name).append(ev.expires_at)
    ss.record("credential_regenerated", ev)


def update_model(ss: ScaleSet, ev: UpdateModel) -> None:
    """R15, D8: deploy the model with the newest tokens (the model deploy)."""
    deploy.start(ss)


def scale_out(ss: ScaleSet, ev: ScaleOut) -> None:
    """R18, D9, V9: new instances from the latest version, not in an active
    run's scope; refused beyond V9."""
    found = check_instance_count(len(ss.instances) + ev.count, ss.config.single_placement_group)
    if found is not None:
        raise Rejected(f"V9: {found.message}")
    created = [instances.create(ss).id for _ in range(ev.count)]
    ss.record("scaled_out", created)


def scale_in(ss: ScaleSet, ev: ScaleIn) -> None:
    """D9: remove the highest ids that are not in the batch in flight (done or
    not); refused if it cannot remove the count asked. T29 with the switch:
    nor protected by either flag."""
    victims = scale_in_victims(ss, ev.count)
    if len(victims) < ev.count:
        if ss.today:
            raise Rejected(
                f"D9, T29: cannot remove {ev.count} instances: only {len(victims)} are "
                "outside the batch in flight and unprotected"
            )
        raise Rejected(
            f"D9: cannot remove {ev.count} instances: only {len(victims)} are "
            "outside the batch in flight"
        )
    for instance_id in victims:
        instances.remove(ss, ss.instances[instance_id])
    ss.record("scaled_in", sorted(victims))
    for instance_id in victims:
        deploy.instance_finished(ss, instance_id)


def scale_in_victims(ss: ScaleSet, count: int) -> list[int]:
    """D9: the instances a scale-in removes: the highest ids outside the batch
    in flight, at most ``count`` of them (T29 with the switch: not protected
    by either flag)."""
    run = ss.active_run
    batch = run.batch_in_flight if run is not None else None
    protected = set(batch.instances) if batch is not None else set()
    today = ss.today
    victims: list[int] = []
    for instance_id, inst in reversed(ss.instances.items()):
        if len(victims) == count:
            break
        if instance_id not in protected and not (
            today and (inst.protect_from_scale_in or inst.protect_from_scale_set_actions)
        ):
            victims.append(instance_id)
    return victims


def set_automatic_upgrade(ss: ScaleSet, ev: SetAutomaticUpgrade) -> None:
    """R1, D4, D7, D16: opt in (refused while a V error stands; a D4 trigger
    when automatic upgrades were off) or out (D7: a Platform run ends
    Cancelled at its next decision, at once when no batch is in flight)."""
    if ev.enabled:
        refusal = ss.refusal(ENABLE)
        if refusal is not None:
            raise Rejected(refusal)
        was_enabled, ss.auto_enabled = ss.auto_enabled, True
        ss.first_opt_in()  # T18
        ss.record("automatic_upgrades", True)
        orchestrator.start_platform_run(ss, orchestrator.Trigger("opt-in", was_enabled=was_enabled))
        return
    ss.auto_enabled = False
    ss.auto_off_at = ss.now
    ss.record("automatic_upgrades", False)
    if ss.active_run is not None:
        orchestrator.cancel_if_asked(ss, ss.active_run)


def start_upgrade(ss: ScaleSet, ev: StartUpgrade) -> None:
    """R12, D4, D8, D16: a manual start, also while opted out; refused (409)
    while a run is active or a deploy is in flight, and while a V1-V3 error
    stands."""
    if ss.active_run is not None:
        raise Rejected("409: a run is active")
    if ss.deploy is not None:
        raise Rejected("409: a model deploy is in flight")
    refusal = ss.refusal(MANUAL_START)
    if refusal is not None:
        raise Rejected(refusal)
    orchestrator.start_run(ss, USER, "manual start")


def set_protection(ss: ScaleSet, ev: SetProtection) -> None:
    """T27, TD12, TD34 (section 9): set both protection flags of the listed
    instances. Refused for protection from scale set actions without
    protection from scale-in, for an id that does not exist, and for an
    instance still being created. A pending instance of the active run that
    becomes protected from scale set actions leaves its scope now (TD12); a
    batch member in flight finishes as usual. (Without the switch there is
    no protection: T2, refused; a trace cannot name the event then.)"""
    if not ss.today:
        raise Rejected("set_protection is section 9's: api_version 2024-07-01 (T1, T2)")
    if ev.protect_from_scale_set_actions and not ev.protect_from_scale_in:
        raise Rejected(
            "You can't specify protectFromScaleIn false when setting "
            "protectFromScaleSetActions true"
        )
    insts = existing(ss, ev.instances)
    for inst in insts:
        if inst.being_created:
            raise Rejected(f"instance {inst.id} is still being created")
    run = ss.active_run
    for inst in insts:
        inst.protect_from_scale_in = ev.protect_from_scale_in
        inst.protect_from_scale_set_actions = ev.protect_from_scale_set_actions
        if (
            ev.protect_from_scale_set_actions
            and run is not None
            and run.scope.get(inst.id) == Status.PENDING
        ):
            run.leave_scope(inst.id)
    ss.record("protection_set", ev)


def cancel_upgrade(ss: ScaleSet, ev: CancelUpgrade) -> None:
    """D7: the current batch finishes, then the run ends Cancelled (at once if
    no batch is in flight). A cancel stands once asked; refused with no run."""
    run = ss.active_run
    if run is None:
        raise Rejected("409: no run is active")
    if not run.cancel_requested:
        run.cancel_asked_at = ss.now
    run.cancel_requested = True
    ss.record("cancel_asked", run)
    orchestrator.cancel_if_asked(ss, run)
