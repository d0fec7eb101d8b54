"""Everything that can happen to a scale set: one table (the ``Next`` of the spec).

Each row is one kind of step: an external event of SPEC section 7, or an
internal step of the platform. It names the actor that performs it, the
rules it implements, when it happens, and the function that performs it
(in the actor's module under model/actors/). ``ScaleSet.apply`` dispatches
events through :data:`EVENTS`, and the clock's queue holds rows of
:data:`INTERNAL`, so every change of state starts from a row of this table.

``when`` says how a step comes about:

- ``event``: an event of the trace (or the Python caller), at its time;
- ``queued: instance`` / ``queued: run``: an internal step in the clock's
  queue; at equal times instance steps come before run steps (D12); with
  section 9's switch ``queued: eligibility`` and ``queued: first rollout``
  come between them, in that order (TD6);
- ``within: ...``: a step another step performs at the same moment (a run
  start within a publication, say), named so that its rules have a home.

A step's function returns False when it finds it has nothing to do (a
queued step whose instance has started another operation since), else it
changed the state; after each step the scale set records ``"step"`` (or
``"event"`` / ``"rejected"``) for its subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from model.actors import (
    application,
    deploy,
    expiry,
    instances,
    maintenance,
    orchestrator,
    publisher,
    user,
)
from model.snapshot import share


@attrs.define(eq=False, repr=False)
class Step:
    """One row of the table: what happens, who does it, which rules, how."""

    name: str
    actor: str
    rules: str
    when: str
    perform: Callable[..., Any]

    def __repr__(self) -> str:
        return f"Step({self.name})"


PUBLISHER = "publisher"
MAINTENANCE = "maintenance"
APPLICATION = "application"
TIME = "time"
USER = "user"
ORCHESTRATOR = "orchestrator"
INSTANCE = "instance lifecycle"
DEPLOY = "model deploy"

#: every kind of step, in the order of the spec: the events of section 7,
#: then the platform's internal steps
TABLE: tuple[Step, ...] = (
    # ---- external events (section 7)
    Step("publish_image", PUBLISHER, "R2, D14, D4", "event", publisher.publish_image),
    Step("outage_start", MAINTENANCE, "R8, D10", "event", maintenance.start_outage),
    Step("outage_end", MAINTENANCE, "R8, D10, R6", "event", maintenance.end_outage),
    Step("app_health", APPLICATION, "R6, R7", "event", application.report_health),
    Step("expire_credential", TIME, "R14, D15", "event", expiry.expire_credential),
    Step("regenerate_credential", USER, "R15, D15", "event", user.regenerate_credential),
    Step("update_model", USER, "R15, D8", "event", user.update_model),
    Step("scale_out", USER, "R18, D9, V9", "event", user.scale_out),
    Step("scale_in", USER, "D9, D11", "event", user.scale_in),
    Step("set_automatic_upgrade", USER, "R1, D4, D7, D16", "event", user.set_automatic_upgrade),
    Step("start_upgrade", USER, "R12, D4, D8, D16", "event", user.start_upgrade),
    Step("cancel_upgrade", USER, "D7", "event", user.cancel_upgrade),
    Step("set_protection", USER, "T27, TD12, TD34", "event", user.set_protection),
    # ---- internal steps of the instance lifecycle
    Step("disk_replaced", INSTANCE, "R3, R18", "queued: instance", instances.disk_replaced),
    Step(
        "extensions_finished",
        INSTANCE,
        "R3, R14, D8",
        "queued: instance",
        instances.extensions_finished,
    ),
    Step("application_up", INSTANCE, "R6, R7", "queued: instance", instances.application_up),
    Step(
        "rollback_restored",
        INSTANCE,
        "section 4 automatic_rollback, D11",
        "queued: instance",
        instances.rollback_restored,
    ),
    # ---- internal steps of the orchestrator
    Step(
        "health_deadline",
        ORCHESTRATOR,
        "R6, D10, D11, section 4 automatic_rollback",
        "queued: instance",
        orchestrator.health_deadline,
    ),
    # ---- internal steps of section 9 (with the switch only)
    Step(
        "version_eligible",
        PUBLISHER,
        "T17, TD6, D4",
        "queued: eligibility",
        publisher.version_eligible,
    ),
    Step(
        "first_rollout",
        ORCHESTRATOR,
        "T18, TD6, D4",
        "queued: first rollout",
        orchestrator.first_rollout,
    ),
    Step("end_of_batch", ORCHESTRATOR, "D7a, D5, D6, D7", "queued: run", orchestrator.end_of_batch),
    Step(
        "end_of_pause",
        ORCHESTRATOR,
        "section 4 pause, R8",
        "queued: run",
        orchestrator.end_of_pause,
    ),
    Step(
        "run_start",
        ORCHESTRATOR,
        "D4, R2, D3, D11 (R12 by hand)",
        "within: publication, opt-in, a Completed run's end, a deploy's end, start_upgrade",
        orchestrator.start_platform_run,
    ),
    Step(
        "pre_batch_check",
        ORCHESTRATOR,
        "R4, R8, D1, D5, R5, D2, R13",
        "within: a run's start, the end of a pause",
        orchestrator.pre_batch_check,
    ),
    # ---- internal steps of the model deploy
    Step(
        "deploy_finished",
        DEPLOY,
        "D8, R15, D4",
        "within: the last extensions_finished of a deploy, a scale-in",
        deploy.instance_finished,
    ),
)

#: the events of section 7, by name: ``ScaleSet.apply`` dispatches through it
EVENTS: dict[str, Step] = {row.name: row for row in TABLE if row.when == "event"}
#: the queued internal steps, by name: the clock's queue holds these rows
INTERNAL: dict[str, Step] = {row.name: row for row in TABLE if row.when.startswith("queued")}
#: every row by name
BY_NAME: dict[str, Step] = {row.name: row for row in TABLE}
for _row in TABLE:  # a copy of a state refers to the rows (model/snapshot.py)
    share(f"step:{_row.name}", _row)


def markdown_table() -> str:
    """The table as the README shows it (tests/test_readme.py keeps them equal)."""
    lines = [
        "| step | when | actor | rules | performed by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in TABLE:
        where = f"{row.perform.__module__}.{row.perform.__name__}"
        lines.append(f"| `{row.name}` | {row.when} | {row.actor} | {row.rules} | `{where}` |")
    return "\n".join(lines) + "\n"
