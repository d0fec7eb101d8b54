"""The readable timeline of a replay: one line per change, with the progress
of the run concerned (SPEC section 7, ``vmss-spec replay``).

A :class:`Timeline` subscribes to the facts a scale set records
(``ScaleSet.subscribe``) and turns each into a line at the time it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from model.run import Status

if TYPE_CHECKING:
    from model.instance import Instance
    from model.result import Result
    from model.run import UpgradeRun
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
        self.entries.append((self.ss.now, message, run.number if run else None, progress))

    # ------------------------------------------------------------ events
    def _line_rejected(self, rejection: Any) -> None:
        self._add(None, f"{rejection.event} refused: {rejection.reason}")

    def _line_image_published(self, ev: Any) -> None:
        self._add(None, f"image {ev.version} published{'' if ev.app_healthy else ' (broken)'}")

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
        self._add(None, f"model deploy {'succeeded' if deploy.succeeded else 'failed'}")

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

    def _line_batch_started(self, run: UpgradeRun, batch: Any) -> None:
        if batch.update_domain is not None:
            why = f" (update domain {batch.update_domain})"
        else:
            why = f" (cap {batch.cap} of {batch.instance_count})"
        self._add(
            run,
            f"run {run.number} batch {batch.number} started: instances "
            f"{_ids(batch.instances)}{why}",
        )

    def _line_member_done(self, run: UpgradeRun, inst: Instance) -> None:
        batch = run.batches[-1]
        status = batch.outcomes[inst.id].status
        self._add(run, f"instance {inst.id}: {status} in batch {batch.number}")

    def _line_batch_ended(self, run: UpgradeRun, batch: Any) -> None:
        self._add(run, f"run {run.number} batch {batch.number} ended")

    def _line_run_ended(self, run: UpgradeRun) -> None:
        error = f": {run.error[0]}" if run.error else ""
        self._add(run, f"run {run.number} {run.state}{error}")

    # ------------------------------------------------------------ instances
    def _line_disk_replaced(self, inst: Instance) -> None:
        self._add(
            inst.batch_run,
            f"instance {inst.id}: OS disk {inst.os_disk} ({inst.image_version}) in place",
        )

    def _line_extensions_finished(self, inst: Instance, ok: bool) -> None:
        outcome = "provisioned" if ok else "failed (credential expired)"
        self._add(inst.batch_run, f"instance {inst.id}: extensions {outcome}")

    def _line_application_up(self, inst: Instance) -> None:
        health = "healthy" if self.ss.probe_ok(inst) else "not healthy"
        self._add(inst.batch_run, f"instance {inst.id}: application up ({health})")

    def _line_rollback_started(self, inst: Instance) -> None:
        self._add(inst.batch_run, f"instance {inst.id}: not healthy in time, rolling back")

    def _line_rollback_restored(self, inst: Instance) -> None:
        self._add(
            inst.batch_run,
            f"instance {inst.id}: rolled back to {inst.os_disk} ({inst.image_version})",
        )


def format_timeline(entries: list[Entry], result: Result) -> str:
    """The readable timeline: one line per change, with the run's progress
    (successful/failed/in progress/pending), then the final history."""
    lines = []
    for at, message, _run, progress in entries:
        counts = ""
        if progress is not None:
            ok, failed, in_progress, pending = progress
            counts = f"  [ok {ok}, failed {failed}, in progress {in_progress}, pending {pending}]"
        lines.append(f"{at:>8}s  {message}{counts}")
    for warning in result.warnings:
        lines.append(f"warning {warning.rule}: {warning.message}")
    for v in result.violations:
        lines.append(f"VIOLATION {v.invariant} at {v.at}s: {v.message}")
    lines.append("")
    lines.append(f"osUpgradeHistory at {result.time}s ({len(result.history.value)} entries):")
    for entry in result.history.value:
        p = entry.properties
        error = f"  {p.error.code}" if p.error is not None else ""
        prog = p.progress
        lines.append(
            f"  {p.runningStatus.code:<14} {p.startedBy:<8} {p.targetImageReference.version:<20} "
            f"{p.runningStatus.startTime} .. {p.runningStatus.endTime or '-'}  "
            f"ok {prog.successfulInstanceCount}, failed {prog.failedInstanceCount}, "
            f"in progress {prog.inProgressInstanceCount}, "
            f"pending {prog.pendingInstanceCount}{error}"
        )
    return "\n".join(lines) + "\n"
