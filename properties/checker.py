"""The Checker: evaluates the invariants of properties/invariants.py after
every step of a model, looking only at what the step can have changed.

It subscribes to the facts the scale set reports (``ScaleSet.watch``): an
instance created, changed or done, a batch started or ended, a run started
or ended, a deploy ended. Checks about a moment (I1, I2, I3, I7 at a batch's
start; I8 when provisioning finishes) run when the fact arrives; the rest
run at the end of the step. It keeps a shadow of what it has observed (each
instance's data disks and last two OS disks, each run's scope statuses), so
that a model that miscounts or forgets is caught, not trusted. The cost per
step is proportional to what changed, never to the fleet, except at a
batch's start (the independent unhealthy count of I2) and a run's start and
end (its scope).
"""

from __future__ import annotations

from typing import Any

import attrs

from model.catalog import version_key
from model.run import FAILED, IN_PROGRESS, PENDING, SUCCESSFUL
from model.trace import Violation
from properties import invariants as inv
from properties.liveness import Liveness


@attrs.define(eq=False)
class _Shadow:
    data_disks: tuple[str, ...]
    disk: tuple[str, str]
    prior: tuple[str, str] | None = None


@attrs.define(eq=False)
class _RunShadow:
    statuses: dict[int, str]
    counts: dict[str, int]
    done: set[int] = attrs.field(factory=set)
    #: D3: the target the run started with
    target: str = ""


class Checker:
    """Attach to a ScaleSet; ``violations`` lists what broke, and when."""

    def __init__(self, ss: Any, *, stop_at_first: bool = False) -> None:
        self.ss = ss
        self.violations: list[Violation] = []
        self.stop_at_first = stop_at_first
        self.steps = 0
        self._instances: dict[int, _Shadow] = {
            i: self._shadow(inst) for i, inst in ss.instances.items()
        }
        self._runs: dict[int, _RunShadow] = {}
        self._touched_instances: set[int] = set()
        self._touched_runs: dict[int, Any] = {}
        self._history_due = False
        self._handlers: dict[str, Any] = {}  # fact -> its bound _on_ method
        #: L1 and the deadlines of L2 (properties/liveness.py)
        self.liveness = Liveness(ss, self._report)
        ss.watch = self.observe

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _shadow(inst: Any) -> _Shadow:
        return _Shadow(tuple(inst.data_disks), (inst.os_disk, inst.image_version))

    def _report(self, invariant: str, problems: list[str]) -> None:
        for message in problems:
            self.violations.append(Violation(invariant, self.ss.now, message))

    def observe(self, fact: str, args: tuple[Any, ...]) -> None:
        handler = self._handlers.get(fact)
        if handler is None:
            handler = self._handlers[fact] = getattr(self, "_on_" + fact)
        handler(*args)

    # ------------------------------------------------------------------ facts
    def _on_instance_created(self, inst: Any) -> None:
        self._instances[inst.id] = self._shadow(inst)

    def _on_instance_removed(self, inst: Any) -> None:
        self._instances.pop(inst.id, None)
        self._touched_instances.discard(inst.id)
        for number, shadow in self._runs.items():
            status = shadow.statuses.pop(inst.id, None)
            if status is not None:
                shadow.counts[status] -= 1
                self._touched_runs[number] = self.ss.runs[number - 1]

    def _on_instance_changed(self, inst: Any) -> None:
        self._touched_instances.add(inst.id)

    def _on_provisioned(self, inst: Any, ok: bool) -> None:
        self._touched_instances.add(inst.id)
        self._report("I8", inv.expired_credential_fails(self.ss, inst, ok))

    def _on_run_started(self, run: Any) -> None:
        ss = self.ss
        key = version_key(run.target)
        statuses = {
            i: PENDING
            for i, inst in ss.instances.items()
            if inst.provisioning_state != "Creating" and version_key(inst.image_version) < key
        }
        counts = {PENDING: len(statuses), IN_PROGRESS: 0, SUCCESSFUL: 0, FAILED: 0}
        self._runs[run.number] = _RunShadow(statuses, counts, target=run.target)
        self._touched_runs[run.number] = run
        self._history_due = True
        self._report("I4", inv.target_is_latest(ss, run))
        self._report("I7", inv.platform_run_allowed(ss, run))
        self._report("I10", inv.one_active_run(ss))
        self.liveness.run_started(run)

    def _set(self, run: Any, instance_id: int, status: str) -> None:
        shadow = self._runs[run.number]
        old = shadow.statuses.get(instance_id)
        if old is None:
            return  # outside the scope; I9 shows the difference in counts
        shadow.counts[old] -= 1
        shadow.counts[status] += 1
        shadow.statuses[instance_id] = status

    def _on_batch_started(self, run: Any, batch: Any) -> None:
        ss = self.ss
        self._report("I1", inv.batch_within_cap(ss, run, batch))
        self._report("I1", inv.one_batch_in_flight(run))
        self._report("I2", inv.pre_check_passed(ss, run, batch))
        self._report("I3", inv.stopped_runs_start_no_batch(ss, run, batch))
        self._report("I7", inv.no_platform_batch_after_opt_out(ss, run, batch))
        self._report("L2", inv.run_moves_on(ss, run, batch.start))
        for i in batch.instances:
            self._set(run, i, IN_PROGRESS)
        self._touched_runs[run.number] = run

    def _on_instance_done(self, run: Any, inst: Any) -> None:
        outcome = run.batches[-1].outcomes[inst.id]
        self._runs[run.number].done.add(inst.id)
        self._set(run, inst.id, outcome.status)
        self._touched_instances.add(inst.id)
        self._touched_runs[run.number] = run
        self._report("I4", inv.upgraded_to_target(run, inst, outcome.rolled_back))
        self._report("I6", inv.waited_for_health(self.ss, run, inst))

    def _on_batch_ended(self, run: Any, batch: Any) -> None:
        self._report("I6", inv.batch_members_all_done(run, batch, self._runs[run.number].done))
        self._report("I8", inv.credential_failures_in_one_batch(run))
        self._report("L2", inv.batch_terminates(self.ss, run, batch))
        self.liveness.batch_ended(run, batch)
        self._touched_runs[run.number] = run

    def _on_run_ended(self, run: Any) -> None:
        self._report("I11", inv.no_orphans(self.ss, run))
        if run.state != "Cancelled" or run.batches:
            self._report("L2", inv.run_moves_on(self.ss, run, run.end))
        self.liveness.run_ended(run)
        self._touched_runs[run.number] = run
        self._history_due = True

    def _on_deploy_ended(self, deploy: Any) -> None:
        self._report("I12", inv.recovered_after_deploy(self.ss, deploy))

    # ------------------------------------------------------------------ boundaries
    def _on_step(self) -> None:
        self._end_of_step()

    def _on_event(self, event: Any) -> None:
        self.liveness.event(event)
        self._end_of_step()

    def _on_rejected(self, rejection: Any) -> None:
        self._end_of_step()

    def _end_of_step(self) -> None:
        """Every invariant over what this step changed."""
        self.steps += 1
        ss = self.ss
        report = self._report
        touched = self._touched_instances
        if touched:
            instances, shadows = ss.instances, self._instances
            for i in touched:
                inst = instances.get(i)
                shadow = shadows.get(i)
                if inst is None or shadow is None:
                    continue
                report("I5", inv.data_disks_kept(inst, shadow.data_disks))
                now = (inst.os_disk, inst.image_version)
                if now != shadow.disk:
                    report("I4", inv.version_never_decreases(inst, shadow.disk, shadow.prior))
                    shadow.prior, shadow.disk = shadow.disk, now
            touched.clear()
        if self._touched_runs:
            for run in self._touched_runs.values():
                report("I9", inv.progress_accounted(run, self._runs[run.number].counts))
            self._touched_runs.clear()
        if self._history_due:
            report("I10", inv.one_active_run(ss))
            report("I10", inv.history_bounded(ss))
            self._history_due = False
        run = ss.active_run
        if run is not None:
            shadow = self._runs[run.number]
            report("I4", inv.target_unchanged(run, shadow.target))
            shadow.target = run.target  # a change is reported once
        self.liveness.deadlines()

    def finish(self) -> None:
        """At the end of a replay or a Hypothesis step: the L1 and L2 deadlines
        of the run still going (a run that stopped moving has no step to check at)."""
        self.liveness.deadlines()
