"""Campaigns that grow (``vmss-spec verify``): a time budget, several worker
processes merged into one table, the summary as JSON, a shared example
database (a directory or a real Redis server), interrupts that keep the
partial table, progress lines, and the broken variants from the command line."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from properties.campaign import Campaign, derived_seed
from properties.mutants import MUTANTS
from properties.rules_all import PROPERTIES
from vmss_spec import report
from vmss_spec.cli import main
from vmss_spec.verify import parse_duration
from vmss_spec.workers import worker_seeds

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--profile", "ci", "--max-examples", "8", "--steps", "5"]


def _json(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


# ------------------------------------------------------------------ the time budget
@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("45", 45)]
)
def test_duration_accepts_seconds_minutes_hours(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "abc", "-5s", "10x", "", "1.5h"])
def test_duration_bad_value_exit_2_one_line(text: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--duration", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--duration" in err


def test_duration_runs_examples_until_the_budget_is_spent(tmp_path, capsys) -> None:
    """--duration 3s alone: examples are generated past the profile's own count
    bound would allow in the time, the campaign ends once 3 s are spent (the
    example in flight finishes), and the summary gives the budget."""
    args = ["verify", "--profile", "ci", "--steps", "5", "--duration", "3s", "--json"]
    started = time.monotonic()
    main([*args, "--out", str(tmp_path)])
    took = time.monotonic() - started
    summary, err = _json(capsys)
    assert summary["budget_seconds"] == 3.0 and summary["max_examples"] is None
    assert 3.0 <= summary["elapsed_seconds"] < 3.0 + 20 and took < 3.0 + 30
    assert summary["examples"] > 0
    assert "vmss-spec verify: profile ci, seed 0, for up to 3s, examples of up to 5 steps" in err


def test_duration_and_max_examples_whichever_comes_first(tmp_path, capsys) -> None:
    """With a budget of an hour and 5 examples, the count ends the campaign."""
    main(
        [
            "verify",
            *SMALL[:2],
            "--max-examples",
            "5",
            "--duration",
            "1h",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    summary, _ = _json(capsys)
    assert summary["max_examples"] == 5 and summary["elapsed_seconds"] < 600
    assert 5 <= summary["examples"] < 50


# ------------------------------------------------------------------ every core
def test_worker_seeds_derive_from_the_campaign_seed() -> None:
    """Worker 1 runs the campaign's own seed (one worker is the plain campaign);
    the others' seeds are derived from it: reproducible from one number."""
    assert worker_seeds(7, 3) == [7, derived_seed(7, "worker", 1), derived_seed(7, "worker", 2)]
    assert worker_seeds(7, 3) == worker_seeds(7, 3)
    assert len(set(worker_seeds(7, 4))) == 4


def test_workers_table_is_the_sum_of_each_workers_campaign(tmp_path, capsys) -> None:
    """--workers 2: the merged counts are the sums of running each worker's
    seed alone (evaluations, applications, scenarios, examples, steps), and
    the same seed gives the same merged campaign."""
    main(
        ["verify", *SMALL, "--seed", "3", "--workers", "2", "--json", "--out", str(tmp_path / "w")]
    )
    merged, err = _json(capsys)
    assert merged["workers"] == 2 and merged["worker_seeds"] == worker_seeds(3, 2)
    assert "2 workers (seeds 3, " in err
    alone = []
    for k, seed in enumerate(merged["worker_seeds"]):
        main(["verify", *SMALL, "--seed", str(seed), "--json", "--out", str(tmp_path / f"{k}")])
        alone.append(_json(capsys)[0])
    for key in ("examples", "steps"):
        assert merged[key] == sum(a[key] for a in alone), key
    for k, prop in enumerate(merged["properties"]):
        for key in ("evaluations", "applications"):
            assert prop[key] == sum(a["properties"][k][key] for a in alone), (prop["name"], key)
    for name, count in merged["scenarios"].items():
        assert count == sum(a["scenarios"][name] for a in alone), name
    main(
        ["verify", *SMALL, "--seed", "3", "--workers", "2", "--json", "--out", str(tmp_path / "v")]
    )
    again = _json(capsys)[0]
    assert (again["examples"], again["steps"], again["properties"], again["scenarios"]) == (
        merged["examples"],
        merged["steps"],
        merged["properties"],
        merged["scenarios"],
    )


@pytest.mark.parametrize("text", ["0", "-1", "two", "", "auto2"])
def test_workers_bad_value_exit_2_one_line(text: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--workers", text])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers" in err


def test_workers_auto_is_the_machines_cores(tmp_path) -> None:
    from vmss_spec.options import _workers

    assert _workers("auto") == len(os.sched_getaffinity(0))
    assert _workers("3") == 3


def test_workers_counterexamples_deduplicated_by_property_with_their_seed(tmp_path, capsys) -> None:
    """Both workers find the lost data disk (I5); the table lists it once, with
    the seed of the worker that found it, and exits 1."""
    args = ["verify", "--profile", "ci", "--workers", "2", "--seed", "0", "--json"]
    status = main([*args, "--mutant", "data_disk_lost_on_reimage", "--out", str(tmp_path)])
    summary, err = _json(capsys)
    assert status == 1 and summary["exit_status"] == 1
    names = [ce["property"] for ce in summary["counterexamples"]]
    assert len(names) == len(set(names)) and "I5" in names
    (ce,) = [c for c in summary["counterexamples"] if c["property"] == "I5"]
    assert ce["seed"] in summary["worker_seeds"]
    assert ce["replay"] == "same under data_disk_lost_on_reimage"
    assert f"(worker seed {ce['seed']})" in err


# ------------------------------------------------------------------ --json
def test_json_summary_on_stdout_table_on_stderr(tmp_path, capsys) -> None:
    """--json: stdout is exactly one JSON object with the campaign's parameters,
    counts, properties, scenarios and counterexamples; the table is on stderr."""
    status = main(["verify", *SMALL, "--seed", "1", "--json", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1
    summary = json.loads(captured.out)
    for key in ("profile", "seed", "workers", "examples", "steps", "elapsed_seconds"):
        assert key in summary, key
    assert (summary["profile"], summary["seed"], summary["workers"]) == ("ci", 1, 1)
    assert summary["exit_status"] == status
    assert [p["name"] for p in summary["properties"]] == list(PROPERTIES)
    from properties.rules_all import REPLAY_ONLY

    for prop in summary["properties"]:
        assert prop["verdict"] in ("held", "violated", "never applied", "replay-only")
        assert (prop["verdict"] == "replay-only") == (prop["name"] in REPLAY_ONLY)
        assert prop["evaluations"] >= prop["applications"] >= 0
    assert all(isinstance(v, int) for v in summary["scenarios"].values())
    assert summary["counterexamples"] == []
    assert "vmss-spec verify: profile ci, seed 1" in captured.err
    assert "steps run:" in captured.err


# ------------------------------------------------------------------ the example database
def test_database_directory_replays_a_failure_for_a_fresh_out(tmp_path, capsys) -> None:
    """--database DIR: a second campaign with a fresh --out, one example, finds
    the first campaign's counterexample again from the shared directory."""
    _database_finds_it_again(str(tmp_path / "db"), tmp_path, capsys)


def test_database_redis_replays_a_failure_for_a_fresh_out(redis_url, tmp_path, capsys) -> None:
    """--database redis://...: the counterexample one campaign found is in the
    Redis server, and a second campaign (fresh --out, max-examples 1) finds it
    again from there, as campaigns on two machines sharing the server would."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    _database_finds_it_again(redis_url, tmp_path, capsys)
    assert client.keys("hypothesis-example:*"), "the failure is stored in Redis"


def _database_finds_it_again(database: str, tmp_path: Path, capsys) -> None:
    args = ["verify", "--profile", "ci", "--json", "--database", database]
    with MUTANTS["data_disk_lost_on_reimage"].applied():
        assert main([*args, "--out", str(tmp_path / "first")]) == 1
        first = [ce["property"] for ce in _json(capsys)[0]["counterexamples"]]
        assert first
        status = main([*args, "--max-examples", "1", "--out", str(tmp_path / "second")])
        again = _json(capsys)[0]
    assert status == 1
    assert again["counterexamples"] and again["counterexamples"][0]["property"] in first
    assert Path(again["counterexamples"][0]["trace"]).parent == tmp_path / "second"


def test_database_unreachable_redis_exit_2_one_line(capsys) -> None:
    status = main(["verify", *SMALL, "--database", "redis://127.0.0.1:1/0"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "--database" in err


def test_database_a_file_exit_2_one_line(tmp_path, capsys) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("")
    status = main(["verify", *SMALL, "--database", str(blocker), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "not a directory" in err


# ------------------------------------------------------------------ interrupts and progress
def _interrupt(tmp_path: Path, extra: list[str], sig: int) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vmss_spec.cli", "verify", "--duration", "10m"]
    proc = subprocess.Popen(
        [*command, *extra, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    # Wait until the campaign runs (its first progress line, two seconds in),
    # then a little longer, then signal it.
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("verify: "), first
    time.sleep(2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, first + err)


def test_sigint_prints_the_partial_table_and_exits_130(tmp_path) -> None:
    """SIGINT after a few seconds of a ten-minute campaign: it stops, prints the
    table of what ran (marked as interrupted) and exits 130."""
    done = _interrupt(tmp_path, ["--profile", "ci"], signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert "INTERRUPTED" in done.stdout
    examples = [line for line in done.stdout.splitlines() if line.startswith("examples run:")]
    assert int(examples[0].split()[2]) > 0
    assert "counterexamples: none in what ran before the interrupt" in done.stdout
    assert "Traceback" not in done.stderr


def test_sigterm_stops_every_worker_and_exits_130(tmp_path) -> None:
    """SIGTERM to the parent of two workers: both stop, the merged partial table
    (as JSON here) is printed, exit 130."""
    done = _interrupt(tmp_path, ["--profile", "ci", "--workers", "2", "--json"], signal.SIGTERM)
    assert done.returncode == 130, done.stderr
    summary = json.loads(done.stdout)
    assert summary["interrupted"] is True and summary["workers"] == 2
    assert summary["examples"] > 0 and summary["exit_status"] == 130
    assert "Traceback" not in done.stderr


def test_progress_line_gives_rates_budget_and_counterexamples() -> None:
    stats = Campaign(out_dir=None, budget=30.0)
    stats.started -= 10
    stats.examples, stats.steps = 50, 1000
    stats.failed.add("I5")
    line = report.progress_line(stats)
    assert line.startswith("verify: 50 examples (5.0/s), 1000 steps (100/s), 10s of 30s")
    assert line.endswith("1 counterexamples")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_live_line_on_a_terminal_plain_lines_otherwise() -> None:
    stats = Campaign(out_dir=None)
    live, plain = _Terminal(), io.StringIO()
    for stream in (live, plain):
        show = report.progress_printer(stream, every=0.0)
        show(stats)
        show(stats)
    assert live.getvalue().count("\r") == 2 and "\n" not in live.getvalue()
    assert plain.getvalue().count("\n") == 2 and "\r" not in plain.getvalue()


# ------------------------------------------------------------------ --mutant
def test_verify_mutant_runs_against_the_variant_and_says_so(tmp_path, capsys) -> None:
    """verify --mutant: the campaign runs under the broken variant (exit 1), the
    table says so, and the replay column says the trace was replayed under it."""
    name = "data_disk_lost_on_reimage"
    status = main(["verify", "--profile", "ci", "--mutant", name, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 1
    assert f"under the broken variant {name}: {MUTANTS[name].description}" in captured.out
    assert f"same under {name}" in captured.out
    assert f"vmss-spec replay --mutant {name} " in captured.err
    # and the model itself is restored afterwards
    assert main(["verify", *SMALL, "--json", "--out", str(tmp_path / "real")]) in (0, 1)
    assert _json(capsys)[0]["counterexamples"] == []


def test_mutant_unknown_name_exit_2_listing_the_valid_ones(tmp_path, capsys) -> None:
    for argv in (
        ["verify", "--mutant", "nope", "--out", str(tmp_path)],
        ["replay", "--mutant", "nope", str(ROOT / "examples" / "rolling-upgrade-10.json")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "nope" in err
        assert all(name in err for name in MUTANTS)


def test_replay_mutant_replays_under_the_variant_and_says_so(tmp_path, capsys) -> None:
    """replay --mutant: the counterexample found under the variant violates the
    same property again under it (exit 1) and nothing on the real model."""
    name = "data_disk_lost_on_reimage"
    main(["verify", "--profile", "ci", "--mutant", name, "--json", "--out", str(tmp_path)])
    found = _json(capsys)[0]["counterexamples"]
    (ce,) = [c for c in found if c["property"] == MUTANTS[name].invariant]
    assert main(["replay", "--mutant", name, ce["trace"]]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"replayed under the broken variant {name}")
    assert ce["property"] in out
    assert main(["replay", "--mutant", name, "--json", ce["trace"]]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["violations"][0]["invariant"] == ce["property"]
    assert f"under the broken variant {name}" in captured.err
    assert main(["replay", ce["trace"]]) == 0
