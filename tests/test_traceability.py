"""The rule index (docs/rules.toml) is whole and true: every number of the
spec (docs/SPEC.md, the repository's copy of the contract) has a home in the
code whose docstring names it, the properties and tests it lists exist, and
every test named after a number is listed under it."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from properties.rules_all import PROPERTIES, STATES
from vmss_spec.rules import (
    MANIFEST,
    SPEC,
    collect_test_names,
    load_manifest,
    named_tests,
    rule_text,
    spec_numbers,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPEC = ROOT.parent / "shared" / "SPEC.md"
TEXT = SPEC.read_text(encoding="utf-8")
NUMBERS = spec_numbers(TEXT)
RULES = load_manifest(MANIFEST)


def _resolve(home: str) -> object:
    module_name, _, qualname = home.partition(":")
    target: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def test_spec_copy_is_the_shared_contract() -> None:
    """docs/SPEC.md is byte for byte ../shared/SPEC.md whenever that exists."""
    if SHARED_SPEC.exists():
        assert SPEC.read_bytes() == SHARED_SPEC.read_bytes(), (
            "docs/SPEC.md differs from ../shared/SPEC.md: copy the shared one"
        )
    assert "## 7. Formats" in TEXT


def test_spec_numbers_are_found() -> None:
    assert {"R1", "R18", "V1", "V10", "D1", "D7a", "D16", "I1", "I12", "L1", "L2"} <= set(NUMBERS)


def test_index_lists_exactly_the_spec_numbers() -> None:
    assert sorted(RULES) == sorted(NUMBERS)


@pytest.mark.parametrize("number", NUMBERS)
def test_rule_text_is_the_spec_line(number: str) -> None:
    text = rule_text(TEXT, number)
    assert number in text and "\n" not in text


@pytest.mark.parametrize("number", NUMBERS)
def test_rule_home_exists_and_names_the_rule(number: str) -> None:
    rule = RULES[number]
    assert rule.home, f"{number} has no home in docs/rules.toml"
    for home in rule.home:
        target = _resolve(home)
        doc = inspect.getdoc(target) or ""
        assert re.search(rf"\b{number}\b", doc), f"{home}'s docstring does not name {number}"


@pytest.mark.parametrize("number", NUMBERS)
def test_rule_properties_exist(number: str) -> None:
    for name in RULES[number].properties:
        assert name in PROPERTIES, f"{number}: no property named {name}"


@pytest.mark.parametrize("name", sorted(STATES))
def test_every_property_is_indexed_under_each_number_it_states(name: str) -> None:
    """A rule property names the numbers it states (``rules``); the index lists
    it under each of them, so ``vmss-spec rules D7a`` shows who checks D7a."""
    numbers = [p.strip() for p in STATES[name].split(",") if p.strip() in RULES]
    assert numbers, f"{name} states no number of the spec"
    for number in numbers:
        assert name in RULES[number].properties, f"docs/rules.toml [{number}] lacks {name}"


@pytest.mark.parametrize("number", NUMBERS)
def test_number_names_a_test_and_the_index_lists_them(number: str) -> None:
    """Each number names a test (``test_<number>_...``), the index lists every
    test that names it, and every test it lists exists."""
    existing = {
        f"{path}::{name}" for path, names in collect_test_names(ROOT).items() for name in names
    }
    listed = set(RULES[number].tests)
    assert listed <= existing, f"{number}: no such tests {sorted(listed - existing)}"
    naming = set(named_tests(ROOT).get(number, []))
    assert naming, f"no test is named test_{number.lower()}_..."
    missing = sorted(naming - listed)
    assert not missing, f"docs/rules.toml [{number}] tests lacks: {missing}"
