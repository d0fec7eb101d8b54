"""The progress properties L1 and L2 (SPEC section 6) as bounded properties.

A simulation never runs forever, so "eventually" becomes "within a bound":

- **L2 Termination.** Whatever the environment does, a batch ends within
  os_disk + extension + health_wait seconds (plus os_disk with automatic
  rollback) of its start, and after a batch the next one starts, or the run
  ends, within pause_time_between_batches. ``properties.invariants`` checks
  this when a batch ends or starts (``batch_terminates``, ``run_moves_on``);
  :meth:`Liveness.deadlines` checks the same bounds while the batch or the
  pause is still going on, so that a run that never moves again is caught
  too, not only one that moves late.
- **L1 Completion.** A run that starts while the environment is quiet, and
  stays so, ends Completed with every in-scope instance on its target, and
  each of its batches takes at most os_disk + extension + app_start seconds.
  :class:`Liveness` decides at a run's start whether the environment is
  quiet (:func:`quiet_reasons`), watches the events that end quietness, and
  checks the run's batches, its end, and its deadlines while it stays quiet.

Reading taken (listed in the README's decisions): "quiet" is the spec's list
(every instance up and provisioned Succeeded, no app_health answer of
unhealthy standing, the target image not broken, every credential the model
references valid, automatic upgrades on, no cancel) plus "every instance is
healthy at the run's start" and, with a probe, "the application starts
within the health wait" (app_start_seconds <= health_wait_seconds, as the
seed's 30 s and 5 minutes do). Without the first addition an instance still
on an earlier broken image, or whose application is still starting after a
rollback, fails the first pre-batch check of a run that is otherwise quiet;
without the second, no upgraded instance can become healthy in time.
Quietness ends, for the rest of the run, at any outage, unhealthy answer,
credential expiry (an event, or the referenced token's expiry time), opt-out,
cancel, scale-out (new instances are Creating) or model deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from model.instance import Provisioning
from model.run import Code
from properties.invariants import batch_bound

if TYPE_CHECKING:
    from model.facts import BatchView, Published, RunView
    from properties.observed import SeenRun, World

Report = Callable[[str, list[str]], None]

#: the events after which the environment is no longer quiet (L1)
_BREAKS_QUIET = frozenset(
    {"outage_start", "expire_credential", "scale_out", "cancel_upgrade", "update_model"}
)
_NEVER = 1 << 62


def quiet_batch_bound(world: World) -> int:
    """L1: the longest a batch may take in a quiet environment."""
    t = world.timings
    return t.os_disk_seconds + t.extension_seconds + t.app_start_seconds


def quiet_run_bound(world: World, scope: int) -> int:
    """L1: a quiet run upgrades at least one instance per batch, so it ends
    within scope x (batch bound + pause) of its start."""
    return scope * (quiet_batch_bound(world) + world.pause)


def credentials_valid_until(world: World) -> int:
    """L1: the earliest expiry of the credential tokens the model references
    (provisioning finishing at or after it fails, R14)."""
    expiries = [world.tokens[n][world.referenced[n]] for n in world.tokens]
    return min(expiries, default=_NEVER)


def quiet_reasons(world: World, run: SeenRun, limit: int = 3) -> list[str]:
    """L1: why the environment is not quiet for ``run`` (as observed) now;
    empty when it is."""
    reasons: list[str] = []
    t = world.timings
    if world.probe and t.app_start_seconds > t.health_wait_seconds:
        reasons.append(
            f"the application takes {t.app_start_seconds}s to start, longer than the "
            f"health wait of {t.health_wait_seconds}s"
        )
    if not world.auto:
        reasons.append("automatic upgrades are off")
    if run.cancel_asked:
        reasons.append("a cancel was asked")
    if run.target in world.broken:
        reasons.append(f"the target {run.target} is broken")
    if credentials_valid_until(world) <= world.now:
        reasons.append("a credential has expired")
    for seen in world.instances.values():
        if len(reasons) >= limit:
            break
        if not seen.up:
            reasons.append(f"instance {seen.id} is down")
        elif seen.provisioning != Provisioning.SUCCEEDED:
            reasons.append(f"instance {seen.id} is {seen.provisioning}")
        elif seen.answer is False:
            reasons.append(f"instance {seen.id} answered unhealthy")
        elif not world.healthy(seen):
            reasons.append(f"instance {seen.id} is not healthy")
    return reasons


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class QuietRun:
    """A run that started in a quiet environment: what L1 promises about it."""

    #: how many instances its scope holds
    in_scope: int
    #: quietness lasts while the time is before this (a credential's expiry)
    until: int


class Liveness:
    """Checks L1 and the deadlines of L2 for one scale set; reports through
    ``report(invariant, problems)`` (the Checker's)."""

    def __init__(self, world: World, published: Published, report: Report) -> None:
        self.world = world
        self.published = published
        self.report = report
        #: run number -> the quiet run, while it is active and stays quiet
        self.quiet: dict[int, QuietRun] = {}
        #: how many runs started quiet, and how many of those ended while quiet
        self.quiet_started = 0
        self.quiet_completed = 0
        self._reported: set[tuple[str, int, int]] = set()
        #: nothing can be late before this time (recomputed by ``deadlines``)
        self.next_due = 0

    def changed(self) -> None:
        """A batch or a run started or ended, or quietness may have ended: the
        next ``maybe`` looks at every deadline again."""
        self.next_due = 0

    def maybe(self) -> None:
        """``deadlines`` if one of them may have passed since the last look."""
        if self.world.now >= self.next_due:
            self.deadlines()

    # ------------------------------------------------------------------ facts
    def run_started(self, run: RunView) -> None:
        """L1: a run that starts while the environment is quiet is watched."""
        self.next_due = 0
        seen = self.world.runs[run.number - 1]
        if run.active and not quiet_reasons(self.world, seen, limit=1):
            scope = len(seen.statuses)
            self.quiet[run.number] = QuietRun(scope, credentials_valid_until(self.world))
            self.quiet_started += 1

    def event(self, event: Any) -> None:
        """An accepted event: some end quietness for the rest of the run."""
        self.next_due = 0
        if not self.quiet:
            return
        name = event.NAME
        if (
            name in _BREAKS_QUIET
            or (name == "app_health" and not event.healthy)
            or (name == "set_automatic_upgrade" and not event.enabled)
        ):
            self.quiet.clear()

    def _still_quiet(self, run: RunView, at: int) -> QuietRun | None:
        q = self.quiet.get(run.number)
        if q is None:
            return None
        seen = self.world.runs[run.number - 1]
        if at >= q.until or seen.cancel_asked or not self.world.auto:
            del self.quiet[run.number]
            return None
        return q

    def batch_ended(self, run: RunView, batch: BatchView) -> None:
        """L1: each batch of a quiet run takes at most the quiet batch bound."""
        self.next_due = 0
        if self._still_quiet(run, batch.end) is None:
            return
        bound = quiet_batch_bound(self.world)
        problems = []
        if batch.end - batch.start > bound:
            problems.append(
                f"run {run.number} batch {batch.number} took {batch.end - batch.start}s in a "
                f"quiet environment, more than {bound}s (os_disk + extension + app_start)"
            )
        self.report("L1", problems)

    def run_ended(self, run: RunView) -> None:
        """L1: a quiet run ends Completed with every in-scope instance on its target."""
        self.next_due = 0
        if self._still_quiet(run, run.end) is None:
            self.quiet.pop(run.number, None)
            return
        del self.quiet[run.number]
        world = self.world
        seen = world.runs[run.number - 1]
        problems = []
        if run.state != Code.COMPLETED:
            error = f" ({run.error[0]})" if run.error else ""
            problems.append(
                f"run {run.number} started at {run.start} in a quiet environment and ended "
                f"{run.state}{error} at {run.end}, not Completed"
            )
        else:
            # the instances of its scope, as observed: are they on the target?
            off = sorted(
                i
                for i in seen.statuses
                if i in world.instances and world.instances[i].version != run.target
            )
            if off:
                problems.append(
                    f"run {run.number} Completed in a quiet environment but instances {off} "
                    f"are not on its target {run.target}"
                )
            else:
                self.quiet_completed += 1
        self.report("L1", problems)

    # ------------------------------------------------------------------ deadlines
    def _first_time(self, invariant: str, run: RunView, key: int, problem: str) -> list[str]:
        mark = (invariant, run.number, key)
        if mark in self._reported:
            return []
        self._reported.add(mark)
        return [problem]

    def deadlines(self) -> None:
        """L1, L2 while a run is still going (as observed): the batch in flight,
        the pause after a batch, and a quiet run as a whole must not outlast
        their bounds. Each breach is reported once, at the first check after
        its bound; ``next_due`` is set to the first moment one can be late."""
        world = self.world
        seen = world.active
        never = _NEVER
        if seen is None:
            self.next_due = never
            return
        run = self.published.run(seen.number)
        now = world.now
        last = seen.batches[-1] if seen.batches else None
        batch = last if last is not None and last.end is None else None
        due = [never]
        late: list[str] = []
        if batch is not None:
            bound = batch_bound(world)
            due.append(batch.start + bound + 1)
            if now - batch.start > bound:
                late += self._first_time(
                    "L2",
                    run,
                    batch.number,
                    f"run {run.number} batch {batch.number} started at {batch.start} is still "
                    f"in flight at {now}, more than {bound}s",
                )
        elif last is not None and last.end is not None:
            due.append(last.end + world.pause + 1)
            if now - last.end > world.pause:
                late += self._first_time(
                    "L2",
                    run,
                    -last.number,
                    f"run {run.number} has not moved on at {now}, {now - last.end}s after "
                    f"batch {last.number} ended (pause {world.pause}s)",
                )
        if late:
            self.report("L2", late)
        q = self._still_quiet(run, now)
        if q is not None:
            due.append(q.until)
            slow: list[str] = []
            quiet_bound = quiet_batch_bound(world)
            if batch is not None:
                due.append(batch.start + quiet_bound + 1)
                if now - batch.start > quiet_bound:
                    slow += self._first_time(
                        "L1",
                        run,
                        batch.number,
                        f"run {run.number} batch {batch.number} started at {batch.start} in a "
                        f"quiet environment is still in flight at {now}, more than {quiet_bound}s",
                    )
            run_bound = quiet_run_bound(world, q.in_scope)
            due.append(seen.start + run_bound + 1)
            if now - seen.start > run_bound:
                slow += self._first_time(
                    "L1",
                    run,
                    0,
                    f"run {run.number} started at {seen.start} in a quiet environment with "
                    f"{q.in_scope} instances in scope is still {run.state} at {now}, more than "
                    f"{run_bound}s",
                )
            if slow:
                self.report("L1", slow)
        self.next_due = min(d for d in due if d > now) if any(d > now for d in due) else never
