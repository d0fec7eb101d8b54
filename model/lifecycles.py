"""The two lifecycle machines (``transitions``): the instance's and the run's.

Each is one ``transitions`` Machine shared by every object of its kind in a
scale set (one for all instances, one for all runs); ``vmss-spec diagram``
draws them from these definitions.

Instance lifecycle (R3, R6, R7, R18, D8, section 4 automatic_rollback).
``ready`` means no operation is in flight::

    creating ──disk_replaced──▶ provisioning_extensions ──extensions_finished──▶ ready
    ready ──reimage──▶ reimaging ──disk_replaced──▶ provisioning_extensions
    provisioning_extensions ──await_health──▶ awaiting_health ──stop_waiting──▶ ready
    awaiting_health ──roll_back──▶ rolling_back ──restore──▶ ready
    ready ──update_model──▶ updating_model ──extensions_finished──▶ ready

Run lifecycle (R4, R5, D5-D7a)::

    pre_check ──start_batch──▶ batch_in_flight ──pause──▶ pause ──check──▶ pre_check
    pre_check | batch_in_flight ──complete──▶ Completed
    pre_check | batch_in_flight ──fault──▶ Faulted
    pre_check | batch_in_flight | pause ──cancel──▶ Cancelled

``FleetMachine`` is a ``transitions.Machine`` that keeps no list of its
models: each object holds its state and, in ``lifecycle``, its machine, so
that ``add_model`` and ``remove_model`` cost the same for the 10,000th
instance as for the first (the stock machine keeps a list: a linear
membership test on every add, a linear removal), and so that a scale set can
be copied and restored (model/snapshot.py, SPEC E3) while its machines stay
the same two objects. Its trigger methods are bound once on the model class,
and it moves a model along a legal transition by setting its state directly
when the machine has no callbacks, conditions or queue (both machines here),
as the stock trigger would. An illegal trigger still goes through
``transitions`` and raises its ``MachineError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from transitions import Machine
from transitions.core import listify

from model.instance import Instance
from model.run import Code, UpgradeRun
from model.snapshot import share

INSTANCE_STATES = [
    "ready",
    "creating",
    "reimaging",
    "provisioning_extensions",
    "awaiting_health",
    "rolling_back",
    "updating_model",
]

INSTANCE_TRANSITIONS = [
    # R3: a run's batch replaces the OS disk.
    {"trigger": "reimage", "source": "ready", "dest": "reimaging"},
    # R3, R18: the new OS disk is in place; extensions and custom data run again.
    {
        "trigger": "disk_replaced",
        "source": ["creating", "reimaging"],
        "dest": "provisioning_extensions",
    },
    # R6: with a probe, a run waits for the upgraded instance to report healthy.
    {"trigger": "await_health", "source": "provisioning_extensions", "dest": "awaiting_health"},
    {"trigger": "stop_waiting", "source": "awaiting_health", "dest": "ready"},
    # Section 4 automatic_rollback: the previous OS disk comes back.
    {"trigger": "roll_back", "source": "awaiting_health", "dest": "rolling_back"},
    {"trigger": "restore", "source": "rolling_back", "dest": "ready"},
    # D8: a model deploy re-runs extension provisioning.
    {"trigger": "update_model", "source": "ready", "dest": "updating_model"},
    {
        "trigger": "extensions_finished",
        "source": ["provisioning_extensions", "updating_model"],
        "dest": "ready",
    },
]

RUN_STATES = ["pre_check", "batch_in_flight", "pause", Code.COMPLETED, Code.FAULTED, Code.CANCELLED]

RUN_TRANSITIONS = [
    # R4: the pre-batch check passed; R5: the batch starts.
    {"trigger": "start_batch", "source": "pre_check", "dest": "batch_in_flight"},
    # D7a: the batch ended and more is pending; wait pause_time_between_batches.
    {"trigger": "pause", "source": "batch_in_flight", "dest": "pause"},
    {"trigger": "check", "source": "pause", "dest": "pre_check"},
    # D7a: nothing pending.
    {"trigger": "complete", "source": ["pre_check", "batch_in_flight"], "dest": Code.COMPLETED},
    # D5, D6: the run stops with an error.
    {"trigger": "fault", "source": ["pre_check", "batch_in_flight"], "dest": Code.FAULTED},
    # D7: cancel or opt-out, never in the middle of a batch.
    {
        "trigger": "cancel",
        "source": ["pre_check", "batch_in_flight", "pause"],
        "dest": Code.CANCELLED,
    },
]


class _NoModels:
    """The models of a FleetMachine: none kept (each object knows its machine)."""

    __slots__ = ()

    def __contains__(self, model: object) -> bool:
        return False

    def append(self, model: Any) -> None:
        pass

    def remove(self, model: Any) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0


class FleetMachine(Machine):
    """One machine for a whole fleet of models of ``model_class``.

    The trigger methods are bound once on the class (``inst.reimage()`` fires
    the machine's ``reimage`` event on ``inst``); ``add_model`` only records
    the machine in the model's ``lifecycle`` attribute and sets its initial
    state: no per-object functions and no list of models, so the models can
    be slotted, a fleet of 10,000 costs 10,000 small objects, and a copy of
    a scale set shares its machines.
    """

    def __init__(self, *args: Any, model_class: type, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.models = _NoModels()
        self.model_class = model_class
        #: trigger -> source -> dest, when the machine has nothing but moves
        self.moves = self._plain_moves()
        for trigger in self.events:
            if getattr(model_class, trigger, None) is None:  # the same for every machine
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

    def add_model(self, model: Any, initial: Any = None) -> None:
        for mod in listify(model):
            if getattr(mod, "lifecycle", None) is self:
                continue  # added already
            mod.lifecycle = self
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
    return trigger


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
    """The instance lifecycle machine, shared by all instances of a scale set
    (``machine_class`` draws it with another Machine class, for diagrams)."""
    return _lifecycle(model, INSTANCE_STATES, INSTANCE_TRANSITIONS, "ready", Instance, kwargs)


def run_machine(model: Any = None, **kwargs: Any) -> Machine:
    """The upgrade run lifecycle machine, shared by all runs of a scale set."""
    return _lifecycle(model, RUN_STATES, RUN_TRANSITIONS, "pre_check", UpgradeRun, kwargs)


_MACHINES: list[Machine] = []


def shared_machines() -> tuple[Machine, Machine]:
    """The instance and run machines every scale set uses: they keep no
    models, so one of each serves every scale set, and a copy of a scale set
    (model/snapshot.py) refers to them rather than copying them."""
    if not _MACHINES:
        _MACHINES.extend((instance_machine(), run_machine()))
        share("machine:instance", _MACHINES[0])
        share("machine:run", _MACHINES[1])
    return _MACHINES[0], _MACHINES[1]
