"""Facts are observations (model/facts.py): what reaches the property layer
is plain data, never one of the model's objects, and what the model
publishes is read as plain values or section 7's documents."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import attrs
import pytest

from model import facts
from model.facts import Published, outside
from model.replay import replay
from model.scaleset import ScaleSet
from model.trace import load_trace
from properties.checker import Checker

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.json"))

#: the model's modules whose values are plain data: the fact types, the
#: events as given and a refusal of one, the configuration as given, the
#: violations, and section 7's documents (the history view, the result)
PLAIN_MODULES = frozenset(
    {"model.facts", "model.events", "model.config", "model.trace", "model.history", "model.result"}
)
SCALARS = (int, str, bool, float, type(None))


def _plain(value: Any, where: str) -> list[str]:
    """Why ``value`` is not plain data (empty: it is)."""
    if isinstance(value, SCALARS):
        return []
    if isinstance(value, tuple):
        return [p for k, v in enumerate(value) for p in _plain(v, f"{where}[{k}]")]
    if attrs.has(type(value)) and type(value).__module__ == "model.events":
        return [p for f in attrs.fields(type(value)) for p in _plain(getattr(value, f.name), where)]
    return [f"{where}: {type(value).__module__}.{type(value).__qualname__}"]


class _Inspecting:
    """An observer that records every fact that is not plain data."""

    def __init__(self, published: Published) -> None:
        self.checker = Checker(published)
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.violations = self.checker.violations

    def __call__(self, fact: str, *args: Any) -> None:
        self.seen.add(fact)
        self.problems += _plain(args, fact)
        self.checker(fact, *args)

    def finish(self) -> None:
        self.checker.finish()


def _inspected(path: Path) -> _Inspecting:
    made: list[_Inspecting] = []

    def make(published: Published) -> _Inspecting:
        made.append(_Inspecting(published))
        return made[0]

    replay(load_trace(path), observers=[outside(make)])
    return made[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_fact_an_observer_receives_is_plain_data(path: Path) -> None:
    inspected = _inspected(path)
    assert inspected.problems == []
    assert {"begin", "event"} <= inspected.seen


def test_the_examples_carry_every_fact_that_holds_model_objects() -> None:
    """Every fact the conversion exists for is met, and converted, by some example."""
    seen: set[str] = set()
    for path in EXAMPLES:
        seen |= _inspected(path).seen
    assert set(facts.CONVERT) <= seen, set(facts.CONVERT) - seen


def _model_objects(root: Any) -> list[str]:
    """Every object reachable from ``root`` (through attributes and
    containers) whose class is the model's and not plain data."""
    found: list[str] = []
    seen: set[int] = set()
    stack = [(root, "checker")]
    while stack:
        obj, path = stack.pop()
        if id(obj) in seen or isinstance(obj, SCALARS):
            continue
        seen.add(id(obj))
        module = type(obj).__module__
        if module.startswith("model") and module not in PLAIN_MODULES:
            found.append(f"{path}: {module}.{type(obj).__qualname__}")
            continue
        if isinstance(obj, Published):
            continue  # the published answers: plain values when asked
        if isinstance(obj, types.MethodType):
            stack.append((obj.__self__, f"{path}.__self__"))
        elif isinstance(obj, dict):
            stack += [(k, f"{path} key") for k in obj]
            stack += [(v, f"{path}[{k!r}]") for k, v in obj.items()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += [(v, f"{path}[]") for v in obj]
        elif isinstance(obj, (types.FunctionType, type, types.ModuleType)):
            continue
        else:
            slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ())]
            attrs_ = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
            attrs_.update({s: getattr(obj, s) for s in slots if hasattr(obj, s)})
            stack += [(v, f"{path}.{k}") for k, v in attrs_.items()]
    return found


@pytest.mark.parametrize(
    "name", ["broken-image-rollback", "scale-out-during-run", "cancel-upgrade"]
)
def test_no_model_object_is_held_by_the_property_layer(name: str) -> None:
    """After a replay, nothing the checker, its world, its properties or its
    liveness hold is one of the model's objects (a run, a batch, an
    instance, a deploy, the scale set)."""
    inspected = _inspected(EXAMPLES[0].parent / f"{name}.json")
    assert inspected.checker.world.runs  # the walk has something to look at
    assert _model_objects(inspected.checker) == []


def test_the_walk_finds_a_model_object_when_one_is_kept() -> None:
    """The walk above can fail: a checker that kept the scale set is caught."""
    ss = ScaleSet(load_trace(EXAMPLES[0]).scale_set)
    checker = facts.observe(ss, Checker)
    checker.world.kept = ss  # type: ignore[attr-defined]
    found = _model_objects(checker)
    assert found and all(f.endswith(".kept: model.scaleset.ScaleSet") for f in found)


def test_published_answers_are_plain_values() -> None:
    """What the model publishes reaches the layer as plain values."""
    path = EXAMPLES[0].parent / "broken-image-rollback.json"
    ss = ScaleSet(load_trace(path).scale_set)
    published = Published(ss)
    for event in load_trace(path).events:
        ss.apply(event)
    ss.run_until_idle(10**9)
    answers = [
        published.now,
        published.run(1),
        published.recent_runs(2),
        published.instance(0),
        published.health(0),
        published.in_active_scope(0),
        published.latest,
        published.auto_enabled,
        published.last_activity,
    ]
    assert isinstance(answers[1], facts.RunView) and isinstance(answers[3], facts.Vm)
    assert [
        p
        for k, a in enumerate(answers)
        for p in _plain(tuple(a) if isinstance(a, list) else a, str(k))
    ] == []
