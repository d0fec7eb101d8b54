"""Rule properties of the environment's and the user's events: publications
(D14, R17), outages and probe answers (R8, D10, R6), credentials (D15),
deploys (D8, R15), scaling (D9, V9) and the configuration checks (V1-V8,
D16). The order in which steps happen (D12) is in properties/rules_order.py.
"""

from __future__ import annotations

from typing import Any

from model.instance import Power, Provisioning
from properties.expect import is_newer, names_rules_and_fields, v9_breaks, v_warnings
from properties.expect_today import TW1_TEXT, gallery, names_today, warnings_today
from properties.rule import Property, rule


def _refused_by(rejection: Any, tag: str) -> bool:
    return rejection is not None and rejection.reason.startswith(tag)


@rule
class PublicationsMustBeNewer(Property):
    """D14, R17: a publication is accepted exactly when its version is newer
    than the sku's latest, part by part; otherwise it is refused (D14) and
    nothing changes. ``latest`` then resolves to the newest version."""

    name = "publication_newer_than_latest"
    rules = "D14, R17, R2"
    title = "a publication is accepted exactly when newer than the latest, which it becomes"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.newer = False

    def begin_publish_image(self, ev: Any) -> None:
        latest = self.world.newest  # TD5 with the switch: eligible or not, excluded or not
        self.newer = is_newer(ev.version, latest)
        if [len(p) for p in ev.version.split(".")] != [len(p) for p in latest.split(".")]:
            self.sometimes("versions whose parts differ in digit count")

    def end_publish_image(self, ev: Any, rejection: Any) -> None:
        latest = self.published.latest
        if self.newer:
            ok = rejection is None and latest == ev.version == self.world.newest
        else:
            ok = _refused_by(rejection, "D14") and latest == self.world.newest
        self.check(
            ok,
            lambda: (
                f"publication of {ev.version} at {ev.at}: "
                f"{'refused: ' + rejection.reason if rejection else 'accepted'}; "
                f"latest {latest} (R17 latest {self.world.newest})"
            ),
        )


@rule
class EventsOnInstancesTakeEffect(Property):
    """R8, D10, R6, section 7: an outage or a probe answer naming an instance
    that does not exist is refused; otherwise it takes effect on exactly
    those instances: the power state (and nothing else) for an outage, the
    standing answer for app_health."""

    name = "events_on_instances_take_effect"
    rules = "R8, D10, R6"
    title = "outages and probe answers change exactly the instances they name"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.exists = True

    def _begin(self, ev: Any) -> None:
        self.exists = all(i in self.world.instances for i in ev.instances)

    begin_outage_start = begin_outage_end = begin_app_health = _begin

    def _end(self, ev: Any, rejection: Any, check: Any) -> None:
        if not self.exists:
            self.check(
                _refused_by(rejection, "no such instance"),
                f"{ev.NAME} at {ev.at} names an instance that does not exist, yet was accepted",
            )
            return
        instance = self.published.instance
        wrong = [i for i in ev.instances if check is not None and not check(instance(i))]
        self.check(
            rejection is None and not wrong,
            lambda: (
                f"{ev.NAME} at {ev.at} on {list(ev.instances)}: "
                + (f"refused: {rejection.reason}" if rejection else f"not in effect on {wrong}")
            ),
        )

    def end_outage_start(self, ev: Any, rejection: Any) -> None:
        self._end(ev, rejection, lambda inst: inst.power_state == Power.STOPPED)

    def end_outage_end(self, ev: Any, rejection: Any) -> None:
        self._end(ev, rejection, lambda inst: inst.power_state == Power.RUNNING)

    def end_app_health(self, ev: Any, rejection: Any) -> None:
        # accepted on existing instances; the answer's effect is the health the
        # model then reports, which health_is_r7 compares at this event's end
        self._end(ev, rejection, None)


@rule
class CredentialEventsFollowD15(Property):
    """D15, R14, R15: expiring a credential expires every token of it issued so
    far, now; regenerating issues a new token, which the model references only
    after a deploy."""

    name = "credential_events_follow_d15"
    rules = "D15, R14, R15"
    title = "credential tokens expire and renew as D15 says"

    def _end(self, ev: Any, rejection: Any) -> None:
        """The tokens the event changed (those issued since the last expiry, or
        the new one), their count, and the one the model references."""
        world, published = self.world, self.published
        first, end = world.changed_tokens
        got, expected = published.token_slice(ev.name, first, end), world.tokens.get(ev.name)
        count = published.token_count(ev.name)
        ok = rejection is None and got is not None and expected is not None
        ok = ok and count == len(expected) and got == tuple(expected[first:end])
        ok = ok and published.token_expiry(ev.name) == expected[world.referenced[ev.name]]
        self.check(
            ok,
            lambda: (
                f"{ev.NAME} of {ev.name} at {ev.at}: tokens #{first}-#{end - 1} "
                f"{list(got) if got else got}, D15 says {expected[first:end]} "
                f"(of {len(expected)}; referenced #{world.referenced.get(ev.name)})"
            ),
        )

    end_expire_credential = end_regenerate_credential = _end


@rule
class DeployFollowsD8(Property):
    """D8, R15: a deploy is refused (409) while a run is active or another deploy
    is in flight; otherwise the model references the newest tokens and every
    instance with no operation in flight re-runs its extensions; the deploy
    ends when the last of them finishes, succeeded if all are Succeeded."""

    name = "deploy_follows_d8"
    rules = "D8, R15"
    title = "a deploy touches, ends and succeeds exactly as D8 says"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.refuse = False
        self.members: set[int] = set()
        self.ended: Any = None

    def begin_update_model(self, ev: Any) -> None:
        world = self.world
        self.refuse = world.active is not None or world.deploy is not None
        # TD31 with the switch: an instance protected from scale set actions is not touched
        self.members = {
            i for i, s in world.instances.items() if s.op == "ready" and not s.protected_actions
        }

    def before_deploy_started(self, deploy: Any) -> None:
        self.check(
            set(deploy.members) == self.members,
            lambda: (
                f"deploy at {self.world.now} touches {sorted(deploy.members)}; "
                f"the instances with no operation in flight are {sorted(self.members)}"
            ),
        )

    def end_update_model(self, ev: Any, rejection: Any) -> None:
        if self.refuse:
            self.check(_refused_by(rejection, "409"), f"deploy at {ev.at} accepted over a 409")
        elif rejection is not None:
            self.check(False, f"deploy at {ev.at} refused: {rejection.reason}")

    def before_deploy_ended(self, deploy: Any) -> None:
        world = self.world
        seen = world.deploy
        remaining = sorted(seen.remaining) if seen is not None else []
        members = [i for i in deploy.members if i in world.instances]
        succeeded = all(world.instances[i].provisioning == Provisioning.SUCCEEDED for i in members)
        self.check(
            not remaining and deploy.succeeded == succeeded,
            lambda: (
                f"deploy of {deploy.start} ended at {world.now} "
                f"{'succeeded' if deploy.succeeded else 'failed'} with {remaining} not finished "
                f"(D8: succeeded {succeeded})"
            ),
        )

    def tick(self) -> None:
        """A deploy whose instances have all finished has ended."""
        seen = self.world.deploy
        if seen is not None and not seen.remaining:
            self.check(False, f"deploy of {seen.start} has nothing left at {self.world.now}")


@rule
class ScaleInRemovesD9Victims(Property):
    """D9, D11: a scale-in removes the highest ids that are not in the batch in
    flight (done or not), and is refused (D9) if it cannot remove as many as
    asked; the removed instances leave every run's counts."""

    name = "scale_in_removes_d9_victims"
    rules = "D9, D11"
    title = "a scale-in removes exactly the instances D9 names"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.victims: list[int] | None = None
        self.removed: list[int] = []

    def begin_scale_in(self, ev: Any) -> None:
        world = self.world
        seen = world.active
        flight = (
            seen.batches[-1] if seen and seen.batches and seen.batches[-1].end is None else None
        )
        protected = set(flight.members) if flight is not None else set()
        if flight is not None:
            self.sometimes("scale-in during a batch")
        instances = world.instances
        candidates = [
            i
            for i in sorted(instances, reverse=True)
            if i not in protected
            and not (instances[i].protected_in or instances[i].protected_actions)  # T29
        ]
        self.victims = sorted(candidates[: ev.count]) if len(candidates) >= ev.count else None
        self.removed = []

    def before_instance_removed(self, inst: Any) -> None:
        self.removed.append(inst.id)

    def end_scale_in(self, ev: Any, rejection: Any) -> None:
        if self.victims is None:
            ok = _refused_by(rejection, "D9") and not self.removed
        else:
            ok = rejection is None and sorted(self.removed) == self.victims
        self.check(
            ok,
            lambda: (
                f"scale-in of {ev.count} at {ev.at} removed {sorted(self.removed)}"
                f"{' (refused)' if rejection else ''}; D9 says {self.victims or 'refuse'}"
            ),
        )


@rule
class ScaleOutWithinV9(Property):
    """D9, V9, R18: a scale-out is refused (V9) exactly when the new count would
    leave 0 to 1000 instances, or pass 100 in a single placement group;
    otherwise it creates that many instances with the next ids."""

    name = "scale_out_within_v9"
    rules = "D9, V9, R18, D16"
    title = "a scale-out is refused exactly beyond V9, else creates the next ids"

    def __init__(self, checker: Any) -> None:
        super().__init__(checker)
        self.refuse = False
        self.first = 0
        self.created: list[int] = []

    def begin_scale_out(self, ev: Any) -> None:
        world = self.world
        count = len(world.instances) + ev.count
        self.refuse = v9_breaks(count, world.config.single_placement_group)
        edge = 100 if world.config.single_placement_group else 1000
        if count in (edge, edge + 1):
            self.sometimes(f"scale-out to {edge} instances or one more (V9)")
        seen = world.active
        if seen is not None and seen.batches and seen.batches[-1].end is None:
            self.sometimes("scale-out during a batch")
        self.first, self.created = world.next_id, []

    def before_instance_created(self, inst: Any) -> None:
        self.created.append(inst.id)

    def end_scale_out(self, ev: Any, rejection: Any) -> None:
        if self.refuse:
            ok = _refused_by(rejection, "V9") and not self.created
        else:
            expected = list(range(self.first, self.first + ev.count))
            ok = rejection is None and self.created == expected
        self.check(
            ok,
            lambda: (
                f"scale-out of {ev.count} at {ev.at} to "
                f"{len(self.world.instances)} instances: "
                + (f"refused ({rejection.reason})" if rejection else f"created {self.created}")
                + (" (V9 refuses it)" if self.refuse else "")
            ),
        )


@rule
class VChecksBitePerD16(Property):
    """V1-V8, D16, R9-R11: an error among V1-V6 keeps automatic upgrades off
    (refused at time 0 when asked for, naming each rule and field) and refuses
    each opt-in; V7 and V8 are warnings, reported once."""

    name = "v_checks_bite_per_d16"
    rules = "D16, V1, V2, V3, V4, V5, V6, V7, V8"
    title = "the configuration checks refuse and warn exactly as V1-V8 and D16 say"

    def start(self) -> None:
        world, published = self.world, self.published
        errors = world.errors
        at_zero = [
            r for r in published.rejected if r.at == 0 and r.event == "set_automatic_upgrade"
        ]
        wanted = published.config.automatic_os_upgrade and bool(errors)
        ok = bool(at_zero) == wanted and published.auto_enabled == world.auto
        if at_zero:
            ok = ok and self._names_exactly(at_zero[0].reason, errors)
        warnings = [w.rule for w in published.warnings]
        config = published.config
        expected = warnings_today(config) if world.today else v_warnings(config)
        if world.today:
            kind = gallery(config.image.id)
            if kind == "pinned":
                self.sometimes("gallery image id with /versions/")
            elif kind == "latest":
                self.sometimes("gallery image id without /versions/")
        if world.today:  # TW1's text, and 9.13's findings form
            ok = ok and all(
                (w.field, w.message) == ("policy", TW1_TEXT)
                for w in published.warnings
                if w.rule == "TW1"
            )
            if "TW1" in expected:
                self.sometimes("TW1: a policy Platform runs ignore")
        self.check(
            ok and warnings == expected,
            lambda: (
                f"at time 0: errors {errors}, warnings {expected}; the "
                f"model refused {[r.reason for r in at_zero]}, warned {warnings}, "
                f"auto {published.auto_enabled}"
            ),
        )

    def _names_exactly(self, reason: str, rules: list[str]) -> bool:
        """A refusal names each standing rule and its field, no other (section
        3; 9.13 with the switch: and Azure's text where it gives one)."""
        if self.world.today:
            return names_today(reason, rules, self.published.config)
        return names_rules_and_fields(reason, rules)

    def end_set_automatic_upgrade(self, ev: Any, rejection: Any) -> None:
        if not ev.enabled:
            return
        errors = self.world.errors
        if errors:
            ok = rejection is not None and self._names_exactly(rejection.reason, errors)
        else:
            ok = rejection is None and self.published.auto_enabled
        self.check(
            ok,
            lambda: (
                f"opt-in at {ev.at} with errors {errors}: "
                + (f"refused ({rejection.reason})" if rejection else "accepted")
            ),
        )
