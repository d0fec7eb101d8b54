"""Section 9.16 and 9.17 of the trace format, with the switch on: the bounds
the schema cannot express (TV14) and the names of features not modelled yet
(T1). The schema's own additions are in model/trace_schema.py."""

from __future__ import annotations

from typing import Any

from model.jsontext import TraceError
from model.today import gallery_image


def check_today(data: dict[str, Any]) -> None:
    """Section 9.16's bounds that the schema cannot express (TV14): T6's two
    sources of distinct kinds, T15's three-part gallery versions, T16's
    exclusion only for a gallery image, T17's eligibility not before the
    publication."""
    scale_set = data["scale_set"]
    probe = scale_set.get("health_probe")
    if isinstance(probe, list) and len(probe) == 2 and probe[0]["kind"] == probe[1]["kind"]:
        raise TraceError(
            f"/scale_set/health_probe/1/kind: a second source of kind {probe[1]['kind']!r} "
            "(two sources must be of distinct kinds, T6)"
        )
    gallery = gallery_image(scale_set["image"].get("id")) is not None
    if gallery:
        for k, version in enumerate(scale_set.get("catalog", ())):
            _gallery_version(version, f"/scale_set/catalog/{k}")
    for k, ev in enumerate(data["events"]):
        if ev["event"] != "publish_image":
            continue
        if gallery:
            _gallery_version(ev["version"], f"/events/{k}/version")
        if "exclude_from_latest" in ev and "id" not in scale_set["image"]:
            raise TraceError(
                f"/events/{k}/exclude_from_latest: only a gallery image's version can be "
                "excluded from latest (T16)"
            )
        if ev.get("eligible_at", ev["at"]) < ev["at"]:
            raise TraceError(
                f"/events/{k}/eligible_at: {ev['eligible_at']} is before the event's time "
                f"{ev['at']} (T17)"
            )


def _gallery_version(version: str, where: str) -> None:
    if version.count(".") != 2:
        raise TraceError(
            f"{where}: {version!r} is not a gallery image version: exactly three parts, "
            "MajorVersion.MinorVersion.Patch (T15)"
        )


# ----------------------------------------------------------------- 9.17: refused
_RICH_HEALTH = ("health_states", "protocol", "number_of_probes", "grace_period_seconds")
#: T1, 9.17: the names of features not modelled yet, where they sit, and the
#: feature each stands for in the refusal
NOT_MODELLED_FIELDS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {
    (): (
        ("zones", "availability-zone batching"),
        ("maintenance_window", "maintenance-window scheduling"),
        ("quota_instances", "MaxSurge"),
        ("scheduled_events", "OS-image scheduled-event handling"),
        ("automatic_repairs", "automatic instance repair"),
        ("orchestration_mode", "Flexible orchestration"),
        ("os", "Windows patch-setting checking"),
        ("enable_automatic_updates", "Windows patch-setting checking"),
        ("patch_mode", "Windows patch-setting checking"),
    ),
    ("policy",): (
        ("enable_cross_zone_upgrade", "availability-zone batching"),
        ("max_surge", "MaxSurge"),
        ("rollback_failed_instances_on_policy_breach", "rollback on policy breach"),
    ),
    ("automatic_os_upgrade_policy",): (("os_rolling_upgrade_deferral", "upgrade deferral"),),
    ("timings",): (("restart_seconds", "automatic instance repair"),),
    ("health_probe",): tuple((name, "rich health-state monitoring") for name in _RICH_HEALTH),
}
NOT_MODELLED_EVENTS = {
    "approve_upgrade": "upgrade deferral",
    "approve_scheduled_event": "OS-image scheduled-event handling",
    "custom_metrics": "custom-metric ordering",
}


def not_modelled(data: dict) -> str | None:
    """T1, 9.17: the first name of a feature not modelled yet, as the refusal
    ``<place>: <feature> is not modelled yet (SPEC 9.17)``, or None. Any value
    counts (null and false included)."""
    scale_set = data.get("scale_set")
    if isinstance(scale_set, dict):
        for path, names in NOT_MODELLED_FIELDS.items():
            for where, holder in _holders(scale_set, path):
                for name, feature in names:
                    if name in holder:
                        return _refusal(f"/scale_set{where}/{name}", feature)
    events = data.get("events")
    if isinstance(events, list):
        for k, event in enumerate(events):
            kind = event.get("event") if isinstance(event, dict) else None
            if isinstance(kind, str) and kind in NOT_MODELLED_EVENTS:
                return _refusal(f"/events/{k}/event", NOT_MODELLED_EVENTS[event["event"]])
    return None


def _holders(scale_set: dict, path: tuple[str, ...]) -> list[tuple[str, dict]]:
    """The objects at ``path`` (a health probe may be an array of them)."""
    if not path:
        return [("", scale_set)]
    value = scale_set.get(path[0])
    if isinstance(value, dict):
        return [(f"/{path[0]}", value)]
    if isinstance(value, list):
        return [(f"/{path[0]}/{k}", v) for k, v in enumerate(value) if isinstance(v, dict)]
    return []


def _refusal(place: str, feature: str) -> str:
    return f"{place}: {feature} is not modelled yet (SPEC 9.17)"
