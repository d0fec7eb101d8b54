"""Deliberately broken variants of the model: the property suite must catch each.

Every mutant is a context manager that monkeypatches one small piece of the
model for the duration of a ``with`` block and restores it after; nothing in
``model/`` knows about them (no switch in the model). Each names the
property that should catch it: a rule property where one states the broken
rule directly, else the invariant or progress property of SPEC section 6.
tests/test_mutants.py asserts that the CI profile finds a counterexample
naming that property and that the saved trace, replayed under the same
patch, reports it again; the benchmarks time how long each takes to find::

    from properties.mutants import MUTANTS
    with MUTANTS["batch_cap_rounded_up"].applied():
        ...  # the model now rounds the batch cap up
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any
from unittest import mock

import attrs

from model import history, steps
from model.actors import instances, orchestrator, publisher, user
from model.catalog import version_key
from model.events import Rejected
from model.instance import Provisioning
from model.run import USER, Batch, Status, UpgradeRun
from model.scaleset import ScaleSet


@attrs.frozen
class Mutant:
    """One broken variant: its name, what is broken (the rule first), and the
    property that should catch it (the first the ci profile names)."""

    name: str
    description: str
    invariant: str
    patches: Callable[[], list[AbstractContextManager[Any]]]
    #: the SPEC number of the behavioural rule the variant breaks ("D2", "V9",
    #: "section 4 automatic_rollback")
    rule: str

    @contextmanager
    def applied(self) -> Iterator[Mutant]:
        """Apply the patches inside the block; restore the model after."""
        with ExitStack() as stack:
            for patch in self.patches():
                stack.enter_context(patch)
            yield self


MUTANTS: dict[str, Mutant] = {}


def variant_memory(ss: ScaleSet, name: str, make: Callable[[], Any]) -> Any:
    """What a broken variant remembers of a scale set, kept in the scale set
    itself, so that it is part of its state: copied and compared with it by
    `vmss-spec check` (model/snapshot.py) like the rest."""
    return ss.__dict__.setdefault(f"variant_{name}", make())


def replace(module: Any, name: str, new: Callable[..., Any]) -> list[AbstractContextManager[Any]]:
    """Patches that replace the function ``module.name`` everywhere it is called
    from: the module (calls between actors look it up there) and the rows of
    the step table that perform it (events and queued steps are dispatched
    through them)."""
    old = getattr(module, name)
    patches: list[AbstractContextManager[Any]] = [mock.patch.object(module, name, new)]
    for row in steps.TABLE:
        if row.perform is old:
            patches.append(mock.patch.object(row, "perform", new))
    return patches


def replace_everywhere(
    module: Any, name: str, new: Any, *, packages: tuple[str, ...] = ("model",)
) -> list[AbstractContextManager[Any]]:
    """Like :func:`replace`, for a function (or constant) that other modules
    import by name (``from model.config import check_errors``): every loaded
    module of ``packages`` that holds the same object is patched too."""
    old = getattr(module, name)
    patches = replace(module, name, new)
    for mod_name, mod in sorted(sys.modules.items()):
        if mod is module or mod is None or mod_name.split(".")[0] not in packages:
            continue
        if getattr(mod, name, None) is old:
            patches.append(mock.patch.object(mod, name, new))
    return patches


def _mutant(
    name: str, invariant: str, description: str, *, rule: str
) -> Callable[[Callable], Callable]:
    def register(patches: Callable[[], list[AbstractContextManager[Any]]]) -> Callable:
        assert name not in MUTANTS, name
        MUTANTS[name] = Mutant(name, description, invariant, patches, rule)
        return patches

    return register


# --------------------------------------------------------------------- I1
@_mutant(
    "batch_cap_rounded_up",
    "batch_is_d2_choice",
    "R5, D1: the batch cap rounds N x pct / 100 up",
    rule="D1",
)
def _batch_cap_rounded_up() -> list[AbstractContextManager[Any]]:
    def batch_cap(ss: ScaleSet, n: int) -> int:
        return max(1, -(-n * ss.policy.max_batch_instance_percent // 100))

    return replace(orchestrator, "batch_cap", batch_cap)


@_mutant(
    "sf_batch_spans_two_uds",
    "batch_is_d2_choice",
    "R13: a Service Fabric batch takes two update domains",
    rule="R13",
)
def _sf_batch_spans_two_uds() -> list[AbstractContextManager[Any]]:
    choose = orchestrator.choose_batch

    def choose_batch(ss: ScaleSet, run: UpgradeRun, n: int) -> tuple[list[int], int, Any]:
        members, cap, ud = choose(ss, run, n)
        if ss.service_fabric is None:
            return members, cap, ud
        pending = run.pending()
        uds = sorted({ss.instances[i].update_domain for i in pending})[:2]
        members = [i for i in pending if ss.instances[i].update_domain in uds]
        return members, len(members), uds[0]

    return replace(orchestrator, "choose_batch", choose_batch)


# --------------------------------------------------------------------- I2
@_mutant(
    "pre_check_skipped",
    "pre_batch_check_decides_by_r4",
    "R4: the pre-batch health check always passes",
    rule="R4",
)
def _pre_check_skipped() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(ScaleSet, "count_unhealthy", lambda self: 0)]


# --------------------------------------------------------------------- I3
@_mutant(
    "run_goes_on_after_provisioning_failure",
    "end_of_batch_follows_d7a",
    "D6: a batch with a provisioning failure does not stop the run",
    rule="D6",
)
def _run_goes_on_after_provisioning_failure() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(Batch, "provisioning_failed", property(lambda self: False))]


# --------------------------------------------------------------------- I4
@_mutant(
    "target_not_latest",
    "run_targets_latest_scopes_below",
    "D3: a manual start targets the version before the latest (a stale catalog)",
    rule="D3",
)
def _target_not_latest() -> list[AbstractContextManager[Any]]:
    start_run = orchestrator.start_run

    def stale_target(ss: ScaleSet, *_started_by: str) -> str:
        versions = sorted(ss.catalog.versions, key=version_key)
        return versions[-2] if len(versions) > 1 else versions[-1]

    def start_manual_run_on_a_stale_target(
        ss: ScaleSet, started_by: str, reason: str
    ) -> UpgradeRun:
        if started_by != USER:
            return start_run(ss, started_by, reason)
        with mock.patch.object(orchestrator, "run_target", stale_target):
            return start_run(ss, started_by, reason)

    return replace(orchestrator, "start_run", start_manual_run_on_a_stale_target)


@_mutant(
    "target_changes_during_run",
    "I4",
    "D3: a publication during a run moves the run's target to the new version",
    rule="D3",
)
def _target_changes_during_run() -> list[AbstractContextManager[Any]]:
    publish = publisher.publish_image

    def publish_image(ss: ScaleSet, ev: Any) -> None:
        run = ss.active_run
        publish(ss, ev)
        if run is not None and run.active:
            run.target = ev.version

    return replace(publisher, "publish_image", publish_image)


# --------------------------------------------------------------------- I5
@_mutant(
    "data_disk_lost_on_reimage", "I5", "R3: an OS disk replacement drops a data disk", rule="R3"
)
def _data_disk_lost_on_reimage() -> list[AbstractContextManager[Any]]:
    reimage = instances.begin_reimage

    def begin_reimage(ss: ScaleSet, inst: Any, run: UpgradeRun) -> None:
        reimage(ss, inst, run)
        inst.data_disks = inst.data_disks[:-1]

    return replace(instances, "begin_reimage", begin_reimage)


# --------------------------------------------------------------------- I6
@_mutant(
    "health_wait_skipped",
    "health_wait_follows_r6",
    "R6: with a probe, an instance is done when its extensions finish (no health wait)",
    rule="R6",
)
def _health_wait_skipped() -> list[AbstractContextManager[Any]]:
    def member_provisioned(ss: ScaleSet, inst: Any, ok: bool) -> None:
        run = inst.batch_run
        if ok and ss.probe is not None and run.rolls_back and not ss.is_healthy(inst):
            inst.await_health()  # judged now, and rolled back as by the model
            ss.record("rollback_started", inst)
            instances.begin_rollback(ss, inst)
            return
        inst.extensions_finished()
        if not ok:
            orchestrator.member_done(ss, run, inst, Status.FAILED, provisioning_failed=True)
            return
        status = Status.SUCCESSFUL if ss.is_healthy(inst) else Status.FAILED
        orchestrator.member_done(ss, run, inst, status)

    return replace(orchestrator, "member_provisioned", member_provisioned)


# --------------------------------------------------------------------- I7
@_mutant(
    "platform_run_after_opt_out",
    "runs_start_when_d4_allows",
    "R1, D4: a publication starts a Platform run while automatic upgrades are off",
    rule="D4",
)
def _platform_run_after_opt_out() -> list[AbstractContextManager[Any]]:
    allowed = orchestrator.platform_run_allowed

    def platform_run_allowed(ss: ScaleSet, trigger: Any) -> bool:
        enabled, ss.auto_enabled = ss.auto_enabled, True
        try:
            return allowed(ss, trigger)
        finally:
            ss.auto_enabled = enabled

    return replace(orchestrator, "platform_run_allowed", platform_run_allowed)


# --------------------------------------------------------------------- I8
@_mutant(
    "expired_credential_provisions",
    "extensions_fail_with_expired_credential",
    "R14: extension provisioning ignores the credential's expiry",
    rule="R14",
)
def _expired_credential_provisions() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(ScaleSet, "provisioning_fails", lambda self, at: False)]


# --------------------------------------------------------------------- I9
@_mutant(
    "progress_off_by_one",
    "I9",
    "D11: successfulInstanceCount counts one too many once an instance succeeded",
    rule="D11",
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
@_mutant(
    "history_not_capped",
    "documents_match_section_7",
    "R16: the history view holds six runs, not five",
    rule="R16",
)
def _history_not_capped() -> list[AbstractContextManager[Any]]:
    return [mock.patch.object(history, "HISTORY_SIZE", 6)]


# --------------------------------------------------------------------- I11
@_mutant(
    "run_stopped_mid_batch",
    "runs_end_only_at_a_decision",
    "D7, R8: a cancel ends the run at once, in the middle of its batch",
    rule="D7",
)
def _run_stopped_mid_batch() -> list[AbstractContextManager[Any]]:
    def cancel_upgrade(ss: ScaleSet, ev: Any) -> None:
        run = ss.active_run
        if run is None:
            raise Rejected("409: no run is active")
        run.cancel_requested = True
        orchestrator.end_run(ss, run, "cancel")

    return replace(user, "cancel_upgrade", cancel_upgrade)


# --------------------------------------------------------------------- I12
@_mutant(
    "deploy_keeps_failed_instances",
    "extensions_fail_with_expired_credential",
    "R15, D8: a deploy does not recover an instance whose provisioning had failed",
    rule="R15",
)
def _deploy_keeps_failed_instances() -> list[AbstractContextManager[Any]]:
    begin = instances.begin_model_update
    finished = instances.extensions_finished

    def begin_model_update(ss: ScaleSet, inst: Any) -> None:
        if inst.provisioning_state == Provisioning.FAILED:
            variant_memory(ss, "failed_at_deploy", set).add(inst.id)
        begin(ss, inst)

    def extensions_finished(ss: ScaleSet, arg: tuple[Any, int]) -> bool:
        inst, _ = arg
        stuck = variant_memory(ss, "failed_at_deploy", set)
        if inst.id not in stuck or inst.batch_run is not None:
            return finished(ss, arg)
        stuck.discard(inst.id)
        # It fails again, whatever the token.
        with mock.patch.object(ScaleSet, "provisioning_fails", lambda self, at: True):
            return finished(ss, arg)

    return [
        *replace(instances, "begin_model_update", begin_model_update),
        *replace(instances, "extensions_finished", extensions_finished),
    ]


# --------------------------------------------------------------------- R6
@_mutant(
    "healthy_instances_wait_out_the_health_wait",
    "health_wait_follows_r6",
    "R6: an upgraded instance is done only at the end of its health wait, even when healthy",
    rule="R6",
)
def _healthy_instances_wait() -> list[AbstractContextManager[Any]]:
    return replace(orchestrator, "recheck", lambda ss, inst: None)


@_mutant(
    "health_wait_never_runs_out",
    "health_wait_follows_r6",
    "R6: the health deadline never fires, so an unhealthy instance holds its batch forever",
    rule="R6",
)
def _health_wait_never_runs_out() -> list[AbstractContextManager[Any]]:
    return replace(orchestrator, "health_deadline", lambda ss, arg: False)


# --------------------------------------------------------------------- L2
@_mutant(
    "pause_never_ends",
    "L2",
    "R8, section 4 pause_time_between_batches: the end of the pause between batches "
    "never acts, so a run that paused never moves on",
    rule="R8",
)
def _pause_never_ends() -> list[AbstractContextManager[Any]]:
    return replace(orchestrator, "end_of_pause", lambda ss, run: False)


# The rest of the variants, one module per part of the model; importing them
# registers them in MUTANTS.
from properties import mutants_runs, mutants_today, mutants_world  # noqa: E402

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

__all__ = [
    "MUTANTS",
    "Mutant",
    "mutants_runs",
    "mutants_today",
    "mutants_world",
    "replace",
    "replace_everywhere",
]
