"""The options of ``vmss-spec verify`` and their checks, apart from the
campaign itself, so that the command line is built (``--version``, ``replay``,
``explain``) without loading Hypothesis: numbers and durations in ASCII
digits and in range, the broken variant by name."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

#: the campaign's profiles (properties/campaign.py PROFILES; a test keeps them equal)
PROFILE_NAMES = ("ci", "default", "thorough")
#: where counterexamples and the example database go (properties/campaign.py)
DEFAULT_OUT = Path(".hypothesis") / "verify"


#: a whole number as written on a command line: ASCII digits only (Python's
#: int() also takes "٣", "1_000" and spaces)
_DIGITS = re.compile(r"-?[0-9]+")
#: the most processes --workers may ask for
MAX_WORKERS = 64
#: the longest --duration: a year of seconds (longer overflows time arithmetic)
MAX_DURATION = 366 * 86400


def shown(text: str) -> str:
    """An option's value as a message quotes it: whole, or its start and length."""
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum`` (and at most
    ``maximum``), in ASCII digits."""

    def parse(text: str) -> int:
        if not _DIGITS.fullmatch(text) or len(text) > 30:
            raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number") from None
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is not at least {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is more than {maximum}")
        return value

    return parse


_positive = _whole(1)
#: for other commands' options
whole = _whole
_seed = _whole(0)
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


def parse_duration(text: str) -> float:
    """A time budget: ``30s``, ``10m``, ``2h``, ``1h30m`` or a number of
    seconds (ASCII digits), positive and at most a year."""
    stripped = text.strip()
    short = len(stripped) <= 30
    match = _DURATION.fullmatch(stripped) if short else None
    if short and _DIGITS.fullmatch(stripped) and not stripped.startswith("-"):
        seconds = int(stripped)
    elif match is not None and any(match.groups()):
        hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not a duration (such as 30s, 10m, 2h or 1h30m)"
        )
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a positive duration")
    if seconds > MAX_DURATION:
        raise argparse.ArgumentTypeError(f"{shown(text)} is longer than a year")
    return float(seconds)


def _workers(text: str) -> int:
    """``auto`` (the machine's cores) or a whole number from 1 to MAX_WORKERS."""
    if text == "auto":
        return min(
            MAX_WORKERS,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1),
        )
    return _whole(1, MAX_WORKERS)(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``vmss-spec verify``."""
    parser.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="default",
        help="Hypothesis settings profile (default: default)",
    )
    parser.add_argument("--seed", type=_seed, help="random seed (ci defaults to 0)")
    parser.add_argument(
        "--max-examples", type=_positive, help="examples to generate (overrides the profile)"
    )
    parser.add_argument("--steps", type=_positive, help="steps per example (overrides the profile)")
    parser.add_argument(
        "--duration",
        type=parse_duration,
        metavar="TIME",
        help="run examples until this time is spent (30s, 10m, 2h); with --max-examples, "
        "whichever comes first",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes to run (auto: one per core), each seeded from --seed",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help=f"where counterexample traces and the example database go (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--database",
        metavar="PATH|redis://HOST:PORT/DB",
        help="Hypothesis' example database: a directory, or a Redis server several "
        "machines share (default OUT/examples)",
    )
    parser.add_argument(
        "--json", action="store_true", help="the summary as one JSON object on stdout"
    )
    parser.add_argument(
        "--mutant", metavar="NAME", help="run against a broken variant of properties/mutants.py"
    )


class Refused(Exception):
    """A bad option value: one line on stderr, exit 2."""


def check_mutant(name: str | None) -> None:
    """An unknown broken variant is refused, listing the valid names."""
    if name is None:  # no variant: the variants are not even imported
        return
    from properties.mutants import MUTANTS

    if name not in MUTANTS:
        raise Refused(f"--mutant {name}: no such variant (valid: {', '.join(MUTANTS)})")


@contextlib.contextmanager
def under_mutant(name: str | None) -> Iterator[None]:
    """The broken variant ``name`` of properties/mutants.py applied (none: the model)."""
    if name is None:
        yield
        return
    from properties.mutants import MUTANTS

    with MUTANTS[name].applied():
        yield
