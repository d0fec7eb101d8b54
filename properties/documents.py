"""Rule properties of the documents users read and write (SPEC section 7):
the result and history documents in the REST vocabulary (D13, D5, D6), and
the refusal of traces whose initial scale set breaks V9 or V10 (D16).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from model.trace import (
    Trace,
    TraceError,
    converter,
    load_trace_text,
    result_to_dict,
    trace_to_dict,
)
from properties.expect import v9_breaks, v10_breaks
from properties.rule import Property, rule


@cache
def result_schema(today: bool = False) -> dict[str, Any]:
    """The JSON Schema of ``vmss-upgrade-result/1``, with the exact vocabularies
    (with ``today``, section 9.16's keys and 9.14's shapes: T3, T27, TD2,
    T63-T65)."""
    text = resources.files("properties").joinpath("schema/result.schema.json").read_text()
    schema = json.loads(text)
    return _today_result(schema) if today else schema


def _today_result(schema: dict[str, Any]) -> dict[str, Any]:
    """Section 9.16's result keys, in this layer's own words of 9.14."""
    defs = schema["$defs"]

    def shape(required: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": list(required),
            "properties": required,
        }

    percent = {"type": "integer", "minimum": 0, "maximum": 100}
    defs["policy"] = shape(
        {
            "maxBatchInstancePercent": percent,
            "maxUnhealthyInstancePercent": percent,
            "maxUnhealthyUpgradedInstancePercent": percent,
            "pauseTimeBetweenBatches": {"type": "string"},
            "prioritizeUnhealthyInstances": {"type": "boolean"},
        }
    )
    rollback = defs["rollbackInfo"]
    rollback["properties"]["rollbackError"] = {"type": "null"}  # T63, TD3
    rollback["required"].append("rollbackError")
    flag = {"type": "boolean"}
    instance = defs["instance"]
    instance["properties"]["protection"] = shape(
        {"protectFromScaleIn": flag, "protectFromScaleSetActions": flag}
    )
    instance["required"].append("protection")
    run = defs["run"]
    run["properties"]["policy"] = {"$ref": "#/$defs/policy"}
    run["required"].append("policy")
    entry = defs["history"]["properties"]["value"]["items"]["properties"]["properties"]
    platform = entry["properties"]["targetImageReference"]
    gallery = shape({"id": {"type": "string", "minLength": 1}, "exactVersion": defs["version"]})
    entry["properties"]["targetImageReference"] = {"oneOf": [platform, gallery]}  # T64, TD30
    status = shape(
        {
            "code": {"$ref": "#/$defs/runCode"},
            "startTime": {"$ref": "#/$defs/timestamp"},
            "lastAction": {"enum": ["Start", "Cancel"]},
            "lastActionTime": {"$ref": "#/$defs/timestamp"},
        }
    )
    latest = shape(
        {
            "properties": shape(
                {
                    "policy": {"$ref": "#/$defs/policy"},
                    "runningStatus": status,
                    "progress": {"$ref": "#/$defs/progress"},
                    "error": {"$ref": "#/$defs/error"},
                }
            ),
            "type": {"const": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades"},
            "location": {"type": "string", "minLength": 1},
        }
    )
    schema["properties"]["warnings"]["items"]["properties"]["rule"]["enum"] = ["V7", "TW1"]  # T4
    schema["properties"]["api_version"] = {"const": "2024-07-01"}  # T3
    schema["properties"]["latest"] = {"oneOf": [{"type": "null"}, latest]}  # T65
    schema["required"] += ["api_version", "latest"]
    return schema


@cache
def _validator(today: bool = False) -> Any:
    """A compiled validator (jsonschema-rs: the campaign checks one document per
    example, and a result of 40 instances validates in about 40 us, against
    0.7 ms with fastjsonschema)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(result_schema(today))


@cache
def history_schema(today: bool = False) -> dict[str, Any]:
    """The schema of the osUpgradeHistory view alone (R16's REST shape)."""
    schema = result_schema(today)
    return {"$schema": schema["$schema"], "$ref": "#/$defs/history", "$defs": schema["$defs"]}


@cache
def _history_validator(today: bool = False) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(history_schema(today))


def schema_problems(
    document: dict[str, Any], *, history: bool = False, today: bool = False
) -> list[str]:
    """The ways ``document`` (a result, or with ``history`` an osUpgradeHistory
    view) breaks its schema, each with a JSON pointer (``today``: section
    9's schema)."""
    try:
        if (_history_validator(today) if history else _validator(today)).is_valid(document):
            return []
    except (ValueError, UnicodeError):  # a string the Rust side cannot take: jsonschema says
        pass
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        history_schema(today) if history else result_schema(today)
    )
    return [
        "/" + "/".join(map(str, e.absolute_path)) + f": {_brief(e)}"
        for e in validator.iter_errors(document)
    ]


def _brief(error: Any) -> str:
    """jsonschema's message, or for a long instance the keyword it breaks."""
    if len(error.message) <= 160:
        return error.message
    return (
        f"breaks {error.validator} {error.validator_value!r} ({len(error.instance)} items)"
        if isinstance(error.instance, (list, dict))
        else f"breaks {error.validator} {error.validator_value!r}"
    )


@rule
class DocumentsMatchSection7(Property):
    """Section 7, D13, D5, D6: the result document (and the history view in it)
    has exactly the shape and vocabulary of section 7: run codes, error
    codes, startedBy, endTime, power and provisioning states."""

    name = "documents_match_section_7"
    rules = "D13, D5, D6, R16"
    title = "every result and history document is in section 7's shape and vocabulary"

    def _today(self) -> bool:
        """T1, as the trace gives it."""
        return self.published.config.api_version == "2024-07-01"

    def after_run_ended(self, run: Any) -> None:
        """R16: the history view as a run ends (a new entry's final shape)."""
        view = converter.unstructure(self.checker.history_view())
        problems = schema_problems(view, history=True, today=self._today())
        self.check(not problems, lambda: f"the history at {self.world.now}: {problems[0]}")

    def finish(self) -> None:
        # the result as `replay --json` writes it (its writer's document, before
        # the JSON text: json.dumps with an indent is Python code, slow)
        document = result_to_dict(self.published.result())
        problems = schema_problems(document, today=self._today())
        self.check(not problems, lambda: f"the result at {self.world.now}: {problems[0]}")


def judge_document(data: dict[str, Any]) -> tuple[bool, str | None]:
    """V9, V10, D16 for one trace document: whether the loader refused it, and
    what is wrong with that answer (None when it is the answer the rules give:
    refused naming a field out of range and its rule, or accepted)."""
    scale_set = data["scale_set"]
    policy = scale_set.get("policy", {})
    # each by its place, a JSON pointer (section 7: the line names the place)
    broken = {f"/scale_set/policy/{field}": "V10" for field in v10_breaks(policy)}
    count = scale_set["instances"]
    if v9_breaks(count, scale_set.get("single_placement_group", True)):
        broken["/scale_set/instances"] = "V9"
    try:
        # as a file is loaded: the text, through the loader's compiled validators
        load_trace_text(json.dumps(data), "trace")
        refusal = None
    except TraceError as exc:
        refusal = str(exc)
    if broken:
        ok = refusal is not None and any(
            field in refusal and f"({rule_name})" in refusal for field, rule_name in broken.items()
        )
    else:
        ok = refusal is None
    if ok:
        return refusal is not None, None
    return refusal is not None, (
        f"a trace with {count} instances and policy {policy}: "
        + (f"refused: {refusal}" if refusal else "accepted")
        + (f"; {', '.join(broken)} out of range" if broken else "; it is well formed")
    )


@rule
class MalformedTracesRefused(Property):
    """V9, V10, D16: a trace whose initial scale set has a count outside V9 or a
    policy outside V10's ranges is malformed (refused naming the field and the
    rule); one inside them is not."""

    name = "malformed_traces_refused_v9_v10"
    rules = "V9, V10, D16"
    title = "a trace is refused exactly when its scale set breaks V9 or V10"

    def submit(self, data: dict[str, Any]) -> bool:
        """Give the loader ``data`` (a trace document) and check its answer;
        True when the loader refused it."""
        refused, problem = judge_document(data)
        self.check(problem is None, problem)
        return refused


@rule
class TracesReadBackAsWritten(Property):
    """Section 7, E5: a trace written as section 7 says (how counterexamples
    are saved) reads back as the same trace. At the end of an example or a
    replay, what happened (the scale set, each event as given, the time
    reached) is written with the trace writer and read back with the loader:
    the same scale set, the same events, the same ``until``."""

    name = "traces_read_back_as_written"
    rules = "E5, section 7 trace format"
    title = "a trace written as section 7 says reads back as the same trace"

    #: longer histories are not written again (a replay of a large trace: the
    #: file it came from is the written form); a campaign example is far shorter
    MOST = 2_000

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.events: list[Any] = []

    def begin_event(self, ev: Any) -> None:
        if len(self.events) <= self.MOST:
            self.events.append(ev)

    def finish(self) -> None:
        if len(self.events) > self.MOST:
            return
        config, events, now = self.published.config, tuple(self.events), self.world.now
        until: int | None = now
        try:
            back = self._read_back(config, events, until)
            if back is None:  # past the format's last time: written without until
                until = None
                back = self._read_back(config, events, until)
        except TraceError as exc:
            if "(V9)" in str(exc) or "(V10)" in str(exc):
                return  # the loader's V9 or V10 answer: D16's property judges those
            self.check(False, f"the trace of this history, as written, is refused: {exc}")
            return
        found = [
            what
            for what, same in (
                ("scale set", back.scale_set == config),
                ("events", back.events == events),
                ("until", back.until == until),
            )
            if not same
        ]
        self.check(not found, lambda: f"written and read back, its {', '.join(found)} differ")

    @staticmethod
    def _read_back(config: Any, events: tuple[Any, ...], until: int | None) -> Any:
        """The trace written (the writer's document, in one line: trace_to_json
        adds only the indent) and read back; None if only its ``until`` is
        refused (a history that went on past the last time a trace may give)."""
        text = json.dumps(trace_to_dict(Trace(scale_set=config, events=events, until=until)))
        try:
            return load_trace_text(text, "trace")
        except TraceError as exc:
            if until is not None and str(exc).startswith("trace: /until:"):
                return None
            raise


#: section 7: without ``until``, a trace ends at most 30 days after its last event
THIRTY_DAYS = 30 * 86400


@rule
class TraceEndsAsSection7Says(Property):
    """Section 7's ``until``: a trace that gives it ends there; one that does
    not ends at most 30 days after its last event, and before that only once
    no run is going on (the last thing that happens; when it happens is
    last_change_ends_the_trace's business). A replay of a document only: a
    campaign's example ends where its machine stops."""

    name = "trace_ends_as_section_7_says"
    rules = "D12, section 7 until"
    title = "a trace ends at its until, or at most 30 days after its last event"
    replay_only = True

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.last_event = 0

    def begin_event(self, ev: Any) -> None:
        self.last_event = self.world.now

    def finish(self) -> None:
        given = self.checker.given
        if given is None:
            return
        now, until = self.world.now, given.get("until")
        if until is not None:
            self.check(now == until, lambda: f"the trace gives until {until} but ends at {now}")
            return
        cap = self.last_event + THIRTY_DAYS
        early = now < cap and self.world.active is not None
        self.check(
            now <= cap and not early,
            lambda: (
                f"with no until, the trace ends at {now}: "
                + (
                    f"after {cap}, 30 days after its last event"
                    if now > cap
                    else "with a run going"
                )
            ),
        )
