"""``vmss-spec check SCOPE``: every behaviour of a small scope (SPEC section
8), explored breadth first by properties/explore.py with every property on.

SCOPE is a standard scope by name (``small``, ``rollback``,
``service-fabric``, ``credentials``: properties/scopes/) or a scope file
(TOML or JSON, properties/scope.py). The result says what was explored
(distinct states, transitions, the longest behaviour, the bytes of the
visited table per state, the chance of a fingerprint collision), per
property the transitions on which its rule applied, and "no violation in
this scope" only when every state was explored. A violation is printed with
its shortest behaviour and saved as a trace file (``--out``) that ``replay``
reports with the same property at the same time. Exit status: 0 complete
with no violation, 1 a violation, 2 refused input, 3 incomplete (a cap was
reached), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from vmss_spec.options import (
    MAX_WORKERS,
    Refused,
    check_mutant,
    parse_duration,
    under_mutant,
    whole,
)

INCOMPLETE = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scope", help="a standard scope (small, rollback, service-fabric, "
                   "credentials) or a scope file (TOML or JSON)")  # fmt: skip
    p.add_argument("--max-states", type=whole(1), metavar="N", help="stop after N distinct states")
    p.add_argument("--duration", type=parse_duration, help="stop after this long (30s, 10m)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--workers",
        type=whole(1, MAX_WORKERS),
        default=1,
        metavar="N",
        help="processes sharing the states (each owns a share of the fingerprints)",
    )
    p.add_argument("--out", default="counterexample.json", metavar="FILE",
                   help="where a counterexample trace is written (default counterexample.json; "
                   "an existing file is never overwritten)")  # fmt: skip
    p.add_argument(
        "--mutant", metavar="NAME", help="explore a broken variant of properties/mutants*.py"
    )


def main(args: argparse.Namespace) -> int:
    from properties.scope import ScopeError, load_scope

    try:
        check_mutant(args.mutant)
        scope = load_scope(args.scope)
        out = _free(args.out)
    except (Refused, ScopeError) as exc:
        print(f"vmss-spec check: {exc}", file=sys.stderr)
        return 2
    from properties.explore import explore

    live = sys.stderr.isatty()

    def progress(outcome: Any, queue: int, seconds: float) -> None:
        line = (
            f"check {scope.name}: {outcome.states:,} distinct states, queue {queue:,}, "
            f"depth {outcome.depth}, {outcome.states / seconds:,.0f} states/s"
        )
        sys.stderr.write(("\r" + line) if live else line + "\n")
        sys.stderr.flush()

    interrupted = [False]

    def on_interrupt(_signum: int, _frame: Any) -> None:
        interrupted[0] = True  # the check stops between two states and says what it explored

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        with under_mutant(args.mutant):
            caps = {"max_states": args.max_states, "duration": args.duration}
            if args.workers > 1:
                from properties.explore_workers import explore_parallel

                outcome = explore_parallel(
                    scope, args.workers, progress=progress, stop=lambda: interrupted[0], **caps
                )
            else:
                outcome = explore(scope, progress=progress, stop=lambda: interrupted[0], **caps)
    finally:
        signal.signal(signal.SIGINT, previous)
    if live:
        sys.stderr.write("\n")
    saved = None
    if outcome.counterexample is not None:
        saved = _save(out, outcome.counterexample)
    if args.json:
        print(json.dumps(result_document(outcome, saved), indent=2))
    else:
        print("\n".join(result_lines(outcome, saved)))
    if outcome.violation is not None:
        return 1
    if outcome.stopped == "interrupted":
        return 130
    return 0 if outcome.complete else INCOMPLETE


def _free(where: str) -> Path:
    """The counterexample's path: never an existing file, in a folder that exists."""
    path = Path(where)
    if where == "" or path.is_dir():
        raise Refused(f"--out {where!r}: not a file name")
    if path.exists():
        raise Refused(f"--out {where}: exists already (never overwritten)")
    if not path.parent.is_dir():
        raise Refused(f"--out {where}: no folder {path.parent}")
    return path


def _save(path: Path, trace: dict[str, Any]) -> Path | None:
    from vmss_spec.output import write_whole

    try:
        write_whole(path, json.dumps(trace, indent=2) + "\n")
    except OSError as exc:
        print(f"vmss-spec check: --out {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    return path


def result_document(outcome: Any, saved: Path | None) -> dict[str, Any]:
    from properties.explore import ABSTRACTION

    v = outcome.violation
    return {
        "format": "vmss-check-result/1",
        "scope": outcome.scope,
        "complete": outcome.complete,
        "stopped": outcome.stopped,
        "states": outcome.states,
        "transitions": outcome.transitions,
        "depth": outcome.depth,
        "seconds": round(outcome.seconds, 3),
        "bytes_per_state": round(outcome.table_bytes / max(outcome.states, 1), 1),
        "collision_probability": outcome.collision_probability,
        "abstraction": ABSTRACTION,
        "applied": outcome.applied,
        "violation": None
        if v is None
        else {"property": v.invariant, "at": v.at, "message": v.message},
        "counterexample": None if saved is None else str(saved),
        "counterexample_transitions": outcome.counterexample_length if v else None,
    }


def result_lines(outcome: Any, saved: Path | None) -> list[str]:
    from properties.explore import ABSTRACTION

    per_state = outcome.table_bytes / max(outcome.states, 1)
    lines = [
        f"scope {outcome.scope}: {outcome.states:,} distinct states, "
        f"{outcome.transitions:,} transitions, longest behaviour {outcome.depth} transitions, "
        f"{outcome.seconds:.1f} s ({outcome.states_per_second:,.0f} states/s)",
        f"  visited states: 64-bit fingerprints, {per_state:.1f} bytes per state; "
        f"probability of a collision {outcome.collision_probability:.1e}",
        f"  moments explored (E2): {ABSTRACTION}",
        "  transitions on which each rule applied:",
    ]
    width = max(map(len, outcome.applied), default=0)
    for name, count in outcome.applied.items():
        lines.append(f"    {name:<{width}}  {count:,}")
    v = outcome.violation
    if v is not None:
        lines.append(f"VIOLATION {v.invariant} at {v.at}: {v.message}")
        lines.append(
            f"  shortest behaviour: {outcome.counterexample_length} transitions"
            + (f", saved as {saved} (vmss-spec replay {saved})" if saved else "")
        )
    elif outcome.complete:
        lines.append("no violation in this scope")
    else:
        lines.append(f"INCOMPLETE ({outcome.stopped}): no violation among the states explored")
    return lines
