"""The environment and the user: the events of SPEC section 7 and what each
one does to the scale set.

Each event is an immutable ``attrs`` type named as the trace names it. Each
action is named actor + verb; it reads its guards first (a failed guard
raises ``Rejected``: the event is recorded under ``rejected`` and nothing
changes) and then makes its updates.

Actors: the image publisher (R2, D14), maintenance (R8, D10), the
application's probe answers (R6), time expiring a credential (R14), and the
user: regenerate a credential, deploy the model (R15, D8), scale (R18, D9),
opt in and out (R1, D7), start (R12) and cancel (D7) a run.
"""

from __future__ import annotations

from typing import ClassVar, Union

import attrs

from model.config import check_instance_count
from model.instance import SUCCEEDED
from model.run import PLATFORM, USER


class Rejected(Exception):
    """A well-formed event that the system refuses (409, D14, V rules, D9)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class Rejection:
    """Section 7 `rejected`: the event's time, its name, the reason naming the rule."""

    at: int
    event: str
    reason: str


# --------------------------------------------------------------------- events
@attrs.frozen
class PublishImage:
    """R2, D14: a newer version of the scale set's sku; broken if not app_healthy."""

    NAME: ClassVar[str] = "publish_image"
    at: int
    version: str
    app_healthy: bool = True


@attrs.frozen
class OutageStart:
    """R8, D10: planned or unplanned maintenance takes instances down."""

    NAME: ClassVar[str] = "outage_start"
    at: int
    instances: tuple[int, ...]
    kind: str = "unplanned"


@attrs.frozen
class OutageEnd:
    """R8, D10: the instances come back up."""

    NAME: ClassVar[str] = "outage_end"
    at: int
    instances: tuple[int, ...]


@attrs.frozen
class AppHealth:
    """R6: the application's probe answer on those instances from now on."""

    NAME: ClassVar[str] = "app_health"
    at: int
    instances: tuple[int, ...]
    healthy: bool


@attrs.frozen
class ExpireCredential:
    """R14, D15: every token of the credential issued so far expires now."""

    NAME: ClassVar[str] = "expire_credential"
    at: int
    name: str


@attrs.frozen
class RegenerateCredential:
    """R15, D15: a new token; the model keeps the old one until update_model."""

    NAME: ClassVar[str] = "regenerate_credential"
    at: int
    name: str
    expires_at: int


@attrs.frozen
class UpdateModel:
    """R15, D8: deploy the model with the newest tokens."""

    NAME: ClassVar[str] = "update_model"
    at: int


@attrs.frozen
class ScaleOut:
    """R18, D9: new instances from the latest version."""

    NAME: ClassVar[str] = "scale_out"
    at: int
    count: int


@attrs.frozen
class ScaleIn:
    """D9: remove the highest ids outside the batch in flight."""

    NAME: ClassVar[str] = "scale_in"
    at: int
    count: int


@attrs.frozen
class SetAutomaticUpgrade:
    """R1, D7: opt in or out."""

    NAME: ClassVar[str] = "set_automatic_upgrade"
    at: int
    enabled: bool


@attrs.frozen
class StartUpgrade:
    """R12: a manual start (startedBy User)."""

    NAME: ClassVar[str] = "start_upgrade"
    at: int


@attrs.frozen
class CancelUpgrade:
    """D7: a user cancel of the active run."""

    NAME: ClassVar[str] = "cancel_upgrade"
    at: int


Event = Union[
    PublishImage,
    OutageStart,
    OutageEnd,
    AppHealth,
    ExpireCredential,
    RegenerateCredential,
    UpdateModel,
    ScaleOut,
    ScaleIn,
    SetAutomaticUpgrade,
    StartUpgrade,
    CancelUpgrade,
]

EVENT_TYPES: dict[str, type] = {
    cls.NAME: cls
    for cls in (
        PublishImage,
        OutageStart,
        OutageEnd,
        AppHealth,
        ExpireCredential,
        RegenerateCredential,
        UpdateModel,
        ScaleOut,
        ScaleIn,
        SetAutomaticUpgrade,
        StartUpgrade,
        CancelUpgrade,
    )
}


@attrs.define(eq=False)
class Deploy:
    """D8: one model deploy: the instances it touched and how it ended."""

    start: int
    members: list[int]
    remaining: set[int]
    end: int | None = None
    succeeded: bool | None = None


# --------------------------------------------------------------------- actions
class EnvironmentActions:
    """The actions of the environment and the user (mixed into ScaleSet)."""

    def dispatch(self, event: Event) -> None:
        """Apply one event now; raises Rejected when the system refuses it."""
        getattr(self, _ACTIONS[event.NAME])(event)

    # -- the image publisher
    def publisher_publish_image(self, ev: PublishImage) -> None:
        """R2, D14: a publication newer than the latest starts a Platform run (D4)."""
        if not self.catalog.is_newer(ev.version):
            raise Rejected(
                f"D14: version {ev.version} is not newer than the latest {self.catalog.latest}"
            )
        self.catalog.publish(ev.version, ev.app_healthy)
        self._log(None, "image %s published%s", ev.version, "" if ev.app_healthy else " (broken)")
        self.maybe_start_platform_run("publication")  # D4

    # -- maintenance
    def maintenance_start_outage(self, ev: OutageStart) -> None:
        """R8, D10: the instances go down; operations in flight go on."""
        insts = self._existing(ev.instances)
        for inst in insts:
            inst.power_state = "stopped"
        self._log(None, "%s outage: instances %s down", ev.kind, _ids(ev.instances))

    def maintenance_end_outage(self, ev: OutageEnd) -> None:
        """R8, D10: the instances come back up (an awaited one may now be healthy)."""
        insts = self._existing(ev.instances)
        for inst in insts:
            inst.power_state = "running"
        self._log(None, "outage end: instances %s up", _ids(ev.instances))
        for inst in insts:
            self._run_recheck(inst)

    # -- the application
    def application_report_health(self, ev: AppHealth) -> None:
        """R6: the probe answer stands until the OS disk changes."""
        insts = self._existing(ev.instances)
        for inst in insts:
            inst.app_health = ev.healthy
        self._log(
            None,
            "application on %s reports %s",
            _ids(ev.instances),
            "healthy" if ev.healthy else "unhealthy",
        )
        for inst in insts:
            self._run_recheck(inst)

    # -- credentials
    def time_expire_credential(self, ev: ExpireCredential) -> None:
        """R14, D15: every token of the credential issued so far expires now."""
        tokens = self._tokens(ev.name)
        now = self.now
        for k, expiry in enumerate(tokens):
            tokens[k] = min(expiry, now)
        self._log(None, "credential %s expired", ev.name)

    def user_regenerate_credential(self, ev: RegenerateCredential) -> None:
        """R15, D15: a new token; the model references the old one until a deploy."""
        tokens = self._tokens(ev.name)
        tokens.append(ev.expires_at)
        self._log(None, "credential %s regenerated (expires at %d)", ev.name, ev.expires_at)

    # -- the model deploy
    def user_update_model(self, ev: UpdateModel) -> None:
        """R15, D8: point the extensions at the newest tokens and re-run extension
        provisioning on every instance at once. Refused while a run is active
        or another deploy is in flight."""
        if self.active_run is not None:
            raise Rejected("409: a run is active")
        if self.deploy is not None:
            raise Rejected("409: a model deploy is in flight")
        for name, tokens in self.tokens.items():
            self.model_tokens[name] = len(tokens) - 1
        # D8: instances still being created run their extensions with the new model.
        members = [inst for inst in self.instances.values() if inst.state == "ready"]
        deploy = Deploy(self.now, [i.id for i in members], {i.id for i in members})
        self.deploy = deploy
        self.deploys.append(deploy)
        self._log(None, "model deploy started on %d instances", len(members))
        for inst in members:
            self._instance_begin_model_update(inst)
        if not members:
            self._end_deploy(deploy)

    def _deploy_instance_finished(self, instance_id: int) -> None:
        deploy = self.deploy
        if deploy is not None and instance_id in deploy.remaining:
            deploy.remaining.discard(instance_id)
            if not deploy.remaining:
                self._end_deploy(deploy)

    def _end_deploy(self, deploy: Deploy) -> None:
        """D8: the deploy ends when every instance it touched has finished; it
        succeeded if all are Succeeded. Its successful end may start a run (D4)."""
        deploy.end = self.now
        deploy.succeeded = all(
            self.instances[i].provisioning_state == SUCCEEDED
            for i in deploy.members
            if i in self.instances
        )
        self.deploy = None
        self._log(None, "model deploy %s", "succeeded" if deploy.succeeded else "failed")
        self._note("deploy_ended", deploy)
        if deploy.succeeded:
            self.maybe_start_platform_run("model deploy")  # D4, R15

    # -- scaling
    def user_scale_out(self, ev: ScaleOut) -> None:
        """R18, D9: new instances from the latest version, not in an active run."""
        found = check_instance_count(
            len(self.instances) + ev.count, self.config.single_placement_group
        )
        if found is not None:
            raise Rejected(f"V9: {found.message}")
        first = self.next_id
        for _ in range(ev.count):
            self._instance_create()
        self._log(None, "scale out: instances %s created", _ids(range(first, self.next_id)))

    def user_scale_in(self, ev: ScaleIn) -> None:
        """D9: remove the highest ids that are not in the batch in flight."""
        run = self.active_run
        batch = run.batch_in_flight if run is not None else None
        protected = set(batch.instances) if batch is not None else set()
        victims: list[int] = []
        for instance_id in reversed(self.instances):
            if len(victims) == ev.count:
                break
            if instance_id not in protected:
                victims.append(instance_id)
        if len(victims) < ev.count:
            raise Rejected(
                f"D9: cannot remove {ev.count} instances: only {len(victims)} are "
                "outside the batch in flight"
            )
        for instance_id in victims:
            self._instance_remove(self.instances[instance_id])
        self._log(None, "scale in: instances %s removed", _ids(sorted(victims)))
        for instance_id in victims:
            self._deploy_instance_finished(instance_id)

    # -- opt-in, opt-out, start and cancel
    def user_set_automatic_upgrade(self, ev: SetAutomaticUpgrade) -> None:
        """R1, D7, D16: opt in (refused while a V error stands) or out."""
        if ev.enabled:
            if self.v_errors:
                raise Rejected(self.v_error_reason())
            was_on, self.auto_enabled = self.auto_enabled, True
            self._log(None, "automatic OS upgrades on")
            if not was_on:
                self.maybe_start_platform_run("opt-in")  # D4
            return
        self.auto_enabled = False
        self._log(None, "automatic OS upgrades off")
        run = self.active_run
        # D7: a Platform run with no batch in flight ends Cancelled at once.
        if run is not None and run.started_by == PLATFORM and run.batch_in_flight is None:
            self._end_run(run, "cancel")

    def user_start_upgrade(self, ev: StartUpgrade) -> None:
        """R12, D4, D8: a manual start, also while opted out."""
        if self.active_run is not None:
            raise Rejected("409: a run is active")
        if self.deploy is not None:
            raise Rejected("409: a model deploy is in flight")
        blocking = [f for f in self.v_errors if f.rule in ("V1", "V2", "V3")]
        if blocking:
            raise Rejected(self.v_error_reason(("V1", "V2", "V3")))
        self._start_run(USER, "manual start")

    def user_cancel_upgrade(self, ev: CancelUpgrade) -> None:
        """D7: the current batch finishes, then the run ends Cancelled (at once
        if no batch is in flight). A cancel stands once asked."""
        run = self.active_run
        if run is None:
            raise Rejected("409: no run is active")
        run.cancel_requested = True
        self._log(run, "run %d: cancel asked", run.number)
        if run.batch_in_flight is None:
            self._end_run(run, "cancel")

    # -- helpers
    def _existing(self, ids: tuple[int, ...]) -> list:
        missing = [i for i in ids if i not in self.instances]
        if missing:
            raise Rejected(f"no such instance: {_ids(missing)}")
        return [self.instances[i] for i in ids]

    def _tokens(self, name: str) -> list[int]:
        if name not in self.tokens:
            raise Rejected(f"no such credential: {name}")
        return self.tokens[name]


_ACTIONS = {
    "publish_image": "publisher_publish_image",
    "outage_start": "maintenance_start_outage",
    "outage_end": "maintenance_end_outage",
    "app_health": "application_report_health",
    "expire_credential": "time_expire_credential",
    "regenerate_credential": "user_regenerate_credential",
    "update_model": "user_update_model",
    "scale_out": "user_scale_out",
    "scale_in": "user_scale_in",
    "set_automatic_upgrade": "user_set_automatic_upgrade",
    "start_upgrade": "user_start_upgrade",
    "cancel_upgrade": "user_cancel_upgrade",
}


def _ids(ids) -> str:
    return ", ".join(str(i) for i in ids)
