"""``vmss-spec verify``: the property campaign (SPEC section 6).

Runs the Hypothesis state machine of properties/machine.py under a settings
profile (``ci``, ``default`` or ``thorough``), prints progress to stderr
while it runs, and ends with a table: each invariant and progress property
with how many times it was evaluated, the examples and steps run, each
scenario reached with the number of examples that reached it, and each
counterexample with its property, its time, and the path of its saved trace
(which ``vmss-spec replay`` reproduces; the table says whether it does).

Counterexample traces go to ``--out`` (default ``.hypothesis/verify``), and
Hypothesis' example database to ``OUT/examples``, so that a re-run tries the
last failures first. Exit status: 0 everything held, 1 a counterexample (or
the campaign could not run), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from properties.campaign import (
    DEFAULT_OUT,
    PROFILES,
    Campaign,
    CampaignResult,
    Counterexample,
    run_campaign,
)
from properties.coverage import BOUNDARIES, EXTRA_SCENARIOS, RARE_BOUNDARIES, SCENARIOS
from properties.rules_all import PROPERTIES, STATES
from vmss_spec.replay import first_violation

#: seconds between progress lines
PROGRESS_EVERY = 2.0


def replays_same(ce: Counterexample) -> str:
    """Whether ``vmss-spec replay`` of the saved trace reports the same property
    at the same time: ``same``, ``different (...)`` or why it cannot tell."""
    if ce.path is None:
        return "not saved"
    try:
        found = first_violation(ce.path)
    except Exception as exc:  # a crash of the model replays as a crash
        return f"crash ({type(exc).__name__})"
    if found is None:
        return "different (no violation)"
    if (found.invariant, found.at) == (ce.invariant, ce.at):
        return "same"
    return f"different ({found.invariant} at {found.at}s)"


def write_counterexample_page(ce: Counterexample) -> Path | None:
    """The picture of a saved counterexample beside its trace
    (``counterexample-X.json`` -> ``counterexample-X.html``); None when there is
    no trace to replay (not saved, or a document the loader refuses)."""
    from model.trace import TraceError, load_trace
    from vmss_spec.html import write_trace_page

    if ce.path is None:
        return None
    path = Path(ce.path)
    try:
        trace = load_trace(path)
    except (TraceError, OSError):
        return None
    try:
        return write_trace_page(trace, path.with_suffix(".html"), path.name)
    except Exception as exc:  # noqa: BLE001 - a picture must not hide the counterexample
        print(f"vmss-spec verify: no picture for {path}: {type(exc).__name__}", file=sys.stderr)
        return None


def progress_printer(stream: TextIO, every: float = PROGRESS_EVERY) -> Callable[[Campaign], None]:
    """A progress callback: one line on ``stream`` at most every ``every`` seconds."""
    last = [time.monotonic()]

    def show(stats: Campaign) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        print(
            f"verify: {stats.examples} examples, {stats.steps} steps, "
            f"{len(stats.scenarios)} scenarios, {now - stats.started:.0f}s",
            file=stream,
            flush=True,
        )

    return show


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    cells = [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) for k, h in enumerate(headers)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths, strict=True)).rstrip()
    lines = [line, "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def format_report(outcome: CampaignResult) -> str:
    """The final table of a campaign."""
    stats = outcome.campaign
    failed = {ce.invariant for ce in outcome.counterexamples}
    lines = [
        f"vmss-spec verify: profile {outcome.profile}, seed {outcome.seed}, "
        f"up to {outcome.max_examples} examples of up to {outcome.steps} steps, "
        f"{outcome.elapsed:.1f}s",
        "",
    ]
    never = set(outcome.vacuous)
    lines += _table(
        ("property", "rules", "evaluations", "applied", "result", "what must hold"),
        [
            (
                name,
                STATES[name],
                stats.evaluations[name],
                stats.applications[name],
                "VIOLATED" if name in failed else "NEVER APPLIED" if name in never else "held",
                PROPERTIES[name],
            )
            for name in PROPERTIES
        ],
    )
    lines += [
        "",
        f"examples run: {stats.examples} (generated, replayed and shrunk)",
        f"steps run:    {stats.steps}",
        "",
    ]
    lines += _table(
        ("scenario", "examples"),
        [(name, stats.scenarios[name]) for name in SCENARIOS + EXTRA_SCENARIOS],
    )
    lines += [""]
    lines += _table(
        ("boundary (sometimes)", "examples"),
        [(name, stats.scenarios[name]) for name in BOUNDARIES]
        + [(f"{name} (not required)", stats.scenarios[name]) for name in RARE_BOUNDARIES],
    )
    if outcome.vacuous:
        lines.append(f"never applied: {', '.join(outcome.vacuous)}")
    if outcome.unreached:
        lines.append(f"not reached: {', '.join(outcome.unreached)}")
    lines.append("")
    if outcome.counterexamples:
        lines += _table(
            ("counterexample", "property", "at", "events", "replay", "trace"),
            [
                (k, ce.invariant, f"{ce.at}s", ce.events, replays_same(ce), ce.path or "-")
                for k, ce in enumerate(outcome.counterexamples, 1)
            ],
        )
        for k, ce in enumerate(outcome.counterexamples, 1):
            lines.append(f"counterexample {k}: {ce.invariant} at {ce.at}s: {ce.message}")
    elif outcome.error is not None:
        first = str(outcome.error).strip().splitlines()
        lines.append(
            f"error: {type(outcome.error).__name__}: {first[0] if first else ''}".rstrip(": ")
        )
    elif outcome.vacuous or outcome.unreached:
        lines.append("counterexamples: none, but the campaign did not put every rule to the test")
    else:
        lines.append("counterexamples: none; every property held, each on the steps it applied to")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the command
def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not at least {minimum}")
        return value

    return parse


_positive = _whole(1)
_seed = _whole(0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``vmss-spec verify``."""
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="default",
        help="Hypothesis settings profile (default: default)",
    )
    parser.add_argument("--seed", type=_seed, help="random seed (ci defaults to 0)")
    parser.add_argument(
        "--max-examples", type=_positive, help="examples to generate (overrides the profile)"
    )
    parser.add_argument("--steps", type=_positive, help="steps per example (overrides the profile)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"where counterexample traces and the example database go (default {DEFAULT_OUT})",
    )


def main(args: argparse.Namespace) -> int:
    """Run the campaign and print its table; the exit status of section 7."""
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"vmss-spec verify: --out {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not out.is_dir():
        print(f"vmss-spec verify: --out {out}: not a directory", file=sys.stderr)
        return 2
    outcome = run_campaign(
        args.profile,
        seed=args.seed,
        max_examples=args.max_examples,
        steps=args.steps,
        out_dir=out,
        progress=progress_printer(sys.stderr),
    )
    if outcome.counterexamples and outcome.report:
        print("\n".join(outcome.report), file=sys.stderr)
    for k, ce in enumerate(outcome.counterexamples, 1):
        page = write_counterexample_page(ce)
        if page is not None:
            print(f"vmss-spec verify: counterexample {k}: picture {page}", file=sys.stderr)
    sys.stdout.write(format_report(outcome))
    return 0 if outcome.held else 1
