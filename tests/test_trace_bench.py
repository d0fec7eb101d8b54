"""vmss_spec/trace_bench.py: the load and replay figures of a large trace, and the
trace they are measured on. Figures, never timed assertions (the machines are
shared and noisy): the shape, and that the trace is valid and replays."""

from __future__ import annotations

from model.replay import replay
from model.trace import parse_trace
from vmss_spec.trace_bench import bench_trace, bench_validation


def test_bench_validation_reports_each_figure() -> None:
    figures = bench_validation(events=500, repeat=1)
    assert set(figures) == {
        "events",
        "bytes",
        "load_seconds",
        "events_per_second",
        "replay_seconds",
        "replay_events_per_second",
    }
    assert figures["events"] == 500 and figures["bytes"] > 500 * 30
    assert figures["load_seconds"] > 0 and figures["replay_seconds"] > 0
    assert figures["events_per_second"] == 500 / figures["load_seconds"]


def test_bench_trace_is_well_formed_and_replays_clean() -> None:
    trace = parse_trace(bench_trace(3000))
    kinds = {type(event).__name__ for event in trace.events}
    assert {"AppHealth", "OutageStart", "OutageEnd", "PublishImage", "UpdateModel"} <= kinds
    rep = replay(trace)
    assert rep.exit_status == 0, rep.result.violations[:1]
    assert rep.result.runs, "the publications start runs"
