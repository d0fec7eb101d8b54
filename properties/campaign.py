"""The property campaign: Hypothesis settings profiles, what a campaign counts,
and running the property machine (properties/machine.py) under a profile.

A :class:`Campaign` collects what the machine did across examples: examples
and steps run, each property's evaluations, the scenarios reached
(properties/coverage.py) and the counterexamples found, each saved as a
trace file (properties/counterexample.py). :func:`run_campaign` runs the
machine for one campaign; ``vmss-spec verify`` (vmss_spec/verify.py)
prints its table.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

# ---------------------------------------------------------------- profiles
#: Hypothesis settings profiles: (max_examples, stateful_step_count).
PROFILES: dict[str, tuple[int, int]] = {
    "ci": (300, 20),
    "default": (500, 50),
    "thorough": (2000, 100),
}

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
#: every phase but ``explain``, which re-runs a shrunk history many times over
#: to say which steps could vary: costly for long histories, and the trace says it
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)


def register_profiles() -> None:
    """Register the ``ci``, ``default`` and ``thorough`` profiles (deadlines
    off everywhere; ``ci`` is derandomized and keeps no example database)."""
    for name, (examples, steps) in PROFILES.items():
        extra: dict[str, Any] = {"derandomize": True, "database": None} if name == "ci" else {}
        settings.register_profile(
            name,
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=_SUPPRESSED,
            phases=_PHASES,
            print_blob=name == "ci",
            **extra,
        )


def pin_constants() -> None:
    """Make a campaign depend on its seed and nothing else. Hypothesis now and
    then draws a literal found in the source of any local module loaded in the
    process (``providers._get_local_constants``, 1 draw in 20), so the same
    seed gave other histories after another command or test had imported
    more of this project. The pool of such literals is pinned empty; the
    literals Hypothesis itself ships are still drawn."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the pool
        return
    if not hasattr(providers, "_get_local_constants"):  # pragma: no cover
        return
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()


register_profiles()
pin_constants()

DEFAULT_OUT = Path(".hypothesis") / "verify"

#: examples per Hypothesis run when a campaign has a time budget: a long
#: campaign is a sequence of runs (fresh engines, seeds derived from the
#: campaign's), so that no run's memory of what it tried grows for hours
ROUND_EXAMPLES = 1000
#: the number of examples of a campaign bounded by its time budget only
UNBOUNDED = 10**9


class CampaignStopped(KeyboardInterrupt):
    """Raised inside the machine to end a campaign early (an interrupt, or its
    time budget spent). Not an ``Exception``: Hypothesis lets it through
    rather than treating it as a failure to shrink."""


def derived_seed(seed: int, *path: object) -> int:
    """A seed derived from ``seed`` and ``path`` (a worker number, a round):
    the whole campaign is reproducible from the one seed."""
    digest = hashlib.sha256(":".join(map(str, (seed, *path))).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def example_database(where: str | Path) -> ExampleDatabase:
    """Hypothesis' example database at ``where``: a directory, or a Redis
    server given as ``redis://HOST:PORT/DB`` (shared by several machines)."""
    text = str(where)
    if text.startswith(("redis://", "rediss://", "unix://")):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(redis.Redis.from_url(text))
    return DirectoryBasedExampleDatabase(Path(where))


# ---------------------------------------------------------------- what a campaign counts
@attrs.define(eq=False)
class Counterexample:
    """A property that failed: what broke, when, and the saved trace."""

    invariant: str
    at: int
    message: str
    path: Path | None
    events: int
    #: the seed of the worker (or round) whose campaign found it
    seed: int | None = None


@attrs.define(eq=False)
class Campaign:
    """What the machine did across examples (read by ``vmss-spec verify``).
    Counterexample traces are saved under ``out_dir`` (not at all when None)."""

    out_dir: Path | None = DEFAULT_OUT
    examples: int = 0
    steps: int = 0
    evaluations: Counter[str] = attrs.field(factory=Counter)
    #: how often each property's rule applied (a property that never applied proves nothing)
    applications: Counter[str] = attrs.field(factory=Counter)
    scenarios: Counter[str] = attrs.field(factory=Counter)
    counterexamples: list[Counterexample] = attrs.field(factory=list)
    #: called with the campaign after each example when set (progress output)
    progress: Callable[[Campaign], None] | None = None
    started: float = attrs.field(factory=time.monotonic)
    #: the time budget in seconds (None: bounded by the number of examples only)
    budget: float | None = None
    #: the properties that failed so far (before their examples are shrunk)
    failed: set[str] = attrs.field(factory=set)
    #: set (by a signal handler) to stop the campaign at the next step
    interrupted: bool = False
    #: the worker processes that contribute to this campaign (progress only)
    workers: int = 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def budget_spent(self) -> bool:
        return self.budget is not None and self.elapsed >= self.budget

    def check_stop(self, *, starting: bool = False) -> None:
        """End the campaign when interrupted; when its budget is spent, at the
        start of an example (the one in flight finishes), unless a failure
        is being shrunk."""
        if self.interrupted:
            raise CampaignStopped("interrupted")
        if starting and not self.failed and self.budget_spent:
            raise CampaignStopped("budget")


@attrs.define(eq=False)
class CampaignResult:
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
    #: stopped by an interrupt (SIGINT, SIGTERM): the counts are partial
    interrupted: bool = False
    #: the time budget, in seconds, if any
    budget: float | None = None
    #: the worker processes and the seed of each (the first is ``seed``)
    seeds: list[int] = attrs.field(factory=list)
    #: the broken variant (properties/mutants.py) the campaign ran under
    mutant: str | None = None

    @property
    def workers(self) -> int:
        return max(1, len(self.seeds))

    @property
    def counterexamples(self) -> list[Counterexample]:
        return self.campaign.counterexamples

    @property
    def vacuous(self) -> list[str]:
        """The properties whose rule never applied in the campaign (those of a
        replayed document alone aside: Property.replay_only)."""
        from properties.rules_all import PROPERTIES, REPLAY_ONLY

        return [
            name
            for name in PROPERTIES
            if not self.campaign.applications[name] and name not in REPLAY_ONLY
        ]

    @property
    def unreached(self) -> list[str]:
        """The required scenarios the campaign did not reach."""
        from properties.coverage import BOUNDARIES, SCENARIOS

        return [name for name in SCENARIOS + BOUNDARIES if not self.campaign.scenarios[name]]

    @property
    def held(self) -> bool:
        """Every property held, every one applied, every scenario was reached."""
        return (
            self.error is None
            and not self.counterexamples
            and not self.vacuous
            and not self.unreached
        )


# ---------------------------------------------------------------- running one
def settings_for(
    profile: str,
    *,
    max_examples: int | None = None,
    steps: int | None = None,
    database: ExampleDatabase | Path | None = None,
) -> settings:
    """The profile's settings, with the campaign's overrides. A campaign is
    seeded, so it is never derandomized; the database is the one given."""
    base = settings.get_profile(profile)
    return settings(
        base,
        max_examples=max_examples or base.max_examples,
        stateful_step_count=steps or base.stateful_step_count,
        derandomize=False,
        database=DirectoryBasedExampleDatabase(database)
        if isinstance(database, Path)
        else database,
    )


def run_campaign(
    profile: str = "ci",
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    steps: int | None = None,
    out_dir: str | Path | None = DEFAULT_OUT,
    database: bool | str | Path = True,
    progress: Callable[[Campaign], None] | None = None,
    budget: float | None = None,
    stats: Campaign | None = None,
) -> CampaignResult:
    """Run the property machine under ``profile``; counterexamples are saved
    under ``out_dir``. The example database is ``out_dir/examples`` when
    ``database`` is True, none when False, else the directory or Redis URL
    given (:func:`example_database`). The seed defaults to 0 for ``ci``
    (deterministic) and to a random one otherwise (reported, so the run can
    be repeated).

    With a time ``budget`` (seconds) the campaign runs examples until it is
    spent (then the example in flight finishes), in runs of
    :data:`ROUND_EXAMPLES` (the first seeded with ``seed``, the next with
    seeds derived from it), and ``max_examples``, if given, bounds the total.
    ``stats`` is the campaign to count into (a signal handler may set its
    ``interrupted``); the campaign stops at the next step when it is set."""
    from properties.machine import UpgradeMachine

    if seed is None:
        seed = 0 if profile == "ci" else random.SystemRandom().randrange(2**32)
    if budget is not None and max_examples is None:
        max_examples = UNBOUNDED
    out = Path(out_dir) if out_dir is not None else None
    if database is True:
        db: ExampleDatabase | None = example_database(out / "examples") if out is not None else None
    elif database is False:
        db = None
    else:
        db = example_database(database)
    chosen = settings_for(profile, max_examples=max_examples, steps=steps, database=db)
    if stats is None:
        stats = Campaign(out_dir=out, progress=progress)
    stats.out_dir, stats.budget = out, budget
    if progress is not None:
        stats.progress = progress
    machine = UpgradeMachine.for_campaign(stats)
    report: list[str] = []
    started = stats.started = time.monotonic()  # the budget counts from here
    error: BaseException | None = None
    remaining = chosen.max_examples
    round_ = 0
    try:
        while True:
            size = remaining if budget is None else min(remaining, ROUND_EXAMPLES)
            round_seed = seed if round_ == 0 else derived_seed(seed, "round", round_)
            found = len(stats.counterexamples)
            try:
                with with_reporter(report.append):
                    run_state_machine_as_test(
                        hypothesis_seed(round_seed)(machine),
                        settings=settings(chosen, max_examples=size),
                    )
            except Exception as exc:  # a property failed (or an ExceptionGroup of several)
                error = exc
                report += _notes(exc)
            finally:
                for ce in stats.counterexamples[found:]:
                    ce.seed = seed
            remaining -= size
            round_ += 1
            if error is not None or remaining <= 0 or budget is None or stats.budget_spent:
                break
    except CampaignStopped:
        pass
    return CampaignResult(
        profile=profile,
        seed=seed,
        max_examples=chosen.max_examples,
        steps=chosen.stateful_step_count,
        out_dir=out,
        campaign=stats,
        elapsed=time.monotonic() - started,
        error=error,
        report=report,
        interrupted=stats.interrupted,
        budget=budget,
        seeds=[seed],
    )


def _notes(exc: BaseException) -> list[str]:
    """Hypothesis' account of each failing example (the shrunk steps), which it
    attaches to the exception it raises (one per failure in a group)."""
    notes = list(getattr(exc, "__notes__", []))
    for inner in getattr(exc, "exceptions", ()):
        notes += _notes(inner)
    return notes
