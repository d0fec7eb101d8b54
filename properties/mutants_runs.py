"""More broken variants (properties/mutants.py explains them): the runs, their
batches and their decisions (R2, R4-R8, R12, R13, D1, D2, D5, D7a, D12,
section 4's options). Each is a realistic slip: a comparison off by one, a
rounding, an order reversed, a decision taken in the wrong order or at the
wrong moment, an option read from the wrong field."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

from model import scaleset
from model.actors import orchestrator, publisher, user
from model.events import Rejected
from model.run import PLATFORM, ErrorCode, Status, UpgradeRun
from model.scaleset import ScaleSet
from model.today import upgraded_message
from properties.mutants import _mutant, replace, variant_memory

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

Patches = list[AbstractContextManager[Any]]


# --------------------------------------------------------------------- when runs start
@_mutant(
    "run_started_before_publication_lands",
    "runs_start_when_d4_allows",
    "R2: a publication asks D4 whether to start a run before the catalog holds the new version",
    rule="R2",
)
def _run_started_before_publication_lands() -> Patches:
    def publish_image(ss: ScaleSet, ev: Any) -> None:
        if not ss.catalog.is_newer(ev.version):
            raise Rejected(
                f"D14: version {ev.version} is not newer than the latest {ss.catalog.latest}"
            )
        trigger = orchestrator.Trigger("publication")
        allowed = orchestrator.platform_run_allowed(ss, trigger)
        ss.catalog.publish(ev.version, ev.app_healthy)
        ss.record("image_published", ev)
        if allowed:
            orchestrator.start_run(ss, PLATFORM, trigger.reason)

    return replace(publisher, "publish_image", publish_image)


@_mutant(
    "manual_start_needs_opt_in",
    "manual_start_follows_r12",
    "R12: a manual start is refused while automatic upgrades are off",
    rule="R12",
)
def _manual_start_needs_opt_in() -> Patches:
    start = user.start_upgrade

    def start_upgrade(ss: ScaleSet, ev: Any) -> None:
        if not ss.auto_enabled and ss.active_run is None and ss.deploy is None:
            raise Rejected("409: automatic OS upgrades are off")
        start(ss, ev)

    return replace(user, "start_upgrade", start_upgrade)


# --------------------------------------------------------------------- batches
@_mutant(
    "batch_cap_of_the_run_scope",
    "batch_is_d2_choice",
    "R5: the batch cap is a share of the run's scope, not of the current instance count",
    rule="R5",
)
def _batch_cap_of_the_run_scope() -> Patches:
    cap = orchestrator.batch_cap

    def batch_cap(ss: ScaleSet, n: int) -> int:
        run = ss.active_run
        return cap(ss, len(run.scope) if run is not None else n)

    return replace(orchestrator, "batch_cap", batch_cap)


@_mutant(
    "batch_cap_reads_unhealthy_percent",
    "batch_is_d2_choice",
    "section 4 max_batch_instance_percent: the batch cap reads max_unhealthy_instance_percent",
    rule="section 4 max_batch_instance_percent",
)
def _batch_cap_reads_unhealthy_percent() -> Patches:
    def batch_cap(ss: ScaleSet, n: int) -> int:
        return max(1, n * ss.policy.max_unhealthy_instance_percent // 100)

    return replace(orchestrator, "batch_cap", batch_cap)


@_mutant(
    "batches_in_descending_id_order",
    "batch_is_d2_choice",
    "D2: pending instances are taken highest id first",
    rule="D2",
)
def _batches_in_descending_id_order() -> Patches:
    def pending(self: UpgradeRun) -> list[int]:
        return sorted((i for i, s in self.scope.items() if s == Status.PENDING), reverse=True)

    return [mock.patch.object(UpgradeRun, "pending", pending)]


@_mutant(
    "healthy_instances_prioritized",
    "batch_is_d2_choice",
    "section 4 prioritize_unhealthy_instances: the sort key is reversed, healthy ones first",
    rule="section 4 prioritize_unhealthy_instances",
)
def _healthy_instances_prioritized() -> Patches:
    choose = orchestrator.choose_batch

    def choose_batch(ss: ScaleSet, run: UpgradeRun, n: int) -> tuple[list[int], int, Any]:
        if ss.service_fabric is not None or not ss.policy.prioritize_unhealthy_instances:
            return choose(ss, run, n)
        cap = orchestrator.batch_cap(ss, n)
        healthy = ss.is_healthy
        pending = sorted(run.pending(), key=lambda i: (not healthy(ss.instances[i]), i))
        return pending[:cap], cap, None

    return replace(orchestrator, "choose_batch", choose_batch)


@_mutant(
    "sf_batch_capped_by_percent",
    "batch_is_d2_choice",
    "R13: a Service Fabric batch is also cut to the percentage cap of R5",
    rule="R13",
)
def _sf_batch_capped_by_percent() -> Patches:
    choose = orchestrator.choose_batch

    def choose_batch(ss: ScaleSet, run: UpgradeRun, n: int) -> tuple[list[int], int, Any]:
        members, cap, ud = choose(ss, run, n)
        if ss.service_fabric is None:
            return members, cap, ud
        cap = orchestrator.batch_cap(ss, n)
        return members[:cap], cap, ud

    return replace(orchestrator, "choose_batch", choose_batch)


# --------------------------------------------------------------------- the pre-batch check
@_mutant(
    "unhealthy_limit_rounded",
    "pre_batch_check_decides_by_r4",
    "D1: the unhealthy limit is N x pct / 100 rounded to the nearest, not down",
    rule="D1",
)
def _unhealthy_limit_rounded() -> Patches:
    def unhealthy_limit(ss: ScaleSet, n: int) -> int:
        return round(n * ss.policy.max_unhealthy_instance_percent / 100)

    return replace(orchestrator, "unhealthy_limit", unhealthy_limit)


@_mutant(
    "unhealthy_limit_reads_batch_percent",
    "pre_batch_check_decides_by_r4",
    "section 4 max_unhealthy_instance_percent: the unhealthy limit reads "
    "max_batch_instance_percent",
    rule="section 4 max_unhealthy_instance_percent",
)
def _unhealthy_limit_reads_batch_percent() -> Patches:
    def unhealthy_limit(ss: ScaleSet, n: int) -> int:
        return n * ss.policy.max_batch_instance_percent // 100

    return replace(orchestrator, "unhealthy_limit", unhealthy_limit)


@_mutant(
    "unhealthy_at_the_limit_stops",
    "pre_batch_check_decides_by_r4",
    "R4: the pre-batch check stops the run when unhealthy reaches the limit (>= for >)",
    rule="R4",
)
def _unhealthy_at_the_limit_stops() -> Patches:
    # unhealthy >= floor(N pct / 100) is unhealthy > floor(N pct / 100) - 1
    def unhealthy_limit(ss: ScaleSet, n: int) -> int:
        return n * ss.policy.max_unhealthy_instance_percent // 100 - 1

    return replace(orchestrator, "unhealthy_limit", unhealthy_limit)


@_mutant(
    "check_after_pause_counts_at_batch_end",
    "pre_batch_check_decides_by_r4",
    "R8: the check after a pause uses the unhealthy count taken when the batch ended",
    rule="R8",
)
def _check_after_pause_counts_at_batch_end() -> Patches:
    end_of_batch, end_of_pause = orchestrator.end_of_batch, orchestrator.end_of_pause

    def counting_end_of_batch(ss: ScaleSet, run: UpgradeRun) -> bool:
        done = end_of_batch(ss, run)
        if run.state == "pause":
            variant_memory(ss, "counted", dict)[run.number] = ss.count_unhealthy()
        return done

    def stale_end_of_pause(ss: ScaleSet, run: UpgradeRun) -> bool:
        counted = variant_memory(ss, "counted", dict)
        if run.number not in counted or run.state != "pause":
            return end_of_pause(ss, run)
        unhealthy = counted.pop(run.number)
        with mock.patch.object(ss, "count_unhealthy", lambda: unhealthy):
            return end_of_pause(ss, run)

    return [
        *replace(orchestrator, "end_of_batch", counting_end_of_batch),
        *replace(orchestrator, "end_of_pause", stale_end_of_pause),
    ]


@_mutant(
    "first_check_after_a_batch_says_before",
    "pre_batch_check_decides_by_r4",
    "D5: the check after the first batch still reports "
    "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade (batches counted from 2)",
    rule="D5",
)
def _first_check_after_a_batch_says_before() -> Patches:
    end_run = orchestrator.end_run

    def wrong_code_end_run(
        ss: ScaleSet, run: UpgradeRun, trigger: str, error: tuple[str, str] | None = None
    ) -> None:
        if error is not None and error[0] == ErrorCode.IN_ROLLING_UPGRADE and len(run.batches) == 1:
            error = (ErrorCode.BEFORE_ROLLING_UPGRADE, error[1])
        end_run(ss, run, trigger, error)

    return replace(orchestrator, "end_run", wrong_code_end_run)


# --------------------------------------------------------------------- the end of a batch (D7a)
def _end_of_batch(
    *, cancel_first: bool = False, upgraded_at_limit: bool = False, pause_from_start: bool = False
) -> Any:
    """orchestrator.end_of_batch with one slip: the cancel decided before
    "nothing pending", the upgraded-unhealthy limit reached (>=) instead of
    exceeded, or the pause counted from the batch's start."""

    def end_of_batch(ss: ScaleSet, run: UpgradeRun) -> bool:
        batch = run.batches[-1]
        batch.end = ss.now
        ss.record("batch_ended", run, batch)
        counts = run.counts
        pct = run.policy.max_unhealthy_upgraded_instance_percent  # the run's (TD2)
        failed, done = counts[Status.FAILED], counts[Status.SUCCESSFUL] + counts[Status.FAILED]
        limit = done * pct // 100 if pct is not None else 0
        over = pct is not None and (failed >= limit if upgraded_at_limit else failed > limit)
        if batch.provisioning_failed:
            bad = ", ".join(
                str(i) for i, o in sorted(batch.outcomes.items()) if o.provisioning_failed
            )
            message = f"extension provisioning failed on instances {bad} in batch {batch.number}"
            orchestrator.end_run(ss, run, "fault", (ErrorCode.PROVISIONING, message))
        elif over:
            message = (
                f"{failed} of {done} upgraded instances failed, more than the limit of "
                f"{limit} (max_unhealthy_upgraded_instance_percent {pct})"
            )
            if ss.today:  # T62: the message is Azure's with the switch
                first = run.first_failed[1] if run.first_failed else -1
                message = upgraded_message(done - failed, failed, pct, first)
            orchestrator.end_run(ss, run, "fault", (ErrorCode.UPGRADED_UNHEALTHY, message))
        elif cancel_first and orchestrator.cancel_if_asked(ss, run, batch_ended=True):
            pass
        elif counts[Status.PENDING] == 0:
            orchestrator.end_run(ss, run, "complete")
        elif cancel_first or not orchestrator.cancel_if_asked(ss, run, batch_ended=True):
            run.pause()
            delay = run.policy.pause_seconds  # the run's (TD2)
            if pause_from_start:
                delay = max(0, delay - (ss.now - batch.start))
            ss.schedule_run(run, delay, "end_of_pause")
        return True

    return end_of_batch


@_mutant(
    "cancel_decided_before_completion",
    "end_of_batch_follows_d7a",
    "D7a: a cancel (or opt-out) is decided before 'no pending instance left', so a "
    "finished run ends Cancelled",
    rule="D7a",
)
def _cancel_decided_before_completion() -> Patches:
    return replace(orchestrator, "end_of_batch", _end_of_batch(cancel_first=True))


@_mutant(
    "upgraded_limit_reached_faults",
    "end_of_batch_follows_d7a",
    "section 4 max_unhealthy_upgraded_instance_percent: the run faults when failed "
    "reaches the limit (>= for >)",
    rule="section 4 max_unhealthy_upgraded_instance_percent",
)
def _upgraded_limit_reached_faults() -> Patches:
    return replace(orchestrator, "end_of_batch", _end_of_batch(upgraded_at_limit=True))


@_mutant(
    "pause_counted_from_batch_start",
    "pause_is_waited_exactly",
    "section 4 pause_time_between_batches: the pause is counted from the batch's start, "
    "not its end",
    rule="section 4 pause_time_between_batches",
)
def _pause_counted_from_batch_start() -> Patches:
    return replace(orchestrator, "end_of_batch", _end_of_batch(pause_from_start=True))


# --------------------------------------------------------------------- the health wait
@_mutant(
    "health_deadline_asks_only_the_probe",
    "health_wait_follows_r6",
    "D10: at the end of the health wait only the probe is asked, so a stopped instance "
    "whose probe answered healthy counts successful",
    rule="D10",
)
def _health_deadline_asks_only_the_probe() -> Patches:
    deadline = orchestrator.health_deadline

    def health_deadline(ss: ScaleSet, arg: tuple[Any, int]) -> bool:
        inst, token = arg
        if inst.op_token != token or inst.state != "awaiting_health":
            return False
        if ss.probe_ok(inst) and not ss.is_healthy(inst):
            inst.stop_waiting()
            orchestrator.member_done(ss, inst.batch_run, inst, Status.SUCCESSFUL)
            return True
        return deadline(ss, arg)

    return replace(orchestrator, "health_deadline", health_deadline)


@_mutant(
    "rolled_back_counts_successful",
    "rollback_restores_previous_disk",
    "section 4 automatic_rollback: an instance whose rollback succeeded counts successful",
    rule="section 4 automatic_rollback",
)
def _rolled_back_counts_successful() -> Patches:
    def member_rolled_back(ss: ScaleSet, inst: Any) -> None:
        run = inst.batch_run
        run.rolled_back += 1
        orchestrator.member_done(ss, run, inst, Status.SUCCESSFUL, rolled_back=True)

    return replace(orchestrator, "member_rolled_back", member_rolled_back)


# --------------------------------------------------------------------- D12
@_mutant(
    "run_steps_before_instance_steps",
    "steps_in_d12_order",
    "D12: at equal times run steps come before instance steps (the class constants swapped)",
    rule="D12",
)
def _run_steps_before_instance_steps() -> Patches:
    return [
        mock.patch.object(scaleset, "INSTANCE_STEP", 1),
        mock.patch.object(scaleset, "RUN_STEP", 0),
    ]


@_mutant(
    "pause_not_rolling_forward",
    "history_view_is_r16",
    "D13: the lifecycle's pause is left out of the active states, so a run "
    "pausing between batches shows the code 'pause' instead of RollingForward",
    rule="D13",
)
def _pause_not_rolling_forward() -> Patches:
    from model import run as run_module

    return [
        mock.patch.object(run_module, "ACTIVE_STATES", frozenset({"pre_check", "batch_in_flight"}))
    ]


@_mutant(
    "end_of_pause_not_counted",
    "last_change_ends_the_trace",
    "D12, section 7 until: the end of a pause (and the check and batch it "
    "starts) is not counted as something that happened",
    rule="D12",
)
def _end_of_pause_not_counted() -> Patches:
    return end_of_pause_reporting(False)


def end_of_pause_reporting(counted: bool) -> Patches:
    """The end of a pause acts as usual, but tells the step loop ``counted``
    (whether it did something), whatever it did."""
    end_of_pause = orchestrator.end_of_pause

    def reported_end_of_pause(ss: ScaleSet, run: UpgradeRun) -> bool:
        end_of_pause(ss, run)
        return counted

    return replace(orchestrator, "end_of_pause", reported_end_of_pause)


# --------------------------------------------------------------------- rollback
@_mutant(
    "rolled_back_keeps_new_disk",
    "rollback_restores_previous_disk",
    "section 4 automatic_rollback: a member is reported rolled back while it keeps the "
    "new OS disk and version",
    rule="section 4 automatic_rollback",
)
def _rolled_back_keeps_new_disk() -> Patches:
    from model.actors import instances

    def rollback_restored(ss: ScaleSet, arg: tuple[Any, int]) -> bool:
        inst, token = arg
        if inst.op_token != token:
            return False
        inst.provisioning_state = inst.previous_disk[2]
        inst.app_health = None
        inst.restore()
        instances.start_application(ss, inst)
        ss.record("rollback_restored", inst)
        orchestrator.member_rolled_back(ss, inst)
        return True

    return replace(instances, "rollback_restored", rollback_restored)


@_mutant(
    "same_time_steps_reversed",
    "steps_in_d12_order",
    "D12: steps of one actor due at the same time run last-scheduled first (the "
    "clock's sequence counts down), so a health deadline comes before the "
    "application it waits for",
    rule="D12",
)
def _same_time_steps_reversed() -> Patches:
    import heapq

    from model.clock import Clock

    def schedule(self: Clock, at: int, klass: int, actor: int, action: Any, arg: Any) -> None:
        self._seq -= 1
        heapq.heappush(self._heap, (max(at, self.now), klass, actor, self._seq, action, arg))

    return [mock.patch.object(Clock, "schedule", schedule)]
