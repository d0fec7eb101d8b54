"""Helpers of the section 9 rule tests (tests/test_today_*.py): a small trace
with the switch on, its replay with every property, a refused trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model.jsontext import TraceError
from model.trace import load_trace_text, result_to_json
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
JAMMY = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-LTS",
    "version": "latest",
}
GALLERY = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web"
OLD, NEW, NEWER = "22.04.202410010", "22.04.202411010", "22.04.202412010"
PROBE = {"kind": "application_health"}


def trace(events: list[dict[str, Any]] = (), **scale_set: Any) -> dict[str, Any]:
    base = {
        "api_version": "2024-07-01",
        "instances": 3,
        "image": JAMMY,
        "catalog": [OLD],
        "health_probe": PROBE,
    }
    base.update(scale_set)
    return {"format": "vmss-upgrade-trace/1", "scale_set": base, "events": list(events)}


def run(data: dict[str, Any]) -> dict[str, Any]:
    """Replay with every property: none is violated; the result document."""
    rep = replay(load_trace_text(json.dumps(data)))
    assert rep.result.violations == [], rep.result.violations
    return json.loads(result_to_json(rep.result))


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(TraceError) as error:
        load_trace_text(json.dumps(data), "t.json")
    return str(error.value)


def publish(at: int, version: str = NEW, **fields: Any) -> dict[str, Any]:
    return {"at": at, "event": "publish_image", "version": version, **fields}


def runs(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (r["started_by"], r["target_version"], r["code"], r["start"], r["end"]) for r in doc["runs"]
    ]


#: a publication, and instance 0 unhealthy once its disk is replaced (at 220)
UNHEALTHY_FIRST = [
    publish(100),
    {"at": 225, "event": "app_health", "instances": [0], "healthy": False},
]
