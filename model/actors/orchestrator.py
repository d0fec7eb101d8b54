"""Actor: the upgrade orchestrator, which runs and batches (R2, R4-R8,
R12-R14, D1-D7a, D11, section 4).

When a run starts (D4, R12), which instances a batch holds (D1, D2, R5,
R13), the pre-batch health check (R4, R8, D5), the health wait of each
batch member (R6, D10, section 4 automatic_rollback), the end of a batch
(D7a) and the end of the pause between batches. The instance lifecycle
(model/actors/instances.py) performs the operations the orchestrator starts
and hands each member back when its phase ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from model import causes
from model.actors import instances
from model.catalog import version_key
from model.config import ENABLE
from model.run import (
    PLATFORM,
    USER,
    Batch,
    Check,
    Code,
    ErrorCode,
    MemberOutcome,
    Status,
    UpgradeRun,
)
from model.today import effective_policy, rolls_back, unhealthy_message, upgraded_message

if TYPE_CHECKING:
    from model.actors.deploy import Deploy
    from model.config import Policy
    from model.instance import Instance
    from model.scaleset import ScaleSet


# ---------------------------------------------------------------- when runs start (D4)
@attrs.frozen
class Trigger:
    """D4: a moment at which a Platform run may start."""

    #: "publication", "opt-in", "run completed" or "model deploy"; with
    #: section 9, "version eligible" (T17) and "first-rollout delay" (T18)
    kind: str
    #: the Completed run (kind "run completed")
    run: UpgradeRun | None = None
    #: the deploy that ended (kind "model deploy")
    deploy: Deploy | None = None
    #: whether automatic upgrades were on before (kind "opt-in")
    was_enabled: bool = False

    @property
    def reason(self) -> str:
        """How the timeline names it."""
        if self.kind == "run completed":
            assert self.run is not None
            return f"after run {self.run.number}"
        return self.kind


def platform_run_allowed(ss: ScaleSet, trigger: Trigger) -> bool:
    """D4, R1: whether ``trigger`` starts a Platform run now (the one place D4
    is decided; R1: only while automatic upgrades are on).

    The trigger counts: a publication; opting in (enabling while off); the
    end of a Completed run when a version newer than its target exists or an
    instance outside its scope is below the latest (so a run whose instances
    were all rolled back is not re-run at once); the successful end of a
    model deploy. And the scale set allows it: automatic upgrades on, no V
    error standing (D16), no run active, no model deploy in flight, and some
    instance (not being created, D11) below the latest version.

    With section 9's switch: a version becoming eligible is the trigger in
    place of a publication and the end of the first-rollout delay is one
    (T17, T18); "latest" is the latest eligible version and protected
    instances do not count (TD32); no run starts before the first-rollout
    delay has passed (T18) nor while a TV error stands (9.13)."""
    return platform_run_refusal(ss, trigger) is None


def platform_run_refusal(ss: ScaleSet, trigger: Trigger) -> str | None:
    """D4, R1: why ``trigger`` starts no Platform run now, in words (with the
    rule), or None when it starts one (``platform_run_allowed``)."""
    latest = version_key(ss.catalog.eligible)
    today = ss.today
    if trigger.kind == "opt-in" and trigger.was_enabled:
        return "automatic upgrades were already on (D4)"
    if trigger.kind == "model deploy" and not (trigger.deploy and trigger.deploy.succeeded):
        return "the model deploy failed (D4, R15)"
    if trigger.kind == "run completed":
        run = trigger.run
        assert run is not None
        newer = latest > version_key(run.target)
        if not newer and not any(
            i not in run.scope
            and not inst.being_created
            and not (today and inst.protect_from_scale_set_actions)
            and version_key(inst.image_version) < latest
            for i, inst in ss.instances.items()
        ):
            return (
                f"no version newer than its target {run.target} and no instance outside "
                "its scope below the latest (D4)"
            )
    if not ss.auto_enabled:
        return "automatic upgrades are off (R1, D4)"
    refusal = ss.refusal(ENABLE)
    if refusal is not None:
        return f"a V error stands: {refusal} (D16, D4)"
    if ss.rollout_from is not None and ss.now < ss.rollout_from:
        return f"the first rollout waits until {ss.rollout_from}s (T18)"
    if ss.active_run is not None:
        return f"run {ss.active_run.number} is active (D4, D3)"
    if ss.deploy is not None:
        return "a model deploy is in flight (D4, D8)"
    if not any(
        not inst.being_created
        and not (today and inst.protect_from_scale_set_actions)
        and version_key(inst.image_version) < latest
        for inst in ss.instances.values()
    ):
        if today:
            return (
                f"no unprotected instance is below the latest eligible version "
                f"{ss.catalog.eligible} (D4, T17, TD32)"
            )
        return f"no instance is below the latest version {ss.catalog.latest} (D4)"
    return None


def start_platform_run(ss: ScaleSet, trigger: Trigger) -> UpgradeRun | None:
    """R2, D4: at a trigger, a Platform run towards the latest version starts
    if D4 allows it."""
    if not platform_run_allowed(ss, trigger):
        why = platform_run_refusal(ss, trigger) or "not allowed (D4)"
        ss.not_started.append((ss.now, trigger.reason, why))
        ss.record("run_not_started", trigger, why)
        return None
    return start_run(ss, PLATFORM, trigger.reason)


def first_rollout(ss: ScaleSet, _arg: None) -> bool:
    """T18: the first-rollout delay has passed: a D4 trigger standing for
    the triggers that fell inside it."""
    ss.record("first_rollout_ends")
    start_platform_run(ss, Trigger("first-rollout delay"))
    return True


def run_target(ss: ScaleSet, started_by: str = USER) -> str:
    """D3: a run's target is the latest version at the run's start (T17 with
    the switch: the latest eligible for a Platform run, the latest available
    for a User run; never an excluded one)."""
    return ss.catalog.eligible if started_by == PLATFORM else ss.catalog.available


def start_run(ss: ScaleSet, started_by: str, reason: str) -> UpgradeRun:
    """D3, D11, R12: a run (Platform, or User by hand) towards the target,
    fixed; its scope is the instances below the target, not being created
    now (T28 with the switch: nor protected from scale set actions). It uses
    the scale set's policy (TD2, T10 with the switch: its effective policy,
    and rollback by default in Platform runs). The first pre-batch check
    happens at once."""
    target = run_target(ss, started_by)
    key = version_key(target)
    today = ss.today
    run = UpgradeRun(
        number=len(ss.runs) + 1,
        started_by=started_by,
        target=target,
        start=ss.now,
        scope={
            i: Status.PENDING
            for i, inst in ss.instances.items()
            if not inst.being_created
            and version_key(inst.image_version) < key
            and not (today and inst.protect_from_scale_set_actions)
        },
    )
    if today:
        run.policy = effective_policy(ss.config, started_by == PLATFORM)
        run.rolls_back = rolls_back(ss.config, started_by == PLATFORM)
    else:
        run.policy, run.rolls_back = ss.policy, ss.policy.automatic_rollback
    run.trigger = reason
    ss.run_machine.add_model(run, initial="pre_check")
    ss.runs.append(run)
    ss.active_run = run
    ss.record("run_started", run, reason)
    pre_batch_check(ss, run)
    return run


# ---------------------------------------------------------------- before each batch
def policy_of(ss: ScaleSet) -> Policy:
    """TD2: the active run's policy (without the switch, the scale set's)."""
    run = ss.active_run
    return ss.policy if run is None else run.policy  # type: ignore[return-value]


def unhealthy_limit(ss: ScaleSet, n: int) -> int:
    """D1: the unhealthy limit is floor(N x pct / 100); more than it stops."""
    return n * policy_of(ss).max_unhealthy_instance_percent // 100


def batch_cap(ss: ScaleSet, n: int) -> int:
    """R5, D1: cap(N) = max(1, floor(N x pct / 100))."""
    return max(1, n * policy_of(ss).max_batch_instance_percent // 100)


def pre_batch_check(ss: ScaleSet, run: UpgradeRun) -> None:
    """R4, R8, D1, D5: with nothing pending the run is Completed (D4: a User
    run with an empty scope ends at once; TD33: every pending instance became
    protected or was removed during the pause); with more than the limit of
    instances unhealthy it ends Faulted; otherwise the next batch starts."""
    ss.record("pre_batch_check", run)
    if run.counts[Status.PENDING] == 0:
        end_run(ss, run, "complete")
        return
    n = len(ss.instances)
    unhealthy = ss.count_unhealthy()
    limit = unhealthy_limit(ss, n)
    pct = policy_of(ss).max_unhealthy_instance_percent
    # Causes (text only): which instances were unhealthy, and why (R7).
    which = causes.unhealthy_instances(ss) if unhealthy else ()
    check = Check(ss.now, n, unhealthy, limit, pct, which)
    run.checks.append(check)
    ss.record("pre_batch_checked", run, check)
    if unhealthy > limit:
        code = ErrorCode.IN_ROLLING_UPGRADE if run.batches else ErrorCode.BEFORE_ROLLING_UPGRADE
        message = (
            f"{unhealthy} of {n} instances are unhealthy, more than the limit of "
            f"{limit} (max_unhealthy_instance_percent {pct})"
        )
        if ss.today:
            message = unhealthy_message(unhealthy, n, pct)  # T62
        end_run(ss, run, "fault", (code, message))
        return
    start_batch(ss, run, n)


def choose_batch(ss: ScaleSet, run: UpgradeRun, n: int) -> tuple[list[int], int, int | None]:
    """D2, R5, R13: the next batch, its cap, and its update domain."""
    pending = run.pending()
    if ss.service_fabric is not None:
        # R13: all pending instances of the lowest update domain that has any.
        ud = min(ss.instances[i].update_domain for i in pending)
        members = [i for i in pending if ss.instances[i].update_domain == ud]
        return members, len(members), ud
    cap = batch_cap(ss, n)
    if policy_of(ss).prioritize_unhealthy_instances:
        healthy = ss.is_healthy
        pending.sort(key=lambda i: (healthy(ss.instances[i]), i))
    return pending[:cap], cap, None


def start_batch(ss: ScaleSet, run: UpgradeRun, n: int) -> None:
    """R3, R5: every instance of the batch starts its OS disk replacement."""
    members, cap, ud = choose_batch(ss, run, n)
    batch = Batch(
        number=len(run.batches) + 1,
        instances=members,
        start=ss.now,
        instance_count=n,
        cap=cap,
        update_domain=ud,
    )
    run.batches.append(batch)
    run.start_batch()
    for i in members:
        run.set_status(i, Status.IN_PROGRESS)
    # Subscribers see the batch before its instances move (I2 counts them then).
    ss.record("batch_started", run, batch)
    for i in members:
        instances.begin_reimage(ss, ss.instances[i], run)


# ---------------------------------------------------------------- while a batch is in flight
def member_provisioned(ss: ScaleSet, inst: Instance, ok: bool) -> None:
    """R6, D6, D11: a batch member's extensions finished: a provisioning failure
    is done (failed, and T12: never rolled back); without a probe health
    decides now (R7); with one the run waits up to health_wait_seconds for it."""
    run = inst.batch_run
    if not ok:
        inst.extensions_finished()
        failure = inst.provisioning_failure
        cause = "extensions failed (R14)"
        if failure is not None:
            cause = f"extensions failed: credential {failure[0]} expired at {failure[1]}s (R14)"
        member_done(ss, run, inst, Status.FAILED, provisioning_failed=True, cause=cause)
    elif ss.probe is None:
        inst.extensions_finished()
        healthy = ss.is_healthy(inst)
        cause = None
        if not healthy:
            reason = causes.unhealthy_reason(ss, inst)
            cause = f"not healthy when its extensions finished: {reason} (R7)"
        member_done(ss, run, inst, Status.SUCCESSFUL if healthy else Status.FAILED, cause=cause)
    else:
        inst.await_health()
        ss.schedule_instance(inst, ss.timings.health_wait_seconds, "health_deadline", inst.op_token)
        recheck(ss, inst)


def recheck(ss: ScaleSet, inst: Instance) -> None:
    """R6: an awaited instance that is healthy now is done, successful."""
    if inst.state == "awaiting_health" and ss.is_healthy(inst):
        inst.stop_waiting()
        member_done(ss, inst.batch_run, inst, Status.SUCCESSFUL)


def health_deadline(ss: ScaleSet, arg: tuple[Instance, int]) -> bool:
    """R6, D10, D11: health_wait_seconds after its extensions finished, the wait
    runs out; healthy at exactly the end counts as in time. Otherwise the
    member failed, or (section 4 automatic_rollback; T10 with the switch:
    by default in Platform runs) gets its previous disk back first."""
    inst, token = arg
    if inst.op_token != token or inst.state != "awaiting_health":
        return False
    if ss.is_healthy(inst):
        inst.stop_waiting()
        member_done(ss, inst.batch_run, inst, Status.SUCCESSFUL)
        return True
    reason = causes.unhealthy_reason(ss, inst)
    inst.wait_cause = f"health wait ran out at {ss.now}s: {reason} (R6)"
    if inst.batch_run.rolls_back:
        ss.record("rollback_started", inst)
        instances.begin_rollback(ss, inst)
    else:
        inst.stop_waiting()
        member_done(ss, inst.batch_run, inst, Status.FAILED, cause=inst.wait_cause)
    return True


def member_rolled_back(ss: ScaleSet, inst: Instance) -> None:
    """Section 4, D11: a member is done once its rollback finished: failed and
    rolled back."""
    run = inst.batch_run
    run.rolled_back += 1
    cause = f"rolled back after its {inst.wait_cause}" if inst.wait_cause else "rolled back"
    member_done(ss, run, inst, Status.FAILED, rolled_back=True, cause=cause)


def member_done(
    ss: ScaleSet,
    run: UpgradeRun,
    inst: Instance,
    status: str,
    *,
    provisioning_failed: bool = False,
    rolled_back: bool = False,
    cause: str | None = None,
) -> None:
    """D11: the instance is done in its batch; the last one ends the batch
    (a run step at the same time, after the instance steps: D12)."""
    batch = run.batches[-1]
    batch.outcomes[inst.id] = MemberOutcome(
        status, ss.clock.now, provisioning_failed, rolled_back, cause
    )
    run.set_status(inst.id, status)
    if ss.today and status == Status.FAILED and _first_failed(run, ss.clock.now, inst.id):
        run.first_failed = (ss.clock.now, inst.id)
    inst.batch_run = None
    ss.record("member_done", run, inst)
    if len(batch.outcomes) == len(batch.instances):
        ss.schedule_run(run, 0, "end_of_batch")


def _first_failed(run: UpgradeRun, now: int, instance_id: int) -> bool:
    """T62: whether this failure is the run's first (the lowest id among those
    done failed at the same moment)."""
    first = run.first_failed
    return first is None or (first[0] == now and instance_id < first[1])


# ---------------------------------------------------------------- after a batch
def end_of_batch(ss: ScaleSet, run: UpgradeRun) -> bool:
    """D7a: when a batch's last instance is done, the run decides in order: a
    provisioning failure (D6, R14: the run fails, that batch left failed); the
    upgraded-unhealthy limit (section 4; T11 with the switch: on at 20% by
    default, so that no batch starts after it, TI9); nothing pending
    (Completed); cancel or opt-out (D7); else pause, then the pre-batch check."""
    batch = run.batches[-1]
    batch.end = ss.now
    ss.record("batch_ended", run, batch)
    counts = run.counts
    upgraded_pct = run.policy.max_unhealthy_upgraded_instance_percent  # type: ignore[attr-defined]
    failed, done = counts[Status.FAILED], counts[Status.SUCCESSFUL] + counts[Status.FAILED]
    if batch.provisioning_failed:
        bad = ", ".join(str(i) for i, o in sorted(batch.outcomes.items()) if o.provisioning_failed)
        message = f"extension provisioning failed on instances {bad} in batch {batch.number}"
        end_run(ss, run, "fault", (ErrorCode.PROVISIONING, message))
    elif upgraded_pct is not None and failed > done * upgraded_pct // 100:
        message = (
            f"{failed} of {done} upgraded instances failed, more than the limit of "
            f"{done * upgraded_pct // 100} "
            f"(max_unhealthy_upgraded_instance_percent {upgraded_pct})"
        )
        if ss.today:  # T11, T62
            first = run.first_failed[1] if run.first_failed else -1
            message = upgraded_message(done - failed, failed, upgraded_pct, first)
        end_run(ss, run, "fault", (ErrorCode.UPGRADED_UNHEALTHY, message))
    elif counts[Status.PENDING] == 0:
        end_run(ss, run, "complete")
    elif not cancel_if_asked(ss, run, batch_ended=True):
        run.pause()
        ss.schedule_run(run, run.policy.pause_seconds, "end_of_pause")  # type: ignore[attr-defined]
    return True


def end_of_pause(ss: ScaleSet, run: UpgradeRun) -> bool:
    """Section 4, R8: pause_time_between_batches has passed; the pre-batch
    check comes next."""
    if run.state != "pause":
        return False  # cancelled during the pause
    run.check()
    pre_batch_check(ss, run)
    return True


def cancel_if_asked(ss: ScaleSet, run: UpgradeRun, *, batch_ended: bool = False) -> bool:
    """D7: a cancel asked (it stands once asked), or automatic upgrades off for a
    Platform run (judged now: opting in again before withdraws it), ends the
    run Cancelled, never in the middle of a batch: at the end of the batch in
    flight, or at once when none is. A User run is not affected by opt-out.
    Returns whether the run ended."""
    if not (run.cancel_requested or (run.started_by == PLATFORM and not ss.auto_enabled)):
        return False
    if not batch_ended and run.batch_in_flight is not None:
        return False
    if not run.cancel_requested:
        run.opted_out_at = ss.auto_off_at
    end_run(ss, run, "cancel")
    return True


def end_run(
    ss: ScaleSet, run: UpgradeRun, trigger: str, error: tuple[str, str] | None = None
) -> None:
    """The run ends Completed, Faulted (with its D5/D6 error) or Cancelled (D5:
    error null). A Completed run's end may start the next Platform run (D4)."""
    if trigger == "complete":
        run.complete()
    elif trigger == "fault":
        run.fault()
    else:
        run.cancel()
    run.end = ss.now
    run.error = error
    ss.active_run = None
    ss.record("run_ended", run)
    if run.state == Code.COMPLETED:
        start_platform_run(ss, Trigger("run completed", run=run))
