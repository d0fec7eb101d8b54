"""The Checker: evaluates the invariants of properties/invariants.py after
every step of a model, looking only at what the step can have changed.

It subscribes to the facts the scale set records (``ss.subscribe(checker)``):
an instance created, its disk replaced or restored, its extensions finished,
a member done, a batch started or ended, a run started or ended, a deploy
ended, and the end of every step. Checks about a moment (I1, I2, I3, I7 at a batch's
start; I8 when provisioning finishes) run when the fact arrives; the rest
run at the end of the step. It keeps a shadow of what it has observed (each
instance's data disks and last two OS disks, each run's scope statuses), so
that a model that miscounts or forgets is caught, not trusted. The cost per
step is proportional to what changed, never to the fleet, except at a
batch's start (the independent unhealthy count of I2) and a run's start and
end (its scope).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

from model.catalog import version_key
from model.instance import Provisioning
from model.run import Code, Status
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


#: the facts the checker looks at, and the handler of each
_FACTS = {
    "instance_created": "_on_instance_created",
    "instance_removed": "_on_instance_removed",
    "disk_replaced": "_on_instance_changed",
    "rollback_restored": "_on_instance_changed",
    "extensions_finished": "_on_provisioned",
    "run_started": "_on_run_started",
    "batch_started": "_on_batch_started",
    "member_done": "_on_member_done",
    "batch_ended": "_on_batch_ended",
    "run_ended": "_on_run_ended",
    "deploy_ended": "_on_deploy_ended",
    "step": "_on_step",
    "event": "_on_event",
    "rejected": "_on_rejected",
}


def _ignore(*args: Any) -> None:
    """A fact no property looks at."""


class Checker:
    """A subscriber of a ScaleSet (``ss.subscribe(checker)``); ``violations``
    lists what broke, and when. ``counts``, when given, counts each
    property's evaluations; ``on_violation`` is called at each violation as
    it is found (the property machine stops the example there)."""

    def __init__(
        self,
        ss: Any,
        *,
        counts: Counter[str] | None = None,
        on_violation: Callable[[Violation], None] | None = None,
    ) -> None:
        self.ss = ss
        self.violations: list[Violation] = []
        self.counts: Counter[str] = counts if counts is not None else Counter()
        self._on_violation = on_violation
        self._instances: dict[int, _Shadow] = {
            i: self._shadow(inst) for i, inst in ss.instances.items()
        }
        self._runs: dict[int, _RunShadow] = {}
        self._touched_instances: set[int] = set()
        self._touched_runs: dict[int, Any] = {}
        self._history_due = False
        self._handlers: dict[str, Callable[..., None]] = {}
        #: L1 and the deadlines of L2 (properties/liveness.py)
        self.liveness = Liveness(ss, self._report)

    # ------------------------------------------------------------------ plumbing
    @staticmethod
    def _shadow(inst: Any) -> _Shadow:
        return _Shadow(tuple(inst.data_disks), (inst.os_disk, inst.image_version))

    def _report(self, invariant: str, problems: list[str]) -> None:
        self.counts[invariant] += 1
        for message in problems:
            violation = Violation(invariant, self.ss.now, message)
            self.violations.append(violation)
            if self._on_violation is not None:
                self._on_violation(violation)

    def __call__(self, fact: str, *args: Any) -> None:
        handler = self._handlers.get(fact)
        if handler is None:
            name = _FACTS.get(fact)
            handler = self._handlers[fact] = getattr(self, name) if name else _ignore
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

    def _on_run_started(self, run: Any, reason: str) -> None:
        ss = self.ss
        # D3, D11: the run's scope, the checker's own independent copy (instances
        # below the target, not being created), so that a wrong scope is caught.
        key = version_key(run.target)
        statuses = {
            i: Status.PENDING
            for i, inst in ss.instances.items()
            if inst.provisioning_state != Provisioning.CREATING
            and version_key(inst.image_version) < key
        }
        counts = {
            Status.PENDING: len(statuses),
            Status.IN_PROGRESS: 0,
            Status.SUCCESSFUL: 0,
            Status.FAILED: 0,
        }
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
            self._set(run, i, Status.IN_PROGRESS)
        self._touched_runs[run.number] = run

    def _on_member_done(self, run: Any, inst: Any) -> None:
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
        if run.state != Code.CANCELLED or run.batches:
            self._report("L2", inv.run_moves_on(self.ss, run, run.end))
        self.liveness.run_ended(run)
        self._touched_runs[run.number] = run
        self._history_due = True

    def _on_deploy_ended(self, deploy: Any) -> None:
        self._report("I12", inv.recovered_after_deploy(self.ss, deploy))

    # ------------------------------------------------------------------ boundaries
    def _on_step(self, step: Any, arg: Any) -> None:
        self._end_of_step()

    def _on_event(self, event: Any) -> None:
        self.liveness.event(event)
        self._end_of_step()

    def _on_rejected(self, rejection: Any) -> None:
        self._end_of_step()

    def _end_of_step(self) -> None:
        """Every invariant over what this step changed."""
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
