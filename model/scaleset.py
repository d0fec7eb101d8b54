"""The scale set: the state of the whole system and its step loop.

What is modelled: one VM scale set with automatic OS image upgrades (SPEC
sections 2-5): its instances (model/instance.py), its upgrade runs
(model/run.py), the image catalog (model/catalog.py), the environment and
the user (model/environment.py) and the osUpgradeHistory view
(model/history.py). Each of those modules holds the actions of its actor;
this one holds the shared state, the health predicate of R7 and the clock
loop of D12.

Deliberately left out: networking, load balancer rules, the VM agent, real
durations (timings are fixed per operation), regions and zones, the REST
request/response cycle (a refusal is a recorded rejection), and any
randomness: the environment is whatever the trace or Hypothesis says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model.catalog import Catalog, version_key
from model.clock import Clock
from model.config import ScaleSetConfig, check_errors, check_warnings
from model.environment import Deploy, EnvironmentActions, Event, Rejected, Rejection
from model.history import UpgradeHistory, history_view
from model.instance import RUNNING, SUCCEEDED, Instance, InstanceActions
from model.machines import instance_machine, run_machine
from model.run import RunActions, UpgradeRun

if TYPE_CHECKING:
    from model.trace import Result

Watcher = Callable[[str, tuple[Any, ...]], None]


class ScaleSet(InstanceActions, RunActions, EnvironmentActions):
    """The executable spec: build it from a configuration, ``apply`` events,
    ``advance`` time, and read ``instances``, ``runs`` and the history view."""

    def __init__(self, config: ScaleSetConfig, *, log: bool = True) -> None:
        self.config = config
        self.policy = config.policy
        self.timings = config.timings
        self.probe = config.health_probe
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
        #: the timeline: (time, message, run number or None, progress or None)
        self.log: list[tuple[int, str, int | None, tuple[int, ...] | None]] | None = (
            [] if log else None
        )
        #: an observer of the facts the invariants need (properties/ sets it)
        self.watch: Watcher | None = None
        #: the time of the last event or internal step that did something
        self.last_activity = 0
        #: how many internal steps did something (benchmarks report steps per second)
        self.steps_taken = 0
        self._instance_machine = instance_machine()
        self._run_machine = run_machine()
        # R14, R15: each credential's tokens (expiry times); the model's reference.
        self.tokens: dict[str, list[int]] = {
            name: [cred.expires_at] for name, cred in config.credentials.items()
        }
        self.model_tokens: dict[str, int] = {name: 0 for name in self.tokens}
        self._ext_credentials = sorted({c for ext in config.extensions for c in ext.credentials})
        # V1-V8, D16: checked once, from the initial configuration.
        self.v_errors = check_errors(config)
        self.warnings = check_warnings(config)
        self.auto_enabled = config.automatic_os_upgrade and not self.v_errors
        if config.automatic_os_upgrade and self.v_errors:
            self.rejected.append(Rejection(0, "set_automatic_upgrade", self.v_error_reason()))
        # "The instances present at time 0 are running, provisioned, and healthy."
        latest = self.catalog.latest
        for _ in range(config.instances):
            inst = self._new_instance(latest, initial="ready")
            inst.app_started_at = -self.timings.app_start_seconds

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> int:
        return self.clock.now

    def advance(self, until: int) -> None:
        """D12: apply every internal step due at or before ``until``, in order."""
        clock = self.clock
        while True:
            step = clock.pop_due(until)
            if step is None:
                break
            action, arg = step
            if action(arg) is not False:
                self.last_activity = clock.now
                self.steps_taken += 1
                if self.watch is not None:
                    self.watch("step", ())
        clock.now = max(clock.now, until)

    def apply(self, event: Event) -> Rejection | None:
        """D12: an external event at its time, after the internal steps due then.
        A refused event is recorded (section 7 `rejected`) and changes nothing."""
        self.advance(event.at)
        self.last_activity = self.clock.now
        try:
            self.dispatch(event)
        except Rejected as refusal:
            rejection = Rejection(event.at, event.NAME, refusal.reason)
            self.rejected.append(rejection)
            self._log(None, "%s refused: %s", event.NAME, refusal.reason)
            if self.watch is not None:
                self.watch("rejected", (rejection,))
            return rejection
        if self.watch is not None:
            self.watch("event", (event,))
        return None

    def settle(self, cap: int) -> None:
        """Run internal steps until none is left or the clock reaches ``cap``."""
        while True:
            nxt = self.clock.next_time()
            if nxt is None or nxt > cap:
                return
            self.advance(nxt)

    # ------------------------------------------------------------------ views
    def history(self) -> UpgradeHistory:
        """R16: the osUpgradeHistory view now, in the REST shape."""
        cfg = self.config
        return history_view(self.runs, self.clock.now, cfg.image, cfg.epoch, cfg.location)

    def result(self) -> Result:
        """Section 7: the result document of the scale set now (no violations:
        those come from a Checker, as replay attaches one)."""
        from model.replay import result_of

        return result_of(self, [])

    # ------------------------------------------------------------------ health
    def is_healthy(self, inst: Instance) -> bool:
        """R7, "Health, precisely": running, Succeeded, no operation in flight,
        and with a probe, probe_ok."""
        if inst.power_state != RUNNING or inst.provisioning_state != SUCCEEDED or inst.busy:
            return False
        return self.probe is None or self.probe_ok(inst)

    def probe_ok(self, inst: Instance) -> bool:
        """The last app_health answer since the disk changed; otherwise the
        image is not broken (D14) and the application has been up for
        app_start_seconds."""
        if inst.app_health is not None:
            return inst.app_health
        started = inst.app_started_at
        if started is None or self.catalog.is_broken(inst.image_version):
            return False
        return self.clock.now - started >= self.timings.app_start_seconds

    def count_unhealthy(self) -> int:
        """R4, R8: the unhealthy instances of the whole scale set now."""
        healthy = self.is_healthy
        return sum(1 for inst in self.instances.values() if not healthy(inst))

    # ------------------------------------------------------------------ credentials
    def credential_expired(self, name: str, at: int) -> bool:
        """R14: the token the model references has expires_at at or before ``at``."""
        return self.tokens[name][self.model_tokens[name]] <= at

    def provisioning_fails(self, at: int) -> bool:
        """R14: extension provisioning finishing at ``at`` fails."""
        return any(self.credential_expired(name, at) for name in self._ext_credentials)

    # ------------------------------------------------------------------ versions
    def below_latest(self, inst: Instance) -> bool:
        return version_key(inst.image_version) < version_key(self.catalog.latest)

    def v_error_reason(self, rules: tuple[str, ...] | None = None) -> str:
        """D16: the message that names each standing V error and its field."""
        errors = [f for f in self.v_errors if rules is None or f.rule in rules]
        return "; ".join(str(f) for f in errors)

    # ------------------------------------------------------------------ journal
    def _log(self, run: UpgradeRun | None, fmt: str, *args: Any) -> None:
        """The replay timeline: one entry per change, with the run's progress."""
        if self.log is None:
            return
        if run is None:
            self.log.append((self.clock.now, fmt % args, None, None))
        else:
            c = run.counts
            progress = (c["successful"], c["failed"], c["inProgress"], c["pending"])
            self.log.append((self.clock.now, fmt % args, run.number, progress))

    def _note(self, fact: str, *args: Any) -> None:
        if self.watch is not None:
            self.watch(fact, args)
