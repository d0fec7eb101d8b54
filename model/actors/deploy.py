"""Actor: the model deploy (R15, D8).

``update_model`` points the extensions at the newest token of each
credential and re-runs extension provisioning on every instance at once (it
replaces no OS disk and is not an OS upgrade, so it does not count towards
R5). Instances still being created run their extensions with the new model
instead (they read the tokens when their extensions finish). The deploy ends
when every instance it touched has finished; it succeeded if all are
Succeeded, and its successful end may start a Platform run (D4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import attrs

from model.actors import instances, orchestrator
from model.events import Rejected
from model.instance import Provisioning
from model.snapshot import T

if TYPE_CHECKING:
    from model.scaleset import ScaleSet


@attrs.define(eq=False, slots=False)  # copied by `check`: a dict pickles in C
class Deploy:
    """D8: one model deploy: the instances it touched and how it ended."""

    SNAPSHOT_TIMES: ClassVar = {"start": T, "end": T}  # E3 (model/snapshot.py)

    start: int
    members: list[int]
    remaining: set[int]
    end: int | None = None
    succeeded: bool | None = None


def start(ss: ScaleSet) -> Deploy:
    """R15, D8: the user's deploy of the model. Refused (409) while a run is
    active or another deploy is in flight; otherwise the model references the
    newest token of each credential and every instance with no operation in
    flight re-runs its extensions."""
    if ss.active_run is not None:
        raise Rejected("409: a run is active")
    if ss.deploy is not None:
        raise Rejected("409: a model deploy is in flight")
    return begin(ss)


def begin(ss: ScaleSet) -> Deploy:
    """D8, R15: the updates of a deploy that its guards allowed (TD31 with the
    switch: instances protected from scale set actions are not touched)."""
    for name, tokens in ss.tokens.items():
        ss.model_tokens[name] = len(tokens) - 1
    # TD31 with the switch: an instance protected from scale set actions is not touched.
    today = ss.today
    members = [
        inst
        for inst in ss.instances.values()
        if inst.state == "ready" and not (today and inst.protect_from_scale_set_actions)
    ]
    deploy = Deploy(ss.now, [i.id for i in members], {i.id for i in members})
    ss.deploy = deploy
    ss.deploys.append(deploy)
    ss.record("deploy_started", deploy)
    for inst in members:
        instances.begin_model_update(ss, inst)
    if not members:
        finish(ss, deploy)
    return deploy


def instance_finished(ss: ScaleSet, instance_id: int) -> None:
    """D8: an instance the deploy touched finished its extensions (or was
    scaled in); the last one ends the deploy."""
    deploy = ss.deploy
    if deploy is not None and instance_id in deploy.remaining:
        deploy.remaining.discard(instance_id)
        if not deploy.remaining:
            finish(ss, deploy)


def finish(ss: ScaleSet, deploy: Deploy) -> None:
    """D8: the deploy ended; it succeeded if every instance it touched (that
    still exists) is Succeeded. Its successful end may start a run (D4, R15)."""
    deploy.end = ss.now
    deploy.succeeded = all(
        ss.instances[i].provisioning_state == Provisioning.SUCCEEDED
        for i in deploy.members
        if i in ss.instances
    )
    ss.deploy = None
    ss.record("deploy_ended", deploy)
    orchestrator.start_platform_run(ss, orchestrator.Trigger("model deploy", deploy=deploy))
