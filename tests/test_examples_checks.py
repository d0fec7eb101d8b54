"""Examples are specs, part 3: what the scale set's configuration allows, and the
examples themselves. Example 14 (Service Fabric update domains, R13) and the
examples of the configuration checks V1-V7 (section 3, D16) are replayed
(model.load_trace + model.replay) and their outcome is asserted against what
SPEC.md implies; the helpers are in tests/example_support.py.

The traces under examples/malformed/ break V9 or V10 in the initial scale set, which
makes the trace malformed (D16): load_trace refuses it and replay exits 2.

Last, every example under examples/ and examples/malformed/ is named by a test of
tests/test_examples_*.py, and every example replays deterministically.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import attrs
import pytest

import model
from model.replay import Replay
from model.trace import TraceError, result_to_json
from tests.example_support import (
    EXAMPLES,
    MALFORMED,
    OLD,
    batches,
    history,
    play,
    progress,
    rejected,
    warnings,
)
from vmss_spec.cli import main as cli_main
from vmss_spec.replay import replay

TRACE_FIELDS = {"format", "scale_set", "events", "until"}  # section 7, top level
EXAMPLE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\.json")  # lowercase-hyphen names


# --------------------------------------------------------------------------- 14
def test_r13_service_fabric_batches_are_whole_update_domains() -> None:
    """R13: Silver, 3 UDs, 7 instances: UD = id mod 3, a batch is a whole UD whatever
    its size (cap(7) would be 1). No probe: 180 s a batch. R17: 2016.1000.20180101 is
    newer than 2016.127.20180613 (part by part, 1000 > 127)."""
    rep = play("service-fabric-update-domains.json")
    (run,) = rep.result.runs
    assert run.target_version == "2016.1000.20180101"
    assert batches(run) == [
        ([0, 3, 6], 100, 280),  # UD 0; 100 + 180
        ([1, 4], 280, 460),  # UD 1
        ([2, 5], 460, 640),  # UD 2; 100 + 3 x 180
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 640)
    assert run.progress == progress(7, 0, 0, 0)
    assert [(v.id, v.update_domain) for v in rep.result.instances] == [(i, i % 3) for i in range(7)]
    assert all(v.image_version == "2016.1000.20180101" for v in rep.result.instances)
    assert rep.result.warnings == []  # V8 applies to non-Service-Fabric scale sets only
    assert rep.result.rejected == []
    entry = rep.result.history.value[0].properties
    assert attrs.asdict(entry.targetImageReference) == {
        "publisher": "MicrosoftWindowsServer",
        "offer": "WindowsServer",
        "sku": "2016-Datacenter",
        "version": "2016.1000.20180101",
    }
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "2016.1000.20180101",
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:10:40+00:00",  # 640 s = 10 min 40 s
            None,
        )
    ]


# --------------------------------------------------------------------------- 15
def _v_refuses_automatic_and_manual(name: str, rule: str, field: str, end: int) -> Replay:
    """D16: a V1-V3 error in the initial scale set is rejected at time 0 under
    set_automatic_upgrade, naming the rule and the field; no Platform run follows the
    publication at 100 (I7); D4: the manual start at 200 is refused with that reason."""
    rep = play(name)
    rows = rejected(rep)
    at, event, reason = rows[0]
    assert (at, event) == (0, "set_automatic_upgrade")
    assert reason.startswith(f"{rule}: {field}: ")
    assert rows[1] == (200, "start_upgrade", reason)
    assert rep.result.runs == [] and rep.result.history.value == []
    assert all(v.os_disk == f"os-{v.id}-0" for v in rep.result.instances)
    assert rep.result.warnings == []
    assert rep.result.time == end  # the last event
    return rep


def test_v1_unsupported_sku_refuses_automatic_and_manual_upgrades() -> None:
    """V1 (R9): Canonical/UbuntuServer/14.04.5-LTS is not in the supported list; opting
    in again at 300 is refused with the same reason."""
    rep = _v_refuses_automatic_and_manual("v1-unsupported-sku.json", "V1", "image.sku", 300)
    reason = rejected(rep)[0][2]
    assert rejected(rep)[2:] == [(300, "set_automatic_upgrade", reason)]
    assert {v.image_version for v in rep.result.instances} == {"14.04.201810010"}


def test_v2_pinned_version_refuses_automatic_and_manual_upgrades() -> None:
    """V2 (R9): the image version must be `latest`."""
    rep = _v_refuses_automatic_and_manual("v2-version-not-latest.json", "V2", "image.version", 200)
    assert len(rep.result.rejected) == 2
    assert {v.image_version for v in rep.result.instances} == {OLD}


def test_v3_custom_image_refuses_automatic_and_manual_upgrades() -> None:
    """V3 (R9): a custom image ({"id": ...}) cannot be upgraded automatically."""
    rep = _v_refuses_automatic_and_manual("v3-custom-image.json", "V3", "image.id", 200)
    assert len(rep.result.rejected) == 2
    assert {v.image_version for v in rep.result.instances} == {"1.0.0"}  # catalog default


def _v_refuses_automatic_allows_manual(
    name: str, rule: str, field: str, expected: list[tuple[list[int], int, int]]
) -> None:
    """D16: a V4-V6 error is rejected at time 0 under set_automatic_upgrade and no
    Platform run follows the publication at 100; D4: only V1-V3 block a manual start,
    so start_upgrade at 200 runs a User run to completion."""
    rep = play(name)
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (0, "set_automatic_upgrade")
    assert reason.startswith(f"{rule}: {field}: ")
    (run,) = rep.result.runs
    assert (run.started_by, run.start, run.code, run.error) == ("User", 200, "Completed", None)
    assert batches(run) == expected
    end = expected[-1][2]
    assert run.end == end == rep.result.time
    assert run.progress == progress(2, 0, 0, 0)
    assert all(v.image_version == run.target_version for v in rep.result.instances)
    assert rep.result.warnings == []
    assert [row[:2] for row in history(rep)] == [("Completed", "User")]
    assert history(rep)[0][3] == "2018-10-01T00:03:20+00:00"  # 200 s


def test_v4_disk_encryption_refuses_automatic_but_allows_manual() -> None:
    """V4 (R10). 2 instances with a probe: cap(2) = max(1, floor(0.4)) = 1; 210 s a batch."""
    _v_refuses_automatic_allows_manual(
        "v4-disk-encryption.json", "V4", "disk_encryption", [([0], 200, 410), ([1], 410, 620)]
    )


def test_v5_placement_groups_with_basic_lb_refuse_automatic_but_allow_manual() -> None:
    """V5 (R11): multiple placement groups with a Basic load balancer probe. Batches as V4."""
    _v_refuses_automatic_allows_manual(
        "v5-placement-groups-basic-lb.json",
        "V5",
        "health_probe",
        [([0], 200, 410), ([1], 410, 620)],  # 200 + 210, 410 + 210
    )


def test_v6_r13_d16_bronze_refuses_automatic_but_allows_manual() -> None:
    """V6 (R13, D16): Service Fabric Bronze; no Platform run. The manual run goes UD by
    UD (2 instances in UDs 0 and 1), no probe: 180 s a batch."""
    _v_refuses_automatic_allows_manual(
        "service-fabric-bronze-refused.json",
        "V6",
        "service_fabric.durability",
        [([0], 200, 380), ([1], 380, 560)],  # 200 + 180, 380 + 180
    )


def test_v7_probe_interval_is_a_warning_not_an_error() -> None:
    """V7: a probe interval of 120 s is not below 120 s: a warning, the run goes on."""
    rep = play("v7-probe-interval-warning.json")
    assert warnings(rep) == ["V7"]
    assert rep.result.warnings[0].message.startswith("health_probe.interval_seconds")
    assert rep.result.rejected == []
    (run,) = rep.result.runs
    assert batches(run) == [([0], 100, 310), ([1], 310, 520)]  # cap(2) = 1; 210 s each
    assert (run.started_by, run.code, run.end) == ("Platform", "Completed", 520)


MALFORMED_CASES = [
    # (file, JSON pointer, rule)
    ("v9-too-many-instances.json", "/scale_set/instances", "V9"),
    ("v9-over-1000-instances.json", "/scale_set/instances", "V9"),
    ("v10-batch-percent.json", "/scale_set/policy/max_batch_instance_percent", "V10"),
    (
        "v10-upgraded-percent.json",
        "/scale_set/policy/max_unhealthy_upgraded_instance_percent",
        "V10",
    ),
    ("v10-pause-duration.json", "/scale_set/policy/pause_time_between_batches", "V10"),
]


def _refused_by_load_trace(name: str, pointer: str, rule: str) -> None:
    """D16: V9 and V10 in the initial scale set make the trace malformed: load_trace
    raises TraceError, one line naming the file, the JSON pointer and the rule."""
    with pytest.raises(TraceError) as info:
        model.load_trace(MALFORMED / name)
    message = str(info.value)
    assert "\n" not in message
    assert f"{pointer}: " in message
    assert f"({rule})" in message
    assert name in message


@pytest.mark.parametrize(
    ("name", "pointer", "rule"), [c for c in MALFORMED_CASES if c[2] == "V9"], ids=lambda x: x
)
def test_v9_instance_count_makes_the_trace_malformed(name: str, pointer: str, rule: str) -> None:
    """V9: 101 instances in one placement group; 1001 instances."""
    _refused_by_load_trace(name, pointer, rule)


@pytest.mark.parametrize(
    ("name", "pointer", "rule"), [c for c in MALFORMED_CASES if c[2] == "V10"], ids=lambda x: x
)
def test_v10_policy_range_makes_the_trace_malformed(name: str, pointer: str, rule: str) -> None:
    """V10: batch percent 4 < 5; upgraded percent 101 > 100; pause P1M (months have
    no fixed length, not a duration the model accepts)."""
    _refused_by_load_trace(name, pointer, rule)


@pytest.mark.parametrize(("name", "pointer", "rule"), MALFORMED_CASES)
def test_section7_replay_of_a_malformed_trace_exits_2_with_one_line(
    name: str, pointer: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Section 7: a malformed trace is refused with exit status 2 and one line naming
    the place; nothing runs (nothing on stdout)."""
    status = cli_main(["replay", str(MALFORMED / name)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert pointer in err and f"({rule})" in err


# --------------------------------------------------------------------------- meta
EXAMPLE_TESTS = sorted(Path(__file__).parent.glob("test_examples_*.py"))


def _referenced_examples() -> set[str]:
    """Every "*.json" string literal in the example test modules, tests/test_examples_*.py
    (play, play_prefix, parametrize)."""
    assert len(EXAMPLE_TESTS) > 1, EXAMPLE_TESTS
    return {
        node.value
        for path in EXAMPLE_TESTS
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and EXAMPLE_NAME.fullmatch(node.value)
    }


def test_every_example_is_covered_by_a_test() -> None:
    """A new example cannot go untested: every examples/*.json and
    examples/malformed/*.json is named by a test here, and every name exists."""
    on_disk = {p.name for p in EXAMPLES.glob("*.json")} | {p.name for p in MALFORMED.glob("*.json")}
    referenced = _referenced_examples()
    assert on_disk - referenced == set(), "examples without a test"
    assert referenced - on_disk == set(), "tests naming a missing example"
    # Both folders hold distinct names, so a name identifies one file.
    assert not {p.name for p in EXAMPLES.glob("*.json")} & {
        p.name for p in MALFORMED.glob("*.json")
    }


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_are_deterministic_and_top_level_compatible(path: Path) -> None:
    """Replaying an example twice gives byte-identical result JSON; its top level
    holds only the section 7 trace fields; it replays clean (exit 0)."""
    assert set(json.loads(path.read_text(encoding="utf-8"))) <= TRACE_FIELDS
    first = replay(model.load_trace(path))
    second = replay(model.load_trace(path))
    assert result_to_json(first.result) == result_to_json(second.result)
    assert first.exit_status == 0 and first.result.violations == []
