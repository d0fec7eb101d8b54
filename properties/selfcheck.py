"""The suite proves it can fail: run the campaign against every broken variant
of properties/mutants.py (``vmss-spec mutants``) and tabulate, per seed,
which property caught it.

A variant is caught on a seed when the campaign's counterexamples include
its expected property; a seed whose campaign names only other properties
shows the first of them in brackets (caught, but not by the property that
states the broken rule), and one with no counterexample at all shows
``MISSED``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from properties.campaign import run_campaign
from properties.mutants import MUTANTS

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True


def check_mutant(
    name: str, profile: str, seed: int, out_dir: str | Path | None = None
) -> tuple[str | None, bool, float]:
    """Run the campaign ``profile`` on ``seed`` with the variant ``name``
    applied: (the property that caught it, whether the expected one is among
    the counterexamples, seconds). The property is the expected one when
    found, else the first counterexample's, else None (it survived)."""
    mutant = MUTANTS[name]
    with tempfile.TemporaryDirectory() as tmp, mutant.applied():
        start = time.perf_counter()
        outcome = run_campaign(profile, seed=seed, out_dir=out_dir or tmp, database=False)
        seconds = time.perf_counter() - start
    found = [ce.invariant for ce in outcome.counterexamples]
    if mutant.invariant in found:
        return mutant.invariant, True, seconds
    return (found[0] if found else None), False, seconds


def _check(args: tuple[str, str, int]) -> tuple[str, int, str | None, bool, float]:
    name, profile, seed = args
    return (name, seed, *check_mutant(name, profile, seed))


def run_selfcheck(
    profile: str = "default",
    seeds: Sequence[int] = (1, 2, 3),
    names: Iterable[str] | None = None,
    workers: int = 1,
    progress: Callable[[tuple[str, int, str | None, bool, float], int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every variant (or those ``names``) on every seed; one row per variant:
    name, rule, expected property, ``caught`` {seed: property or None},
    ``expected`` {seed: bool}, seconds (summed over the seeds). ``progress``
    is called with each (name, seed, caught by, expected, seconds) as it ends,
    how many have ended and how many there are."""
    chosen = list(names) if names else list(MUTANTS)
    unknown = [n for n in chosen if n not in MUTANTS]
    if unknown:
        raise KeyError(f"no such variant: {', '.join(unknown)}")
    jobs = [(name, profile, seed) for name in chosen for seed in seeds]
    results = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for found in as_completed([pool.submit(_check, job) for job in jobs]):
                results.append(found.result())
                if progress is not None:
                    progress(results[-1], len(results), len(jobs))
    else:
        for job in jobs:
            results.append(_check(job))
            if progress is not None:
                progress(results[-1], len(results), len(jobs))
    rows: dict[str, dict[str, Any]] = {}
    for name in chosen:
        m = MUTANTS[name]
        rows[name] = {
            "name": name,
            "rule": m.rule,
            "invariant": m.invariant,
            "caught": {},
            "expected": {},
            "seconds": 0.0,
        }
    for name, seed, caught_by, expected, seconds in results:
        row = rows[name]
        row["caught"][seed] = caught_by
        row["expected"][seed] = expected
        row["seconds"] += seconds
    return list(rows.values())


def survivors(rows: list[dict[str, Any]]) -> list[str]:
    """The variants that some seed did not catch with the expected property."""
    return [row["name"] for row in rows if not all(row["expected"].values())]


def format_selfcheck(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: variant, rule, expected property, what caught it on
    each seed (the property, ``MISSED``, or another property in brackets),
    seconds; then a summary line."""
    seeds = sorted({seed for row in rows for seed in row["caught"]})
    head = ["variant", "rule", "expected property", *(f"seed {s}" for s in seeds), "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        cells = [f"`{row['name']}`", row["rule"], f"`{row['invariant']}`"]
        for seed in seeds:
            caught_by = row["caught"].get(seed)
            if caught_by is None:
                cells.append("MISSED")
            elif row["expected"][seed]:
                cells.append(caught_by)
            else:
                cells.append(f"MISSED ({caught_by})")
        cells.append(f"{row['seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    missed = survivors(rows)
    lines.append("")
    lines.append(
        f"{len(rows) - len(missed)} of {len(rows)} variants caught by their expected "
        f"property on every seed" + (f"; not: {', '.join(missed)}" if missed else "")
    )
    return "\n".join(lines) + "\n"
