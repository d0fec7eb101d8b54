"""Rule properties of instances: each operation's phases and their timings
(R3, R18, "Health, precisely"), credentials at provisioning (R14), the
health wait of a batch member (R6, D10, D11), automatic rollback (section 4,
D15), new instances (R18, R13) and the health the model reports (R7).
"""

from __future__ import annotations

from typing import Any

from model.instance import Power, Provisioning
from model.run import Status
from properties.rule import Property, rule


@rule
class OperationsTakeTheirTimings(Property):
    """R3, R18, "Health, precisely": an OS disk is replaced os_disk_seconds after
    the batch (or the creation) started, by a new disk on the run's target (a
    new instance keeps the version it was created with); extensions finish
    extension_seconds after the disk (or the deploy); with a probe the
    application can answer app_start_seconds after it started; a rollback
    takes os_disk_seconds."""

    name = "operations_take_their_timings"
    rules = "R3, R18, R6"
    title = "each phase of an operation takes its timing and installs what R3 says"

    def before_disk_replaced(self, inst: Any) -> None:
        world = self.world
        seen = world.instances[inst.id]
        due = seen.since + world.timings.os_disk_seconds
        if seen.op == "reimaging":
            target = world.runs[seen.run - 1].target if seen.run else None
            ok = inst.image_version == target and inst.os_disk not in seen.disks
        else:
            target = None
            ok = seen.op == "creating" and inst.image_version == seen.version
        self.check(ok and world.now == due, lambda: self._disk_problem(inst, seen, due, target))

    def _disk_problem(self, inst: Any, seen: Any, due: int, target: str | None) -> str:
        if seen.op == "reimaging":
            what = f"disk {inst.os_disk} on {inst.image_version} (target {target}, "
            what += "a disk it had before" if inst.os_disk in seen.disks else "a new disk"
            what += ")"
        else:
            what = f"version {inst.image_version} (created on {seen.version}, {seen.op})"
        return f"instance {inst.id}: OS disk in place at {self.world.now} (due {due}): {what}"

    def before_extensions_finished(self, inst: Any, ok: bool) -> None:
        world = self.world
        seen = world.instances[inst.id]
        due = seen.since + world.timings.extension_seconds
        self.check(
            seen.op in ("extensions", "model_update") and world.now == due,
            lambda: (
                f"instance {inst.id}: extensions finished at {world.now} during {seen.op} "
                f"begun at {seen.since} (due {due})"
            ),
        )

    def before_application_up(self, inst: Any) -> None:
        world = self.world
        seen = world.instances[inst.id]
        started = seen.app_since
        due = None if started is None else started + world.timings.app_start_seconds
        self.check(
            world.probe and world.now == due,
            lambda: f"instance {inst.id}: application up at {world.now}, started at {started}",
        )

    def before_rollback_restored(self, inst: Any) -> None:
        world = self.world
        seen = world.instances[inst.id]
        due = seen.since + world.timings.os_disk_seconds
        self.check(
            seen.op == "rolling_back" and world.now == due,
            lambda: f"instance {inst.id}: rollback finished at {world.now} (due {due}, {seen.op})",
        )


@rule
class ExtensionsFailWithAnExpiredCredential(Property):
    """R14, D15, D8: extension provisioning fails exactly when, at the moment it
    finishes, a credential token the model references has expired (its
    expires_at at or before then)."""

    name = "extensions_fail_with_expired_credential"
    rules = "R14, D15, D8, R15"
    title = "extension provisioning fails exactly when a referenced credential has expired"

    def before_extensions_finished(self, inst: Any, ok: bool) -> None:
        world = self.world
        expired = world.credential_expired(world.now)
        self.check(
            ok == (expired is None),
            lambda: (
                f"instance {inst.id}: extensions {'provisioned' if ok else 'failed'} at "
                f"{world.now}; credential {expired!r} expired"
                if expired
                else f"instance {inst.id}: extensions failed at {world.now} "
                "with every credential valid"
            ),
        )


@rule
class HealthWaitFollowsR6(Property):
    """R6, D10, D11, R7: a batch member is done failed at once when its
    extensions failed; without a probe it is done when its extensions finish,
    successful if healthy then; with a probe it is done successful the moment
    it is healthy within health_wait_seconds, failed when the wait runs out
    (healthy at exactly the end counts), never otherwise."""

    name = "health_wait_follows_r6"
    rules = "R6, R7, D10, D11"
    title = "a batch member is done exactly when and as R6 says"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        #: awaited member -> the first time it was seen healthy (None: not yet)
        self.awaiting: dict[int, int | None] = {}
        #: instance -> the deadline of its last health wait
        self.deadlines: dict[int, int] = {}

    def after_extensions_finished(self, inst: Any, ok: bool) -> None:
        world = self.world
        if world.instances[inst.id].op == "awaiting":
            self.awaiting[inst.id] = None
            earlier = self.deadlines.get(inst.id)
            if earlier is not None and earlier > world.now:
                # the deadline of a wait that ended early is still to come: a
                # stale timer that must not end this wait
                self.sometimes("earlier health deadline inside a later wait")
            self.deadlines[inst.id] = world.now + world.timings.health_wait_seconds

    def before_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        world = self.world
        seen = world.instances[inst.id]
        self.awaiting.pop(inst.id, None)
        now, at = world.now, seen.provisioned_at
        seen_run = world.runs[run.number - 1]
        seen_batch = seen_run.batches[-1]
        if inst.id in seen_batch.extensions_failed or outcome.provisioning_failed:
            ok = (
                inst.id in seen_batch.extensions_failed
                and outcome.provisioning_failed
                and outcome.status == Status.FAILED
                and now == at
            )
            why = "its extensions failed"
        elif inst.id in seen_batch.restored or outcome.rolled_back:
            return  # the rollback property
        else:
            expected = world.member_status(seen_run, inst.id)
            if not world.probe:
                ok = now == at and outcome.status == expected
                why = f"no probe, extensions finished at {at}, R6 says {expected}"
            else:
                deadline = (at or 0) + world.timings.health_wait_seconds
                if now == deadline:
                    self.sometimes("member done exactly at its health deadline")
                if expected == Status.SUCCESSFUL:
                    ok = outcome.status == expected and now <= deadline
                else:
                    ok = outcome.status == expected and now == deadline
                why = f"R6 says {expected} now, the wait ends at {deadline}"
        self.check(
            ok,
            lambda: (
                f"instance {inst.id} done {outcome.status} in run {run.number} at {now} ({why})"
            ),
        )

    def before_rollback_started(self, inst: Any) -> None:
        """A rollback follows a failed verdict, which R6 reaches only when
        the wait runs out on a member not healthy."""
        self.awaiting.pop(inst.id, None)
        world = self.world
        seen = world.instances[inst.id]
        deadline = (seen.provisioned_at or 0) + world.timings.health_wait_seconds
        healthy = world.healthy(seen)
        self.check(
            world.probe and world.now == deadline and not healthy,
            lambda: (
                f"instance {inst.id} judged failed at {world.now}, healthy {healthy} "
                f"(rollback started); R6: only when not healthy as its wait ends at {deadline}"
            ),
        )

    def tick(self) -> None:
        """An awaited member healthy at time t is done at t (after the steps
        due then, D12); one whose wait ended at t is done at t too. Looked at
        whenever time may have moved on (a member still waiting then is late)."""
        world = self.world
        now = world.now
        for i, since in list(self.awaiting.items()):
            seen = world.instances.get(i)
            if seen is None or seen.op != "awaiting":
                del self.awaiting[i]
                continue
            deadline = (seen.provisioned_at or 0) + world.timings.health_wait_seconds
            healthy = world.healthy(seen)
            late = since is not None and now > since
            if late or now > deadline:
                del self.awaiting[i]
                why = f"healthy since {since}" if late else f"its wait ended at {deadline}"
                self.check(False, f"instance {i} still waits for health at {now}: {why}")
            else:
                self.awaiting[i] = (since if since is not None else now) if healthy else None


@rule
class RollbackRestoresThePreviousDisk(Property):
    """Section 4 automatic_rollback (T10, TI8 with the switch: by default in
    Platform runs, never in User runs), D15, D11: with a probe and automatic
    rollback, a member not healthy when its wait runs out gets its previous OS
    disk back (name, version and provisioning) and is done failed and rolled
    back; without a probe there is no rollback."""

    name = "rollback_restores_previous_disk"
    rules = "section 4 automatic_rollback, D15, D11"
    title = "a rollback happens exactly when the wait runs out, and restores the previous disk"

    def before_rollback_started(self, inst: Any) -> None:
        world = self.world
        seen = world.instances[inst.id]
        due = (seen.provisioned_at or 0) + world.timings.health_wait_seconds
        self.check(
            world.policy.automatic_rollback
            and world.probe
            and world.now == due
            and not world.healthy(seen),
            lambda: (
                f"instance {inst.id} rolled back at {world.now} (wait ends {due}, "
                f"rollback {world.policy.automatic_rollback}, probe {world.probe})"
            ),
        )

    def before_rollback_restored(self, inst: Any) -> None:
        seen = self.world.instances[inst.id]
        got = (inst.os_disk, inst.image_version, inst.provisioning_state)
        self.check(
            got == seen.prior,
            lambda: f"instance {inst.id} rolled back to {got}, not its previous disk {seen.prior}",
        )

    def before_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        world = self.world
        seen_run = world.runs[run.number - 1]
        batch = seen_run.batches[-1]
        rolled = inst.id in batch.restored  # observed: its previous disk is back
        if rolled or outcome.rolled_back:
            # D11: a member whose rollback finished is done failed and rolled back
            self.check(
                rolled and outcome.status == Status.FAILED and outcome.rolled_back,
                lambda: (
                    f"instance {inst.id} in run {run.number} at {world.now} is done "
                    f"{outcome.status}, rolled back {outcome.rolled_back}; observed: "
                    + ("its previous disk is back" if rolled else "it keeps its new disk")
                ),
            )
        elif inst.id not in batch.extensions_failed:
            should = world.policy.automatic_rollback and world.probe
            if should and world.member_status(seen_run, inst.id) == Status.FAILED:
                self.check(
                    False,
                    f"instance {inst.id} failed in run {run.number} at {world.now} without "
                    "a rollback, though automatic rollback is on with a probe",
                )
        if rolled or outcome.rolled_back:
            # the rollbackInfo count the model keeps: the members seen rolled back
            count = sum(len(b.restored) for b in seen_run.batches)
            self.check(
                run.rolled_back == count,
                lambda: (
                    f"run {run.number} counts {run.rolled_back} rolled back at {world.now}; "
                    f"{count} were seen to get their previous disk back"
                ),
            )


@rule
class NewInstancesFollowR18(Property):
    """R18, D9, R13: a scale-out instance takes the next id (ids are never
    reused), is built from the latest version at its creation, is Creating,
    lies in update domain id mod update_domains, and is not in an active
    run's scope."""

    name = "new_instances_follow_r18"
    rules = "R18, D9, R13, D11"
    title = "a new instance is built from the latest version, out of any active run"

    def before_instance_created(self, inst: Any) -> None:
        world = self.world
        sf = world.service_fabric
        ud = inst.id % sf.update_domains if sf is not None else None
        # the model's scope of the active run (what it publishes) must not
        # hold it; the observed run's scope never does
        ok = (
            inst.id == world.next_id
            and inst.image_version == world.available  # R18 (T17: the latest available)
            and inst.provisioning_state == Provisioning.CREATING
            and inst.update_domain == ud
            and not self.published.in_active_scope(inst.id)
        )
        self.check(
            ok,
            lambda: (
                f"new instance {inst.id} at {world.now}: version {inst.image_version} "
                f"(latest {world.available}), {inst.provisioning_state}, UD {inst.update_domain} "
                f"(expected id {world.next_id}, UD {ud})"
            ),
        )


@rule
class HealthIsR7(Property):
    """R7, D10, D14, "Health, precisely": the health the model reports for an
    instance is the spec's: running, Succeeded, no operation in flight and,
    with a probe, the last answer since its disk changed, or else a
    non-broken image whose application has been up app_start_seconds. The
    power and provisioning states the model reports (section 7's instance
    fields, R7's inputs) are the observed ones."""

    name = "health_is_r7"
    rules = "R7, D10, D14"
    title = "the model's health of each instance is R7's"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.touched: set[int] = set()

    def _touch(self, inst: Any, *args: Any) -> None:
        self.touched.add(inst.id)

    after_disk_replaced = after_extensions_finished = after_application_up = _touch
    after_rollback_started = after_rollback_restored = after_instance_created = _touch

    def after_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        self.touched.add(inst.id)

    def _event_ids(self, ev: Any) -> None:
        self.touched.update(ev.instances)

    after_outage_started = after_outage_ended = after_health_reported = _event_ids

    def end(self, *args: Any) -> None:
        """At the end of each event and internal step (so that a replay compares
        as often as the campaign), and whenever time may have passed: the
        instances touched since the last comparison."""
        if self.touched:
            self._compare(self.touched)
            self.touched = set()

    end_event = end_internal = tick = end

    def finish(self) -> None:
        self._compare(self.world.instances)

    def _compare(self, ids: Any) -> None:
        world, health = self.world, self.published.health
        healthy, probe = world.healthy, world.probe
        compared = 0
        for i in ids:
            seen, shown = world.instances.get(i), health(i)
            if seen is None or shown is None:
                continue
            compared += 2
            expected = healthy(seen)
            if probe and not seen.up and seen.answer:
                self.sometimes("instance stopped while its probe answers healthy")
            says, power_state, provisioning_state = shown
            if says != expected:
                self.fail(
                    f"instance {i} at {world.now}: the "
                    f"model says healthy {not expected}, R7 says {expected}"
                )
            # R7's inputs as section 7 reports them (powerState, provisioningState)
            power = Power.RUNNING if seen.up else Power.STOPPED
            if provisioning_state != seen.provisioning or power_state != power:
                self.fail(
                    f"instance {i} at {world.now}: the model reports "
                    f"{power_state}/{provisioning_state}, observed "
                    f"{power}/{seen.provisioning}"
                )
        self.applications += compared  # each comparison is an application
