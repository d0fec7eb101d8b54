"""Broken variants of today's Azure (SPEC section 9, behind the switch): one
realistic slip per behavioural rule, each caught by the property named
(properties/mutants.py explains the machinery). They touch only what the
switch turns on, so the 2018 scale sets of a campaign behave as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

import attrs

from model import catalog, clock, history, scaleset, today
from model.actors import deploy, orchestrator, user
from model.run import UpgradeRun
from model.scaleset import ScaleSet
from properties.mutants import _mutant, replace, replace_everywhere

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

Patches = list[AbstractContextManager[Any]]


@contextmanager
def _flags_cleared(ss: ScaleSet) -> Iterator[None]:
    """The instances' protection from scale set actions, forgotten for a moment."""
    kept = {i: inst.protect_from_scale_set_actions for i, inst in ss.instances.items()}
    for inst in ss.instances.values():
        inst.protect_from_scale_set_actions = False
    try:
        yield
    finally:
        for i, flag in kept.items():
            if i in ss.instances:
                ss.instances[i].protect_from_scale_set_actions = flag


def _blind_to_protection(module: Any, name: str, keep: Any = None) -> Patches:
    """``module.name`` called as if no instance were protected from scale set
    actions (unless ``keep(*args)`` says to call it as it is)."""
    real = getattr(module, name)

    def call(ss: ScaleSet, *args: Any) -> Any:
        if keep is not None and keep(*args):
            return real(ss, *args)
        with _flags_cleared(ss):
            return real(ss, *args)

    return replace(module, name, call)


@_mutant(
    "protected_instance_upgraded",
    "run_targets_latest_scopes_below",
    "T28: a run's scope is every instance below its target, protected or not",
    rule="T28",
)
def _protected_instance_upgraded() -> Patches:
    return _blind_to_protection(orchestrator, "start_run")


@_mutant(
    "scale_in_removes_protected",
    "protected_instances_left_alone",
    "T29: a scale-in removes the highest ids outside the batch in flight, protected or not",
    rule="T29",
)
def _scale_in_removes_protected() -> Patches:
    victims = user.scale_in_victims

    def scale_in_victims(ss: ScaleSet, count: int) -> list[int]:
        with mock.patch.object(ss, "today", False):
            return victims(ss, count)

    return replace(user, "scale_in_victims", scale_in_victims)


@_mutant(
    "deploy_touches_protected",
    "protected_instances_left_alone",
    "TD31: a model deploy re-runs the extensions of every instance, protected or not",
    rule="TD31",
)
def _deploy_touches_protected() -> Patches:
    return _blind_to_protection(deploy, "begin")


@_mutant(
    "user_runs_roll_back",
    "rollback_restores_previous_disk",
    "T10: automatic rollback applies to User runs too",
    rule="T10",
)
def _user_runs_roll_back() -> Patches:
    rolls = today.rolls_back
    return replace_everywhere(today, "rolls_back", lambda config, platform: rolls(config, True))


@_mutant(
    "rollback_off_by_default",
    "rollback_restores_previous_disk",
    "T10: automatic rollback stays off unless asked for, as in 2018",
    rule="T10",
)
def _rollback_off_by_default() -> Patches:
    return replace_everywhere(today, "rolls_back", lambda config, platform: False)


@_mutant(
    "upgraded_limit_off_by_default",
    "end_of_batch_follows_d7a",
    "T11: the upgraded-unhealthy check stays off unless set, as in 2018",
    rule="T11",
)
def _upgraded_limit_off_by_default() -> Patches:
    end_of_batch = orchestrator.end_of_batch

    def end_unchecked(ss: ScaleSet, run: Any) -> bool:
        policy = run.policy  # reported as the spec says; decided as in 2018
        if ss.today:
            given = ss.config.policy.max_unhealthy_upgraded_instance_percent
            run.policy = attrs.evolve(policy, max_unhealthy_upgraded_instance_percent=given)
        try:
            return end_of_batch(ss, run)
        finally:
            run.policy = policy

    return replace(orchestrator, "end_of_batch", end_unchecked)


@_mutant(
    "platform_run_reads_scale_set_policy",
    "batch_is_d2_choice",
    "TD2: a Platform run sizes its batches by the scale set's policy, though it reports the "
    "default one (use_rolling_upgrade_policy false)",
    rule="TD2",
)
def _platform_run_reads_scale_set_policy() -> Patches:
    def batch_cap(ss: ScaleSet, n: int) -> int:
        return max(1, n * ss.policy.max_batch_instance_percent // 100)

    return replace(orchestrator, "batch_cap", batch_cap)


@_mutant(
    "excluded_version_targeted",
    "run_targets_latest_scopes_below",
    "T16: a version excluded from latest becomes latest all the same",
    rule="T16",
)
def _excluded_version_targeted() -> Patches:
    publish = catalog.Catalog.publish

    def publish_all(self: Any, version: str, app_healthy: bool = True, **kw: Any) -> None:
        publish(self, version, app_healthy, **{**kw, "excluded": False})

    return [mock.patch.object(catalog.Catalog, "publish", publish_all)]


@_mutant(
    "eligibility_ignored",
    "steps_in_d12_order",
    "T17: a version is eligible as soon as it is published, whatever eligible_at says",
    rule="T17",
)
def _eligibility_ignored() -> Patches:
    schedule = ScaleSet.schedule_eligibility

    def at_once(self: ScaleSet, version: str, at: int) -> None:
        schedule(self, version, self.clock.now)

    return [mock.patch.object(ScaleSet, "schedule_eligibility", at_once)]


@_mutant(
    "first_rollout_delay_ignored",
    "runs_start_when_d4_allows",
    "T18: the first Platform run starts at once, without waiting for the first-rollout delay",
    rule="T18",
)
def _first_rollout_delay_ignored() -> Patches:
    first = ScaleSet.first_opt_in

    def no_delay(self: ScaleSet) -> None:
        first(self)
        if self.rollout_from is not None:
            self.rollout_from = min(self.rollout_from, self.clock.now)

    return [mock.patch.object(ScaleSet, "first_opt_in", no_delay)]


@_mutant(
    "eligibility_before_instance_steps",
    "steps_in_d12_order",
    "TD6: at equal times a version becomes eligible before the instance steps",
    rule="TD6",
)
def _eligibility_before_instance_steps() -> Patches:
    return [
        mock.patch.object(clock, "ELIGIBILITY_STEP", -1),
        mock.patch.object(scaleset, "ELIGIBILITY_STEP", -1),
    ]


@_mutant(
    "protection_while_creating_accepted",
    "protection_follows_t27",
    "TD34: set_protection accepts an instance that is still being created",
    rule="TD34",
)
def _protection_while_creating_accepted() -> Patches:
    set_protection = user.set_protection

    def accept(ss: ScaleSet, ev: Any) -> None:
        creating = [i for i in ev.instances if i in ss.instances and ss.instances[i].being_created]
        states = {i: ss.instances[i].provisioning_state for i in creating}
        for i in creating:
            ss.instances[i].provisioning_state = "Succeeded"
        try:
            set_protection(ss, ev)
        finally:
            for i, state in states.items():
                ss.instances[i].provisioning_state = state

    return replace(user, "set_protection", accept)


@_mutant(
    "protected_pending_stays_in_scope",
    "I9",
    "TD12: a pending instance protected during a run stays in its scope and is upgraded",
    rule="TD12",
)
def _protected_pending_stays_in_scope() -> Patches:
    set_protection = user.set_protection

    def keep_scope(ss: ScaleSet, ev: Any) -> None:
        with mock.patch.object(UpgradeRun, "leave_scope", lambda self, instance_id: None):
            set_protection(ss, ev)

    return replace(user, "set_protection", keep_scope)


@_mutant(
    "health_source_not_required",
    "v_checks_bite_per_d16",
    "T4, TV1: a scale set without a health probe is accepted, as in 2018",
    rule="T4",
)
def _health_source_not_required() -> Patches:
    check = today.check_errors_today

    def check_errors_today(config: Any) -> list[Any]:
        return [f for f in check(config) if f.rule != "TV1"]

    return replace_everywhere(today, "check_errors_today", check_errors_today)


@_mutant(
    "seed_sku_text_today",
    "v_checks_bite_per_d16",
    "T13: V1 refuses with the 2018 text instead of Azure's",
    rule="T13",
)
def _seed_sku_text_today() -> Patches:
    return replace_everywhere(today, "V1_TODAY", "the sku is not a supported sku")


@_mutant(
    "seed_messages_today",
    "messages_follow_t62",
    "T62: a Faulted run keeps the 2018 message instead of Azure's",
    rule="T62",
)
def _seed_messages_today() -> Patches:
    return [
        *replace_everywhere(
            today, "unhealthy_message", lambda u, n, t: f"{u} of {n} unhealthy (limit {t}%)"
        ),
        *replace_everywhere(
            today, "upgraded_message", lambda s, f, t, first: f"{f} of {s + f} upgraded failed"
        ),
    ]


@_mutant(
    "latest_shows_the_first_run",
    "latest_view_is_t65",
    "T65: get-latest describes the first run instead of the one started last",
    rule="T65",
)
def _latest_shows_the_first_run() -> Patches:
    view = history.latest_view
    return replace_everywhere(
        history, "latest_view", lambda runs, epoch, location: view(runs[:1], epoch, location)
    )


@_mutant(
    "gallery_target_as_platform",
    "history_view_is_r16",
    "T64, TD30: a gallery image's targetImageReference is written in the platform shape",
    rule="T64",
)
def _gallery_target_as_platform() -> Patches:
    target = history.target_of
    return replace_everywhere(
        history, "target_of", lambda run, image, today=False: target(run, image, False)
    )


@_mutant(
    "publication_older_than_excluded",
    "publication_newer_than_latest",
    "TD5: a publication is compared with the latest eligible version, not every one published",
    rule="TD5",
)
def _publication_older_than_excluded() -> Patches:
    is_newer = catalog.Catalog.is_newer

    def newer_than_eligible(self: Any, version: str) -> bool:
        if self.eligible is None:
            return is_newer(self, version)
        return catalog.version_key(version) > catalog.version_key(self.eligible)

    return [mock.patch.object(catalog.Catalog, "is_newer", newer_than_eligible)]


@_mutant(
    "protected_instance_starts_a_run",
    "runs_start_when_d4_allows",
    "TD32: a protected instance below the latest version lets a Platform run start",
    rule="TD32",
)
def _protected_instance_starts_a_run() -> Patches:
    # a Completed run's end as it is, else an empty run would trigger itself forever
    return _blind_to_protection(
        orchestrator, "platform_run_refusal", keep=lambda trigger: trigger.kind == "run completed"
    )
