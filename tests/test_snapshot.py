"""E3: a state you can copy. The scale set with its checker is captured as a
canonical value (model/snapshot.py) and restored from it; a replay goes on
from a restored state exactly as it would have; and shifting every time of
a trace by a constant shifts the result and nothing else."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

import model
import properties.memory  # noqa: F401 - the property layer's E3 declarations
from model.events import PublishImage, RegenerateCredential
from model.facts import observe
from model.result import result_of
from model.scaleset import ScaleSet
from model.snapshot import capture, restore
from model.trace import Trace, result_to_json
from properties.checker import Checker
from tests.example_support import EXAMPLES

TRACES = sorted(p.name for p in EXAMPLES.glob("*.json"))


def _start(trace: Trace) -> tuple[ScaleSet, Checker]:
    ss = ScaleSet(trace.scale_set)
    return ss, observe(ss, Checker)


def _end(ss: ScaleSet, checker: Checker, trace: Trace) -> dict[str, Any]:
    final = trace.until if trace.until is not None else ss.now
    ss.advance(final)
    checker.finish()
    return json.loads(result_to_json(result_of(ss, checker.violations)))


def _whole(trace: Trace) -> dict[str, Any]:
    ss, checker = _start(trace)
    for event in trace.events:
        ss.apply(event)
    return _end(ss, checker, trace)


@pytest.mark.parametrize("name", TRACES)
def test_e3_restore_then_snapshot_is_the_same_value(name: str) -> None:
    trace = model.load_trace(EXAMPLES / name)
    ss, checker = _start(trace)
    for event in trace.events:
        ss.apply(event)
        snap = capture((ss, checker), ss.now)
        again = capture(restore(snap), ss.now)
        assert again == snap and again.key == snap.key
        assert again.fingerprint == snap.fingerprint
        assert hash(again) == hash(snap)


@pytest.mark.parametrize("name", TRACES)
def test_e3_replay_continued_from_a_restored_state_ends_as_the_uninterrupted_one(
    name: str,
) -> None:
    trace = model.load_trace(EXAMPLES / name)
    whole = _whole(trace)
    for cut in range(len(trace.events) + 1):
        ss, checker = _start(trace)
        for event in trace.events[:cut]:
            ss.apply(event)
        ss, checker = restore(capture((ss, checker), ss.now))
        for event in trace.events[cut:]:
            ss.apply(event)
        assert _end(ss, checker, trace) == whole, f"restored after {cut} events"


def test_e3_a_copy_is_independent_of_its_original() -> None:
    trace = model.load_trace(EXAMPLES / "rolling-upgrade-10.json")
    ss, checker = _start(trace)
    ss.apply(trace.events[0])
    snap = capture((ss, checker), ss.now)
    copy_ss, copy_checker = restore(snap)
    copy_ss.advance(copy_ss.now + 10_000)
    assert capture((ss, checker), ss.now) == snap  # the original did not move
    assert copy_ss.instance_machine is ss.instance_machine  # the machines are shared
    assert copy_checker.world is not checker.world


def _shift(trace: Trace, d: int) -> Trace:
    """Every time of ``trace`` later by ``d``, the epoch earlier by ``d`` (so
    that the history's dates are the same)."""
    config = trace.scale_set
    credentials = {
        name: attrs.evolve(c, expires_at=c.expires_at + d) for name, c in config.credentials.items()
    }
    from datetime import datetime, timedelta

    epoch = (datetime.fromisoformat(config.epoch) - timedelta(seconds=d)).isoformat()
    config = attrs.evolve(config, credentials=credentials, epoch=epoch)
    assert trace.events, "every example has events"
    events = []
    for event in trace.events:
        event = attrs.evolve(event, at=event.at + d)
        if isinstance(event, RegenerateCredential):
            event = attrs.evolve(event, expires_at=event.expires_at + d)
        if isinstance(event, PublishImage) and event.eligible_at is not None:
            event = attrs.evolve(event, eligible_at=event.eligible_at + d)  # T17
        events.append(event)
    until = None if trace.until is None else trace.until + d
    return attrs.evolve(trace, scale_set=config, events=tuple(events), until=until)


def _unshift(doc: dict[str, Any], d: int) -> dict[str, Any]:
    """A result document with the times of ``_shift`` taken back by ``d``."""
    doc = json.loads(json.dumps(doc))
    doc["time"] -= d
    for run in doc["runs"]:
        run["start"] -= d
        run["end"] = None if run["end"] is None else run["end"] - d
        for batch in run["batches"]:
            batch["start"] -= d
            batch["end"] = None if batch["end"] is None else batch["end"] - d
    for item in doc["rejected"] + doc["violations"]:
        if item["at"] > 0:
            item["at"] -= d
    return doc


#: T18: a first-rollout delay counted from time 0 (opted in from the start) is
#: not a time of the trace's events: shifting them moves them past the delay
SHIFTABLE = [
    name
    for name in TRACES
    if not (
        (c := model.load_trace(EXAMPLES / name).scale_set).first_rollout_delay_seconds
        and c.automatic_os_upgrade
    )
]


@pytest.mark.parametrize("name", SHIFTABLE)
def test_e3_shifting_every_time_shifts_the_result_and_nothing_else(name: str) -> None:
    trace = model.load_trace(EXAMPLES / name)
    d = 86_400 * 3 + 7
    assert _unshift(_whole(_shift(trace, d)), d) == _whole(trace)


def test_e3_a_fingerprint_depends_on_the_values_of_the_form_alone() -> None:
    """Two equal canonical forms give the same fingerprint whatever objects
    they share (one string written twice, or two equal strings); forms that
    differ in one value, or in the order of their items, do not."""
    from model.snapshot import fingerprint

    word = "".join(["pend", "ing"])
    again = "".join(["pen", "ding"])
    assert word == again and word is not again
    shared, apart = ("run", word, (word, 1)), ("run", word, (again, 1))
    assert fingerprint(shared) == fingerprint(apart)
    assert fingerprint(("run", word, (word, 2))) != fingerprint(shared)
    assert fingerprint(("run", (word, 1), word)) != fingerprint(shared)
    assert fingerprint((1, None, True, -3, 2**70, 0.5, b"x")) == fingerprint(
        (1, None, True, -3, 2**70, 0.5, b"x")
    )
