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

import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

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


register_profiles()

DEFAULT_OUT = Path(".hypothesis") / "verify"


# ---------------------------------------------------------------- what a campaign counts
@attrs.define(eq=False)
class Counterexample:
    """A property that failed: what broke, when, and the saved trace."""

    invariant: str
    at: int
    message: str
    path: Path | None
    events: int


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

    @property
    def counterexamples(self) -> list[Counterexample]:
        return self.campaign.counterexamples

    @property
    def vacuous(self) -> list[str]:
        """The properties whose rule never applied in the campaign."""
        from properties.rules_all import PROPERTIES

        return [name for name in PROPERTIES if not self.campaign.applications[name]]

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
    database: Path | None = None,
) -> settings:
    """The profile's settings, with the campaign's overrides. A campaign is
    seeded, so it is never derandomized; the database is the one given."""
    base = settings.get_profile(profile)
    return settings(
        base,
        max_examples=max_examples or base.max_examples,
        stateful_step_count=steps or base.stateful_step_count,
        derandomize=False,
        database=DirectoryBasedExampleDatabase(database) if database is not None else None,
    )


def run_campaign(
    profile: str = "ci",
    *,
    seed: int | None = None,
    max_examples: int | None = None,
    steps: int | None = None,
    out_dir: str | Path | None = DEFAULT_OUT,
    database: bool = True,
    progress: Callable[[Campaign], None] | None = None,
) -> CampaignResult:
    """Run the property machine under ``profile``; counterexamples are saved
    under ``out_dir`` (and the example database in ``out_dir/examples`` when
    ``database``). The seed defaults to 0 for ``ci`` (deterministic) and to a
    random one otherwise (reported, so the run can be repeated)."""
    from properties.machine import UpgradeMachine

    if seed is None:
        seed = 0 if profile == "ci" else random.SystemRandom().randrange(2**32)
    out = Path(out_dir) if out_dir is not None else None
    chosen = settings_for(
        profile,
        max_examples=max_examples,
        steps=steps,
        database=out / "examples" if out is not None and database else None,
    )
    stats = Campaign(out_dir=out, progress=progress)
    machine = UpgradeMachine.for_campaign(stats)
    report: list[str] = []
    started = time.monotonic()
    error: BaseException | None = None
    try:
        with with_reporter(report.append):
            run_state_machine_as_test(hypothesis_seed(seed)(machine), settings=chosen)
    except Exception as exc:  # a property failed (or an ExceptionGroup of several)
        error = exc
        report += _notes(exc)
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
    )


def _notes(exc: BaseException) -> list[str]:
    """Hypothesis' account of each failing example (the shrunk steps), which it
    attaches to the exception it raises (one per failure in a group)."""
    notes = list(getattr(exc, "__notes__", []))
    for inner in getattr(exc, "exceptions", ()):
        notes += _notes(inner)
    return notes
