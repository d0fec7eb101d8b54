"""Invariants I1-I12 and the bounded progress property L2 (SPEC section 6;
L1 and the L2 deadlines are in properties/liveness.py).

Each invariant is a plain, named function of what the property layer has
observed (the :class:`~properties.observed.World`: its own health predicate,
version order, scope and credentials) and, where the spec speaks of a
moment, of the run, batch or instance the model reports. It returns the list
of the ways it is broken: empty when it holds. A message names the instance,
batch or run and the numbers involved.

The ``Checker`` (properties/checker.py) calls them when the model records a
fact (a batch starts, an instance is done, a run ends...), so that replay
and the Hypothesis machine check every invariant after every step while
looking only at what the step can have changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model.instance import Provisioning
from model.run import PLATFORM, Code, Status
from properties.expect import (
    SIXTY_DAYS,
    batch_cap,
    is_newer,
    timestamp,
    unhealthy_limit,
    upgraded_limit,
)

if TYPE_CHECKING:
    from model.facts import BatchView as Batch
    from model.facts import DeployView as Deploy
    from model.facts import RunView as UpgradeRun
    from model.facts import Vm as Instance
    from properties.observed import SeenBatch, SeenRun, World

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


def _run_batch(run: Any, batch: Any) -> str:
    return f"run {run.number} batch {batch.number}"


# --------------------------------------------------------------------- I1
def batch_within_cap(world: World, run: UpgradeRun, batch: Batch) -> Problems:
    """I1 (R5, D1, R13): a batch, at its start, holds at most cap(N) instances
    (N the instance count then); under Service Fabric it lies in one UD."""
    n = len(world.instances)
    if world.service_fabric is not None:
        uds = sorted({world.instances[i].update_domain for i in batch.instances})
        if len(uds) != 1:
            return [f"{_run_batch(run, batch)} spans update domains {uds}"]
        return []
    cap = batch_cap(n, world.policy.max_batch_instance_percent)
    if len(batch.instances) > cap:
        return [
            f"{_run_batch(run, batch)} has {len(batch.instances)} instances, more than "
            f"cap({n}) = {cap}"
        ]
    return []


def one_batch_in_flight(seen: SeenRun, batch: Batch) -> Problems:
    """I1 (R5): batches never overlap: when a batch starts, every batch of its
    run seen before it has ended, no later than this start (``seen`` is the
    run as observed before the batch)."""
    before = seen.batches[-1] if seen.batches else None
    if before is not None and (before.end is None or batch.start < before.end):
        return [
            f"run {seen.number} batch {batch.number} started at {batch.start} while "
            f"batch {before.number} was in flight (end {before.end})"
        ]
    return []


# --------------------------------------------------------------------- I2
def pre_check_passed(world: World, run: UpgradeRun, batch: Batch) -> Problems:
    """I2 (R4, D1): a batch starts only when unhealthy <= floor(N x pct / 100)
    at that moment (the observed world's own health predicate)."""
    check = world.last_check
    if check is not None and check[:2] == (run.number, world.now):
        n, unhealthy = check[2:]  # counted at the pre-batch check, this same moment
    else:
        n, unhealthy = len(world.instances), len(world.unhealthy())
    limit = unhealthy_limit(n, world.policy.max_unhealthy_instance_percent)
    if unhealthy > limit:
        return [
            f"{_run_batch(run, batch)} started with {unhealthy} of {n} instances "
            f"unhealthy, more than the limit {limit}"
        ]
    return []


# --------------------------------------------------------------------- I3
def no_batch_after_the_stop(seen: SeenRun) -> Problems:
    """I3 at the end of a run this layer saw stopped (a failed pre-batch check,
    a provisioning failure or the upgraded limit, D5, D6, D7a; TI9 with the
    switch, the upgraded limit at today's default of 20%): no batch started
    after the stop."""
    late = [
        b.number for b in seen.batches if seen.stopped_at is not None and b.start > seen.stopped_at
    ]
    if late:
        return [f"run {seen.number} stopped at {seen.stopped_at} yet started batches {late} after"]
    return []


def stopped_runs_start_no_batch(world: World, seen: SeenRun, number: int) -> Problems:
    """I3 (D5, D6, D7a): no batch starts after a batch that ended with a
    provisioning failure or over the upgraded-unhealthy limit, nor after a
    pre-batch check that found unhealthy > limit (``seen`` is the run as
    observed before its batch ``number`` started)."""
    pct = world.policy.max_unhealthy_upgraded_instance_percent
    successful = failed = 0
    for earlier in seen.batches:
        if earlier.extensions_failed:
            return [
                f"run {seen.number} batch {number} started after batch {earlier.number} "
                "ended with a provisioning failure"
            ]
        for status in earlier.done.values():
            if status == Status.SUCCESSFUL:
                successful += 1
            else:
                failed += 1
        if pct is not None and failed > upgraded_limit(successful + failed, pct):
            return [
                f"run {seen.number} batch {number} started after batch {earlier.number} left "
                f"{failed} of {successful + failed} upgraded instances failed "
                f"(limit {upgraded_limit(successful + failed, pct)})"
            ]
    if seen.failed_check is not None:
        at, unhealthy, limit = seen.failed_check
        return [
            f"run {seen.number} batch {number} started after the pre-batch check at {at} "
            f"found {unhealthy} unhealthy, more than {limit}"
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


def target_is_latest(world: World, run: UpgradeRun) -> Problems:
    """I4 (D3): a run's target is the latest version at the run's start (TI10
    with the switch: a Platform run's the latest eligible, a User run's the
    latest available, never a version excluded from latest)."""
    latest = world.target(run.started_by)
    if run.target != latest or run.target in world.excluded:
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
    now = (inst.os_disk, inst.image_version)
    if is_newer(before[1], now[1]) and now != prior:
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
def waited_for_health(world: World, batch: SeenBatch, inst: Instance) -> Problems:
    """I6 (R6, D11): with a probe, an instance is done in its batch only when
    its provisioning failed, it is healthy, or it waited health_wait_seconds
    after its extensions finished (the world as observed before it was done;
    ``batch`` is the batch as observed, which says who was rolled back)."""
    if not world.probe:
        return []
    seen = world.instances.get(inst.id)
    if inst.id in batch.extensions_failed or seen is None:
        return []
    rolled_back = inst.id in batch.restored
    if world.healthy(seen) and not rolled_back:
        return []
    provisioned = seen.provisioned_at
    wait = world.timings.health_wait_seconds
    now = world.now
    if rolled_back:
        waited = now - world.timings.os_disk_seconds - (provisioned or 0)
    else:
        waited = now - (provisioned if provisioned is not None else now)
    if provisioned is None or waited < wait:
        return [
            f"instance {inst.id} done in batch {batch.number} at {now}, unhealthy "
            f"after waiting {waited}s of {wait}s"
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
def platform_run_allowed(world: World, run: UpgradeRun) -> Problems:
    """I7 (R1, D4, D16): no Platform run starts while automatic upgrades are
    off or a V error stands (TI11 with the switch: nor a TV error, nor before
    t0 + first_rollout_delay_seconds)."""
    if run.started_by != PLATFORM:
        return []
    if not world.auto or world.errors:
        why = "automatic upgrades are off" if not world.auto else "a V error stands"
        return [f"Platform run {run.number} started at {run.start} while {why}"]
    waits = world.rollout_from
    if waits is not None and run.start < waits:
        return [f"Platform run {run.number} started at {run.start}, before {waits} (TI11, T18)"]
    return []


def no_platform_batch_after_opt_out(world: World, run: UpgradeRun, batch: Batch) -> Problems:
    """I7 (D7): after opt-out, no new batch of a Platform run starts."""
    if run.started_by == PLATFORM and not world.auto:
        return [
            f"{_run_batch(run, batch)} (Platform) started at {batch.start} while "
            "automatic upgrades are off"
        ]
    return []


# --------------------------------------------------------------------- I8
def expired_credential_fails(world: World, inst: Instance, ok: bool) -> Problems:
    """I8 (R14): provisioning with an expired credential always fails."""
    expired = world.credential_expired(world.now)
    if ok and expired is not None:
        return [
            f"instance {inst.id} provisioned at {world.now} with expired credential {expired!r}"
        ]
    return []


def credential_failures_in_one_batch(seen: SeenRun) -> Problems:
    """I8 (R14, D6): the instances failed by provisioning are in at most one
    batch per run."""
    failing = [b.number for b in seen.batches if b.extensions_failed]
    if len(failing) > 1:
        return [f"run {seen.number} has provisioning failures in batches {failing}"]
    return []


# --------------------------------------------------------------------- I9
#: the REST names of RunView.progress, in its order
PROGRESS = (
    "successfulInstanceCount",
    "failedInstanceCount",
    "inProgressInstanceCount",
    "pendingInstanceCount",
)


def progress_accounted(run: UpgradeRun, expected: dict[str, int]) -> Problems:
    """I9 (D11): the reported counts equal the instances of the scope in each
    status (as observed), are never negative, add up to the scope; an ended
    run has inProgress 0 and a Completed run pending 0."""
    reported = dict(zip(PROGRESS, run.progress, strict=True))
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
            f"run {run.number} ended {run.state} with "
            f"{reported['inProgressInstanceCount']} in progress"
        )
    if run.state == Code.COMPLETED and reported["pendingInstanceCount"] != 0:
        problems.append(
            f"run {run.number} Completed with {reported['pendingInstanceCount']} pending"
        )
    return problems


# --------------------------------------------------------------------- I10
def one_active_run(runs: list[UpgradeRun]) -> Problems:
    """I10: at most one run is active."""
    active = [r.number for r in runs if r.active]
    if len(active) > 1:
        return [f"runs {active} are active at once"]
    return []


def history_bounded(starts: list[str], now: int, epoch: str) -> Problems:
    """I10 (R16): the history view (the startTime of each of its entries, in
    order) holds at most five entries, all started within 60 days, newest first."""
    problems = []
    if len(starts) > 5:
        problems.append(f"the history view holds {len(starts)} entries, more than 5")
    oldest = timestamp(epoch, now - SIXTY_DAYS)
    old = [k for k, start in enumerate(starts, 1) if _before(start, oldest)]
    if old:
        problems.append(f"the history view shows entries {old} started more than 60 days ago")
    for k, (newer, older) in enumerate(zip(starts, starts[1:], strict=False), 1):
        if _before(newer, older):
            problems.append(f"the history view lists entry {k} ({newer}) before a newer one")
            break
    return problems


def _before(a: str, b: str) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(a) < datetime.fromisoformat(b)


# --------------------------------------------------------------------- I11
def no_orphans(world: World, seen: SeenRun) -> Problems:
    """I11: when a run ends, none of its instances (its batches' members, as
    observed) is mid-operation."""
    busy = sorted(
        i
        for batch in seen.batches
        for i in batch.members
        if i in world.instances and world.instances[i].op not in ("ready",)
    )
    if busy:
        return [f"run {seen.number} ended {seen.code} with instances {busy} mid-operation"]
    return []


# --------------------------------------------------------------------- I12
def recovered_after_deploy(world: World, deploy: Deploy) -> Problems:
    """I12 (R15): after a deploy with valid credentials, no instance it
    touched stays in provisioning state Failed (TI12 with the switch: the
    deploy touches no instance protected from scale set actions, TD31)."""
    if world.any_token_expired():
        return []
    members = [i for i in deploy.members if i in world.instances]
    failed = sorted(i for i in members if world.instances[i].provisioning == Provisioning.FAILED)
    if failed:
        return [
            f"model deploy started at {deploy.start} with valid credentials left "
            f"instances {failed} Failed"
        ]
    still = [i for i in members if world.instances[i].provisioning != Provisioning.SUCCEEDED]
    if not deploy.succeeded or still:
        return [
            f"model deploy started at {deploy.start} with valid credentials did not "
            f"succeed (instances {still})"
        ]
    return []


# --------------------------------------------------------------------- L2
def batch_bound(world: World) -> int:
    """L2: the longest a batch may take."""
    t = world.timings
    bound = t.os_disk_seconds + t.extension_seconds + t.health_wait_seconds
    if world.policy.automatic_rollback and world.probe:
        bound += t.os_disk_seconds
    return bound


def batch_terminates(world: World, run: UpgradeRun, batch: Batch) -> Problems:
    """L2: each batch ends within os_disk + extension + health_wait seconds
    (plus os_disk with automatic rollback) of its start."""
    bound = batch_bound(world)
    if batch.end is not None and batch.end - batch.start > bound:
        return [f"{_run_batch(run, batch)} took {batch.end - batch.start}s, more than {bound}s"]
    return []


def run_moves_on(world: World, seen: SeenRun, at: int) -> Problems:
    """L2: after a batch, the next one starts, or the run ends, within
    pause_time_between_batches (``seen``: the run's batches as observed)."""
    ended = [b for b in seen.batches[-2:] if b.end is not None]
    if not ended:
        return []
    last = ended[-1]
    pause = world.pause
    if at - last.end > pause:
        return [
            f"run {seen.number} moved on at {at}, {at - last.end}s after batch "
            f"{last.number} ended (pause {pause}s)"
        ]
    return []
