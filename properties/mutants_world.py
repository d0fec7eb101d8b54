"""More broken variants (properties/mutants.py explains them): instances,
users, the catalog, credentials, the history view (R7, R17, R18, D8, D9,
D13-D15) and the configuration checks V1-V10 as the refusals and warnings
they cause (D16). Each is a realistic slip: a list missing an entry, a
comparison off by one, a rule's exception forgotten, an order reversed."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any
from unittest import mock

import attrs

from model import catalog, config, history, trace
from model.actors import deploy, expiry, instances, orchestrator, user
from model.catalog import Catalog, version_key
from model.config import Finding
from model.events import Rejected
from model.instance import Power, Provisioning
from model.run import USER, UpgradeRun
from model.scaleset import ScaleSet
from properties.mutants import _mutant, replace, replace_everywhere

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

Patches = list[AbstractContextManager[Any]]


# --------------------------------------------------------------------- instances
@_mutant(
    "busy_instance_counts_healthy",
    "health_is_r7",
    "R7: an instance in the middle of an OS operation counts healthy when its probe says so",
    rule="R7",
)
def _busy_instance_counts_healthy() -> Patches:
    def is_healthy(self: ScaleSet, inst: Any) -> bool:
        if inst.power_state != Power.RUNNING or inst.provisioning_state == Provisioning.FAILED:
            return False
        return self.probe is None or self.probe_ok(inst)

    return [mock.patch.object(ScaleSet, "is_healthy", is_healthy)]


@_mutant(
    "new_instances_from_initial_image",
    "new_instances_follow_r18",
    "R18: a scaled-out instance is built from the latest version of the initial catalog "
    "(the scale set model's image), not the latest published",
    rule="R18",
)
def _new_instances_from_initial_image() -> Patches:
    def create_from_model(ss: ScaleSet) -> Any:
        image = max(ss.config.catalog, key=version_key)
        inst = instances._new_instance(ss, image, initial="creating")
        inst.provisioning_state = Provisioning.CREATING
        ss.record("instance_created", inst)
        ss.schedule_instance(inst, ss.timings.os_disk_seconds, "disk_replaced", inst.op_token)
        return inst

    return replace(instances, "create", create_from_model)


# --------------------------------------------------------------------- the catalog
@_mutant(
    "versions_compared_as_text",
    "publication_newer_than_latest",
    "R17: versions compare part by part as text, so 1.0.10 is older than 1.0.9",
    rule="R17",
)
def _versions_compared_as_text() -> Patches:
    def version_key_as_text(version: str) -> tuple[str, ...]:
        return tuple(version.split("."))

    return replace_everywhere(catalog, "version_key", version_key_as_text)


@_mutant(
    "republication_accepted",
    "publication_newer_than_latest",
    "D14: a publication of the latest version again is accepted (>= for >)",
    rule="D14",
)
def _republication_accepted() -> Patches:
    def is_newer(self: Catalog, version: str) -> bool:
        return self._latest is None or version_key(version) >= self._latest_key

    return [mock.patch.object(Catalog, "is_newer", is_newer)]


# --------------------------------------------------------------------- credentials
@_mutant(
    "expiry_hits_newest_token_only",
    "credential_events_follow_d15",
    "D15: expire_credential expires only the newest token, not every token issued so far",
    rule="D15",
)
def _expiry_hits_newest_token_only() -> Patches:
    def expire_credential(ss: ScaleSet, ev: Any) -> None:
        tokens = expiry.tokens_of(ss, ev.name)
        tokens[-1] = min(tokens[-1], ss.now)
        ss.record("credential_expired", ev)

    return replace(expiry, "expire_credential", expire_credential)


# --------------------------------------------------------------------- users
@_mutant(
    "deploy_allowed_during_run",
    "deploy_follows_d8",
    "D8: a model deploy is not refused while a run is active",
    rule="D8",
)
def _deploy_allowed_during_run() -> Patches:
    def start(ss: ScaleSet) -> Any:
        # deploy.start without its first guard (a run is active)
        if ss.deploy is not None:
            raise Rejected("409: a model deploy is in flight")
        return deploy.begin(ss)

    return replace(deploy, "start", start)


@_mutant(
    "scale_in_removes_lowest_ids",
    "scale_in_removes_d9_victims",
    "D9: scale-in removes the lowest ids outside the batch in flight, not the highest",
    rule="D9",
)
def _scale_in_removes_lowest_ids() -> Patches:
    def scale_in_victims(ss: ScaleSet, count: int) -> list[int]:
        run = ss.active_run
        batch = run.batch_in_flight if run is not None else None
        protected = set(batch.instances) if batch is not None else set()
        return [i for i in ss.instances if i not in protected][:count]

    return replace(user, "scale_in_victims", scale_in_victims)


# --------------------------------------------------------------------- the history view
@attrs.frozen
class _RunningStatusAsInTheSeedExample:
    code: str
    startTime: str  # noqa: N815 (REST field names)
    completedTime: str | None  # noqa: N815 (the seed example's name, not D13's endTime)


@_mutant(
    "history_names_end_completed_time",
    "documents_match_section_7",
    "D13: the history names a run's end completedTime, as the seed's example does",
    rule="D13",
)
def _history_names_end_completed_time() -> Patches:
    return [_view_with_completed_time()]


@contextmanager
def _view_with_completed_time() -> Iterator[None]:
    """history.RunningStatus as the seed's example spells it. cattrs reads the
    field's resolved type and remembers the function it makes for a class: the
    entry's field type is set for the block and restored after, and a
    converter of the block's own keeps those functions from outliving it."""
    # Every module that holds the converter by name is loaded first, so that
    # none binds the block's converter for good.
    importlib.import_module("properties.documents")
    entry = history.UpgradeHistoryProperties
    attrs.resolve_types(entry)  # with the real RunningStatus, before the patch
    field = attrs.fields(entry).runningStatus
    real = field.type
    fresh = trace._make_converter()
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(history, "RunningStatus", _RunningStatusAsInTheSeedExample)
        )
        for patch in replace_everywhere(
            trace, "converter", fresh, packages=("model", "properties", "vmss_spec")
        ):
            stack.enter_context(patch)
        object.__setattr__(field, "type", _RunningStatusAsInTheSeedExample)
        try:
            yield
        finally:
            object.__setattr__(field, "type", real)


# --------------------------------------------------------------------- V1-V10 (D16)
def _errors_with(change: Any) -> Patches:
    """check_errors with ``change(config, errors) -> errors`` applied after it."""
    check = config.check_errors

    def check_errors(cfg: config.ScaleSetConfig) -> list[Finding]:
        return change(cfg, check(cfg))

    return replace_everywhere(config, "check_errors", check_errors)


def _warnings_with(change: Any) -> Patches:
    check = config.check_warnings

    def check_warnings(cfg: config.ScaleSetConfig) -> list[Finding]:
        return change(cfg, check(cfg))

    return replace_everywhere(config, "check_warnings", check_warnings)


@_mutant(
    "sku_list_missing_containers",
    "v_checks_bite_per_d16",
    "V1: the supported list lacks 2016-Datacenter-with-Containers (a sku copied wrong)",
    rule="V1",
)
def _sku_list_missing_containers() -> Patches:
    skus = frozenset(s for s in config.SUPPORTED_SKUS if s[2] != "2016-Datacenter-with-Containers")
    return replace_everywhere(config, "SUPPORTED_SKUS", skus)


@_mutant(
    "pinned_latest_version_accepted",
    "v_checks_bite_per_d16",
    "V2: an image pinned to the version that is the catalog's latest passes as 'latest'",
    rule="V2",
)
def _pinned_latest_version_accepted() -> Patches:
    def change(cfg: config.ScaleSetConfig, errors: list[Finding]) -> list[Finding]:
        if cfg.image.version == max(cfg.catalog, key=version_key):
            return [f for f in errors if f.rule != "V2"]
        return errors

    return _errors_with(change)


@_mutant(
    "custom_image_started_by_hand",
    "manual_start_follows_r12",
    "V3: a manual start is refused for V1 and V2 only, so a custom image is upgraded by hand",
    rule="V3",
)
def _custom_image_started_by_hand() -> Patches:
    refusal = config.v_refusal

    def v_refusal(errors: list[Finding], action: str) -> str | None:
        if action == config.MANUAL_START:
            errors = [f for f in errors if f.rule != "V3"]
        return refusal(errors, action)

    return replace_everywhere(config, "v_refusal", v_refusal)


@_mutant(
    "disk_encryption_only_warned",
    "v_checks_bite_per_d16",
    "V4: disk encryption is reported as a warning, not an error",
    rule="V4",
)
def _disk_encryption_only_warned() -> Patches:
    def errors(cfg: config.ScaleSetConfig, found: list[Finding]) -> list[Finding]:
        return [f for f in found if f.rule != "V4"]

    def warnings(cfg: config.ScaleSetConfig, found: list[Finding]) -> list[Finding]:
        if cfg.disk_encryption:
            found = [*found, Finding("V4", "disk_encryption", "not supported")]
        return found

    return [*_errors_with(errors), *_warnings_with(warnings)]


@_mutant(
    "application_probe_fails_v5",
    "v_checks_bite_per_d16",
    "V5: an application health probe does not satisfy V5 (only a Standard load balancer does)",
    rule="V5",
)
def _application_probe_fails_v5() -> Patches:
    def change(cfg: config.ScaleSetConfig, errors: list[Finding]) -> list[Finding]:
        probe = cfg.health_probe
        if (
            not cfg.single_placement_group
            and probe is not None
            and probe.kind == "application_health"
        ):
            return [*errors, Finding("V5", "health_probe", "needs a Standard load balancer")]
        return errors

    return _errors_with(change)


@_mutant(
    "silver_durability_refused",
    "v_checks_bite_per_d16",
    "V6: only Gold durability passes; Silver is refused",
    rule="V6",
)
def _silver_durability_refused() -> Patches:
    def change(cfg: config.ScaleSetConfig, errors: list[Finding]) -> list[Finding]:
        sf = cfg.service_fabric
        if sf is not None and sf.durability == "Silver":
            return [*errors, Finding("V6", "service_fabric.durability", "not Gold")]
        return errors

    return _errors_with(change)


@_mutant(
    "probe_interval_of_120_not_warned",
    "v_checks_bite_per_d16",
    "V7: a probe interval of exactly 120 seconds is not warned (> 120 for >= 120)",
    rule="V7",
)
def _probe_interval_of_120_not_warned() -> Patches:
    def change(cfg: config.ScaleSetConfig, warnings: list[Finding]) -> list[Finding]:
        probe = cfg.health_probe
        if probe is not None and probe.interval_seconds == 120:
            return [f for f in warnings if f.rule != "V7"]
        return warnings

    return _warnings_with(change)


@_mutant(
    "service_fabric_warned_without_probe",
    "v_checks_bite_per_d16",
    "V8: a Service Fabric scale set without a probe is warned too",
    rule="V8",
)
def _service_fabric_warned_without_probe() -> Patches:
    def change(cfg: config.ScaleSetConfig, warnings: list[Finding]) -> list[Finding]:
        if cfg.health_probe is None and cfg.service_fabric is not None:
            return [*warnings, Finding("V8", "health_probe", "no health probe")]
        return warnings

    return _warnings_with(change)


@_mutant(
    "single_placement_group_holds_99",
    "scale_out_within_v9",
    "V9: a single placement group holds at most 99 instances (>= 100 for > 100)",
    rule="V9",
)
def _single_placement_group_holds_99() -> Patches:
    check = config.check_instance_count

    def check_instance_count(count: int, single_placement_group: bool) -> Finding | None:
        if count == config.SINGLE_PLACEMENT_GROUP_MAX and single_placement_group:
            return Finding("V9", "instances", f"{count} instances need multiple placement groups")
        return check(count, single_placement_group)

    return replace_everywhere(config, "check_instance_count", check_instance_count)


@_mutant(
    "percent_of_5_refused",
    "malformed_traces_refused_v9_v10",
    "V10: a batch or unhealthy percent of 5 is refused (5 < pct for 5 <= pct)",
    rule="V10",
)
def _percent_of_5_refused() -> Patches:
    check = config.check_policy

    def check_policy(policy: config.Policy) -> list[Finding]:
        found = check(policy)
        for name in ("max_batch_instance_percent", "max_unhealthy_instance_percent"):
            if getattr(policy, name) == 5:
                found.append(Finding("V10", f"policy.{name}", "5 is outside 5 to 100"))
        return found

    return replace_everywhere(config, "check_policy", check_policy)


# --------------------------------------------------------------------- REST words and the window
@_mutant(
    "cancelled_spelled_canceled",
    "documents_match_section_7",
    "D7: a cancelled run's REST code is spelled Canceled",
    rule="D7",
)
def _cancelled_spelled_canceled() -> Patches:
    code = UpgradeRun.code

    def spelled(self: UpgradeRun) -> str:
        found = code.fget(self)
        return "Canceled" if found == "Cancelled" else found

    return [mock.patch.object(UpgradeRun, "code", property(spelled))]


@_mutant(
    "manual_run_started_by_lowercase_user",
    "documents_match_section_7",
    "R12: a manual run's startedBy is 'user', not 'User'",
    rule="R12",
)
def _manual_run_started_by_lowercase_user() -> Patches:
    start_run = orchestrator.start_run

    def start_lowercase(ss: ScaleSet, started_by: str, reason: str) -> UpgradeRun:
        return start_run(ss, "user" if started_by == USER else started_by, reason)

    return replace(orchestrator, "start_run", start_lowercase)


@_mutant(
    "history_window_61_days",
    "history_view_is_r16",
    "R16: the history keeps runs started within 61 days, not 60 (a day too many)",
    rule="R16",
)
def _history_window_61_days() -> Patches:
    return [mock.patch.object(history, "HISTORY_WINDOW_SECONDS", 61 * 86400)]


@_mutant(
    "refusal_names_the_wrong_field",
    "v_checks_bite_per_d16",
    "section 3, V4: the refusal names the rule but the wrong field (disk encryption "
    "reported against the image)",
    rule="V4",
)
def _refusal_names_the_wrong_field() -> Patches:
    def errors(cfg: config.ScaleSetConfig, found: list[Finding]) -> list[Finding]:
        return [Finding(f.rule, "image", f.message) if f.rule == "V4" else f for f in found]

    return _errors_with(errors)


# --------------------------------------------------------------------- section 7 until
@_mutant(
    "stale_pause_end_counted",
    "last_change_ends_the_trace",
    "D12, section 7 until: the end of a pause of a run cancelled meanwhile does "
    "nothing, yet is counted as something that happened",
    rule="D12",
)
def _stale_pause_end_counted() -> Patches:
    from properties.mutants_runs import end_of_pause_reporting

    return end_of_pause_reporting(True)


# --------------------------------------------------------------------- section 7 defaults
@_mutant(
    "health_wait_default_six_minutes",
    "omitted_fields_take_section_7_defaults",
    "section 7, R6: a trace whose timings leave out health_wait_seconds waits 360 s, "
    "not the default 300 (a default copied wrong)",
    rule="section 7 defaults",
)
def _health_wait_default_six_minutes() -> Patches:
    os_disk, extension, app_start, _ = config.Timings.__init__.__defaults__
    defaults = (os_disk, extension, app_start, 360)
    return [mock.patch.object(config.Timings.__init__, "__defaults__", defaults)]


# --------------------------------------------------------------------- section 7 trace format
@_mutant(
    "written_trace_drops_eligible_at",
    "traces_read_back_as_written",
    "section 7, T16: a trace as written (a counterexample) leaves out a publication's "
    "eligible_at, so that it reads back as a publication eligible at once",
    rule="section 7 trace format",
)
def _written_trace_drops_eligible_at() -> Patches:
    write = trace.event_to_dict

    def event_to_dict(event: Any, today: bool = False) -> dict[str, Any]:
        data = write(event, today)
        data.pop("eligible_at", None)
        return data

    return [mock.patch.object(trace, "event_to_dict", event_to_dict)]
