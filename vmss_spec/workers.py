"""A campaign on every core: ``vmss-spec verify --workers N``.

Each worker is a process that runs its own campaign (properties/campaign.py
``run_campaign``) with a seed derived from the campaign's (worker 1 uses the
seed itself, so one worker is exactly the single-process campaign), the same
budget, output directory and example database. Workers send their counts to
the parent every second (progress) and when they end; the parent merges them
into one :class:`CampaignResult`: evaluations and applications summed per
property, scenarios merged, counterexamples deduplicated by property (each
listed with the seed of the worker that found it).

An interrupt (SIGINT, SIGTERM) sets the campaign's ``interrupted`` flag: the
machine stops at its next step, and the workers report what they ran.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from properties.campaign import (
    Campaign,
    CampaignResult,
    derived_seed,
    run_campaign,
)
from vmss_spec.options import under_mutant

#: seconds between a worker's progress messages
_REPORT_EVERY = 1.0
#: seconds the parent waits for interrupted workers to report
_GRACE = 30.0


class WorkerError(RuntimeError):
    """A worker's campaign broke (the text is its exception's first line)."""


def worker_seeds(seed: int, workers: int) -> list[int]:
    """The seed of each worker: the campaign's own, then seeds derived from it."""
    return [seed if k == 0 else derived_seed(seed, "worker", k) for k in range(workers)]


def _snapshot(stats: Campaign) -> dict[str, Any]:
    return {
        "examples": stats.examples,
        "steps": stats.steps,
        "evaluations": stats.evaluations,
        "applications": stats.applications,
        "scenarios": stats.scenarios,
        "failed": stats.failed,
        "counterexamples": stats.counterexamples,
    }


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _worker(index: int, kwargs: dict[str, Any], mutant: str | None, out: Any) -> None:
    """One worker process: its campaign, its progress, its result on ``out``."""
    stats = Campaign()

    def stop(signum: int, frame: Any) -> None:
        if stats.interrupted:  # a second signal: stop hard
            raise KeyboardInterrupt
        stats.interrupted = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    last = [0.0]

    def progress(campaign: Campaign) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY:
            last[0] = now
            out.put(("progress", index, _snapshot(campaign)))

    try:
        with under_mutant(mutant):
            result = run_campaign(**kwargs, progress=progress, stats=stats)
        error = None if result.error is None else _first_line(result.error)
        out.put(
            (
                "done",
                index,
                {
                    **_snapshot(stats),
                    "error": error,
                    "report": result.report,
                    "interrupted": result.interrupted,
                },
            )
        )
    except BaseException as exc:  # the parent reports it
        out.put(("done", index, {**_snapshot(stats), "error": _first_line(exc), "report": []}))


def merge(
    snapshots: list[dict[str, Any]], started: float, budget: float | None, workers: int
) -> Campaign:
    """The workers' counts as one campaign: sums, merged scenarios, and each
    property's first counterexample (in worker order)."""
    total = Campaign(out_dir=None, budget=budget, workers=workers)
    total.started = started
    seen: set[str] = set()
    for snap in snapshots:
        total.examples += snap["examples"]
        total.steps += snap["steps"]
        total.evaluations.update(snap["evaluations"])
        total.applications.update(snap["applications"])
        total.scenarios.update(snap["scenarios"])
        total.failed |= snap["failed"]
        for ce in snap["counterexamples"]:
            if ce.invariant not in seen:
                seen.add(ce.invariant)
                total.counterexamples.append(ce)
    return total


def run_workers(
    workers: int,
    *,
    profile: str,
    seed: int,
    max_examples: int | None,
    steps: int | None,
    out_dir: Path,
    database: bool | str,
    budget: float | None,
    mutant: str | None,
    progress: Callable[[Campaign], None] | None,
    stop: Campaign,
) -> CampaignResult:
    """Run ``workers`` processes and merge their campaigns. ``stop`` is the
    flag a signal handler sets (its ``interrupted``): the parent then passes
    the interrupt on to every worker and waits for their reports."""
    seeds = worker_seeds(seed, workers)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = []
    started = time.monotonic()
    for k, worker_seed in enumerate(seeds):
        kwargs = {
            "profile": profile,
            "seed": worker_seed,
            "max_examples": max_examples,
            "steps": steps,
            "out_dir": out_dir,
            "database": database,
            "budget": budget,
        }
        proc = ctx.Process(target=_worker, args=(k, kwargs, mutant, out), daemon=True)
        proc.start()
        procs.append(proc)
    latest: list[dict[str, Any]] = [_snapshot(Campaign()) for _ in seeds]
    final: dict[int, dict[str, Any]] = {}
    forwarded = False
    deadline: float | None = None
    while len(final) < workers:
        if stop.interrupted and not forwarded:
            forwarded = True
            deadline = time.monotonic() + _GRACE
            for proc in procs:
                if proc.is_alive() and proc.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGINT)
        try:
            kind, index, snap = out.get(timeout=0.2)
        except queue.Empty:
            dead = [k for k, p in enumerate(procs) if not p.is_alive() and k not in final]
            late = deadline is not None and time.monotonic() > deadline
            for k in dead if not late else [k for k in range(workers) if k not in final]:
                final[k] = {**latest[k], "error": "the worker ended without a report", "report": []}
            continue
        latest[index] = snap
        if kind == "done":
            final[index] = snap
        elif progress is not None:
            progress(merge(latest, started, budget, workers))
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    ordered = [final[k] for k in range(workers)]
    for k, snap in enumerate(ordered):
        for ce in snap["counterexamples"]:
            ce.seed = seeds[k]
    stats = merge(ordered, started, budget, workers)
    errors = [f"worker {k + 1}: {s['error']}" for k, s in enumerate(ordered) if s.get("error")]
    probe = campaign_bounds(profile, max_examples, steps, budget)
    return CampaignResult(
        profile=profile,
        seed=seed,
        max_examples=probe[0],
        steps=probe[1],
        out_dir=out_dir,
        campaign=stats,
        elapsed=time.monotonic() - started,
        error=WorkerError("; ".join(errors)) if errors else None,
        report=[line for s in ordered for line in s.get("report", [])],
        interrupted=stop.interrupted or any(s.get("interrupted") for s in ordered),
        budget=budget,
        seeds=seeds,
        mutant=mutant,
    )


def campaign_bounds(
    profile: str, max_examples: int | None, steps: int | None, budget: float | None
) -> tuple[int, int]:
    """The examples and steps per example a campaign runs with these options."""
    from properties.campaign import UNBOUNDED, settings_for

    if budget is not None and max_examples is None:
        max_examples = UNBOUNDED
    chosen = settings_for(profile, max_examples=max_examples, steps=steps)
    return chosen.max_examples, chosen.stateful_step_count


__all__ = ["WorkerError", "merge", "run_workers", "under_mutant", "worker_seeds"]
