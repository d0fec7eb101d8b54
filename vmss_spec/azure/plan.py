"""``vmss-spec plan``: what the next upgrade will do to a scale set.

Every number comes from replaying the model: the batches and their times
from the run it records, the margin before each batch from that batch's
pre-batch check (R4: the limit floor(N x pct / 100) less the instances
unhealthy then), and the fewest instances serving (R7: healthy, so running,
Succeeded and in no operation) from the model's own count, sampled after
every step as the rollout picture samples it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import attrs

from model.events import AppHealth, PublishImage, SetProtection
from model.replay import Replay, replay
from model.rollout import Rollout
from model.scaleset import ScaleSet
from model.trace import Trace, TraceError, load_trace_bytes
from vmss_spec.azure.instances import Instances, instance_lines, protection_events, read_instances
from vmss_spec.azure.read import AzureInputError, parse_json, read_bytes

PLAN_FORMAT = "vmss-upgrade-plan/1"
_STARTS = frozenset({"publish_image", "start_upgrade", "set_automatic_upgrade"})


class Serving:
    """The fewest instances serving (R7 healthy) after any step, and when."""

    def __init__(self, ss: ScaleSet) -> None:
        self.ss = ss
        self.violations: list[Any] = []
        self.fewest: int | None = None
        self.at = 0
        self.of = 0
        self._sample()

    def __call__(self, fact: str, *args: Any) -> None:
        if fact in ("step", "event", "rejected"):
            self._sample()

    def finish(self) -> None:
        self._sample()

    def _sample(self) -> None:
        n = len(self.ss.instances)
        serving = n - self.ss.count_unhealthy()
        if self.fewest is None or serving < self.fewest:
            self.fewest, self.at, self.of = serving, self.ss.now, n


@attrs.define
class Planned:
    trace: Trace
    replay: Replay
    rollout: Rollout
    serving: Serving
    down: tuple[int, ...]
    added: str | None
    azure_ids: tuple[str, ...] | None = None


def _with_plan_events(
    trace: Trace, down: tuple[int, ...], protection: tuple[SetProtection, ...] = ()
) -> tuple[Trace, str | None]:
    """The trace with ``protection`` set and ``down`` unhealthy from time 0
    and, when nothing in it can start a run, the next version published
    after its last event."""
    events = list(trace.events)
    added = None
    if not any(type(ev).NAME in _STARTS for ev in events):
        from vmss_spec.azure.imports import next_version

        at = events[-1].at if events else 0
        version = next_version(trace.scale_set.catalog[-1])
        events.append(PublishImage(at, version))
        added = f"nothing in the trace starts a run: {version} is published at {at}s"
    if down:
        events.insert(0, AppHealth(0, down, False))
    events[0:0] = protection
    return attrs.evolve(trace, events=tuple(events)), added


def plan(
    trace: Trace,
    down: tuple[int, ...] = (),
    protection: tuple[SetProtection, ...] = (),
    azure_ids: tuple[str, ...] | None = None,
) -> Planned:
    """Replay the trace for the plan (see the module's docstring)."""
    played, added = _with_plan_events(trace, down, protection)
    made: dict[str, Any] = {}

    def serving(ss: ScaleSet) -> Serving:
        made["serving"] = Serving(ss)
        return made["serving"]

    def rollout(ss: ScaleSet) -> Rollout:
        made["rollout"] = Rollout(ss)
        return made["rollout"]

    rep = replay(played, observers=[serving, rollout])
    return Planned(played, rep, made["rollout"], made["serving"], down, added, azure_ids)


def _duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


def plan_document(p: Planned) -> dict[str, Any]:
    """The plan as one JSON object."""
    ss = p.replay.scale_set
    doc: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "api_version": ss.config.api_version,
        "instances": ss.config.instances,
        "azure_instance_ids": None if p.azure_ids is None else list(p.azure_ids),
        "unhealthy_at_start": list(p.down),
        "assumed_publication": p.added,
    }
    if not ss.runs:
        reasons = [r.reason for r in p.replay.result.rejected]
        doc["run"] = None
        doc["why_no_run"] = reasons[0] if reasons else "no trigger started a run (D4)"
        doc["serving"] = {"fewest": p.serving.fewest, "at": p.serving.at, "of": p.serving.of}
        return doc
    run = ss.runs[0]
    shown = p.replay.result.runs[0]
    batches = []
    for k, batch in enumerate(run.batches):
        check = run.checks[k] if k < len(run.checks) else None
        entry: dict[str, Any] = {
            "number": batch.number,
            "instances": list(batch.instances),
            "start": batch.start,
            "end": batch.end,
        }
        if p.azure_ids is not None:
            entry["azure_instances"] = [p.azure_ids[i] for i in batch.instances]
        if check is not None:
            entry.update(
                unhealthy_before=check.unhealthy,
                limit=check.limit,
                margin=check.limit - check.unhealthy,
            )
        batches.append(entry)
    stop = run.checks[len(run.batches)] if len(run.checks) > len(run.batches) else None
    doc["run"] = {
        "started_by": shown.started_by,
        "target_version": shown.target_version,
        "code": shown.code,
        "error": shown.error,
        "start": shown.start,
        "end": shown.end,
        "duration": None if shown.end is None else shown.end - shown.start,
        "stopped_by_check": None
        if stop is None
        else {"at": stop.at, "unhealthy": stop.unhealthy, "limit": stop.limit},
    }
    doc["batches"] = batches
    doc["serving"] = {"fewest": p.serving.fewest, "at": p.serving.at, "of": p.serving.of}
    return doc


def plan_text(doc: dict[str, Any], title: str) -> str:
    """The plan in words."""
    today = doc["api_version"] == "2024-07-01"
    azure = doc["azure_instance_ids"]

    def shown(ids: list[int]) -> str:
        return ", ".join(azure[i] if azure is not None else str(i) for i in ids)

    lines = [
        f"Plan for {title}: {doc['instances']} instances, "
        + ("today's semantics (SPEC section 9)" if today else "the 2018 semantics")
        + "."
    ]
    if azure is not None:
        lines.append("Instance ids are Azure's (instanceId).")
    if doc["unhealthy_at_start"]:
        ids = shown(doc["unhealthy_at_start"])
        lines.append(f"Down from time 0 (answering unhealthy): {ids}.")
    if doc["assumed_publication"]:
        lines.append(f"Assumed: {doc['assumed_publication']}.")
    run = doc["run"]
    serving = doc["serving"]
    if run is None:
        lines.append(f"No run starts: {doc['why_no_run']}")
        lines.append(f"Serving: {serving['fewest']} of {serving['of']} throughout.")
        return "\n".join(lines) + "\n"
    end = (
        f"ends {run['code']} at {run['end']}s after {_duration(run['duration'])}"
        if run["end"] is not None
        else "is still rolling forward when the trace ends"
    )
    lines.append(
        f"Run 1 ({run['started_by']}) towards {run['target_version']} starts at "
        f"{run['start']}s and {end}."
    )
    if run["error"]:
        lines.append(f"  It stops: {run['error']['code']}: {run['error']['message']}")
    for b in doc["batches"]:
        ids = shown(b["instances"])
        span = f"{b['start']}s-{b['end']}s" if b["end"] is not None else f"{b['start']}s-"
        margin = ""
        if "margin" in b:
            margin = (
                f"; before it {b['unhealthy_before']} unhealthy, limit {b['limit']}: "
                f"{b['margin']} more may become unhealthy before R4 stops the run here"
            )
        lines.append(f"  batch {b['number']}: {ids}  {span}{margin}")
    stop = run["stopped_by_check"]
    if stop is not None:
        lines.append(
            f"  At {stop['at']}s the pre-batch check finds {stop['unhealthy']} unhealthy, "
            f"more than the limit of {stop['limit']} (R4)."
        )
    lines.append(
        f"Fewest serving (healthy, in no operation): {serving['fewest']} of "
        f"{serving['of']}, first at {serving['at']}s."
    )
    return "\n".join(lines) + "\n"


def _down_ids(args: argparse.Namespace, trace: Trace, listed: Instances | None) -> tuple[int, ...]:
    n = trace.scale_set.instances
    if args.unhealthy_ids is not None:
        texts = args.unhealthy_ids.split(",")
        if not all(t.isascii() and t.isdigit() and len(t) < 10 for t in texts):
            raise AzureInputError(
                f"--unhealthy-ids: {args.unhealthy_ids[:40]!r} is not a list of ids"
            )
        if listed is not None:
            known = listed.model_ids()
            wrong = [t for t in texts if str(int(t)) not in known]
            if wrong:
                raise AzureInputError(
                    f"--unhealthy-ids: {wrong[0]} is not an instanceId in {listed.source}"
                )
            return tuple(sorted({known[str(int(t))] for t in texts}))
        ids = sorted({int(t) for t in texts})
        wrong = [i for i in ids if not 0 <= i < n]
        if wrong:
            raise AzureInputError(f"--unhealthy-ids: {wrong[0]} is not an instance (0 to {n - 1})")
        return tuple(ids)
    if args.unhealthy is None and listed is not None:
        return tuple(k for k, _ in listed.down)
    unhealthy = args.unhealthy or 0
    if unhealthy > n:
        raise AzureInputError(f"--unhealthy: {unhealthy} is more than the {n} instances")
    return tuple(range(unhealthy))


def _protection(listed: Instances | None, trace: Trace) -> tuple[SetProtection, ...]:
    if listed is None or trace.scale_set.api_version != "2024-07-01":
        return ()
    return tuple(
        SetProtection(
            0,
            tuple(e["instances"]),
            e["protect_from_scale_in"],
            e["protect_from_scale_set_actions"],
        )
        for e in protection_events(listed)
    )


def load_input(args: argparse.Namespace) -> tuple[Trace, list[str]]:
    """A trace file as it is, or Azure's JSON imported with a publication of
    the next version at time 0; and the import's lines for standard error."""
    from vmss_spec.azure.cli import options_of
    from vmss_spec.azure.imports import import_value, imported_trace, report_lines

    data = read_bytes(args.file)
    value = parse_json(data, args.file)
    if isinstance(value, dict) and "format" in value:
        try:
            return load_trace_bytes(data, args.file), []
        except TraceError as exc:
            raise AzureInputError(str(exc)) from None
    imported, shape = import_value(value, args.file, options_of(args), args.name)
    trace = imported_trace(imported, publication=True)
    return trace, report_lines(imported, shape, trace)


def cmd_plan(args: argparse.Namespace) -> int:
    from vmss_spec.azure.cli import _output_problem
    from vmss_spec.azure.read import source_name

    problem = _output_problem(args, args.file, *([args.instances] if args.instances else []))
    if problem is not None:
        print(f"vmss-spec plan: {problem}", file=sys.stderr)
        return 2
    try:
        trace, said = load_input(args)
        listed = None
        if args.instances is not None:
            listed = read_instances(args.instances, trace.scale_set.instances)
            said += instance_lines(listed, trace.scale_set.api_version)
        down = _down_ids(args, trace, listed)
    except AzureInputError as exc:
        print(f"vmss-spec plan: {exc}", file=sys.stderr)
        return 2
    for line in said:
        print(line, file=sys.stderr)
    planned = plan(
        trace,
        down,
        _protection(listed, trace),
        None if listed is None else listed.azure_ids,
    )
    title = source_name(args.file)
    if args.html is not None:
        from vmss_spec.html import write_page

        write_page(planned.replay, planned.rollout, args.html, title=f"plan for {title}")
    doc = plan_document(planned)
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(plan_text(doc, title))
    return 0
