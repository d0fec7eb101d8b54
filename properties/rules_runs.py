"""Rule properties of runs: when they start (R2, D4, R12), what they target
and cover (D3, D11), how users stop them (D7), where they may end (R8), and
the history view of them (R16, D13).

Each property is stated over the observed world (properties/observed.py):
it works out from what it has seen what the spec says must happen at a
step, then compares what the model did.
"""

from __future__ import annotations

from typing import Any

from model.instance import Provisioning
from model.run import PLATFORM, USER, Code
from properties.expect import (
    HISTORY_ENTRIES,
    SIXTY_DAYS,
    history_selection,
    is_newer,
    names_rules_and_fields,
    timestamp,
)
from properties.expect_today import MANUAL_TODAY, names_today
from properties.history_shape import brief as _brief
from properties.history_shape import flat as _flat
from properties.rule import Property, rule

ROLLING_UPGRADE_TYPE = "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades"


def _allowed(world: Any) -> str | None:
    """D4's conditions on the scale set (beyond the trigger): why no Platform
    run may start now, or None when one may."""
    if not world.auto:
        return "automatic upgrades are off"
    if world.errors:
        return f"{', '.join(world.errors)} error stands"
    if world.active is not None:
        return f"run {world.active.number} is active"
    if world.deploy is not None:
        return "a model deploy is in flight"
    if world.rollout_from is not None and world.now < world.rollout_from:
        return f"the first rollout waits until {world.rollout_from} (T18)"
    if not world.any_below_latest():
        return "no instance (not being created) is below the latest version"
    return None


@rule
class PlatformRunsStartWhenAllowed(Property):
    """R2, D4, R1: at each trigger (a publication, opting in, a Completed run's
    end, a successful deploy's end) a Platform run starts exactly when D4's
    conditions hold, and at no other moment."""

    name = "runs_start_when_d4_allows"
    rules = "R2, D4, R1, D16"
    title = "a Platform run starts exactly at a trigger that D4 allows"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.expected: list[tuple[str, bool, str | None]] = []
        self._was_auto = False

    def _trigger(self, trigger: str, extra: str | None = None) -> None:
        world = self.world
        if world.rollout_from == world.now and world.today and "first-rollout" not in trigger:
            self.sometimes("first-rollout delay ending exactly at a trigger")
        why = extra or _allowed(world)
        if why is not None and "(T18)" in why and world.any_below_latest():
            self.sometimes("T18: a trigger held back by the first-rollout delay alone")
        self.expected.append((trigger, why is None, why))
        self.due()

    def after_image_published(self, ev: Any) -> None:
        if ev.eligible_at is None or ev.eligible_at == ev.at or not self.world.today:
            self._trigger(f"the publication of {ev.version}")

    def after_version_eligible(self, version: str) -> None:
        """T17: with the switch, a version becoming eligible is the trigger."""
        self._trigger(f"{version} becoming eligible")

    def after_first_rollout_ends(self) -> None:
        """T18: the end of the first-rollout delay stands for the triggers in it."""
        self._trigger("the end of the first-rollout delay")

    def before_automatic_upgrades(self, enabled: bool) -> None:
        self._was_auto = self.world.auto

    def after_automatic_upgrades(self, enabled: bool) -> None:
        if enabled:
            self._trigger("opting in", "automatic upgrades were on" if self._was_auto else None)

    def after_run_ended(self, run: Any) -> None:
        world = self.world
        seen = world.runs[run.number - 1]
        if seen.code != Code.COMPLETED:  # as this layer decided the run's end
            return
        outside = any(
            i not in seen.statuses
            and s.provisioning != Provisioning.CREATING
            and is_newer(world.latest, s.version)
            and not s.protected_actions  # TD32
            for i, s in world.instances.items()
        )
        newer = is_newer(world.latest, seen.target)
        extra = None if newer or outside else "nothing newer and nothing outside its scope below"
        self._trigger(f"the end of Completed run {run.number}", extra)

    def after_deploy_ended(self, deploy: Any) -> None:
        world = self.world
        failed = [
            i
            for i in deploy.members
            if i in world.instances and world.instances[i].provisioning != "Succeeded"
        ]
        self._trigger("a deploy's end", f"the deploy failed on {failed}" if failed else None)

    def before_run_started(self, run: Any, scope: Any, reason: str) -> None:
        if run.started_by != PLATFORM:
            return
        for k, (_trigger, allowed, _why) in enumerate(self.expected):
            if allowed:
                del self.expected[k]
                self.check(True, "")
                return
        triggers = "; ".join(f"{t} ({why})" for t, _, why in self.expected) or "no trigger"
        self.check(False, f"Platform run {run.number} started at {self.world.now}: {triggers}")

    def end(self) -> None:
        for trigger, allowed, _why in self.expected:
            self.check(
                not allowed,
                f"no Platform run started at {self.world.now} after {trigger}, which D4 allows",
            )
        self.expected.clear()


@rule
class ManualStartFollowsR12(Property):
    """R12, D8, D16: a manual start is refused (409) while a run is active or a
    deploy is in flight, and while a V1-V3 error stands; otherwise a User run
    starts at once."""

    name = "manual_start_follows_r12"
    rules = "R12, D8, D16, V1, V2, V3"
    title = "a manual start is accepted exactly when R12 allows, and starts a User run"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.expect: str | None = None
        self.started = False

    def begin_start_upgrade(self, ev: Any) -> None:
        world = self.world
        manual = MANUAL_TODAY if world.today else ("V1", "V2", "V3")  # TD1 with the switch
        blocking = [r for r in world.errors if r in manual]
        if world.today and any(r.startswith("TV") for r in blocking):
            self.sometimes("TD1: a manual start refused for a TV error")
        if world.active is not None or world.deploy is not None:
            self.expect = "409"
        elif blocking:
            self.expect = " ".join(blocking)
        else:
            self.expect = ""
        self.started = False

    def before_run_started(self, run: Any, scope: Any, reason: str) -> None:
        if run.started_by == USER:
            self.started = True

    def end_start_upgrade(self, ev: Any, rejection: Any) -> None:
        expect, started = self.expect, self.started
        if not expect:
            self.check(
                rejection is None and started,
                lambda: (
                    f"manual start at {ev.at} refused ({rejection and rejection.reason}) or "
                    f"started no User run, though nothing stands in its way"
                ),
            )
        elif rejection is None:
            self.check(False, f"manual start at {ev.at} accepted though {expect} should refuse it")
        else:
            rules = expect.split()
            self.check(
                rejection.reason.startswith("409")
                if expect == "409"
                else (
                    names_today(rejection.reason, rules, self.published.config)
                    if self.world.today
                    else names_rules_and_fields(rejection.reason, rules)
                ),
                lambda: (
                    f"manual start at {ev.at} refused with {rejection.reason!r}, "
                    f"not naming {expect}"
                ),
            )


@rule
class RunsTargetTheLatestAndCoverWhatIsBelow(Property):
    """D3, D11, R12: a run's target is the latest version at its start; its
    scope is exactly the instances below the target, not being created then
    (instances already on the latest version are not touched)."""

    name = "run_targets_latest_scopes_below"
    rules = "D3, D11, R12, R17"
    title = "a run targets the latest version and covers exactly the instances below it"

    def before_run_started(self, run: Any, scope: Any, reason: str) -> None:
        world = self.world
        latest = world.target(run.started_by)  # T17: eligible (Platform), available (User)
        expected = {
            i
            for i, s in world.instances.items()
            if s.provisioning != Provisioning.CREATING
            and is_newer(latest, s.version)
            and not s.protected_actions  # T28
        }
        got = set(scope)
        self.check(
            run.target == latest and got == expected,
            lambda: (
                f"run {run.number} started at {world.now} towards {run.target} with "
                f"scope {sorted(got)}; the spec says {latest} and {sorted(expected)}"
            ),
        )


@rule
class CancelAndOptOutFollowD7(Property):
    """D7, R1: a cancel is refused (409) with no run active; otherwise it stands
    and, with no batch in flight, ends the run Cancelled at once (error null).
    Opting out ends a Platform run with no batch in flight at once; a User run
    goes on."""

    name = "cancel_and_opt_out_follow_d7"
    rules = "D7, R1, D5"
    title = "a cancel or an opt-out ends a run at once exactly when no batch is in flight"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.run: Any = None
        self.ends_now = False
        self.ended: Any = None

    def _prepare(self, stops: bool) -> None:
        world = self.world
        seen = world.active
        self.run, self.ended = seen, None
        flight = seen is not None and seen.batches and seen.batches[-1].end is None
        self.ends_now = seen is not None and stops and not flight

    def begin_cancel_upgrade(self, ev: Any) -> None:
        self._prepare(True)

    def begin_set_automatic_upgrade(self, ev: Any) -> None:
        seen = self.world.active
        self._prepare(not ev.enabled and seen is not None and seen.started_by == PLATFORM)

    def before_run_ended(self, run: Any) -> None:
        self.ended = run

    def end_cancel_upgrade(self, ev: Any, rejection: Any) -> None:
        if self.run is None:
            self.check(
                rejection is not None and rejection.reason.startswith("409"),
                f"cancel at {ev.at} with no run active was not refused with 409",
            )
            return
        self._verify(f"cancel at {ev.at}", rejection)

    def end_set_automatic_upgrade(self, ev: Any, rejection: Any) -> None:
        if self.run is not None and not ev.enabled and rejection is None:
            self._verify(f"opt-out at {ev.at}", None)

    def _verify(self, what: str, rejection: Any) -> None:
        ended = self.ended
        if self.ends_now:
            ok = (
                rejection is None
                and ended is not None
                and ended.state == Code.CANCELLED
                and ended.error is None
            )
            why = f"{what} with no batch in flight left run {self.run.number} " + (
                f"{ended.state} ({ended.error})" if ended else "going"
            )
        else:
            ok = rejection is None and ended is None
            why = (
                f"{what} ended run {self.run.number} at once, with a batch in flight or a User run"
            )
        self.check(ok, why)


@rule
class RunsEndOnlyAtADecision(Property):
    """R8, D7, D5: a run ends only at a pre-batch check, at the end of a batch,
    or at a cancel or opt-out while no batch is in flight: never in the
    middle of a batch."""

    name = "runs_end_only_at_a_decision"
    rules = "R8, D7, D7a, D5"
    title = "a run never ends in the middle of a batch"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.checking: set[int] = set()

    def before_pre_batch_check(self, run: Any) -> None:
        self.checking.add(run.number)
        self.due()

    def before_run_ended(self, run: Any) -> None:
        step = self.checker.step
        seen = self.world.runs[run.number - 1]
        flight = bool(seen.batches) and seen.batches[-1].end is None
        where = step.name if step is not None else "?"
        at_check = run.number in self.checking
        at_batch_end = where == "end_of_batch" and not flight
        at_user = where in ("cancel_upgrade", "set_automatic_upgrade") and not flight
        self.check(
            at_check or at_batch_end or at_user,
            lambda: (
                f"run {run.number} ended {run.state} at {self.world.now} during {where}"
                + (" with a batch in flight" if flight else "")
            ),
        )

    def end(self) -> None:
        self.checking.clear()


@rule
class HistoryViewIsR16(Property):
    """R16, D13: the osUpgradeHistory view is exactly the runs started within 60
    days, newest first, at most five, each in the REST shape with ``endTime``
    (null while RollingForward) and the run's own counts."""

    name = "history_view_is_r16"
    rules = "R16, D13, D11, D5"
    title = "the history view shows exactly R16's runs, in order, in the REST shape"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        #: the next time at which a run leaves the 60-day window
        self.edge: int | None = None
        #: a run ended since the view was last compared
        self.pending = False
        #: the window edge last compared on (compared once when time sits on it)
        self.compared_at: int | None = None

    def after_run_ended(self, run: Any) -> None:
        self.pending = True

    def after_batch_ended(self, run: Any, batch: Any) -> None:
        """A batch's end: the run pauses (its entry still RollingForward) or
        ends; the view is compared at the end of that step, so that a pause
        is seen as the history shows it (once per batch, not per step)."""
        self.due()

    def end(self) -> None:
        self.finish()

    def tick(self) -> None:
        """Compare the view when a run ended or the 60-day window moved since
        the last look (and at the end of an example or a replay)."""
        now = self.world.now
        edge = self.edge
        if self.pending or (
            edge is not None and (now > edge or (now == edge and self.compared_at != now))
        ):
            self.finish()

    def finish(self) -> None:
        """Compare the whole view now."""
        self.pending = False
        world, published = self.world, self.published
        # Runs start in the order they are created, so the newest five by start
        # are among the last five created.
        recent = world.runs[-HISTORY_ENTRIES:]
        edges = [r.start + SIXTY_DAYS for r in recent if r.start + SIXTY_DAYS >= world.now]
        self.edge = min(edges, default=None)
        self.compared_at = world.now if self.edge == world.now else None
        if any(r.start + SIXTY_DAYS == world.now for r in recent):
            self.sometimes("history entry exactly 60 days old")
        cfg = published.config
        shown = history_selection([(r.number, r.start) for r in recent], world.now)
        expected = [self._entry(world.runs[n - 1], published.run(n), cfg) for n in shown]
        got = [_flat(entry) for entry in self.checker.history_view().value]
        self.check(
            got == expected,
            lambda: f"history at {world.now} shows {_brief(got)}; R16 says {_brief(expected)}",
        )

    def _entry(self, seen: Any, run: Any, cfg: Any) -> tuple[Any, ...]:
        """One entry as R16 and section 7 say it reads, flattened."""
        image = cfg.image
        counts = seen.tally
        rolled = sum(len(b.restored) for b in seen.batches)
        error = (seen.error_code, run.error[1] if run.error else None) if seen.error_code else None
        return (
            seen.code,
            timestamp(cfg.epoch, seen.start),
            timestamp(cfg.epoch, seen.end),
            (counts["successful"], counts["failed"], counts["inProgress"], counts["pending"]),
            error,
            seen.started_by,
            (f"{image.id}/versions/{seen.target}", seen.target)  # T64, TD30
            if self.world.today and image.id is not None
            else (image.publisher, image.offer, image.sku, seen.target),
            (rolled, 0),
            ROLLING_UPGRADE_TYPE,
            cfg.location,
        )


@rule
class LastChangeEndsTheTrace(Property):
    """D12, section 7's ``until``: a trace without ``until`` ends at "the last
    thing that happens", which the model keeps as its last activity. Both
    ways: after an event, or a step seen changing something (a disk, an
    extension, an application, a rollback, a member, a batch, a check, a
    run's or a deploy's end), the last activity is that time; and a queued
    step seen changing nothing (stale) leaves it where it was."""

    name = "last_change_ends_the_trace"
    rules = "D12, section 7 until"
    title = "the last thing that happened is the last event or change seen (section 7 until)"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        #: the time of the latest event or change seen (nothing yet: time 0)
        self.latest = 0
        #: a queued step has begun and not (yet) reported its end
        self.open = False

    def changed(self, *args: Any) -> None:
        self.latest = self.world.now

    def _stale_before(self) -> None:
        if self.open:
            # the queued step begun last reported no end: it was stale, and the
            # comparison at the end of this step shows it left the last activity
            self.sometimes("stale step that changed nothing")
        self.open = False

    def _event(self, ev: Any) -> None:
        if self.open:
            self._stale_before()
        self.latest = self.world.now

    def _internal(self, arg: Any) -> None:
        if self.open:
            self._stale_before()
        self.open = True

    def _ended(self, arg: Any, rejection: Any) -> None:
        """After each event and each internal step that reported an end (a
        queued step that changed nothing, stale or not, must not move the
        last activity)."""
        self.open = False
        self.compare()

    end_event = end_internal = _ended

    def tick(self) -> None:
        """Whenever time moves on (before the next step changes anything) and
        between the campaign's steps: a step the model did not count (it acted
        but said it was stale) shows here, if nothing counted came after."""
        self.compare()

    def finish(self) -> None:
        self.compare()

    after_disk_replaced = after_extensions_finished = after_application_up = changed
    after_rollback_started = after_rollback_restored = after_member_done = changed
    after_batch_started = after_batch_ended = after_pre_batch_checked = changed
    after_run_ended = after_deploy_ended = changed
    after_version_eligible = after_first_rollout_ends = changed  # TD6: internal steps
    begin_event = _event
    begin_internal = _internal

    def compare(self) -> None:
        latest, last = self.latest, self.published.last_activity
        self.applications += 1
        if last != latest:
            self.fail(
                f"the last event or change seen was at {latest}s, but the model keeps "
                f"{last}s as the last thing that happened (a trace without until would "
                "end there)"
            )
