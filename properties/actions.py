"""The property machine's actions: what one step of a generated history can do.

Each action is a function of the machine and an integer ``n`` from which it
takes its own choices (ids, counts, offsets, flags) as mixed-radix digits,
each shrinking towards its simplest value as ``n`` shrinks towards 0. An
action that cannot apply in the current state (no credential, no batch in
flight) does the nearest thing that can: time runs to the next internal
step. The actions are the events of SPEC section 7 (each applied to the
model at the current time through the machine, which records it for the
trace), time advances that land where bugs hide, and whole runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from model.clock import RUN_STEP
from model.events import (
    AppHealth,
    CancelUpgrade,
    ExpireCredential,
    OutageEnd,
    OutageStart,
    PublishImage,
    RegenerateCredential,
    ScaleIn,
    ScaleOut,
    SetAutomaticUpgrade,
    SetProtection,
    StartUpgrade,
    UpdateModel,
)
from model.instance import Power, Provisioning
from model.run import Code
from properties.actions_documents import submit_trace
from properties.advances import (
    advance,
    advance_days,
    advance_into_batch,
    advance_into_pause,
    advance_to_batch,
    advance_to_expiry,
    advance_to_health_deadline,
    advance_to_next_step,
)
from properties.liveness import quiet_run_bound

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

if TYPE_CHECKING:
    from properties.machine import UpgradeMachine

#: what goes wrong in the middle of a batch (disturbed_run)
DISTURBANCES = (
    "outage",
    "unhealthy",
    "expire",
    "opt-out",
    "cancel",
    "publish",
    "scale-in",
    "scale-out",
)
FAR = 10**8  # a credential that outlives any example


# ---------------------------------------------------------------- events (section 7)
def publish_image(m: UpgradeMachine, n: int) -> None:
    """R2, D14: a newer version (one in five broken); one in ten is not newer:
    the latest again, or an older one with more digits (R17: 0.100.100).
    With section 9's switch, half the time it becomes eligible later (T17: a
    second later, or up to a minute and a half, where steps are due) and a
    gallery's version is excluded from latest one time in six (T16)."""
    broken, stale, late, exclude = n % 5 == 4, n // 5 % 10, n // 50 % 5, n // 250 % 3 == 2
    eligible = m.ss.catalog.eligible
    if stale == 9:
        version = m.ss.catalog.latest
    elif stale == 8:
        version = "0.100.100"
    elif stale in (6, 7) and m.ss.today and eligible != m.ss.catalog.latest:
        # TD5 (one in five where it can be): above the latest eligible, below
        # one excluded or not yet eligible
        *head, last = eligible.split(".")
        version = ".".join([*head, str(int(last) + 1)])
    else:
        version = m.new_version()
    during = m.ss.active_run is not None
    event = PublishImage(m.now, version, app_healthy=not broken)
    if m.ss.today:
        when = m.ss.clock.next_time()
        # TD6: on the next step, or on the next run step (its end of batch, its pause)
        runs = [entry[0] for entry in m.ss.clock._heap if entry[1] == RUN_STEP]
        offset = (0, 1, 90, (when or m.now) - m.now, min(runs, default=m.now) - m.now)[late]
        event = PublishImage(
            m.now,
            version,
            app_healthy=not broken,
            eligible_at=m.now + offset if late else None,
            exclude_from_latest=exclude and m.config.image.id is not None,
        )
    if m.apply(event) is None and during:
        m.reach("publication during a run")


def outage_start(m: UpgradeMachine, n: int) -> None:
    """R8, D10: maintenance (planned or not) takes instances down; one time in
    three, instances whose probe has just answered healthy (R7: a stopped
    instance is unhealthy whatever its probe said)."""
    kind, answered, n = "planned" if n % 2 else "unplanned", n // 2 % 3 == 2, n // 6
    ids = m.ids(n)
    if answered and m.ss.probe is not None:
        m.apply(AppHealth(m.now, ids, True))
    m.apply(OutageStart(m.now, ids, kind))


def outage_end(m: UpgradeMachine, n: int) -> None:
    """R8, D10: instances come back (mostly ones that are down)."""
    down = [i for i, inst in m.ss.instances.items() if inst.power_state == Power.STOPPED]
    m.apply(OutageEnd(m.now, m.ids(n, down or None)))


def app_health(m: UpgradeMachine, n: int) -> None:
    """R6: the application's probe answer on some instances."""
    m.apply(AppHealth(m.now, m.ids(n // 2), bool(n % 2)))


def expire_credential(m: UpgradeMachine, n: int) -> None:
    """R14, D15: a credential expires now (without credentials, time passes)."""
    names = sorted(m.config.credentials)
    if not names:
        advance_to_next_step(m, n)
        return
    m.apply(ExpireCredential(m.now, names[n % len(names)]))


def regenerate_credential(m: UpgradeMachine, n: int) -> None:
    """R15, D15: a new token, for long or a short while (the model keeps the
    old one until a deploy; without credentials, time passes)."""
    names = sorted(m.config.credentials)
    if not names:
        advance_to_next_step(m, n)
        return
    name, n = names[n % len(names)], n // len(names)
    lifetime = (FAR, 1, 20, 100)[n % 4]
    m.apply(RegenerateCredential(m.now, name, m.now + lifetime))


def update_model(m: UpgradeMachine, n: int = 0) -> None:
    """R15, D8: deploy the model with the newest tokens; one time in four, time
    then lands inside the deploy (up to the second its extensions finish) and
    one to three instances are scaled in there (D9: their queued steps go
    stale)."""
    m.apply(UpdateModel(m.now))
    if n % 4 == 3 and m.ss.deploy is not None and m.ss.deploy.end is None:
        span = m.ss.timings.extension_seconds + 1
        m.ss.advance(m.now + n // 4 % span)
        m.apply(ScaleIn(m.now, 1 + n // 4 // span % 3))


def scale_out(m: UpgradeMachine, n: int) -> None:
    """R18, D9: one to three new instances from the latest version; one time in
    four, up to V9's edge or one past it (100 in a single placement group,
    else 1000)."""
    count = 1 + n % 3
    if n // 3 % 4 == 3:
        edge = 100 if m.config.single_placement_group else 1000
        count = max(1, edge - len(m.ss.instances) + n // 12 % 2)
    m.apply(ScaleOut(m.now, count))


def scale_in(m: UpgradeMachine, n: int) -> None:
    """D9: remove the one to three highest ids outside the batch in flight."""
    m.apply(ScaleIn(m.now, 1 + n % 3))


def set_automatic_upgrade(m: UpgradeMachine, n: int) -> None:
    """R1, D7: opt out or in. An opt-out with no run going is, one time in
    three, preceded by the end of outages and unhealthy answers, new tokens
    for credentials expiring soon (deployed), an opt-in and a publication (a Platform run, unless a
    V error forbids it) and time
    going into its batch, and then, half of those times, everything settles
    (D7a: a Platform run is Cancelled at its batch's end)."""
    enable, setup = n % 2 == 1, n // 2 % 3 == 2 and m.ss.active_run is None
    if not enable and setup:
        end_troubles(m)  # so that the run gets past its pre-batch check
        expired = [name for name in sorted(m.ss.tokens) if m.ss.token_expiry(name) <= m.now + 1000]
        for name in expired:  # and its extensions provision (R14, R15)
            m.apply(RegenerateCredential(m.now, name, m.now + FAR))
        if expired:
            update_model(m)
            m.run_until_idle()
        if not m.ss.auto_enabled:
            m.apply(SetAutomaticUpgrade(m.now, True))  # D4: may start a run itself
        if m.ss.active_run is None:
            m.apply(PublishImage(m.now, m.new_version()))
        advance_into_batch(m, n // 12)
    m.apply(SetAutomaticUpgrade(m.now, enable))
    if not enable and setup and n // 6 % 2:
        m.run_until_idle()


def set_protection(m: UpgradeMachine, n: int) -> None:
    """T27, TD12, TD34 (section 9): protect or unprotect some instances, half
    the time in the middle of a batch in flight (of a run started for it if
    none is going); one time in four the pair of flags that is refused.
    Half the time a protection from scale-set actions is followed by a
    publication once all is idle (T28: its run leaves them out). Without
    the switch, time passes. One time in eight, instances still being
    created: one scaled out now (TD34 refuses them)."""
    if not m.ss.today:
        advance_to_next_step(m, n)
        return
    flags, into, n = n % 4, n // 4 % 2, n // 8
    pair = ((False, False), (True, False), (True, True), (False, True))[flags]
    if n % 8 == 7 and len(m.ss.instances) < 1000:
        first = m.ss.next_id
        m.apply(ScaleOut(m.now, 1))
        if first in m.ss.instances:
            ids = (first,) if n // 8 % 2 else (m.ids(n // 16)[0], first)
            m.apply(SetProtection(m.now, tuple(sorted(set(ids))), *pair))
            return
    if into:  # a run first, when none is going (by a publication, else by hand)
        ss = m.ss
        if ss.active_run is None and not any(ss.below_latest(i) for i in ss.instances.values()):
            m.apply(PublishImage(m.now, m.new_version()))
        if ss.active_run is None:
            m.apply(StartUpgrade(m.now))
        advance_into_batch(m, n % 64)
    ids = m.ids(n // 64)
    run = m.ss.active_run
    if into and run is not None:  # TD12: mostly pending instances of the run
        pending = run.pending()
        if pending:
            ids = tuple(pending[: 1 + n // 64 % 2])
    m.apply(SetProtection(m.now, ids, *pair))
    if pair == (True, True) and n // 128 % 2:  # T28: the next run leaves them out
        m.run_until_idle()
        m.apply(PublishImage(m.now, m.new_version()))


def start_upgrade(m: UpgradeMachine, n: int) -> None:
    """R12: a manual start."""
    m.apply(StartUpgrade(m.now))


def cancel_upgrade(m: UpgradeMachine, n: int) -> None:
    """D7: a user cancel; half the time with no run going, one is started first
    (by hand, after a publication if nothing is below the latest) and time
    goes into its batch, so that the cancel has a run to end, and then, half
    of those times, everything settles (D7a: it ends at its batch's end)."""
    ss = m.ss
    setup = n % 2 == 1 and ss.active_run is None
    if setup:
        if not any(ss.below_latest(inst) for inst in ss.instances.values()):
            m.apply(PublishImage(m.now, m.new_version()))
        if ss.active_run is None:
            m.apply(StartUpgrade(m.now))
        advance_into_batch(m, n // 4)
    m.apply(CancelUpgrade(m.now))
    if setup and n // 2 % 2:
        m.run_until_idle()


def wait_until_idle(m: UpgradeMachine, n: int = 0) -> None:
    """Everything queued happens: runs, deploys and creations end."""
    m.run_until_idle()


# ---------------------------------------------------------------- whole runs
def run_to_end(m: UpgradeMachine, n: int) -> None:
    """A whole run: a publication or a manual start, then everything settles.
    Within the first-rollout delay of a scale set opted in at 0, a
    publication (T18: its run waits; read from the configuration, so that a
    model that ignores the delay is driven alike)."""
    cfg = m.config
    early = m.ss.today and cfg.automatic_os_upgrade and m.now < cfg.first_rollout_delay_seconds
    if n % 2 or early:
        m.apply(PublishImage(m.now, m.new_version()))
    else:
        m.apply(StartUpgrade(m.now))
    m.run_until_idle()


def disturbed_run(m: UpgradeMachine, n: int) -> None:
    """A run meets trouble in the middle of a batch: a run starts (after
    earlier outages and unhealthy answers end, mostly; by a publication,
    sometimes of a broken image, an opt-in or a manual start), time goes
    (three times in four past the first pre-batch check) into its batch in
    flight (or, one time in three, into the pause after it), something
    happens there (R8 maintenance, a probe answer, a credential expiring,
    an opt-out, a cancel, a publication, scaling), and then (mostly)
    everything settles."""
    manual, n = n % 2 == 1, n // 2
    broken, n = n % 3 == 2, n // 3
    heal, n = n % 4 < 3, n // 4
    disturbance, n = DISTURBANCES[n % len(DISTURBANCES)], n // len(DISTURBANCES)
    finish, n = n % 4 < 3, n // 4
    ss = m.ss
    if ss.active_run is None:
        if heal:
            end_troubles(m)
        if not any(ss.below_latest(inst) for inst in ss.instances.values()):
            m.apply(PublishImage(m.now, m.new_version(), app_healthy=not broken))
        if ss.active_run is None:
            if manual and disturbance != "opt-out":  # D7: opt-out concerns Platform runs
                m.apply(StartUpgrade(m.now))
            elif not ss.auto_enabled:
                m.apply(SetAutomaticUpgrade(m.now, True))  # D4: may start a run
    run = ss.active_run
    if run is not None and run.batch_in_flight is None and n // 4096 % 4 != 0:
        advance_to_batch(m)  # mostly past the first pre-batch check, into a batch
        run = ss.active_run
    if run is not None and run.batch_in_flight is not None:
        if n // 16384 % 3 == 0:
            advance_into_pause(m, n % 256)
        else:
            advance_into_batch(m, n % 256)
    ids = tuple(sorted(ss.instances))
    count = 1 + n // 256 % len(ids) if ids else 0
    if disturbance == "outage" and ids:
        m.apply(OutageStart(m.now, ids[-count:]))
    elif disturbance == "unhealthy" and ids:
        m.apply(AppHealth(m.now, ids[:count], False))
    elif disturbance == "expire" and m.config.credentials:
        m.apply(ExpireCredential(m.now, sorted(m.config.credentials)[0]))
    elif disturbance == "opt-out":
        m.apply(SetAutomaticUpgrade(m.now, False))
    elif disturbance == "cancel":
        m.apply(CancelUpgrade(m.now))
    elif disturbance == "publish":
        publish_image(m, 0)
    elif disturbance == "scale-in":
        m.apply(ScaleIn(m.now, count or 1))
    elif disturbance == "scale-out":
        m.apply(ScaleOut(m.now, count or 1))
    if finish:
        m.run_until_idle()


def end_troubles(m: UpgradeMachine) -> None:
    """Outages end and unhealthy answers are taken back."""
    ss = m.ss
    down = tuple(i for i, inst in ss.instances.items() if inst.power_state == Power.STOPPED)
    if down:
        m.apply(OutageEnd(m.now, down))
    sick = tuple(i for i, inst in ss.instances.items() if inst.app_health is False)
    if sick:
        m.apply(AppHealth(m.now, sick, True))


def quiet_then_complete(m: UpgradeMachine, n: int) -> None:
    """L1: the environment goes quiet (any run ended, outages over, credentials
    regenerated and deployed, every application answering healthy, a healthy
    latest image, opted in); a run starts and must end Completed with every
    in-scope instance on its target within its bound. (With a V error no
    run can start: everything queued happens instead.)"""
    ss = m.ss
    if ss.v_errors:
        m.run_until_idle()
        return
    if ss.active_run is not None:
        m.apply(CancelUpgrade(m.now))
    m.apply(SetAutomaticUpgrade(m.now, False))  # no new run while preparing
    m.run_until_idle()  # whatever is in flight ends: a run, a deploy, creations
    down = tuple(i for i, inst in ss.instances.items() if inst.power_state == Power.STOPPED)
    if down:
        m.apply(OutageEnd(m.now, down))
    for name in sorted(ss.tokens):
        m.apply(RegenerateCredential(m.now, name, m.now + FAR))
    if ss.tokens or any(
        inst.provisioning_state == Provisioning.FAILED for inst in ss.instances.values()
    ):
        update_model(m)
    m.run_until_idle()
    if ss.probe is not None and ss.instances:
        m.apply(AppHealth(m.now, tuple(ss.instances), True))
    if ss.catalog.is_broken(ss.catalog.latest):
        m.apply(PublishImage(m.now, m.new_version()))
    m.apply(SetAutomaticUpgrade(m.now, True))
    if ss.active_run is None:
        m.apply(PublishImage(m.now, m.new_version()))
    run = ss.active_run
    quiet = run is not None and run.number in m.checker.liveness.quiet
    if not quiet:
        return
    # L1: let the time of its bound pass; the Checker flags a run still going
    # (or one that ended otherwise), and the example stops there.
    completed = m.checker.liveness.quiet_completed
    ss.advance(run.start + quiet_run_bound(m.checker.world, len(run.scope)) + 1)
    m.checker.tick()
    assert run.state == Code.COMPLETED and m.checker.liveness.quiet_completed == completed + 1, (
        f"L1: run {run.number} started quiet, is {run.code} at {m.now}"
    )
    m.reach("quiet run completed (L1)")


#: what a step of the machine can do: the events of section 7, time advances
#: that land where bugs hide, and whole runs (in this order: the machine draws
#: an action by its index)
ACTIONS: dict[str, Callable[[UpgradeMachine, int], None]] = {
    action.__name__: action
    for action in (
        publish_image,
        outage_start,
        outage_end,
        app_health,
        expire_credential,
        regenerate_credential,
        update_model,
        scale_out,
        scale_in,
        set_automatic_upgrade,
        start_upgrade,
        cancel_upgrade,
        advance,
        advance_days,
        advance_to_next_step,
        advance_into_batch,
        advance_to_health_deadline,
        advance_to_expiry,
        wait_until_idle,
        run_to_end,
        disturbed_run,
        quiet_then_complete,
        submit_trace,
        set_protection,
    )
}
