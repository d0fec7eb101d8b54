"""The Hypothesis state machine that verifies the model (SPEC section 6).

Hypothesis generates whole histories: an initial scale set (1 to 40
instances, with or without a probe of either kind, Service Fabric with 1 to 5
update domains and each durability tier, policies across their ranges, small
timings, expired and valid credentials), then a sequence of rules. Each rule
is an event of SPEC section 7 (built as the model's event type and given to
``ScaleSet.apply`` at the current time) or a time advance that lands where
bugs hide: on the next internal step or just before it, inside a batch, on a
health deadline, on a credential's expiry. So the events applied, with the
initial configuration and the time reached, are a trace that replays the
same history (properties/counterexample.py).

The ``Checker`` (properties/checker.py) attached to the scale set evaluates
I1-I12, L2 and L1 (properties/liveness.py) after every internal step and
event, and the machine stops at the first violation, in the middle of the
step, with an exception named after the property (so Hypothesis shrinks
each property's failures separately); the ``@invariant`` checks the L1/L2
deadlines at the time a rule leaves the clock at. L1 also has a rule of its
own that makes the environment quiet (end outages, answer healthy,
regenerate and deploy credentials, opt in), starts a run and lets the time
of its bound pass. Compound rules (a whole run; a run disturbed in the
middle of a batch) make the deep states of the scenario list likely.

The machine records the scenarios it reached with ``event()`` and counts
them in :data:`CAMPAIGN`, which ``vmss-spec verify`` (properties/verify.py)
reports. (``target()`` was tried, on the scenarios reached, the number of
runs and the longest run: hill-climbing concentrated the examples and
reached the rarer scenarios less often, so it is not used.) When a property
fails, the final (shrunk) example is written as a trace file, ``note()``
having shown the state after each of its steps.
"""

from __future__ import annotations

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
    initialize,
    invariant,
    precondition,
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
_SKUS = sorted(SUPPORTED_SKUS)


def _rare(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in ``one_in`` draws (shrinks to False)."""
    return st.integers(0, one_in - 1).map(lambda k: k == one_in - 1)


@st.composite
def images(draw: st.DrawFn) -> ImageReference:
    """A supported platform image with version latest; now and then one that a
    V1-V3 check refuses (R9)."""
    publisher, offer, sku = draw(st.sampled_from(_SKUS))
    flaw = draw(st.integers(0, 24))
    if flaw == 22:
        return ImageReference("Contoso", offer, sku, "latest")  # V1
    if flaw == 23:
        return ImageReference(publisher, offer, sku, "1.0.0")  # V2
    if flaw == 24:
        return ImageReference(id="/subscriptions/s/images/custom")  # V3
    return ImageReference(publisher, offer, sku, "latest")


@st.composite
def probes(draw: st.DrawFn) -> HealthProbe | None:
    """None, a load balancer probe (Standard or Basic) or the application health
    extension; the interval sometimes at or above V7's 120 seconds."""
    kind = draw(st.sampled_from([None, "load_balancer", "application_health", "load_balancer"]))
    if kind is None:
        return None
    interval = draw(st.sampled_from([5, 15, 120]))
    lb_sku = "Basic" if kind == "load_balancer" and draw(_rare(4)) else "Standard"
    return HealthProbe(kind, lb_sku, interval)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Section 4: every option across its V10 range, the seed's values often."""
    percents = st.one_of(st.sampled_from([20, 50, 100, 5, 10, 33]), st.integers(5, 100))
    upgraded = None
    if draw(st.booleans()):
        upgraded = draw(st.one_of(st.sampled_from([0, 10, 50, 100]), st.integers(0, 100)))
    pause = draw(st.sampled_from([0, 0, 3, 10]))
    return Policy(
        max_batch_instance_percent=draw(percents),
        max_unhealthy_instance_percent=draw(percents),
        max_unhealthy_upgraded_instance_percent=upgraded,
        pause_time_between_batches=f"PT{pause}S",
        prioritize_unhealthy_instances=draw(st.booleans()),
        automatic_rollback=draw(st.booleans()),
    )


@st.composite
def timings(draw: st.DrawFn) -> Timings:
    """Small durations (seconds): the order of events matters, not their size;
    the health wait is sometimes shorter than the application's start."""
    return Timings(
        os_disk_seconds=draw(st.integers(1, 10)),
        extension_seconds=draw(st.integers(0, 10)),
        app_start_seconds=draw(st.integers(0, 10)),
        health_wait_seconds=draw(st.integers(0, 20)),
    )


@st.composite
def scale_sets(draw: st.DrawFn) -> ScaleSetConfig:
    """An initial scale set (SPEC section 7 ``scale_set``) that V9 and V10 accept."""
    instances = draw(st.one_of(st.integers(1, 10), st.integers(1, 40)))
    probe = draw(probes())
    sf = None
    if draw(_rare(4)):
        sf = ServiceFabric(
            durability=draw(st.sampled_from(["Silver", "Gold", "Bronze"])),
            update_domains=draw(st.integers(1, 5)),
        )
    # Credentials: valid for long, expiring soon, or already expired (R14).
    credentials: dict[str, CredentialConfig] = {}
    extensions: list[Extension] = []
    for name in draw(st.sampled_from([(), ("sas",), ("sas", "cert")])):
        expiry = draw(st.sampled_from([10**8, 0, 30, 200]))
        credentials[name] = CredentialConfig(expires_at=expiry)
    if credentials or draw(st.booleans()):
        extensions.append(Extension("CustomScript", tuple(sorted(credentials))))
    return ScaleSetConfig(
        instances=instances,
        image=draw(images()),
        catalog=draw(st.sampled_from([("1.0.0",), ("0.9.0", "1.0.0")])),
        automatic_os_upgrade=not draw(_rare(6)),
        health_probe=probe,
        extensions=tuple(extensions),
        credentials=credentials,
        data_disks_per_instance=draw(st.integers(0, 2)),
        disk_encryption=draw(_rare(25)),
        single_placement_group=not draw(_rare(10)),
        service_fabric=sf,
        policy=draw(policies()),
        timings=draw(timings()),
    )


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
        before = len(self.violations)
        super()._report(invariant, problems)
        if problems and self._on_violation is not None:
            self._on_violation(self.violations[before])


#: what goes wrong in the middle of a batch (UpgradeMachine.disturbed_run)
DISTURBANCES = ("outage", "unhealthy", "expire", "opt-out", "cancel", "publish")
_FAR = 10**8  # a credential that outlives any example
_SETTLE = 10**7  # how far settling may look ahead


class UpgradeMachine(RuleBasedStateMachine):
    """Whole histories of the environment against the model, every invariant
    checked after every step (SPEC section 6)."""

    def __init__(self) -> None:
        super().__init__()
        self.ss: ScaleSet | None = None
        self.config: ScaleSetConfig | None = None
        self.checker: CountingChecker | None = None
        self.events: list[Event] = []
        self.reached: set[str] = set()
        self.failure: Violation | None = None
        self._runs_seen = 0
        self._deploys_seen = 0
        self._failed_before: dict[int, set[int]] = {}
        self._minor = 0
        CAMPAIGN.examples += 1

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

    def _ids(self, data: st.DataObject, pool: list[int] | None = None) -> tuple[int, ...]:
        """Some instance ids: a few, a contiguous range (many at once, R8), or
        now and then one that does not exist (refused)."""
        ids = sorted(self.ss.instances) if pool is None else pool
        mode = data.draw(st.integers(0, 9), label="mode")
        if not ids or mode == 9:
            return (self.ss.next_id,)
        if mode >= 6:
            count = data.draw(st.integers(1, len(ids)), label="count")
            first = data.draw(st.integers(0, len(ids) - count), label="first")
            return tuple(ids[first : first + count])
        return tuple(data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True)))

    # ------------------------------------------------------------ the scale set
    @initialize(config=scale_sets())
    def create(self, config: ScaleSetConfig) -> None:
        self.config = config
        self.ss = ScaleSet(config, log=False)
        self.checker = CountingChecker(self.ss, CAMPAIGN.evaluations, self._violated)
        if self.ss.rejected:
            self._reach("refused event")  # D16: a V error at time 0

    # ------------------------------------------------------------ events (section 7)
    @rule(broken=_rare(5), stale=_rare(10))
    def publish_image(self, broken: bool, stale: bool) -> None:
        """R2, D14: a newer version (sometimes broken); now and then one that is not newer."""
        version = self.ss.catalog.latest if stale else self._new_version()
        during = self.ss.active_run is not None
        if self._apply(PublishImage(self.now, version, app_healthy=not broken)) is None and during:
            self._reach("publication during a run")

    @rule(data=st.data(), planned=st.booleans())
    def outage_start(self, data: st.DataObject, planned: bool) -> None:
        """R8, D10: maintenance takes instances down."""
        kind = "planned" if planned else "unplanned"
        self._apply(OutageStart(self.now, self._ids(data), kind))

    @rule(data=st.data())
    def outage_end(self, data: st.DataObject) -> None:
        """R8, D10: instances come back (mostly ones that are down)."""
        down = [i for i, inst in self.ss.instances.items() if inst.power_state == STOPPED]
        self._apply(OutageEnd(self.now, self._ids(data, down or None)))

    @rule(data=st.data(), healthy=st.booleans())
    def app_health(self, data: st.DataObject, healthy: bool) -> None:
        """R6: the application's probe answer on some instances."""
        self._apply(AppHealth(self.now, self._ids(data), healthy))

    @precondition(lambda self: bool(self.config.credentials))
    @rule(data=st.data())
    def expire_credential(self, data: st.DataObject) -> None:
        """R14, D15: a credential expires now."""
        name = data.draw(st.sampled_from(sorted(self.config.credentials)))
        self._apply(ExpireCredential(self.now, name))

    @precondition(lambda self: bool(self.config.credentials))
    @rule(data=st.data(), lifetime=st.sampled_from([_FAR, 1, 20, 100]))
    def regenerate_credential(self, data: st.DataObject, lifetime: int) -> None:
        """R15, D15: a new token (the model keeps the old one until a deploy)."""
        name = data.draw(st.sampled_from(sorted(self.config.credentials)))
        self._apply(RegenerateCredential(self.now, name, self.now + lifetime))

    @rule()
    def update_model(self) -> None:
        """R15, D8: deploy the model with the newest tokens."""
        failed = {
            i
            for i, inst in self.ss.instances.items()
            if inst.provisioning_state == PROVISIONING_FAILED
        }
        if self._apply(UpdateModel(self.now)) is None and failed:
            self._failed_before[len(self.ss.deploys) - 1] = failed

    @rule(count=st.integers(1, 3))
    def scale_out(self, count: int) -> None:
        """R18, D9: new instances from the latest version."""
        self._apply(ScaleOut(self.now, count))

    @rule(count=st.integers(1, 3))
    def scale_in(self, count: int) -> None:
        """D9: remove the highest ids outside the batch in flight."""
        self._apply(ScaleIn(self.now, count))

    @rule(enabled=st.booleans())
    def set_automatic_upgrade(self, enabled: bool) -> None:
        """R1, D7: opt in or out."""
        self._apply(SetAutomaticUpgrade(self.now, enabled))

    @rule()
    def start_upgrade(self) -> None:
        """R12: a manual start."""
        self._apply(StartUpgrade(self.now))

    @rule()
    def cancel_upgrade(self) -> None:
        """D7: a user cancel."""
        self._apply(CancelUpgrade(self.now))

    # ------------------------------------------------------------ time
    @rule(seconds=st.integers(0, 60))
    def advance(self, seconds: int) -> None:
        """Time passes."""
        self.ss.advance(self.now + seconds)

    @rule(days=st.integers(1, 70))
    def advance_days(self, days: int) -> None:
        """Days pass (R16: the history's 60-day window)."""
        self.ss.advance(self.now + days * 86400)

    @precondition(lambda self: self.ss is not None and self.ss.clock.next_time() is not None)
    @rule(just_before=st.booleans())
    def advance_to_next_step(self, just_before: bool) -> None:
        """D12: land on the next internal step (an event then comes after it), or
        one second before it."""
        when = self.ss.clock.next_time() - (1 if just_before else 0)
        self.ss.advance(max(self.now, when))

    @precondition(
        lambda self: (
            self.ss is not None
            and self.ss.active_run is not None
            and self.ss.active_run.batch_in_flight is not None
        )
    )
    @rule(data=st.data())
    def advance_into_batch(self, data: st.DataObject) -> None:
        """R8: land in the middle of the batch in flight."""
        batch = self.ss.active_run.batch_in_flight
        t = self.ss.timings
        offset = data.draw(
            st.one_of(
                st.integers(0, t.os_disk_seconds + t.extension_seconds),  # before it is done
                st.integers(0, batch_bound(self.ss)),
            ),
            label="offset",
        )
        self.ss.advance(max(self.now, batch.start + offset))

    @precondition(
        lambda self: (
            self.ss is not None
            and any(inst.state == "awaiting_health" for inst in self.ss.instances.values())
        )
    )
    @rule(data=st.data(), offset=st.sampled_from([0, -1, 1]))
    def advance_to_health_deadline(self, data: st.DataObject, offset: int) -> None:
        """R6: land on an awaited instance's health deadline (or a second either side)."""
        waiting = sorted(
            i for i, inst in self.ss.instances.items() if inst.state == "awaiting_health"
        )
        inst = self.ss.instances[data.draw(st.sampled_from(waiting))]
        deadline = inst.last_provisioned_at + self.ss.timings.health_wait_seconds
        self.ss.advance(max(self.now, deadline + offset))

    def _expiries(self) -> list[int]:
        ss = self.ss
        return sorted(
            tokens[ss.model_tokens[name]]
            for name, tokens in ss.tokens.items()
            if tokens[ss.model_tokens[name]] > ss.now
        )

    @precondition(lambda self: self.ss is not None and bool(self._expiries()))
    @rule(offset=st.sampled_from([0, -1]))
    def advance_to_expiry(self, offset: int) -> None:
        """R14: land on a credential's expiry (provisioning then fails) or just before."""
        self.ss.advance(max(self.now, self._expiries()[0] + offset))

    @rule()
    def settle(self) -> None:
        """Everything queued happens: runs, deploys and creations end."""
        self._settle()

    # ------------------------------------------------------------ whole runs
    @rule(publish=st.booleans())
    def run_to_end(self, publish: bool) -> None:
        """A whole run: a publication or a manual start, then everything settles."""
        if publish:
            self._apply(PublishImage(self.now, self._new_version()))
        else:
            self._apply(StartUpgrade(self.now))
        self._settle()

    @rule(
        data=st.data(),
        manual=st.booleans(),
        broken=_rare(3),
        heal=st.integers(0, 3).map(lambda k: k < 3),
        disturbance=st.sampled_from(DISTURBANCES),
        finish=st.integers(0, 3).map(lambda k: k < 3),
    )
    def disturbed_run(
        self,
        data: st.DataObject,
        manual: bool,
        broken: bool,
        heal: bool,
        disturbance: str,
        finish: bool,
    ) -> None:
        """A run meets trouble in the middle of a batch: a run starts (after
        earlier outages and unhealthy answers end, mostly; by a publication,
        sometimes of a broken image, an opt-in or a manual start), time goes
        into its batch in flight, something happens there (R8 maintenance, a
        probe answer, a credential expiring, an opt-out, a cancel, a
        publication), and then (mostly) everything settles."""
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
        run = self.ss.active_run
        if run is not None and run.batch_in_flight is not None:
            self.advance_into_batch(data)
        ids = tuple(sorted(self.ss.instances))
        if disturbance == "outage" and ids:
            count = data.draw(st.integers(1, len(ids)), label="count")
            self._apply(OutageStart(self.now, ids[-count:]))
        elif disturbance == "unhealthy" and ids:
            count = data.draw(st.integers(1, len(ids)), label="count")
            self._apply(AppHealth(self.now, ids[:count], False))
        elif disturbance == "expire" and self.config.credentials:
            self._apply(ExpireCredential(self.now, sorted(self.config.credentials)[0]))
        elif disturbance == "opt-out":
            self._apply(SetAutomaticUpgrade(self.now, False))
        elif disturbance == "cancel":
            self._apply(CancelUpgrade(self.now))
        elif disturbance == "publish":
            self.publish_image(broken=False, stale=False)
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

    @precondition(lambda self: self.ss is not None and not self.ss.v_errors)
    @rule()
    def quiet_then_complete(self) -> None:
        """L1: the environment goes quiet (any run ended, outages over, credentials
        regenerated and deployed, every application answering healthy, a healthy
        latest image, opted in); a run starts and must end Completed with every
        in-scope instance on its target within its bound."""
        ss = self.ss
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
        if current_build_context().is_final:
            note(self._describe())
        self.checker.finish()
        assert not self.checker.violations, self.checker.violations[0]

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
        if self.ss is None:
            return
        in_flight = sys.exc_info()[1]
        failure = self.failure
        if failure is None and isinstance(in_flight, Exception):
            if not isinstance(in_flight, HypothesisException):
                failure = Violation(f"crash: {type(in_flight).__name__}", self.now, str(in_flight))
        if failure is not None and current_build_context().is_final:
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
