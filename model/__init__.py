"""An executable specification of the Azure VM scale set automatic OS image
upgrade (see SPEC.md in the shared folder and the README).

The Python API::

    from model import ScaleSet, ScaleSetConfig, ImageReference, PublishImage
    ss = ScaleSet(ScaleSetConfig(instances=10, image=ImageReference(
        "Canonical", "UbuntuServer", "18.04-LTS", "latest")))
    ss.apply(PublishImage(at=100, version="1.0.1"))
    ss.advance(2000)
    ss.runs[-1].code            # "Completed"

Everything that can happen is one row of ``model.steps.TABLE``; each actor's
actions are in ``model.actors``.
"""

from model.catalog import Catalog, version_key
from model.config import (
    CredentialConfig,
    Extension,
    HealthProbe,
    ImageReference,
    Policy,
    ScaleSetConfig,
    ServiceFabric,
    Timings,
)
from model.events import (
    AppHealth,
    CancelUpgrade,
    Event,
    ExpireCredential,
    OutageEnd,
    OutageStart,
    PublishImage,
    RegenerateCredential,
    Rejection,
    ScaleIn,
    ScaleOut,
    SetAutomaticUpgrade,
    StartUpgrade,
    UpdateModel,
)
from model.history import history_view
from model.replay import Played, Replay, replay, run_trace
from model.result import result_of
from model.scaleset import ScaleSet
from model.trace import Trace, TraceError, load_trace, parse_trace, result_to_json, trace_to_json

__all__ = [
    "AppHealth",
    "CancelUpgrade",
    "Catalog",
    "CredentialConfig",
    "Event",
    "ExpireCredential",
    "Extension",
    "HealthProbe",
    "ImageReference",
    "OutageEnd",
    "OutageStart",
    "Policy",
    "PublishImage",
    "RegenerateCredential",
    "Rejection",
    "Played",
    "Replay",
    "ScaleIn",
    "ScaleOut",
    "ScaleSet",
    "ScaleSetConfig",
    "ServiceFabric",
    "SetAutomaticUpgrade",
    "StartUpgrade",
    "Timings",
    "Trace",
    "TraceError",
    "UpdateModel",
    "history_view",
    "load_trace",
    "parse_trace",
    "replay",
    "result_of",
    "result_to_json",
    "run_trace",
    "trace_to_json",
    "version_key",
]
