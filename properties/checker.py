"""The Checker: every property of the spec, evaluated after every step of a
model, looking only at what the step can have changed.

It observes a scale set through model/facts.py (``observe(ss, Checker)``):
the facts each step records, as plain values, and what the model publishes
(``Published``), never the model's own objects. It keeps the observed world
(properties/observed.py) up to date with the facts.
For each fact it calls, in order: the rule properties that look at the world
as it was before the fact (``before_<fact>``), the world's own handler, the
invariants I1-I12 and L1/L2 (properties/invariants.py, liveness.py), and the
rule properties that look at the world after it (``after_<fact>``). At the
start of a step it calls ``begin_<step>`` of the rule properties; at its end
``end_<step>`` and ``end``, then the checks of the whole step (progress,
history, target, deadlines).

Each property counts how often it was evaluated and on how many steps its
rule applied; a property whose rule never applied in a campaign proves
nothing, and ``vmss-spec verify`` fails then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import attrs

from model.run import Code, Status
from model.trace import Violation
from properties import invariants as inv
from properties.liveness import Liveness
from properties.observed import World
from properties.rule import Property
from properties.rules_all import RULES

#: the facts after which the history view may differ within the same step
_VIEW_CHANGES = frozenset(
    {"run_started", "run_ended", "batch_started", "member_done", "instance_removed"}
)

#: the invariant checks of each fact (methods of Checker)
_INVARIANT_FACTS = {
    "instance_created": "_inv_instance_created",
    "disk_replaced": "_inv_disk_changed",
    "rollback_restored": "_inv_disk_changed",
    "extensions_finished": "_inv_provisioned",
    "run_started": "_inv_run_started",
    "batch_started": "_inv_batch_started",
    "member_done": "_inv_member_done",
    "batch_ended": "_inv_batch_ended",
    "run_ended": "_inv_run_ended",
    "deploy_ended": "_inv_deploy_ended",
    "image_published": "_inv_published",
}
#: invariant checks that need the world as it was before the fact
_BEFORE_WORLD = {"disk_replaced", "rollback_restored", "member_done", "batch_started"}
_ENDS = ("step", "event", "rejected")


@attrs.define(eq=False, slots=False)  # copied often by `check`: a dict pickles in C
class Tally:
    """One property's counts: how often it was evaluated, how often its rule applied."""

    evaluations: int = 0
    applications: int = 0


class Checker:
    """An observer of a ScaleSet (``model.facts.observe(ss, Checker)``);
    ``violations`` lists what broke, and when. ``on_violation`` is called at each violation
    as it is found (the property machine stops the example there)."""

    def __init__(
        self,
        published: Any,
        *,
        on_violation: Callable[[Violation], None] | None = None,
        properties: Iterable[type[Property]] | None = None,
        given: dict[str, Any] | None = None,
    ) -> None:
        #: what the model publishes (model/facts.py Published)
        self.published = published
        #: the trace's document as given, but its events (None: drawn)
        self.given = given
        self.world = World(published)
        self.violations: list[Violation] = []
        #: the boundaries of the spec the properties saw (Property.sometimes)
        self.reached: set[str] = set()
        self.tallies: dict[str, Tally] = {name: Tally() for name in inv.INVARIANTS}
        self._on_violation = on_violation
        self.liveness = Liveness(self.world, published, self._report)
        self.rules = [cls(self) for cls in (RULES if properties is None else properties)]
        for prop in self.rules:
            self.tallies[prop.name] = Tally()
        #: the row of the step table of the step under way, and its argument
        self.step: Any = None
        self.step_arg: Any = None
        #: the runs a fact of this step touched (their counts are compared at its end)
        self._touched_runs: set[int] = set()
        #: the time of the last tick: time moving on past it ticks again
        self._ticked_at = 0
        self._history_due = False
        self._view: Any = None
        self._plan = _plan(tuple(type(p) for p in self.rules))
        self._dispatch: dict[str, Callable[..., None]] = {}
        self._begin: dict[str, list[Callable[..., None]]] = {}
        self._end: dict[str, list[Callable[..., None]]] = {}
        #: the properties whose end() is due at the end of this step, in the order asked
        self._due: dict[Property, None] = {}
        self._ticks = [p.tick for p in self.rules if _has(p, "tick")]
        self._world = self.world.handlers()
        for prop in self.rules:
            start = getattr(prop, "start", None)
            if start is not None:
                start()

    # ------------------------------------------------------------------ reporting
    def report(self, name: str, message: str) -> None:
        """A property found a violation."""
        violation = Violation(name, self.published.now, message)
        self.violations.append(violation)
        if self._on_violation is not None:
            self._on_violation(violation)

    def _report(self, name: str, problems: list[str], applied: bool = True) -> None:
        tally = self.tallies[name]
        tally.evaluations += 1
        if applied:
            tally.applications += 1
        for message in problems:
            self.report(name, message)

    def counts(self) -> dict[str, Tally]:
        """Each property's tally, the rule properties' applications included."""
        for prop in self.rules:
            self.tallies[prop.name].applications = prop.applications
            self.tallies[prop.name].evaluations = max(
                prop.applications, self.tallies[prop.name].evaluations
            )
        return self.tallies

    # ------------------------------------------------------------------ dispatch
    def __call__(self, fact: str, *args: Any) -> None:
        try:
            handle = self._dispatch[fact]
        except KeyError:
            handle = self._dispatch[fact] = self.handler(fact)
        handle(*args)

    def handler(self, fact: str) -> Callable[..., None]:
        """Everything the checker does at ``fact``, as one callable taking the
        fact's plain values (model/facts.py Plain asks once per kind of fact)."""
        return _chain(self._handlers(fact))

    def _bind(self, entries: list[tuple[int, str]]) -> list[Callable[..., None]]:
        return [getattr(self.rules[k], attr) for k, attr in entries]

    def _handlers(self, fact: str) -> list[Callable[..., None]]:
        if fact == "begin":
            return [self._on_begin]
        if fact == "step":
            return [self._ended]  # an internal step that did something
        if fact in _ENDS:
            return [getattr(self, f"_on_{fact}")]
        plan = self._plan
        handlers = self._bind(plan.get(f"before_{fact}", []))
        if fact in _VIEW_CHANGES:
            # the history view changes within the step: a view computed earlier
            # in it (a run's end, before the next run starts) no longer holds
            handlers.insert(0, self._forget_view)
        own = _INVARIANT_FACTS.get(fact)
        if own is not None and fact in _BEFORE_WORLD:
            handlers.append(getattr(self, own))
        if fact in self._world:
            handlers.append(self._world[fact])
        if own is not None and fact not in _BEFORE_WORLD:
            handlers.append(getattr(self, own))
        return handlers + self._bind(plan.get(f"after_{fact}", []))

    def _for_row(self, when: str, row: Any) -> list[tuple[int, str]]:
        """The ``begin_``/``end_`` handlers of a row of the step table: those
        named after it and those of every event (``begin_event``) or every
        internal step (``begin_internal``), in the order of the properties."""
        kind = "event" if row.when == "event" else "internal"
        plan = self._plan
        return sorted(plan.get(f"{when}_{row.name}", []) + plan.get(f"{when}_{kind}", []))

    def due(self, prop: Property) -> None:
        """Have ``prop.end()`` called at the end of the current step."""
        self._due[prop] = None

    def _on_begin(self, row: Any, arg: Any) -> None:
        now = self.published.now
        if now > self._ticked_at:
            # time moved on since the last step: everything due before now is
            # done, and the time-based checks look at it (in a replay as in
            # the campaign, whose machine also ticks after each of its steps)
            self.tick()
        self.world.now = now
        self.step, self.step_arg = row, arg
        self._view = None
        name = row.name
        self.world.step_begins(name, arg)
        handlers = self._begin.get(name)
        if handlers is None:
            handlers = self._begin[name] = self._bind(self._for_row("begin", row))
        for handler in handlers:
            handler(arg)

    def _ended(self, _row: Any = None, _arg: Any = None, rejection: Any = None) -> None:
        """The end of a step (an internal step's ``("step", row, arg)``, an
        event's, or a refused event's ``rejection``): the ``end_`` handlers of
        its row, the properties' ``end()``, then the invariants over what the
        step changed."""
        # A view read in the middle of the step (I10 at a run's end) may be stale
        # by now (a run started after it, at the same second): read it afresh.
        self._view = None
        row = self.step
        if row is not None:
            name = row.name
            handlers = self._end.get(name)
            if handlers is None:
                handlers = self._end[name] = self._bind(self._for_row("end", row))
            for handler in handlers:
                handler(self.step_arg, rejection)
        if self._due:
            due, self._due = self._due, {}
            for prop in due:
                prop.end()
        self._end_of_step()
        self.step = self.step_arg = None

    def _on_event(self, event: Any) -> None:
        self.liveness.event(event)
        self._ended()

    def _on_rejected(self, rejection: Any) -> None:
        self._ended(rejection=rejection)

    # ------------------------------------------------------------------ invariants
    def _inv_instance_created(self, inst: Any) -> None:
        pass

    def _inv_disk_changed(self, inst: Any) -> None:
        """I4, I5 at a disk change (the world still holds the disk before it)."""
        seen = self.world.instances.get(inst.id)
        if seen is None:
            return
        self._report("I5", inv.data_disks_kept(inst, seen.data_disks))
        prior = seen.prior[:2] if seen.prior else None
        before = (seen.disk, seen.version)
        if (inst.os_disk, inst.image_version) != before:
            self._report("I4", inv.version_never_decreases(inst, before, prior))

    def _inv_provisioned(self, inst: Any, ok: bool) -> None:
        expired = self.world.credential_expired(self.world.now) is not None
        self._report("I8", inv.expired_credential_fails(self.world, inst, ok), applied=expired)

    def _inv_published(self, ev: Any) -> None:
        self._report("I7", [], applied=not self.world.auto)

    def _inv_run_started(self, run: Any, scope: Any, reason: str) -> None:
        world = self.world
        self._touched_runs.add(run.number)
        self._report("I4", inv.target_is_latest(world, run))
        self._report("I7", inv.platform_run_allowed(world, run))
        self._report("I10", inv.one_active_run(self.published.recent_runs(2)))
        self.liveness.run_started(run)
        if run.number in self.liveness.quiet:
            self.tallies["L1"].evaluations += 1
            self.tallies["L1"].applications += 1

    def _inv_batch_started(self, run: Any, batch: Any) -> None:
        world = self.world
        seen = world.runs[run.number - 1]
        self._report("I1", inv.batch_within_cap(world, run, batch))
        self._report("I1", inv.one_batch_in_flight(seen, batch))
        self._report("I2", inv.pre_check_passed(world, run, batch))
        self._report("I3", inv.stopped_runs_start_no_batch(world, seen, batch.number), False)
        platform = run.started_by == "Platform"
        self._report("I7", inv.no_platform_batch_after_opt_out(world, run, batch), platform)
        self._report("L2", inv.run_moves_on(world, seen, batch.start), bool(seen.batches))
        self._touched_runs.add(run.number)
        self.liveness.changed()

    def _inv_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        batch = self.world.runs[run.number - 1].batches[-1]
        self._report("I4", inv.upgraded_to_target(run, inst, inst.id in batch.restored))
        self._report("I6", inv.waited_for_health(self.world, batch, inst), self.world.probe)
        self._touched_runs.add(run.number)

    def _inv_batch_ended(self, run: Any, batch: Any) -> None:
        seen = self.world.runs[run.number - 1]
        done = set(seen.batches[-1].done)
        self._report("I6", inv.batch_members_all_done(run, batch, done))
        failing = any(b.extensions_failed for b in seen.batches)
        self._report("I8", inv.credential_failures_in_one_batch(seen), applied=failing)
        self._report("L2", inv.batch_terminates(self.world, run, batch))
        self.liveness.batch_ended(run, batch)
        self._touched_runs.add(run.number)

    def _inv_run_ended(self, run: Any) -> None:
        seen = self.world.runs[run.number - 1]
        self._report("I11", inv.no_orphans(self.world, seen), applied=bool(seen.batches))
        if seen.stopped_at is not None:
            # I3, where it applies: a run this layer saw stopped started no batch after
            self._report("I3", inv.no_batch_after_the_stop(seen))
        if seen.code != Code.CANCELLED or seen.batches:
            self._report("L2", inv.run_moves_on(self.world, seen, run.end), bool(seen.batches))
        self.liveness.run_ended(run)
        self._touched_runs.add(run.number)
        self._history_due = True

    def _inv_deploy_ended(self, deploy: Any) -> None:
        valid = not self.world.any_token_expired()
        self._report("I12", inv.recovered_after_deploy(self.world, deploy), applied=valid)

    def _end_of_step(self) -> None:
        """The invariants over what this step changed."""
        world = self.world
        if self._touched_runs:
            for number in self._touched_runs:
                seen = world.runs[number - 1]
                counts = seen.tally
                run = self.published.run(number)
                successful, failed, in_progress, pending = run.progress
                tally = self.tallies["I9"]
                if (
                    run.active
                    and pending == counts["pending"]
                    and in_progress == counts["inProgress"]
                    and successful == counts["successful"]
                    and failed == counts["failed"]
                ):
                    tally.evaluations += 1  # the common case, without building messages
                    tally.applications += 1
                else:
                    self._report("I9", inv.progress_accounted(run, counts))
                if run.target != seen.target:
                    self._report("I4", inv.target_unchanged(run, seen.target), applied=False)
            self._touched_runs.clear()
        if self._history_due:
            self.check_history()
            self._history_due = False
        liveness = self.liveness
        if world.now >= liveness.next_due:
            liveness.deadlines()

    def _forget_view(self, *args: Any) -> None:
        self._view = None

    def history_view(self) -> Any:
        """The model's history view now (computed once between two steps: I10
        and R16 share it)."""
        now = self.world.now
        if self._view is None or self._view[0] != now:
            self._view = (now, self.published.history())
        return self._view[1]

    def check_history(self) -> None:
        """I10 on the model's history view now."""
        starts = [e.properties.runningStatus.startTime for e in self.history_view().value]
        now, epoch = self.world.now, self.published.config.epoch
        self._report("I10", inv.history_bounded(starts, now, epoch))
        self._report("I10", inv.one_active_run(self.published.recent_runs(2)))

    def tick(self) -> None:
        """Whenever time may have passed without a step (the end of each step of
        the property machine): the L1 and L2 deadlines of the run still going
        (a run that stopped moving has no step to check at), and the rules
        that time alone can bring into force (the history's 60 days)."""
        self._ticked_at = self.world.now = self.published.now
        for tick in self._ticks:
            tick()
        self.liveness.maybe()

    def finish(self) -> None:
        """At the end of a replay or of an example: ``tick`` and the checks of
        the whole final state (the result document, every instance's health,
        the history view)."""
        self.tick()
        for prop in self.rules:
            if _has(prop, "finish"):
                prop.finish()


def _chain(handlers: list[Callable[..., None]]) -> Callable[..., None]:
    """One callable calling ``handlers`` in order (unrolled for the usual few)."""
    if not handlers:
        return _nothing
    if len(handlers) == 1:
        return handlers[0]
    if len(handlers) == 2:
        first, second = handlers

        def both(*args: Any) -> None:
            first(*args)
            second(*args)

        return both
    chained = tuple(handlers)

    def every(*args: Any) -> None:
        for handle in chained:
            handle(*args)

    return every


def _nothing(*args: Any) -> None:
    pass


@cache
def _plan(classes: tuple[type[Property], ...]) -> dict[str, list[tuple[int, str]]]:
    """For each handler name (``before_<fact>``, ``begin_<step>``...), which of
    the property classes define it: worked out once per set of classes."""
    plan: dict[str, list[tuple[int, str]]] = {}
    for k, cls in enumerate(classes):
        for attr in dir(cls):
            if attr.split("_", 1)[0] in ("before", "after", "begin", "end") and "_" in attr:
                plan.setdefault(attr, []).append((k, attr))
    return plan


def _has(prop: Property, name: str) -> Callable[..., None] | None:
    """The handler ``name`` of a property, if its class defines one."""
    return getattr(prop, name, None) if hasattr(type(prop), name) else None


__all__ = ["Checker", "Status", "Tally"]
