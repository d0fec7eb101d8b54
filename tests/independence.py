"""The scan behind tests/test_independence.py: what a module of the property
layer may take from the model.

Every module under ``properties/`` states the spec, except those that say
``DRIVER = True`` (they drive the model: the campaign's machine, its actions,
generation, the broken variants). A stating module may import from
``model/`` only classes (data types, enumerations), constants and the trace
format's own loader and converters; it may not import a driver; it may use
no reflection (``getattr`` and its kin, ``importlib``, ``inspect``,
``operator``) except on the layer's own objects; and it may name an
attribute that only the model's classes define only if that attribute is a
plain observation (an id, a time, a disk, a version, a state, a field of the
configuration or of an event as given) or, in the modules listed, the
published answer that module compares with its own (the health the model
reports, the history view, the progress counts, a member's outcome...).
Anything else (``ss.choose_batch``, ``run.progress()`` outside the progress
check, ``outcome.status`` outside the rule of health waits) is reported.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from functools import cache
from pathlib import Path

import attrs

import model.config as model_config
import model.events as model_events
from model import facts

ROOT = Path(__file__).resolve().parent.parent
PROPERTIES = ROOT / "properties"
MODEL = ROOT / "model"

#: model functions a stating module may import: the trace format under test
#: (V9 and V10 refusals are the loader's answer, judged by documents.py) and
#: the result as written (the document a user reads, which documents.py checks)
ALLOWED_FUNCTIONS = frozenset(
    {"load_trace_text", "trace_to_dict", "trace_to_json", "result_to_dict"}
)

#: reflection and dynamic lookup, by name
REFLECTION = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "vars",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "__import__",
        "import_module",
        "attrgetter",
        "methodcaller",
    }
)
#: modules that reach objects by name or around the scan
BANNED_MODULES = frozenset({"importlib", "inspect", "operator", "gc", "sys", "builtins", "ctypes"})
#: ``from importlib import resources`` reads a packaged file, nothing else
ALLOWED_FROM = frozenset({("importlib", "resources")})
#: reflection on the layer's own objects (its dispatch of handlers): the
#: first argument of getattr, as written, in the module that does it
OWN_REFLECTION = {
    "checker": frozenset({"self", "prop", "self.rules[k]", "type(prop)"}),
    "observed": frozenset({"self"}),
}

#: the plain values a fact carries (model/facts.py): their declared fields
FACT_TYPES = (
    facts.Vm,
    facts.RunView,
    facts.BatchView,
    facts.CheckView,
    facts.Outcome,
    facts.DeployView,
    facts.StepView,
)
#: the fields of the facts that are the model's published answers (a run's
#: state, error and counts, a member's outcome, a check's counts, a deploy's
#: end): only the modules listed compare them, none decides from them
PUBLISHED_FIELDS = {
    "state": {"invariants", "liveness", "rules_batches", "rules_runs"},
    "active": {"checker", "invariants"},
    "error": {"liveness", "rules_batches", "rules_runs", "rules_today", "history_shape"},
    # I9; the history's counts
    "progress": {"checker", "invariants", "rules_runs", "history_shape"},
    "rolled_back": {"rules_instances"},
    "failed_rollbacks": set(),
    "status": {"rules_instances"},
    "provisioning_failed": {"rules_instances"},
    "succeeded": {"invariants", "rules_users"},
    "instance_count": {"rules_batches"},
    "unhealthy": {"rules_batches"},
    "limit": {"rules_batches"},
}


def _attrs_fields(module: object) -> set[str]:
    return {
        field.name
        for obj in vars(module).values()
        if inspect.isclass(obj) and attrs.has(obj) and obj.__module__ == module.__name__
        for field in attrs.fields(obj)
    }


#: the declared fields of the facts that are observations (ids, times, disks,
#: versions, states, members)
FACT_FIELDS = frozenset(f for t in FACT_TYPES for f in t._fields)
#: plain observations: the facts' observed fields, the configuration (section
#: 7's scale_set, as a loaded trace holds it) and the events as given (and a
#: refusal of one), and the names of the trace format (section 7)
OBSERVED = frozenset(
    (FACT_FIELDS - PUBLISHED_FIELDS.keys())
    | _attrs_fields(model_config)
    | _attrs_fields(model_events)
    | {"NAME", "config", "now", "instance", "result", "scale_set"}
)

#: the members of ``Published`` (the model's published answers, plain values
#: or section 7's documents) and the fields of those documents: name -> the
#: modules that compare them with their own derivation
COMPARED = {
    **PUBLISHED_FIELDS,
    "published": {
        "checker",
        "rule",
        "rules_runs",
        "rules_users",
        "rules_instances",
        "rules_batches",
        "documents",
        "liveness",
        "rules_today",
    },
    "run": {"checker", "liveness", "rules_batches", "rules_runs", "rules_today"},
    "recent_runs": {"checker"},  # I10: at most one run active
    "health": {"rules_instances"},  # R7: the health the model reports
    "in_active_scope": {"rules_instances"},  # R18: the model's scope of the active run
    "instance": {"rules_users"},  # R8, D10: the power state an outage leaves
    "history": {"checker"},  # R16, I10: the history view
    "result": {"documents", "rules_today"},  # section 7: the result document
    "protection": {"rules_today"},  # T27: the result's protection of an instance
    "runs": {"rules_today"},  # TD2: the result's runs, with their policy
    "latest": {"rules_users", "rules_today"},  # R17; T65: the get-latest view
    "token_slice": {"rules_users"},  # D15: the tokens kept
    "token_count": {"rules_users"},
    "token_expiry": {"rules_users"},
    "auto_enabled": {"rules_users"},  # D16
    "rejected": {"rules_users"},
    "warnings": {"rules_users"},
    "last_activity": {"rules_runs"},  # section 7 until
    # the history view's fields (section 7's osUpgradeHistory shape)
    "value": {"checker", "rules_runs", "history_shape"},
    "properties": {"checker", "rules_runs", "history_shape"},
    "runningStatus": {"checker", "rules_runs", "history_shape"},
    "startTime": {"checker", "rules_runs", "history_shape"},
    "endTime": {"rules_runs", "history_shape"},
    "successfulInstanceCount": {"rules_runs", "history_shape"},
    "failedInstanceCount": {"rules_runs", "history_shape"},
    "inProgressInstanceCount": {"rules_runs", "history_shape"},
    "pendingInstanceCount": {"rules_runs", "history_shape"},
    "targetImageReference": {"rules_runs", "history_shape"},
    "exactVersion": {"rules_runs", "history_shape"},  # T64: a gallery image's target
    "rollbackInfo": {"rules_runs", "history_shape"},
    "successfullyRolledbackInstanceCount": {"rules_runs", "history_shape"},
    "failedRolledbackInstanceCount": {"rules_runs", "history_shape"},
    "startedBy": {"rules_runs", "history_shape"},
    "type": {"rules_runs", "history_shape"},
    "validator": {"documents"},  # jsonschema's error names the failing keyword
}


#: how a module would name the scale set, which no property holds: every
#: attribute read on it is reported
SCALE_SET = frozenset({"ss", "self.ss", "world.ss", "self.world.ss", "self.checker.ss"})
#: how the layer names what the model publishes: every attribute read on it
#: is one of Published's members, each compared where it is listed
PUBLISHED = frozenset(
    {"published", "self.published", "checker.published", "self.checker.published"}
)


def module_names() -> list[str]:
    """Every module under properties/ (not a list kept by hand)."""
    return sorted(p.stem for p in PROPERTIES.glob("*.py") if p.stem != "__init__")


@cache
def drivers() -> frozenset[str]:
    """The modules that say ``DRIVER = True``: they drive the model."""
    found = set()
    for name in module_names():
        tree = ast.parse((PROPERTIES / f"{name}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "DRIVER" for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and node.value.value is True
            ):
                found.add(name)
    return frozenset(found)


def _class_attributes(paths: list[Path]) -> set[str]:
    """The attribute names the classes of these files define: methods,
    class-level fields, and ``self.x = ...`` assignments (and, for the
    model, its module functions)."""
    names: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.is_relative_to(MODEL):  # the model's module functions too
            names.update(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for node in cls.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names.add(node.target.id)
                elif isinstance(node, ast.Assign):
                    names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            for node in ast.walk(cls):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    if isinstance(node.value, ast.Name) and node.value.id == "self":
                        names.add(node.attr)
    return {n for n in names if not n.startswith("__")}


@cache
def model_only() -> frozenset[str]:
    """The attribute names only the model's classes define (the layer's own
    classes define the rest: a name both define cannot tell them apart, so
    the layer names its own records apart from the model's decisions)."""
    stating = [PROPERTIES / f"{n}.py" for n in module_names() if n not in drivers()]
    model = _class_attributes(sorted(MODEL.rglob("*.py")))
    builtin = {n for kind in (list, dict, set, str, tuple, int) for n in dir(kind)}
    constants = {n for n in model if n.isupper()}  # Code.COMPLETED, Power.RUNNING: data
    return frozenset(model - _class_attributes(stating) - builtin - constants)


def _model_import_problems(tree: ast.Module) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "model" or top in BANNED_MODULES:
                    bad.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            top = module.split(".")[0]
            for alias in node.names:
                if top in BANNED_MODULES and (module, alias.name) not in ALLOWED_FROM:
                    bad.append(f"line {node.lineno}: from {module} import {alias.name}")
                elif top == "model":
                    obj = getattr(importlib.import_module(module), alias.name, None)
                    if inspect.ismodule(obj) or (
                        callable(obj)
                        and not inspect.isclass(obj)
                        and alias.name not in ALLOWED_FUNCTIONS
                    ):
                        bad.append(f"line {node.lineno}: from {module} import {alias.name}")
                elif top == "properties":
                    name = alias.name if module == "properties" else module.split(".")[-1]
                    if name in drivers():
                        bad.append(f"line {node.lineno}: imports the driver {name}")
    return bad


def scan(source: str, module: str) -> list[str]:
    """What a stating module called ``module`` with this source takes from
    the model that it may not (empty: nothing)."""
    tree = ast.parse(source)
    bad = _model_import_problems(tree)
    own = OWN_REFLECTION.get(module, frozenset())
    only = model_only()
    # the layer's own modules (``from properties import invariants as inv``)
    layer = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "properties"
        for alias in node.names
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in layer
        ):
            continue
        if isinstance(node, ast.Name) and node.id in REFLECTION:
            bad.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute):
            if node.attr in REFLECTION and node.attr not in ("compile",):
                bad.append(f"line {node.lineno}: .{node.attr}")
            elif node.attr.startswith("__") and node.attr not in ("__name__", "__init__"):
                bad.append(f"line {node.lineno}: .{node.attr}")
            elif ast.unparse(node.value) in SCALE_SET:  # no property holds the scale set
                bad.append(f"line {node.lineno}: {ast.unparse(node)}")
            elif (node.attr in only or ast.unparse(node.value) in PUBLISHED) and not (
                node.attr in OBSERVED or module in COMPARED.get(node.attr, ())
            ):
                bad.append(f"line {node.lineno}: {ast.unparse(node)}")
    # getattr on the layer's own objects only, where its dispatch needs it
    allowed_lines = {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and node.args
        and ast.unparse(node.args[0]) in own
    }
    return [
        b for b in bad if not (b.endswith((": getattr", ": hasattr")) and _line(b) in allowed_lines)
    ]


def _line(problem: str) -> int:
    return int(problem.split(":", 1)[0].removeprefix("line "))


def scan_module(name: str) -> list[str]:
    return scan((PROPERTIES / f"{name}.py").read_text(encoding="utf-8"), name)
