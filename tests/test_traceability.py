"""Every number of SPEC.md is referenced from the code that implements it and
from the name of a test that checks it (the developers' contract)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "SPEC.md"


def _numbers() -> list[str]:
    if not SPEC.exists():
        return []
    text = SPEC.read_text()
    found = set(re.findall(r"\*\*([RVDIL]\d+a?)\b", text))  # defined in bold
    found |= set(re.findall(r"^\| (V\d+) \|", text, re.M))  # the V table
    key = lambda n: (n[0], int(re.sub(r"\D", "", n)), n)  # noqa: E731
    return sorted(found, key=key)


def _code_text() -> str:
    return "\n".join(
        p.read_text() for d in ("model", "properties") for p in (ROOT / d).rglob("*.py")
    )


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names |= set(re.findall(r"def (test_\w+)", path.read_text()))
    return names


NUMBERS = _numbers()


def test_spec_numbers_are_found() -> None:
    if not SPEC.exists():
        pytest.skip("../shared/SPEC.md is not beside this checkout")
    assert {"R1", "R18", "V1", "V10", "D1", "D7a", "D16", "I1", "I12", "L1", "L2"} <= set(NUMBERS)


@pytest.mark.parametrize("number", NUMBERS)
def test_number_is_referenced_in_code(number: str) -> None:
    assert re.search(rf"\b{number}\b", _code_text()), f"{number} is not referenced in the code"


@pytest.mark.parametrize("number", NUMBERS)
def test_number_names_a_test(number: str) -> None:
    prefix = f"test_{number.lower()}_"
    assert any(name.startswith(prefix) for name in _test_names()), f"no test is named {prefix}..."
