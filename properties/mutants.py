"""Deliberately broken variants of the model: the property suite must catch each.

Every mutant is a context manager that monkeypatches one small piece of the
model for the duration of a ``with`` block and restores it after; nothing in
``model/`` knows about them (no switch in the model). Each names the
invariant or progress property of SPEC section 6 that should catch it.
tests/test_mutants.py asserts that the CI profile finds a counterexample
naming that property and that the saved trace, replayed under the same
patch, reports it again; the benchmarks time how long each takes to find::

    from properties.mutants import MUTANTS
    with MUTANTS["batch_cap_rounded_up"].applied():
        ...  # the model now rounds the batch cap up
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any
from unittest import mock

import attrs

from model import history
from model.catalog import version_key
from model.environment import EnvironmentActions, Rejected
from model.instance import FAILED as PROVISIONING_FAILED
from model.instance import InstanceActions
from model.run import FAILED, SUCCESSFUL, USER, Batch, RunActions, UpgradeRun
from model.scaleset import ScaleSet


@attrs.frozen
class Mutant:
    """One broken variant: its name, what is broken, and what should catch it."""

    name: str
    description: str
    invariant: str
    patches: Callable[[], list[AbstractContextManager[Any]]]

    @contextmanager
    def applied(self) -> Iterator[Mutant]:
        """Apply the patches inside the block; restore the model after."""
        with ExitStack() as stack:
            for patch in self.patches():
                stack.enter_context(patch)
            yield self


MUTANTS: dict[str, Mutant] = {}


def _mutant(name: str, invariant: str, description: str) -> Callable[[Callable], Callable]:
    def register(patches: Callable[[], list[AbstractContextManager[Any]]]) -> Callable:
        MUTANTS[name] = Mutant(name, description, invariant, patches)
        return patches

    return register


# --------------------------------------------------------------------- I1
@_mutant("batch_cap_rounded_up", "I1", "R5, D1: the batch cap rounds N x pct / 100 up")
def _batch_cap_rounded_up() -> list[AbstractContextManager[Any]]:
    def batch_cap(self: ScaleSet, n: int) -> int:
        return max(1, -(-n * self.policy.max_batch_instance_percent // 100))

    return [mock.patch.object(RunActions, "batch_cap", batch_cap)]


@_mutant("sf_batch_spans_two_uds", "I1", "R13: a Service Fabric batch takes two update domains")
def _sf_batch_spans_two_uds() -> list[AbstractContextManager[Any]]:
    choose = RunActions._choose_batch

    def _choose_batch(self: ScaleSet, run: UpgradeRun, n: int) -> tuple[list[int], int, Any]:
        members, cap, ud = choose(self, run, n)
        if self.service_fabric is None:
            return members, cap, ud
        pending = run.pending()
        uds = sorted({self.instances[i].update_domain for i in pending})[:2]
        members = [i for i in pending if self.instances[i].update_domain in uds]
        return members, len(members), uds[0]

    return [mock.patch.object(RunActions, "_choose_batch", _choose_batch)]


# --------------------------------------------------------------------- I2
@_mutant("pre_check_skipped", "I2", "R4: the pre-batch health check always passes")
def _pre_check_skipped() -> list[AbstractContextManager[Any]]:
    pre_check = RunActions._run_pre_check

    def _run_pre_check(self: ScaleSet, run: UpgradeRun) -> None:
        if "count_unhealthy" in vars(self):  # a run started from within a check
            pre_check(self, run)
            return
        self.count_unhealthy = lambda: 0  # the check counts nobody
        try:
            pre_check(self, run)
        finally:
            del self.count_unhealthy

    return [mock.patch.object(RunActions, "_run_pre_check", _run_pre_check)]


# --------------------------------------------------------------------- I3
@_mutant(
    "run_goes_on_after_provisioning_failure",
    "I3",
    "D6: a batch with a provisioning failure does not stop the run",
)
def _run_goes_on_after_provisioning_failure() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(Batch, "provisioning_failed", property(lambda self: False))]


# --------------------------------------------------------------------- I4
@_mutant(
    "target_not_latest",
    "I4",
    "D3: a manual start targets the version before the latest (a stale catalog)",
)
def _target_not_latest() -> list[AbstractContextManager[Any]]:
    start_run = RunActions._start_run

    def _start_run(self: ScaleSet, started_by: str, reason: str) -> UpgradeRun:
        versions = sorted(self.catalog.versions, key=version_key)
        if started_by != USER or len(versions) < 2:
            return start_run(self, started_by, reason)
        # RunActions._start_run with one change: the target.
        target = versions[-2]
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
        self._note("run_started", run)
        self._run_pre_check(run)
        return run

    return [mock.patch.object(RunActions, "_start_run", _start_run)]


@_mutant(
    "target_changes_during_run",
    "I4",
    "D3: a publication during a run moves the run's target to the new version",
)
def _target_changes_during_run() -> list[AbstractContextManager[Any]]:
    publish = EnvironmentActions.publisher_publish_image

    def publisher_publish_image(self: ScaleSet, ev: Any) -> None:
        run = self.active_run
        publish(self, ev)
        if run is not None and run.active:
            run.target = ev.version

    return [
        mock.patch.object(EnvironmentActions, "publisher_publish_image", publisher_publish_image)
    ]


# --------------------------------------------------------------------- I5
@_mutant("data_disk_lost_on_reimage", "I5", "R3: an OS disk replacement drops a data disk")
def _data_disk_lost_on_reimage() -> list[AbstractContextManager[Any]]:
    reimage = InstanceActions._instance_begin_reimage

    def _instance_begin_reimage(self: ScaleSet, inst: Any, target: str, run: object) -> None:
        reimage(self, inst, target, run)
        inst.data_disks = inst.data_disks[:-1]

    return [mock.patch.object(InstanceActions, "_instance_begin_reimage", _instance_begin_reimage)]


# --------------------------------------------------------------------- I6
@_mutant(
    "health_wait_skipped",
    "I6",
    "R6: with a probe, an instance is done when its extensions finish (no health wait)",
)
def _health_wait_skipped() -> list[AbstractContextManager[Any]]:
    def _run_instance_provisioned(self: ScaleSet, inst: Any, ok: bool) -> None:
        run = inst.batch_run
        inst.extensions_finished()
        if not ok:
            self._run_instance_done(run, inst, FAILED, provisioning_failed=True)
            return
        healthy = self.is_healthy(inst)
        self._run_instance_done(run, inst, SUCCESSFUL if healthy else FAILED, healthy=healthy)

    return [mock.patch.object(RunActions, "_run_instance_provisioned", _run_instance_provisioned)]


# --------------------------------------------------------------------- I7
@_mutant(
    "platform_run_after_opt_out",
    "I7",
    "R1, D4: a publication starts a Platform run while automatic upgrades are off",
)
def _platform_run_after_opt_out() -> list[AbstractContextManager[Any]]:
    may_start = RunActions.may_start_platform_run

    def may_start_platform_run(self: ScaleSet) -> bool:
        enabled, self.auto_enabled = self.auto_enabled, True
        try:
            return may_start(self)
        finally:
            self.auto_enabled = enabled

    return [mock.patch.object(RunActions, "may_start_platform_run", may_start_platform_run)]


# --------------------------------------------------------------------- I8
@_mutant(
    "expired_credential_provisions",
    "I8",
    "R14: extension provisioning ignores the credential's expiry",
)
def _expired_credential_provisions() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(ScaleSet, "provisioning_fails", lambda self, at: False)]


# --------------------------------------------------------------------- I9
@_mutant(
    "progress_off_by_one",
    "I9",
    "D11: successfulInstanceCount counts one too many once an instance succeeded",
)
def _progress_off_by_one() -> list[AbstractContextManager[Any]]:
    progress = UpgradeRun.progress

    def off_by_one(self: UpgradeRun) -> dict[str, int]:
        counts = progress(self)
        if counts["successfulInstanceCount"]:
            counts["successfulInstanceCount"] += 1
        return counts

    return [mock.patch.object(UpgradeRun, "progress", off_by_one)]


# --------------------------------------------------------------------- I10
@_mutant("history_not_capped", "I10", "R16: the history view holds six runs, not five")
def _history_not_capped() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(history, "HISTORY_SIZE", 6)]


# --------------------------------------------------------------------- I11
@_mutant(
    "run_stopped_mid_batch",
    "I11",
    "D7, R8: a cancel ends the run at once, in the middle of its batch",
)
def _run_stopped_mid_batch() -> list[AbstractContextManager[Any]]:
    def user_cancel_upgrade(self: ScaleSet, ev: Any) -> None:
        run = self.active_run
        if run is None:
            raise Rejected("409: no run is active")
        run.cancel_requested = True
        self._end_run(run, "cancel")

    return [mock.patch.object(EnvironmentActions, "user_cancel_upgrade", user_cancel_upgrade)]


# --------------------------------------------------------------------- I12
@_mutant(
    "deploy_keeps_failed_instances",
    "I12",
    "R15, D8: a deploy does not recover an instance whose provisioning had failed",
)
def _deploy_keeps_failed_instances() -> list[AbstractContextManager[Any]]:
    begin = InstanceActions._instance_begin_model_update
    done = InstanceActions._instance_extensions_done
    failed_at_deploy: weakref.WeakKeyDictionary[ScaleSet, set[int]] = weakref.WeakKeyDictionary()

    def _instance_begin_model_update(self: ScaleSet, inst: Any) -> None:
        if inst.provisioning_state == PROVISIONING_FAILED:
            failed_at_deploy.setdefault(self, set()).add(inst.id)
        begin(self, inst)

    def _instance_extensions_done(self: ScaleSet, arg: tuple[Any, int]) -> bool:
        inst, _ = arg
        stuck = failed_at_deploy.get(self, set())
        if inst.id not in stuck or inst.batch_run is not None or "provisioning_fails" in vars(self):
            return done(self, arg)
        stuck.discard(inst.id)
        self.provisioning_fails = lambda at: True  # it fails again, whatever the token
        try:
            return done(self, arg)
        finally:
            del self.provisioning_fails

    return [
        mock.patch.object(
            InstanceActions, "_instance_begin_model_update", _instance_begin_model_update
        ),
        mock.patch.object(InstanceActions, "_instance_extensions_done", _instance_extensions_done),
    ]


# --------------------------------------------------------------------- L1
@_mutant(
    "healthy_instances_wait_out_the_health_wait",
    "L1",
    "R6: an upgraded instance is done only at the end of its health wait, even when healthy",
)
def _healthy_instances_wait() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(RunActions, "_run_recheck", lambda self, inst: None)]


# --------------------------------------------------------------------- L2
@_mutant(
    "health_wait_never_runs_out",
    "L2",
    "R6: the health deadline never fires, so an unhealthy instance holds its batch forever",
)
def _health_wait_never_runs_out() -> list[AbstractContextManager[Any]]:
    return [
        mock.patch.object(InstanceActions, "_instance_health_deadline", lambda self, arg: False)
    ]
