"""`vmss-spec bench`'s scaling series (vmss_spec/scaling.py) and start-up
figures: the shapes are section 7 traces, every command runs on each, the
growth is reported per doubling. No timed assertions (figures only)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from model.trace import TraceError, load_trace_text
from vmss_spec import bench, check_bench, scaling
from vmss_spec.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rolling-upgrade-10.json"


@pytest.mark.parametrize("name", [n for n in scaling.SHAPES if n != "refused_ids"])
def test_each_scaling_shape_is_a_well_formed_trace_that_grows_in_one_dimension(name) -> None:
    _, make, sizes, quick = scaling.SHAPES[name]
    assert len(sizes) == len(quick) == 3
    assert all(b == 2 * a for a, b in zip(sizes, sizes[1:], strict=False))
    small, double = make(2), make(4)
    load_trace_text(json.dumps(small))  # section 7: accepted
    assert small["scale_set"] == double["scale_set"]
    assert len(double["events"]) == 2 * len(small["events"])


def test_refused_ids_shape_is_refused_naming_the_bound() -> None:
    with pytest.raises(TraceError, match=r"/events/0/instances: 1,001 items are more than 1,000"):
        load_trace_text(json.dumps(scaling.refused_ids(1001)))


def test_bench_scaling_runs_every_mode_on_every_size() -> None:
    rows = scaling.bench_scaling(repeat=1, shapes=("outages",), sizes=(2, 4, 8))
    rows += scaling.bench_scaling(repeat=1, shapes=("refused_ids",), sizes=(1001, 2002, 4004))
    assert [(r["shape"], r["mode"]) for r in rows] == [
        ("outages", "replay"),
        ("outages", "explain"),
        ("outages", "json"),
        ("outages", "html"),
        ("refused_ids", "replay"),
    ]
    for row in rows:
        assert len(row["sizes"]) == len(row["seconds"]) == 3
        growth = (row["seconds"][2] / row["seconds"][0]) ** 0.5
        assert row["growth_per_doubling"] == pytest.approx(growth, rel=0.05)
        assert row["exponent"] == pytest.approx(math.log2(row["growth_per_doubling"]), abs=0.01)
    assert [r["exit_statuses"] for r in rows] == [[0], [0], [0], [0], [2]]
    assert rows[0]["events"] == [4, 8, 16]  # an outage is a start and an end
    text = "\n".join(scaling.format_scaling(rows))
    assert "largest exponent" in text and "refused_ids" in text


def test_bench_startup_reports_both_ratios() -> None:
    figures = scaling.bench_startup(EXAMPLE, repeat=1)
    for key in ("python_pass", "replay_imports", "version", "replay_example"):
        assert figures[f"{key}_seconds"] > 0
    assert figures["version_ratio"] == pytest.approx(
        figures["version_seconds"] / figures["python_pass_seconds"], rel=0.05
    )
    assert figures["replay_ratio"] > 0


def test_bench_says_what_it_measures_on_stderr_as_it_goes(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "bench_fleet", lambda repeat: [])
    monkeypatch.setattr(bench, "bench_stateful", lambda examples, rounds: {})
    monkeypatch.setattr(bench, "bench_workers", lambda seconds: [])
    monkeypatch.setattr(bench, "bench_trace_load", lambda events, repeat: {})
    monkeypatch.setattr(scaling, "bench_startup", lambda example, repeat: {})
    monkeypatch.setattr(scaling, "bench_scaling", lambda quick, repeat, progress: [])
    monkeypatch.setattr(check_bench, "bench_check", lambda quick: {})
    monkeypatch.setattr(bench, "format_bench", lambda figures: "figures\n")
    assert main(["bench", "--quick"]) == 0
    out, err = capsys.readouterr()
    assert out == "figures\n"
    lines = err.splitlines()
    assert lines[0] == "vmss-spec bench: [1/7] fleet..."
    assert lines[-3].startswith("vmss-spec bench: [6/7] scaling: ")
    assert lines[-1].startswith("vmss-spec bench: [7/7] check: ")
    assert len(lines) == 14
