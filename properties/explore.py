"""`vmss-spec check`: every behaviour of a small scope, breadth first (SPEC
section 8), with the same checker as replay and the campaign.

A state is the scale set, the checker that observes it (its memory: what
the property layer saw, what each property waits for) and the budgets left
(E3); model/snapshot.py gives its canonical form, its fingerprint and its
copy. From each state the transitions of E2 lead on:

- **an event at the current moment** (after the internal steps due now), one
  per kind with budget left and per value the scope allows;
- **the clock moving** to one second before the next internal step is due
  (when that is later than now);
- **the internal steps** due at the next due time, all of them, in D12's
  order (one transition).

After each transition the checker ticks, as the campaign's machine does
after each of its steps; a state with no budget left and nothing queued ends
its behaviour, and the checker's ``finish`` runs there (L1, L2, the result
document and the history view, as at the end of a replay). A state with an
active run (as the property layer observed it) from which no transition
leads is a deadlock (E4).

Visited states are kept as 64-bit fingerprints in an open-addressing table
(:class:`Visited`, 8 bytes a slot, at most half full) with, per state, its
parent and the transition that reached it (4 + 4 bytes), so that a violation
comes with the shortest behaviour that reaches it, written as a trace of
section 7 whose replay reports the same property at the same time (E5).
The queue holds the copies of the states still to expand.
"""

from __future__ import annotations

import math
import time
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

import properties.memory  # noqa: F401 - the property layer's declarations of E3
from model import events as ev
from model.facts import observe
from model.scaleset import ScaleSet
from model.snapshot import canonical, fingerprint, freeze, share, thaw
from model.trace import Violation, event_to_dict
from model.trace_schema import TODAY
from properties.checker import Checker
from properties.scope import FORMAT, Scope

DRIVER = True  # it builds, drives and copies scale sets

#: the abstraction a check makes (E2), said with every result
ABSTRACTION = (
    "the environment acts at the current moment and one second before the next "
    "internal step is due; other moments between two steps are not told apart"
)

#: what a deadlock (E4) is reported as
DEADLOCK = "deadlock: a run is active and no transition leads on"

WAIT = ("wait",)
STEP = ("step",)


class Visited:
    """A set of 64-bit fingerprints in one ``array('Q')`` (open addressing,
    linear probing, doubled when half full), and per state its parent and the
    transition that first reached it (``array('i')`` each): at a million
    states 2^21 slots of 8 bytes and 8 bytes a state, 24.8 bytes a state."""

    def __init__(self, slots: int = 1 << 10) -> None:
        self._table = array("Q", bytes(8 * slots))
        self._mask = slots - 1
        self.parent = array("i")
        self.label = array("i")

    def __len__(self) -> int:
        return len(self.parent)

    def add(self, fp: int, parent: int, label: int) -> int:
        """The new state's number, or -1 if ``fp`` was seen before."""
        fp = fp or 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        slot = fp & mask
        while True:
            found = table[slot]
            if found == 0:
                break
            if found == fp:
                return -1
            slot = (slot + 1) & mask
        number = len(self.parent)
        table[slot] = fp
        self.parent.append(parent)
        self.label.append(label)
        if 2 * (number + 1) > mask + 1:
            self._grow()
        return number

    def _grow(self) -> None:
        old = self._table
        slots = 2 * len(old)
        self._table = table = array("Q", bytes(8 * slots))
        self._mask = mask = slots - 1
        for fp in old:
            if fp:
                slot = fp & mask
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = fp

    def nbytes(self) -> int:
        """The bytes the table and the per-state arrays hold."""
        arrays = (self._table, self.parent, self.label)
        return sum(a.itemsize * a.buffer_info()[1] for a in arrays)

    def path(self, number: int) -> tuple[int, list[int]]:
        """The initial state ``number`` comes from (its place among the
        scope's initial states) and the transitions (label numbers) from it."""
        labels: list[int] = []
        while self.parent[number] >= 0:
            labels.append(self.label[number])
            number = self.parent[number]
        return self.label[number], labels[::-1]


@attrs.define
class Outcome:
    """What a check explored and found (E5)."""

    scope: str
    states: int = 0
    transitions: int = 0
    depth: int = 0
    complete: bool = False
    seconds: float = 0.0
    #: property -> the transitions on which its rule applied
    applied: dict[str, int] = attrs.Factory(dict)
    violation: Violation | None = None
    #: the shortest behaviour reaching the violation, as a trace document
    counterexample: dict[str, Any] | None = None
    #: the number of transitions of that behaviour
    counterexample_length: int = 0
    stopped: str | None = None
    table_bytes: int = 0

    @property
    def collision_probability(self) -> float:
        """The chance that two of the distinct states share a fingerprint (a
        state taken as seen when it was not), as TLC estimates it: n² / 2^65."""
        return self.states * self.states / 2.0**65

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else math.inf


class _State:
    """A live state: which of the scope's initial scale sets it comes from
    (their configurations are not in the canonical form of a scale set, and
    two of them may otherwise look alike), the scale set, its checker, the
    budgets left."""

    __slots__ = ("origin", "ss", "checker", "budgets")

    def __init__(
        self, origin: int, ss: ScaleSet, checker: Checker, budgets: tuple[int, ...]
    ) -> None:
        self.origin, self.ss, self.checker, self.budgets = origin, ss, checker, budgets

    def key(self) -> tuple[Any, ...]:
        return (self.origin, self.budgets, canonical((self.ss, self.checker), self.ss.now))

    def freeze(self) -> bytes:
        return freeze((self.origin, self.ss, self.checker, self.budgets))


def _thaw(frozen: bytes) -> _State:
    return _State(*thaw(frozen))


def share_configs(scope: Scope) -> None:
    """The scope's configurations are the same objects in every copy of a state."""
    for config, _ in scope.initial:
        for part in (config, config.policy, config.timings, config.image):
            share(f"config:{id(part)}", part)


def initial(scope: Scope, k: int = 0) -> _State:
    """The scope's initial state ``k`` (E1: a scope may name several scale sets)."""
    ss = ScaleSet(scope.initial[k][0])
    checker = observe(ss, Checker)
    return _State(k, ss, checker, scope.budgets())


def moves(scope: Scope, state: _State) -> list[tuple[Any, ...]]:
    """The transitions of E2 from ``state``: ("event", choice, event) for each
    event the environment may give now, then ``WAIT`` and ``STEP``."""
    ss = state.ss
    now = ss.now
    found: list[tuple[Any, ...]] = [
        ("event", k, event)
        for k, event in scope.events(state.budgets, sorted(ss.instances), ss.catalog.latest, now)
    ]
    nxt = ss.clock.next_time()
    if nxt is not None:
        if nxt - 1 > now:
            found.append(WAIT)
        found.append(STEP)
    return found


def take(state: _State, move: tuple[Any, ...]) -> None:
    """E2: apply one transition to the live state, then tick the checker (as
    the campaign's machine does after each of its steps)."""
    ss = state.ss
    if move[0] == "event":
        k = move[1]
        budgets = list(state.budgets)
        budgets[k] -= 1
        state.budgets = tuple(budgets)
        ss.apply(move[2])
    elif move is WAIT or move == WAIT:
        ss.advance(ss.clock.next_time() - 1)  # type: ignore[operator]
    else:
        ss.advance(ss.clock.next_time())  # type: ignore[arg-type]
    state.checker.tick()


def _applications(checker: Checker) -> list[int]:
    return [p.applications for p in checker.rules] + [
        t.applications for t in checker.tallies.values()
    ]


def take_counted(state: _State, move: tuple[Any, ...], applied: list[int]) -> None:
    """:func:`take`, adding one to ``applied[i]`` for each property whose rule
    applied on this transition (in the order of :func:`applied_by_name`)."""
    before = _applications(state.checker)
    take(state, move)
    after = _applications(state.checker)
    if after != before:
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            if b != a:
                applied[i] += 1


def applied_by_name(checker: Checker, applied: list[int] | None) -> dict[str, int]:
    """The counts of :func:`take_counted` by property name (E5)."""
    names = [p.name for p in checker.rules] + list(checker.tallies)
    totals: dict[str, int] = dict.fromkeys(names, 0)
    for name, count in zip(names, applied or [0] * len(names), strict=True):
        totals[name] += count
    return totals


def end_of_behaviour(state: _State) -> Violation | None:
    """The end of a behaviour (no transition leads on), checked as the end of
    a replay; E4: a run still active there is a deadlock (unless a property
    of the end of a replay, L2 say, said so first). The first violation."""
    checker = state.checker
    checker.finish()
    if checker.world.active is not None and not checker.violations:
        checker.report("E4", DEADLOCK)
    return checker.violations[0] if checker.violations else None


def explore(
    scope: Scope,
    *,
    max_states: int | None = None,
    duration: float | None = None,
    progress: Callable[[Outcome, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Explore every behaviour of ``scope`` breadth first. E4: every property
    on every transition (the checker's, as in replay), and at the end of each
    behaviour its end (L1, L2) and deadlocks; E5: the counts, per property the
    transitions on which its rule applied, and the first violation with the
    shortest behaviour reaching it."""
    started = time.perf_counter()
    outcome = Outcome(scope.name)
    visited = Visited()
    queue: deque[tuple[int, bytes, int]] = deque()
    share_configs(scope)
    for k in range(len(scope.initial)):
        root = initial(scope, k)
        number = visited.add(fingerprint(root.key()), -1, k)
        if number >= 0:
            queue.append((number, root.freeze(), 0))
    applied = [0] * len(_applications(root.checker))
    labels: list[tuple[Any, ...]] = []  # label number -> the move, for the path
    label_of: dict[Any, int] = {}
    next_report = started + 1.0

    def found(number: int, move: tuple[Any, ...] | None, violation: Violation) -> None:
        start, path = visited.path(number)
        if move is not None:
            path.append(_label(move))
        outcome.violation = violation
        outcome.counterexample, outcome.counterexample_length = behaviour_trace(
            scope, start, [labels[n] for n in path]
        )

    def _label(move: tuple[Any, ...]) -> int:
        key = move if move[0] != "event" else ("event", move[1], _event_key(move[2]))
        number = label_of.get(key)
        if number is None:
            number = label_of[key] = len(labels)
            labels.append(move if move[0] != "event" else ("event", move[1], move[2]))
        return number

    while queue:
        if stop is not None and stop():
            outcome.stopped = "interrupted"
            break
        now = time.perf_counter()
        if duration is not None and now - started >= duration:
            outcome.stopped = f"--duration {duration:g} s reached"
            break
        if max_states is not None and len(visited) >= max_states:
            outcome.stopped = f"--max-states {max_states} reached"
            break
        if progress is not None and now >= next_report:
            outcome.states = len(visited)
            progress(outcome, len(queue), now - started)
            next_report = now + 1.0
        number, frozen, depth = queue.popleft()
        state = _thaw(frozen)
        options = moves(scope, state)
        if not options:
            violation = end_of_behaviour(state)
            if violation is not None:
                found(number, None, violation)
                break
            continue
        for k, move in enumerate(options):
            nxt = state if k == len(options) - 1 else _thaw(frozen)
            take_counted(nxt, move, applied)
            outcome.transitions += 1
            if nxt.checker.violations:
                found(number, move, nxt.checker.violations[0])
                break
            child = visited.add(fingerprint(nxt.key()), number, _label(move))
            if child >= 0:
                outcome.depth = max(outcome.depth, depth + 1)
                queue.append((child, nxt.freeze(), depth + 1))
        if outcome.violation is not None:
            break
    else:
        outcome.complete = True
    outcome.states = len(visited)
    outcome.seconds = time.perf_counter() - started
    outcome.table_bytes = visited.nbytes()
    outcome.applied = applied_by_name(root.checker, applied)
    return outcome


def _event_key(event: ev.Event) -> tuple[Any, ...]:
    """An event apart from its time."""
    return (event.NAME, *(v for k, v in attrs.asdict(event).items() if k != "at"))


def behaviour_trace(
    scope: Scope, start: int, path: list[tuple[Any, ...]]
) -> tuple[dict[str, Any], int]:
    """The behaviour ``path`` (its moves) from the initial state ``start`` as a
    trace of section 7: its events at the times they happen, ``until`` the
    time it ends; and its number of transitions."""
    state = initial(scope, start)
    today = scope.initial[start][1].get("api_version") == TODAY  # T1
    events: list[dict[str, Any]] = []
    for move in path:
        if move[0] == "event":
            now = state.ss.now
            event = move[2]
            fields = attrs.asdict(event)
            if isinstance(event, ev.RegenerateCredential):
                fields["expires_at"] = now + (event.expires_at - event.at)
            if isinstance(event, ev.PublishImage) and event.eligible_at is not None:
                fields["eligible_at"] = now + (event.eligible_at - event.at)  # 9.16: an offset
            fields["at"] = now
            event = type(event)(**fields)
            move = ("event", move[1], event)
            events.append(event_to_dict(event, today))
        take(state, move)
    trace = {
        "format": FORMAT,
        "scale_set": scope.initial[start][1],
        "events": events,
        "until": state.ss.now,
    }
    return trace, len(path)
