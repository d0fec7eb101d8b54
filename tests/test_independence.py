"""Issue 8, "Independent of the model": the property layer derives its expected
answers itself. A module of ``properties/`` that states rules may share the
model's data types and constants (events, instance and run types, codes) and
the trace format it checks, but never imports a model function that computes
an answer (the health predicate, the version order, the cap and the limit,
the batch choice, the start conditions, the end-of-batch decision, the
scale-in choice, progress, the history view), and never asks the scale set
for one of those answers to derive its own expectation."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: the modules that state what must hold (the machine's plumbing, generation
#: and the mutants drive the model and are not statements of the spec)
STATING = (
    "checker",
    "documents",
    "expect",
    "invariants",
    "liveness",
    "observed",
    "rule",
    "rules_all",
    "rules_batches",
    "rules_instances",
    "rules_runs",
    "rules_users",
)

#: model functions a property may call: the trace format under test (V9/V10
#: refusals are the loader's answer, judged by documents.py) and conversion
ALLOWED_FUNCTIONS = {
    "parse_trace",
    "load_trace_text",
    "trace_to_dict",
    "trace_to_json",
    "result_to_json",
}

#: the scale set's answers a property must not borrow; ``health_is_r7`` alone
#: calls ``is_healthy``, to compare the model's answer with its own
BORROWED = {
    "is_healthy": {"rules_instances"},
    "probe_ok": set(),
    "count_unhealthy": set(),
    "provisioning_fails": set(),
    "below_latest": set(),
    "unhealthy_limit": set(),
    "batch_cap": set(),
    "choose_batch": set(),
    "run_target": set(),
    "platform_run_allowed": set(),
    "version_key": set(),
}


def _model_imports(tree: ast.Module) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("model"):
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "*") for a in node.names if a.name.startswith("model")]
    return found


@pytest.mark.parametrize("name", STATING)
def test_property_modules_import_no_model_function_that_computes_an_answer(name: str) -> None:
    """Types, enumerations and constants may be shared; functions may not."""
    path = ROOT / "properties" / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for module, imported in _model_imports(tree):
        if imported == "*":
            bad.append(f"import {module}")
            continue
        obj = getattr(importlib.import_module(module), imported)
        if inspect.isclass(obj) or not callable(obj) or imported in ALLOWED_FUNCTIONS:
            continue
        bad.append(f"from {module} import {imported}")
    assert not bad, f"properties/{name}.py borrows the model's answers: {bad}"


@pytest.mark.parametrize("name", STATING)
def test_property_modules_do_not_ask_the_scale_set_for_an_answer(name: str) -> None:
    """No ``ss.is_healthy(...)``, ``ss.count_unhealthy()``... outside the one
    property that compares the model's health predicate with its own. (The
    observed world's own ``world.probe_ok`` / ``world.healthy`` are allowed.)"""
    path = ROOT / "properties" / f"{name}.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr = node.func.attr
        if attr not in BORROWED or name in BORROWED[attr]:
            continue
        owner = ast.unparse(node.func.value)
        if owner in ("world", "self.world", "self", "inv", "expect"):  # its own
            continue
        bad.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not bad, f"properties/{name}.py asks the model: {bad}"


def test_the_independence_check_catches_a_borrowed_answer(tmp_path) -> None:
    """The check itself can fail: a module importing the model's batch cap and
    calling ``ss.count_unhealthy()`` is reported by both scans."""
    source = (
        "from model.actors.orchestrator import batch_cap\n"
        "def f(ss):\n    return ss.count_unhealthy() <= batch_cap(ss, 10)\n"
    )
    tree = ast.parse(source)
    imported = _model_imports(tree)
    assert imported == [("model.actors.orchestrator", "batch_cap")]
    obj = getattr(importlib.import_module(imported[0][0]), imported[0][1])
    assert callable(obj) and not inspect.isclass(obj)
    calls = [
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    ]
    assert "count_unhealthy" in calls and "count_unhealthy" in BORROWED
