"""Causes in words: why an instance is unhealthy as R7 sees it, what a pre-batch
check found, and how names are printed safely.

Text only: nothing here decides anything. The orchestrator records what these
functions say at the moment it decides (a pre-batch check's unhealthy
instances, why a batch member failed), and the timeline (model/timeline.py),
the explanation (model/explain.py) and the HTML page read them back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from model.instance import Power, Provisioning
from model.run import Status

if TYPE_CHECKING:
    from model.instance import Instance
    from model.run import Check, UpgradeRun
    from model.scaleset import ScaleSet

#: R7: an operation in flight, in words
BUSY_WORDS = {
    "creating": "still being created",
    "reimaging": "OS disk being replaced",
    "provisioning_extensions": "extensions provisioning",
    "rolling_back": "rolling back",
    "updating_model": "model update in flight",
}

#: at most this many ids of one cause are listed (then "and N more")
MOST_IDS = 10

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional
# overrides and isolates, and lone surrogates: never printed raw.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character, line separator, bidirectional
    override and lone surrogate written as an escape (``\\n`` -> ``\\x0a``)."""
    return _UNPRINTABLE.sub(_escape, text)


def ids_text(ids: Iterable[int], most: int = MOST_IDS) -> str:
    """``0, 1, 2`` or, past ``most``, ``0, 1, ... and 7 more``."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:most])
    return shown if len(ids) <= most else f"{shown} and {len(ids) - most} more"


def unhealthy_reason(ss: ScaleSet, inst: Instance) -> str | None:
    """R7, "Health, precisely": why ``inst`` is not healthy now, in words, in
    the predicate's order; None when it is healthy."""
    if inst.power_state != Power.RUNNING:
        if inst.down_since is None:
            return "down"
        kind = f" ({inst.down_kind} outage)" if inst.down_kind else ""
        return f"down since {inst.down_since}s{kind}"
    if inst.provisioning_state == Provisioning.FAILED:
        failure = inst.provisioning_failure
        if failure is None:
            return "provisioning failed"
        return f"provisioning failed: credential {failure[0]} expired at {failure[1]}s"
    if inst.busy:
        return BUSY_WORDS.get(inst.state, inst.state)
    if inst.provisioning_state != Provisioning.SUCCEEDED:
        return f"provisioning {inst.provisioning_state}"
    if ss.probe is None:
        return None
    if inst.app_health is not None:
        if inst.app_health:
            return None
        at = "" if inst.app_health_at is None else f" (reported at {inst.app_health_at}s)"
        return f"probe unhealthy{at}"
    if inst.app_started_at is None:
        return "application not started"
    if ss.catalog.is_broken(inst.image_version):
        return f"on a broken image {inst.image_version}"
    up = inst.app_started_at + ss.timings.app_start_seconds
    if ss.now < up:
        return f"application not up yet (up at {up}s)"
    return None


def unhealthy_instances(ss: ScaleSet) -> tuple[tuple[int, str], ...]:
    """R4, R7: every unhealthy instance now, ascending id, with why."""
    found = []
    for i in sorted(ss.instances):
        reason = unhealthy_reason(ss, ss.instances[i])
        if reason is not None:
            found.append((i, reason))
    return tuple(found)


def grouped(reasons: Iterable[tuple[int, str]], most: int = MOST_IDS) -> str:
    """``7, 8, 9 down since 400s; 3 probe unhealthy``: ids of the same cause
    together, causes in the order of their first id."""
    groups: dict[str, list[int]] = {}
    for i, reason in reasons:
        groups.setdefault(reason, []).append(i)
    return "; ".join(f"{ids_text(ids, most)} {reason}" for reason, ids in groups.items())


def check_text(check: Check) -> str:
    """R4, R8, D1: ``3 of 10 unhealthy > limit 2 = floor(10 x 20%)``."""
    n, pct = check.instance_count, check.percent
    sign = ">" if check.unhealthy > check.limit else "<="
    return f"{check.unhealthy} of {n} unhealthy {sign} limit {check.limit} = floor({n} x {pct}%)"


def check_detail(check: Check) -> str:
    """The check in words with its rules, then which instances were unhealthy."""
    text = f"{check_text(check)} (R4, R8, D1)"
    if check.unhealthy_ids:
        text += f"; unhealthy: {grouped(check.unhealthy_ids)}"
    return text


def upgraded_limit_text(ss: ScaleSet, run: UpgradeRun) -> str:
    """Section 4, D7a: the upgraded-unhealthy comparison a run faulted on, with
    its numbers and formula."""
    failed = run.counts[Status.FAILED]
    done = failed + run.counts[Status.SUCCESSFUL]
    pct = run.policy.max_unhealthy_upgraded_instance_percent or 0  # type: ignore[attr-defined]
    rule = "section 4 max_unhealthy_upgraded_instance_percent, D7a"
    if ss.today:
        rule = "T11: on at 20% by default today, D7a"
    return (
        f"{failed} of {done} upgraded instances failed > limit {done * pct // 100} = "
        f"floor({done} x {pct}%) ({rule})"
    )


def sentence(text: str) -> str:
    """``text`` with its first letter upper case."""
    return text[:1].upper() + text[1:]
