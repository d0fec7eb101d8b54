"""A rule property: one rule of the spec, checked on every step where it applies.

A property is a class with a ``name`` (how tables and violations call it),
the spec numbers it states, and handlers the checker (properties/checker.py)
calls as a step unfolds:

- ``begin_<step>(arg)`` when a step of that row of the step table begins
  (``begin_publish_image(event)``, ``begin_end_of_batch(run)``), with the
  observed world as it was before the step;
- ``before_<fact>(*args)`` when the model records a fact, before the world
  takes it in (the world is still as before the fact, the model already after);
- ``after_<fact>(*args)`` once the world has taken it in;
- ``end_<step>(arg, rejection)`` when an event or an internal step that did
  something ends (``rejection`` is the Rejection of a refused event, or None);
- ``begin_event`` / ``end_event`` and ``begin_internal`` / ``end_internal``
  for every event and every internal step alike;
- ``end()`` at the end of the step, once the property asked for it with
  ``self.due()`` during the step (a property with nothing pending costs
  nothing at the end of a step);
- ``tick()`` whenever time may have passed without a step (at the end of each
  step of the property machine, and of a replay);
- ``start()`` once, when the checker is attached, and ``finish()`` at the end
  of an example or a replay.

A property counts its ``applications``: the steps on which its rule applied
(a publication for the rule of publications, a batch for the rule of batch
choice), so that a campaign can tell a rule that held from one that was
never put to the test (``guard`` checks a clause without counting it).
``fail(message)`` reports a violation, and
``sometimes(boundary)`` says that the step sat on one of the spec's edges
(properties/coverage.py BOUNDARIES), which a campaign must reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from properties.checker import Checker

#: every rule property class, in the order the checker runs them
REGISTRY: list[type[Property]] = []


class Property:
    """Base of the rule properties (see the module doc)."""

    name: ClassVar[str]
    rules: ClassVar[str]
    title: ClassVar[str]
    #: a rule of a replayed trace document only (section 7's ``until``): the
    #: campaign's examples are drawn, not read, so it applies in replay (every
    #: example, tests/test_examples_*.py) and is not required to in a campaign
    replay_only: ClassVar[bool] = False

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.world = checker.world
        #: what the model publishes (model/facts.py Published)
        self.published = checker.published
        self.applications = 0

    def due(self) -> None:
        """Have ``end()`` called at the end of the current step."""
        self.checker.due(self)

    def fail(self, message: str) -> None:
        self.checker.report(self.name, message)

    def sometimes(self, boundary: str) -> None:
        """A boundary of the spec was reached on this step (Stateright's
        ``sometimes``: the campaign must see each of coverage.BOUNDARIES)."""
        self.checker.reached.add(boundary)

    def check(self, ok: bool, message: Any) -> None:
        """One application of the rule: fail with ``message()`` (or the text)
        unless ``ok``."""
        self.applications += 1
        if not ok:
            self.fail(message() if callable(message) else message)

    def guard(self, ok: bool, message: Any) -> None:
        """A clause that holds by construction more often than not (a first
        pre-batch check at the run's start): fails like :meth:`check`, but
        is not counted as an application of the rule."""
        if not ok:
            self.fail(message() if callable(message) else message)


def rule(cls: type[Property]) -> type[Property]:
    """Register a rule property class."""
    REGISTRY.append(cls)
    return cls
