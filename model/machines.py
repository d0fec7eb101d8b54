"""The two lifecycle machines (``transitions``), each shared by every object
of its kind in a scale set: one Machine for all instances, one for all runs.

``FleetMachine`` is a ``transitions.Machine`` whose ``add_model`` and
``remove_model`` cost the same for the 10,000th instance as for the first:
the stock machine keeps its models in a list (a linear membership test on
every add, a linear removal) and binds an ``is_<state>`` and a
``may_<trigger>`` function per state and trigger to every model. Here the
models live in an insertion-ordered dict, and only the trigger methods the
model actions call are bound, once per class. Triggering, guards on legal transitions
(``MachineError``) and diagrams are the stock ones, with one shortcut: a
machine with no callbacks, conditions or queue (both machines here) moves a
model along a legal transition by setting its state directly, as the stock
trigger would, without building the event data that callbacks would see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from transitions import Machine
from transitions.core import listify

from model.instance import INSTANCE_STATES, INSTANCE_TRANSITIONS, Instance
from model.run import RUN_STATES, RUN_TRANSITIONS, UpgradeRun


class _Models:
    """A list-like set of models: O(1) membership, append and removal."""

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[int, Any] = {}

    def __contains__(self, model: object) -> bool:
        return id(model) in self._by_id

    def append(self, model: Any) -> None:
        self._by_id[id(model)] = model

    def remove(self, model: Any) -> None:
        del self._by_id[id(model)]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, index: int) -> Any:
        return list(self._by_id.values())[index]


class FleetMachine(Machine):
    """One machine for a whole fleet of models (``add_model`` per object).

    With ``model_class``, the trigger methods are bound once on the class
    (``inst.reimage()`` fires the machine's ``reimage`` event on ``inst``) and
    ``add_model`` only records the machine in the model's ``lifecycle``
    attribute and sets its initial state: no per-object functions, so the
    models can be slotted and a fleet of 10,000 costs 10,000 small objects.
    """

    def __init__(self, *args: Any, model_class: type | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        models = self.models
        self.models = _Models()
        for model in models:
            self.models.append(model)
        self.model_class = model_class
        #: trigger -> source -> dest, when the machine has nothing but moves
        self.moves = self._plain_moves()
        if model_class is not None:
            for trigger in self.events:
                current = getattr(model_class, trigger, None)
                if current is None:  # bound once: a fleet trigger is the same for every machine
                    setattr(model_class, trigger, _class_trigger(trigger))

    def _plain_moves(self) -> dict[str, dict[str, str]] | None:
        """Each trigger's legal moves, if firing one only changes the state: no
        callbacks on the machine, its states or transitions, no conditions, no
        queue, no internal transitions, states stored in ``state``; else None."""
        callbacks = (
            self.prepare_event,
            self.before_state_change,
            self.after_state_change,
            self.finalize_event,
            self.on_exception,
            self.on_final,
        )
        if self.has_queue or self.model_attribute != "state" or any(callbacks):
            return None
        for state in self.states.values():
            if state.on_enter or state.on_exit or state.value != state.name:
                return None
        moves: dict[str, dict[str, str]] = {}
        for name, event in self.events.items():
            table = moves[name] = {}
            for source, transitions in event.transitions.items():
                for t in transitions:
                    if t.prepare or t.conditions or t.before or t.after or t.dest is None:
                        return None
                table[source] = transitions[0].dest
        return moves

    def add_states(self, *args: Any, **kwargs: Any) -> None:
        super().add_states(*args, **kwargs)
        self.moves = None  # built at the end of __init__; added later: stock triggers

    def add_transition(self, *args: Any, **kwargs: Any) -> None:
        super().add_transition(*args, **kwargs)
        self.moves = None  # built at the end of __init__; added later: stock triggers

    def add_model(self, model: Any, initial: Any = None) -> None:
        for mod in listify(model):
            mod = self if mod is self.self_literal else mod
            if mod in self.models:
                continue
            if self.model_class is not None and isinstance(mod, self.model_class):
                mod.lifecycle = self
            else:
                for trigger, event in self.events.items():
                    setattr(mod, trigger, _Trigger(event, mod))
            self.set_state(initial if initial is not None else self.initial, model=mod)
            self.models.append(mod)


def _class_trigger(name: str) -> Callable[..., bool]:
    def trigger(self: Any, *args: Any, **kwargs: Any) -> bool:
        machine = self.lifecycle
        if machine.moves is not None:
            dest = machine.moves[name].get(self.state)
            if dest is not None:
                self.state = dest  # what the stock trigger does when there is nothing else
                return True
        return machine.events[name].trigger(self, *args, **kwargs)

    trigger.__name__ = trigger.__qualname__ = name
    trigger.__doc__ = f"Fire the lifecycle trigger {name!r} on this object."
    trigger._fleet_trigger = True  # type: ignore[attr-defined]
    return trigger


class _Trigger:
    """A bound trigger (cheaper to build than functools.partial of Event.trigger)."""

    __slots__ = ("event", "model")

    def __init__(self, event: Any, model: Any) -> None:
        self.event = event
        self.model = model

    def __call__(self, *args: Any, **kwargs: Any) -> bool:
        return self.event.trigger(self.model, *args, **kwargs)


def _lifecycle(
    model: Any,
    states: list[str],
    transitions: list[dict[str, Any]],
    initial: str,
    model_class: type,
    kwargs: dict[str, Any],
) -> Machine:
    cls = kwargs.pop("machine_class", FleetMachine)
    if cls is FleetMachine:
        kwargs["model_class"] = model_class
    return cls(
        model=model,
        states=states,
        transitions=transitions,
        initial=initial,
        auto_transitions=False,
        **kwargs,
    )


def instance_machine(model: Any = None, **kwargs: Any) -> Machine:
    """The instance lifecycle machine (model/instance.py), shared by all instances."""
    return _lifecycle(model, INSTANCE_STATES, INSTANCE_TRANSITIONS, "ready", Instance, kwargs)


def run_machine(model: Any = None, **kwargs: Any) -> Machine:
    """The upgrade run lifecycle machine (model/run.py), shared by all runs."""
    return _lifecycle(model, RUN_STATES, RUN_TRANSITIONS, "pre_check", UpgradeRun, kwargs)
