"""``vmss-spec verify``: the property campaign (SPEC section 6).

Runs the Hypothesis state machine of properties/stateful.py under a settings
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
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import attrs
from hypothesis import seed as hypothesis_seed
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from properties.counterexample import first_violation
from properties.stateful import (
    CHECKED,
    EXTRA_SCENARIOS,
    PROFILES,
    SCENARIOS,
    Campaign,
    Counterexample,
    UpgradeMachine,
    campaign,
)

DEFAULT_OUT = Path(".hypothesis") / "verify"
#: seconds between progress lines
PROGRESS_EVERY = 2.0


@attrs.define(eq=False)
class Outcome:
    """A finished campaign: its parameters, its counts and what failed."""

    profile: str
    seed: int
    max_examples: int
    steps: int
    out_dir: Path | None
    campaign: Campaign
    elapsed: float
    #: the exception Hypothesis raised, if a property failed or the run broke
    error: BaseException | None = None
    #: what Hypothesis reported (the shrunk steps of each failing example)
    report: list[str] = attrs.field(factory=list)

    @property
    def counterexamples(self) -> list[Counterexample]:
        return self.campaign.counterexamples

    @property
    def held(self) -> bool:
        return self.error is None and not self.counterexamples


def settings_for(
    profile: str,
    *,
    max_examples: int | None = None,
    steps: int | None = None,
    database: Path | None = None,
) -> settings:
    """The profile's settings, with the campaign's overrides. A campaign is
    seeded, so it is never derandomized; the database is the one given."""
    base = settings.get_profile(profile)
    return settings(
        base,
        max_examples=max_examples or base.max_examples,
        stateful_step_count=steps or base.stateful_step_count,
        derandomize=False,
        database=DirectoryBasedExampleDatabase(database) if database is not None else None,
    )


def run_campaign(
    profile: str = "ci",
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    steps: int | None = None,
    out_dir: str | Path | None = DEFAULT_OUT,
    database: bool = True,
    progress: Callable[[Campaign], None] | None = None,
) -> Outcome:
    """Run the state machine under ``profile``; counterexamples are saved under
    ``out_dir`` (and the example database in ``out_dir/examples`` when
    ``database``). The seed defaults to 0 for ``ci`` (deterministic) and to a
    random one otherwise (reported, so the run can be repeated)."""
    if seed is None:
        seed = 0 if profile == "ci" else random.SystemRandom().randrange(2**32)
    out = Path(out_dir) if out_dir is not None else None
    chosen = settings_for(
        profile,
        max_examples=max_examples,
        steps=steps,
        database=out / "examples" if out is not None and database else None,
    )

    def upgrade_machine() -> UpgradeMachine:
        return UpgradeMachine()

    report: list[str] = []
    started = time.monotonic()
    error: BaseException | None = None
    with campaign(out if out is not None else DEFAULT_OUT, progress) as stats:
        try:
            with with_reporter(report.append):
                run_state_machine_as_test(hypothesis_seed(seed)(upgrade_machine), settings=chosen)
        except Exception as exc:  # a property failed (or an ExceptionGroup of several)
            error = exc
            report += _notes(exc)
    return Outcome(
        profile=profile,
        seed=seed,
        max_examples=chosen.max_examples,
        steps=chosen.stateful_step_count,
        out_dir=out,
        campaign=stats,
        elapsed=time.monotonic() - started,
        error=error,
        report=report,
    )


def _notes(exc: BaseException) -> list[str]:
    """Hypothesis' account of each failing example (the shrunk steps), which it
    attaches to the exception it raises (one per failure in a group)."""
    notes = list(getattr(exc, "__notes__", []))
    for inner in getattr(exc, "exceptions", ()):
        notes += _notes(inner)
    return notes


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


def format_report(outcome: Outcome) -> str:
    """The final table of a campaign."""
    stats = outcome.campaign
    failed = {ce.invariant for ce in outcome.counterexamples}
    lines = [
        f"vmss-spec verify: profile {outcome.profile}, seed {outcome.seed}, "
        f"up to {outcome.max_examples} examples of up to {outcome.steps} steps, "
        f"{outcome.elapsed:.1f}s",
        "",
    ]
    lines += _table(
        ("property", "name", "evaluations", "result"),
        [
            (
                name,
                title,
                stats.evaluations[name],
                "VIOLATED" if name in failed else "held",
            )
            for name, title in CHECKED.items()
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
    missing = [name for name in SCENARIOS if not stats.scenarios[name]]
    if missing:
        lines.append(f"not reached: {', '.join(missing)}")
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
    else:
        lines.append("counterexamples: none; every property held")
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
    sys.stdout.write(format_report(outcome))
    return 0 if outcome.held else 1
