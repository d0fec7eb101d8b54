"""The observed world: what the property layer has seen happen to a scale set,
kept in its own records and updated from the facts the model records and the
events it accepted, never from the model's own bookkeeping.

Each instance's power state follows the outage events, its probe answer the
``app_health`` events (until its disk changes), its operation and
provisioning state the lifecycle facts, its application's start the rule of
"Health, precisely"; the catalog follows the publications, the credentials
the credential events and deploys, each run its own scope and statuses.
From these :meth:`World.healthy` is the property layer's own health
predicate (R7), and the rule properties (properties/rules_*.py) compare
what the model did with what the spec says it must do in that world.

The handlers ``on_<fact>`` bring the world up to date with a fact; the
checker (properties/checker.py) calls the properties that look at the
world before a fact first, then the world's handler, then those that look
at it after.
"""

from __future__ import annotations

from typing import Any

from model.instance import Provisioning
from model.run import PLATFORM, Code, ErrorCode, Status
from properties.expect import (
    is_newer,
    newest,
    pause_seconds,
    unhealthy_limit,
    upgraded_limit,
    v_errors,
)
from properties.expect_today import errors_today, is_today, run_policy
from properties.seen import (  # noqa: F401 - the records are part of this module's interface
    BUSY,
    ENDS,
    USER_STOPS,
    SeenBatch,
    SeenDeploy,
    SeenInstance,
    SeenRun,
)


class World:
    """The scale set as the property layer has seen it (see the module doc)."""

    def __init__(self, published: Any) -> None:
        config = published.config
        #: the time now: the checker sets it as each step begins and whenever
        #: time moves on (it is the time of every fact of the step)
        self.now: int = published.now
        self.config = config
        self.policy = config.policy
        self.timings = config.timings
        #: section 4: the pause between batches, in seconds (this layer's own parse)
        self.pause = pause_seconds(config.policy.pause_time_between_batches) or 0
        self.probe = config.health_probe is not None
        self.service_fabric = config.service_fabric
        self.versions: list[str] = list(config.catalog)
        #: R17, D3 (T17 with the switch: the latest eligible version, and the
        #: latest available one; neither is ever an excluded version, T16)
        self.latest = newest(self.versions)
        self.available = self.latest
        #: D14 (TD5): the newest version published so far, eligible or not, excluded or not
        self.newest = self.latest
        self.broken: set[str] = set()
        #: T1: section 9 applies; T14: the image is a gallery's
        self.today = is_today(config)
        self.gallery = config.image.id is not None
        self.excluded: set[str] = set()
        #: T27: the instances protected by either flag (TI3 applies while any is)
        self.protected: set[int] = set()
        #: T18: no Platform run before this time (None: not opted in yet)
        self.rollout_from: int | None = None
        self.tokens: dict[str, list[int]] = {
            name: [cred.expires_at] for name, cred in config.credentials.items()
        }
        self.referenced: dict[str, int] = {name: 0 for name in self.tokens}
        #: D15: per credential, the tokens below this index expired already
        self.expired_before: dict[str, int] = {}
        #: the tokens the last credential event changed: (first, end)
        self.changed_tokens = (0, 0)
        self.extension_credentials = sorted(
            {c for ext in config.extensions for c in ext.credentials}
        )
        self.errors = errors_today(config) if self.today else v_errors(config)
        self.auto = config.automatic_os_upgrade and not self.errors
        if self.auto:
            self.opted_in()
        self.instances: dict[int, SeenInstance] = {}
        self.next_id = 0
        for _ in range(config.instances):
            seen = self._add(self.latest)
            seen.app_since = -self.timings.app_start_seconds  # healthy at time 0
        self.runs: list[SeenRun] = []
        self.active: SeenRun | None = None
        #: the last pre-batch check as counted here: (run, time, N, unhealthy)
        self.last_check: tuple[int, int, int, int] | None = None
        #: the decision of the last pre-batch check: (outcome, N, unhealthy, limit)
        self.check_decision: tuple[str, int, int, int] | None = None
        self.deploy: SeenDeploy | None = None
        #: the deploys seen end, with the instances whose provisioning had
        #: failed when each started (the scenario of a recovery)
        self.failed_before_deploy: set[int] = set()
        self.recoveries = 0
        #: the name of the step under way (the checker sets it at each begin)
        self.step_name: str | None = None

    def opted_in(self) -> None:
        """T18: automatic upgrades accepted as on for the first time (t0)."""
        if self.today and self.rollout_from is None:
            self.rollout_from = self.now + self.config.first_rollout_delay_seconds

    def target(self, started_by: str) -> str:
        """D3 (T17: a Platform run's the latest eligible, a User run's the
        latest available)."""
        return self.latest if started_by == PLATFORM else self.available

    def _add(self, version: str) -> SeenInstance:
        i = self.next_id
        self.next_id += 1
        sf = self.service_fabric
        seen = SeenInstance(
            id=i,
            version=version,
            disk=f"os-{i}-0",
            data_disks=tuple(f"data-{i}-{k}" for k in range(self.config.data_disks_per_instance)),
            update_domain=i % sf.update_domains if sf is not None else None,
        )
        seen.disks.add(seen.disk)
        self.instances[i] = seen
        return seen

    # ------------------------------------------------------------ own predicates
    def probe_ok(self, seen: SeenInstance) -> bool:
        """ "Health, precisely": the last answer since the disk changed; otherwise
        the image is not broken and the application has been up long enough."""
        if seen.answer is not None:
            return seen.answer
        if seen.app_since is None or seen.version in self.broken:
            return False
        return self.now - seen.app_since >= self.timings.app_start_seconds

    def healthy(self, seen: SeenInstance) -> bool:
        """R7: running, Succeeded, no operation in flight, and with a probe, probe_ok."""
        if not seen.up or seen.provisioning != Provisioning.SUCCEEDED or seen.op in BUSY:
            return False
        return not self.probe or self.probe_ok(seen)

    def unhealthy(self) -> list[int]:
        return [i for i, seen in self.instances.items() if not self.healthy(seen)]

    def below(self, version: str, target: str) -> bool:
        return is_newer(target, version)

    def credential_expired(self, at: int) -> str | None:
        """R14: a credential whose referenced token has expired at ``at``, if any."""
        for name in self.extension_credentials:
            if self.tokens[name][self.referenced[name]] <= at:
                return name
        return None

    def any_token_expired(self) -> bool:
        """R15: a token the model references (of any credential) has expired now."""
        now = self.now
        return any(self.tokens[n][self.referenced[n]] <= now for n in self.tokens)

    def any_below_latest(self) -> bool:
        """D4: some instance, not being created, is below the latest version
        (TD32: not protected from scale set actions, the latest eligible)."""
        return any(
            s.provisioning != Provisioning.CREATING
            and is_newer(self.latest, s.version)
            and not s.protected_actions
            for s in self.instances.values()
        )

    # ------------------------------------------------------------ decisions
    def member_status(self, seen_run: SeenRun, instance_id: int) -> str:
        """D11, R6, section 4: how a batch member that is done now counts, as
        this layer sees it: failed when its extensions failed or it was
        rolled back; otherwise successful exactly when healthy (R7) now."""
        batch = seen_run.batches[-1]
        if instance_id in batch.extensions_failed or instance_id in batch.restored:
            return Status.FAILED
        healthy = self.healthy(self.instances[instance_id])
        return Status.SUCCESSFUL if healthy else Status.FAILED

    def decide_pre_batch(self, seen: SeenRun) -> tuple[str, int, int, int]:
        """R4, R8, D1, D5, D7a: the pre-batch check now: Completed with nothing
        pending; Faulted (MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade
        before the first batch, InRollingUpgrade after) when more than
        floor(N x pct / 100) instances are unhealthy; else the next batch.
        Returns (outcome, N, unhealthy, limit)."""
        n = len(self.instances)
        unhealthy = len(self.unhealthy())
        limit = unhealthy_limit(n, self.policy.max_unhealthy_instance_percent)
        if seen.tally[Status.PENDING] == 0:
            outcome = Code.COMPLETED
        elif unhealthy > limit:
            code = (
                ErrorCode.IN_ROLLING_UPGRADE if seen.batches else ErrorCode.BEFORE_ROLLING_UPGRADE
            )
            outcome = f"{Code.FAULTED} {code}"
            seen.failed_check = (self.now, unhealthy, limit)
        else:
            outcome = "batch"
        return outcome, n, unhealthy, limit

    def decide_end_of_batch(self, seen: SeenRun) -> str:
        """D7a, D6, D7, R14, section 4: at a batch's end, in this order: a
        provisioning failure in it, Faulted (VMExtensionProvisioningError);
        more failed than floor((successful + failed) x pct / 100) of the
        upgraded, Faulted (MaxUnhealthyUpgradedInstancePercentExceeded
        InRollingUpgrade); nothing pending, Completed; a cancel asked or
        automatic upgrades off for a Platform run, Cancelled; else a pause."""
        counts = seen.tally
        pct = self.policy.max_unhealthy_upgraded_instance_percent
        done = counts[Status.SUCCESSFUL] + counts[Status.FAILED]
        if seen.batches[-1].extensions_failed:
            return f"{Code.FAULTED} {ErrorCode.PROVISIONING}"
        if pct is not None and counts[Status.FAILED] > upgraded_limit(done, pct):
            return f"{Code.FAULTED} {ErrorCode.UPGRADED_UNHEALTHY}"
        if counts[Status.PENDING] == 0:
            return Code.COMPLETED
        if seen.cancel_asked or (seen.started_by == PLATFORM and not self.auto):
            return Code.CANCELLED
        return "pause"

    def _decided(self, seen: SeenRun, decision: str) -> None:
        seen.decision = decision
        if decision.startswith(Code.FAULTED):
            seen.stopped_at = self.now

    # ------------------------------------------------------------ events seen
    def on_image_published(self, ev: Any) -> None:
        self.versions.append(ev.version)
        if not ev.app_healthy:
            self.broken.add(ev.version)
        if is_newer(ev.version, self.newest):
            self.newest = ev.version
        if not self.today:
            if is_newer(ev.version, self.latest):
                self.latest = self.available = ev.version
            return
        if ev.exclude_from_latest:  # T16: never latest
            self.excluded.add(ev.version)
            return
        eligible_at = ev.at if ev.eligible_at is None else ev.eligible_at
        if not self.gallery:  # T17: a platform version is available at once
            self._newer_available(ev.version)
        if eligible_at == ev.at:  # else its own step comes at eligible_at (TD6)
            self.on_version_eligible(ev.version)

    def _newer_available(self, version: str) -> None:
        if is_newer(version, self.available):
            self.available = version

    def on_version_eligible(self, version: str) -> None:
        """T17: the version reached the region (a gallery's is available from now)."""
        if version in self.excluded:
            return
        if is_newer(version, self.latest):
            self.latest = version
        if self.gallery:
            self._newer_available(version)

    def on_protection_set(self, ev: Any) -> None:
        """T27, TD12: both flags of each listed instance; a pending instance of
        the active run protected from scale set actions leaves its scope."""
        active = self.active
        for i in ev.instances:
            seen = self.instances[i]
            seen.protected_in = ev.protect_from_scale_in
            seen.protected_actions = ev.protect_from_scale_set_actions
            if seen.protected_in or seen.protected_actions:
                self.protected.add(i)
            else:
                self.protected.discard(i)
            if ev.protect_from_scale_set_actions and active is not None:
                if active.statuses.get(i) == Status.PENDING:
                    del active.statuses[i]
                    active.tally[Status.PENDING] -= 1

    def on_outage_started(self, ev: Any) -> None:
        for i in ev.instances:
            self.instances[i].up = False

    def on_outage_ended(self, ev: Any) -> None:
        for i in ev.instances:
            self.instances[i].up = True

    def on_health_reported(self, ev: Any) -> None:
        for i in ev.instances:
            self.instances[i].answer = ev.healthy

    def on_credential_expired(self, ev: Any) -> None:
        """D15: every token issued so far expires now. Those issued before the
        last expiry of the credential expired then, at or before now, and do
        not change: only the ones issued since are touched (``changed``)."""
        tokens, now = self.tokens[ev.name], self.now
        start = self.expired_before.get(ev.name, 0)
        for k in range(start, len(tokens)):
            tokens[k] = min(tokens[k], now)
        self.expired_before[ev.name] = len(tokens)
        self.changed_tokens = (start, len(tokens))

    def on_credential_regenerated(self, ev: Any) -> None:
        self.tokens[ev.name].append(ev.expires_at)
        self.changed_tokens = (len(self.tokens[ev.name]) - 1, len(self.tokens[ev.name]))

    def on_automatic_upgrades(self, enabled: bool) -> None:
        self.auto = enabled
        if enabled:
            self.opted_in()

    def step_begins(self, name: str, arg: Any) -> None:
        """The checker calls this as each step begins. D7: a cancel while a run
        is active stands from now on (it is refused, 409, only with none)."""
        self.step_name = name
        if name == "cancel_upgrade" and self.active is not None:
            self.active.cancel_asked = True
            if self.active.cancel_at is None and self.today:  # T65 (state only with the switch)
                self.active.cancel_at = self.now

    def on_instance_created(self, inst: Any) -> None:
        seen = self._add(inst.image_version)
        seen.op, seen.since, seen.provisioning = "creating", self.now, Provisioning.CREATING

    def on_instance_removed(self, inst: Any) -> None:
        del self.instances[inst.id]
        self.failed_before_deploy.discard(inst.id)
        self.protected.discard(inst.id)
        for run in self.runs:
            status = run.statuses.pop(inst.id, None)
            if status is not None:
                run.tally[status] -= 1
        if self.deploy is not None:
            self.deploy.remaining.discard(inst.id)

    def on_deploy_started(self, deploy: Any) -> None:
        for name, tokens in self.tokens.items():
            self.referenced[name] = len(tokens) - 1
        members = set(deploy.members)
        self.deploy = SeenDeploy(self.now, members, set(members))
        self.failed_before_deploy = {
            i for i, s in self.instances.items() if s.provisioning == Provisioning.FAILED
        }
        for i in members:
            seen = self.instances[i]
            seen.op, seen.since, seen.provisioning = (
                "model_update",
                self.now,
                Provisioning.UPDATING,
            )

    def on_deploy_ended(self, deploy: Any) -> None:
        self.deploy = None
        failed, self.failed_before_deploy = self.failed_before_deploy, set()
        instances = self.instances
        if any(instances[i].provisioning == Provisioning.SUCCEEDED for i in failed) and all(
            instances[i].provisioning == Provisioning.SUCCEEDED
            for i in deploy.members
            if i in instances
        ):
            self.recoveries += 1  # a deploy that succeeded recovered a credential failure

    # ------------------------------------------------------------ runs seen
    def on_run_started(self, run: Any, scope: Any, reason: str) -> None:
        target = run.target
        statuses = {
            i: Status.PENDING
            for i, s in self.instances.items()
            if s.provisioning != Provisioning.CREATING
            and is_newer(target, s.version)
            and not s.protected_actions  # T28
        }
        counts = dict.fromkeys((Status.PENDING, Status.IN_PROGRESS, Status.SUCCESSFUL), 0)
        counts[Status.FAILED] = 0
        counts[Status.PENDING] = len(statuses)
        seen = SeenRun(run.number, run.started_by, target, self.now, statuses, counts)
        if self.today:  # TD2, T10: the run's own policy, from here until it ends
            self.policy = run_policy(self.config, run.started_by == PLATFORM)
            self.pause = pause_seconds(self.policy.pause_time_between_batches) or 0
        seen.policy, seen.rollback = self.policy, self.policy.automatic_rollback
        self.runs.append(seen)
        self.active = seen

    def on_pre_batch_check(self, run: Any) -> None:
        seen = self.runs[run.number - 1]
        decision = self.check_decision = self.decide_pre_batch(seen)
        self.last_check = (run.number, self.now, decision[1], decision[2])  # I2 reads it
        self._decided(seen, decision[0])

    def on_batch_started(self, run: Any, batch: Any) -> None:
        seen_run = self.runs[run.number - 1]
        seen_run.batches.append(SeenBatch(batch.number, list(batch.instances), self.now))
        for i in batch.instances:
            seen_run.set(i, Status.IN_PROGRESS)
            seen = self.instances[i]
            seen.prior = (seen.disk, seen.version, seen.provisioning)
            seen.op, seen.since, seen.run = "reimaging", self.now, run.number
            seen.provisioning = Provisioning.UPDATING

    def on_member_done(self, run: Any, inst: Any, outcome: Any) -> None:
        seen_run = self.runs[run.number - 1]
        status = self.member_status(seen_run, inst.id)
        first = seen_run.first_failed
        if (
            self.today
            and status == Status.FAILED
            and (first is None or (first[0] == self.now and inst.id < first[1]))
        ):
            seen_run.first_failed = (self.now, inst.id)  # T62
        seen_run.batches[-1].done[inst.id] = status
        seen_run.batches[-1].last_done = self.now
        seen_run.set(inst.id, status)
        seen = self.instances[inst.id]
        seen.run = None
        if seen.op == "awaiting":
            seen.op = "ready"

    def on_batch_ended(self, run: Any, batch: Any) -> None:
        seen = self.runs[run.number - 1]
        seen.batches[-1].end = self.now
        self._decided(seen, self.decide_end_of_batch(seen))

    def on_run_ended(self, run: Any) -> None:
        """The run's end as this layer decided it (the model's run is only
        the one named): the decision of this step's check or batch end, or
        a user's stop with no batch in flight (D7: Cancelled, error null)."""
        seen = self.runs[run.number - 1]
        flight = bool(seen.batches) and seen.batches[-1].end is None
        decision = seen.decision or ""
        if decision.partition(" ")[0] not in ENDS and self.step_name in USER_STOPS and not flight:
            decision = Code.CANCELLED
        code, _, error = decision.partition(" ")
        seen.end = self.now
        # an end no decision explains keeps no code: the rule properties say so
        seen.code = code if code in ENDS else None
        seen.error_code = error or None
        self.active = None

    # ------------------------------------------------------------ instances seen
    def on_disk_replaced(self, inst: Any) -> None:
        seen = self.instances[inst.id]
        if seen.op == "reimaging":
            seen.disk, seen.version = inst.os_disk, inst.image_version
            seen.disks.add(seen.disk)
        seen.op, seen.since = "extensions", self.now
        seen.answer = None
        seen.app_since = None

    def on_extensions_finished(self, inst: Any, ok: bool) -> None:
        seen = self.instances[inst.id]
        seen.provisioning = Provisioning.SUCCEEDED if ok else Provisioning.FAILED
        seen.provisioned_at = self.now
        if ok and seen.app_since is None:
            seen.app_since = self.now
        if seen.run is not None and ok and self.probe:
            seen.op, seen.since = "awaiting", self.now
        else:
            seen.op = "ready"
        if not ok and seen.run is not None:
            self.runs[seen.run - 1].batches[-1].extensions_failed.add(inst.id)
        if self.deploy is not None:
            self.deploy.remaining.discard(inst.id)

    def on_rollback_started(self, inst: Any) -> None:
        seen = self.instances[inst.id]
        seen.op, seen.since, seen.provisioning = (
            "rolling_back",
            self.now,
            Provisioning.UPDATING,
        )

    def on_rollback_restored(self, inst: Any) -> None:
        """Section 4, D11: a member counts as rolled back when the disk it now
        has is, by name and version, the one it had before its batch."""
        seen = self.instances[inst.id]
        restored = seen.prior is not None and (inst.os_disk, inst.image_version) == seen.prior[:2]
        seen.disk, seen.version = inst.os_disk, inst.image_version
        seen.disks.add(seen.disk)
        if seen.prior is not None:
            seen.provisioning = seen.prior[2]
        seen.op, seen.answer, seen.app_since = "ready", None, self.now
        if seen.run is not None and restored:
            self.runs[seen.run - 1].batches[-1].restored.add(inst.id)

    # ------------------------------------------------------------ handlers
    def handlers(self) -> dict[str, Any]:
        """fact -> this world's handler."""
        return {name[3:]: getattr(self, name) for name in dir(self) if name.startswith("on_")}

    def platform(self, run: SeenRun) -> bool:
        return run.started_by == PLATFORM
