"""The rule index: from a sentence of the spec to its code, and back.

``docs/rules.toml`` maps every R, V, D, I and L number of docs/SPEC.md to its
home (``module:function``, where the model implements it), the properties
that check it (by name, as ``vmss-spec verify`` lists them) and the tests
that name it (``tests/file.py::test_name``). tests/test_traceability.py
keeps the index whole and true; ``vmss-spec rules [NUMBER]`` prints it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "SPEC.md"
MANIFEST = ROOT / "docs" / "rules.toml"

_NUMBER = re.compile(r"(?:T[DVWI]?|[RVDILE])\d+a?")


@attrs.frozen
class Rule:
    """One number of the spec and where it lives."""

    number: str
    home: tuple[str, ...]
    properties: tuple[str, ...]
    tests: tuple[str, ...]


_FAMILIES = ("R", "V", "D", "I", "L", "E", "T", "TD", "TV", "TW", "TI")


def number_key(number: str) -> tuple[int, int, str]:
    """The spec's order: R, V, D, I, L, E, then section 9's T, TD, TV, TW, TI,
    then by number (D7 before D7a before D8)."""
    family = re.match(r"[A-Z]+", number).group(0)  # type: ignore[union-attr]
    return (_FAMILIES.index(family), int(re.sub(r"\D", "", number)), number)


def spec_numbers(text: str) -> list[str]:
    """Every number the spec defines: in bold at its definition, or a row of the
    V table."""
    found = set(re.findall(r"\*\*((?:T[DVWI]?|[RVDILE])\d+a?)\b", text))
    found |= set(re.findall(r"\*\*T\d+ / (TD\d+)\b", text))  # section 9: "T64 / TD30"
    found |= set(re.findall(r"^\| ((?:TV|V)\d+) \|", text, re.M))
    return sorted(found, key=number_key)


def rule_text(text: str, number: str) -> str:
    """The spec's own words for ``number``: its bullet (R, D, I, L) or its row
    of the V table, on one line."""
    if number.startswith(("V", "TV")):
        match = re.search(rf"^\| {number} \|.*$", text, re.M)
    else:
        match = re.search(rf"^- \*\*(?:T\d+ / )?{number}\b.*?(?=^- |^\S|^$|\Z)", text, re.M | re.S)
    if match is None:
        raise KeyError(number)
    return " ".join(match.group(0).split())


def load_manifest(path: Path = MANIFEST) -> dict[str, Rule]:
    """The index, by number."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        number: Rule(
            number,
            tuple(entry.get("home", ())),
            tuple(entry.get("properties", ())),
            tuple(entry.get("tests", ())),
        )
        for number, entry in data.items()
    }


def collect_test_names(root: Path = ROOT) -> dict[str, list[str]]:
    """Every test function of tests/ as ``tests/file.py::name``, by file."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.append(node.name)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                names += [
                    f"{node.name}::{item.name}"
                    for item in node.body
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test_")
                ]
        found[path.relative_to(root).as_posix()] = names
    return found


def numbers_named(test_name: str) -> list[str]:
    """The spec numbers a test's name starts with: ``test_r18_d9_d1_scale_out``
    names R18, D9 and D1."""
    named = []
    for token in test_name.split("::")[-1].removeprefix("test_").split("_"):
        if not _NUMBER.fullmatch(token.upper().replace("A", "a")):
            break
        named.append(token.upper().replace("A", "a"))
    return named


def named_tests(root: Path = ROOT) -> dict[str, list[str]]:
    """For each spec number, the tests whose names name it."""
    by_number: dict[str, list[str]] = {}
    for path, names in collect_test_names(root).items():
        for name in names:
            for number in numbers_named(name):
                by_number.setdefault(number, []).append(f"{path}::{name}")
    return by_number


def format_rule(number: str, spec_text: str, rule: Rule) -> str:
    """What ``vmss-spec rules NUMBER`` prints."""
    lines = [rule_text(spec_text, number), ""]
    lines.append("home:       " + (", ".join(rule.home) or "-"))
    lines.append("properties: " + (", ".join(rule.properties) or "-"))
    lines.append(f"tests ({len(rule.tests)}):")
    lines += [f"  {t}" for t in rule.tests]
    return "\n".join(lines) + "\n"


def format_index(spec_text: str, rules: dict[str, Rule]) -> str:
    """What ``vmss-spec rules`` prints: a line per number."""
    lines = []
    for number in spec_numbers(spec_text):
        rule = rules.get(number)
        text = rule_text(spec_text, number)
        title = re.sub(r"^- \*\*\w+ ([^*]*?)\.?\*\*.*$", r"\1", text)
        if number.startswith("V"):
            title = text.split("|")[3].strip()
        home = rule.home[0] if rule and rule.home else "-"
        props = ", ".join(rule.properties) if rule else "-"
        tests = len(rule.tests) if rule else 0
        lines.append(f"{number:<4} {title[:46]:<46} {home:<48} {props or '-':<14} {tests} tests")
    return "\n".join(lines) + "\n"
