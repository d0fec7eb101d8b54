"""What the spec says the answer is: the property layer's own statement of
every formula a rule gives, written from SPEC.md and never borrowed from the
model (tests/test_independence.py fails if a property module imports a
function of model/ that computes one of these answers).

Each function is the independent copy of a number or choice the model also
computes: versions (R17), caps and limits (D1), the configuration checks
(V1-V10), pause lengths (section 4), the history's selection (R16) and
timestamps (section 1, D13).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

#: R9: the supported images, (publisher, offer, sku), as SPEC section 2 lists them
SUPPORTED = {
    ("Canonical", "UbuntuServer", "16.04-LTS"),
    ("Canonical", "UbuntuServer", "18.04-LTS"),
    ("OpenLogic", "CentOS", "7.5"),
    ("CoreOS", "CoreOS", "Stable"),
    ("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-Smalldisk"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-with-Containers"),
}
SIXTY_DAYS = 60 * 86400  # R16
HISTORY_ENTRIES = 5  # R16


# ---------------------------------------------------------------- R17 versions
@lru_cache(maxsize=1024)
def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def is_newer(a: str, b: str) -> bool:
    """R17: ``a`` is newer than ``b``, comparing dotted numbers part by part (a
    version that runs out of parts first, all else equal, is the older)."""
    return a != b and _parts(a) > _parts(b)


def newest(versions: Iterable[str]) -> str:
    """R17: the version ``latest`` resolves to."""
    best: str | None = None
    for version in versions:
        if best is None or is_newer(version, best):
            best = version
    assert best is not None, "no version"
    return best


# ---------------------------------------------------------------- D1 caps and limits
def batch_cap(n: int, pct: int) -> int:
    """R5, D1: cap(N) = max(1, floor(N x pct / 100))."""
    return max(1, (n * pct) // 100)


def unhealthy_limit(n: int, pct: int) -> int:
    """R4, D1: the limit is floor(N x pct / 100); more than it stops a run."""
    return (n * pct) // 100


def upgraded_limit(done: int, pct: int) -> int:
    """Section 4: floor((successful + failed) x pct / 100)."""
    return (done * pct) // 100


# ---------------------------------------------------------------- section 4 pause
_ISO = re.compile(
    r"P(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?",
)


def pause_seconds(text: str) -> int | None:
    """Section 4: pause_time_between_batches in seconds (weeks, days, hours,
    minutes, seconds), or None when it is not such a duration (V10)."""
    match = _ISO.fullmatch(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        return None
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


# ---------------------------------------------------------------- V1-V10
def v_errors(config: Any) -> list[str]:
    """V1-V6 (errors, D16): the rules the configuration breaks, in V order."""
    found = []
    image = config.image
    if image.id is not None:
        found.append("V3")
    else:
        if (image.publisher, image.offer, image.sku) not in SUPPORTED:
            found.append("V1")
        if image.version != "latest":
            found.append("V2")
    if config.disk_encryption:
        found.append("V4")
    probe = config.health_probe
    standard = probe is not None and (
        probe.kind == "application_health" or probe.lb_sku == "Standard"
    )
    if not config.single_placement_group and not standard:
        found.append("V5")
    sf = config.service_fabric
    if sf is not None and sf.durability not in ("Silver", "Gold"):
        found.append("V6")
    return sorted(found, key=lambda rule: int(rule[1:]))


#: Section 3: "refused with a message that names the field and the rule": the
#: field of section 7's scale_set each V check is about
V_FIELDS = {
    "V1": "image.sku",
    "V2": "image.version",
    "V3": "image.id",
    "V4": "disk_encryption",
    "V5": "health_probe",
    "V6": "service_fabric.durability",
    "V7": "health_probe.interval_seconds",
    "V8": "health_probe",
}


def names_rules_and_fields(reason: str, rules: list[str]) -> bool:
    """Section 3, D16: a refusal names each standing rule with its field
    (``V4: disk_encryption: ...; V5: health_probe: ...``), in V order, and
    no other rule."""
    parts = [part.strip().split(":", 2) for part in reason.split(";")]
    named = [(p[0].strip(), p[1].strip()) for p in parts if len(p) == 3]
    return len(named) == len(parts) and named == [(r, V_FIELDS[r]) for r in rules]


def v_warnings(config: Any) -> list[str]:
    """V7, V8 (warnings): a probe interval of 120 s or more; no probe outside
    Service Fabric."""
    found = []
    probe = config.health_probe
    if probe is not None and probe.interval_seconds >= 120:
        found.append("V7")
    if probe is None and config.service_fabric is None:
        found.append("V8")
    return found


def v9_breaks(count: int, single_placement_group: bool) -> bool:
    """V9: 0 to 1000 instances; more than 100 need multiple placement groups."""
    return not 0 <= count <= 1000 or (single_placement_group and count > 100)


def v10_breaks(policy: dict[str, Any]) -> list[str]:
    """V10: the policy fields out of range (batch and unhealthy percents 5 to
    100, upgraded-unhealthy 0 to 100, the pause a non-negative duration)."""
    bad = []
    for name in ("max_batch_instance_percent", "max_unhealthy_instance_percent"):
        if name in policy and not 5 <= policy[name] <= 100:
            bad.append(name)
    upgraded = policy.get("max_unhealthy_upgraded_instance_percent")
    if upgraded is not None and not 0 <= upgraded <= 100:
        bad.append("max_unhealthy_upgraded_instance_percent")
    pause = policy.get("pause_time_between_batches")
    if pause is not None and pause_seconds(pause) is None:
        bad.append("pause_time_between_batches")
    return bad


# ---------------------------------------------------------------- R16, D13
def history_selection(runs: list[tuple[int, int]], now: int) -> list[int]:
    """R16: of the runs (number, start), the numbers the view lists: started
    within 60 days (start >= now - 60 days), newest first (the later-created
    first when two start together), at most five."""
    recent = [(start, number) for number, start in runs if start >= now - SIXTY_DAYS]
    recent.sort(reverse=True)
    return [number for _, number in recent[:HISTORY_ENTRIES]]


@lru_cache(maxsize=4096)
def timestamp(epoch: str, seconds: int | None) -> str | None:
    """Section 1: the epoch plus the offset, ISO 8601 (None stays None)."""
    if seconds is None:
        return None
    return (datetime.fromisoformat(epoch) + timedelta(seconds=seconds)).isoformat()
