"""What happened to my upgrade, and why: one paragraph per run (``vmss-spec
explain``), from what the scale set recorded.

``explain(ss)`` answers the questions people ask about automatic OS upgrades:
how a run was triggered (D4, R12), its batches (D2, R5, R13), how long it took
or how long it may still take, and for a run that stopped the decisive check
with its numbers and the instances and events behind it (R4, R8, D1, D5, D6,
D7), with the REST API's timestamps (D13: the end is ``endTime``). Then the
triggers that started no run (D4) and the refusals. Text only;
nothing here changes the scale set.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from model import causes
from model.history import timestamp
from model.run import Code, ErrorCode, Status

if TYPE_CHECKING:
    from model.run import UpgradeRun
    from model.scaleset import ScaleSet

#: at most this many batches are listed one by one
MOST_BATCHES = 8


def _trigger(run: UpgradeRun) -> str:
    words = {
        "publication": f"the publication of {run.target} (R2, D4)",
        "opt-in": "opting in to automatic upgrades (D4)",
        "model deploy": "the successful end of a model deploy (R15, D4)",
        "manual start": "a manual start (R12)",
        "version eligible": f"{run.target} becoming eligible in the scale set's region (T17, D4)",
        "first-rollout delay": "the end of the first-rollout delay (T18, D4)",
    }
    if run.trigger.startswith("after run "):
        return f"the Completed end of run {run.trigger.removeprefix('after run ')} (D4)"
    return words.get(run.trigger, run.trigger or "?")


def _batches(run: UpgradeRun) -> str:
    if not run.batches:
        return "No batch started."
    parts = []
    for b in run.batches[:MOST_BATCHES]:
        end = f"{b.end}s" if b.end is not None else "in flight"
        parts.append(f"batch {b.number} ({causes.ids_text(b.instances, 5)}) {b.start}s-{end}")
    more = len(run.batches) - MOST_BATCHES
    tail = f" and {more} more" if more > 0 else ""
    count = len(run.batches)
    return f"{count} batch{'es' if count != 1 else ''}: {', '.join(parts)}{tail}."


def _counts(run: UpgradeRun) -> str:
    c = run.counts
    return (
        f"{c[Status.SUCCESSFUL]} upgraded, {c[Status.FAILED]} failed, "
        f"{c[Status.PENDING]} pending of {len(run.scope)} in scope"
    )


def _failed_members(run: UpgradeRun) -> str:
    reasons = [
        (i, o.cause or o.status)
        for b in run.batches
        for i, o in sorted(b.outcomes.items())
        if o.status == Status.FAILED
    ]
    return causes.grouped(reasons) if reasons else ""


def _stopped(ss: ScaleSet, run: UpgradeRun) -> str:
    """Why a run that did not complete stopped: the decisive check."""
    if run.state == Code.CANCELLED:
        if run.cancel_requested:
            return f"It was cancelled: a cancel was asked at {run.cancel_asked_at}s (D7)."
        return (
            f"It was cancelled: automatic upgrades were turned off at {run.opted_out_at}s "
            "(D7; a User run would have gone on)."
        )
    assert run.error is not None
    code, message = run.error
    if code in (ErrorCode.BEFORE_ROLLING_UPGRADE, ErrorCode.IN_ROLLING_UPGRADE):
        check = run.checks[-1]
        when = "before its first batch" if not run.batches else "after its last batch"
        text = (
            f"It stopped at the pre-batch check at {check.at}s, {when}: "
            f"{causes.check_text(check)} (R4, R8, D1, D5)"
        )
        if check.unhealthy_ids:
            text += f". Unhealthy then: {causes.grouped(check.unhealthy_ids)}"
        return text + "."
    if code == ErrorCode.PROVISIONING:
        return (
            f"It stopped because {message}: {_failed_members(run)}; no further batch "
            "starts (D6). Regenerate the credential and deploy the model to recover (R15)."
        )
    return (
        f"It stopped after batch {len(run.batches)}: {causes.upgraded_limit_text(ss, run)}. "
        f"Failed: {_failed_members(run)}."
    )


def _remaining(ss: ScaleSet, run: UpgradeRun) -> str:
    """How long an active run may still take if every instance comes up healthy."""
    pending = run.counts[Status.PENDING] + run.counts[Status.IN_PROGRESS]
    t = ss.timings
    per_batch = t.os_disk_seconds + t.extension_seconds
    if ss.probe is not None:
        per_batch += t.app_start_seconds
    policy = run.policy  # the run's (TD2 with the switch), else the scale set's
    cap = max(1, len(ss.instances) * policy.max_batch_instance_percent // 100)  # type: ignore[attr-defined]
    batches = math.ceil(pending / cap) if ss.service_fabric is None else None
    if batches is None:
        return f"It is still rolling forward at {ss.now}s ({_counts(run)})."
    pause = policy.pause_seconds  # type: ignore[attr-defined]
    seconds = batches * per_batch + max(0, batches - 1) * pause
    return (
        f"It is still rolling forward at {ss.now}s ({_counts(run)}); if every instance comes "
        f"up healthy, about {batches} more batch{'es' if batches != 1 else ''} of at most "
        f"{cap}, some {seconds}s (each {per_batch}s, pauses of {pause}s)."
    )


def _today(ss: ScaleSet, run: UpgradeRun) -> str:
    """Section 9: which policy the run reads and whether it rolls back."""
    policy = run.policy
    which = (
        "the default rolling upgrade policy"
        if run.started_by == "Platform"
        and not ss.config.automatic_os_upgrade_policy.use_rolling_upgrade_policy
        else "the scale set's rolling upgrade policy"
    )
    rollback = (
        "automatic rollback on (T10)"
        if run.rolls_back
        else "no automatic rollback (T10: "
        + ("a User run never rolls back)" if run.started_by != "Platform" else "disabled)")
    )
    protected = sorted(i for i, inst in ss.instances.items() if inst.protect_from_scale_set_actions)
    shield = (
        f"; instances {causes.ids_text(protected, 5)} are protected from scale set actions "
        "now (T28, TD12: left out of a run from the moment they are)"
    )
    return (
        f"It reads {which} (TD2: batches of {policy.max_batch_instance_percent}%, "  # type: ignore[attr-defined]
        f"upgraded-unhealthy stop at {policy.max_unhealthy_upgraded_instance_percent}%, T11), "  # type: ignore[attr-defined]
        f"{rollback}{shield if protected else ''}."
    )


def explain_run(ss: ScaleSet, run: UpgradeRun) -> str:
    """One paragraph: trigger, batches, duration, and why it ended."""
    epoch = ss.config.epoch
    head = (
        f"Run {run.number} ({run.started_by}) started at {run.start}s "
        f"({timestamp(epoch, run.start)}) by {_trigger(run)}, "
        f"towards {run.target} with {len(run.scope)} instances in scope."
    )
    parts = [head, _today(ss, run), _batches(run)] if ss.today else [head, _batches(run)]
    if run.active:
        parts.append(_remaining(ss, run))
    else:
        took = (
            f"It ended {run.state} at {run.end}s (endTime {timestamp(epoch, run.end)}, D13) "
            f"after {run.end - run.start}s ({_counts(run)})"
        )
        if run.error is not None:
            took += f" with {run.error[0]}"
        parts.append(took + ".")
        if run.state == Code.COMPLETED:
            failed = _failed_members(run)
            if failed:
                parts.append(f"Failed along the way: {failed}.")
        else:
            parts.append(_stopped(ss, run))
    return " ".join(parts)


def explain(ss: ScaleSet) -> str:
    """What happened to the scale set's upgrades and why: one paragraph per
    run, then the triggers that started no run and the refusals."""
    paragraphs = [explain_run(ss, run) for run in ss.runs]
    if not ss.runs:
        state = "on" if ss.auto_enabled else "off"
        paragraphs.append(
            f"No upgrade run started by {ss.now}s (automatic OS upgrades are {state})."
        )
    # A Completed run with nothing newer after it is the ordinary case: not listed.
    lines = [
        f"{at}s ({trigger}): {why}"
        for at, trigger, why in ss.not_started
        if not (trigger.startswith("after run ") and why.startswith("no version newer"))
    ]
    if lines:
        paragraphs.append("Triggers that started no run (D4): " + "; ".join(lines) + ".")
    if ss.rejected:
        lines = [f"{r.at}s {r.event}: {r.reason}" for r in ss.rejected]
        paragraphs.append("Refused: " + "; ".join(lines) + ".")
    return "\n\n".join(causes.printable(p) for p in paragraphs) + "\n"
