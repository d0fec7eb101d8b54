"""Rule properties of today's Azure (SPEC section 9, with the switch
``scale_set.api_version: "2024-07-01"``): instance protection (T27-T29,
TD12, TD31-TD34, TI3), today's fixed messages (T62, TD29) and the
get-latest view with each run's effective policy (T65, TD2, T63).

The rest of section 9 is stated where its section 1-8 rule is: the
policy a run reads and its rollback (TD2, T8, T10, TI8) in the world's run
records, which the batch, health-wait and D7a properties read; eligibility,
exclusion and the first-rollout delay (T16-T18, TD5, TD6, TI10, TI11) in
the world's catalog, D4's property, the targets, I4, I7 and D12's order;
today's configuration checks (9.13, TD1, TW1) in the V-check and manual
start properties. Each is derived from properties/expect_today.py and what
this layer saw, never read from the model.
"""

from __future__ import annotations

from typing import Any

from model.instance import Provisioning
from model.run import PLATFORM, Code, ErrorCode
from properties.expect import timestamp
from properties.expect_today import rest_policy, t62_unhealthy, t62_upgraded
from properties.rule import Property, rule

ROLLING_UPGRADE_TYPE = "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades"
#: T27's refusal, and TD34's
BOTH_FLAGS = (
    "You can't specify protectFromScaleIn false when setting protectFromScaleSetActions true"
)


@rule
class ProtectionFollowsT27(Property):
    """T27, TD34: ``set_protection`` is refused for protection from scale set
    actions without protection from scale-in, for an id that does not
    exist, for an instance being created; otherwise it sets both flags of
    each listed instance, as the result then shows."""

    name = "protection_follows_t27"
    rules = "T27, TD34, TD12"
    title = "set_protection is refused or applied exactly as T27 and TD34 say"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.expect: str | None = None

    def begin_set_protection(self, ev: Any) -> None:
        world = self.world
        missing = [i for i in ev.instances if i not in world.instances]
        creating = [  # TD34: created by a scale-out, its extensions not yet done
            i
            for i in ev.instances
            if i in world.instances and world.instances[i].provisioning == Provisioning.CREATING
        ]
        if ev.protect_from_scale_set_actions and not ev.protect_from_scale_in:
            self.expect = BOTH_FLAGS
        elif missing:
            self.expect = "no such instance"
        elif creating:
            self.expect = f"instance {creating[0]} is still being created"
        else:
            self.expect = None
            seen = world.active
            if seen is not None and seen.batches and seen.batches[-1].end is None:
                self.sometimes("protection set or cleared during a batch")

    def end_set_protection(self, ev: Any, rejection: Any) -> None:
        expect = self.expect
        if expect is None:
            ok = rejection is None
        else:
            ok = rejection is not None and rejection.reason.startswith(expect)
        self.check(
            ok,
            lambda: (
                f"set_protection at {ev.at} of {list(ev.instances)}: "
                + (f"refused ({rejection.reason})" if rejection else "accepted")
                + f"; T27 says {expect or 'accept'}"
            ),
        )

    def finish(self) -> None:
        """The result shows each instance's flags as this layer set them."""
        if not self.world.today:
            return
        result = self.published.result()
        got = {i.id: i.protection for i in result.instances}
        expected = {
            i: {
                "protectFromScaleIn": s.protected_in,
                "protectFromScaleSetActions": s.protected_actions,
            }
            for i, s in self.world.instances.items()
        }
        self.check(
            got == expected, lambda: f"protection at {self.world.now}: {got}; T27: {expected}"
        )


@rule
class ProtectedInstancesLeftAlone(Property):
    """TI3, T28, T29, TD31: no instance protected from scale set actions at a
    run's start is in its scope, nor at a batch's start in that batch; no
    scale-in removes an instance protected by either flag; no deploy
    touches one protected from scale set actions at its start."""

    name = "protected_instances_left_alone"
    rules = "TI3, T28, T29, TD31"
    title = "protected instances are never upgraded, scaled in or redeployed"

    def _protected(self, ids: Any, either: bool = False) -> list[int]:
        instances = self.world.instances
        return [
            i
            for i in ids
            if i in instances
            and (instances[i].protected_actions or (either and instances[i].protected_in))
        ]

    def _judge(self, what: str, ids: Any, either: bool = False) -> None:
        world = self.world
        if not world.protected:
            return  # nothing protected: the rule does not apply
        bad = self._protected(ids, either)
        self.check(not bad, lambda: f"{what} at {world.now} takes protected instances {bad}")

    def before_run_started(self, run: Any, scope: Any, reason: str) -> None:
        world = self.world
        if world.today and any(
            s.protected_actions and s.version != run.target for s in world.instances.values()
        ):
            self.sometimes("T28: a protected instance left out of a run")
        self._judge(f"run {run.number}'s scope", scope)

    def before_batch_started(self, run: Any, batch: Any) -> None:
        self._judge(f"batch {batch.number} of run {run.number}", batch.instances)

    def before_instance_removed(self, inst: Any) -> None:
        if self.world.step_name == "scale_in":
            self._judge("a scale-in", (inst.id,), either=True)

    def before_deploy_started(self, deploy: Any) -> None:
        self._judge("a model deploy", deploy.members)


@rule
class MessagesFollowT62(Property):
    """T62, TD29: with the switch, a run Faulted on the unhealthy limit (before
    or in the rolling upgrade) or on the upgraded-unhealthy limit carries
    Azure's message, with the percentages rounded down, the threshold of
    the run's policy and, for the latter, the first instance done failed."""

    name = "messages_follow_t62"
    rules = "T62, TD29, T11"
    title = "a Faulted run's message is Azure's, with this run's numbers"

    def after_run_ended(self, run: Any) -> None:
        world = self.world
        if not world.today:
            return
        seen = world.runs[run.number - 1]
        code, policy = seen.error_code, seen.policy
        if code in (ErrorCode.BEFORE_ROLLING_UPGRADE, ErrorCode.IN_ROLLING_UPGRADE):
            _, n, unhealthy, _ = world.check_decision or ("", 1, 0, 0)
            expected = t62_unhealthy(unhealthy, n, policy.max_unhealthy_instance_percent)
        elif code == ErrorCode.UPGRADED_UNHEALTHY:
            tally = seen.tally
            first = seen.first_failed[1] if seen.first_failed else -1
            expected = t62_upgraded(
                tally["successful"],
                tally["failed"],
                policy.max_unhealthy_upgraded_instance_percent,
                first,
            )
            if len(world.instances) <= 5 and tally["failed"] == 1:
                self.sometimes("five or fewer instances with one failure")
        else:
            return
        error = self.published.run(run.number).error
        got = error[1] if error else None
        self.check(got == expected, lambda: f"run {run.number} says {got!r}; T62: {expected!r}")


@rule
class LatestViewIsT65(Property):
    """T65, TD2, T63: with the switch, the result's ``latest`` is the run
    started last in the RollingUpgradeStatusInfo shape (its effective
    policy, code, start, last action, progress, error code), null before any
    run; each run of the result shows the policy TD2 gives it."""

    name = "latest_view_is_t65"
    rules = "T65, TD2, T63, T10"
    title = "get-latest and each run's policy are as T65 and TD2 say"

    def after_run_ended(self, run: Any) -> None:
        world = self.world
        seen = world.runs[run.number - 1]
        if world.today and seen.rollback and any(b.restored for b in seen.batches):
            self.sometimes("T10: a Platform run rolled back by default")

    def finish(self) -> None:
        world = self.world
        if not world.today:
            return
        result = self.published.result()
        cfg = self.published.config
        policies = [run.policy for run in result.runs]
        expected_policies = [rest_policy(seen.policy) for seen in world.runs]
        self.check(
            policies == expected_policies,
            lambda: f"runs' policies {policies}; TD2: {expected_policies}",
        )
        if not world.runs:
            self.check(result.latest is None, lambda: f"latest {result.latest}; T65: null")
            return
        seen = world.runs[-1]
        cancelled = seen.cancel_at is not None
        expected = {
            "policy": rest_policy(seen.policy),
            "code": seen.code if seen.end is not None else Code.ROLLING_FORWARD,
            "startTime": timestamp(cfg.epoch, seen.start),
            "lastAction": "Cancel" if cancelled else "Start",
            "lastActionTime": timestamp(cfg.epoch, seen.cancel_at if cancelled else seen.start),
            "progress": dict(seen.tally),
            "error": seen.error_code,
            "where": (ROLLING_UPGRADE_TYPE, cfg.location),
        }
        latest = result.latest or {}
        props = latest.get("properties", {})
        status = props.get("runningStatus", {})
        progress = props.get("progress", {})
        got = {
            "policy": props.get("policy"),
            "code": status.get("code"),
            "startTime": status.get("startTime"),
            "lastAction": status.get("lastAction"),
            "lastActionTime": status.get("lastActionTime"),
            "progress": {
                "successful": progress.get("successfulInstanceCount"),
                "failed": progress.get("failedInstanceCount"),
                "inProgress": progress.get("inProgressInstanceCount"),
                "pending": progress.get("pendingInstanceCount"),
            },
            "error": (props.get("error") or {}).get("code"),
            "where": (latest.get("type"), latest.get("location")),
        }
        if seen.started_by == PLATFORM and seen.code is None:
            return  # an end no decision explains: the run properties report it
        self.check(got == expected, lambda: f"latest at {world.now}: {got}; T65: {expected}")
