"""Scaling series (`vmss-spec bench`): how the cost of each command grows
with each dimension of a trace. Figures, never assertions.

Each shape is a family of valid traces (section 7) that grows in one
dimension only: regenerate/expire pairs of one credential, publications,
publications on 1,000 instances with zero timings, events of one kind
(application health answers, outages, scaling, opt-in and opt-out), a mix of
every kind, and one outage naming more instance ids than section 7's bound
(refused: the time to print the one line). Each size is twice the one
before. Every command runs end to end in this process through
``vmss_spec.cli.main`` (load, replay with every property, output), its
standard output written to a file: ``replay``, ``explain``, ``replay --json``
and ``replay --html``. A shape's growth per doubling is the geometric mean
of the time ratios from each size to the next (the largest time over the
smallest, to the power one over the number of doublings: one slow run at one
size weighs less than in the last ratio alone); its exponent is that
growth's base-2 logarithm (1 is linear, 2 quadratic).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model.trace import TRACE_FORMAT

#: the commands each trace is given to (``{trace}``, ``{page}``: paths)
MODES: dict[str, tuple[str, ...]] = {
    "replay": ("replay", "{trace}"),
    "explain": ("explain", "{trace}"),
    "json": ("replay", "{trace}", "--json"),
    "html": ("replay", "{trace}", "--html", "{page}"),
}

_IMAGE = {
    "publisher": "Canonical",
    "offer": "UbuntuServer",
    "sku": "18.04-LTS",
    "version": "latest",
}


def _scale_set(instances: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "instances": instances,
        "image": dict(_IMAGE),
        "catalog": ["18.04.201810030"],
        "health_probe": {"kind": "load_balancer"},
        "single_placement_group": instances <= 100,
        **extra,
    }


def _version(k: int) -> str:
    return f"18.04.{201810031 + k}"


def credentials(n: int) -> dict[str, Any]:
    """``n`` regenerate/expire pairs of the one credential an extension uses."""
    events = []
    for k in range(n):
        at = 10 + 20 * k
        events.append(
            {"at": at, "event": "regenerate_credential", "name": "sas", "expires_at": 10**9 + k}
        )
        events.append({"at": at + 10, "event": "expire_credential", "name": "sas"})
    ss = _scale_set(
        extensions=[{"name": "CustomScript", "credentials": ["sas"]}],
        credentials={"sas": {"expires_at": 10**9}},
    )
    return {"format": TRACE_FORMAT, "scale_set": ss, "events": events}


def publications(n: int) -> dict[str, Any]:
    """``n`` publications, one every 1,000 s (each run completes before the next)."""
    events = [
        {"at": 100 + 1000 * k, "event": "publish_image", "version": _version(k)} for k in range(n)
    ]
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": events}


def fleet_publications(n: int) -> dict[str, Any]:
    """``n`` publications on 1,000 instances whose operations take no time."""
    zero = {"os_disk_seconds": 0, "extension_seconds": 0, "app_start_seconds": 0}
    ss = _scale_set(1000, timings={**zero, "health_wait_seconds": 0})
    events = [
        {"at": 100 + 100 * k, "event": "publish_image", "version": _version(k)} for k in range(n)
    ]
    return {"format": TRACE_FORMAT, "scale_set": ss, "events": events}


def app_health(n: int) -> dict[str, Any]:
    """``n`` application health answers, alternating, on rotating instances."""
    events = [
        {"at": 1 + k, "event": "app_health", "instances": [k % 10], "healthy": k % 3 != 0}
        for k in range(n)
    ]
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": events}


def outages(n: int) -> dict[str, Any]:
    """``n`` outages (a start and an end each), planned and unplanned."""
    events = []
    for k in range(n):
        ids = [k % 10, (k + 3) % 10]
        kind = "planned" if k % 2 else "unplanned"
        events.append({"at": 1 + 2 * k, "event": "outage_start", "instances": ids, "kind": kind})
        events.append({"at": 2 + 2 * k, "event": "outage_end", "instances": ids})
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": events}


def scaling(n: int) -> dict[str, Any]:
    """``n`` scale-outs of two instances, each followed by a scale-in of two."""
    events = []
    for k in range(n):
        events.append({"at": 1 + 400 * k, "event": "scale_out", "count": 2})
        events.append({"at": 201 + 400 * k, "event": "scale_in", "count": 2})
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": events}


def opt_in_out(n: int) -> dict[str, Any]:
    """``n`` opt-outs, each followed by an opt-in."""
    events = []
    for k in range(n):
        events.append({"at": 1 + 2 * k, "event": "set_automatic_upgrade", "enabled": False})
        events.append({"at": 2 + 2 * k, "event": "set_automatic_upgrade", "enabled": True})
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": events}


def mixed(n: int) -> dict[str, Any]:
    """``n`` events of every kind (vmss_spec/trace_bench.py's trace)."""
    from vmss_spec.trace_bench import bench_trace

    return bench_trace(n)


def refused_ids(n: int) -> dict[str, Any]:
    """One outage naming ``n`` instance ids, more than section 7's bound."""
    event = {"at": 1, "event": "outage_start", "instances": list(range(n)), "kind": "planned"}
    return {"format": TRACE_FORMAT, "scale_set": _scale_set(), "events": [event]}


#: shape -> (what grows, how a trace of that size is made, sizes, quick sizes, modes)
SHAPES: dict[str, tuple[str, Callable[[int], dict[str, Any]], tuple[int, ...], tuple[int, ...]]] = {
    "credentials": ("regenerate/expire pairs", credentials, (2000, 4000, 8000), (500, 1000, 2000)),
    "publications": ("publications", publications, (500, 1000, 2000), (125, 250, 500)),
    "fleet": ("publications on 1,000 instances", fleet_publications, (5, 10, 20), (2, 4, 8)),
    "app_health": ("health answers", app_health, (5000, 10000, 20000), (1250, 2500, 5000)),
    "outages": ("outages", outages, (2500, 5000, 10000), (625, 1250, 2500)),
    "scaling": ("scale-out/in pairs", scaling, (500, 1000, 2000), (125, 250, 500)),
    "opt_in_out": ("opt-out/in pairs", opt_in_out, (2500, 5000, 10000), (625, 1250, 2500)),
    "mixed": ("events of every kind", mixed, (10000, 20000, 40000), (2500, 5000, 10000)),
    "refused_ids": (
        "ids in one outage (refused)",
        refused_ids,
        (250_000, 500_000, 1_000_000),
        (250_000, 500_000, 1_000_000),
    ),
}


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Standard output and error into files, as a shell redirection would."""
    with (
        open(path, "w", encoding="utf-8") as out,
        open(path.with_suffix(".err"), "w", encoding="utf-8") as err,
    ):
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


def time_command(argv: list[str], folder: Path, repeat: int) -> tuple[float, int]:
    """The best wall time of ``vmss-spec ARGV`` over ``repeat`` runs, and its exit status."""
    from vmss_spec.cli import main

    best, status = math.inf, 0
    for k in range(repeat):
        if argv[-1].endswith(".html"):
            Path(argv[-1]).unlink(missing_ok=True)
        gc.collect()
        with _output_to(folder / f"out-{k}.txt"):
            start = time.perf_counter()
            status = main(argv)
            best = min(best, time.perf_counter() - start)
    return best, status


def bench_scaling(
    quick: bool = False,
    repeat: int = 2,
    shapes: tuple[str, ...] | None = None,
    progress: Callable[[str], None] | None = None,
    sizes: tuple[int, ...] | None = None,
) -> list[dict[str, Any]]:
    """Every shape at its three sizes (or ``sizes``) in every mode: seconds,
    events per second, growth per doubling and exponent (see the module doc).
    Each mode runs once on the smallest trace before it is timed (a first
    call pays for what Python loads and caches once)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in shapes or tuple(SHAPES):
            what, make, full, small = SHAPES[name]
            chosen = sizes or (small if quick else full)
            warm = True
            modes = ("replay",) if name == "refused_ids" else tuple(MODES)
            seconds: dict[str, list[float]] = {mode: [] for mode in modes}
            events: list[int] = []
            statuses: dict[str, set[int]] = {mode: set() for mode in modes}
            for size in chosen:
                data = make(size)
                events.append(len(data["events"]))
                path = folder / f"{name}-{size}.json"
                path.write_text(json.dumps(data), encoding="utf-8")
                del data
                for mode in modes:
                    page = folder / "page.html"
                    argv = [a.format(trace=path, page=page) for a in MODES[mode]]
                    if warm:
                        time_command(argv, folder, 1)
                    took, status = time_command(argv, folder, repeat)
                    seconds[mode].append(took)
                    statuses[mode].add(status)
                path.unlink()
                warm = False
                if progress is not None:
                    progress(f"scaling: {name} at {size:,} done")
            for mode in modes:
                times = seconds[mode]
                doublings = len(times) - 1
                growth = (times[-1] / times[0]) ** (1 / doublings) if times[0] > 0 else math.inf
                rows.append(
                    {
                        "shape": name,
                        "grows": what,
                        "mode": mode,
                        "sizes": list(chosen),
                        "events": events,
                        "seconds": [round(t, 4) for t in times],
                        "events_per_second": round(events[-1] / times[-1]),
                        "growth_per_doubling": round(growth, 3),
                        "exponent": round(math.log2(growth), 3) if growth > 0 else 0.0,
                        "exit_statuses": sorted(statuses[mode]),
                    }
                )
    return rows


def format_scaling(rows: list[dict[str, Any]]) -> list[str]:
    """The series as lines of text (one per shape and mode)."""
    lines = [
        "scaling: seconds at each size (each twice the one before); mean growth per "
        "doubling and its exponent (1 is linear)",
        f"  {'shape':<12} {'mode':<8} {'sizes':<24} {'seconds':<28} {'events/s':>9}  "
        f"{'x/doubling':>10}  exponent",
    ]
    for r in rows:
        sizes = "/".join(f"{s:,}" for s in r["sizes"])
        secs = "/".join(f"{t:.3f}" for t in r["seconds"])
        lines.append(
            f"  {r['shape']:<12} {r['mode']:<8} {sizes:<24} {secs:<28} "
            f"{r['events_per_second']:>9,}  {r['growth_per_doubling']:>10.2f}  "
            f"{r['exponent']:.2f}"
        )
    worst = max(rows, key=lambda r: r["exponent"]) if rows else None
    if worst is not None:
        lines.append(
            f"  largest exponent: {worst['exponent']:.2f} ({worst['shape']}, {worst['mode']})"
        )
    return lines


__all__ = ["SHAPES", "bench_scaling", "format_scaling"]


# ---------------------------------------------------------------- start-up
#: what a replay itself needs to import (the model, the loader, the checker)
REPLAY_IMPORTS = "import model.replay, model.trace, properties.checker, vmss_spec.replay"


def bench_startup(example: Path, repeat: int = 5) -> dict[str, Any]:
    """Wall seconds (best of ``repeat``) of fresh processes: ``python -c pass``,
    the imports a replay needs, ``vmss-spec --version`` and the replay of
    ``example``; and the two ratios the README promises: ``--version``
    against ``python -c pass``, and the replay against ``python -c pass``
    plus those imports."""
    import subprocess

    python = sys.executable
    cli = [python, "-m", "vmss_spec.cli"]
    commands = {
        "python_pass": [python, "-c", "pass"],
        "replay_imports": [python, "-c", REPLAY_IMPORTS],
        "version": [*cli, "--version"],
        "replay_example": [*cli, "replay", str(example)],
    }
    best = dict.fromkeys(commands, math.inf)
    for _ in range(repeat):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            best[name] = min(best[name], time.perf_counter() - start)
    return {
        **{f"{name}_seconds": round(seconds, 4) for name, seconds in best.items()},
        "version_ratio": round(best["version"] / best["python_pass"], 2),
        "replay_ratio": round(best["replay_example"] / best["replay_imports"], 2),
    }
