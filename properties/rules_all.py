"""Every rule property, in the order the checker runs them (each module
registers its own with ``@rule``)."""

from __future__ import annotations

from properties import (
    defaults,
    documents,
    rules_batches,
    rules_instances,
    rules_order,
    rules_runs,
    rules_today,
    rules_users,
)
from properties.invariants import INVARIANTS
from properties.rule import REGISTRY, Property
from properties.rules_order import StepsHappenInD12Order

#: the rule property classes, by module (D12's order last, as it looks at
#: every step): documents, batches, instances, runs, events, the order
RULES: tuple[type[Property], ...] = (
    *(cls for cls in REGISTRY if cls is not StepsHappenInD12Order),
    StepsHappenInD12Order,
)

#: every property the campaign checks, by name: the invariants and progress
#: properties of SPEC section 6, then the rule properties, with a title each
PROPERTIES: dict[str, str] = {**INVARIANTS, **{cls.name: cls.title for cls in RULES}}

#: the properties of a replayed document alone (Property.replay_only)
REPLAY_ONLY: frozenset[str] = frozenset(cls.name for cls in RULES if cls.replay_only)

#: the spec numbers each property states
STATES: dict[str, str] = {
    **{name: name for name in INVARIANTS},
    **{cls.name: cls.rules for cls in RULES},
}

__all__ = [
    "PROPERTIES",
    "REPLAY_ONLY",
    "RULES",
    "STATES",
    "defaults",
    "documents",
    "rules_batches",
    "rules_instances",
    "rules_order",
    "rules_runs",
    "rules_today",
    "rules_users",
]
