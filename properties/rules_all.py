"""Every rule property, in the order the checker runs them (each module
registers its own with ``@rule``)."""

from __future__ import annotations

from properties import documents, rules_batches, rules_instances, rules_runs, rules_users
from properties.invariants import INVARIANTS
from properties.rule import REGISTRY, Property

#: the rule property classes, by module: runs, batches, instances, events, documents
RULES: tuple[type[Property], ...] = tuple(REGISTRY)

#: every property the campaign checks, by name: the invariants and progress
#: properties of SPEC section 6, then the rule properties, with a title each
PROPERTIES: dict[str, str] = {**INVARIANTS, **{cls.name: cls.title for cls in RULES}}

#: the spec numbers each property states
STATES: dict[str, str] = {
    **{name: name for name in INVARIANTS},
    **{cls.name: cls.rules for cls in RULES},
}

__all__ = [
    "PROPERTIES",
    "RULES",
    "STATES",
    "documents",
    "rules_batches",
    "rules_instances",
    "rules_runs",
    "rules_users",
]
