"""Counterexamples as trace files (SPEC section 7, ``vmss-upgrade-trace/1``).

When a property fails, the Hypothesis machine (properties/machine.py) holds
the initial scale set and the list of events it applied, each at its time,
and the time it had reached. Those three are a trace: replaying it applies the
same events to the same scale set and advances to the same time, so the
replay's first violation is the machine's (same invariant, same time, same
message). :func:`save_counterexample` writes it, named after the invariant
and a digest of its content (the same counterexample keeps its name);
``vmss_spec.replay.first_violation`` replays it and returns what broke first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.config import ScaleSetConfig
from model.events import Event
from model.trace import Trace, trace_to_json

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True


def counterexample_trace(config: ScaleSetConfig, events: Sequence[Event], until: int) -> Trace:
    """The trace of a machine run: its scale set, its events, and its final time."""
    return Trace(scale_set=config, events=tuple(events), until=until)


def trace_name(trace: Trace, invariant: str) -> str:
    """``counterexample-<invariant>-<digest>.json``: stable for the same trace."""
    digest = hashlib.sha1(trace_to_json(trace).encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "-" for c in invariant)
    return f"counterexample-{safe}-{digest}.json"


def save_counterexample(trace: Trace, invariant: str, out_dir: str | Path) -> Path:
    """Write ``trace`` under ``out_dir`` (created if need be); returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / trace_name(trace, invariant)
    path.write_text(trace_to_json(trace), encoding="utf-8")
    return path


def save_document(data: dict[str, Any], invariant: str, out_dir: str | Path) -> Path:
    """Write a trace document as given (one the loader judged wrongly, V9/V10)."""
    text = json.dumps(data, indent=2) + "\n"
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() else "-" for c in invariant)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"counterexample-{safe}-{digest}.json"
    path.write_text(text, encoding="utf-8")
    return path
