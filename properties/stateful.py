"""The Hypothesis state machine that verifies the model (SPEC section 6).

Hypothesis generates whole histories: an initial scale set (1 to 40
instances, with or without a probe of either kind, Service Fabric with 1 to 5
update domains and each durability tier, policies across their ranges, small
timings, expired and valid credentials), then a sequence of steps. Each step
is one action: an event of SPEC section 7 (built as the model's event type
and given to ``ScaleSet.apply`` at the current time), a time advance that
lands where bugs hide (on the next internal step or just before it, inside
a batch, on a health deadline, on a credential's expiry), or a whole run.
So the events applied, with the initial configuration and the time reached,
are a trace that replays the same history (properties/counterexample.py).

The ``Checker`` (properties/checker.py) attached to the scale set evaluates
I1-I12, L2 and L1 (properties/liveness.py) after every internal step and
event, and the machine stops at the first violation, in the middle of the
step, with an exception named after the property (so Hypothesis shrinks
each property's failures separately); the ``@invariant`` checks the L1/L2
deadlines at the time a step leaves the clock at. L1 also has an action of
its own that makes the environment quiet (end outages, answer healthy,
regenerate and deploy credentials, opt in), starts a run and lets the time
of its bound pass. Compound actions (a whole run; a run disturbed in the
middle of a batch) make the deep states of the scenario list likely.

Throughput (issue 4: the machine at half the Hypothesis engine's own steps
per second or more, ``vmss-spec bench``): Hypothesis pays for every rule it
chooses among, every precondition, every choice and every ``st.data()``
draw, each costing about what the model pays for a whole step. So the
machine has one rule, :meth:`UpgradeMachine.step`, that makes one choice
per step (the action, and the integer its own choices are read from), no
preconditions (an action that cannot apply does the nearest thing that
can), the initial scale set drawn in thirteen choices (and the actions an
example leaves out, swarm testing, in two) as the machine is built, and no
per-step ``note()`` except in the final example.

The machine records the scenarios it reached with ``event()`` and counts
them in :data:`CAMPAIGN`, which ``vmss-spec verify`` (properties/verify.py)
reports. (``target()`` was tried, on the scenarios reached, the number of
runs and the longest run: hill-climbing concentrated the examples and
reached the rarer scenarios less often, so it is not used.) When a property
fails, the final (shrunk) example is written as a trace file, ``note()``
having shown the initial scale set, and after each step the action, the
events it applied and the state it left.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import HypothesisException
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
)

from model.config import (
    SUPPORTED_SKUS,
    CredentialConfig,
    Extension,
    HealthProbe,
    ImageReference,
    Policy,
    ScaleSetConfig,
    ServiceFabric,
    Timings,
)
from model.environment import (
    AppHealth,
    CancelUpgrade,
    Event,
    ExpireCredential,
    OutageEnd,
    OutageStart,
    PublishImage,
    RegenerateCredential,
    Rejection,
    ScaleIn,
    ScaleOut,
    SetAutomaticUpgrade,
    StartUpgrade,
    UpdateModel,
)
from model.history import history_runs
from model.instance import FAILED as PROVISIONING_FAILED
from model.instance import STOPPED, SUCCEEDED
from model.run import (
    BEFORE_ROLLING_UPGRADE,
    CANCELLED,
    COMPLETED,
    FAULTED,
    IN_ROLLING_UPGRADE,
    PROVISIONING_ERROR,
    UPGRADED_UNHEALTHY,
)
from model.scaleset import ScaleSet
from model.trace import Violation
from properties.checker import Checker
from properties.counterexample import counterexample_trace, save_counterexample
from properties.invariants import INVARIANTS, batch_bound
from properties.liveness import quiet_run_bound

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

# ---------------------------------------------------------------- scenarios
#: the scenarios the property suite must reach (no vacuous passes)
SCENARIOS: tuple[str, ...] = (
    "run Completed",
    f"run Faulted: {BEFORE_ROLLING_UPGRADE}",
    f"run Faulted: {IN_ROLLING_UPGRADE}",
    f"run Faulted: {UPGRADED_UNHEALTHY}",
    f"run Faulted: {PROVISIONING_ERROR}",
    "run Cancelled by opt-out",
    "run Cancelled by cancel",
    "automatic rollback",
    "recovery after a credential failure",
    "publication during a run",
    "Service Fabric run",
    "history at its cap of five",
    "refused event",
)
#: reached too, reported, not required
EXTRA_SCENARIOS: tuple[str, ...] = ("quiet run completed (L1)",)

#: what the campaign checks: every invariant and progress property
CHECKED: dict[str, str] = dict(INVARIANTS)


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
    """What the machine did across examples (read by ``vmss-spec verify``)."""

    out_dir: Path = Path(".hypothesis") / "counterexamples"
    examples: int = 0
    steps: int = 0
    evaluations: Counter[str] = attrs.field(factory=Counter)
    scenarios: Counter[str] = attrs.field(factory=Counter)
    counterexamples: list[Counterexample] = attrs.field(factory=list)
    #: called with the campaign after each example when set (progress output)
    progress: Callable[[Campaign], None] | None = None
    started: float = attrs.field(factory=time.monotonic)


CAMPAIGN = Campaign()


@contextmanager
def campaign(
    out_dir: str | Path | None = None, progress: Callable[[Campaign], None] | None = None
) -> Iterator[Campaign]:
    """Collect a fresh campaign's counts (and save counterexamples under ``out_dir``)."""
    global CAMPAIGN
    previous = CAMPAIGN
    CAMPAIGN = Campaign(progress=progress)
    if out_dir is not None:
        CAMPAIGN.out_dir = Path(out_dir)
    try:
        yield CAMPAIGN
    finally:
        CAMPAIGN = previous


# ---------------------------------------------------------------- strategies
# Hypothesis pays per choice (more than the model pays for a step), so each
# draw here is one integer read as mixed-radix digits, lowest first: each
# digit is near uniform and shrinks towards 0, the simplest value of its field.
_SKUS = sorted(SUPPORTED_SKUS)
_RANGES: dict[int, st.SearchStrategy[int]] = {}


def _split(n: int, *bases: int) -> list[int]:
    """``n`` as digits in ``bases``, lowest first (the last one takes the rest)."""
    digits = []
    for base in bases[:-1]:
        n, digit = divmod(n, base)
        digits.append(digit)
    digits.append(n % bases[-1])
    return digits


def _digits(draw: st.DrawFn, *bases: int) -> list[int]:
    """One choice, read as digits in ``bases`` (lowest first)."""
    size = math.prod(bases)
    strategy = _RANGES.get(size)
    if strategy is None:
        strategy = _RANGES[size] = st.integers(0, size - 1)
    return _split(draw(strategy), *bases)


def _image(draw: st.DrawFn) -> ImageReference:
    """A supported platform image with version latest; now and then one that a
    V1-V3 check refuses (R9)."""
    sku, flaw = _digits(draw, len(_SKUS), 25)
    publisher, offer, sku_name = _SKUS[sku]
    if flaw == 22:
        return ImageReference("Contoso", offer, sku_name, "latest")  # V1
    if flaw == 23:
        return ImageReference(publisher, offer, sku_name, "1.0.0")  # V2
    if flaw == 24:
        return ImageReference(id="/subscriptions/s/images/custom")  # V3
    return ImageReference(publisher, offer, sku_name, "latest")


_PROBE_KINDS = (None, "load_balancer", "application_health", "load_balancer")


def _probe(draw: st.DrawFn) -> HealthProbe | None:
    """None, a load balancer probe (Standard, or Basic one time in four) or the
    application health extension; the interval sometimes at or above V7's 120 s."""
    kind, interval, basic = _digits(draw, 4, 3, 4)
    if _PROBE_KINDS[kind] is None:
        return None
    lb_sku = "Basic" if _PROBE_KINDS[kind] == "load_balancer" and basic == 3 else "Standard"
    return HealthProbe(_PROBE_KINDS[kind], lb_sku, (5, 15, 120)[interval])


def _percent(choice: int) -> int:
    """``choice`` in range(192): half the time one of the seed's values, else
    any from 5 to 100 (V10)."""
    return (20, 50, 100, 5, 10, 33)[choice // 2 % 6] if choice % 2 == 0 else 5 + choice // 2


def _policy(draw: st.DrawFn) -> Policy:
    """Section 4: every option across its V10 range, the seed's values often."""
    upgraded = None
    (choice,) = _digits(draw, 404)
    if choice % 2:  # half the time: 0, 10, 50 or 100 half of that, else 0 to 100
        choice //= 2
        upgraded = (0, 10, 50, 100)[choice // 2 % 4] if choice % 2 == 0 else choice // 2
    pause, prioritize, rollback = _digits(draw, 4, 2, 2)
    (batch,) = _digits(draw, 192)
    (unhealthy,) = _digits(draw, 192)
    return Policy(
        max_batch_instance_percent=_percent(batch),
        max_unhealthy_instance_percent=_percent(unhealthy),
        max_unhealthy_upgraded_instance_percent=upgraded,
        pause_time_between_batches=f"PT{(0, 0, 3, 10)[pause]}S",
        prioritize_unhealthy_instances=bool(prioritize),
        automatic_rollback=bool(rollback),
    )


def _timings(draw: st.DrawFn) -> Timings:
    """Small durations (seconds): the order of events matters, not their size;
    the health wait is sometimes shorter than the application's start."""
    os_disk, extension = _digits(draw, 10, 11)
    app_start, health_wait = _digits(draw, 11, 21)
    return Timings(
        os_disk_seconds=1 + os_disk,
        extension_seconds=extension,
        app_start_seconds=app_start,
        health_wait_seconds=health_wait,
    )


_CREDENTIAL_SETS = ((), ("sas",), ("sas", "cert"))
#: valid for long, already expired, expiring soon or a little later (R14)
_EXPIRIES = (10**8, 0, 30, 200)


@st.composite
def scale_sets(draw: st.DrawFn) -> ScaleSetConfig:
    """An initial scale set (SPEC section 7 ``scale_set``) that V9 and V10 accept:
    1 to 40 instances (1 to 10 half the time), with or without a probe, Service
    Fabric one time in four, credentials valid, expiring or expired."""
    (count,) = _digits(draw, 80)
    instances = 1 + count % 10 if count < 40 else count - 39
    probe = _probe(draw)
    fabric, durability, domains = _digits(draw, 4, 3, 5)
    sf = None
    if fabric == 3:
        sf = ServiceFabric(("Silver", "Gold", "Bronze")[durability], update_domains=1 + domains)
    names, first, second, bare = _digits(draw, 3, 4, 4, 2)
    credentials = {
        name: CredentialConfig(expires_at=_EXPIRIES[expiry])
        for name, expiry in zip(_CREDENTIAL_SETS[names], (first, second), strict=False)
    }
    extensions = ()
    if credentials or bare:
        extensions = (Extension("CustomScript", tuple(sorted(credentials))),)
    image = _image(draw)
    catalog, manual_only, data_disks = _digits(draw, 2, 6, 3)
    encrypted, multiple_groups = _digits(draw, 25, 10)
    return ScaleSetConfig(
        instances=instances,
        image=image,
        catalog=(("1.0.0",), ("0.9.0", "1.0.0"))[catalog],
        automatic_os_upgrade=manual_only != 5,
        health_probe=probe,
        extensions=extensions,
        credentials=credentials,
        data_disks_per_instance=data_disks,
        disk_encryption=encrypted == 24,
        single_placement_group=multiple_groups != 9,
        service_fabric=sf,
        policy=_policy(draw),
        timings=_timings(draw),
    )


_SCALE_SETS = scale_sets()


# ---------------------------------------------------------------- the machine
class PropertyViolation(AssertionError):
    """An invariant or progress property failed (subclassed per property, so
    that Hypothesis shrinks and reports each one as its own bug)."""

    invariant = "?"


VIOLATIONS: dict[str, type[PropertyViolation]] = {
    name: type(f"{name}Violated", (PropertyViolation,), {"invariant": name}) for name in CHECKED
}


class CountingChecker(Checker):
    """The Checker, counting how often each property is evaluated, and calling
    ``on_violation`` at the first violation (the machine stops right there, in
    the middle of the step, so that nothing after it can hide it)."""

    def __init__(
        self,
        ss: ScaleSet,
        counts: Counter[str],
        on_violation: Callable[[Violation], None] | None = None,
    ) -> None:
        self._counts = counts
        self._on_violation = on_violation
        super().__init__(ss)

    def _report(self, invariant: str, problems: list[str]) -> None:
        self._counts[invariant] += 1
        if problems:
            before = len(self.violations)
            super()._report(invariant, problems)
            if self._on_violation is not None:
                self._on_violation(self.violations[before])


#: what goes wrong in the middle of a batch (UpgradeMachine.disturbed_run)
DISTURBANCES = ("outage", "unhealthy", "expire", "opt-out", "cancel", "publish")
_FAR = 10**8  # a credential that outlives any example
_SETTLE = 10**7  # how far settling may look ahead


#: what a step of the machine can do (its methods of these names): the events of
#: section 7, time advances that land where bugs hide, and whole runs
ACTIONS: tuple[str, ...] = (
    "publish_image",
    "outage_start",
    "outage_end",
    "app_health",
    "expire_credential",
    "regenerate_credential",
    "update_model",
    "scale_out",
    "scale_in",
    "set_automatic_upgrade",
    "start_upgrade",
    "cancel_upgrade",
    "advance",
    "advance_days",
    "advance_to_next_step",
    "advance_into_batch",
    "advance_to_health_deadline",
    "advance_to_expiry",
    "settle",
    "run_to_end",
    "disturbed_run",
    "quiet_then_complete",
)
#: the draw: every action twice, but L1's quiet run (the costliest) once
_DRAWN: tuple[str, ...] = tuple(
    a for a in ACTIONS for _ in range(1 if a == "quiet_then_complete" else 2)
)
#: swarm testing: an example leaves out the actions whose bit is set (two choices)
_LEFT_OUT = st.integers(0, 2**11 - 1)


class UpgradeMachine(RuleBasedStateMachine):
    """Whole histories of the environment against the model, every invariant
    checked after every step (SPEC section 6).

    The initial scale set is drawn as the machine is built. Then one
    Hypothesis rule, :meth:`step`, makes one choice per step: which action
    happens (one of :data:`ACTIONS`, each a method with an imperative name)
    and an integer ``n`` from which the action takes its own choices (ids,
    counts, offsets, flags) as mixed-radix digits, each shrinking towards its
    simplest value as ``n`` shrinks towards 0. An action that cannot apply in
    the current state (no credential, no batch in flight) does the nearest
    thing that can: time runs to the next internal step. Each action is drawn
    equally often, except L1's quiet run, which costs as much as dozens of
    other steps and is drawn half as often; and each example leaves some
    actions out (swarm testing), so that the ones it keeps happen more often.
    (Hypothesis pays per rule, per precondition and per choice: a rule per
    event, with preconditions and ``st.data()`` draws, cost several times the
    model's own work per step.)"""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self.reached: set[str] = set()
        self.failure: Violation | None = None
        self._runs_seen = 0
        self._deploys_seen = 0
        self._failed_before: dict[int, set[int]] = {}
        self._minor = 0
        self._noted = 0
        self._step: tuple[str, int] | None = None
        CAMPAIGN.examples += 1
        # The initial scale set: the example's first choices, drawn as the machine
        # is built (with an @initialize rule, Hypothesis' own cost of every step
        # grew by about a sixth); the final example notes it.
        context = current_build_context()
        #: the final (shrunk) example notes each step's events and the state after it
        self._final = context.is_final
        self.config: ScaleSetConfig = context.data.draw(_SCALE_SETS)
        # Swarm testing: each example leaves out some actions, so that the ones
        # it keeps happen more often (shrinks to leaving out none).
        left_out = context.data.draw(_LEFT_OUT) | context.data.draw(_LEFT_OUT) << 11
        kept = {a for i, a in enumerate(ACTIONS) if not left_out >> i & 1}
        self._actions = tuple(a for a in _DRAWN if a in kept) or _DRAWN
        if self._final:
            note(f"initial scale set: {self.config!r}")
        self.ss = ScaleSet(self.config, log=False)
        self.checker = CountingChecker(self.ss, CAMPAIGN.evaluations, self._violated)
        if self.ss.rejected:
            self._reach("refused event")  # D16: a V error at time 0

    # ------------------------------------------------------------ plumbing
    @property
    def now(self) -> int:
        return self.ss.now

    def _reach(self, scenario: str) -> None:
        if scenario not in self.reached:
            self.reached.add(scenario)
            event(scenario)

    def _apply(self, ev: Event) -> Rejection | None:
        """Apply one event at the current time; the machine records it for the trace."""
        self.events.append(ev)
        refusal = self.ss.apply(ev)
        if refusal is not None:
            self._reach("refused event")
        return refusal

    def _new_version(self) -> str:
        self._minor += 1
        return f"1.0.{self._minor}"

    def _settle(self) -> None:
        """Let every queued internal step happen (runs, deploys, creations end)."""
        self.ss.settle(self.now + _SETTLE)

    def _ids(self, n: int, pool: list[int] | None = None) -> tuple[int, ...]:
        """Some instance ids: a few anywhere (up to four), a contiguous range
        (many at once, R8), or now and then one that does not exist (refused)."""
        ids = sorted(self.ss.instances) if pool is None else pool
        mode, n = n % 10, n // 10
        if not ids or mode == 9:
            return (self.ss.next_id,)
        size = len(ids)
        if mode >= 6:
            count = 1 + n % size
            first = n // size % (size - count + 1)
            return tuple(ids[first : first + count])
        want, n = 1 + n % 4, n // 4
        left = list(ids)
        chosen = []
        while left and len(chosen) < want:
            k, n = n % len(left), n // len(left)
            chosen.append(left.pop(k))
        return tuple(chosen)

    # ------------------------------------------------------------ events (section 7)
    def publish_image(self, n: int) -> None:
        """R2, D14: a newer version (one in five broken); one in ten is not newer."""
        broken, stale = n % 5 == 4, n // 5 % 10 == 9
        version = self.ss.catalog.latest if stale else self._new_version()
        during = self.ss.active_run is not None
        if self._apply(PublishImage(self.now, version, app_healthy=not broken)) is None and during:
            self._reach("publication during a run")

    def outage_start(self, n: int) -> None:
        """R8, D10: maintenance (planned or not) takes instances down."""
        kind = "planned" if n % 2 else "unplanned"
        self._apply(OutageStart(self.now, self._ids(n // 2), kind))

    def outage_end(self, n: int) -> None:
        """R8, D10: instances come back (mostly ones that are down)."""
        down = [i for i, inst in self.ss.instances.items() if inst.power_state == STOPPED]
        self._apply(OutageEnd(self.now, self._ids(n, down or None)))

    def app_health(self, n: int) -> None:
        """R6: the application's probe answer on some instances."""
        self._apply(AppHealth(self.now, self._ids(n // 2), bool(n % 2)))

    def expire_credential(self, n: int) -> None:
        """R14, D15: a credential expires now (without credentials, time passes)."""
        names = sorted(self.config.credentials)
        if not names:
            self.advance_to_next_step(n)
            return
        self._apply(ExpireCredential(self.now, names[n % len(names)]))

    def regenerate_credential(self, n: int) -> None:
        """R15, D15: a new token, for long or a short while (the model keeps the
        old one until a deploy; without credentials, time passes)."""
        names = sorted(self.config.credentials)
        if not names:
            self.advance_to_next_step(n)
            return
        name, n = names[n % len(names)], n // len(names)
        lifetime = (_FAR, 1, 20, 100)[n % 4]
        self._apply(RegenerateCredential(self.now, name, self.now + lifetime))

    def update_model(self, n: int = 0) -> None:
        """R15, D8: deploy the model with the newest tokens."""
        failed = {
            i
            for i, inst in self.ss.instances.items()
            if inst.provisioning_state == PROVISIONING_FAILED
        }
        if self._apply(UpdateModel(self.now)) is None and failed:
            self._failed_before[len(self.ss.deploys) - 1] = failed

    def scale_out(self, n: int) -> None:
        """R18, D9: one to three new instances from the latest version."""
        self._apply(ScaleOut(self.now, 1 + n % 3))

    def scale_in(self, n: int) -> None:
        """D9: remove the one to three highest ids outside the batch in flight."""
        self._apply(ScaleIn(self.now, 1 + n % 3))

    def set_automatic_upgrade(self, n: int) -> None:
        """R1, D7: opt out or in."""
        self._apply(SetAutomaticUpgrade(self.now, bool(n % 2)))

    def start_upgrade(self, n: int) -> None:
        """R12: a manual start."""
        self._apply(StartUpgrade(self.now))

    def cancel_upgrade(self, n: int) -> None:
        """D7: a user cancel."""
        self._apply(CancelUpgrade(self.now))

    # ------------------------------------------------------------ time
    def advance(self, n: int) -> None:
        """Up to a minute passes."""
        self.ss.advance(self.now + n % 61)

    def advance_days(self, n: int) -> None:
        """One to seventy days pass (R16: the history's 60-day window)."""
        self.ss.advance(self.now + (1 + n % 70) * 86400)

    def advance_to_next_step(self, n: int) -> None:
        """D12: land on the next internal step (an event then comes after it), or
        one second before it; with none queued, up to a minute passes."""
        when = self.ss.clock.next_time()
        if when is None:
            self.advance(n // 2)
            return
        self.ss.advance(max(self.now, when - n % 2))

    def advance_into_batch(self, n: int) -> None:
        """R8: land in the middle of the batch in flight: before its OS disk and
        extensions are done, or anywhere within its bound."""
        run = self.ss.active_run
        batch = run.batch_in_flight if run is not None else None
        if batch is None:
            self.advance_to_next_step(n)
            return
        t = self.ss.timings
        span = t.os_disk_seconds + t.extension_seconds if n % 2 == 0 else batch_bound(self.ss)
        self.ss.advance(max(self.now, batch.start + n // 2 % (span + 1)))

    def advance_to_health_deadline(self, n: int) -> None:
        """R6: land on an awaited instance's health deadline (or a second either side)."""
        ss = self.ss
        waiting = sorted(i for i, inst in ss.instances.items() if inst.state == "awaiting_health")
        if not waiting:
            self.advance_to_next_step(n)
            return
        inst = ss.instances[waiting[n % len(waiting)]]
        offset = (0, -1, 1)[n // len(waiting) % 3]
        deadline = inst.last_provisioned_at + ss.timings.health_wait_seconds
        ss.advance(max(self.now, deadline + offset))

    def _expiries(self) -> list[int]:
        ss = self.ss
        return sorted(
            tokens[ss.model_tokens[name]]
            for name, tokens in ss.tokens.items()
            if tokens[ss.model_tokens[name]] > ss.now
        )

    def advance_to_expiry(self, n: int) -> None:
        """R14: land on a credential's expiry (provisioning then fails) or just before."""
        expiries = self._expiries()
        if not expiries:
            self.advance_to_next_step(n)
            return
        self.ss.advance(max(self.now, expiries[0] - n % 2))

    def settle(self, n: int = 0) -> None:
        """Everything queued happens: runs, deploys and creations end."""
        self._settle()

    # ------------------------------------------------------------ whole runs
    def run_to_end(self, n: int) -> None:
        """A whole run: a publication or a manual start, then everything settles."""
        if n % 2:
            self._apply(PublishImage(self.now, self._new_version()))
        else:
            self._apply(StartUpgrade(self.now))
        self._settle()

    def disturbed_run(self, n: int) -> None:
        """A run meets trouble in the middle of a batch: a run starts (after
        earlier outages and unhealthy answers end, mostly; by a publication,
        sometimes of a broken image, an opt-in or a manual start), time goes
        into its batch in flight, something happens there (R8 maintenance, a
        probe answer, a credential expiring, an opt-out, a cancel, a
        publication), and then (mostly) everything settles."""
        manual, n = n % 2 == 1, n // 2
        broken, n = n % 3 == 2, n // 3
        heal, n = n % 4 < 3, n // 4
        disturbance, n = DISTURBANCES[n % len(DISTURBANCES)], n // len(DISTURBANCES)
        finish, n = n % 4 < 3, n // 4
        ss = self.ss
        if ss.active_run is None:
            if heal:
                self._heal()
            if not any(ss.below_latest(inst) for inst in ss.instances.values()):
                self._apply(PublishImage(self.now, self._new_version(), app_healthy=not broken))
            if ss.active_run is None:
                if manual and disturbance != "opt-out":  # D7: opt-out concerns Platform runs
                    self._apply(StartUpgrade(self.now))
                elif not ss.auto_enabled:
                    self._apply(SetAutomaticUpgrade(self.now, True))  # D4: may start a run
        run = ss.active_run
        if run is not None and run.batch_in_flight is not None:
            self.advance_into_batch(n % 256)
        ids = tuple(sorted(ss.instances))
        count = 1 + n // 256 % len(ids) if ids else 0
        if disturbance == "outage" and ids:
            self._apply(OutageStart(self.now, ids[-count:]))
        elif disturbance == "unhealthy" and ids:
            self._apply(AppHealth(self.now, ids[:count], False))
        elif disturbance == "expire" and self.config.credentials:
            self._apply(ExpireCredential(self.now, sorted(self.config.credentials)[0]))
        elif disturbance == "opt-out":
            self._apply(SetAutomaticUpgrade(self.now, False))
        elif disturbance == "cancel":
            self._apply(CancelUpgrade(self.now))
        elif disturbance == "publish":
            self.publish_image(0)
        if finish:
            self._settle()

    def _heal(self) -> None:
        """Outages end and unhealthy answers are taken back."""
        ss = self.ss
        down = tuple(i for i, inst in ss.instances.items() if inst.power_state == STOPPED)
        if down:
            self._apply(OutageEnd(self.now, down))
        sick = tuple(i for i, inst in ss.instances.items() if inst.app_health is False)
        if sick:
            self._apply(AppHealth(self.now, sick, True))

    def quiet_then_complete(self, n: int) -> None:
        """L1: the environment goes quiet (any run ended, outages over, credentials
        regenerated and deployed, every application answering healthy, a healthy
        latest image, opted in); a run starts and must end Completed with every
        in-scope instance on its target within its bound. (With a V error no
        run can start: everything queued happens instead.)"""
        ss = self.ss
        if ss.v_errors:
            self._settle()
            return
        if ss.active_run is not None:
            self._apply(CancelUpgrade(self.now))
        self._apply(SetAutomaticUpgrade(self.now, False))  # no new run while preparing
        self._settle()  # whatever is in flight ends: a run, a deploy, creations
        down = tuple(i for i, inst in ss.instances.items() if inst.power_state == STOPPED)
        if down:
            self._apply(OutageEnd(self.now, down))
        for name in sorted(ss.tokens):
            self._apply(RegenerateCredential(self.now, name, self.now + _FAR))
        if ss.tokens or any(
            inst.provisioning_state == PROVISIONING_FAILED for inst in ss.instances.values()
        ):
            self.update_model()
        self._settle()
        if ss.probe is not None and ss.instances:
            self._apply(AppHealth(self.now, tuple(ss.instances), True))
        if ss.catalog.is_broken(ss.catalog.latest):
            self._apply(PublishImage(self.now, self._new_version()))
        self._apply(SetAutomaticUpgrade(self.now, True))
        if ss.active_run is None:
            self._apply(PublishImage(self.now, self._new_version()))
        run = ss.active_run
        quiet = run is not None and run.number in self.checker.liveness.quiet
        if not quiet:
            return
        # L1: let the time of its bound pass; the Checker flags a run still going
        # (or one that ended otherwise), and the example stops there.
        completed = self.checker.liveness.quiet_completed
        ss.advance(run.start + quiet_run_bound(ss, len(run.scope)) + 1)
        self.checker.finish()
        assert run.state == COMPLETED and self.checker.liveness.quiet_completed == completed + 1, (
            f"L1: run {run.number} started quiet, is {run.code} at {self.now}"
        )
        self._reach("quiet run completed (L1)")

    # ------------------------------------------------------------ the one rule
    @rule(move=st.sampled_from(range(len(_DRAWN) << 24)))
    def step(self, move: int) -> None:
        """One step of the history: the action of :data:`ACTIONS` that the lowest
        digit of ``move`` names (a method of this class), given the rest, ``n``.
        (In the final, shrunk, example a note names the action and its events.)"""
        actions = self._actions
        action, n = actions[move % len(actions)], move // len(actions)
        self._step = (action, n)
        getattr(self, action)(n)

    # ------------------------------------------------------------ the properties
    def _observe(self) -> None:
        """Record the scenarios reached so far (SCENARIOS)."""
        ss = self.ss
        runs = ss.runs
        sf = ss.service_fabric is not None
        while self._runs_seen < len(runs):
            run = runs[self._runs_seen]
            if run.rolled_back:
                self._reach("automatic rollback")
            if sf and run.batches:
                self._reach("Service Fabric run")
            if run.active:
                break
            self._runs_seen += 1
            if run.state == COMPLETED:
                self._reach("run Completed")
            elif run.state == FAULTED:
                self._reach(f"run Faulted: {run.error[0]}")
            elif run.state == CANCELLED:
                how = "cancel" if run.cancel_requested else "opt-out"
                self._reach(f"run Cancelled by {how}")
        if len(runs) > 5 and len(history_runs(runs, ss.now)) == 5:
            self._reach("history at its cap of five")
        deploys = ss.deploys
        while self._deploys_seen < len(deploys) and deploys[self._deploys_seen].end is not None:
            deploy = deploys[self._deploys_seen]
            failed = self._failed_before.pop(self._deploys_seen, set())
            self._deploys_seen += 1
            if deploy.succeeded and any(
                i in ss.instances and ss.instances[i].provisioning_state == SUCCEEDED
                for i in failed
            ):
                self._reach("recovery after a credential failure")

    def _describe(self) -> str:
        ss = self.ss
        run = ss.active_run
        states = Counter(inst.state for inst in ss.instances.values())
        down = sum(1 for inst in ss.instances.values() if inst.power_state == STOPPED)
        runs = ", ".join(f"{r.number}:{r.started_by}->{r.target} {r.code}" for r in ss.runs[-3:])
        active = "none"
        if run is not None:
            batch = run.batch_in_flight
            active = f"run {run.number} {run.state} {run.progress()}"
            if batch is not None:
                active += f" batch {batch.number} {batch.instances} since {batch.start}"
        return (
            f"t={ss.now}s latest={ss.catalog.latest} auto={ss.auto_enabled} "
            f"instances={len(ss.instances)} {dict(states)} down={down}; "
            f"active: {active}; runs: {runs or 'none'}"
        )

    @invariant()
    def properties_hold(self) -> None:
        """I1-I12, L1, L2: the Checker saw no violation (it checks after every
        internal step and event; here the L1/L2 deadlines at the current time)."""
        CAMPAIGN.steps += 1
        self._observe()
        if self._final:
            self._note_step()
            note(f"  {self._describe()}")
        self.checker.finish()
        assert not self.checker.violations, self.checker.violations[0]

    def _note_step(self) -> None:
        """Final example: what the last step did (the events it applied)."""
        if self._step is None:
            return
        action, n = self._step
        applied = "; ".join(repr(ev) for ev in self.events[self._noted :]) or "no event"
        note(f"  {action}(n={n}): {applied}")
        self._noted = len(self.events)
        self._step = None

    def _violated(self, violation: Violation) -> None:
        """The first violation ends the example, named after its property."""
        if self.failure is None:
            self.failure = violation
        raise VIOLATIONS.get(violation.invariant, PropertyViolation)(
            f"{violation.invariant} ({CHECKED.get(violation.invariant, '?')}) violated at "
            f"{violation.at}s: {violation.message}"
        )

    def teardown(self) -> None:
        for scenario in self.reached:
            CAMPAIGN.scenarios[scenario] += 1
        in_flight = sys.exc_info()[1]
        failure = self.failure
        if failure is None and isinstance(in_flight, Exception):
            if not isinstance(in_flight, HypothesisException):
                failure = Violation(f"crash: {type(in_flight).__name__}", self.now, str(in_flight))
        if failure is not None and current_build_context().is_final:
            self._note_step()  # the step that broke the property
            self._save(failure)
        if CAMPAIGN.progress is not None:
            CAMPAIGN.progress(CAMPAIGN)

    def _save(self, failure: Violation) -> None:
        """The shrunk history as a vmss-upgrade-trace/1 file."""
        trace = counterexample_trace(self.config, self.events, self.now)
        try:
            path: Path | None = save_counterexample(trace, failure.invariant, CAMPAIGN.out_dir)
        except OSError:
            path = None
        CAMPAIGN.counterexamples.append(
            Counterexample(failure.invariant, failure.at, failure.message, path, len(self.events))
        )
        if path is not None:
            note(f"counterexample trace: {path}")
