"""How fast a large trace loads and replays: figures, never assertions.

``bench_validation`` builds a valid trace in memory (a 100-instance scale
set in one placement group, with a probe and an extension that uses a
credential; mostly application health answers and outages, with some
publications, credential rotations, deploys, scaling, manual starts and
cancels), writes it to a temporary file and times ``load_trace`` on it
(decode, validate, convert) and ``replay`` of the loaded trace, each the
best of ``repeat`` runs started on a collected heap.
"""

from __future__ import annotations

import gc
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.replay import replay
from model.trace import TRACE_FORMAT, load_trace

INSTANCES = 100


def bench_trace(events: int, seed: int = 0) -> dict[str, Any]:
    """A valid trace of ``events`` events as JSON data."""
    rnd = random.Random(seed)
    down: set[int] = set()
    published = 0
    at = 0
    out: list[dict[str, Any]] = []
    for _ in range(events):
        at += rnd.randint(1, 60)
        roll = rnd.random()
        up = sorted(set(range(INSTANCES)) - down)
        if roll < 0.55:
            ids = rnd.sample(range(INSTANCES), rnd.randint(1, 5))
            out.append(
                {"at": at, "event": "app_health", "instances": ids, "healthy": rnd.random() < 0.9}
            )
        elif roll < 0.72 and up:
            ids = rnd.sample(up, min(len(up), rnd.randint(1, 3)))
            down.update(ids)
            kind = rnd.choice(["planned", "unplanned"])
            out.append({"at": at, "event": "outage_start", "instances": ids, "kind": kind})
        elif roll < 0.89 and down:
            ids = rnd.sample(sorted(down), min(len(down), rnd.randint(1, 3)))
            down.difference_update(ids)
            out.append({"at": at, "event": "outage_end", "instances": ids})
        elif roll < 0.92:
            published += 1
            version = f"18.04.{201810030 + published}"
            healthy = rnd.random() < 0.9
            out.append(
                {"at": at, "event": "publish_image", "version": version, "app_healthy": healthy}
            )
        elif roll < 0.94:
            expires = at + 86400 * rnd.randint(1, 90)
            out.append(
                {"at": at, "event": "regenerate_credential", "name": "sas", "expires_at": expires}
            )
        elif roll < 0.95:
            out.append({"at": at, "event": "update_model"})
        elif roll < 0.96:
            out.append({"at": at, "event": "expire_credential", "name": "sas"})
        elif roll < 0.97:
            out.append({"at": at, "event": "start_upgrade"})
        elif roll < 0.98:
            out.append({"at": at, "event": "cancel_upgrade"})
        else:
            enabled = rnd.random() < 0.8
            out.append({"at": at, "event": "set_automatic_upgrade", "enabled": enabled})
    return {
        "format": TRACE_FORMAT,
        "scale_set": {
            "instances": INSTANCES,
            "image": {
                "publisher": "Canonical",
                "offer": "UbuntuServer",
                "sku": "18.04-LTS",
                "version": "latest",
            },
            "catalog": ["18.04.201810030"],
            "health_probe": {"kind": "load_balancer"},
            "extensions": [{"name": "CustomScript", "credentials": ["sas"]}],
            "credentials": {"sas": {"expires_at": 3_000_000_000}},
            "single_placement_group": True,
        },
        "events": out,
    }


def _best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_validation(events: int = 100_000, repeat: int = 3) -> dict[str, Any]:
    """Load (decode + validate + convert) and replay figures for a trace of
    ``events`` events: seconds and events per second, best of ``repeat``."""
    data = json.dumps(bench_trace(events), indent=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-trace.json"
        path.write_text(data)
        load_seconds, trace = _best(repeat, lambda: load_trace(path))
    replay_seconds, _ = _best(repeat, lambda: replay(trace))
    return {
        "events": events,
        "bytes": len(data.encode()),
        "load_seconds": load_seconds,
        "events_per_second": events / load_seconds,
        "replay_seconds": replay_seconds,
        "replay_events_per_second": events / replay_seconds,
    }
