"""The property machine: Hypothesis generates whole histories of the
environment against the model, and every property is checked after every
step (SPEC section 6).

An example draws an initial scale set (properties/generation.py), then a
sequence of steps. Each step is one action: an event of SPEC section 7
(built as the model's event type and given to ``ScaleSet.apply`` at the
current time), a time advance that lands where bugs hide (on the next
internal step or just before it, inside a batch, on a health deadline, on a
credential's expiry), or a whole run. So the events applied, with the
initial configuration and the time reached, are a trace that replays the
same history (properties/counterexample.py).

The ``Checker`` (properties/checker.py) subscribed to the scale set
evaluates I1-I12, L2 and L1 (properties/liveness.py) after every internal
step and event, and the machine stops at the first violation, in the middle
of the step, with an exception named after the property (so Hypothesis
shrinks each property's failures separately); the ``@invariant`` checks the
L1/L2 deadlines at the time a step leaves the clock at. L1 also has an
action of its own that makes the environment quiet (end outages, answer
healthy, regenerate and deploy credentials, opt in), starts a run and lets
the time of its bound pass. Compound actions (a whole run; a run disturbed
in the middle of a batch) make the deep states of the scenario list likely.

Throughput (the machine at half the Hypothesis engine's own steps per
second or more, ``vmss-spec bench``): Hypothesis pays for every rule it
chooses among, every precondition, every choice and every ``st.data()``
draw, each costing about what the model pays for a whole step. So the
machine has one rule, :meth:`UpgradeMachine.step`, that makes one choice
per step (the action, and the integer its own choices are read from), no
preconditions (an action that cannot apply does the nearest thing that
can), the initial scale set drawn in thirteen choices (and the actions an
example leaves out, swarm testing, in two) as the machine is built, and no
per-step ``note()`` except in the final example.

The machine records the scenarios it reached with ``event()``
(properties/coverage.py) and counts them in its :class:`Campaign`
(properties/campaign.py). (``target()`` was tried, on the scenarios
reached, the number of runs and the longest run: hill-climbing concentrated
the examples and reached the rarer scenarios less often, so it is not
used.) When a property fails, the final (shrunk) example is written as a
trace file, ``note()`` having shown the initial scale set, and after each
step the action, the events it applied and the state it left.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import HypothesisException
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from model.config import ScaleSetConfig
from model.events import (
    Event,
    Rejection,
)
from model.facts import Plain, Published
from model.instance import Power
from model.scaleset import ScaleSet
from model.trace import Violation
from properties.actions import ACTIONS
from properties.campaign import Campaign, Counterexample
from properties.checker import Checker
from properties.counterexample import counterexample_trace, save_counterexample, save_document
from properties.coverage import Coverage
from properties.generation import SCALE_SETS
from properties.rules_all import PROPERTIES

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True


class PropertyViolation(AssertionError):
    """An invariant or progress property failed (subclassed per property, so
    that Hypothesis shrinks and reports each one as its own bug)."""

    invariant = "?"


VIOLATIONS: dict[str, type[PropertyViolation]] = {
    name: type(f"{name}Violated", (PropertyViolation,), {"invariant": name}) for name in PROPERTIES
}


#: the property that judges the documents handed to the loader (submit_trace)
SUBMISSIONS = "malformed_traces_refused_v9_v10"
_IDLE_HORIZON = 10**7  # how far waiting until idle may look ahead
#: the draw: every action twice, but L1's quiet run and the loader's documents
#: (the costliest) once
_ONCE = ("quiet_then_complete", "submit_trace")
_DRAWN: tuple[str, ...] = tuple(a for a in ACTIONS for _ in range(1 if a in _ONCE else 2))
#: swarm testing: an example leaves out the actions whose bit is set (two choices)
_LEFT_OUT = st.integers(0, 2**11 - 1)


class UpgradeMachine(RuleBasedStateMachine):
    """Whole histories of the environment against the model, every invariant
    checked after every step (SPEC section 6).

    The initial scale set is drawn as the machine is built. Then one
    Hypothesis rule, :meth:`step`, makes one choice per step: which action
    happens (one of :data:`ACTIONS`, each a method with an imperative name)
    and an integer ``n`` from which the action takes its own choices (ids,
    counts, offsets, flags) as mixed-radix digits, each shrinking towards its
    simplest value as ``n`` shrinks towards 0. An action that cannot apply in
    the current state (no credential, no batch in flight) does the nearest
    thing that can: time runs to the next internal step. Each action is drawn
    equally often, except L1's quiet run, which costs as much as dozens of
    other steps and is drawn half as often; and each example leaves some
    actions out (swarm testing), so that the ones it keeps happen more often.
    (Hypothesis pays per rule, per precondition and per choice: a rule per
    event, with preconditions and ``st.data()`` draws, cost several times the
    model's own work per step.)"""

    #: where the counts go; run_campaign gives each campaign its own subclass
    campaign: Campaign = Campaign()
    #: False only to measure the model alone (``vmss-spec bench``): the same
    #: examples and actions, no property checked
    checking: bool = True

    @classmethod
    def for_campaign(cls, campaign: Campaign, *, checking: bool = True) -> type[UpgradeMachine]:
        """This machine, counting into ``campaign`` (with ``checking`` False, a
        machine that checks nothing: the benchmark's model-alone figure)."""
        return type(cls.__name__, (cls,), {"campaign": campaign, "checking": checking})

    def __init__(self) -> None:
        self.campaign.check_stop(starting=True)  # interrupted, or the time budget spent
        super().__init__()
        self.events: list[Event] = []
        self.reached: set[str] = set()
        self.failure: Violation | None = None
        self.coverage = Coverage(self.reach)
        self._minor = 0
        self.last_submission_refused = False
        self.submitted: dict | None = None
        self._noted = 0
        self._step: tuple[str, int] | None = None
        self.campaign.examples += 1
        # The initial scale set: the example's first choices, drawn as the machine
        # is built (with an @initialize rule, Hypothesis' own cost of every step
        # grew by about a sixth); the final example notes it.
        context = current_build_context()
        #: the final (shrunk) example notes each step's events and the state after it
        self._final = context.is_final
        self.config: ScaleSetConfig = context.data.draw(SCALE_SETS)
        # Swarm testing: each example leaves out some actions, so that the ones
        # it keeps happen more often (shrinks to leaving out none).
        left_out = context.data.draw(_LEFT_OUT) | context.data.draw(_LEFT_OUT) << 11
        kept = {a for i, a in enumerate(ACTIONS) if not left_out >> i & 1}
        self._actions = tuple(a for a in _DRAWN if a in kept) or _DRAWN
        if self._final:
            note(f"initial scale set: {self.config!r}")
        self.ss = ScaleSet(self.config)
        try:
            self.checker = Checker(
                Published(self.ss),
                on_violation=self._violated,
                properties=None if self.checking else (),
            )
        except PropertyViolation:
            # A property broken at time 0 (the initial scale set: D16's refusal,
            # V7/V8's warnings): the machine is never built, so its teardown
            # never saves the counterexample; save it here.
            if self._final and self.failure is not None:
                self._save(self.failure)
            raise
        if self.checking:
            self.ss.subscribe(Plain(self.checker))
        if self.ss.rejected:
            self.reach("refused event")  # D16: a V error at time 0

    # ------------------------------------------------------------ plumbing
    @property
    def now(self) -> int:
        return self.ss.now

    def reach(self, scenario: str) -> None:
        if scenario not in self.reached:
            self.reached.add(scenario)
            event(scenario)

    def apply(self, ev: Event) -> Rejection | None:
        """Apply one event at the current time; the machine records it for the trace."""
        self.events.append(ev)
        refusal = self.ss.apply(ev)
        if refusal is not None:
            self.reach("refused event")
        return refusal

    def submit(self, data: dict) -> None:
        """Give the loader a trace document (V9, V10, D16); the property that
        judges its answer is the checker's."""
        if not self.checking:
            return
        prop = next(p for p in self.checker.rules if p.name == SUBMISSIONS)
        if self._final:
            note(f"  submitted trace: {data['scale_set']}")
        self.submitted = data
        self.last_submission_refused = prop.submit(data)

    def new_version(self) -> str:
        """The next newer version: 1.0.9, 1.0.10, 1.0.11, 1.1.9, ... (R17: parts
        whose digit counts differ, compared as numbers)."""
        k = self._minor
        self._minor += 1
        return f"1.{k // 3}.{9 + k % 3}"

    def run_until_idle(self) -> None:
        """Let every queued internal step happen (runs, deploys, creations end)."""
        self.ss.run_until_idle(self.now + _IDLE_HORIZON)

    def ids(self, n: int, pool: list[int] | None = None) -> tuple[int, ...]:
        """Some instance ids: a few anywhere (up to four), a contiguous range
        (many at once, R8), or now and then one that does not exist (refused)."""
        ids = sorted(self.ss.instances) if pool is None else pool
        mode, n = n % 10, n // 10
        if not ids or mode == 9:
            return (self.ss.next_id,)
        size = len(ids)
        if mode >= 6:
            count = 1 + n % size
            first = n // size % (size - count + 1)
            return tuple(ids[first : first + count])
        want, n = 1 + n % 4, n // 4
        left = list(ids)
        chosen = []
        while left and len(chosen) < want:
            k, n = n % len(left), n // len(left)
            chosen.append(left.pop(k))
        return tuple(chosen)

    # ------------------------------------------------------------ the one rule
    @rule(move=st.sampled_from(range(len(_DRAWN) << 24)))
    def step(self, move: int) -> None:
        """One step of the history: the action of :data:`ACTIONS` that the lowest
        digit of ``move`` names (a method of this class), given the rest, ``n``.
        (In the final, shrunk, example a note names the action and its events.)"""
        self.campaign.check_stop()
        actions = self._actions
        action, n = actions[move % len(actions)], move // len(actions)
        self._step = (action, n)
        ACTIONS[action](self, n)

    # ------------------------------------------------------------ the properties
    @invariant()
    def properties_hold(self) -> None:
        """I1-I12, L1, L2: the Checker saw no violation (it checks after every
        internal step and event; here the L1/L2 deadlines at the current time)."""
        self.campaign.steps += 1
        if self.checking:
            self.coverage.observe(self.checker.world)
        if self._final:
            self._note_step()
            note(f"  {describe(self.ss)}")
        if self.checking:
            self.checker.tick()
        assert not self.checker.violations, self.checker.violations[0]

    def _note_step(self) -> None:
        """Final example: what the last step did (the events it applied)."""
        if self._step is None:
            return
        action, n = self._step
        applied = "; ".join(repr(ev) for ev in self.events[self._noted :]) or "no event"
        note(f"  {action}(n={n}): {applied}")
        self._noted = len(self.events)
        self._step = None

    def _violated(self, violation: Violation) -> None:
        """The first violation ends the example, named after its property."""
        if self.failure is None:
            self.failure = violation
        raise VIOLATIONS.get(violation.invariant, PropertyViolation)(
            f"{violation.invariant} ({PROPERTIES.get(violation.invariant, '?')}) violated at "
            f"{violation.at}s: {violation.message}"
        )

    def teardown(self) -> None:
        in_flight = sys.exc_info()[1]
        try:
            if self.failure is None and in_flight is None and self.checking:
                self.checker.finish()  # the final state: result document, health, history
        finally:
            self._account(in_flight)

    def _account(self, in_flight: BaseException | None) -> None:
        """The example's counts into the campaign; its counterexample, if final."""
        for boundary in self.checker.reached - self.reached:
            self.reach(boundary)
        for scenario in self.reached:
            self.campaign.scenarios[scenario] += 1
        for name, tally in self.checker.counts().items():
            self.campaign.evaluations[name] += tally.evaluations
            self.campaign.applications[name] += tally.applications
        failure = self.failure
        if failure is None and isinstance(in_flight, Exception):
            if not isinstance(in_flight, HypothesisException):
                failure = Violation(f"crash: {type(in_flight).__name__}", self.now, str(in_flight))
        if failure is not None:
            self.campaign.failed.add(failure.invariant)
        if failure is not None and current_build_context().is_final:
            self._note_step()  # the step that broke the property
            self._save(failure)
        if self.campaign.progress is not None:
            self.campaign.progress(self.campaign)

    def _save(self, failure: Violation) -> None:
        """The shrunk history as a vmss-upgrade-trace/1 file."""
        trace = counterexample_trace(self.config, self.events, self.now)
        path: Path | None = None
        if self.campaign.out_dir is not None:
            try:
                if failure.invariant == SUBMISSIONS and self.submitted is not None:
                    # the loader's mistake: the document it was given is the counterexample
                    path = save_document(self.submitted, failure.invariant, self.campaign.out_dir)
                    self.events = []
                else:
                    path = save_counterexample(trace, failure.invariant, self.campaign.out_dir)
            except OSError:
                path = None
        self.campaign.counterexamples.append(
            Counterexample(failure.invariant, failure.at, failure.message, path, len(self.events))
        )
        if path is not None:
            note(f"counterexample trace: {path}")


def describe(ss: ScaleSet) -> str:
    """The state after a step, in one line (the final example's notes)."""
    run = ss.active_run
    states = Counter(inst.state for inst in ss.instances.values())
    down = sum(1 for inst in ss.instances.values() if inst.power_state == Power.STOPPED)
    runs = ", ".join(f"{r.number}:{r.started_by}->{r.target} {r.code}" for r in ss.runs[-3:])
    active = "none"
    if run is not None:
        batch = run.batch_in_flight
        active = f"run {run.number} {run.state} {run.progress()}"
        if batch is not None:
            active += f" batch {batch.number} {batch.instances} since {batch.start}"
    return (
        f"t={ss.now}s latest={ss.catalog.latest} auto={ss.auto_enabled} "
        f"instances={len(ss.instances)} {dict(states)} down={down}; "
        f"active: {active}; runs: {runs or 'none'}"
    )
