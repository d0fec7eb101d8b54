"""The readable timeline of a replay: one line per change, with the progress
of the run concerned (SPEC section 7, ``vmss-spec replay``).

A :class:`Timeline` subscribes to the facts a scale set records
(``ScaleSet.subscribe``) and turns each into a line at the time it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from model import causes
from model.history import GalleryImageReference
from model.run import Code, ErrorCode, Status

if TYPE_CHECKING:
    from model.instance import Instance
    from model.result import Result
    from model.run import Batch, Check, UpgradeRun
    from model.scaleset import ScaleSet

#: (time, message, run number or None, progress (ok, failed, in progress, pending) or None)
Entry = tuple[int, str, "int | None", "tuple[int, int, int, int] | None"]


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in ids)


class Timeline:
    """A subscriber of a scale set (``ss.subscribe(Timeline(ss))``): ``entries``
    holds one line per change."""

    def __init__(self, ss: ScaleSet) -> None:
        self.ss = ss
        self.entries: list[Entry] = []
        self._lines: dict[str, Callable[..., None]] = {
            name[len("_line_") :]: getattr(self, name)
            for name in dir(self)
            if name.startswith("_line_")
        }
        # D16: a V error refuses automatic upgrades at time 0, before anyone
        # could subscribe; the timeline shows those refusals too.
        for rejection in ss.rejected:
            self._line_rejected(rejection)

    def __call__(self, fact: str, *args: Any) -> None:
        line = self._lines.get(fact)
        if line is not None:
            line(*args)

    def _add(self, run: UpgradeRun | None, message: str) -> None:
        progress = None
        if run is not None:
            c = run.counts
            progress = (
                c[Status.SUCCESSFUL],
                c[Status.FAILED],
                c[Status.IN_PROGRESS],
                c[Status.PENDING],
            )
        message = causes.printable(message)
        self.entries.append((self.ss.now, message, run.number if run else None, progress))

    # ------------------------------------------------------------ events
    def _line_rejected(self, rejection: Any) -> None:
        self._add(None, f"{rejection.event} refused: {rejection.reason}")

    def _line_image_published(self, ev: Any) -> None:
        later = ""  # section 9: eligible later (T17) or excluded from latest (T16)
        if self.ss.today:
            if ev.eligible_at is not None and ev.eligible_at > ev.at:
                later = f", eligible at {ev.eligible_at}s (T17)"
            if ev.exclude_from_latest:
                later += ", excluded from latest (T16)"
        broken = "" if ev.app_healthy else " (broken)"
        self._add(None, f"image {ev.version} published{broken}{later}")

    def _line_version_eligible(self, version: str) -> None:
        self._add(None, f"image {version} eligible in the scale set's region (T17)")

    def _line_first_rollout_ends(self) -> None:
        self._add(None, "the first-rollout delay has passed (T18)")

    def _line_protection_set(self, ev: Any) -> None:
        flags = [
            name
            for name, on in (
                ("scale-in", ev.protect_from_scale_in),
                ("scale set actions", ev.protect_from_scale_set_actions),
            )
            if on
        ]
        what = f"protected from {' and '.join(flags)}" if flags else "unprotected"
        self._add(None, f"instances {_ids(ev.instances)} {what} (T27)")

    def _line_run_not_started(self, trigger: Any, why: str) -> None:
        self._add(None, f"no Platform run started ({trigger.reason}): {why}")

    def _line_outage_started(self, ev: Any) -> None:
        self._add(None, f"{ev.kind} outage: instances {_ids(ev.instances)} down")

    def _line_outage_ended(self, ev: Any) -> None:
        self._add(None, f"outage end: instances {_ids(ev.instances)} up")

    def _line_health_reported(self, ev: Any) -> None:
        answer = "healthy" if ev.healthy else "unhealthy"
        self._add(None, f"application on {_ids(ev.instances)} reports {answer}")

    def _line_credential_expired(self, ev: Any) -> None:
        self._add(None, f"credential {ev.name} expired")

    def _line_credential_regenerated(self, ev: Any) -> None:
        self._add(None, f"credential {ev.name} regenerated (expires at {ev.expires_at})")

    def _line_deploy_started(self, deploy: Any) -> None:
        self._add(None, f"model deploy started on {len(deploy.members)} instances")

    def _line_deploy_ended(self, deploy: Any) -> None:
        if deploy.succeeded:
            self._add(None, "model deploy succeeded")
            return
        failed = [
            i
            for i in deploy.members
            if i in self.ss.instances and self.ss.instances[i].provisioning_state != "Succeeded"
        ]
        why = ""
        if failed:
            reasons = [(i, causes.unhealthy_reason(self.ss, self.ss.instances[i])) for i in failed]
            why = f": {causes.grouped((i, r or 'not Succeeded') for i, r in reasons)} (D8)"
        self._add(None, f"model deploy failed{why}")

    def _line_scaled_out(self, ids: list[int]) -> None:
        self._add(None, f"scale out: instances {_ids(ids)} created")

    def _line_scaled_in(self, ids: list[int]) -> None:
        self._add(None, f"scale in: instances {_ids(ids)} removed")

    def _line_automatic_upgrades(self, enabled: bool) -> None:
        self._add(None, f"automatic OS upgrades {'on' if enabled else 'off'}")

    def _line_cancel_asked(self, run: UpgradeRun) -> None:
        self._add(run, f"run {run.number}: cancel asked")

    # ------------------------------------------------------------ runs and batches
    def _line_run_started(self, run: UpgradeRun, reason: str) -> None:
        self._add(
            run,
            f"run {run.number} started by {run.started_by} ({reason}): target {run.target}, "
            f"{len(run.scope)} instances in scope",
        )

    def _line_pre_batch_checked(self, run: UpgradeRun, check: Check) -> None:
        verdict = "passed" if check.passed else "failed"
        self._add(
            run,
            f"run {run.number} pre-batch check {verdict}: {causes.check_detail(check)}",
        )

    def _line_batch_started(self, run: UpgradeRun, batch: Batch) -> None:
        why = batch_choice(self.ss, run, batch)
        self._add(
            run,
            f"run {run.number} batch {batch.number} started: instances "
            f"{_ids(batch.instances)} ({why})",
        )

    def _line_member_done(self, run: UpgradeRun, inst: Instance) -> None:
        batch = run.batches[-1]
        outcome = batch.outcomes[inst.id]
        cause = f": {outcome.cause}" if outcome.cause else ""
        self._add(run, f"instance {inst.id}: {outcome.status} in batch {batch.number}{cause}")

    def _line_batch_ended(self, run: UpgradeRun, batch: Any) -> None:
        self._add(run, f"run {run.number} batch {batch.number} ended")

    def _line_run_ended(self, run: UpgradeRun) -> None:
        self._add(run, f"run {run.number} {run.state}{run_end_cause(self.ss, run)}")

    # ------------------------------------------------------------ instances
    def _line_disk_replaced(self, inst: Instance) -> None:
        self._add(
            inst.batch_run,
            f"instance {inst.id}: OS disk {inst.os_disk} ({inst.image_version}) in place",
        )

    def _line_extensions_finished(self, inst: Instance, ok: bool) -> None:
        outcome = "provisioned"
        if not ok:
            failure = inst.provisioning_failure
            outcome = "failed (credential expired, R14)"
            if failure is not None:
                outcome = f"failed: credential {failure[0]} expired at {failure[1]}s (R14)"
        self._add(inst.batch_run, f"instance {inst.id}: extensions {outcome}")

    def _line_application_up(self, inst: Instance) -> None:
        # R7: health as the pre-batch check sees it (a powered-off instance
        # whose probe would answer is not healthy).
        reason = causes.unhealthy_reason(self.ss, inst)
        health = "healthy" if reason is None else f"not healthy: {reason}"
        self._add(inst.batch_run, f"instance {inst.id}: application up ({health})")

    def _line_rollback_started(self, inst: Instance) -> None:
        why = f" ({inst.wait_cause}; section 4 automatic_rollback)" if inst.wait_cause else ""
        self._add(inst.batch_run, f"instance {inst.id}: not healthy in time, rolling back{why}")

    def _line_rollback_restored(self, inst: Instance) -> None:
        self._add(
            inst.batch_run,
            f"instance {inst.id}: rolled back to {inst.os_disk} ({inst.image_version})",
        )


def batch_choice(ss: ScaleSet, run: UpgradeRun, batch: Batch) -> str:
    """D2, R5, R13: why a batch holds these instances (read when it starts)."""
    pending = run.counts[Status.PENDING] + len(batch.instances)
    if batch.update_domain is not None:
        return (
            f"update domain {batch.update_domain}: all its {len(batch.instances)} pending "
            "instances, the lowest domain with any (R13, D2)"
        )
    policy = run.policy  # the run's (TD2 with the switch), else the scale set's
    n, pct = batch.instance_count, policy.max_batch_instance_percent  # type: ignore[attr-defined]
    cap = f"cap {batch.cap} = max(1, floor({n} x {pct}%)) of {n} instances (R5, D1)"
    unhealthy = [i for i in batch.instances if not ss.is_healthy(ss.instances[i])]
    if policy.prioritize_unhealthy_instances and unhealthy:  # type: ignore[attr-defined]
        order = f"unhealthy first ({_ids(unhealthy)}), then the lowest ids"
        return f"{cap}; of {pending} pending, {order} (D2, prioritize_unhealthy_instances)"
    return f"{cap}; the lowest ids of {pending} pending (D2)"


def run_end_cause(ss: ScaleSet, run: UpgradeRun) -> str:
    """Why a run ended, in words: its error code and the decisive numbers."""
    if run.state == Code.COMPLETED:
        return ": no instance of its scope pending (D7a)"
    if run.state == Code.CANCELLED:
        where = "at the end of its batch" if run.batches and run.batches[-1].end == run.end else ""
        where = where or "with no batch in flight"
        if run.cancel_requested:
            return f": cancel asked at {run.cancel_asked_at}s, ended {where} (D7)"
        return f": automatic upgrades turned off at {run.opted_out_at}s, ended {where} (D7)"
    if run.error is None:
        return ""
    code, message = run.error
    if code in (ErrorCode.BEFORE_ROLLING_UPGRADE, ErrorCode.IN_ROLLING_UPGRADE) and run.checks:
        return f": {code}: pre-batch check {causes.check_text(run.checks[-1])} (R4, R8, D1)"
    if code == ErrorCode.PROVISIONING and run.batches:
        outcomes = run.batches[-1].outcomes.values()
        why = {o.cause.removeprefix("extensions failed: "): 0 for o in outcomes if o.cause}
        return f": {code}: {message}: {'; '.join(why) or 'R14'}, so no further batch (D6)"
    if code == ErrorCode.UPGRADED_UNHEALTHY:
        return f": {code}: {causes.upgraded_limit_text(ss, run)}"
    return f": {code}: {message}"


def format_timeline(entries: list[Entry], result: Result) -> str:
    """The readable timeline: one line per change, with the run's progress
    (successful/failed/in progress/pending), then the final history."""
    lines = []
    # Violations at their time too: after the last line at or before it.
    due = sorted(result.violations, key=lambda v: v.at)
    k = 0
    for index, (at, message, _run, progress) in enumerate(entries):
        counts = ""
        if progress is not None:
            ok, failed, in_progress, pending = progress
            counts = f"  [ok {ok}, failed {failed}, in progress {in_progress}, pending {pending}]"
        lines.append(f"{at:>8}s  {message}{counts}")
        following = entries[index + 1][0] if index + 1 < len(entries) else None
        while k < len(due) and (following is None or due[k].at < following):
            lines.append(_violation_line(due[k]))
            k += 1
    lines += [_violation_line(v) for v in due[k:]]
    for warning in result.warnings:
        lines.append(causes.printable(f"warning {warning.rule}: {warning.message}"))
    for v in result.violations:
        lines.append(causes.printable(f"VIOLATION {v.invariant} at {v.at}s: {v.message}"))
    lines.append("")
    lines.append(f"osUpgradeHistory at {result.time}s ({len(result.history.value)} entries):")
    for entry in result.history.value:
        p = entry.properties
        error = f"  {p.error.code}" if p.error is not None else ""
        prog = p.progress
        target = p.targetImageReference
        version = (
            target.exactVersion if isinstance(target, GalleryImageReference) else target.version
        )
        lines.append(
            f"  {p.runningStatus.code:<14} {p.startedBy:<8} {version:<20} "
            f"{p.runningStatus.startTime} .. {p.runningStatus.endTime or '-'}  "
            f"ok {prog.successfulInstanceCount}, failed {prog.failedInstanceCount}, "
            f"in progress {prog.inProgressInstanceCount}, "
            f"pending {prog.pendingInstanceCount}{error}"
        )
    return "\n".join(lines) + "\n"


def _violation_line(v: Any) -> str:
    return causes.printable(f"{v.at:>8}s  VIOLATION {v.invariant}: {v.message}")
