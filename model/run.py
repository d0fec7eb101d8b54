"""The upgrade run lifecycle (R4-R8, R12-R14, D1-D7a, D11).

A run is one OS upgrade attempt: a REST rolling upgrade, an osUpgradeHistory
entry. Its lifecycle is an explicit ``transitions`` machine shared by all the
runs of a scale set:

    pre_check ──start_batch──▶ batch_in_flight ──pause──▶ pause ──check──▶ pre_check
    pre_check | batch_in_flight ──complete──▶ Completed
    pre_check | batch_in_flight ──fault──▶ Faulted
    pre_check | batch_in_flight | pause ──cancel──▶ Cancelled

`pre_check`, `batch_in_flight` and `pause` are the REST code RollingForward.
The decisions themselves (which trigger fires when) live in the scale set's
run actions; this module holds the run's data and its accounting (D11).
"""

from __future__ import annotations

import attrs

from model.catalog import version_key
from model.clock import RUN_STEP

PLATFORM, USER = "Platform", "User"
ROLLING_FORWARD = "RollingForward"
COMPLETED, FAULTED, CANCELLED = "Completed", "Faulted", "Cancelled"

RUN_STATES = ["pre_check", "batch_in_flight", "pause", COMPLETED, FAULTED, CANCELLED]
ACTIVE_STATES = frozenset({"pre_check", "batch_in_flight", "pause"})

RUN_TRANSITIONS = [
    # R4: the pre-batch check passed; R5: the batch starts.
    {"trigger": "start_batch", "source": "pre_check", "dest": "batch_in_flight"},
    # D7a: the batch ended and more is pending; wait pause_time_between_batches.
    {"trigger": "pause", "source": "batch_in_flight", "dest": "pause"},
    {"trigger": "check", "source": "pause", "dest": "pre_check"},
    # D7a: nothing pending.
    {"trigger": "complete", "source": ["pre_check", "batch_in_flight"], "dest": COMPLETED},
    # D5, D6: the run stops with an error.
    {"trigger": "fault", "source": ["pre_check", "batch_in_flight"], "dest": FAULTED},
    # D7: cancel or opt-out, never in the middle of a batch.
    {"trigger": "cancel", "source": ["pre_check", "batch_in_flight", "pause"], "dest": CANCELLED},
]

# D11: the status of an in-scope instance within its run.
PENDING, IN_PROGRESS, SUCCESSFUL, FAILED = "pending", "inProgress", "successful", "failed"

# D5, D6: the error codes of a Faulted run.
BEFORE_ROLLING_UPGRADE = "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
IN_ROLLING_UPGRADE = "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
UPGRADED_UNHEALTHY = "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
PROVISIONING_ERROR = "VMExtensionProvisioningError"
ERROR_CODES = (BEFORE_ROLLING_UPGRADE, IN_ROLLING_UPGRADE, UPGRADED_UNHEALTHY, PROVISIONING_ERROR)


@attrs.define(eq=False)
class Outcome:
    """How one instance of a batch ended (D11), as the run observed it."""

    status: str  # SUCCESSFUL | FAILED
    at: int
    provisioning_failed: bool = False
    #: when its extensions finished (None when they never did)
    provisioned_at: int | None = None
    #: healthy at the moment it was counted done
    healthy: bool = False
    rolled_back: bool = False


@attrs.define(eq=False)
class Batch:
    """R5, R13: the instances a run upgrades together, and the facts of its start."""

    number: int
    instances: list[int]
    start: int
    #: N, unhealthy and the R4 limit at the moment the batch started (I1, I2)
    instance_count: int
    unhealthy: int
    limit: int
    cap: int
    update_domain: int | None = None
    end: int | None = None
    outcomes: dict[int, Outcome] = attrs.field(factory=dict)

    @property
    def provisioning_failed(self) -> bool:
        return any(o.provisioning_failed for o in self.outcomes.values())


@attrs.define(eq=False)
class Check:
    """One pre-batch health check (R4, R8): N, unhealthy, limit, at a time."""

    at: int
    instance_count: int
    unhealthy: int
    limit: int

    @property
    def passed(self) -> bool:
        return self.unhealthy <= self.limit


@attrs.define(eq=False, repr=False)
class UpgradeRun:
    """One run: who started it, its fixed target (D3), its scope and progress (D11)."""

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
    counts: dict[str, int] = attrs.field(init=False)
    #: set by the machine (model/machines.py), which also binds the trigger methods
    state: str = "pre_check"
    lifecycle: object = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        self.counts = {PENDING: 0, IN_PROGRESS: 0, SUCCESSFUL: 0, FAILED: 0}
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
        return ROLLING_FORWARD if self.state in ACTIVE_STATES else self.state

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
        return sorted(i for i, s in self.scope.items() if s == PENDING)

    def progress(self) -> dict[str, int]:
        """D11 in the REST shape."""
        c = self.counts
        return {
            "successfulInstanceCount": c[SUCCESSFUL],
            "failedInstanceCount": c[FAILED],
            "inProgressInstanceCount": c[IN_PROGRESS],
            "pendingInstanceCount": c[PENDING],
        }


class RunActions:
    """The orchestrator: when runs start, how batches are chosen, and what the
    run decides when a batch ends (mixed into ScaleSet)."""

    # -- starting a run
    def _is_being_created(self, inst) -> bool:
        return inst.provisioning_state == "Creating"

    def _scope_for(self, target: str) -> dict[int, str]:
        """D3, D11: instances below the target, not being created now."""
        key = version_key(target)
        return {
            i: PENDING
            for i, inst in self.instances.items()
            if not self._is_being_created(inst) and version_key(inst.image_version) < key
        }

    def may_start_platform_run(self) -> bool:
        """D4: automatic upgrades on, no V error, no run active, no deploy in
        flight, and some instance (not being created) below the latest."""
        if not self.auto_enabled or self.v_errors or self.active_run is not None:
            return False
        if self.deploy is not None:
            return False
        latest = version_key(self.catalog.latest)
        return any(
            not self._is_being_created(inst) and version_key(inst.image_version) < latest
            for inst in self.instances.values()
        )

    def maybe_start_platform_run(self, reason: str) -> UpgradeRun | None:
        """R2, D4: start a Platform run towards the latest version if allowed."""
        if not self.may_start_platform_run():
            return None
        return self._start_run(PLATFORM, reason)

    def _start_run(self, started_by: str, reason: str) -> UpgradeRun:
        """D3: the target is the latest version at the run's start, fixed."""
        target = self.catalog.latest
        run = UpgradeRun(
            number=len(self.runs) + 1,
            started_by=started_by,
            target=target,
            start=self.clock.now,
            scope=self._scope_for(target),
        )
        self._run_machine.add_model(run, initial="pre_check")
        self.runs.append(run)
        self.active_run = run
        if self.watch is not None:
            self._note("run_started", run)
        self._log(
            run,
            "run %d started by %s (%s): target %s, %d instances in scope",
            run.number,
            started_by,
            reason,
            target,
            len(run.scope),
        )
        self._run_pre_check(run)
        return run

    # -- before each batch
    def _run_pre_check(self, run: UpgradeRun) -> None:
        """R4, R8, D1, D5: with nothing pending the run is Completed (D4: a User
        run with an empty scope ends at once); with more than floor(N x pct/100)
        instances unhealthy it ends Faulted; otherwise the next batch starts."""
        if run.counts[PENDING] == 0:
            self._end_run(run, "complete")
            return
        n = len(self.instances)
        unhealthy = self.count_unhealthy()
        limit = n * self.policy.max_unhealthy_instance_percent // 100  # D1
        run.checks.append(Check(self.clock.now, n, unhealthy, limit))
        if unhealthy > limit:
            code = IN_ROLLING_UPGRADE if run.batches else BEFORE_ROLLING_UPGRADE
            self._end_run(
                run,
                "fault",
                (
                    code,
                    f"{unhealthy} of {n} instances are unhealthy, more than the limit of "
                    f"{limit} (max_unhealthy_instance_percent "
                    f"{self.policy.max_unhealthy_instance_percent})",
                ),
            )
            return
        self._run_start_batch(run, n, unhealthy, limit)

    def batch_cap(self, n: int) -> int:
        """R5, D1: cap(N) = max(1, floor(N x pct / 100))."""
        return max(1, n * self.policy.max_batch_instance_percent // 100)

    def _choose_batch(self, run: UpgradeRun, n: int) -> tuple[list[int], int, int | None]:
        """D2, R5, R13: the next batch, its cap, and its update domain."""
        pending = run.pending()
        if self.service_fabric is not None:
            # R13: all pending instances of the lowest update domain that has any.
            ud = min(self.instances[i].update_domain for i in pending)
            members = [i for i in pending if self.instances[i].update_domain == ud]
            return members, len(members), ud
        cap = self.batch_cap(n)
        if self.policy.prioritize_unhealthy_instances:
            healthy = self.is_healthy
            pending.sort(key=lambda i: (healthy(self.instances[i]), i))
        return pending[:cap], cap, None

    def _run_start_batch(self, run: UpgradeRun, n: int, unhealthy: int, limit: int) -> None:
        """R3, R5: every instance of the batch starts its OS disk replacement."""
        members, cap, ud = self._choose_batch(run, n)
        batch = Batch(
            number=len(run.batches) + 1,
            instances=members,
            start=self.clock.now,
            instance_count=n,
            unhealthy=unhealthy,
            limit=limit,
            cap=cap,
            update_domain=ud,
        )
        run.batches.append(batch)
        run.start_batch()
        # Observers see the batch at the moment it starts, before its instances move.
        if self.watch is not None:
            self._note("batch_started", run, batch)
        for i in members:
            run.set_status(i, IN_PROGRESS)
            self._instance_begin_reimage(self.instances[i], run.target, run)
        self._log(
            run,
            "run %d batch %d started: instances %s%s",
            run.number,
            batch.number,
            ", ".join(map(str, members)),
            f" (update domain {ud})" if ud is not None else f" (cap {cap} of {n})",
        )

    # -- while a batch is in flight
    def _run_instance_provisioned(self, inst, ok: bool) -> None:
        """D6, D11, R6: a batch member's extensions finished."""
        run = inst.batch_run
        if not ok:
            inst.extensions_finished()
            self._run_instance_done(run, inst, FAILED, provisioning_failed=True)
        elif self.probe is None:
            # R7: without a probe there is no wait; health decides now.
            inst.extensions_finished()
            healthy = self.is_healthy(inst)
            self._run_instance_done(run, inst, SUCCESSFUL if healthy else FAILED, healthy=healthy)
        else:
            # R6: wait up to health_wait_seconds for the probe.
            inst.await_health()
            self._schedule_instance(
                inst, self.timings.health_wait_seconds, self._instance_health_deadline
            )
            self._run_recheck(inst)

    def _run_recheck(self, inst) -> None:
        """R6: an awaited instance that is healthy now is done, successful."""
        if inst.state == "awaiting_health" and self.is_healthy(inst):
            inst.settle()
            self._run_instance_done(inst.batch_run, inst, SUCCESSFUL, healthy=True)

    def _run_health_deadline(self, inst) -> None:
        """R6, D10, D11: the health wait ran out; healthy at exactly the end counts
        as in time. Otherwise failed, or rolled back first (section 4)."""
        if self.is_healthy(inst):
            inst.settle()
            self._run_instance_done(inst.batch_run, inst, SUCCESSFUL, healthy=True)
        elif self.policy.automatic_rollback:
            self._log(inst.batch_run, "instance %d: not healthy in time, rolling back", inst.id)
            self._instance_begin_rollback(inst)
        else:
            inst.settle()
            self._run_instance_done(inst.batch_run, inst, FAILED)

    def _run_instance_rolled_back(self, inst) -> None:
        """Section 4, D11: done once the rollback finished; failed and rolled back."""
        run = inst.batch_run
        run.rolled_back += 1
        self._run_instance_done(run, inst, FAILED, rolled_back=True)

    def _run_instance_done(self, run: UpgradeRun, inst, status: str, **facts) -> None:
        """D11: the instance is done in its batch; the last one ends the batch
        (a run step at the same time, after the instance steps: D12)."""
        batch = run.batches[-1]
        batch.outcomes[inst.id] = Outcome(
            status=status, at=self.clock.now, provisioned_at=inst.last_provisioned_at, **facts
        )
        run.set_status(inst.id, status)
        inst.batch_run = None
        if self.watch is not None:
            self._note("instance_done", run, inst)
        if self.log is not None:  # the timeline costs nothing when off
            self._log(run, "instance %d: %s in batch %d", inst.id, status, batch.number)
        if len(batch.outcomes) == len(batch.instances):
            self.clock.schedule(self.clock.now, RUN_STEP, run.number, self._run_end_batch, run)

    # -- after a batch
    def _run_end_batch(self, run: UpgradeRun) -> bool:
        """D7a: when a batch's last instance is done, the run decides in order:
        a provisioning failure (D6); the upgraded-unhealthy limit (section 4);
        nothing pending (Completed); cancel or opt-out (D7); else pause, then
        the pre-batch check."""
        batch = run.batches[-1]
        batch.end = self.clock.now
        if self.watch is not None:
            self._note("batch_ended", run, batch)
        self._log(run, "run %d batch %d ended", run.number, batch.number)
        counts = run.counts
        upgraded_pct = self.policy.max_unhealthy_upgraded_instance_percent
        failed, done = counts[FAILED], counts[SUCCESSFUL] + counts[FAILED]
        if batch.provisioning_failed:
            bad = sorted(i for i, o in batch.outcomes.items() if o.provisioning_failed)
            self._end_run(
                run,
                "fault",
                (
                    PROVISIONING_ERROR,
                    f"extension provisioning failed on instances {', '.join(map(str, bad))} "
                    f"in batch {batch.number}",
                ),
            )
        elif upgraded_pct is not None and failed > done * upgraded_pct // 100:
            self._end_run(
                run,
                "fault",
                (
                    UPGRADED_UNHEALTHY,
                    f"{failed} of {done} upgraded instances failed, more than the limit of "
                    f"{done * upgraded_pct // 100} "
                    f"(max_unhealthy_upgraded_instance_percent {upgraded_pct})",
                ),
            )
        elif counts[PENDING] == 0:
            self._end_run(run, "complete")
        elif run.cancel_requested or (run.started_by == PLATFORM and not self.auto_enabled):
            self._end_run(run, "cancel")
        else:
            run.pause()
            self.clock.schedule(
                self.clock.now + self.pause_seconds,
                RUN_STEP,
                run.number,
                self._run_after_pause,
                run,
            )
        return True

    def _run_after_pause(self, run: UpgradeRun) -> bool:
        """Section 4: pause_time_between_batches has passed; check again (R8)."""
        if run.state != "pause":
            return False  # cancelled during the pause
        run.check()
        self._run_pre_check(run)
        return True

    def _end_run(self, run: UpgradeRun, trigger: str, error: tuple[str, str] | None = None) -> None:
        """The run ends Completed, Faulted or Cancelled. D4: a Completed run is
        followed by a Platform run if a newer version than its target exists or
        an instance outside its scope is below the latest."""
        getattr(run, trigger)()
        run.end = self.clock.now
        run.error = error
        self.active_run = None
        if self.watch is not None:
            self._note("run_ended", run)
        self._log(run, "run %d %s%s", run.number, run.state, f": {error[0]}" if error else "")
        if run.state == COMPLETED and self._rerun_after(run):
            self.maybe_start_platform_run(f"after run {run.number}")

    def _rerun_after(self, run: UpgradeRun) -> bool:
        """D4: whether the end of a Completed run is a reason to start another."""
        latest = version_key(self.catalog.latest)
        if latest > version_key(run.target):
            return True
        return any(
            i not in run.scope
            and not self._is_being_created(inst)
            and version_key(inst.image_version) < latest
            for i, inst in self.instances.items()
        )
