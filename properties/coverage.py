"""Coverage: the scenarios the property campaign must reach (so that no
property holds only because its rule never applied), and the one-line state
that the final, shrunk, example notes after each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from model.run import Code, ErrorCode

if TYPE_CHECKING:
    from properties.observed import World

#: the scenarios the property suite must reach (no vacuous passes)
SCENARIOS: tuple[str, ...] = (
    "run Completed",
    f"run Faulted: {ErrorCode.BEFORE_ROLLING_UPGRADE}",
    f"run Faulted: {ErrorCode.IN_ROLLING_UPGRADE}",
    f"run Faulted: {ErrorCode.UPGRADED_UNHEALTHY}",
    f"run Faulted: {ErrorCode.PROVISIONING}",
    "run Cancelled by opt-out",
    "run Cancelled by cancel",
    "automatic rollback",
    "recovery after a credential failure",
    "publication during a run",
    "Service Fabric run",
    "history at its cap of five",
    "refused event",
)
#: the edges of the spec a campaign must sit on, each seen by the property that states
#: the rule there (``Property.sometimes``), so each means that the rule was
#: checked on its edge; how generation gets there is in the README
BOUNDARIES: tuple[str, ...] = (
    "pre-batch check at exactly the limit",
    "member done exactly at its health deadline",
    "history entry exactly 60 days old",
    "scale-out to 100 instances or one more (V9)",
    "scale-out to 1000 instances or one more (V9)",
    "versions whose parts differ in digit count",
    "event at the same second as an internal step",
    "scale-in during a batch",
    "scale-out during a batch",
    "instance stopped while its probe answers healthy",
    "stale step that changed nothing",
    # section 9 (today's Azure, behind the switch)
    "version eligible at the same second as a step",
    "protection set or cleared during a batch",
    "first-rollout delay ending exactly at a trigger",
    "T18: a trigger held back by the first-rollout delay alone",
    "five or fewer instances with one failure",
    "gallery image id with /versions/",
    "gallery image id without /versions/",
    "T10: a Platform run rolled back by default",
    "T28: a protected instance left out of a run",
    "TW1: a policy Platform runs ignore",
    "TD1: a manual start refused for a TV error",
)
#: edges reported but not required: a Service Fabric scope skips an update
#: domain only when an earlier run left a middle domain upgraded and a lower
#: one rolled back (ids are contiguous and scale-in removes the highest); an
#: instance awaits health again before the deadline of its previous wait (one
#: that ended early) only when a run reaches it within health_wait_seconds of
#: the previous run's wait, with timings that allow it; section 4's
#: upgraded-unhealthy comparison sits on its edge only in a run that goes on
#: after some members failed, with max_unhealthy_upgraded_instance_percent set
#: (the default profile meets it on seeds 1 to 3, ci on seed 0 does not)
RARE_BOUNDARIES: tuple[str, ...] = (
    "Service Fabric scope with a gap",
    "earlier health deadline inside a later wait",
    "upgraded instances failed at exactly the limit",
)
#: reached too, reported, not required
EXTRA_SCENARIOS: tuple[str, ...] = ("quiet run completed (L1)",)

#: R16: the history view's window, in seconds (this module's own copy)
_SIXTY_DAYS = 60 * 86400


class Coverage:
    """The scenarios one example reached, read from the property layer's own
    observations (properties/observed.py) after each step, never from the
    model's bookkeeping; ``reach`` is called once per scenario newly reached."""

    def __init__(self, reach: Callable[[str], None]) -> None:
        self.reach = reach
        self._runs_seen = 0
        self._recoveries = 0

    def observe(self, world: World) -> None:
        """Record the scenarios reached so far (SCENARIOS)."""
        runs = world.runs
        sf = world.service_fabric is not None
        while self._runs_seen < len(runs):
            run = runs[self._runs_seen]
            if any(batch.restored for batch in run.batches):
                self.reach("automatic rollback")
            if sf and run.batches:
                self.reach("Service Fabric run")
            if run.end is None:
                break
            self._runs_seen += 1
            if run.code == Code.COMPLETED:
                self.reach("run Completed")
            elif run.code == Code.FAULTED:
                self.reach(f"run Faulted: {run.error_code}")
            elif run.code == Code.CANCELLED:
                how = "cancel" if run.cancel_asked else "opt-out"
                self.reach(f"run Cancelled by {how}")
        # R16: more than five runs, and the five newest started within 60 days.
        if len(runs) > 5 and runs[-5].start >= world.now - _SIXTY_DAYS:
            self.reach("history at its cap of five")
        if world.recoveries > self._recoveries:
            self._recoveries = world.recoveries
            self.reach("recovery after a credential failure")
