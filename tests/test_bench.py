"""`vmss-spec bench`: the figures and their shape, measured on tiny
inputs. No timed assertions: speed is what the benchmark reports, not what a
test asserts (the machines are shared and noisy)."""

from __future__ import annotations

import json

import pytest

from vmss_spec import bench
from vmss_spec.cli import main

FLEET_KEYS = {"instances", "seconds", "seconds_with_invariants", "peak_mb", "steps_per_second"}


def test_bench_fleet_upgrades_complete_and_report_each_figure() -> None:
    rows = bench.bench_fleet(repeat=1, sizes=(5, 20))
    assert [r["instances"] for r in rows] == [5, 20]
    for row in rows:
        assert set(row) == FLEET_KEYS
        assert row["steps_per_second"] > 0 and row["peak_mb"] >= 0


def test_bench_fleet_counts_the_internal_steps_r6_d7a() -> None:
    # R3, R6: with a probe each instance takes 3 steps that do something (OS disk
    # in place, extensions provisioned, application up: done); D1: cap(10) = 2,
    # so 5 batches, each ending with a run step (D7a), 4 of them followed by
    # the pre-batch check after a pause of 0 s. Stale health deadlines do nothing.
    _, steps = bench.upgrade_fleet(10, check=True)
    assert steps == 10 * 3 + 5 + 4


def test_bench_variants_finds_a_broken_variant() -> None:
    rows = bench.bench_variants(seeds=(0,), names=("progress_off_by_one",))
    assert rows[0]["name"] == "progress_off_by_one"
    assert rows[0]["seconds"] is not None


def test_bench_json_has_the_documented_shape(monkeypatch, capsys) -> None:
    def small(quick: bool, variants: bool, progress: object = None) -> dict:
        return {
            "fleet": bench.bench_fleet(repeat=1, sizes=(5,)),
            "stateful": bench.bench_stateful(examples=3, steps=5, rounds=2),
            "workers": bench.bench_workers(seconds=1.0),
            "trace": bench.bench_trace_load(events=200, repeat=1),
            "variants": [{"name": "progress_off_by_one", "seconds": 1.0}],
        }

    monkeypatch.setattr(bench, "run_bench", small)
    assert main(["bench", "--quick", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"fleet", "stateful", "workers", "trace", "variants"}
    assert figures["trace"]["events"] == 200 and figures["trace"]["load_seconds"] > 0
    assert [row["workers"] for row in figures["workers"]] == [1, 2]
    assert set(figures["workers"][0]) == {
        "workers",
        "seconds",
        "examples",
        "steps",
        "steps_per_second",
        "counterexamples",
        "speedup",
    }
    assert all(row["steps"] > 0 for row in figures["workers"])
    assert set(figures["fleet"][0]) == FLEET_KEYS
    assert set(figures["stateful"]) == {
        "steps_per_second",
        "engine_floor_steps_per_second",
        "ratio",
        "ratio_min",
        "ratio_max",
        "rounds",
        "model_alone_ratio",
        "properties_share",
        "properties_share_min",
        "properties_share_max",
    }
    assert figures["stateful"]["ratio"] > 0 and figures["stateful"]["model_alone_ratio"] > 0
    s = figures["stateful"]
    assert s["properties_share_min"] <= s["properties_share"] <= s["properties_share_max"]
    assert set(figures["variants"][0]) == {"name", "seconds"}


def test_bench_model_alone_runs_the_same_examples_and_checks_nothing() -> None:
    """The model-alone figure is what it says: the same steps as the checking
    machine on the real model, and under a broken variant no property fails."""
    from hypothesis.stateful import run_state_machine_as_test

    from properties.campaign import Campaign
    from properties.machine import UpgradeMachine
    from properties.mutants import MUTANTS

    chosen = bench._stateful_settings(40, 20)
    checked, quiet = Campaign(out_dir=None), Campaign(out_dir=None)
    run_state_machine_as_test(UpgradeMachine.for_campaign(checked), settings=chosen)
    run_state_machine_as_test(UpgradeMachine.for_campaign(quiet, checking=False), settings=chosen)
    assert quiet.steps == checked.steps > 0
    assert sum(checked.applications.values()) > 0 and sum(quiet.applications.values()) == 0
    with MUTANTS["progress_off_by_one"].applied():
        with pytest.raises(AssertionError):  # the checking machine finds it ...
            run_state_machine_as_test(
                UpgradeMachine.for_campaign(Campaign(out_dir=None)), settings=chosen
            )
        run_state_machine_as_test(  # ... the model alone checks nothing
            UpgradeMachine.for_campaign(Campaign(out_dir=None), checking=False), settings=chosen
        )


# ---------------------------------------------------------------- the page
def _tiny_figures(quick: bool, variants: bool, progress: object = None) -> dict:
    from vmss_spec.bench_page import machine

    return {
        "machine": machine(),
        "fleet": bench.bench_fleet(repeat=1, sizes=(5,)),
        "stateful": bench.bench_stateful(examples=3, steps=5, rounds=1),
        "trace": bench.bench_trace_load(events=200, repeat=1),
    }


def test_bench_markdown_writes_the_whole_page_with_the_machine(
    monkeypatch, capsys, tmp_path
) -> None:
    from vmss_spec.bench_page import MARKER, PROSE, machine

    monkeypatch.setattr(bench, "run_bench", _tiny_figures)
    page = tmp_path / "benchmarks.md"
    assert main(["bench", "--quick", "--markdown", str(page)]) == 0
    printed = capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert text.startswith(PROSE + "\n## Figures\n\n" + MARKER + "\n")
    m = machine()
    assert f"on {m['cpu']}, {m['cores']} core" in text and m["python"] in text
    # the figures on the page are the ones the command printed, whole
    assert f"```text\n{printed}```\n" in text
    assert list(tmp_path.iterdir()) == [page]  # no temporary file left beside it


def test_docs_benchmarks_page_is_the_generators_prose() -> None:
    """docs/benchmarks.md is written by ``vmss-spec bench --markdown``: its
    prose is the generator's, and a machine and figures follow it."""
    from pathlib import Path

    from vmss_spec.bench_page import MARKER, PROSE

    text = (Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md").read_text(
        encoding="utf-8"
    )
    assert text.startswith(
        PROSE + "\n## Figures\n\n" + MARKER + "\n\nMeasured by `vmss-spec bench` on "
    )
    assert "fleet: one complete automatic upgrade" in text and "scaling: seconds" in text


def test_bench_markdown_refuses_a_path_it_cannot_write_before_any_work(
    monkeypatch, capsys, tmp_path
) -> None:
    def never(*args: object, **kwargs: object) -> dict:
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(bench, "run_bench", never)
    for path in (tmp_path / "no" / "such" / "page.md", tmp_path):
        assert main(["bench", "--markdown", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"vmss-spec bench: --markdown {path}: ")


def test_bench_cpu_model_is_read_from_cpuinfo(tmp_path) -> None:
    from vmss_spec.bench_page import cpu_model

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t: fpu\n")
    assert cpu_model(info) == "Example CPU 9000"
    assert cpu_model(tmp_path / "missing")  # falls back to what platform says
