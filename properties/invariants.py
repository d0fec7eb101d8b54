"""Invariants I1-I12 and the bounded progress property L2 (SPEC section 6;
L1 and the L2 deadlines are in properties/liveness.py).

Each invariant is a plain, named function of the model's state (and, where
the spec speaks of a moment, of the run, batch or instance concerned). It
returns the list of the ways it is broken: empty when it holds. A message
names the instance, batch or run and the numbers involved.

The ``Checker`` (properties/checker.py) calls them when the model reports a
fact (a batch starts, an instance is done, a run ends...), so that replay
and the Hypothesis machine check every invariant after every step while
looking only at what the step can have changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.history import HISTORY_WINDOW_SECONDS, history_runs
from model.instance import Provisioning
from model.run import PLATFORM, Code, Status

if TYPE_CHECKING:
    from model.actors.deploy import Deploy
    from model.instance import Instance
    from model.run import Batch, UpgradeRun
    from model.scaleset import ScaleSet

INVARIANTS: dict[str, str] = {
    "I1": "Batch cap",
    "I2": "Pre-check",
    "I3": "Stop rule",
    "I4": "Versions",
    "I5": "Data",
    "I6": "Health wait",
    "I7": "Opt-out",
    "I8": "Credentials",
    "I9": "Accounting",
    "I10": "History",
    "I11": "No orphans",
    "I12": "Recovery",
    "L1": "Completion",
    "L2": "Termination",
}

Problems = list[str]


def _run_batch(run: UpgradeRun, batch: Batch) -> str:
    return f"run {run.number} batch {batch.number}"


# --------------------------------------------------------------------- I1
def batch_within_cap(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> Problems:
    """I1 (R5, D1, R13): a batch, at its start, holds at most cap(N) instances
    (N the instance count then); under Service Fabric it lies in one UD."""
    n = len(ss.instances)
    if ss.service_fabric is not None:
        uds = sorted({ss.instances[i].update_domain for i in batch.instances})
        if len(uds) != 1:
            return [f"{_run_batch(run, batch)} spans update domains {uds}"]
        return []
    cap = max(1, n * ss.policy.max_batch_instance_percent // 100)
    if len(batch.instances) > cap:
        return [
            f"{_run_batch(run, batch)} has {len(batch.instances)} instances, more than "
            f"cap({n}) = {cap}"
        ]
    return []


def one_batch_in_flight(run: UpgradeRun) -> Problems:
    """I1 (R5): batches never overlap: every batch but the last has ended, and
    the next one starts no earlier than the previous one's end."""
    batches = run.batches
    for before, after in zip(batches, batches[1:], strict=False):
        if before.end is None or after.start < before.end:
            return [
                f"run {run.number} batch {after.number} started at {after.start} while "
                f"batch {before.number} was in flight (end {before.end})"
            ]
    return []


# --------------------------------------------------------------------- I2
def pre_check_passed(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> Problems:
    """I2 (R4, D1): a batch starts only when unhealthy <= floor(N x pct / 100)
    at that moment."""
    n = len(ss.instances)
    limit = n * ss.policy.max_unhealthy_instance_percent // 100
    unhealthy = sum(1 for inst in ss.instances.values() if not ss.is_healthy(inst))
    if unhealthy > limit:
        return [
            f"{_run_batch(run, batch)} started with {unhealthy} of {n} instances "
            f"unhealthy, more than the limit {limit}"
        ]
    return []


# --------------------------------------------------------------------- I3
def stopped_runs_start_no_batch(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> Problems:
    """I3 (D5, D6, D7a): no batch starts after a batch that ended with a
    provisioning failure or over the upgraded-unhealthy limit, nor after a
    pre-batch check that found unhealthy > limit."""
    pct = ss.policy.max_unhealthy_upgraded_instance_percent
    successful = failed = 0
    for earlier in run.batches:
        if earlier is batch:
            break
        if any(o.provisioning_failed for o in earlier.outcomes.values()):
            return [
                f"{_run_batch(run, batch)} started after batch {earlier.number} "
                "ended with a provisioning failure"
            ]
        for outcome in earlier.outcomes.values():
            if outcome.status == Status.SUCCESSFUL:
                successful += 1
            else:
                failed += 1
        if pct is not None and failed > (successful + failed) * pct // 100:
            return [
                f"{_run_batch(run, batch)} started after batch {earlier.number} left "
                f"{failed} of {successful + failed} upgraded instances failed "
                f"(limit {(successful + failed) * pct // 100})"
            ]
    failed_checks = [c for c in run.checks if not c.passed and c.at <= batch.start]
    if failed_checks:
        c = failed_checks[0]
        return [
            f"{_run_batch(run, batch)} started after the pre-batch check at {c.at} found "
            f"{c.unhealthy} unhealthy, more than {c.limit}"
        ]
    return []


# --------------------------------------------------------------------- I4
def upgraded_to_target(run: UpgradeRun, inst: Instance, rolled_back: bool) -> Problems:
    """I4 (R3, D3): an instance done in a run, and not rolled back, is on
    exactly the run's target."""
    if not rolled_back and inst.image_version != run.target:
        return [
            f"instance {inst.id} is done in run {run.number} on version "
            f"{inst.image_version}, not the target {run.target}"
        ]
    return []


def target_is_latest(ss: ScaleSet, run: UpgradeRun) -> Problems:
    """I4 (D3): a run's target is the latest version at the run's start."""
    latest = ss.catalog.latest
    if run.target != latest:
        return [
            f"run {run.number} started at {run.start} towards {run.target}, not the latest {latest}"
        ]
    return []


def target_unchanged(run: UpgradeRun, target: str) -> Problems:
    """I4 (D3): a run's target never changes (``target`` is the one it started with)."""
    if run.target != target:
        return [f"run {run.number} changed its target from {target} to {run.target}"]
    return []


def version_never_decreases(
    inst: Instance, before: tuple[str, str], prior: tuple[str, str] | None
) -> Problems:
    """I4: an instance's version never decreases, except through a rollback to
    that instance's own previous disk. ``before`` is its (disk, version) until
    now, ``prior`` the disk it had before that."""
    from model.catalog import version_key

    now = (inst.os_disk, inst.image_version)
    if version_key(now[1]) < version_key(before[1]) and now != prior:
        return [
            f"instance {inst.id} went from version {before[1]} ({before[0]}) down to "
            f"{now[1]} ({now[0]}), which is not its previous disk"
        ]
    return []


# --------------------------------------------------------------------- I5
def data_disks_kept(inst: Instance, data_disks: tuple[str, ...]) -> Problems:
    """I5 (R3): data disks never change; there is exactly one OS disk."""
    problems = []
    if tuple(inst.data_disks) != data_disks:
        problems.append(
            f"instance {inst.id} data disks changed from {list(data_disks)} to "
            f"{list(inst.data_disks)}"
        )
    if not isinstance(inst.os_disk, str) or not inst.os_disk:
        problems.append(f"instance {inst.id} has no single OS disk ({inst.os_disk!r})")
    return problems


# --------------------------------------------------------------------- I6
def waited_for_health(ss: ScaleSet, run: UpgradeRun, inst: Instance) -> Problems:
    """I6 (R6, D11): with a probe, an instance is done in its batch only when
    its provisioning failed, it is healthy, or it waited health_wait_seconds
    after its extensions finished."""
    if ss.probe is None:
        return []
    outcome = run.batches[-1].outcomes.get(inst.id)
    if outcome is None or outcome.provisioning_failed:
        return []
    if ss.is_healthy(inst) and not outcome.rolled_back:
        return []
    provisioned = inst.last_provisioned_at
    wait = ss.timings.health_wait_seconds
    if outcome.rolled_back:
        waited = ss.now - ss.timings.os_disk_seconds - (provisioned or 0)
    else:
        waited = ss.now - (provisioned if provisioned is not None else ss.now)
    if provisioned is None or waited < wait:
        return [
            f"instance {inst.id} counted {outcome.status} in run {run.number} batch "
            f"{len(run.batches)} at {ss.now}, unhealthy after waiting {waited}s of {wait}s"
        ]
    return []


def batch_members_all_done(run: UpgradeRun, batch: Batch, seen_done: set[int]) -> Problems:
    """I6: a batch ends only when each of its instances is done."""
    missing = sorted(set(batch.instances) - seen_done)
    if missing:
        return [
            f"{_run_batch(run, batch)} ended at {batch.end} before instances {missing} were done"
        ]
    return []


# --------------------------------------------------------------------- I7
def platform_run_allowed(ss: ScaleSet, run: UpgradeRun) -> Problems:
    """I7 (R1, D4, D16): no Platform run starts while automatic upgrades are
    off or a V error stands."""
    if run.started_by != PLATFORM:
        return []
    if not ss.auto_enabled or ss.v_errors:
        why = "automatic upgrades are off" if not ss.auto_enabled else "a V error stands"
        return [f"Platform run {run.number} started at {run.start} while {why}"]
    return []


def no_platform_batch_after_opt_out(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> Problems:
    """I7 (D7): after opt-out, no new batch of a Platform run starts."""
    if run.started_by == PLATFORM and not ss.auto_enabled:
        return [
            f"{_run_batch(run, batch)} (Platform) started at {batch.start} while "
            "automatic upgrades are off"
        ]
    return []


# --------------------------------------------------------------------- I8
def expired_credential_fails(ss: ScaleSet, inst: Instance, ok: bool) -> Problems:
    """I8 (R14): provisioning with an expired credential always fails."""
    now = ss.now
    expired = [
        name
        for ext in ss.config.extensions
        for name in ext.credentials
        if ss.token_expiry(name) <= now
    ]
    if ok and expired:
        return [f"instance {inst.id} provisioned at {now} with expired credential {expired[0]!r}"]
    return []


def credential_failures_in_one_batch(run: UpgradeRun) -> Problems:
    """I8 (R14, D6): the instances failed by provisioning are in at most one
    batch per run."""
    failing = [
        b.number for b in run.batches if any(o.provisioning_failed for o in b.outcomes.values())
    ]
    if len(failing) > 1:
        return [f"run {run.number} has provisioning failures in batches {failing}"]
    return []


# --------------------------------------------------------------------- I9
def progress_accounted(run: UpgradeRun, expected: dict[str, int]) -> Problems:
    """I9 (D11): the reported counts equal the instances of the scope in each
    status (as observed), are never negative, add up to the scope; an ended
    run has inProgress 0 and a Completed run pending 0."""
    reported = run.progress()
    problems = []
    observed = {
        "successfulInstanceCount": expected[Status.SUCCESSFUL],
        "failedInstanceCount": expected[Status.FAILED],
        "inProgressInstanceCount": expected[Status.IN_PROGRESS],
        "pendingInstanceCount": expected[Status.PENDING],
    }
    if reported != observed:
        problems.append(f"run {run.number} reports {reported}, but its scope holds {observed}")
    if any(v < 0 for v in reported.values()):
        problems.append(f"run {run.number} has a negative count: {reported}")
    if not run.active and reported["inProgressInstanceCount"] != 0:
        problems.append(
            f"run {run.number} ended {run.code} with "
            f"{reported['inProgressInstanceCount']} in progress"
        )
    if run.state == Code.COMPLETED and reported["pendingInstanceCount"] != 0:
        problems.append(
            f"run {run.number} Completed with {reported['pendingInstanceCount']} pending"
        )
    return problems


# --------------------------------------------------------------------- I10
def one_active_run(ss: ScaleSet) -> Problems:
    """I10: at most one run is active."""
    active = [r.number for r in ss.runs[-2:] if r.active]
    if len(active) > 1:
        return [f"runs {active} are active at once"]
    return []


def history_bounded(ss: ScaleSet) -> Problems:
    """I10 (R16): the history view holds at most five entries, all started
    within 60 days, newest first."""
    shown = history_runs(ss.runs, ss.now)
    problems = []
    if len(shown) > 5:
        problems.append(f"the history view holds {len(shown)} entries, more than 5")
    old = [r.number for r in shown if r.start < ss.now - HISTORY_WINDOW_SECONDS]
    if old:
        problems.append(f"the history view shows runs {old} started more than 60 days ago")
    for newer, older in zip(shown, shown[1:], strict=False):
        if (newer.start, newer.number) < (older.start, older.number):
            problems.append(
                f"the history view lists run {newer.number} before the newer run {older.number}"
            )
            break
    return problems


# --------------------------------------------------------------------- I11
def no_orphans(ss: ScaleSet, run: UpgradeRun) -> Problems:
    """I11: when a run ends, none of its instances is mid-operation."""
    busy = sorted(
        i
        for batch in run.batches
        for i in batch.instances
        if i in ss.instances and ss.instances[i].state != "ready"
    )
    if busy:
        return [f"run {run.number} ended {run.code} with instances {busy} mid-operation"]
    return []


# --------------------------------------------------------------------- I12
def recovered_after_deploy(ss: ScaleSet, deploy: Deploy) -> Problems:
    """I12 (R15): after a deploy with valid credentials, no instance it
    touched stays in provisioning state Failed."""
    now = ss.now
    valid = all(ss.token_expiry(name) > now for name in ss.tokens)
    if not valid:
        return []
    failed = sorted(
        i
        for i in deploy.members
        if i in ss.instances and ss.instances[i].provisioning_state == Provisioning.FAILED
    )
    if failed:
        return [
            f"model deploy started at {deploy.start} with valid credentials left "
            f"instances {failed} Failed"
        ]
    if not deploy.succeeded:
        still = [
            i
            for i in deploy.members
            if i in ss.instances and ss.instances[i].provisioning_state != Provisioning.SUCCEEDED
        ]
        return [
            f"model deploy started at {deploy.start} with valid credentials did not "
            f"succeed (instances {still})"
        ]
    return []


# --------------------------------------------------------------------- L2
def batch_bound(ss: ScaleSet) -> int:
    """L2: the longest a batch may take."""
    t = ss.timings
    bound = t.os_disk_seconds + t.extension_seconds + t.health_wait_seconds
    if ss.policy.automatic_rollback and ss.probe is not None:
        bound += t.os_disk_seconds
    return bound


def batch_terminates(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> Problems:
    """L2: each batch ends within os_disk + extension + health_wait seconds
    (plus os_disk with automatic rollback) of its start."""
    bound = batch_bound(ss)
    if batch.end is not None and batch.end - batch.start > bound:
        return [f"{_run_batch(run, batch)} took {batch.end - batch.start}s, more than {bound}s"]
    return []


def run_moves_on(ss: ScaleSet, run: UpgradeRun, at: int) -> Problems:
    """L2: after a batch, the next one starts, or the run ends, within
    pause_time_between_batches."""
    ended = [b for b in run.batches if b.end is not None]
    if not ended:
        return []
    last = ended[-1]
    if at - last.end > ss.pause_seconds:
        return [
            f"run {run.number} moved on at {at}, {at - last.end}s after batch "
            f"{last.number} ended (pause {ss.pause_seconds}s)"
        ]
    return []
