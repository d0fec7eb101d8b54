"""``vmss-spec explain --history``: a real upgrade history read against the
spec. Each entry (the SDK's ``UpgradeOperationHistoricalStatusInfo``) is
said in words with the rule that decided it (D5, D6, D7, section 4, R4);
what breaks a rule (D11 and I9 on the counts, D5 on the error, I10 and R16
on the order, section 7 on ``endTime``) is a finding naming the rule, the
entry and the field, and the command exits 1. An entry the spec cannot
account for is said to be so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from model.config import HISTORY_DAYS, HISTORY_SIZE, ScaleSetConfig
from model.run import ErrorCode
from model.today import TODAY_API, effective_policy

_CODES = ("RollingForward", "Completed", "Faulted", "Cancelled")
_UNHEALTHY = (ErrorCode.BEFORE_ROLLING_UPGRADE, ErrorCode.IN_ROLLING_UPGRADE)


@attrs.define
class Reading:
    """What was said of a history, and the findings among it."""

    lines: list[str]
    findings: list[str]


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def _policy(config: ScaleSetConfig | None, platform: bool) -> Any:
    if config is None:
        return None
    if config.api_version == TODAY_API:
        return effective_policy(config, platform)
    return config.policy


class _Entry:
    def __init__(self, k: int, info: Any) -> None:
        p = info.properties
        self.k, self.where = k, f"entry {k}"
        status = p.running_status if p is not None else None
        self.code = _value(status.code) if status is not None else None
        self.start = status.start_time if status is not None else None
        self.end = status.end_time if status is not None else None
        progress = p.progress if p is not None else None
        names = ("successful", "failed", "in_progress", "pending")
        self.counts = {
            n: getattr(progress, f"{n}_instance_count", None) if progress is not None else None
            for n in names
        }
        self.error = p.error if p is not None else None
        self.started_by = _value(p.started_by) if p is not None else None
        target = p.target_image_reference if p is not None else None
        self.target = None
        if target is not None:
            self.target = target.exact_version or target.version or target.id
        self.rollback = p.rollback_info if p is not None else None


class _Reader:
    def __init__(self, config: ScaleSetConfig | None) -> None:
        self.config = config
        self.lines: list[str] = []
        self.findings: list[str] = []

    def find(self, rule: str, e: _Entry, field: str, text: str) -> None:
        line = f"finding ({rule}): {e.where}, {field}: {text}"
        self.findings.append(line)
        self.lines.append("  " + line)

    def read(self, entries: list[Any]) -> Reading:
        parsed = [_Entry(k, info) for k, info in enumerate(entries)]
        n = len(parsed)
        self.lines.append(
            f"{n} entr{'y' if n == 1 else 'ies'}, newest first as R16 lists them"
            + (f" (scale set: {self.config.instances} instances)" if self.config else "")
            + "."
        )
        for e in parsed:
            self.entry(e)
        self.order(parsed)
        return Reading(self.lines, self.findings)

    # ------------------------------------------------------------ one entry
    def entry(self, e: _Entry) -> None:
        s, f, ip, p = (e.counts[k] for k in ("successful", "failed", "in_progress", "pending"))
        when = e.start.isoformat() if e.start is not None else "an unknown time"
        who = e.started_by or "unknown"
        self.lines.append(
            f"Entry {e.k}: {e.code or 'no code'} run started by {who} at {when}"
            + (f" towards {e.target}" if e.target else "")
            + (
                f"; {s} successful, {f} failed, {ip} in progress, {p} pending"
                if s is not None
                else ""
            )
            + "."
        )
        if e.code not in _CODES:
            self.lines.append(
                f"  The spec cannot account for it: runningStatus.code {e.code!r} is none of "
                + ", ".join(_CODES)
                + "."
            )
            return
        if who not in ("Platform", "User"):
            self.lines.append(
                f"  The spec cannot account for who started it: startedBy {who!r} "
                "(the spec knows Platform, R2, and User, R12)."
            )
        self.counts_rules(e, s, f, ip, p)
        if not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in (s, f, ip, p)
        ):
            s = f = ip = p = None  # found above; nothing is reckoned from them
        self.times(e)
        getattr(self, f"_{e.code.lower()}")(e, s, f)
        self.rolled_back(e, f)

    def counts_rules(self, e: _Entry, s: Any, f: Any, ip: Any, p: Any) -> None:
        for name, count in e.counts.items():
            if count is None:
                self.find("D11", e, f"progress.{name}InstanceCount", "missing")
            elif not isinstance(count, int) or isinstance(count, bool) or count < 0:
                self.find(
                    "I9", e, f"progress.{name}InstanceCount", f"{count!r} is not a count (>= 0)"
                )
        if None in (s, f, ip, p):
            return
        if e.code != "RollingForward" and ip:
            self.find("I9", e, "progress.inProgressInstanceCount", f"{ip} in a {e.code} run")
        if e.code == "Completed" and p:
            self.find("I9", e, "progress.pendingInstanceCount", f"{p} in a Completed run")
        if self.config is not None and s + f + ip + p > self.config.instances:
            self.lines.append(
                f"  Its scope was {s + f + ip + p} instances (D11), more than the "
                f"{self.config.instances} the scale set has now: it was larger then."
            )

    def times(self, e: _Entry) -> None:
        if e.code == "RollingForward" and e.end is not None:
            self.find("section 7", e, "runningStatus.endTime", "set on a RollingForward run")
        if e.code != "RollingForward" and e.end is None:
            self.find("section 7", e, "runningStatus.endTime", f"null on a {e.code} run")
        if e.start is not None and e.end is not None and e.end < e.start:
            self.find("R16", e, "runningStatus.endTime", "before its startTime")

    def _error_code(self, e: _Entry) -> str | None:
        return e.error.code if e.error is not None else None

    def _rollingforward(self, e: _Entry, s: Any, f: Any) -> None:
        self.lines.append("  It is still going: at most one run rolls forward at a time (I10).")

    def _completed(self, e: _Entry, s: Any, f: Any) -> None:
        if self._error_code(e) is not None:
            self.find("D5", e, "error", f"{self._error_code(e)} on a Completed run")
        if e.counts["pending"]:
            self.lines.append("  It says Completed with instances still pending (I9 forbids it).")
            return
        why = "no pending instance was left at the end of a batch (D7a)"
        if f:
            why += f"; {f} failed without reaching a limit that stops the run"
        self.lines.append(f"  It completed: {why}.")

    def _cancelled(self, e: _Entry, s: Any, f: Any) -> None:
        if self._error_code(e) is not None:
            self.find("D5", e, "error", f"{self._error_code(e)}: a Cancelled run has error null")
        self.lines.append(
            "  It was cancelled (D7): a user cancel, or automatic upgrades turned off during "
            "a Platform run; the batch in flight finished first."
        )

    def _faulted(self, e: _Entry, s: Any, f: Any) -> None:
        code = self._error_code(e)
        if code is None:
            self.find("D5", e, "error", "null on a Faulted run (D5 and D6 give it a code)")
            return
        policy = _policy(self.config, e.started_by == "Platform")
        if code in _UNHEALTHY:
            before = code == ErrorCode.BEFORE_ROLLING_UPGRADE
            self.lines.append(
                "  R4 and D5 stopped it: the pre-batch check "
                + ("before the first batch" if before else "before a later batch")
                + " found more instances unhealthy than the limit."
            )
            if before and s is not None and (s or f):
                self.find("D5", e, "progress", f"{s + f} done before the first batch")
            if policy is not None:
                n = self.config.instances
                limit = n * policy.max_unhealthy_instance_percent // 100
                self.lines.append(
                    f"  With {n} instances, the limit is floor({n} x "
                    f"{policy.max_unhealthy_instance_percent} / 100) = {limit}: at least "
                    f"{limit + 1} were unhealthy at that check."
                )
        elif code == ErrorCode.UPGRADED_UNHEALTHY:
            self.lines.append(
                "  The upgraded-unhealthy check (section 4, D7a) stopped it at the end of a "
                "batch: too many of the upgraded instances failed."
            )
            pct = policy.max_unhealthy_upgraded_instance_percent if policy else None
            if pct is not None and s is not None:
                limit = (s + f) * pct // 100
                self.lines.append(
                    f"  {f} failed of {s + f} done; floor({s + f} x {pct} / 100) = {limit}."
                )
                if not f > limit:
                    self.find(
                        "section 4",
                        e,
                        "progress.failedInstanceCount",
                        f"{f} is not more than {limit}: the check would not stop the run",
                    )
        elif code == ErrorCode.PROVISIONING:
            self.lines.append(
                "  D6 stopped it: an extension failed to provision in a batch, which ends the "
                "run at that batch's end whatever the percentages (often an expired "
                "credential, R14)."
            )
            if f is not None and f < 1:
                self.find("D6", e, "progress.failedInstanceCount", "0, yet D6 needs a failure")
        else:
            self.lines.append(
                f"  The spec cannot account for its error {code!r}: D5 and D6 name "
                "every error the model gives (SPEC 9.17 lists some it leaves out)."
            )

    def rolled_back(self, e: _Entry, f: Any) -> None:
        if e.rollback is None:
            return
        back = e.rollback.successfully_rolledback_instance_count
        if isinstance(back, int) and back:
            self.lines.append(
                f"  {back} instance(s) got their previous OS disk back (section 4 automatic "
                "rollback; T10 today: on by default in Platform runs)."
            )
            if isinstance(f, int) and back > f:
                self.find(
                    "D11",
                    e,
                    "rollbackInfo.successfullyRolledbackInstanceCount",
                    f"{back} rolled back, more than the {f} failed (a rolled-back member "
                    "counts as failed)",
                )

    # ------------------------------------------------------------ the order
    def order(self, parsed: list[_Entry]) -> None:
        if len(parsed) > HISTORY_SIZE:
            self.findings.append(
                f"finding (R16): the history: {len(parsed)} entries, at most {HISTORY_SIZE}"
            )
            self.lines.append(self.findings[-1])
        going = [e for e in parsed if e.code == "RollingForward"]
        if len(going) > 1:
            self.findings.append(
                f"finding (I10): entries {', '.join(str(e.k) for e in going)}: "
                "runningStatus.code: more than one run RollingForward"
            )
            self.lines.append(self.findings[-1])
        timed = [e for e in parsed if e.start is not None]
        for a, b in zip(timed, timed[1:], strict=False):
            if b.start > a.start:
                self.findings.append(
                    f"finding (R16): entry {b.k}, runningStatus.startTime: later than entry "
                    f"{a.k}'s, but R16 lists the newest first"
                )
                self.lines.append(self.findings[-1])
            elif b.end is None or b.end > a.start:
                ends = b.end.isoformat() if b.end is not None else "never"
                self.findings.append(
                    f"finding (I10): entries {b.k} and {a.k}, runningStatus: both active at "
                    f"{a.start.isoformat()} (entry {b.k} ends {ends})"
                )
                self.lines.append(self.findings[-1])
        if timed:
            newest = max(e.start for e in timed)
            for e in timed:
                if newest - e.start > dt.timedelta(days=HISTORY_DAYS):
                    self.findings.append(
                        f"finding (R16): entry {e.k}, runningStatus.startTime: more than "
                        f"{HISTORY_DAYS} days before the newest entry"
                    )
                    self.lines.append(self.findings[-1])


def read_history(entries: list[Any], config: ScaleSetConfig | None = None) -> Reading:
    """Say what each entry of a history means, and what in it breaks a rule."""
    return _Reader(config).read(entries)
