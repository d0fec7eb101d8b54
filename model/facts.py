"""What the model shows an observer outside it: its facts as plain data, and
its published answers.

Inside the model, each step records what it did through
``ScaleSet.record(fact, *objects)``, and the model's own views (the timeline,
the rollout, the causes) read the objects it passes. An observer outside the
model (the property checker, properties/checker.py) never sees those
objects. :func:`observe` subscribes it through :class:`Plain`, which turns
each fact into plain, immutable values built at the moment of the fact:

- :class:`Vm`: an instance as observed (its id, disks, version, power and
  provisioning state, update domain);
- :class:`RunView`, :class:`BatchView`, :class:`CheckView`, :class:`Outcome`,
  :class:`DeployView`: a run, a batch, a pre-batch check, a member's outcome,
  a model deploy, as the model reports them at that moment (numbers, times,
  members, states, counts, error codes);
- :class:`StepView`: the row of the step table a step belongs to, with the
  event as given, or the id of the instance or the number of the run an
  internal step acts on.

What the model publishes otherwise (the health it reports, the history
view, the result document, the tokens it keeps, its last activity) the
observer reads through :class:`Published`, whose answers are plain values
or section 7's documents. Nothing an observer receives lets it call into
the model or change it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from model.run import ACTIVE_STATES
from model.snapshot import T

if TYPE_CHECKING:
    from model.events import Rejection
    from model.history import UpgradeHistory
    from model.result import Result
    from model.scaleset import ScaleSet


class Vm(NamedTuple):
    """An instance at the moment of a fact."""

    id: int
    os_disk: str
    image_version: str
    data_disks: tuple[str, ...]
    power_state: str
    provisioning_state: str
    update_domain: int | None


class RunView(NamedTuple):
    """A run as the model reports it: who started it, towards what, when; its
    lifecycle state (pre_check, batch_in_flight, pause, Completed, Faulted,
    Cancelled), its error (code, message), its counts (D11, the REST
    progress) and its rollbackInfo counts."""

    SNAPSHOT_TIMES = {"start": T, "end": T}  # E3 (model/snapshot.py)

    number: int
    started_by: str
    target: str
    start: int
    end: int | None
    state: str
    active: bool
    error: tuple[str, str] | None
    #: successful, failed, inProgress, pending (D11)
    progress: tuple[int, int, int, int]
    rolled_back: int
    failed_rollbacks: int


class BatchView(NamedTuple):
    """A batch: its number, its members, when it started and ended."""

    SNAPSHOT_TIMES = {"start": T, "end": T}  # E3 (model/snapshot.py)

    number: int
    instances: tuple[int, ...]
    start: int
    end: int | None


class CheckView(NamedTuple):
    """The counts a pre-batch check reports (R4, R8)."""

    SNAPSHOT_TIMES = {"at": T}  # E3 (model/snapshot.py)

    at: int
    instance_count: int
    unhealthy: int
    limit: int


class Outcome(NamedTuple):
    """D11: how the model says a batch member was done."""

    status: str
    provisioning_failed: bool
    rolled_back: bool


class DeployView(NamedTuple):
    """D8: a model deploy: when it started, the instances it touched, how it ended."""

    SNAPSHOT_TIMES = {"start": T}  # E3 (model/snapshot.py)

    start: int
    members: tuple[int, ...]
    succeeded: bool | None


class StepView(NamedTuple):
    """A row of the step table: its name and how it comes about (``event``,
    ``queued: instance``, ``queued: run``)."""

    name: str
    when: str


def vm(inst: Any) -> Vm:
    return Vm(
        inst.id,
        inst.os_disk,
        inst.image_version,
        tuple(inst.data_disks),
        inst.power_state,
        inst.provisioning_state,
        inst.update_domain,
    )


def run_view(run: Any) -> RunView:
    p = run.progress()  # the counts the model publishes (D11, the REST shape)
    return RunView(
        run.number,
        run.started_by,
        run.target,
        run.start,
        run.end,
        run.state,
        run.state in ACTIVE_STATES,
        run.error,
        (
            p["successfulInstanceCount"],
            p["failedInstanceCount"],
            p["inProgressInstanceCount"],
            p["pendingInstanceCount"],
        ),
        run.rolled_back,
        run.failed_rollbacks,
    )


def batch_view(batch: Any) -> BatchView:
    return BatchView(batch.number, tuple(batch.instances), batch.start, batch.end)


def _instance(inst: Any) -> tuple[Any, ...]:
    return (vm(inst),)


def _run(run: Any) -> tuple[Any, ...]:
    return (run_view(run),)


def _run_batch(run: Any, batch: Any) -> tuple[Any, ...]:
    return run_view(run), batch_view(batch)


def _member(run: Any, inst: Any) -> tuple[Any, ...]:
    o = run.batches[-1].outcomes[inst.id]
    return run_view(run), vm(inst), Outcome(o.status, o.provisioning_failed, o.rolled_back)


def _deploy(deploy: Any) -> tuple[Any, ...]:
    return (DeployView(deploy.start, tuple(deploy.members), deploy.succeeded),)


def _check(run: Any, check: Any) -> tuple[Any, ...]:
    c = CheckView(check.at, check.instance_count, check.unhealthy, check.limit)
    return run_view(run), c


#: each row of the step table as a plain value, made once per row
_ROWS: dict[Any, StepView] = {}


def _step(row: Any, arg: Any) -> tuple[Any, ...]:
    view = _ROWS.get(row)
    if view is None:
        view = _ROWS[row] = StepView(row.name, row.when)
    when = view.when
    if when == "queued: instance":
        arg = arg[0].id  # (instance, token)
    elif when == "queued: run":
        arg = arg.number
    return view, arg


#: fact -> how its objects become plain values (facts not listed carry plain
#: values already: the events as given, a rejection, a flag, ids, words)
CONVERT: dict[str, Callable[..., tuple[Any, ...]]] = {
    "begin": _step,
    "step": _step,
    "instance_created": _instance,
    "instance_removed": _instance,
    "disk_replaced": _instance,
    "application_up": _instance,
    "rollback_started": _instance,
    "rollback_restored": _instance,
    "extensions_finished": lambda inst, ok: (vm(inst), ok),
    "scaled_out": lambda created: (tuple(created),),
    "scaled_in": lambda victims: (tuple(victims),),
    "deploy_started": _deploy,
    "deploy_ended": _deploy,
    "run_started": lambda run, reason: (run_view(run), tuple(sorted(run.scope)), reason),
    "pre_batch_check": _run,
    "pre_batch_checked": _check,
    "batch_started": _run_batch,
    "member_done": _member,
    "batch_ended": _run_batch,
    "run_ended": _run,
    "cancel_asked": _run,
    # D4: a moment at which a Platform run could start, and why none did
    "run_not_started": lambda trigger, why: (trigger.kind, why),
}


class Plain:
    """A subscriber (``ss.subscribe``) that passes each fact on to ``observer``
    as plain values (see the module doc); ``violations`` and ``finish`` are
    the observer's, so that a replay (model/replay.py) can attach it.

    An observer called as ``observer(fact, *values)`` gets every fact that
    way. One that has ``handler(fact)`` is asked once per kind of fact for
    the callable that takes that fact's values (the checker's handlers,
    chained once), and each fact then costs one conversion and one call."""

    def __init__(self, observer: Any) -> None:
        self.observer = observer
        self._handler = getattr(observer, "handler", None)
        #: fact -> the callable taking the model's own arguments
        self._table: dict[str, Callable[..., None]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """A copy (model/snapshot.py) compiles its table again, on demand."""
        return {**self.__dict__, "_table": {}}

    def __call__(self, fact: str, *args: Any) -> None:
        passes = self._table.get(fact)
        if passes is None:
            passes = self._table[fact] = self._compile(fact)
        passes(*args)

    def _compile(self, fact: str) -> Callable[..., None]:
        how = CONVERT.get(fact)
        if self._handler is not None:
            target = self._handler(fact)
        else:
            observer = self.observer

            def target(*values: Any) -> None:
                observer(fact, *values)

        if how is None:
            return target

        def passes(*args: Any) -> None:
            target(*how(*args))

        return passes

    @property
    def violations(self) -> Any:
        return self.observer.violations

    def finish(self) -> None:
        self.observer.finish()


class Published:
    """What the model publishes, read as plain values or section 7's documents."""

    def __init__(self, ss: ScaleSet) -> None:
        self._ss = ss
        #: the configuration as given (section 7's scale_set)
        self.config = ss.config
        self._clock = ss.clock

    @property
    def now(self) -> int:
        return self._clock.now

    def run(self, number: int) -> RunView:
        """Run ``number`` (from 1) as the model reports it now."""
        return run_view(self._ss.runs[number - 1])

    def recent_runs(self, count: int) -> list[RunView]:
        """The last ``count`` runs started, oldest first."""
        return [run_view(run) for run in self._ss.runs[-count:]]

    def instance(self, instance_id: int) -> Vm | None:
        """An instance as the model shows it now (None once removed)."""
        inst = self._ss.instances.get(instance_id)
        return None if inst is None else vm(inst)

    def health(self, instance_id: int) -> tuple[bool, str, str] | None:
        """R7: whether the model says the instance is healthy now, with the
        power and provisioning states it reports (None once removed)."""
        inst = self._ss.instances.get(instance_id)
        if inst is None:
            return None
        return self._ss.is_healthy(inst), inst.power_state, inst.provisioning_state

    def in_active_scope(self, instance_id: int) -> bool:
        """D11: whether the active run's scope holds the instance."""
        run = self._ss.active_run
        return run is not None and instance_id in run.scope

    def history(self) -> UpgradeHistory:
        """R16: the osUpgradeHistory view now (section 7's shape)."""
        return self._ss.history()

    def result(self) -> Result:
        """Section 7: the result document now."""
        return self._ss.result()

    @property
    def latest(self) -> str:
        """R17: what ``latest`` resolves to."""
        return self._ss.catalog.latest

    def token_slice(self, name: str, first: int, end: int) -> tuple[int, ...] | None:
        """D15: the expiry of the tokens ``first`` to ``end - 1`` of ``name``."""
        tokens = self._ss.tokens.get(name)
        return None if tokens is None else tuple(tokens[first:end])

    def token_count(self, name: str) -> int | None:
        tokens = self._ss.tokens.get(name)
        return None if tokens is None else len(tokens)

    def token_expiry(self, name: str) -> int:
        """D15: the expiry of the token of ``name`` the model references."""
        return self._ss.token_expiry(name)

    @property
    def auto_enabled(self) -> bool:
        """D16: whether automatic upgrades are on."""
        return self._ss.auto_enabled

    @property
    def rejected(self) -> list[Rejection]:
        """Section 7 ``rejected``, so far."""
        return list(self._ss.rejected)

    @property
    def warnings(self) -> list[Any]:
        """Section 7 ``warnings`` (V8)."""
        return list(self._ss.warnings)

    @property
    def last_activity(self) -> int:
        """Section 7 ``until``: the time of the last thing that happened."""
        return self._ss.last_activity


def observe(ss: ScaleSet, make: Callable[[Published], Any]) -> Any:
    """Subscribe the observer ``make(Published(ss))`` to ``ss`` through
    :class:`Plain`, and return it."""
    observer = make(Published(ss))
    ss.subscribe(Plain(observer))
    return observer


def outside(make: Callable[[Published], Any]) -> Callable[[ScaleSet], Plain]:
    """For ``model.replay.replay(trace, observers=[...])``: an observer from
    outside the model, made with what the model publishes and fed plain facts."""

    def build(ss: ScaleSet) -> Plain:
        return Plain(make(Published(ss)))

    return build
