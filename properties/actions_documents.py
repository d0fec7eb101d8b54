"""The property machine's action that hands the loader a document (V9, V10,
D16): a trace of the machine's scale set with its count and policy on the
edges of V9 and V10 (properties/actions.py lists it with the others)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.trace import Trace, trace_to_dict
from properties.defaults import without_defaults

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

if TYPE_CHECKING:
    from properties.machine import UpgradeMachine


#: section 4 and V9/V10's edges: each comparison at, just inside and just outside
_COUNTS = (0, 1, 100, 101, 1000, 1001)
_PERCENTS = (4, 5, 20, 100, 101)
_UPGRADED = (-1, 0, 20, 100, 101)
_PAUSES = ("PT0S", "PT1S", "P1DT1H", "-PT1S", "PT", "5 minutes")


def submit_trace(m: UpgradeMachine, n: int) -> None:
    """V9, V10, D16: hand the loader a trace of this scale set whose count and
    policy sit on V9's and V10's edges (0, 100, 101, 1000, 1001 instances;
    percents 4, 5, 100, 101; upgraded -1, 0, 100, 101; pauses well formed
    and not); the property says whether it must be refused and for what.
    The model's own state does not change."""
    data = trace_to_dict(Trace(scale_set=m.config, events=()))
    data["scale_set"] = scale_set = without_defaults(data["scale_set"])  # as users write them
    policy = scale_set.setdefault("policy", {})
    digits = []
    for size in (len(_COUNTS), 2, len(_PERCENTS), len(_PERCENTS), len(_UPGRADED), len(_PAUSES), 8):
        digits.append(n % size)
        n //= size
    count, spg, batch, unhealthy, upgraded, pause, which = digits
    # Mostly one thing at an edge at a time (so a refusal names one field).
    if which & 1 or which == 0:
        scale_set["instances"] = _COUNTS[count]
        scale_set["single_placement_group"] = not spg
    if which & 2:
        policy["max_batch_instance_percent"] = _PERCENTS[batch]
        policy["max_unhealthy_instance_percent"] = _PERCENTS[unhealthy]
    if which & 4:
        policy["max_unhealthy_upgraded_instance_percent"] = _UPGRADED[upgraded]
        policy["pause_time_between_batches"] = _PAUSES[pause]
    m.submit(data)
    m.reach("trace refused (V9/V10)" if m.last_submission_refused else "trace accepted")
