"""The command line: ``vmss-spec replay | explain | verify | bench | diagram | rules``.

Exit status: 0 success (no invariant violated), 1 a violation or
counterexample, 2 refused input (one line on stderr naming the place; an
unexpected error is one line too, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(path: str, command: str):  # noqa: ANN202 - a Trace, or None once refused
    """The trace of a file, or of standard input for ``-`` (the same bounds
    and errors as a file); None once its refusal is printed."""
    from model.trace import TraceError, load_trace, load_trace_bytes, read_trace_bytes

    try:
        if path == "-":
            if sys.stdin is None:
                raise TraceError("-: standard input is closed")
            return load_trace_bytes(read_trace_bytes(sys.stdin.buffer, "-"), "-")
        return load_trace(path)
    except TraceError as exc:
        print(f"vmss-spec {command}: {exc}", file=sys.stderr)
        return None


def _cmd_replay(args: argparse.Namespace) -> int:
    from model.trace import result_to_json
    from vmss_spec.options import check_mutant, under_mutant
    from vmss_spec.replay import replay

    try:
        check_mutant(args.mutant)
    except Exception as exc:
        print(f"vmss-spec replay: {exc}", file=sys.stderr)
        return 2
    if args.html is not None:
        from vmss_spec.html import output_problem

        problem = output_problem(args.html, args.trace)
        if problem is not None:  # before any work: nothing given is overwritten
            print(f"vmss-spec replay: --html {problem}", file=sys.stderr)
            return 2
    trace = _load(args.trace, "replay")
    if trace is None:
        return 2
    if args.mutant is not None:
        from properties.mutants import MUTANTS

        broken = MUTANTS[args.mutant].description
        said = f"replayed under the broken variant {args.mutant}: {broken}"
        if args.json:  # stdout is the result document
            print(f"vmss-spec replay: {said}", file=sys.stderr)
    with under_mutant(args.mutant):
        if args.html is not None:
            from vmss_spec.html import write_page
            from vmss_spec.replay import replay_with_rollout

            rep, rollout = replay_with_rollout(trace)
            title = "standard input" if args.trace == "-" else Path(args.trace).name
            write_page(rep, rollout, args.html, title=title)
        else:
            rep = replay(trace)
    if args.json:
        out = result_to_json(rep.result)
    else:
        out = rep.text()
        if args.mutant is not None:
            out = f"{said}\n\n{out}"
    sys.stdout.write(out)
    return rep.exit_status


def _cmd_explain(args: argparse.Namespace) -> int:
    from model.explain import explain
    from model.replay import run_trace

    if args.history is not None or args.scale_set is not None:
        from vmss_spec.azure.cli import cmd_history

        return cmd_history(args)
    if args.trace is None:
        print("vmss-spec explain: a trace file, or --history FILE", file=sys.stderr)
        return 2
    trace = _load(args.trace, "explain")
    if trace is None:
        return 2
    played = run_trace(trace)
    sys.stdout.write(explain(played.scale_set))
    if played.crash is not None:
        print(f"vmss-spec explain: the model crashed: {played.crash.message}", file=sys.stderr)
        return 1
    return 0


def _cmd_diagram(args: argparse.Namespace) -> int:
    from model.diagrams import diagram

    sys.stdout.write(diagram(args.machine, args.format))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from vmss_spec.verify import main as verify

    return verify(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    from vmss_spec.bench import format_bench, run_bench

    def progress(line: str) -> None:
        print(f"vmss-spec bench: {line}", file=sys.stderr, flush=True)

    if args.markdown is not None:
        from vmss_spec.output import output_problem

        problem = output_problem(args.markdown)
        if problem:
            print(f"vmss-spec bench: --markdown {problem}", file=sys.stderr)
            return 2
    figures = run_bench(quick=args.quick, variants=args.variants, progress=progress)
    text = format_bench(figures)
    sys.stdout.write(json.dumps(figures) + "\n" if args.json else text)
    if args.markdown is not None:
        from vmss_spec.bench_page import render_page
        from vmss_spec.output import write_whole

        write_whole(args.markdown, render_page(figures, text, quick=args.quick))
    return 0


def _cmd_rules(args: argparse.Namespace) -> int:
    from vmss_spec.rules import MANIFEST, SPEC, format_index, format_rule, load_manifest

    try:
        text = SPEC.read_text(encoding="utf-8")
        rules = load_manifest(MANIFEST)
    except OSError as exc:
        print(f"vmss-spec rules: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.number is None:
        sys.stdout.write(format_index(text, rules))
        return 0
    number = args.number.upper().replace("A", "a")
    if number not in rules:
        print(f"vmss-spec rules: {args.number}: no such rule in docs/SPEC.md", file=sys.stderr)
        return 2
    sys.stdout.write(format_rule(number, text, rules[number]))
    return 0


def _mutant_checked(found: tuple, done: int, total: int) -> None:
    name, seed, caught_by, expected, seconds = found
    verdict = caught_by if expected else f"MISSED ({caught_by or 'nothing'})"
    print(f"[{done}/{total}] {name} seed {seed}: {verdict} {seconds:.1f}s", file=sys.stderr)


def _cmd_mutants(args: argparse.Namespace) -> int:
    from properties.selfcheck import format_selfcheck, run_selfcheck, survivors
    from vmss_spec.options import MAX_WORKERS, shown

    parts = [part.strip() for part in args.seeds.split(",")]
    if not all(part.isascii() and part.isdigit() and len(part) <= 30 for part in parts):
        print(
            f"vmss-spec mutants: --seeds {shown(args.seeds)}: not comma-separated whole numbers",
            file=sys.stderr,
        )
        return 2
    seeds = tuple(int(part) for part in parts)
    if not 1 <= args.workers <= MAX_WORKERS:
        print(
            f"vmss-spec mutants: --workers {args.workers}: must be 1 to {MAX_WORKERS}",
            file=sys.stderr,
        )
        return 2
    if args.check:
        return _check_variants(args)
    try:
        rows = run_selfcheck(
            args.profile, seeds, args.names or None, args.workers, progress=_mutant_checked
        )
    except KeyError as exc:
        print(f"vmss-spec mutants: {exc.args[0]}", file=sys.stderr)
        return 2
    sys.stdout.write(format_selfcheck(rows))
    return 1 if survivors(rows) else 0


def _check_variants(args: argparse.Namespace) -> int:
    """``mutants --check``: each variant against `check` on the standard scopes."""
    from properties.mutants import MUTANTS
    from vmss_spec import check_variants as cv
    from vmss_spec.output import output_problem, write_whole

    unknown = [n for n in args.names if n not in MUTANTS]
    problem = output_problem(args.markdown) if args.markdown else None
    if unknown or problem:
        print(f"vmss-spec mutants: {problem or f'no such variant {unknown[0]}'}", file=sys.stderr)
        return 2
    rows = cv.run_check_variants(
        args.names or None, progress=lambda line: print(line, file=sys.stderr, flush=True)
    )
    print("\n".join(cv.format_rows(rows)))
    print(cv.summary(rows))
    if args.markdown:
        write_whole(args.markdown, cv.render_page(rows))
    explored = [r for r in rows if r["variant"] not in cv.UNREACHABLE]
    return 1 if any(r.get("property") is None for r in explored) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vmss-spec",
        description="Executable, property-checked spec of the Azure VM scale set "
        "automatic OS image upgrade.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("replay", help="replay a vmss-upgrade-trace/1 file")
    p.add_argument("trace", help="the trace file (JSON), or - for standard input")
    p.add_argument("--json", action="store_true", help="print the vmss-upgrade-result/1 document")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained page picturing the rollout (lanes, batches, limit)",
    )
    p.add_argument(
        "--mutant", metavar="NAME", help="replay under a broken variant of properties/mutants.py"
    )
    p.set_defaults(func=_cmd_replay)
    p = sub.add_parser(
        "explain",
        help="say what happened to each upgrade run of a trace, and why",
        description="Replay a trace and print one paragraph per run: its trigger, its "
        "batches, how long it took, and for a run that stopped the decisive check with "
        "its numbers and the instances and events behind it.",
    )
    p.add_argument("trace", nargs="?", help="the trace file (JSON), or - for standard input")
    p.add_argument(
        "--history",
        metavar="FILE",
        help="read a real upgrade history instead (az vmss get-os-upgrade-history, or the "
        "REST response) and say what the spec says of each entry",
    )
    p.add_argument(
        "--scale-set",
        metavar="FILE",
        help="with --history: the scale set (Azure's JSON or a trace), for the limits",
    )
    p.set_defaults(func=_cmd_explain)
    p = sub.add_parser("diagram", help="print a state diagram generated from the machines")
    p.add_argument("machine", nargs="?", choices=["instance", "run"], default="instance")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.set_defaults(func=_cmd_diagram)
    p = sub.add_parser(
        "verify",
        help="check every invariant on generated histories (Hypothesis)",
        description="Run the property campaign: Hypothesis generates histories and checks "
        "I1-I12, L1 and L2 after every step; failures are saved as trace files.",
    )
    from vmss_spec.options import add_arguments

    add_arguments(p)
    p.set_defaults(func=_cmd_verify)
    p = sub.add_parser(
        "check",
        help="explore every behaviour of a small scope (SPEC section 8)",
        description="Explore every behaviour of a scope breadth first, with every "
        "property checked on every transition: 'no violation in this scope', or the "
        "shortest behaviour that breaks one, saved as a trace file.",
    )
    from vmss_spec import check

    check.add_arguments(p)
    p.set_defaults(func=check.main)
    p = sub.add_parser(
        "bench",
        help="measure the model at fleet scale and the property suite's throughput",
        description="Benchmarks (figures, not assertions): a complete upgrade of 100, 1,000 "
        "and 10,000 instances, the state machine's steps per second against the Hypothesis "
        "engine's floor, verify's steps per second with 1 and 2 workers, loading and "
        "replaying a 100,000-event trace, start-up, and how each command's cost grows "
        "with each dimension of a trace.",
    )
    p.add_argument("--quick", action="store_true", help="one repetition, one seed, fewer examples")
    p.add_argument(
        "--variants",
        action="store_true",
        help="also time the ci profile finding each broken variant (minutes)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the benchmarks page (docs/benchmarks.md): what each benchmark "
        "measures, this machine and the figures",
    )
    p.set_defaults(func=_cmd_bench)
    p = sub.add_parser(
        "rules",
        help="where each rule of the spec lives: its home, properties and tests",
        description="Print a rule of docs/SPEC.md (R, V, D, I or L number) with the "
        "function that implements it, the properties that check it and the tests that "
        "name it; without a number, the whole index.",
    )
    p.add_argument("number", nargs="?", help="a rule number such as R5, D7a or I2")
    p.set_defaults(func=_cmd_rules)
    p = sub.add_parser(
        "mutants",
        help="run the campaign against each broken variant; exit 1 if one survives",
        description="The suite proves it can fail: for each broken variant of "
        "properties/mutants*.py and each seed, run the campaign and show which property "
        "caught it (MISSED when the expected property did not).",
    )
    p.add_argument("--profile", choices=["ci", "default", "thorough"], default="default")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument(
        "--check",
        action="store_true",
        help="explore each variant with `check` on the standard scopes instead (section 8)",
    )
    p.add_argument("--markdown", metavar="FILE", help="with --check: also write the page")
    p.add_argument("names", nargs="*", metavar="NAME", help="variants (default: all)")
    p.set_defaults(func=_cmd_mutants)
    from vmss_spec.azure.cli import add_import, add_plan

    add_import(sub)
    add_plan(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vmss-upgrade-spec")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status. Any unexpected error is one line on
    stderr and exit 2 (a model crash during replay is a violation, exit 1)."""
    if sys.stderr is None:  # nowhere to say anything: say nothing, exit 2
        return 2
    if sys.stdout is None:
        print("vmss-spec: standard output is closed", file=sys.stderr)
        return 2
    # Text the output's encoding cannot hold (an emoji under PYTHONIOENCODING=ascii)
    # is escaped, never a failure: the JSON documents are ASCII already.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    # A replay keeps every step it took: with the default thresholds the
    # collector's older generations are walked again and again as that grows
    # (the scaling series of `vmss-spec bench` measured a growth exponent of
    # 1.2 to 1.3 for outages, under 1 with these thresholds). Collect less often.
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"vmss-spec {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        first = str(exc).strip().splitlines()
        detail = f": {first[0]}" if first else ""
        print(f"vmss-spec {args.command}: error: {type(exc).__name__}{detail}", file=sys.stderr)
        return 2
    finally:
        gc.set_threshold(*thresholds)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
