"""A state you can copy (SPEC E3): a scale set, and whatever observes it, as
one canonical, hashable value with every time taken relative to the current
time, and a copy of it to go on from.

:func:`capture` takes the objects of a state (the scale set, its checker)
and returns a :class:`Snapshot`: its ``key`` is the canonical form, equal
for two states exactly when they are the same state (E3), and its
``fingerprint`` 64 bits of a hash of that form (BLAKE2b, the same in every
process). :func:`restore` gives back objects equal to the captured ones, at
the same times, ready to go on.

The canonical form is read from the objects themselves, field by field:

- an ``attrs`` class or a ``NamedTuple`` by its fields, any other object by
  its attributes, in the order they were set;
- a class says which of its attributes are not state with
  ``SNAPSHOT_SKIP`` (its configuration, its machines, what it was built
  from, caches, counters of how often something was seen) and which hold a
  time with ``SNAPSHOT_TIMES`` (attribute -> shape: :data:`T` a time or
  None, a tuple of shapes for a tuple, ``[shape]`` for each element of a
  list or set, ``{"*": shape}`` for each value of a dict), and may instead
  give the whole form itself with ``snapshot_form(encoder)`` (the clock's
  queue);
- an object met twice is written the second time as a reference to the
  first, so the form says which objects are one and the same (a
  ``NamedTuple`` is a value, written in full each time);
- sets are sorted, dicts and lists keep their order (two states that differ
  only in the order of a dict are taken as two: never the other way round).

A test holds the declarations complete: shifting every time of a trace by a
constant leaves the key of every state unchanged (tests/test_snapshot.py).

The copy is the objects' pickled form, held in memory only (never written
out, never read from outside): objects a state shares with every other state
(the configuration, the step table's rows, the lifecycle machines) are
pickled as references, so a restored scale set has the same machines and
steps, and the caches an object rebuilds on demand are left out
(``__getstate__``).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Callable, Iterable
from typing import Any

import attrs

#: the shape of an attribute holding a time (or None)
T = "t"
#: a time at or after this one stands for "never" and is kept as it is
FOREVER = 1 << 62

_ATOMS = frozenset({int, str, bool, type(None), float, bytes})


class Encoder:
    """Builds the canonical form of a state at time ``now``."""

    __slots__ = ("now", "_seen")

    def __init__(self, now: int) -> None:
        self.now = now
        self._seen: dict[int, int] = {}

    def value(self, v: Any) -> Any:
        """The canonical form of ``v`` (no times in it converted: see :meth:`time`)."""
        t = type(v)
        if t in _ATOMS:
            return v
        if t is tuple:
            return tuple(map(self.value, v))
        if t is list:
            return ("[", *map(self.value, v))
        if t is dict:
            value = self.value
            return ("{", *((value(k), value(x)) for k, x in v.items()))
        if t is set or t is frozenset:
            return ("(", *_sorted(map(self.value, v)))
        return self._object(v, t)

    def time(self, v: Any, shape: Any) -> Any:
        """``v`` with the times its ``shape`` names taken relative to now."""
        if v is None:
            return None
        if shape is None:  # not a time
            return self.value(v)
        if shape is T:
            return v - self.now if v < FOREVER else FOREVER
        if type(shape) is tuple:
            return tuple(self.time(x, s) for x, s in zip(v, shape, strict=True))
        if type(shape) is list:
            inner = shape[0]
            if type(v) in (set, frozenset):
                return ("(", *_sorted(self.time(x, inner) for x in v))
            return ("[", *(self.time(x, inner) for x in v))
        if type(shape) is dict:
            inner = shape["*"]
            return ("{", *((self.value(k), self.time(x, inner)) for k, x in v.items()))
        raise TypeError(f"unknown time shape {shape!r}")

    def _object(self, v: Any, t: type) -> Any:
        plan = _PLANS.get(t) or _plan(t)
        if not plan.immutable:
            seen = self._seen
            index = seen.get(id(v))
            if index is not None:
                return ("@", index)
            seen[id(v)] = len(seen)
        if plan.form is not None:
            return (plan.name, plan.form(v, self))
        if plan.read is not None:
            return plan.read(v, self)
        # a plain class: compiled for the attributes of the first object read
        reader = _reader(plan, tuple(_attributes(v, plan.skip)), guarded=vars(v).keys())
        object.__setattr__(plan, "read", reader)
        return reader(v, self)

    def fields(self, v: Any, plan: _Plan, names: Iterable[str]) -> tuple[Any, ...]:
        """The form of ``v`` read field by field (what a compiled reader does)."""
        times = plan.times
        out: list[Any] = [plan.name]
        for name in names:
            x = getattr(v, name)
            shape = times.get(name)
            out.append(self.value(x) if shape is None else self.time(x, shape))
        return tuple(out)


def _reader(
    plan: _Plan, names: tuple[str, ...], *, guarded: Any = None
) -> Callable[[Any, Encoder], Any]:
    """A function reading the fields ``names`` of an object of the plan's class
    into its canonical form (generated once per class: a loop over the fields
    costs twice as much). ``guarded``: the attribute names of the object it is
    made for; an object with other attributes is read by the loop instead."""
    lines = ["def read(v, enc):"]
    if guarded is not None:
        lines += [
            "    if v.__dict__.keys() != KEYS:",
            "        return enc.fields(v, PLAN, _attributes(v, SKIP))",
        ]
    lines += ["    value = enc.value", "    now = enc.now", "    return (NAME,"]
    for k, name in enumerate(names):
        shape = plan.times.get(name)
        if shape is None:
            lines.append(f"        x if (x := v.{name}).__class__ in ATOMS else value(x),")
        elif shape is T:
            lines.append(
                f"        None if (x := v.{name}) is None else x - now if x < FOREVER else FOREVER,"
            )
        else:
            lines.append(f"        enc.time(v.{name}, SHAPES[{k}]),")
    lines.append("    )")
    scope = {
        "ATOMS": _ATOMS, "FOREVER": FOREVER, "NAME": plan.name, "NAMES": names, "PLAN": plan,
        "SKIP": plan.skip, "SHAPES": [plan.times.get(n) for n in names], "_attributes": _attributes,
        "KEYS": frozenset(guarded or ()),
    }  # fmt: skip
    exec("\n".join(lines), scope)  # noqa: S102 - generated from our own class definitions
    return scope["read"]


def _sorted(items: Iterable[Any]) -> list[Any]:
    items = list(items)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _attributes(v: Any, skip: frozenset[str]) -> list[str]:
    return [name for name in vars(v) if name not in skip]


@attrs.frozen
class _Plan:
    name: str
    #: the fields to read, or None: the object's own attributes (minus skip)
    fields: tuple[str, ...] | None
    skip: frozenset[str]
    times: dict[str, Any]
    immutable: bool
    form: Callable[[Any, Encoder], Any] | None
    #: the compiled reader of its fields
    read: Callable[[Any, Encoder], Any] | None = None


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _make_plan(cls)
    return plan


def _make_plan(cls: type) -> _Plan:
    skip: set[str] = set()
    times: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # a class adds to what its bases declare
        skip.update(klass.__dict__.get("SNAPSHOT_SKIP", ()))
        times.update(klass.__dict__.get("SNAPSHOT_TIMES", {}))
    form = getattr(cls, "snapshot_form", None)
    fields: tuple[str, ...] | None
    if attrs.has(cls):
        fields = tuple(f.name for f in attrs.fields(cls) if f.name not in skip)
        immutable = False  # an attrs object is read once, then referred to
    elif issubclass(cls, tuple) and hasattr(cls, "_fields"):
        fields = tuple(f for f in cls._fields if f not in skip)  # type: ignore[attr-defined]
        immutable = True
    else:
        if form is None and not hasattr(cls, "__dict__"):
            raise TypeError(f"{cls.__qualname__} has no attributes to read and no snapshot_form")
        fields = None
        immutable = False
    plan = _Plan(cls.__qualname__, fields, frozenset(skip), times, immutable, form)
    if fields is not None and form is None:
        object.__setattr__(plan, "read", _reader(plan, fields))
    return plan


def canonical(roots: tuple[Any, ...], now: int) -> tuple[Any, ...]:
    """The canonical form of the objects ``roots`` at time ``now`` (E3)."""
    return Encoder(now).value(roots)


def fingerprint(key: Any) -> int:
    """64 bits of BLAKE2b over the canonical form (the same in every process):
    over its pickle written without a memo, so that the bytes depend on the
    values alone (two equal forms, whatever objects they share, give the same
    bytes), in a sixth of the time its ``repr`` takes."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: a value written twice is written in full twice
    pickler.dump(key)
    digest = hashlib.blake2b(buffer.getbuffer(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


#: objects every state shares, pickled as references: id -> name, name -> object
_SHARED: dict[int, str] = {}
_BY_NAME: dict[str, Any] = {}
#: type -> how the pickler writes its objects (copyreg's form, read by the C pickler)
_DISPATCH: dict[type, Callable[[Any], Any]] = {}


def share(name: str, obj: Any) -> None:
    """Have ``obj`` pickled as a reference (the same object after restore)."""
    _SHARED[id(obj)] = name
    _BY_NAME[name] = obj
    _DISPATCH[type(obj)] = _reduce_shared


def copy_with(cls: type, reducer: Callable[[Any], Any]) -> None:
    """Have the objects of ``cls`` copied with ``reducer`` (copyreg's form)."""
    _DISPATCH[cls] = reducer


def shared(name: str) -> Any:
    """The shared object called ``name`` (how a copy finds it again)."""
    return _BY_NAME[name]


def _reduce_shared(obj: Any) -> Any:
    name = _SHARED.get(id(obj))
    if name is None:  # an object of a shared type that is not itself shared
        return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    return shared, (name,)


@attrs.frozen(eq=False)
class Snapshot:
    """A captured state: its canonical ``key`` (equality and hash are the
    key's) and the copy :func:`restore` goes on from."""

    key: tuple[Any, ...]
    now: int
    frozen: bytes = attrs.field(repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def fingerprint(self) -> int:
        return fingerprint(self.key)


def freeze(roots: tuple[Any, ...]) -> bytes:
    """The copy of ``roots`` that :func:`thaw` gives back."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(roots)
    return buffer.getvalue()


def thaw(frozen: bytes) -> tuple[Any, ...]:
    """The objects :func:`freeze` copied, as new objects."""
    return pickle.loads(frozen)  # noqa: S301 - our own copy, made in this process


def capture(roots: tuple[Any, ...], now: int) -> Snapshot:
    """E3: the state made of ``roots`` at time ``now``: its key and its copy."""
    return Snapshot(canonical(roots, now), now, freeze(roots))


def restore(snapshot: Snapshot) -> tuple[Any, ...]:
    """New objects in the state ``snapshot`` captured, at the same times."""
    return thaw(snapshot.frozen)
