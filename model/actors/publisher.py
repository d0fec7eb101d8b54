"""Actor: the image publisher (R2, D14).

The publisher releases a new version of the scale set's sku into the
platform image catalog, possibly broken (``app_healthy`` false: applications
on it never report healthy). A publication is a D4 trigger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.actors import orchestrator
from model.events import PublishImage, Rejected

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


def publish_image(ss: ScaleSet, ev: PublishImage) -> None:
    """R2, D14: a publication must be newer than the sku's latest version; a
    newer one may start a Platform run towards it (D4)."""
    if not ss.catalog.is_newer(ev.version):
        raise Rejected(
            f"D14: version {ev.version} is not newer than the latest {ss.catalog.latest}"
        )
    ss.catalog.publish(ev.version, ev.app_healthy)
    ss.record("image_published", ev)
    orchestrator.start_platform_run(ss, orchestrator.Trigger("publication"))
