"""``vmss-spec verify`` (vmss_spec/verify.py): the campaign, its table, its
exit status (0 every property held, 1 a counterexample, 2 bad arguments),
its progress output and its example database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from properties.campaign import PROFILES
from properties.coverage import SCENARIOS
from properties.mutants import MUTANTS
from properties.rules_all import PROPERTIES, REPLAY_ONLY
from vmss_spec import verify
from vmss_spec.cli import main


def test_section6_verify_ci_profile_holds_and_prints_the_table(tmp_path, capsys) -> None:
    """I1-I12, L1, L2 on the ci profile: exit 0, and the table lists each
    property with a positive evaluation count, the examples and steps run,
    and each scenario with its count."""
    assert main(["verify", "--profile", "ci", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    examples, steps = PROFILES["ci"]
    assert lines[0].startswith(
        f"vmss-spec verify: profile ci, seed 0, up to {examples} examples of up to {steps} steps"
    )
    for name, title in PROPERTIES.items():
        (row,) = [line for line in lines if line.split()[:1] == [name]]
        assert row.endswith(title), row
        evaluations, applied, result = row[: -len(title)].split()[-3:]
        if name in REPLAY_ONLY:  # a rule of a replayed document alone
            assert (evaluations, applied, result) == ("0", "0", "replay-only"), row
            continue
        assert int(evaluations) >= int(applied) > 0 and result == "held", row
    assert any(line.startswith("examples run: ") for line in lines)
    steps = [line for line in lines if line.startswith("steps run:")]
    assert int(steps[0].split()[-1]) > 0
    for scenario in SCENARIOS:
        assert any(line.startswith(scenario) for line in lines), scenario
    assert (
        lines[-1] == "counterexamples: none; every property held, each on the steps it applied to"
    )


def test_section6_verify_is_deterministic_for_a_seed(tmp_path, capsys) -> None:
    """The same seed and settings run the same examples (the table's counts agree)."""
    args = ["verify", "--profile", "ci", "--seed", "7", "--max-examples", "20", "--steps", "10"]
    status = main([*args, "--out", str(tmp_path / "a")])
    out = capsys.readouterr().out
    assert "up to 20 examples of up to 10 steps" in out.splitlines()[0]
    first = out.splitlines()[2:]
    assert main([*args, "--out", str(tmp_path / "b")]) == status
    second = capsys.readouterr().out.splitlines()[2:]
    assert first == second


_FINGERPRINT = """
import sys
for name in sys.argv[1:]:
    __import__(name)
from properties.campaign import run_campaign
c = run_campaign("ci", seed=3, max_examples=60, out_dir=None, database=False).campaign
print(c.examples, c.steps, sorted(c.applications.items()), sorted(c.scenarios.items()))
"""


def test_section6_a_campaign_depends_on_its_seed_not_on_what_the_process_imported() -> None:
    """The same seed gives the same histories in a process that imported only
    the campaign and in one that imported the whole command line and a test
    module first (Hypothesis draws literals from loaded modules unless pinned)."""

    def fingerprint(*modules: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT, *modules],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    alone = fingerprint()
    assert int(alone.split()[0]) >= 60, alone[:200]
    assert fingerprint("vmss_spec.cli", "vmss_spec.check", "tests.test_docs") == alone


def test_section6_verify_exit_1_names_the_invariant_and_the_trace(tmp_path, capsys) -> None:
    """D1: with the batch cap rounded up, verify exits 1; the table names D2's
    batch property as violated and gives the saved trace, which replays to
    the same property at the same time."""
    name = "batch_is_d2_choice"
    with MUTANTS["batch_cap_rounded_up"].applied():
        status = main(["verify", "--profile", "ci", "--out", str(tmp_path)])
        captured = capsys.readouterr()
        assert status == 1
        lines = captured.out.splitlines()
        (row,) = [line for line in lines if line.split()[:1] == [name]]
        assert " VIOLATED " in row
        rows = [line for line in lines if line.split()[1:2] == [name] and line[:1].isdigit()]
        assert rows, captured.out
        at, _events, replayed, path = rows[0].split()[2:]
        assert replayed == "same"
        assert path.startswith(str(tmp_path)) and path.endswith(".json")
        assert main(["replay", path, "--json"]) == 1
        result = json.loads(capsys.readouterr().out)
        assert result["violations"][0]["invariant"] == name
        assert f"{result['violations'][0]['at']}s" == at
    # The shrunk history on stderr, in the project's words: its events and the
    # command that replays it (not Hypothesis' rule calls or its hints for test authors).
    assert "the shrunk history" in captured.err
    assert f"replay it: vmss-spec replay {path}" in captured.err
    assert "state." not in captured.err and "reproduce_failure" not in captured.err


def test_section6_verify_rerun_tries_the_saved_failure_first(tmp_path, capsys) -> None:
    """The example database under --out: a second run, even of one example,
    replays the failure it saved and finds the counterexample again."""
    with MUTANTS["data_disk_lost_on_reimage"].applied():
        assert main(["verify", "--profile", "ci", "--out", str(tmp_path)]) == 1
        assert (tmp_path / "examples").is_dir()
        first = [
            line.split()[1] for line in capsys.readouterr().out.splitlines() if line[:2] == "1 "
        ]
        assert first, "the first campaign lists its counterexample"
        status = main(["verify", "--profile", "ci", "--max-examples", "1", "--out", str(tmp_path)])
        assert status == 1
        again = [
            line.split()[1] for line in capsys.readouterr().out.splitlines() if line[:2] == "1 "
        ]
        assert again == first[:1]


def test_section6_verify_prints_progress_to_stderr(tmp_path, capsys, monkeypatch) -> None:
    """Long runs show progress on stderr (here: a line after every example)."""
    printer = verify.progress_printer(sys.stderr, every=0.0)
    monkeypatch.setattr(verify, "progress_printer", lambda stream: printer)
    status = main(["verify", "--profile", "ci", "--max-examples", "3", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    # three examples cannot put every rule to the test: exit 1, and it says so
    assert status == 1
    assert "did not put every rule to the test" in captured.out
    progress = [line for line in captured.err.splitlines() if line.startswith("verify: ")]
    assert progress and "examples" in progress[-1] and "steps" in progress[-1]
    assert "verify:" not in captured.out.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["--profile", "fast"], "--profile"),
        (["--max-examples", "0"], "--max-examples"),
        (["--steps", "many"], "--steps"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_section7_verify_bad_arguments_exit_2_one_line(args, where, capsys) -> None:
    """Bad arguments: exit 2, one line on stderr naming the option."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and where in err


def test_section7_verify_out_not_a_directory_exit_2(tmp_path, capsys) -> None:
    """--out naming a file: exit 2, one line naming --out."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["verify", "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err


def test_section7_verify_command_line_entry_point(tmp_path) -> None:
    """The installed command runs: ``python -m vmss_spec.cli verify`` exits 0 on
    the ci campaign and prints the table on stdout."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vmss_spec.cli",
            "verify",
            "--profile",
            "ci",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "counterexamples: none; every property held" in proc.stdout
