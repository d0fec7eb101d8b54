"""Rule properties of batches: the pre-batch check (R4, R8, D1, D5), which
instances a batch holds (R5, R13, D1, D2, section 4
prioritize_unhealthy_instances), when a batch ends (D11), what the run
decides then (D7a, D6, section 4 max_unhealthy_upgraded_instance_percent,
D7), and the pause before the next check (section 4
pause_time_between_batches).
"""

from __future__ import annotations

from typing import Any

from model.run import Code
from properties.expect import batch_cap, upgraded_limit
from properties.rule import Property, rule


def _in_flight(seen: Any) -> Any:
    return seen.batches[-1] if seen.batches and seen.batches[-1].end is None else None


def published_end(run: Any) -> str:
    """How the model says a run ended (its state, and error code if any): the
    answer these properties compare with the layer's own decision, never an
    input to it."""
    return run.state if run.error is None else f"{run.state} {run.error[0]}"


@rule
class PreBatchCheckDecides(Property):
    """R4, R8, D1, D5: at a pre-batch check the run ends Completed when nothing
    is pending; it ends Faulted when more than floor(N x pct / 100) of the
    scale set's instances are unhealthy (MaxUnhealthyInstancePercentExceeded
    BeforeRollingUpgrade before the first batch, InRollingUpgrade after); else
    the next batch starts, there and then."""

    name = "pre_batch_check_decides_by_r4"
    rules = "R4, R8, D1, D5, D4"
    title = "the pre-batch check faults exactly when unhealthy > floor(N x pct / 100)"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        #: run number -> (expected outcome, n, unhealthy, limit)
        self.pending: dict[int, tuple[str, int, int, int]] = {}
        #: run number -> the counts its pre-batch check under way reported
        self.reported: dict[int, Any] = {}

    def after_pre_batch_check(self, run: Any) -> None:
        # the observed world decided the check (World.decide_pre_batch); this
        # property compares what the model did with that decision
        decision = self.world.check_decision
        outcome, _n, unhealthy, limit = decision
        if outcome == "batch" and unhealthy == limit:
            self.sometimes("pre-batch check at exactly the limit")
        self.pending[run.number] = decision
        self.reported[run.number] = None
        self.due()

    def after_pre_batch_checked(self, run: Any, check: Any) -> None:
        self.reported[run.number] = check

    def _outcome(self, run: Any, got: str) -> None:
        expected = self.pending.pop(run.number, None)
        if expected is None:
            return
        outcome, n, unhealthy, limit = expected
        numbers = ""
        check = self.reported.pop(run.number, None)
        if outcome != Code.COMPLETED and check is None:
            numbers = "; it reported no counts"
        elif outcome != Code.COMPLETED:
            if (check.instance_count, check.unhealthy, check.limit) != (n, unhealthy, limit):
                numbers = (
                    f"; it counted {check.unhealthy} of {check.instance_count} unhealthy, "
                    f"limit {check.limit}"
                )
        self.check(
            got == outcome and not numbers,
            lambda: (
                f"pre-batch check of run {run.number} at {self.world.now}: {got}, but "
                f"{unhealthy} of {n} are unhealthy and the limit is {limit}: {outcome}{numbers}"
            ),
        )

    def before_batch_started(self, run: Any, batch: Any) -> None:
        self._outcome(run, "batch")

    def before_run_ended(self, run: Any) -> None:
        self._outcome(run, published_end(run))

    def end(self) -> None:
        for number in list(self.pending):
            self._outcome(self.published.run(number), "nothing")


@rule
class BatchIsD2Choice(Property):
    """R5, R13, D1, D2, section 4: a batch holds exactly the first cap(N) =
    max(1, floor(N x pct / 100)) pending instances in ascending id (unhealthy
    ones first with prioritize_unhealthy_instances); under Service Fabric
    every pending instance of the lowest update domain that has any."""

    name = "batch_is_d2_choice"
    rules = "R5, R13, D1, D2, section 4 prioritize_unhealthy_instances"
    title = "a batch holds exactly the instances D2 and R13 choose, as many as the cap allows"

    def before_batch_started(self, run: Any, batch: Any) -> None:
        world = self.world
        seen = world.runs[run.number - 1]
        pending = sorted(i for i, s in seen.statuses.items() if s == "pending")
        if world.service_fabric is not None:
            domains = {world.instances[i].update_domain for i in pending}
            lowest = min(domains)
            expected = [i for i in pending if world.instances[i].update_domain == lowest]
            if len(domains) <= max(domains) - lowest:
                self.sometimes("Service Fabric scope with a gap")
            why = f"every pending instance of update domain {lowest}"
        else:
            n = len(world.instances)
            cap = batch_cap(n, world.policy.max_batch_instance_percent)
            if world.policy.prioritize_unhealthy_instances:
                pending.sort(key=lambda i: (world.healthy(world.instances[i]), i))
            expected = pending[:cap]
            why = f"cap({n}) = {cap} of pending {pending[: cap + 3]}"
        self.check(
            sorted(batch.instances) == sorted(expected),
            lambda: (
                f"run {run.number} batch {batch.number} at {world.now} holds "
                f"{sorted(batch.instances)}; D2 chooses {sorted(expected)} ({why})"
            ),
        )


@rule
class BatchEndsWithItsLastMember(Property):
    """D11, D12, R5: a batch ends at the moment its last instance is done (the
    run step at that time), not before and not later."""

    name = "batch_ends_with_last_member"
    rules = "D11, D12, R5"
    title = "a batch ends exactly when its last member is done"

    def before_batch_ended(self, run: Any, batch: Any) -> None:
        seen = self.world.runs[run.number - 1].batches[-1]
        missing = sorted(set(seen.members) - set(seen.done))
        self.check(
            not missing and seen.last_done == self.world.now,
            lambda: (
                f"run {run.number} batch {batch.number} ended at {self.world.now}; "
                + (
                    f"members {missing} not done"
                    if missing
                    else f"its last was done at {seen.last_done}"
                )
            ),
        )

    def tick(self) -> None:
        """A batch whose members are all done, still in flight once time moved on."""
        seen = self.world.active
        batch = _in_flight(seen) if seen is not None else None
        if batch is None or len(batch.done) < len(batch.members):
            return
        if batch.last_done is None or self.world.now <= batch.last_done:
            return  # its end is queued at this very time
        self.check(
            False,
            f"run {seen.number} batch {batch.number}: every member done at "
            f"{batch.last_done}, the batch still in flight at {self.world.now}",
        )


@rule
class EndOfBatchFollowsD7a(Property):
    """D7a, D6, D7, R14, section 4: when a batch ends the run decides, in this
    order: a provisioning failure in the batch ends it Faulted
    (VMExtensionProvisioningError); more failed than floor((successful +
    failed) x pct / 100) of its upgraded instances ends it Faulted
    (MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade); nothing
    pending, Completed; a cancel asked, or automatic upgrades off for a
    Platform run, Cancelled; otherwise it pauses."""

    name = "end_of_batch_follows_d7a"
    rules = "D7a, D6, D7, R14, section 4 max_unhealthy_upgraded_instance_percent"
    title = "the end of a batch decides in D7a's order"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.expected: tuple[int, str] | None = None
        self.got: str | None = None

    def after_batch_ended(self, run: Any, batch: Any) -> None:
        world = self.world
        seen = world.runs[run.number - 1]
        counts = seen.tally
        pct = world.policy.max_unhealthy_upgraded_instance_percent
        done = counts["successful"] + counts["failed"]
        at_limit = pct is not None and 0 < counts["failed"] == upgraded_limit(done, pct)
        if at_limit and not seen.batches[-1].extensions_failed:
            # section 4's comparison decided, on its edge: not more than the limit
            self.sometimes("upgraded instances failed at exactly the limit")
        self.expected, self.got = (run.number, seen.decision or "pause"), "pause"

    def before_run_ended(self, run: Any) -> None:
        if self.expected is not None and self.expected[0] == run.number:
            self.got = published_end(run)

    def end_end_of_batch(self, number: int, rejection: Any) -> None:
        if self.expected is None:
            return
        number, decision = self.expected
        run = self.published.run(number)
        got = self.got
        if got == "pause" and run.state != "pause":  # the model's answer, compared
            got = run.state
        self.expected = None
        batches = len(self.world.runs[number - 1].batches)
        self.check(
            got == decision,
            lambda: (
                f"run {number} decided {got} at the end of batch {batches} "
                f"at {self.world.now}; D7a says {decision}"
            ),
        )


@rule
class PauseIsWaitedExactly(Property):
    """Section 4, R8: after a batch ends and the run goes on, the next pre-batch
    check comes exactly pause_time_between_batches later."""

    name = "pause_is_waited_exactly"
    rules = "section 4 pause_time_between_batches, R8, D7a"
    title = "the next pre-batch check comes exactly the pause after a batch"

    def before_pre_batch_check(self, run: Any) -> None:
        seen = self.world.runs[run.number - 1]
        if not seen.batches:
            # no pause before the first check: a clause, not the rule's case
            self.guard(
                self.world.now == seen.start,
                lambda: (
                    f"run {run.number}'s first pre-batch check at {self.world.now}, "
                    f"not at its start {seen.start}"
                ),
            )
            return
        last = seen.batches[-1]
        due = (last.end or 0) + self.world.pause
        self.check(
            self.world.now == due,
            lambda: (
                f"run {run.number}'s pre-batch check at {self.world.now}, not at "
                f"{due} (batch {last.number} ended at {last.end}, pause {self.world.pause}s)"
            ),
        )
