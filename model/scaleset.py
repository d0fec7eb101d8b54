"""The scale set: the state of the whole system, the health predicate of R7,
and the step loop of D12.

What is modelled: one VM scale set with automatic OS image upgrades (SPEC
sections 2-5): its instances (model/instance.py), its upgrade runs
(model/run.py), the image catalog (model/catalog.py), the model deploy, and
the osUpgradeHistory view (model/history.py). Who changes that state, and
how, is in the step table (model/steps.py), each actor's actions in its own
module under model/actors/.

Deliberately left out: networking, load balancer rules, the VM agent, real
durations (timings are fixed per operation), regions and zones, the REST
request/response cycle (a refusal is a recorded rejection), and any
randomness: the environment is whatever the trace, the caller or
Hypothesis says.

Recording: every step reports what it did through :meth:`ScaleSet.record`
(``record(fact, *args)``); the timeline (model/timeline.py) and the property
checker subscribe to it. With nobody subscribed, ``record`` is a function
that does nothing, and the D12 loop does not call it at all (``subscribe``
puts the loop that reports each step in its place). A step starts with
``("begin", row, arg)`` (its row of the step table and its argument: the
event, or the queued step's subject) and ends with ``("step", row, arg)``
(an internal step that did something), ``("event", event)`` or
``("rejected", rejection)``; a queued step that finds it has nothing left
to do (it is stale) records no end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model import steps
from model.actors import instances
from model.catalog import Catalog, version_key
from model.clock import ELIGIBILITY_STEP, INSTANCE_STEP, ROLLOUT_STEP, RUN_STEP, Clock
from model.config import ENABLE, ScaleSetConfig, check_errors, check_warnings, v_refusal
from model.events import Event, Rejected, Rejection
from model.history import UpgradeHistory, history_view
from model.instance import BUSY_STATES, Instance, Power, Provisioning
from model.lifecycles import shared_machines
from model.result import Result, result_of
from model.snapshot import T
from model.today import (
    check_errors_today,
    check_warnings_today,
    is_today,
    probes,
    refusal_today,
    today_policy,
)

if TYPE_CHECKING:
    from model.actors.deploy import Deploy
    from model.run import UpgradeRun

#: a subscriber of the recorded facts: ``listener(fact, *args)``
Listener = Callable[..., None]


def _nobody_listens(fact: str, *args: Any) -> None:
    """``record`` while nobody subscribes: nothing to do."""


class ScaleSet:
    """The executable spec: build it from a configuration, ``apply`` events,
    ``advance`` time, and read ``instances``, ``runs`` and the history view."""

    #: E3 (model/snapshot.py): what is not state (the configuration and what
    #: is read from it once, the machines, the subscribers, a counter), and
    #: the attributes holding times
    SNAPSHOT_SKIP = (
        "config", "policy", "timings", "probe", "service_fabric", "pause_seconds",
        "record", "_listeners", "instance_machine", "run_machine", "advance",
        "extension_credentials", "v_errors", "warnings", "steps_taken", "today",
    )  # fmt: skip
    SNAPSHOT_TIMES = {
        "not_started": [(T, None, None)],
        "auto_off_at": T,
        "last_activity": T,
        "tokens": {"*": [T]},
        "rollout_from": T,
    }

    def __init__(self, config: ScaleSetConfig) -> None:
        """The scale set at time 0: its instances running, provisioned, healthy,
        on the catalog's latest version. D16: the V checks run once, here; a V
        error with automatic_os_upgrade true is refused at time 0 and
        automatic upgrades stay off."""
        self.config = config
        #: T1: section 9 applies (today's Azure)
        self.today = is_today(config)
        self.policy = today_policy(config) if self.today else config.policy
        self.timings = config.timings
        sources = probes(config)  # T6: two sources read the same answers
        self.probe = sources[0] if sources else None
        self.service_fabric = config.service_fabric
        self.pause_seconds = config.policy.pause_seconds
        self.clock = Clock()
        self.catalog = Catalog(list(config.catalog))
        self.instances: dict[int, Instance] = {}
        self.next_id = 0
        self.runs: list[UpgradeRun] = []
        self.active_run: UpgradeRun | None = None
        self.deploy: Deploy | None = None
        self.deploys: list[Deploy] = []
        self.rejected: list[Rejection] = []
        #: the one recording channel: ``record(fact, *args)`` (see subscribe)
        self.record: Listener = _nobody_listens
        self._listeners: list[Listener] = []
        #: causes (text only): triggers that started no run (time, trigger, why,
        #: D4) and when automatic upgrades were last turned off (D7)
        self.not_started: list[tuple[int, str, str]] = []
        self.auto_off_at: int | None = None
        #: the time of the last event or internal step that did something
        self.last_activity = 0
        #: how many internal steps did something (benchmarks report steps per second)
        self.steps_taken = 0
        self.instance_machine, self.run_machine = shared_machines()
        # R14, R15: each credential's tokens (expiry times) and the one the model references.
        self.tokens: dict[str, list[int]] = {
            name: [cred.expires_at] for name, cred in config.credentials.items()
        }
        self.model_tokens: dict[str, int] = {name: 0 for name in self.tokens}
        #: D15: the tokens of each credential below this index have expired already
        self.expired_upto: dict[str, int] = {name: 0 for name in self.tokens}
        self.extension_credentials = sorted(
            {c for ext in config.extensions for c in ext.credentials}
        )
        # V1-V8, D16 (section 9.13 with the switch): checked once, from the
        # initial configuration.
        if self.today:
            self.v_errors, self.warnings = check_errors_today(config), check_warnings_today(config)
        else:
            self.v_errors, self.warnings = check_errors(config), check_warnings(config)
        refusal = self.refusal(ENABLE)
        self.auto_enabled = config.automatic_os_upgrade and refusal is None
        if config.automatic_os_upgrade and refusal is not None:
            self.rejected.append(Rejection(0, "set_automatic_upgrade", refusal))
        #: T18: no Platform run starts before this time (None: not opted in yet)
        self.rollout_from: int | None = None
        if self.auto_enabled:
            self.first_opt_in()
        # "The instances present at time 0 are running, provisioned, and healthy."
        for _ in range(config.instances):
            instances.add_initial(self)

    def refusal(self, action: str) -> str | None:
        """D16 (section 9.13, TD1 with the switch): why the standing
        configuration errors refuse ``action``, or None."""
        if self.today:
            return refusal_today(self.v_errors, action)
        return v_refusal(self.v_errors, action)

    def first_opt_in(self) -> None:
        """T18: automatic upgrades are accepted as on for the first time
        (t0): no Platform run starts before t0 + first_rollout_delay_seconds;
        a delay's end is a D4 trigger. Later opt-ins do not restart it. TD7:
        the delay is the trace's parameter; the model never draws one."""
        if self.rollout_from is not None or not self.today:
            return  # (without the switch there is no delay, and nothing to keep)
        delay = self.config.first_rollout_delay_seconds
        self.rollout_from = self.clock.now + delay
        if delay > 0:
            self.clock.schedule(
                self.rollout_from, ROLLOUT_STEP, 0, steps.INTERNAL["first_rollout"], None
            )

    def schedule_eligibility(self, version: str, at: int) -> None:
        """T17, TD6: ``version`` becomes eligible at ``at`` (an internal step;
        at equal times after instance steps, in ascending version)."""
        self.clock.schedule(
            at,
            ELIGIBILITY_STEP,
            len(self.catalog.versions),
            steps.INTERNAL["version_eligible"],
            version,
        )

    # ------------------------------------------------------------------ recording
    def subscribe(self, listener: Listener) -> None:
        """Have ``listener(fact, *args)`` called with every fact a step records.
        (From now on the D12 loop is the one that reports each step's begin
        and end: see :meth:`advance`.)"""
        self._listeners.append(listener)
        if len(self._listeners) == 1:
            self.record = listener
        else:
            self.record = self._broadcast
        self.advance = self._advance_recorded  # type: ignore[method-assign]

    def _broadcast(self, fact: str, *args: Any) -> None:
        for listener in self._listeners:
            listener(fact, *args)

    # ------------------------------------------------------------------ time (D12)
    @property
    def now(self) -> int:
        return self.clock.now

    def schedule_instance(self, inst: Instance, delay: int, step: str, token: int) -> None:
        """Queue the internal step ``step`` of an instance ``delay`` seconds from
        now; it does nothing if ``token`` is stale by then."""
        self.clock.schedule(
            self.clock.now + delay, INSTANCE_STEP, inst.id, steps.INTERNAL[step], (inst, token)
        )

    def schedule_run(self, run: UpgradeRun, delay: int, step: str) -> None:
        """Queue the internal step ``step`` of a run ``delay`` seconds from now."""
        self.clock.schedule(self.clock.now + delay, RUN_STEP, run.number, steps.INTERNAL[step], run)

    def advance(self, until: int) -> None:
        """D12: apply every internal step due at or before ``until``, in order
        (earliest first; the clock's queue keeps D12's order at equal times).
        A step that returns False found nothing left to do (it was stale)."""
        clock = self.clock
        while True:
            due = clock.pop_due(until)
            if due is None:
                break
            step, arg = due
            if step.perform(self, arg) is not False:
                self.last_activity = clock.now
                self.steps_taken += 1
        clock.now = max(clock.now, until)

    def _advance_recorded(self, until: int) -> None:
        """D12, once someone listens: :meth:`advance`'s loop, each step
        reported as it begins and as it ends. (Two loops so that a scale set
        nobody listens to pays nothing for recording: a test holds them to the
        same steps, the same order and the same state.)"""
        clock, record = self.clock, self.record
        while True:
            due = clock.pop_due(until)
            if due is None:
                break
            step, arg = due
            record("begin", step, arg)
            if step.perform(self, arg) is not False:
                self.last_activity = clock.now
                self.steps_taken += 1
                record("step", step, arg)
        clock.now = max(clock.now, until)

    def apply(self, event: Event) -> Rejection | None:
        """D12: an external event at its time, after the internal steps due then.
        A refused event is recorded (section 7 `rejected`) and changes nothing."""
        self.advance(event.at)
        row = steps.EVENTS[event.NAME]
        self.record("begin", row, event)
        self.last_activity = self.clock.now  # every event is something that happens
        try:
            row.perform(self, event)
        except Rejected as refusal:
            rejection = Rejection(event.at, event.NAME, refusal.reason)
            self.rejected.append(rejection)
            self.record("rejected", rejection)
            return rejection
        self.record("event", event)
        return None

    def run_until_idle(self, cap: int) -> None:
        """Apply internal steps until none is left or the next is after ``cap``."""
        while True:
            nxt = self.clock.next_time()
            if nxt is None or nxt > cap:
                return
            self.advance(nxt)

    # ------------------------------------------------------------------ views
    def history(self) -> UpgradeHistory:
        """R16: the osUpgradeHistory view now, in the REST shape."""
        cfg = self.config
        return history_view(
            self.runs, self.clock.now, cfg.image, cfg.epoch, cfg.location, self.today
        )

    def result(self) -> Result:
        """Section 7: the result document of the scale set now (with no
        violations: those come from a checker, as ``vmss-spec replay`` has)."""
        return result_of(self, [])

    # ------------------------------------------------------------------ health (R7)
    def is_healthy(self, inst: Instance) -> bool:
        """R7, "Health, precisely": running, Succeeded, no operation in flight,
        and with a probe, probe_ok."""
        if (
            inst.power_state != Power.RUNNING
            or inst.provisioning_state != Provisioning.SUCCEEDED
            or inst.state in BUSY_STATES  # Instance.busy, read here without the call
        ):
            return False
        return self.probe is None or self.probe_ok(inst)

    def probe_ok(self, inst: Instance) -> bool:
        """R7's probe_ok: the last app_health answer since the disk changed; otherwise the
        image is not broken (D14) and the application has been up for
        app_start_seconds."""
        if inst.app_health is not None:
            return inst.app_health
        started = inst.app_started_at
        if started is None or inst.image_version in self.catalog.broken:  # D14
            return False
        return self.clock.now - started >= self.timings.app_start_seconds

    def count_unhealthy(self) -> int:
        """R4, R8: the unhealthy instances of the whole scale set now."""
        return len(self.instances) - sum(map(self.is_healthy, self.instances.values()))

    # ------------------------------------------------------------------ credentials (R14)
    def token_expiry(self, name: str) -> int:
        """The expiry of the token of credential ``name`` that the model references."""
        return self.tokens[name][self.model_tokens[name]]

    def provisioning_fails(self, at: int) -> bool:
        """R14: extension provisioning finishing at ``at`` fails when a credential
        token the model references has expires_at at or before that moment."""
        return any(self.token_expiry(name) <= at for name in self.extension_credentials)

    def expired_credential(self, at: int) -> tuple[str, int] | None:
        """R14: the first credential whose referenced token has expired at ``at``,
        and its expiry (why provisioning then fails); None if none has."""
        for name in self.extension_credentials:
            expiry = self.token_expiry(name)
            if expiry <= at:
                return name, expiry
        return None

    # ------------------------------------------------------------------ versions (R17)
    def below_latest(self, inst: Instance) -> bool:
        return version_key(inst.image_version) < version_key(self.catalog.eligible)
