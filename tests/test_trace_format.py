"""Section 7: the trace format's defaults, malformed traces (exit 2, one line
naming the place), well-formed events that are refused (`rejected`), and the
round trip trace -> JSON -> trace."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from model import (
    ImageReference,
    OutageStart,
    Policy,
    PublishImage,
    Timings,
    TraceError,
    load_trace,
    parse_trace,
    run_trace,
    trace_to_json,
)
from model.trace import load_trace_text, trace_to_dict
from vmss_spec.cli import main
from vmss_spec.replay import replay

IMAGE = {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS", "version": "latest"}
MINIMAL: dict[str, Any] = {
    "format": "vmss-upgrade-trace/1",
    "scale_set": {"instances": 10, "image": IMAGE},
    "events": [],
}


def trace(events: list[dict[str, Any]] | None = None, **scale_set: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["scale_set"].update(scale_set)
    data["events"] = events or []
    return data


# ----------------------------------------------------------------------- defaults
def test_defaults_of_the_scale_set() -> None:
    cfg = parse_trace(trace()).scale_set
    assert cfg.instances == 10
    assert cfg.image == ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest")
    assert cfg.catalog == ("1.0.0",)
    assert cfg.automatic_os_upgrade is True
    assert cfg.health_probe is None
    assert cfg.extensions == ()
    assert cfg.credentials == {}
    assert cfg.data_disks_per_instance == 1
    assert cfg.disk_encryption is False
    assert cfg.single_placement_group is True
    assert cfg.service_fabric is None
    assert cfg.location == "westeurope"
    assert cfg.epoch == "2018-10-01T00:00:00+00:00"
    p = cfg.policy
    assert (
        p.max_batch_instance_percent,
        p.max_unhealthy_instance_percent,
        p.max_unhealthy_upgraded_instance_percent,
        p.pause_time_between_batches,
        p.prioritize_unhealthy_instances,
        p.automatic_rollback,
    ) == (20, 20, None, "PT0S", False, False)
    t = cfg.timings
    assert (
        t.os_disk_seconds,
        t.extension_seconds,
        t.app_start_seconds,
        t.health_wait_seconds,
    ) == (120, 60, 30, 300)


def test_defaults_instances_start_on_latest_of_catalog() -> None:
    result = replay(parse_trace(trace(catalog=["1.2.0", "1.10.0", "1.9.0"]))).result
    assert {i.image_version for i in result.instances} == {"1.10.0"}
    assert [i.os_disk for i in result.instances][:2] == ["os-0-0", "os-1-0"]
    assert result.instances[0].data_disks == ["data-0-0"]


def test_defaults_of_nested_fields() -> None:
    lb = parse_trace(trace(health_probe={"kind": "load_balancer"})).scale_set.health_probe
    assert (lb.lb_sku, lb.interval_seconds) == ("Standard", 15)
    app = parse_trace(trace(health_probe={"kind": "application_health"})).scale_set.health_probe
    assert app.interval_seconds == 5
    sf = parse_trace(trace(service_fabric={"durability": "Gold"})).scale_set.service_fabric
    assert (sf.durability, sf.update_domains) == ("Gold", 5)
    ext = parse_trace(trace(extensions=[{"name": "CustomScript"}])).scale_set.extensions[0]
    assert ext.credentials == ()
    events = parse_trace(
        trace(
            [
                {"at": 1, "event": "outage_start", "instances": [1]},
                {"at": 2, "event": "publish_image", "version": "1.0.1"},
            ]
        )
    ).events
    assert events == (OutageStart(1, (1,), "unplanned"), PublishImage(2, "1.0.1", True))


def test_until_default_no_events_is_zero() -> None:
    assert run_trace(parse_trace(trace())).final_time == 0


def test_until_default_last_internal_step() -> None:
    events = [{"at": 100, "event": "publish_image", "version": "1.0.1"}]
    # No probe: 5 batches x 180 s from 100 = 1000. Probe: 5 x 210 s = 1150.
    assert run_trace(parse_trace(trace(events))).final_time == 1000
    probed = trace(events, health_probe={"kind": "load_balancer"})
    assert run_trace(parse_trace(probed)).final_time == 1150


def test_until_default_counts_the_application_coming_up() -> None:
    events = [{"at": 50, "event": "scale_out", "count": 1}]
    # Created at 50: disk 170, extensions 230; with a probe the app is up at 260.
    assert run_trace(parse_trace(trace(events))).final_time == 230
    probed = trace(events, health_probe={"kind": "load_balancer"})
    assert run_trace(parse_trace(probed)).final_time == 260


def test_until_default_last_event_when_nothing_follows() -> None:
    events = [{"at": 700, "event": "outage_start", "instances": [1]}]
    assert run_trace(parse_trace(trace(events))).final_time == 700


def test_until_default_capped_at_thirty_days_after_last_event() -> None:
    # Pause of 40 days: batch 1 ends at 280, the next check would be 40 days later.
    data = trace(
        [{"at": 100, "event": "publish_image", "version": "1.0.1"}],
        policy={"pause_time_between_batches": "P40D"},
    )
    rep = replay(parse_trace(data))
    assert rep.result.time == 100 + 30 * 86400
    assert rep.result.runs[0].code == "RollingForward"


def test_until_default_ignores_steps_that_no_longer_do_anything() -> None:
    # The same 40-day pause, but the run is cancelled at 300 (at once: no batch in
    # flight, D7): nothing happens after 300, so the trace ends there.
    data = trace(
        [
            {"at": 100, "event": "publish_image", "version": "1.0.1"},
            {"at": 300, "event": "cancel_upgrade"},
        ],
        policy={"pause_time_between_batches": "P40D"},
    )
    rep = replay(parse_trace(data))
    assert rep.result.time == 300
    assert (rep.result.runs[0].code, rep.result.runs[0].end) == ("Cancelled", 300)


def test_until_default_ignores_a_stale_health_deadline() -> None:
    # A 40-day health wait: every instance is healthy 30 s after its extensions, so
    # the deadlines left queued change nothing; the run ends at 100 + 5 x 210 = 1150.
    data = trace(
        [{"at": 100, "event": "publish_image", "version": "1.0.1"}],
        health_probe={"kind": "load_balancer"},
        timings={"health_wait_seconds": 40 * 86400},
    )
    assert replay(parse_trace(data)).result.time == 1150


def test_not_an_object() -> None:
    with pytest.raises(TraceError, match=r"^/: \[\] is not of type 'object'$"):
        parse_trace([])


def test_until_given_stops_there() -> None:
    data = trace([{"at": 100, "event": "publish_image", "version": "1.0.1"}])
    data["until"] = 200
    result = replay(parse_trace(data)).result
    assert result.time == 200
    assert (result.runs[0].code, result.runs[0].end) == ("RollingForward", None)
    assert result.runs[0].batches[0].end is None


# ----------------------------------------------------------------------- malformed
def _bad(mutate) -> dict[str, Any]:
    data = trace([{"at": 100, "event": "publish_image", "version": "1.0.1"}])
    mutate(data)
    return data


def _set(path: list[Any], value: Any):
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


MALFORMED = [
    # (id, mutation, the place, words of the problem)
    ("format", _set(["format"], "vmss-upgrade-trace/2"), "/format", "unknown format"),
    ("event", _set(["events", 0, "event"], "reboot"), "/events/0/event", "unknown event 'reboot'"),
    ("top-field", _set(["colour"], "red"), "/", "unknown field"),
    ("scale-set-field", _set(["scale_set", "zones"], 3), "/scale_set", "unknown field"),
    ("event-field", _set(["events", 0, "colour"], "red"), "/events/0", "unknown field"),
    ("policy-field", _set(["scale_set", "policy"], {"batch": 20}), "/scale_set/policy", "unknown"),
    ("type", _set(["scale_set", "instances"], "ten"), "/scale_set/instances", "not of type"),
    ("type-at", _set(["events", 0, "at"], 1.5), "/events/0/at", "not of type"),
    (
        "type-bool",
        _set(["scale_set", "disk_encryption"], "no"),
        "/scale_set/disk_encryption",
        "type",
    ),
    ("required", _set(["scale_set"], {"instances": 3}), "/scale_set", "'image' is a required"),
    ("missing-at", _set(["events", 0], {"event": "start_upgrade"}), "/events/0", "'at'"),
    (
        "backwards",
        _set(
            ["events"],
            [{"at": 100, "event": "start_upgrade"}, {"at": 99, "event": "start_upgrade"}],
        ),
        "/events/1/at",
        "99 is before the previous event's time 100",
    ),
    ("until", _set(["until"], 99), "/until", "99 is before the last event's time 100"),
    (
        "extension-credential",
        _set(["scale_set", "extensions"], [{"name": "CustomScript", "credentials": ["sas"]}]),
        "/scale_set/extensions/0/credentials/0",
        "credential 'sas' is not declared",
    ),
    (
        "event-credential",
        _set(["events", 0], {"at": 100, "event": "expire_credential", "name": "sas"}),
        "/events/0/name",
        "credential 'sas' is not declared",
    ),
    ("v9", _set(["scale_set", "instances"], 101), "/scale_set/instances", "V9"),
    ("v9-max", _set(["scale_set", "instances"], 1001), "/scale_set/instances", "V9"),
    (
        "v10",
        _set(["scale_set", "policy"], {"max_batch_instance_percent": 4}),
        "/scale_set/policy/max_batch_instance_percent",
        "V10",
    ),
    (
        "count",
        _set(["events", 0], {"at": 1, "event": "scale_out", "count": 0}),
        "/events/0/count",
        "minimum",
    ),
    (
        "outage-kind",
        _set(["events", 0], {"at": 1, "event": "outage_start", "instances": [1], "kind": "x"}),
        "/events/0/kind",
        "'x'",
    ),
    (
        "probe-kind",
        _set(["scale_set", "health_probe"], {"lb_sku": "Basic"}),
        "/scale_set/health_probe",
        "'kind'",
    ),
    (
        "sf-durability",
        _set(["scale_set", "service_fabric"], {}),
        "/scale_set/service_fabric",
        "durability",
    ),
    ("epoch", _set(["scale_set", "epoch"], "yesterday"), "/scale_set/epoch", "'yesterday'"),
    ("no-scale-set", lambda data: data.pop("scale_set"), "/", "'scale_set' is a required"),
    ("no-format", lambda data: data.pop("format"), "/format", "format"),
]


@pytest.mark.parametrize(
    ("mutate", "place", "problem"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_trace_raises_one_line_naming_the_place(mutate, place: str, problem: str) -> None:
    with pytest.raises(TraceError) as info:
        parse_trace(_bad(mutate))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(place + ": "), message
    assert problem in message


@pytest.mark.parametrize(
    ("mutate", "place", "problem"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_trace_cli_exit_2(
    mutate, place: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bad(mutate)))
    assert main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert f"{path}: {place}: " in err and problem in err
    assert "Traceback" not in err


def test_not_json_names_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    # Line 3 is `  "events": [1,,]`: 2 spaces, `"events"` (3-10), `:` 11, space 12,
    # `[` 13, `1` 14, `,` 15: the second comma, where a value is expected, is column 16.
    path.write_text('{\n  "format": "vmss-upgrade-trace/1",\n  "events": [1,,]\n}\n')
    with pytest.raises(TraceError) as info:
        load_trace(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3:16: not JSON")
    assert "\n" not in message
    assert main(["replay", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and f"{path}:3:16: not JSON" in err


def test_empty_file_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("")
    with pytest.raises(TraceError, match=r"empty\.json:1:1: not JSON"):
        load_trace(path)


def test_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.json"
    assert main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and str(path) in err


def test_load_trace_text_names_the_source() -> None:
    with pytest.raises(TraceError, match=r"^mine\.json: /format: unknown format"):
        load_trace_text(json.dumps({**MINIMAL, "format": "x"}), "mine.json")


# ----------------------------------------------------------------------- refused events
def test_refused_events_go_under_rejected_and_replay_goes_on() -> None:
    # Service Fabric (5 UDs), Bronze (V6), opted out. A User run from 30: UD k =
    # {k, k + 5}, 5 batches x 180 s: Completed at 930.
    data = trace(
        [
            {"at": 10, "event": "publish_image", "version": "1.0.1"},
            {"at": 20, "event": "set_automatic_upgrade", "enabled": True},
            {"at": 30, "event": "start_upgrade"},
            {"at": 40, "event": "start_upgrade"},
            {"at": 50, "event": "publish_image", "version": "1.0.1"},
            {"at": 60, "event": "scale_in", "count": 9},
            {"at": 70, "event": "outage_start", "instances": [12]},
            {"at": 80, "event": "cancel_upgrade"},
        ],
        automatic_os_upgrade=False,
        service_fabric={"durability": "Bronze"},
    )
    data["events"].pop()  # keep the cancel out: the run must go on
    rep = replay(parse_trace(data))
    result = rep.result
    assert [(r.at, r.event, r.reason.split(":")[0]) for r in result.rejected] == [
        (20, "set_automatic_upgrade", "V6"),
        (40, "start_upgrade", "409"),
        (50, "publish_image", "D14"),
        (60, "scale_in", "D9"),
        (70, "outage_start", "no such instance"),
    ]
    assert result.rejected[0].reason.startswith("V6: service_fabric.durability: ")
    assert result.rejected[4].reason == "no such instance: 12"
    assert [(r.started_by, r.code, r.start, r.end) for r in result.runs] == [
        ("User", "Completed", 30, 930)
    ]
    assert rep.exit_status == 0


def test_refused_event_in_cli_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(trace([{"at": 5, "event": "cancel_upgrade"}])))
    assert main(["replay", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rejected"] == [
        {"at": 5, "event": "cancel_upgrade", "reason": "409: no run is active"}
    ]


def test_v_error_in_initial_scale_set_reported_at_zero() -> None:
    result = replay(parse_trace(trace(disk_encryption=True))).result
    assert [(r.at, r.event) for r in result.rejected] == [(0, "set_automatic_upgrade")]
    assert result.rejected[0].reason.startswith("V4: disk_encryption: ")


# ----------------------------------------------------------------------- round trip
RICH: dict[str, Any] = {
    "format": "vmss-upgrade-trace/1",
    "scale_set": {
        "instances": 12,
        "image": IMAGE,
        "catalog": ["18.04.201810030", "18.04.201809010"],
        "automatic_os_upgrade": False,
        "health_probe": {"kind": "application_health", "interval_seconds": 7},
        "extensions": [{"name": "CustomScript", "credentials": ["sas", "cert"]}, {"name": "Other"}],
        "credentials": {"sas": {"expires_at": 31536000}, "cert": {"expires_at": 99}},
        "data_disks_per_instance": 2,
        "disk_encryption": False,
        "single_placement_group": False,
        "service_fabric": {"durability": "Silver", "update_domains": 3},
        "policy": {
            "max_batch_instance_percent": 30,
            "max_unhealthy_instance_percent": 40,
            "max_unhealthy_upgraded_instance_percent": 0,
            "pause_time_between_batches": "PT1M",
            "prioritize_unhealthy_instances": True,
            "automatic_rollback": True,
        },
        "timings": {"os_disk_seconds": 10, "extension_seconds": 5},
        "location": "eastus",
        "epoch": "2020-01-01T00:00:00+00:00",
    },
    "events": [
        {"at": 1, "event": "publish_image", "version": "18.04.201811010", "app_healthy": False},
        {"at": 2, "event": "outage_start", "instances": [1, 2], "kind": "planned"},
        {"at": 3, "event": "outage_end", "instances": [1]},
        {"at": 4, "event": "app_health", "instances": [0], "healthy": False},
        {"at": 5, "event": "expire_credential", "name": "sas"},
        {"at": 6, "event": "regenerate_credential", "name": "sas", "expires_at": 500},
        {"at": 7, "event": "update_model"},
        {"at": 8, "event": "scale_out", "count": 2},
        {"at": 9, "event": "scale_in", "count": 1},
        {"at": 10, "event": "set_automatic_upgrade", "enabled": True},
        {"at": 11, "event": "start_upgrade"},
        {"at": 12, "event": "cancel_upgrade"},
    ],
    "until": 5000,
}


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rich.json"
    path.write_text(json.dumps(RICH))
    loaded = load_trace(path)
    again = load_trace_text(trace_to_json(loaded), "again")
    assert again == loaded
    assert loaded.scale_set.timings == Timings(10, 5, 30, 300)
    assert loaded.scale_set.policy == Policy(30, 40, 0, "PT1M", True, True)
    assert len(loaded.events) == 12


def test_round_trip_minimal_without_until() -> None:
    loaded = parse_trace(trace([{"at": 3, "event": "start_upgrade"}]))
    data = trace_to_dict(loaded)
    assert "until" not in data
    assert list(data) == ["format", "scale_set", "events"]
    assert data["events"] == [{"at": 3, "event": "start_upgrade"}]
    assert parse_trace(data) == loaded


def test_section7_too_many_ids_in_one_event_is_refused_without_walking_them(monkeypatch) -> None:
    """An event naming more instances than section 7 allows is refused with
    the schema's message, before jsonschema would validate each id (the
    refusal costs the same whatever the size of the list)."""
    from model import trace as trace_module

    examples = Path(__file__).resolve().parent.parent / "examples"
    document = json.loads((examples / "maintenance-during-batch.json").read_text("utf-8"))
    document["events"] = [
        {"at": 10, "event": "outage_start", "kind": "unplanned", "instances": [0] * 200_000}
    ]

    class Never:
        def __init__(self, *api: str) -> None:
            pass

        def iter_errors(self, instance):
            raise AssertionError("the schema validator walked the list")

    monkeypatch.setattr(trace_module, "event_validator", Never)
    with pytest.raises(TraceError) as refused:
        trace_module.load_trace_text(json.dumps(document), "t.json")
    assert str(refused.value) == "t.json: /events/0/instances: 200,000 items are more than 1,000"
