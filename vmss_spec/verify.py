"""``vmss-spec verify``: the property campaign (SPEC section 6).

Runs the Hypothesis state machine of properties/machine.py under a settings
profile (``ci``, ``default`` or ``thorough``), prints progress to stderr
while it runs, and ends with a table: each invariant and progress property
with how many times it was evaluated, the examples and steps run, each
scenario reached with the number of examples that reached it, and each
counterexample with its property, its time, and the path of its saved trace
(which ``vmss-spec replay`` reproduces; the table says whether it does).

Counterexample traces go to ``--out`` (default ``.hypothesis/verify``), and
Hypothesis' example database to ``OUT/examples`` (or ``--database``, a
directory or a Redis server shared by several machines), so that a re-run
tries the last failures first. ``--duration`` bounds the campaign by time,
``--workers`` runs it on several processes (vmss_spec/workers.py),
``--json`` prints the summary as JSON, ``--mutant`` runs it against a
broken variant. Exit status: 0 everything held, 1 a counterexample (or the
campaign could not run, or did not put every rule to the test), 2 bad
arguments, 130 interrupted (SIGINT, SIGTERM: the partial table is printed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from properties.campaign import Campaign, CampaignResult, run_campaign
from vmss_spec.options import (
    MAX_WORKERS,
    Refused,
    add_arguments,
    check_mutant,
    parse_duration,
    under_mutant,
)
from vmss_spec.report import (
    PROGRESS_EVERY,
    failure_account,
    format_report,
    progress_printer,
    replays_same,
    summary,
)
from vmss_spec.workers import run_workers

__all__ = [
    "MAX_WORKERS",
    "PROGRESS_EVERY",
    "check_mutant",
    "add_arguments",
    "format_report",
    "main",
    "parse_duration",
    "progress_printer",
    "replays_same",
]

#: exit status of an interrupted campaign (128 + SIGINT, as shells report it)
INTERRUPTED = 130


# ---------------------------------------------------------------- the options
# (vmss_spec/options.py: the parser is built without loading Hypothesis)


def _check_out(out: Path) -> None:
    """--out must be a directory this process can write in (made if need be)."""
    if out.exists() and not out.is_dir():
        raise Refused(f"--out {out}: not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise Refused(f"--out {out}: {exc.strerror or exc}") from None


def _check_database(where: str | None) -> None:
    if where is None:
        return
    if where == "":
        raise Refused("--database: empty path")
    if where.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
        except ImportError:
            raise Refused(f"--database {where}: the redis package is not installed") from None
        try:
            redis.Redis.from_url(where, socket_connect_timeout=5).ping()
        except (redis.RedisError, ValueError) as exc:
            raise Refused(f"--database {where}: {str(exc).splitlines()[0]}") from None
        return
    path = Path(where)
    if path.exists() and not path.is_dir():
        raise Refused(f"--database {where}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise Refused(f"--database {where}: {exc.strerror or exc}") from None


@contextmanager
def _interruptible(flag: Campaign) -> Iterator[None]:
    """SIGINT and SIGTERM set ``flag.interrupted`` (the campaign stops at its next
    step and reports); a second signal stops at once."""

    def stop(signum: int, frame: Any) -> None:
        if flag.interrupted:
            raise KeyboardInterrupt
        flag.interrupted = True

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------- the command
def main(args: argparse.Namespace) -> int:
    """Run the campaign and print its table; the exit status of section 7."""
    out = Path(args.out)
    try:
        check_mutant(args.mutant)
        if args.out == "":  # Path("") would be the working directory
            raise Refused("--out: empty path")
        _check_out(out)
        _check_database(args.database)
    except Refused as exc:
        print(f"vmss-spec verify: {exc}", file=sys.stderr)
        return 2
    database: bool | str = True if args.database is None else args.database
    printer = progress_printer(sys.stderr)
    flag = Campaign(out_dir=out)
    with _interruptible(flag):
        if args.workers == 1:
            with under_mutant(args.mutant):
                outcome = run_campaign(
                    args.profile,
                    seed=args.seed,
                    max_examples=args.max_examples,
                    steps=args.steps,
                    out_dir=out,
                    database=database,
                    progress=printer,
                    budget=args.duration,
                    stats=flag,
                )
        else:
            outcome = run_workers(
                args.workers,
                profile=args.profile,
                seed=_campaign_seed(args),
                max_examples=args.max_examples,
                steps=args.steps,
                out_dir=out,
                database=database,
                budget=args.duration,
                mutant=args.mutant,
                progress=printer,
                stop=flag,
            )
    outcome.mutant = args.mutant
    if sys.stderr.isatty():
        sys.stderr.write("\n")  # the end of the live progress line
    with under_mutant(args.mutant):  # the picture shows what the variant did
        for k, ce in enumerate(outcome.counterexamples, 1):
            page = write_counterexample_page(ce.path)
            if page is not None:
                print(f"vmss-spec verify: counterexample {k}: picture {page}", file=sys.stderr)
    return _report(outcome, as_json=args.json)


def write_counterexample_page(trace_path: Path | str | None) -> Path | None:
    """The picture of a saved counterexample beside its trace
    (``counterexample-X.json`` -> ``counterexample-X.html``); None when there is
    no trace to replay (not saved, or a document the loader refuses)."""
    from model.trace import TraceError, load_trace
    from vmss_spec.html import write_trace_page

    if trace_path is None:
        return None
    path = Path(trace_path)
    try:
        trace = load_trace(path)
    except (TraceError, OSError):
        return None
    try:
        return write_trace_page(trace, path.with_suffix(".html"), path.name)
    except Exception as exc:  # noqa: BLE001 - a picture must not hide the counterexample
        print(f"vmss-spec verify: no picture for {path}: {type(exc).__name__}", file=sys.stderr)
        return None


def _campaign_seed(args: argparse.Namespace) -> int:
    import random

    if args.seed is not None:
        return args.seed
    return 0 if args.profile == "ci" else random.SystemRandom().randrange(2**32)


def _report(outcome: CampaignResult, *, as_json: bool) -> int:
    if outcome.interrupted:
        status = INTERRUPTED
    else:
        status = 0 if outcome.held else 1
    if outcome.counterexamples:
        sys.stderr.write(failure_account(outcome))
    table = format_report(outcome)
    if as_json:
        sys.stderr.write(table)
        sys.stdout.write(json.dumps(summary(outcome, status)) + "\n")
    else:
        sys.stdout.write(table)
    return status
