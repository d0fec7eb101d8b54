"""`vmss-spec check --workers N`: the breadth-first search of
properties/explore.py split between N processes, each owning the states
whose fingerprint is its number modulo N.

The search goes level by level (all states at one depth, then the next), so
that the first violation is still one of a shortest behaviour. At each level
every worker expands the states it owns: a successor it owns goes straight
into its own next level (if its table has not seen it); one another worker
owns goes, with its copy and the behaviour that reached it, to that worker
through the coordinator, which checks the caps, prints progress and stops
everyone at the first violation. Each state carries the moves of the
behaviour that reached it, so no worker needs another's parent pointers.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from typing import Any

from model.snapshot import fingerprint
from model.trace import Violation
from properties.explore import (
    Outcome,
    Visited,
    _applications,
    _thaw,
    applied_by_name,
    behaviour_trace,
    end_of_behaviour,
    initial,
    moves,
    share_configs,
    take_counted,
)
from properties.scope import Scope

DRIVER = True  # it builds, drives and copies scale sets

#: a state to expand: its copy, the initial state it comes from, its moves
Item = tuple[bytes, int, tuple[Any, ...]]


def _worker(scope: Scope, me: int, count: int, conn: Any) -> None:
    """One worker: its share of the fingerprints and its part of each level."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides
    share_configs(scope)
    visited = Visited()
    frontier: list[Item] = []
    applied: list[int] | None = None
    transitions = 0
    while True:
        command, payload = conn.recv()
        if command == "stop":
            conn.send((len(visited), transitions, applied, visited.nbytes()))
            return
        if command == "take":  # the states of the next level others found
            for fp, item in payload:
                if visited.add(fp, -1, 0) >= 0:
                    frontier.append(item)
            conn.send(len(frontier))
            continue
        # "expand": every state of this level
        out: list[list[tuple[int, Item]]] = [[] for _ in range(count)]
        found: tuple[Violation, int, tuple[Any, ...]] | None = None
        level, frontier = frontier, []
        for frozen, start, path in level:
            state = _thaw(frozen)
            if applied is None:
                applied = [0] * len(_applications(state.checker))
            options = moves(scope, state)
            if not options:
                violation = end_of_behaviour(state)
                if violation is not None:
                    found = (violation, start, path)
                    break
                continue
            for k, move in enumerate(options):
                nxt = state if k == len(options) - 1 else _thaw(frozen)
                take_counted(nxt, move, applied)
                transitions += 1
                if nxt.checker.violations:
                    found = (nxt.checker.violations[0], start, (*path, move))
                    break
                fp = fingerprint(nxt.key())
                owner = fp % count
                if owner == me:
                    if visited.add(fp, -1, 0) >= 0:
                        frontier.append((nxt.freeze(), start, (*path, move)))
                else:
                    out[owner].append((fp, (nxt.freeze(), start, (*path, move))))
            if found is not None:
                break
        conn.send((out, found, len(visited), transitions))


def explore_parallel(
    scope: Scope,
    workers: int,
    *,
    max_states: int | None = None,
    duration: float | None = None,
    progress: Callable[[Outcome, int, float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Outcome:
    """:func:`properties.explore.explore` with ``workers`` processes."""
    started = time.perf_counter()
    outcome = Outcome(scope.name)
    share_configs(scope)
    seeds: list[list[tuple[int, Item]]] = [[] for _ in range(workers)]
    for k in range(len(scope.initial)):
        root = initial(scope, k)
        fp = fingerprint(root.key())
        seeds[fp % workers].append((fp, (root.freeze(), k, ())))
    # the workers start from this process as it is now (fork): the same
    # shared objects (machines, configurations) under the same names
    context = multiprocessing.get_context("fork")
    conns, procs = [], []
    for me in range(workers):
        ours, theirs = context.Pipe()
        proc = context.Process(target=_worker, args=(scope, me, workers, theirs), daemon=True)
        proc.start()
        conns.append(ours)
        procs.append(proc)
    try:
        pending = _hand_out(conns, seeds)
        depth = 0
        while pending:
            now = time.perf_counter()
            if stop is not None and stop():
                outcome.stopped = "interrupted"
                break
            if duration is not None and now - started >= duration:
                outcome.stopped = f"--duration {duration:g} s reached"
                break
            if max_states is not None and outcome.states >= max_states:
                outcome.stopped = f"--max-states {max_states} reached"
                break
            for conn in conns:
                conn.send(("expand", None))
            buckets: list[list[tuple[int, Item]]] = [[] for _ in range(workers)]
            found = None
            outcome.states = outcome.transitions = 0
            for conn in conns:
                out, violation, states, transitions = conn.recv()
                outcome.states += states
                outcome.transitions += transitions
                for owner, items in enumerate(out):
                    buckets[owner].extend(items)
                if violation is not None and found is None:
                    found = violation
            if found is not None:
                violation, start, path = found
                outcome.violation = violation
                outcome.counterexample, outcome.counterexample_length = behaviour_trace(
                    scope, start, list(path)
                )
                break
            pending = _hand_out(conns, buckets)
            if pending:
                depth += 1
                outcome.depth = depth
            if progress is not None:
                progress(outcome, pending, time.perf_counter() - started)
        else:
            outcome.complete = True
    finally:
        totals: list[int] = []
        outcome.states = outcome.transitions = outcome.table_bytes = 0
        for conn in conns:
            conn.send(("stop", None))
            states, transitions, applied, nbytes = conn.recv()
            outcome.states += states
            outcome.transitions += transitions
            outcome.table_bytes += nbytes
            if applied is not None:
                totals = (
                    applied if not totals else [a + b for a, b in zip(totals, applied, strict=True)]
                )
        for proc in procs:
            proc.join()
    outcome.applied = applied_by_name(root.checker, totals)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _hand_out(conns: list[Any], buckets: list[list[tuple[int, Item]]]) -> int:
    """Give each worker the states others found for it; how many the next level holds."""
    for conn, items in zip(conns, buckets, strict=True):
        conn.send(("take", items))
    return sum(conn.recv() for conn in conns)
