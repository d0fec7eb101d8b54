"""The property layer derives its answers itself and takes from the model only
plain observations and the published answers it compares (the scan is in
tests/independence.py): every module under properties/ is scanned, and
each way around the scan that a borrowing module could take is shown to be
reported."""

from __future__ import annotations

import pytest

from tests.independence import (
    COMPARED,
    OBSERVED,
    drivers,
    model_only,
    module_names,
    scan,
    scan_module,
)

STATING = [name for name in module_names() if name not in drivers()]


@pytest.mark.parametrize("name", STATING)
def test_stating_module_takes_only_observations_from_the_model(name: str) -> None:
    assert scan_module(name) == [], f"properties/{name}.py borrows from the model"


def test_every_module_is_scanned_or_says_it_drives_the_model() -> None:
    """The list is the directory, not one kept by hand; the drivers are the
    campaign's and the exhaustive check's own plumbing and say so."""
    assert {"checker", "observed", "rules_runs", "invariants", "liveness"} <= set(STATING)
    assert drivers() == {
        "actions",
        "actions_documents",
        "advances",
        "campaign",
        "counterexample",
        "explore",
        "explore_workers",
        "generation",
        "machine",
        "memory",
        "mutants",
        "mutants_runs",
        "mutants_today",
        "mutants_world",
        "scope",
        "selfcheck",
    }


def test_the_decisions_of_the_model_are_model_only_names() -> None:
    """The layer keeps its own records under names of their own, so that the
    model's decisions can be told from them by name."""
    for name in ("cancel_requested", "outcomes", "status", "choose_batch", "is_healthy"):
        assert name in model_only(), name
        assert name not in OBSERVED
    assert "history" in model_only() and COMPARED["history"] == {"checker"}


# ------------------------------------------------------------------ bypasses
def test_a_model_function_imported_is_reported() -> None:
    assert scan("from model.actors.orchestrator import choose_batch\n", "rules_batches")


def test_a_model_function_imported_under_an_alias_is_reported() -> None:
    source = "from model.actors.orchestrator import choose_batch as pick\nx = pick\n"
    assert scan(source, "rules_batches") == [
        "line 1: from model.actors.orchestrator import choose_batch"
    ]


def test_a_model_module_imported_is_reported() -> None:
    assert scan("from model.actors import user\n", "rules_users")
    assert scan("import model.actors.user as u\n", "rules_users")


def test_getattr_on_the_scale_set_is_reported() -> None:
    source = "def f(ss):\n    return getattr(ss, 'choose_' + 'batch')(3)\n"
    assert "line 2: getattr" in scan(source, "rules_batches")


def test_reflection_modules_are_reported() -> None:
    assert scan("import importlib\n", "rules_runs")
    assert scan("from operator import attrgetter\n", "rules_runs")
    assert scan("def f(o):\n    return vars(o)\n", "rules_runs")


def test_a_model_predicate_passed_to_map_is_reported() -> None:
    """Not a call, a reference: ``map(ss.is_healthy, ...)`` is reported in
    every module (no property reaches the scale set), and the published
    health only outside the one property that compares it."""
    source = "def f(ss):\n    return sum(map(ss.is_healthy, ss.instances.values()))\n"
    assert scan(source, "rules_batches") == ["line 2: ss.is_healthy", "line 2: ss.instances"]
    assert scan(source, "rules_instances") == ["line 2: ss.is_healthy", "line 2: ss.instances"]
    published = "def f(self, ids):\n    return list(map(self.published.health, ids))\n"
    assert scan(published, "rules_batches") == ["line 2: self.published.health"]
    assert scan(published, "rules_instances") == []


def test_an_unlisted_scale_set_call_is_reported() -> None:
    source = "def f(ss, run):\n    return ss.history(), run.progress(), ss.count_unhealthy()\n"
    found = scan(source, "rules_users")
    assert found == ["line 2: ss.history", "line 2: run.progress", "line 2: ss.count_unhealthy"]


def test_a_model_attribute_read_is_reported() -> None:
    source = "def f(run, outcome):\n    return run.cancel_requested, outcome.status\n"
    assert scan(source, "rules_batches") == [
        "line 2: run.cancel_requested",
        "line 2: outcome.status",
    ]


def test_importing_a_driver_is_reported() -> None:
    assert scan("from properties.machine import UpgradeMachine\n", "rules_runs")
