"""What ``vmss-spec verify`` prints: the progress line while a campaign runs,
the final table, the same summary as one JSON object (``--json``), and each
counterexample told in the project's words (its events and the command that
replays it), never Hypothesis' hints for test authors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from properties.campaign import UNBOUNDED, Campaign, CampaignResult, Counterexample
from properties.coverage import BOUNDARIES, EXTRA_SCENARIOS, RARE_BOUNDARIES, SCENARIOS
from properties.rules_all import PROPERTIES, STATES
from vmss_spec.replay import first_violation
from vmss_spec.workers import under_mutant

#: seconds between progress lines
PROGRESS_EVERY = 2.0


def replays_same(ce: Counterexample, mutant: str | None = None) -> str:
    """Whether ``vmss-spec replay`` of the saved trace (under the broken variant
    ``mutant``, if given) reports the same property at the same time:
    ``same`` (``same under NAME``), ``different (...)`` or why it cannot tell."""
    if ce.path is None:
        return "not saved"
    try:
        with under_mutant(mutant):
            found = first_violation(ce.path)
    except Exception as exc:  # a crash of the model replays as a crash
        return f"crash ({type(exc).__name__})"
    if found is None:
        return "different (no violation)"
    if (found.invariant, found.at) == (ce.invariant, ce.at):
        return "same" if mutant is None else f"same under {mutant}"
    return f"different ({found.invariant} at {found.at}s)"


def progress_line(stats: Campaign) -> str:
    """Examples and steps (and each per second), the time against the budget,
    the scenarios reached and the counterexamples found so far."""
    elapsed = max(stats.elapsed, 1e-9)
    budget = f" of {stats.budget:.0f}s" if stats.budget is not None else ""
    workers = f", {stats.workers} workers" if stats.workers > 1 else ""
    return (
        f"verify: {stats.examples} examples ({stats.examples / elapsed:.1f}/s), "
        f"{stats.steps} steps ({stats.steps / elapsed:.0f}/s), "
        f"{elapsed:.0f}s{budget}, {len(stats.scenarios)} scenarios, "
        f"{len(stats.failed)} counterexamples{workers}"
    )


def progress_printer(stream: TextIO, every: float = PROGRESS_EVERY) -> Callable[[Campaign], None]:
    """A progress callback: a line on ``stream`` at most every ``every`` seconds,
    rewritten in place (``\\r``) on a terminal, one line after another otherwise."""
    last = [time.monotonic()]
    live = stream.isatty()

    def show(stats: Campaign) -> None:
        now = time.monotonic()
        if now - last[0] < every:
            return
        last[0] = now
        line = progress_line(stats)
        stream.write(f"\r{line}\x1b[K" if live else f"{line}\n")
        stream.flush()

    return show


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    cells = [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) for k, h in enumerate(headers)]
    line = "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths, strict=True)).rstrip()
    lines = [line, "  ".join("-" * w for w in widths)]
    for row in cells:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def _unshrunk(outcome: CampaignResult) -> list[str]:
    """Properties an interrupted campaign saw fail before it could shrink them."""
    if not outcome.interrupted:
        return []
    saved = {ce.invariant for ce in outcome.counterexamples}
    return sorted(outcome.campaign.failed - saved)


def _verdict(outcome: CampaignResult, name: str) -> str:
    if name in {ce.invariant for ce in outcome.counterexamples} or name in _unshrunk(outcome):
        return "VIOLATED"
    if name in outcome.vacuous:
        return "NEVER APPLIED"
    from properties.rules_all import REPLAY_ONLY

    if name in REPLAY_ONLY and not outcome.campaign.applications[name]:
        return "replay-only"
    return "held"


def _bound(outcome: CampaignResult) -> str:
    if outcome.budget is None:
        return f"up to {outcome.max_examples} examples"
    if outcome.max_examples >= UNBOUNDED:
        return f"for up to {outcome.budget:g}s, examples"
    return f"for up to {outcome.budget:g}s or {outcome.max_examples} examples"


def format_report(outcome: CampaignResult) -> str:
    """The final table of a campaign (partial when it was interrupted)."""
    stats = outcome.campaign
    workers = (
        f", {outcome.workers} workers (seeds {', '.join(map(str, outcome.seeds))})"
        if outcome.workers > 1
        else ""
    )
    lines = [
        f"vmss-spec verify: profile {outcome.profile}, seed {outcome.seed}, "
        f"{_bound(outcome)} of up to {outcome.steps} steps{workers}, {outcome.elapsed:.1f}s",
        "",
    ]
    if outcome.mutant is not None:
        from properties.mutants import MUTANTS

        broken = MUTANTS[outcome.mutant].description
        lines[1:1] = [f"under the broken variant {outcome.mutant}: {broken}"]
    if outcome.interrupted:
        lines[1:1] = ["INTERRUPTED: the counts below are of what ran before the interrupt"]
    lines += _table(
        ("property", "rules", "evaluations", "applied", "result", "what must hold"),
        [
            (
                name,
                STATES[name],
                stats.evaluations[name],
                stats.applications[name],
                _verdict(outcome, name),
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
    if _unshrunk(outcome):
        lines.append(
            f"failed before the interrupt, not shrunk or saved: {', '.join(_unshrunk(outcome))}"
        )
    lines.append("")
    if outcome.counterexamples:
        lines += _table(
            ("counterexample", "property", "at", "events", "replay", "trace"),
            [
                (
                    k,
                    ce.invariant,
                    f"{ce.at}s",
                    ce.events,
                    replays_same(ce, outcome.mutant),
                    ce.path or "-",
                )
                for k, ce in enumerate(outcome.counterexamples, 1)
            ],
        )
        for k, ce in enumerate(outcome.counterexamples, 1):
            found = f" (worker seed {ce.seed})" if outcome.workers > 1 else ""
            lines.append(f"counterexample {k}: {ce.invariant} at {ce.at}s{found}: {ce.message}")
    elif outcome.error is not None:
        first = str(outcome.error).strip().splitlines()
        lines.append(
            f"error: {type(outcome.error).__name__}: {first[0] if first else ''}".rstrip(": ")
        )
    elif outcome.interrupted and not _unshrunk(outcome):
        lines.append("counterexamples: none in what ran before the interrupt")
    elif outcome.interrupted:
        lines.append("counterexamples: none saved before the interrupt")
    elif outcome.vacuous or outcome.unreached:
        lines.append("counterexamples: none, but the campaign did not put every rule to the test")
    else:
        lines.append("counterexamples: none; every property held, each on the steps it applied to")
    return "\n".join(lines) + "\n"


def replay_command(ce: Counterexample, mutant: str | None) -> str:
    variant = f" --mutant {mutant}" if mutant is not None else ""
    return f"vmss-spec replay{variant} {ce.path}"


def failure_account(outcome: CampaignResult) -> str:
    """Each counterexample as the project tells it: the property, the events
    of the shrunk history (from its saved trace) and the command that replays
    it. (Hypothesis' own account, in terms of the test machine's rule and its
    ``@reproduce_failure`` hint, is for test authors and is not shown.)"""
    lines: list[str] = []
    for k, ce in enumerate(outcome.counterexamples, 1):
        lines.append(
            f"counterexample {k}: {ce.invariant} ({PROPERTIES.get(ce.invariant, '?')}) "
            f"violated at {ce.at}s (seed {ce.seed})"
        )
        lines.append(f"  {ce.message}")
        events = _events(ce)
        if events is None:
            lines.append("  (the trace was not saved)")
            continue
        lines.append(f"  the shrunk history, {len(events)} events:" if events else "  no events:")
        lines += [f"    {line}" for line in events]
        lines.append(f"  replay it: {replay_command(ce, outcome.mutant)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _events(ce: Counterexample) -> list[str] | None:
    if ce.path is None:
        return None
    try:
        data = json.loads(ce.path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    shown = []
    for ev in data.get("events", []) if isinstance(data, dict) else []:
        if isinstance(ev, dict):
            rest = {k: v for k, v in ev.items() if k not in ("at", "event")}
            args = ", ".join(f"{k}={json.dumps(v)}" for k, v in rest.items())
            shown.append(f"at {ev.get('at')}s: {ev.get('event')}({args})")
    return shown


def summary(outcome: CampaignResult, status: int) -> dict[str, Any]:
    """The final summary as one JSON-ready object (``verify --json``)."""
    stats = outcome.campaign
    return {
        "profile": outcome.profile,
        "seed": outcome.seed,
        "workers": outcome.workers,
        "worker_seeds": outcome.seeds,
        "mutant": outcome.mutant,
        "budget_seconds": outcome.budget,
        "max_examples": None if outcome.max_examples >= UNBOUNDED else outcome.max_examples,
        "steps_per_example": outcome.steps,
        "examples": stats.examples,
        "steps": stats.steps,
        "elapsed_seconds": round(outcome.elapsed, 3),
        "interrupted": outcome.interrupted,
        "exit_status": status,
        "properties": [
            {
                "name": name,
                "rules": STATES[name],
                "evaluations": stats.evaluations[name],
                "applications": stats.applications[name],
                "verdict": _verdict(outcome, name).lower(),
            }
            for name in PROPERTIES
        ],
        "scenarios": {
            name: stats.scenarios[name]
            for name in SCENARIOS + EXTRA_SCENARIOS + BOUNDARIES + RARE_BOUNDARIES
        },
        "never_applied": outcome.vacuous,
        "failed_not_shrunk": _unshrunk(outcome),
        "unreached": outcome.unreached,
        "counterexamples": [
            {
                "property": ce.invariant,
                "at": ce.at,
                "message": ce.message,
                "events": ce.events,
                "trace": None if ce.path is None else str(ce.path),
                "seed": ce.seed,
                "replay": replays_same(ce, outcome.mutant),
            }
            for ce in outcome.counterexamples
        ],
        "error": None
        if outcome.error is None or outcome.counterexamples
        else f"{type(outcome.error).__name__}: {str(outcome.error).strip()[:500]}",
    }
