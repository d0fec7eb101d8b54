"""Actor: the image publisher (R2, D14).

The publisher releases a new version of the scale set's sku into the
platform image catalog, possibly broken (``app_healthy`` false: applications
on it never report healthy). A publication is a D4 trigger.

With section 9's switch the version may reach the scale set's region later
(T17: ``eligible_at``; a gallery version does not exist for the scale set
before then) or be excluded from latest (T16); a version becoming eligible
is then the D4 trigger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import orchestrator
from model.events import PublishImage, Rejected

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def publish_image(ss: ScaleSet, ev: PublishImage) -> None:
    """R2, D14 (TD5 with the switch: newer than every version so far,
    eligible or not, excluded or not): a publication must be newer than the
    sku's latest version; a newer one may start a Platform run towards it
    (D4). T16, T17: with the switch, a version eligible only later is
    available at once if it is a platform image, and is queued to become
    eligible (the trigger then)."""
    if not ss.catalog.is_newer(ev.version):
        rule = "D14, TD5" if ss.today else "D14"
        raise Rejected(
            f"{rule}: version {ev.version} is not newer than the latest {ss.catalog.latest}"
        )
    if not ss.today:
        ss.catalog.publish(ev.version, ev.app_healthy)
        ss.record("image_published", ev)
        orchestrator.start_platform_run(ss, orchestrator.Trigger("publication"))
        return
    eligible_at = ev.at if ev.eligible_at is None else ev.eligible_at
    now = eligible_at <= ss.now
    gallery = ss.config.image.is_custom
    ss.catalog.publish(
        ev.version,
        ev.app_healthy,
        available=now or not gallery,
        eligible=now,
        excluded=ev.exclude_from_latest,
    )
    ss.record("image_published", ev)
    if now:
        orchestrator.start_platform_run(ss, orchestrator.Trigger("publication"))
    else:
        ss.schedule_eligibility(ev.version, eligible_at)


def version_eligible(ss: ScaleSet, version: str) -> bool:
    """T17: a published version reaches the scale set's region (a gallery
    version is replicated: it is available from now too). It is a D4
    trigger."""
    ss.catalog.make_eligible(version)
    if ss.config.image.is_custom:
        ss.catalog.make_available(version)
    ss.record("version_eligible", version)
    orchestrator.start_platform_run(ss, orchestrator.Trigger("version eligible"))
    return True
