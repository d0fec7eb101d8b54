"""Replay: drive the model from a trace, check the invariants as it goes,
and produce the result document and the readable timeline (SPEC section 7)."""

from __future__ import annotations

import attrs

from model.history import history_view
from model.scaleset import ScaleSet
from model.trace import (
    THIRTY_DAYS,
    BatchView,
    InstanceView,
    Result,
    RunView,
    Trace,
    Violation,
    WarningView,
)


@attrs.define(eq=False)
class Replay:
    """A finished replay: the scale set at the end, its result and timeline."""

    scale_set: ScaleSet
    result: Result
    #: (time, message, run number, progress) for each change, in order
    timeline: list[tuple[int, str, int | None, tuple[int, ...] | None]]

    @property
    def exit_status(self) -> int:
        """Section 7: 0 when no invariant was violated, 1 otherwise."""
        return 1 if self.result.violations else 0


def run_trace(trace: Trace, *, check: bool = True, log: bool = True) -> ScaleSet:
    """Apply the trace's events and internal steps up to its end; returns the
    scale set (with ``checker`` attached when ``check``) at ``final_time``."""
    ss = ScaleSet(trace.scale_set, log=log)
    checker = None
    if check:
        from properties.checker import Checker

        checker = Checker(ss)
    ss.checker = checker
    ss.crash = None
    try:
        final = _play(ss, trace)
    except Exception as exc:  # noqa: BLE001 - the model itself failed: a bug to report
        # Not bad input (that is refused before anything runs): the state at the
        # crash is the result, and the crash is reported as a violation (exit 1).
        ss.crash = Violation(f"crash: {type(exc).__name__}", ss.now, str(exc))
        return ss
    ss.clock.now = final  # later queued steps, if any, are stale and changed nothing
    ss.final_time = final
    if checker is not None:
        checker.finish()  # L1, L2: a run that stopped moving is late at the end too
    return ss


def _play(ss: ScaleSet, trace: Trace) -> int:
    """Apply the events and internal steps; returns the final time."""
    for event in trace.events:
        ss.apply(event)
    last_event = trace.events[-1].at if trace.events else 0
    if trace.until is not None:
        ss.advance(trace.until)
        return trace.until
    # Section 7: the last thing that happens, at most 30 days after the last event.
    cap = last_event + THIRTY_DAYS
    ss.settle(cap)
    if ss.clock.next_time() is not None and not _settled(ss, cap):
        return cap
    return max(last_event, ss.last_activity)


def _settled(ss: ScaleSet, cap: int) -> bool:
    """Section 7 `until`: whether nothing more happens after ``cap`` (the steps
    still queued are stale: a pause of a cancelled run, a health deadline of an
    instance already done). No run active, no deploy in flight, no instance
    mid-operation and, with a probe, no application still coming up."""
    if ss.active_run is not None or ss.deploy is not None:
        return False
    up_after = ss.timings.app_start_seconds
    return all(
        inst.state == "ready"
        and (
            ss.probe is None or inst.app_started_at is None or inst.app_started_at + up_after <= cap
        )
        for inst in ss.instances.values()
    )


def result_of(ss: ScaleSet, violations: list[Violation]) -> Result:
    """The result document of the scale set at its current time."""
    cfg = ss.config
    instances = [
        InstanceView(
            id=inst.id,
            image_version=inst.image_version,
            power_state=inst.power_state,
            provisioning_state=inst.provisioning_state,
            healthy=ss.is_healthy(inst),
            update_domain=inst.update_domain,
            os_disk=inst.os_disk,
            data_disks=list(inst.data_disks),
        )
        for inst in ss.instances.values()
    ]
    runs = [
        RunView(
            started_by=run.started_by,
            target_version=run.target,
            code=run.code,
            error=None if run.error is None else {"code": run.error[0], "message": run.error[1]},
            start=run.start,
            end=run.end,
            batches=[BatchView(list(b.instances), b.start, b.end) for b in run.batches],
            progress=run.progress(),
            rollback={
                "successfullyRolledbackInstanceCount": run.rolled_back,
                "failedRolledbackInstanceCount": run.failed_rollbacks,
            },
        )
        for run in ss.runs
    ]
    return Result(
        time=ss.now,
        instances=instances,
        runs=runs,
        history=history_view(ss.runs, ss.now, cfg.image, cfg.epoch, cfg.location),
        rejected=list(ss.rejected),
        warnings=[WarningView(w.rule, f"{w.field}: {w.message}") for w in ss.warnings],
        violations=violations,
    )


def replay(trace: Trace, *, check: bool = True) -> Replay:
    """Replay a trace: the result document, the timeline, the exit status."""
    ss = run_trace(trace, check=check)
    violations = list(ss.checker.violations) if ss.checker is not None else []
    if ss.crash is not None:
        violations.append(ss.crash)
    return Replay(ss, result_of(ss, violations), list(ss.log or []))


def format_timeline(rep: Replay) -> str:
    """The readable timeline: one line per change, with the run's progress
    (successful/failed/in progress/pending), then the final history."""
    lines = []
    for at, message, _run, progress in rep.timeline:
        counts = ""
        if progress is not None:
            ok, failed, in_progress, pending = progress
            counts = f"  [ok {ok}, failed {failed}, in progress {in_progress}, pending {pending}]"
        lines.append(f"{at:>8}s  {message}{counts}")
    result = rep.result
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
