"""The rule property of D12, the order in which steps happen, checked against
this layer's own expectation of what is due (not the model's queue).

From what it has seen, the layer knows which internal step each instance
and each run has coming, and when (SPEC section 5's timings): a batch
member's or a new instance's disk os_disk_seconds after its operation
began; its extensions extension_seconds after the disk or the deploy; with
a probe, its application app_start_seconds after it started and its health
deadline health_wait_seconds after its extensions; a rollback os_disk_seconds
after it began; a batch's end when its last member is done; a pause's end
pause_time_between_batches after its batch. With section 9's switch (TD6):
a version published to become eligible later at its ``eligible_at``, and
the end of the first-rollout delay at t0 + first_rollout_delay_seconds,
between instance and run steps. An expectation ends when the step comes, or
when what it belonged to ended (a member done before its deadline, an
instance removed, a run cancelled in its pause).
"""

from __future__ import annotations

import heapq
from typing import Any

from properties.rule import Property, rule

#: D12: at equal times instance steps come before run steps (TD6: versions
#: becoming eligible, then the first-rollout delay's end, between them)
_INSTANCE, _ELIGIBLE, _ROLLOUT, _RUN = 0, 1, 2, 3
_CLASS = {
    "queued: instance": _INSTANCE,
    "queued: eligibility": _ELIGIBLE,
    "queued: first rollout": _ROLLOUT,
    "queued: run": _RUN,
}


@rule
class StepsHappenInD12Order(Property):
    """D12: internal steps happen at their time, earliest first, at equal times
    instance steps before run steps and instances by id; an external event at
    time t comes after every internal step due at t."""

    name = "steps_in_d12_order"
    rules = "D12"
    title = "steps and events happen in D12's order"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        #: (time, class, actor, order, step) of each step expected, some no longer
        #: live; ``order`` counts expectations, so that the steps of one actor
        #: due at one time keep the order they were expected in (D12: FIFO)
        self.heap: list[tuple[int, int, int, int, str]] = []
        #: (step, class, actor) -> (time, order) of its expectation, while live
        self.due_at: dict[tuple[str, int, int], tuple[int, int]] = {}
        self.order = 0
        self.last_step_at: int | None = None
        self.app_starts = False
        #: the event under way, until it reports its end (applied or refused)
        self.open_event: Any = None
        #: TD6: each version published, by its place (ascending version, TD5)
        self.places: dict[str, int] = {}
        self.last_eligible: int | None = None
        self._rollout_expected = False
        self._expect_rollout()

    def _expect_rollout(self) -> None:
        """T18: once automatic upgrades are first on, the delay's end is due."""
        world = self.world
        if world.rollout_from is not None and not self._rollout_expected:
            self._rollout_expected = True
            delay = world.rollout_from - world.now
            if delay > 0:
                self._expect("first_rollout", _ROLLOUT, 0, delay)

    def after_automatic_upgrades(self, enabled: bool) -> None:
        self._expect_rollout()

    def after_image_published(self, ev: Any) -> None:
        """T17: a version eligible later becomes so at its eligible_at."""
        if not self.world.today:
            return
        place = self.places[ev.version] = len(self.places)
        if ev.eligible_at is not None and ev.eligible_at > ev.at:
            self._expect("version_eligible", _ELIGIBLE, place, ev.eligible_at - ev.at)

    def after_version_eligible(self, version: str) -> None:
        self.last_eligible = self.world.now
        self._drop("version_eligible", _ELIGIBLE, self.places.get(version, -1))

    def after_first_rollout_ends(self) -> None:
        self._drop("first_rollout", _ROLLOUT, 0)

    # ------------------------------------------------------------ expectations
    def _expect(self, step: str, klass: int, actor: int, delay: int) -> None:
        at = self.world.now + delay
        self.order += 1
        self.due_at[(step, klass, actor)] = (at, self.order)
        heapq.heappush(self.heap, (at, klass, actor, self.order, step))

    def _drop(self, step: str, klass: int, actor: int) -> None:
        self.due_at.pop((step, klass, actor), None)

    def _earliest(self) -> tuple[int, int, int, int, str] | None:
        """The earliest live expectation (stale heap entries are dropped)."""
        heap, due_at = self.heap, self.due_at
        while heap:
            at, klass, actor, order, step = heap[0]
            if due_at.get((step, klass, actor)) == (at, order):
                return heap[0]
            heapq.heappop(heap)
        return None

    def after_batch_started(self, run: Any, batch: Any) -> None:
        for i in batch.instances:
            self._expect("disk_replaced", _INSTANCE, i, self.world.timings.os_disk_seconds)

    def after_instance_created(self, inst: Any) -> None:
        self._expect("disk_replaced", _INSTANCE, inst.id, self.world.timings.os_disk_seconds)

    def after_disk_replaced(self, inst: Any) -> None:
        self._drop("disk_replaced", _INSTANCE, inst.id)
        self._drop("application_up", _INSTANCE, inst.id)  # the application stops with it
        seconds = self.world.timings.extension_seconds
        self._expect("extensions_finished", _INSTANCE, inst.id, seconds)

    def after_deploy_started(self, deploy: Any) -> None:
        for i in deploy.members:
            seconds = self.world.timings.extension_seconds
            self._expect("extensions_finished", _INSTANCE, i, seconds)

    def _application_starts(self, i: int) -> None:
        world = self.world
        if world.probe:
            self._expect("application_up", _INSTANCE, i, world.timings.app_start_seconds)

    def before_extensions_finished(self, inst: Any, ok: bool) -> None:
        # the application starts on a disk whose extensions first succeeded
        self.app_starts = ok and self.world.instances[inst.id].app_since is None

    def after_extensions_finished(self, inst: Any, ok: bool) -> None:
        world = self.world
        self._drop("extensions_finished", _INSTANCE, inst.id)
        if self.app_starts:
            self._application_starts(inst.id)
        if world.instances[inst.id].op == "awaiting":
            seconds = world.timings.health_wait_seconds
            self._expect("health_deadline", _INSTANCE, inst.id, seconds)

    def after_application_up(self, inst: Any) -> None:
        self._drop("application_up", _INSTANCE, inst.id)

    def after_rollback_started(self, inst: Any) -> None:
        self._drop("health_deadline", _INSTANCE, inst.id)
        seconds = self.world.timings.os_disk_seconds
        self._expect("rollback_restored", _INSTANCE, inst.id, seconds)

    def after_rollback_restored(self, inst: Any) -> None:
        self._drop("rollback_restored", _INSTANCE, inst.id)
        self._application_starts(inst.id)

    def after_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        self._drop("health_deadline", _INSTANCE, inst.id)  # done in time: it goes stale
        batch = self.world.runs[run.number - 1].batches[-1]
        if len(batch.done) == len(batch.members):
            self._expect("end_of_batch", _RUN, run.number, 0)

    def after_batch_ended(self, run: Any, batch: Any) -> None:
        self._drop("end_of_batch", _RUN, run.number)
        if self.world.runs[run.number - 1].decision == "pause":
            self._expect("end_of_pause", _RUN, run.number, self.world.pause)

    def after_pre_batch_check(self, run: Any) -> None:
        self._drop("end_of_pause", _RUN, run.number)

    def after_run_ended(self, run: Any) -> None:
        self._drop("end_of_pause", _RUN, run.number)  # cancelled in its pause

    def before_instance_removed(self, inst: Any) -> None:
        for step in (
            "disk_replaced",
            "extensions_finished",
            "application_up",
            "health_deadline",
            "rollback_restored",
        ):
            self._drop(step, _INSTANCE, inst.id)

    # ------------------------------------------------------------ the order
    def _queued(self, arg: Any) -> None:
        if self.open_event is not None:
            self._unended()
        world = self.world
        step = self.checker.step
        if step.name == "version_eligible" and self.last_step_at == world.now:
            self.sometimes("version eligible at the same second as a step")
        now = self.last_step_at = world.now
        klass = _CLASS[step.when]
        # the instance's id, the run's number, the version's place (TD6), or 0
        if klass == _ELIGIBLE:
            actor = self.places.get(arg, -1)
        else:
            actor = 0 if klass == _ROLLOUT else arg
        # this step's own place: nothing expected may come before it (a step
        # this layer did not expect, a stale one, is placed by time, class, id)
        mine = self.due_at.get((step.name, klass, actor))
        expected_now = mine is not None and mine[0] == now  # else a stale one of earlier
        if klass in (_ELIGIBLE, _ROLLOUT) and not expected_now:  # TD6: never stale
            due = "not expected" if mine is None else f"due at {mine[0]}"
            self.applications += 1
            self.fail(f"{step.name} of {arg} at {now}: {due} (T17, T18, TD6)")
            return
        place = (now, klass, actor, mine[1] if expected_now else 0)
        first = self._earliest()
        self.applications += 1
        if first is not None and first[:4] < place:
            self.fail(
                f"{step.name} of {actor} at {now} before {first[4]} of {first[2]}, "
                f"due at {first[0]} (time, instance 0 / run 1, id, order expected)"
            )

    def _unended(self) -> None:
        """An event that began must end, applied or refused (section 7: a
        refused event is recorded as such), before anything else begins."""
        ev, self.open_event = self.open_event, None
        if ev is not None:
            self.fail(f"{ev.NAME} at {ev.at} ended neither applied nor refused")

    def _ended(self, ev: Any, rejection: Any) -> None:
        self.open_event = None

    def finish(self) -> None:
        self._unended()

    def _event(self, ev: Any) -> None:
        if self.open_event is not None:
            self._unended()
        self.open_event = ev
        if ev.at == self.last_step_at:
            self.sometimes("event at the same second as an internal step")
            if self.last_eligible == ev.at:
                self.sometimes("version eligible at the same second as a step")
        first = self._earliest()
        self.applications += 1
        if self.world.now != ev.at:
            self.fail(f"{ev.NAME} at {ev.at} happens at {self.world.now}")
        elif first is not None and first[0] <= ev.at:
            self.fail(f"{ev.NAME} at {ev.at} before {first[4]} of {first[2]}, due at {first[0]}")

    begin_internal = _queued
    begin_event = _event
    end_event = _ended
