"""The benchmarks page (``vmss-spec bench --markdown FILE``): what each
benchmark measures, the machine that measured it and its figures, written
whole by the command so that the page and the machine always agree."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: the page's prose, the same on every machine (docs/benchmarks.md begins with it)
PROSE = """\
# Benchmarks (`vmss-spec bench`)

How the model and the property suite perform at scale. Figures, not
assertions: no test times anything. Other machines give other figures; the
ratios are what carries over.

```sh
.venv/bin/vmss-spec bench
```

runs every benchmark below in one process, in about two minutes (a
progress line on standard error as each part begins and ends), and prints
the figures; `--json` prints them as one JSON object, `--quick`
takes one repetition with fewer examples, and `--variants` adds the seconds
the `ci` profile takes to find each broken variant (several minutes more;
`vmss-spec mutants` times them all under any profile, see
[the campaign](campaign.md#the-suite-proves-it-can-fail)).

## What each benchmark measures

- **A complete automatic upgrade at fleet scale**: publication to
  Completed, with a load balancer probe and the default policy, for 100,
  1,000 and 10,000 instances (10,000 is beyond V9's 1,000: the benchmark
  builds the configuration directly, as only a trace or a scale-out is held
  to V9). For each size: the wall seconds of the model alone and with every
  property checked, the best of 5 rounds with the sizes interleaved in each
  round; the peak memory traced by `tracemalloc`; and the internal steps per
  second (the steps that changed something). Nothing rescans the fleet per
  step: the pre-batch check counts it once per batch, as R4 says, and each
  property looks only at what a step changed. With every property, besides
  the rules, each internal step is compared with R7's health, with the
  layer's own expectation of what is due (D12) and with the last activity
  (section 7 `until`), and the time-based checks run whenever time moves
  on, in a replay as in the campaign.
- **The property machine against Hypothesis' own floor**: the steps per
  second of the campaign's machine next to those of a trivial
  `RuleBasedStateMachine` (one rule drawing an integer, one invariant) in the
  same process, 200 examples of 50 steps, in three interleaved pairs; the
  ratio is the median pair's, with the spread. Each round also runs the same
  examples with no property checked, which gives the share of the machine's
  time the properties take.
- **Every core**: `verify --workers 1` and `--workers 2` (default profile,
  seed 0, a 10 s budget), steps per second over the whole campaign's wall
  time, forking and merging included, and the speed-up. Each worker draws
  its own examples from its own seed, so the figure says as much about the
  examples as about the cores.
- **A large trace**: a trace of 100,000 events (mostly health answers and
  outages, with publications, credential rotations, deploys, scaling,
  starts and cancels on 100 instances), best of 3: loaded (decoded,
  validated, converted), replayed by the model, and both together, in
  seconds and events per second. From Python it is
  `vmss_spec.trace_bench.bench_validation()` (in `vmss_spec/trace_bench.py`).
- **Start-up**: fresh processes, best of 5: `python -c pass`, the imports
  a replay needs (the model, the loader, the checker), `vmss-spec
  --version` and the replay of `examples/rolling-upgrade-10.json`; the
  ratios are `--version` against `python -c pass`, and the replay against
  those imports (no command but a campaign imports Hypothesis).
- **Scaling series**: for each shape of trace, three sizes, each twice the
  one before, through `replay`, `explain`, `replay --json` and `replay
  --html` end to end in one process (load, replay with every property,
  output): regenerate/expire pairs of one credential, publications,
  publications on 1,000 instances, application health answers, outages,
  scaling, opt-out and opt-in, a mix of every kind, and one outage naming
  more ids than section 7's bound (refused: the seconds to print its one
  line). The growth per doubling is the geometric mean of the time ratios
  from one size to the next, its exponent the base-2 logarithm of that
  growth (1 is linear, 2 quadratic).
- **The exhaustive check** ([check.md](check.md)): a complete `vmss-spec
  check` of the first standard scope, `small`, on one core with every
  property on: distinct states and transitions per second, and the same
  check with `--workers 2` against one worker; the bytes per
  state of the table of visited fingerprints filled with a million random
  ones; and, for a scale set of 3 and of 10 instances in the middle of a
  run's first batch with its checker, the microseconds to capture the state
  (its canonical form with times relative to now, and its copy) and to
  restore it, and the bytes of the copy (best of 5 rounds of 20).
- **The broken variants** (`--variants`): for each variant of
  `properties/mutants*.py`, the seconds the `ci` profile takes to find and
  shrink its counterexample, the median over seeds 0, 1 and 2.
"""

#: where the figures begin
MARKER = "<!-- figures: written by vmss-spec bench --markdown -->"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's name as the system gives it (``platform.processor()``
    where there is no /proc/cpuinfo)."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown processor"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return {
        "cpu": cpu_model(),
        "cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def render_page(figures: dict[str, Any], text: str, quick: bool = False) -> str:
    """The whole page: the prose, then the machine and ``text`` (the figures
    as ``vmss-spec bench`` prints them)."""
    m = figures.get("machine") or machine()
    command = "vmss-spec bench --quick" if quick else "vmss-spec bench"
    return (
        f"{PROSE}\n## Figures\n\n{MARKER}\n\n"
        f"Measured by `{command}` on {m['cpu']}, {m['cores']} "
        f"core{'s' if m['cores'] != 1 else ''} usable, {m['python']}, {m['system']}:\n\n"
        f"```text\n{text}```\n"
    )
