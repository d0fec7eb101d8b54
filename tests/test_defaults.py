"""Section 7's defaults (and section 4's, T8, T9, T18 with the switch): a
field a trace's ``scale_set`` leaves out is the spec's default. The property
``omitted_fields_take_section_7_defaults`` (properties/defaults.py) reads a
document with its own table and compares with what the model runs with."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from model.config import HealthProbe
from model.trace import Trace, load_trace, load_trace_text
from properties.defaults import bare, left_out, problems, reading, without_defaults
from properties.mutants import MUTANTS
from vmss_spec.replay import replay

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
IMAGE = {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS", "version": "latest"}
NAME = "omitted_fields_take_section_7_defaults"


def _load(scale_set: dict) -> Trace:
    data = {"format": "vmss-upgrade-trace/1", "scale_set": scale_set, "events": []}
    return load_trace_text(json.dumps(data))


@pytest.mark.parametrize("api", [None, "2024-07-01"])
def test_section7_a_scale_set_of_only_its_required_fields_runs_at_every_default(api) -> None:
    doc = {"instances": 3, "image": IMAGE} | ({"api_version": api} if api else {})
    seen = reading(doc)
    assert seen["catalog"] == ("1.0.0",) and seen["health_probe"] == 0
    assert (
        seen["timings.health_wait_seconds"] == 300
        and seen["policy.max_batch_instance_percent"] == 20
    )
    assert seen["epoch"] == "2018-10-01T00:00:00+00:00" and seen["location"] == "westeurope"
    assert ("first_rollout_delay_seconds" in seen) == (api is not None)  # T18, with the switch only
    assert "policy.timings" not in seen and len(left_out(doc)) >= 20
    assert problems(doc, _load(doc).scale_set) == []


def test_section7_a_probe_left_without_interval_or_sku_gets_its_kinds_defaults() -> None:
    doc = {"instances": 3, "image": IMAGE, "health_probe": {"kind": "application_health"}}
    seen = reading(doc)
    assert seen["health_probe[0].interval_seconds"] == 5
    assert seen["health_probe[0].lb_sku"] == "Standard"
    lb = {"instances": 3, "image": IMAGE, "health_probe": {"kind": "load_balancer"}}
    assert reading(lb)["health_probe[0].interval_seconds"] == 15
    # the model running with another interval is named, with the default
    config = attrs.evolve(
        _load(doc).scale_set, health_probe=HealthProbe("application_health", "Standard", 15)
    )
    (found,) = problems(doc, config)
    assert "health_probe[0].interval_seconds: left out, so its default is 5" in found


def test_section7_a_given_field_is_that_value_and_written_defaults_can_be_left_out() -> None:
    doc = {
        "instances": 4,
        "image": IMAGE,
        "policy": {"max_batch_instance_percent": 50, "pause_time_between_batches": "PT0S"},
        "timings": {"os_disk_seconds": 120, "health_wait_seconds": 60},
    }
    assert reading(doc)["policy.max_batch_instance_percent"] == 50
    slim = without_defaults(doc)
    assert slim["policy"] == {"max_batch_instance_percent": 50}
    assert slim["timings"] == {"health_wait_seconds": 60}
    assert bare(doc) == {"instances": 4, "image": IMAGE}
    assert bare(doc, partly=True)["timings"] == {"os_disk_seconds": 120}
    assert problems(slim, _load(slim).scale_set) == []


def test_section7_replay_compares_the_trace_as_given_with_what_the_model_runs() -> None:
    """A trace whose model configuration disagrees with its document (the
    probe's sku left out, Basic in the model) breaks the property at 0."""
    doc = {"instances": 2, "image": IMAGE, "health_probe": {"kind": "load_balancer"}}
    trace = _load(doc)
    wrong = attrs.evolve(trace.scale_set, health_probe=HealthProbe("load_balancer", "Basic", 15))
    made = Trace(scale_set=wrong, events=(), until=10)
    object.__setattr__(made, "given", {"scale_set": doc, "until": 10})  # as the loader does
    rep = replay(made)
    (violation,) = rep.result.violations
    assert (violation.invariant, violation.at) == (NAME, 0)
    assert (
        "the trace: scale_set.health_probe[0].lb_sku: left out, so its default is 'Standard'"
        in (violation.message)
    )
    assert replay(trace).result.violations == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_section7_every_example_runs_with_the_defaults_of_what_it_leaves_out(path: Path) -> None:
    trace = load_trace(path)
    assert trace.given is not None and left_out(trace.given["scale_set"])
    assert problems(trace.given["scale_set"], trace.scale_set) == []


def test_section7_a_default_copied_wrong_breaks_the_replay_of_an_example() -> None:
    """The broken variant's health wait of 360 s for a trace that leaves it
    out: the replay of any example reports the property at 0 (the loader
    reads back the scale set with everything left out that may be)."""
    trace = load_trace(ROOT / "examples" / "rolling-upgrade-10.json")
    with MUTANTS["health_wait_default_six_minutes"].applied():
        found = replay(trace).result.violations
    assert found and (found[0].invariant, found[0].at) == (NAME, 0)
    assert "timings.health_wait_seconds: left out, so its default is 300" in found[0].message
