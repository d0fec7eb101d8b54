"""The commands that speak Azure's JSON: ``import``, ``plan`` and
``explain --history`` (docs/azure.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: T1's two values (model.today's SEED_API and TODAY_API, which a test holds
#: them to): named here so that building the parser imports no model
SEED_API, TODAY_API = "2018-10-01", "2024-07-01"

_TIMINGS = ("os_disk_seconds", "extension_seconds", "app_start_seconds", "health_wait_seconds")


def _bounded(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit() or len(text) > 12:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low} to {high}")
        return value

    return parse


def add_azure_options(p: argparse.ArgumentParser) -> None:
    """What Azure's JSON does not hold, and which semantics to read it with."""
    g = p.add_argument_group("reading Azure's JSON (section 7's defaults when not given)")
    g.add_argument(
        "--api-version",
        choices=[SEED_API, TODAY_API],
        help="force the 2018 or today's semantics (default: from the file)",
    )
    g.add_argument("--name", help="the scale set to take from a template that holds several")
    g.add_argument("--epoch", metavar="DATETIME", help="time 0, RFC 3339 (default: now)")
    g.add_argument(
        "--current-version",
        metavar="VERSION",
        help="the image version the instances run now (default 1.0.0)",
    )
    g.add_argument("--lb-sku", choices=["Basic", "Standard"], help="the probe's load balancer")
    g.add_argument("--probe-interval", type=_bounded(1, 3600), metavar="SECONDS")
    g.add_argument("--update-domains", type=_bounded(1, 20), metavar="N")
    g.add_argument("--first-rollout-delay", type=_bounded(0, 10800), metavar="SECONDS")
    for name in _TIMINGS:
        g.add_argument(f"--{name.replace('_', '-')}", type=_bounded(0, 86400), metavar="N")


def options_of(args: argparse.Namespace) -> Any:
    from vmss_spec.azure.importer import Options

    timings = {k: getattr(args, k) for k in _TIMINGS if getattr(args, k) is not None}
    return Options(
        api_version=args.api_version,
        epoch=args.epoch,
        current_version=args.current_version,
        lb_sku=args.lb_sku,
        probe_interval=args.probe_interval,
        update_domains=args.update_domains,
        first_rollout_delay=args.first_rollout_delay,
        timings=timings,
    )


def _output_problem(args: argparse.Namespace, *inputs: str) -> str | None:
    from vmss_spec.output import output_problem

    for flag in ("output", "html"):
        path = getattr(args, flag, None)
        if path is not None:
            problem = output_problem(path, *inputs)
            if problem is not None:
                return f"--{flag} {problem}"
    return None


def _write(args: argparse.Namespace, text: str) -> None:
    from vmss_spec.output import write_whole

    if getattr(args, "output", None) is not None:
        write_whole(args.output, text)
    else:
        sys.stdout.write(text)


def cmd_import(args: argparse.Namespace) -> int:
    from vmss_spec.azure.imports import imported_trace, load_azure, report_lines, trace_document
    from vmss_spec.azure.instances import instance_lines, now_events, read_instances
    from vmss_spec.azure.read import AzureInputError

    problem = _output_problem(args, args.file, *([args.instances] if args.instances else []))
    if problem is not None:
        print(f"vmss-spec import: {problem}", file=sys.stderr)
        return 2
    if args.instances is not None and not args.trace:
        print("vmss-spec import: --instances goes with --trace", file=sys.stderr)
        return 2
    said: list[str] = []
    try:
        imported, shape = load_azure(args.file, options_of(args), args.name)
        first: tuple[dict[str, Any], ...] = ()
        if args.instances is not None:
            listed = read_instances(args.instances, imported.scale_set["instances"])
            first = now_events(listed, imported.api_version)
            said = instance_lines(listed, imported.api_version)
        trace = imported_trace(imported, publication=True, first=first)
        document = trace_document(imported, publication=True, first=first)
    except AzureInputError as exc:
        print(f"vmss-spec import: {exc}", file=sys.stderr)
        return 2
    for line in report_lines(imported, shape, trace) + said:
        print(line, file=sys.stderr)
    if not args.trace:
        document = imported.scale_set
    _write(args, json.dumps(document, indent=2) + "\n")
    return 0


def add_import(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="read a scale set as Azure gives it (az vmss show, ARM GET, ARM template)",
        description="Read a scale set from `az vmss show`, an ARM GET response of "
        "Microsoft.Compute/virtualMachineScaleSets or an ARM template, through the Azure "
        "SDK's model, and print the scale_set object of a trace (SPEC section 7). Standard "
        "error says which semantics were chosen and why, what was assumed, what the model "
        "does not cover and what the configuration checks find, in Azure's paths.",
    )
    p.add_argument("file", help="the JSON file, or - for standard input")
    p.add_argument(
        "--trace",
        action="store_true",
        help="print a whole trace, with a publication of the next version at time 0",
    )
    p.add_argument(
        "--instances",
        metavar="FILE",
        help="with --trace: the instances as `az vmss list-instances [--expand instanceView]` "
        "prints them; those down now answer unhealthy at time 0 and, with today's "
        "semantics, their protection is set (T27)",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead (whole or not at all)"
    )
    add_azure_options(p)
    p.set_defaults(func=cmd_import)


def _cmd_plan(args: argparse.Namespace) -> int:
    from vmss_spec.azure.plan import cmd_plan  # the model, only when planning

    return cmd_plan(args)


def add_plan(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="what the next upgrade will do: batches, duration, capacity, margins",
        description="Replay the model on a trace, or on a scale set in Azure's JSON with a "
        "publication of the next version at time 0, and say what the first upgrade run "
        "does: its batches with their times, the total duration, the fewest instances "
        "serving at any moment, and before each batch how many more instances may become "
        "unhealthy before R4 stops the run there.",
    )
    p.add_argument("file", help="a trace, or Azure's JSON of a scale set; - for standard input")
    p.add_argument(
        "--unhealthy",
        type=_bounded(0, 1000),
        metavar="K",
        help="plan with K instances already down (their application answers unhealthy, R7, "
        "from time 0 until their OS disk is replaced): the lowest ids unless --unhealthy-ids",
    )
    p.add_argument(
        "--unhealthy-ids",
        metavar="IDS",
        help="comma-separated instance ids (Azure's with --instances)",
    )
    p.add_argument(
        "--instances",
        metavar="FILE",
        help="the instances as `az vmss list-instances [--expand instanceView]` prints them: "
        "the plan speaks their ids, takes those down now as unhealthy (unless --unhealthy or "
        "--unhealthy-ids) and, with today's semantics, their protection (T27)",
    )
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.add_argument("--html", metavar="FILE", help="also write the rollout picture of replay --html")
    add_azure_options(p)
    p.set_defaults(func=_cmd_plan)


def cmd_history(args: argparse.Namespace) -> int:
    """``explain --history FILE [--scale-set FILE]``: exit 1 on a finding."""
    from vmss_spec.azure.history import read_history
    from vmss_spec.azure.read import AzureInputError, history_entries, read_json

    if args.history is None:
        print("vmss-spec explain: --scale-set goes with --history", file=sys.stderr)
        return 2
    if args.trace is not None:
        print("vmss-spec explain: a trace or --history, not both", file=sys.stderr)
        return 2
    try:
        entries, _, _ = history_entries(read_json(args.history), args.history)
        config = None
        if args.scale_set is not None:
            config = _scale_set_config(args.scale_set)
    except AzureInputError as exc:
        print(f"vmss-spec explain: {exc}", file=sys.stderr)
        return 2
    reading = read_history(entries, config)
    sys.stdout.write("\n".join(reading.lines) + "\n")
    return 1 if reading.findings else 0


def _scale_set_config(path: str) -> Any:
    """The scale set of ``--scale-set``: a trace's, or Azure's JSON imported
    with section 7's defaults."""
    from model.trace import TraceError, load_trace_bytes
    from vmss_spec.azure.importer import Options
    from vmss_spec.azure.imports import import_value, imported_trace
    from vmss_spec.azure.read import AzureInputError, parse_json, read_bytes

    data = read_bytes(path)
    value = parse_json(data, path)
    if isinstance(value, dict) and "format" in value:
        try:
            return load_trace_bytes(data, path).scale_set
        except TraceError as exc:
            raise AzureInputError(str(exc)) from None
    imported, _ = import_value(value, path, Options(epoch="2018-10-01T00:00:00+00:00"))
    return imported_trace(imported, publication=False).scale_set
