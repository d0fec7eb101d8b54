"""The events of SPEC section 7: what the environment and the user do to the
scale set, each an immutable ``attrs`` type named as the trace names it.

The step table (model/steps.py) says which actor performs each and the
rules it implements. A well-formed event that the system refuses (a 409, a
publication that is not newer, a V error...) raises ``Rejected`` in its
action: it is recorded under ``rejected`` (a ``Rejection``) and changes
nothing.
"""

from __future__ import annotations

from typing import ClassVar, Union

import attrs

from model.snapshot import T


class Rejected(Exception):
    """A well-formed event that the system refuses (409, D14, V rules, D9)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class Rejection:
    """Section 7 `rejected`: the event's time, its name, the reason naming the rule."""

    at: int
    event: str
    reason: str


@attrs.frozen
class PublishImage:
    """R2, D14: a newer version of the scale set's sku; broken if not app_healthy."""

    NAME: ClassVar[str] = "publish_image"
    at: int
    version: str
    app_healthy: bool = True
    #: T17, T16 (with the switch only): when it becomes eligible (None: at), excluded
    eligible_at: int | None = None
    exclude_from_latest: bool = False


@attrs.frozen
class OutageStart:
    """R8, D10: planned or unplanned maintenance takes instances down."""

    NAME: ClassVar[str] = "outage_start"
    at: int
    instances: tuple[int, ...]
    kind: str = "unplanned"


@attrs.frozen
class OutageEnd:
    """R8, D10: the instances come back up."""

    NAME: ClassVar[str] = "outage_end"
    at: int
    instances: tuple[int, ...]


@attrs.frozen
class AppHealth:
    """R6: the application's probe answer on those instances from now on."""

    NAME: ClassVar[str] = "app_health"
    at: int
    instances: tuple[int, ...]
    healthy: bool


@attrs.frozen
class ExpireCredential:
    """R14, D15: every token of the credential issued so far expires now."""

    NAME: ClassVar[str] = "expire_credential"
    at: int
    name: str


@attrs.frozen
class RegenerateCredential:
    """R15, D15: a new token; the model keeps the old one until update_model."""

    NAME: ClassVar[str] = "regenerate_credential"
    at: int
    name: str
    expires_at: int


@attrs.frozen
class UpdateModel:
    """R15, D8: deploy the model with the newest tokens."""

    NAME: ClassVar[str] = "update_model"
    at: int


@attrs.frozen
class ScaleOut:
    """R18, D9: new instances from the latest version."""

    NAME: ClassVar[str] = "scale_out"
    at: int
    count: int


@attrs.frozen
class ScaleIn:
    """D9: remove the highest ids outside the batch in flight."""

    NAME: ClassVar[str] = "scale_in"
    at: int
    count: int


@attrs.frozen
class SetAutomaticUpgrade:
    """R1, D7: opt in or out."""

    NAME: ClassVar[str] = "set_automatic_upgrade"
    at: int
    enabled: bool


@attrs.frozen
class StartUpgrade:
    """R12: a manual start (startedBy User)."""

    NAME: ClassVar[str] = "start_upgrade"
    at: int


@attrs.frozen
class CancelUpgrade:
    """D7: a user cancel of the active run."""

    NAME: ClassVar[str] = "cancel_upgrade"
    at: int


@attrs.frozen
class SetProtection:
    """T27 (with the switch only): set both protection flags of instances."""

    NAME: ClassVar[str] = "set_protection"
    at: int
    instances: tuple[int, ...]
    protect_from_scale_in: bool = False
    protect_from_scale_set_actions: bool = False


Event = Union[
    PublishImage,
    OutageStart,
    OutageEnd,
    AppHealth,
    ExpireCredential,
    RegenerateCredential,
    UpdateModel,
    ScaleOut,
    ScaleIn,
    SetAutomaticUpgrade,
    StartUpgrade,
    CancelUpgrade,
    SetProtection,
]

EVENT_TYPES: dict[str, type] = {
    cls.NAME: cls
    for cls in (
        PublishImage,
        OutageStart,
        OutageEnd,
        AppHealth,
        ExpireCredential,
        RegenerateCredential,
        UpdateModel,
        ScaleOut,
        ScaleIn,
        SetAutomaticUpgrade,
        StartUpgrade,
        CancelUpgrade,
        SetProtection,
    )
}
#: T2: the event fields and kinds a trace names only with the switch on
TODAY_EVENT_FIELDS = {"publish_image": ("eligible_at", "exclude_from_latest")}
TODAY_EVENTS = ("set_protection",)

# E3 (model/snapshot.py): the times an event or a rejection holds.
for _cls in (*EVENT_TYPES.values(), Rejection):
    _cls.SNAPSHOT_TIMES = {"at": T}  # type: ignore[attr-defined]
RegenerateCredential.SNAPSHOT_TIMES = {"at": T, "expires_at": T}  # type: ignore[attr-defined]
PublishImage.SNAPSHOT_TIMES = {"at": T, "eligible_at": T}  # type: ignore[attr-defined]
