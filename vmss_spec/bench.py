"""Benchmarks (`vmss-spec bench`): the model's cost per step at fleet scale
and the property suite's throughput. Figures, never assertions: the README
publishes them with the machine they came from.

- fleet: a complete automatic upgrade (publication to Completed, with a
  probe, default policy) of 100, 1,000 and 10,000 instances: wall seconds
  without and with the invariant checker, peak traced memory, internal steps
  per second. 10,000 exceeds V9's 1,000: the benchmark builds the
  configuration directly, as only a trace or a scale-out is held to V9.
- stateful: the Hypothesis machine's steps per second next to a trivial
  RuleBasedStateMachine's in the same process (the engine's own floor), in
  interleaved pairs; the ratio is what carries over to other machines.
- workers: ``verify --workers 1`` and ``2`` with the same time budget.
- trace: loading and replaying a 100,000-event trace (vmss_spec/trace_bench.py).
- variants (``--variants``): the seconds the CI profile takes to find each
  broken variant.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.config import HealthProbe, ImageReference, ScaleSetConfig
from model.events import PublishImage
from model.facts import observe
from model.run import Code
from model.scaleset import ScaleSet
from properties.checker import Checker

FLEET_SIZES = (100, 1000, 10000)


def fleet_config(instances: int) -> ScaleSetConfig:
    """A default scale set with a probe (multiple placement groups above 100)."""
    return ScaleSetConfig(
        instances=instances,
        image=ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest"),
        health_probe=HealthProbe("load_balancer"),
        single_placement_group=instances <= 100,
    )


def upgrade_fleet(instances: int, *, check: bool) -> tuple[float, int]:
    """One complete automatic upgrade; returns (wall seconds, internal steps)."""
    config = fleet_config(instances)
    start = time.perf_counter()
    ss = ScaleSet(config)
    checker = None
    if check:
        checker = observe(ss, Checker)
    ss.apply(PublishImage(at=0, version="1.0.1"))
    ss.run_until_idle(10**9)
    seconds = time.perf_counter() - start
    run = ss.runs[-1]
    if run.code != Code.COMPLETED or (checker is not None and checker.violations):
        raise RuntimeError(f"the benchmark upgrade of {instances} did not complete cleanly")
    return seconds, ss.steps_taken


def peak_mb(instances: int) -> float:
    """Peak traced Python memory of one complete upgrade, in MB."""
    gc.collect()
    tracemalloc.start()
    try:
        upgrade_fleet(instances, check=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def bench_fleet(repeat: int = 5, sizes: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    """Each size's best wall time over ``repeat`` rounds (the timeit convention:
    the least disturbed run), the sizes interleaved within each round so that
    a busy moment of the machine does not fall on one size only."""
    sizes = sizes or FLEET_SIZES
    plain: dict[int, list[float]] = {n: [] for n in sizes}
    checked: dict[int, list[float]] = {n: [] for n in sizes}
    steps = {n: upgrade_fleet(n, check=False)[1] for n in sizes}  # also warms up
    for _ in range(repeat):
        for n in sizes:
            gc.collect()  # each run starts with no garbage of the previous one to collect
            plain[n].append(upgrade_fleet(n, check=False)[0])
            gc.collect()
            checked[n].append(upgrade_fleet(n, check=True)[0])
    return [
        {
            "instances": n,
            "seconds": round(min(plain[n]), 4),
            "seconds_with_invariants": round(min(checked[n]), 4),
            "peak_mb": round(peak_mb(n), 1),
            "steps_per_second": round(steps[n] / min(plain[n])),
        }
        for n in sizes
    ]


# ---------------------------------------------------------------- stateful throughput
def _stateful_settings(examples: int, steps: int) -> Any:
    from hypothesis import HealthCheck, Phase, settings

    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def floor_machine() -> type:
    """The Hypothesis engine's own floor: a trivial RuleBasedStateMachine with
    one rule drawing an integer and one invariant (as the real machine has)."""
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

    class Floor(RuleBasedStateMachine):
        steps = 0

        def __init__(self) -> None:
            super().__init__()
            self.total = 0

        @rule(n=st.integers(0, 100))
        def add(self, n: int) -> None:
            self.total += n

        @invariant()
        def counted(self) -> None:
            type(self).steps += 1

    return Floor


def bench_stateful(examples: int = 200, steps: int = 50, rounds: int = 3) -> dict[str, Any]:
    """Steps per second of the property machine and of the engine's floor,
    measured in ``rounds`` interleaved pairs (floor, then machine) so that a
    busy moment of the machine falls on both; the ratio is each pair's, and
    the figures reported are the pair with the median ratio, with the spread
    of the ratios. Each round also runs the same examples with no property
    checked (the model and the actions alone), in the same moment: the
    properties' share of the machine's time is what that run does not spend."""
    from hypothesis.stateful import run_state_machine_as_test

    from properties.campaign import Campaign
    from properties.machine import UpgradeMachine

    chosen = _stateful_settings(examples, steps)
    pairs: list[tuple[float, float]] = []
    alone: list[tuple[float, float]] = []  # (model alone, machine): steps/s
    for _ in range(rounds):
        floor = floor_machine()
        gc.collect()
        start = time.perf_counter()
        run_state_machine_as_test(floor, settings=chosen)
        floor_rate = floor.steps / (time.perf_counter() - start)
        stats = Campaign(out_dir=None)
        gc.collect()
        start = time.perf_counter()
        run_state_machine_as_test(UpgradeMachine.for_campaign(stats), settings=chosen)
        rate = stats.steps / (time.perf_counter() - start)
        pairs.append((rate, floor_rate))
        quiet = Campaign(out_dir=None)
        gc.collect()
        start = time.perf_counter()
        run_state_machine_as_test(
            UpgradeMachine.for_campaign(quiet, checking=False), settings=chosen
        )
        alone.append((quiet.steps / (time.perf_counter() - start), rate))
    shares = sorted(1 - rate / model for model, rate in alone)
    model_rate = sorted(a[0] / p[1] for a, p in zip(alone, pairs, strict=True))
    pairs.sort(key=lambda pair: pair[0] / pair[1])
    rate, floor_rate = pairs[len(pairs) // 2]
    ratios = [r / f for r, f in pairs]
    return {
        "steps_per_second": round(rate),
        "engine_floor_steps_per_second": round(floor_rate),
        "ratio": round(rate / floor_rate, 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "rounds": rounds,
        #: the same examples with no property checked, against the floor (median)
        "model_alone_ratio": round(model_rate[len(model_rate) // 2], 3),
        #: the share of the machine's time the properties take (median, spread)
        "properties_share": round(shares[len(shares) // 2], 3),
        "properties_share_min": round(shares[0], 3),
        "properties_share_max": round(shares[-1], 3),
    }


def bench_trace_load(events: int = 100_000, repeat: int = 3) -> dict[str, Any]:
    """Loading (decode, validate, convert) and replaying (the model alone) a
    trace of ``events`` events: seconds and events per second."""
    from vmss_spec.trace_bench import bench_validation

    figures = bench_validation(events=events, repeat=repeat)
    both = figures["load_seconds"] + figures["replay_seconds"]
    return {
        "events": figures["events"],
        "bytes": figures["bytes"],
        "load_seconds": round(figures["load_seconds"], 3),
        "load_events_per_second": round(figures["events_per_second"]),
        "replay_seconds": round(figures["replay_seconds"], 3),
        "replay_events_per_second": round(figures["replay_events_per_second"]),
        "load_and_replay_events_per_second": round(figures["events"] / both),
    }


# ---------------------------------------------------------------- broken variants
def bench_variants(
    seeds: tuple[int, ...] = (0, 1, 2), names: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """Seconds the CI profile takes to find (and shrink) each broken variant of
    properties/mutants.py (or those ``names``), the median over ``seeds``;
    ``None`` when a seed's campaign did not find it."""
    import tempfile

    from properties.campaign import run_campaign
    from properties.mutants import MUTANTS

    rows = []
    for name in names or tuple(MUTANTS):
        mutant = MUTANTS[name]
        times = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as out, mutant.applied():
                start = time.perf_counter()
                outcome = run_campaign("ci", seed=seed, out_dir=out, database=False)
                elapsed = time.perf_counter() - start
            found = any(ce.invariant == mutant.invariant for ce in outcome.counterexamples)
            times.append(elapsed if found else float("inf"))
        seconds = statistics.median(times)
        found_in = None if seconds == float("inf") else round(seconds, 2)
        rows.append({"name": name, "seconds": found_in})
    return rows


# ---------------------------------------------------------------- every core
def bench_workers(seconds: float = 10.0, counts: tuple[int, ...] = (1, 2)) -> list[dict[str, Any]]:
    """Steps per second of a ``verify --workers N`` campaign (default profile,
    seed 0, a time budget of ``seconds``) for each N, all counted over the
    wall-clock time of the whole campaign (forking and merging included), and
    each N's speed-up over the first."""
    import tempfile

    from properties.campaign import Campaign
    from vmss_spec.workers import run_workers

    rows: list[dict[str, Any]] = []
    for workers in counts:
        with tempfile.TemporaryDirectory() as out:
            outcome = run_workers(
                workers,
                profile="default",
                seed=0,
                max_examples=None,
                steps=None,
                out_dir=Path(out),
                database=False,
                budget=seconds,
                mutant=None,
                progress=None,
                stop=Campaign(out_dir=None),
            )
        rate = outcome.campaign.steps / outcome.elapsed
        rows.append(
            {
                "workers": workers,
                "seconds": round(outcome.elapsed, 2),
                "examples": outcome.campaign.examples,
                "steps": outcome.campaign.steps,
                "steps_per_second": round(rate),
                #: a counterexample found is shrunk past the budget (its steps count too)
                "counterexamples": len(outcome.counterexamples),
                "speedup": round(rate / rows[0]["steps_per_second"], 2) if rows else 1.0,
            }
        )
    return rows


# ---------------------------------------------------------------- the command
def run_bench(
    quick: bool = False,
    variants: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every figure of the benchmark, in one process run (the seconds to find
    each broken variant only when asked: ``vmss-spec mutants`` times them all);
    ``progress`` hears a line as each part begins and ends."""
    from vmss_spec.check_bench import bench_check
    from vmss_spec.scaling import bench_scaling, bench_startup

    say = progress or (lambda line: None)
    example = Path(__file__).resolve().parent.parent / "examples" / "rolling-upgrade-10.json"
    parts: list[tuple[str, Callable[[], Any]]] = [
        ("fleet", lambda: bench_fleet(repeat=1 if quick else 5)),
        (
            "stateful",
            lambda: bench_stateful(examples=50 if quick else 200, rounds=1 if quick else 3),
        ),
        ("workers", lambda: bench_workers(seconds=3.0 if quick else 10.0)),
        (
            "trace",
            lambda: bench_trace_load(events=10_000 if quick else 100_000, repeat=1 if quick else 3),
        ),
        ("startup", lambda: bench_startup(example, repeat=3 if quick else 5)),
        ("scaling", lambda: bench_scaling(quick=quick, repeat=1 if quick else 2, progress=say)),
        ("check", lambda: bench_check(quick=quick)),
    ]
    if variants:
        parts.append(("variants", lambda: bench_variants(seeds=(0,) if quick else (0, 1, 2))))
    from vmss_spec.bench_page import machine

    figures: dict[str, Any] = {"machine": machine()}
    for k, (name, measure) in enumerate(parts, 1):
        say(f"[{k}/{len(parts)}] {name}...")
        start = time.perf_counter()
        figures[name] = measure()
        say(f"[{k}/{len(parts)}] {name}: {time.perf_counter() - start:.1f}s")
    return figures


def format_bench(figures: dict[str, Any]) -> str:
    lines = ["fleet: one complete automatic upgrade (publication to Completed, probe, defaults)"]
    lines.append(
        f"  {'instances':>9}  {'seconds':>8}  {'with invariants':>15}  {'peak MB':>7}  "
        f"{'steps/s':>8}"
    )
    for row in figures["fleet"]:
        lines.append(
            f"  {row['instances']:>9}  {row['seconds']:>8.3f}  "
            f"{row['seconds_with_invariants']:>15.3f}  {row['peak_mb']:>7.1f}  "
            f"{row['steps_per_second']:>8}"
        )
    s = figures["stateful"]
    lines.append("")
    lines.append(
        f"stateful: {s['steps_per_second']} steps/s; engine floor "
        f"{s['engine_floor_steps_per_second']} steps/s; ratio {s['ratio']:.2f}"
        + (
            f" (median of {s['rounds']} interleaved pairs; {s['ratio_min']:.2f} to "
            f"{s['ratio_max']:.2f})"
            if s.get("rounds", 1) > 1
            else ""
        )
    )
    if "properties_share" in s:
        lines.append(
            f"  the same examples with no property checked: ratio {s['model_alone_ratio']:.2f}; "
            f"the properties take {s['properties_share']:.0%} of the machine's time "
            f"({s['properties_share_min']:.0%} to {s['properties_share_max']:.0%})"
        )
    t = figures.get("trace")
    if t:
        lines.append("")
        lines.append(
            f"trace: {t['events']:,} events ({t['bytes'] / 1e6:.1f} MB) loaded in "
            f"{t['load_seconds']:.2f}s ({t['load_events_per_second']:,} events/s), replayed "
            f"in {t['replay_seconds']:.2f}s ({t['replay_events_per_second']:,} events/s); "
            f"both: {t['load_and_replay_events_per_second']:,} events/s"
        )
    if figures.get("workers"):
        lines.append("")
        lines.append("verify --workers N: a campaign with a time budget (default profile, seed 0)")
        lines.append(f"  {'workers':>7}  {'seconds':>7}  {'steps':>7}  {'steps/s':>7}  speed-up")
        for row in figures["workers"]:
            lines.append(
                f"  {row['workers']:>7}  {row['seconds']:>7.1f}  {row['steps']:>7}  "
                f"{row['steps_per_second']:>7}  {row['speedup']:.2f}x"
            )
    u = figures.get("startup")
    if u:
        lines.append("")
        lines.append(
            f"startup: python -c pass {u['python_pass_seconds']:.3f}s; --version "
            f"{u['version_seconds']:.3f}s ({u['version_ratio']:.2f}x); the imports a replay "
            f"needs {u['replay_imports_seconds']:.3f}s; replaying a 10-instance example "
            f"{u['replay_example_seconds']:.3f}s ({u['replay_ratio']:.2f}x those imports)"
        )
    if figures.get("check"):
        from vmss_spec.check_bench import format_check

        lines.append("")
        lines.extend(format_check(figures["check"]))
    if figures.get("scaling"):
        from vmss_spec.scaling import format_scaling

        lines.append("")
        lines.extend(format_scaling(figures["scaling"]))
    if "variants" not in figures:
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.append("broken variants: seconds for the CI profile to find each (median)")
    for row in figures["variants"]:
        found = "not found" if row["seconds"] is None else f"{row['seconds']:.2f}"
        lines.append(f"  {row['name']:<44} {found}")
    return "\n".join(lines) + "\n"
