"""Section 7's command line never harms its input and refuses a bad option in
one line with exit 2, before any work: an output onto the trace itself, into
a missing folder or onto a device; closed standard streams; numbers and
durations outside their range or in other digits; and text the terminal's
encoding cannot hold is escaped, not a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmss_spec.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cancel-upgrade.json"


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_section7_html_onto_the_trace_itself_is_refused_and_the_trace_kept(tmp_path, capsys):
    trace = tmp_path / "v.json"
    shutil.copy(EXAMPLE, trace)
    before = trace.read_bytes()
    assert main(["replay", str(trace), "--html", str(trace)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "is the trace itself" in err
    assert trace.read_bytes() == before


@pytest.mark.parametrize("where", ["missing/x.html", "folder", "/dev/full"])
def test_section7_html_where_no_page_can_be_written_is_refused_before_the_replay(
    where: str, tmp_path, capsys
) -> None:
    (tmp_path / "folder").mkdir()
    target = where if where.startswith("/") else str(tmp_path / where)
    assert main(["replay", str(EXAMPLE), "--html", target]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before anything ran
    assert "--html" in _one_line(captured.err)


def test_section7_html_page_is_written_whole(tmp_path, capsys) -> None:
    page = tmp_path / "page.html"
    assert main(["replay", str(EXAMPLE), "--html", str(page)]) == 0
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temporary left


def test_section7_explain_reads_standard_input(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes())))
    assert main(["explain", "-"]) == 0
    assert "Run 1 (Platform)" in capsys.readouterr().out


def _cli(
    *args: str, env: dict[str, str] | None = None, shell_tail: str = ""
) -> subprocess.CompletedProcess:
    command = " ".join([f"'{sys.executable}'", "-m", "vmss_spec.cli", *args]) + shell_tail
    return subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_section7_closed_standard_output_is_one_line_exit_2() -> None:
    done = _cli("replay", f"'{EXAMPLE}'", shell_tail=" >&-")
    assert done.returncode == 2
    assert _one_line(done.stderr) == "vmss-spec: standard output is closed\n"


def test_section7_closed_standard_input_is_one_line_exit_2() -> None:
    done = _cli("replay", "-", shell_tail=" <&-")
    assert done.returncode == 2
    assert "standard input is closed" in _one_line(done.stderr)


def test_section7_text_the_encoding_cannot_hold_is_escaped(tmp_path) -> None:
    trace = tmp_path / "emoji.json"
    text = (EXAMPLE.parent / "expired-credential-and-recovery.json").read_text("utf-8")
    trace.write_text(text.replace('"sas"', '"sas\\ud83d\\udd11"'), encoding="utf-8")
    done = _cli("replay", f"'{trace}'", env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "sas\\U0001f511" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["verify", "--duration", "9" * 400], "(400 characters) is not a duration"),
        (["verify", "--duration", "\u0663"], "is not a duration"),
        (["verify", "--duration", "400d"], "is not a duration"),
        (["verify", "--duration", "9000h"], "longer than a year"),
        (["verify", "--workers", "0"], "is not at least 1"),
        (["verify", "--workers", "65"], "is more than 64"),
        (["verify", "--seed", "\u0663"], "is not a whole number"),
        (["mutants", "--seeds", ""], "not comma-separated whole numbers"),
        (["mutants", "--seeds", "1,,2"], "not comma-separated whole numbers"),
        (["mutants", "--workers", "0"], "must be 1 to 64"),
        (["mutants", "--workers", "-3"], "must be 1 to 64"),
    ],
)
def test_section7_options_out_of_range_are_refused_in_one_line(args, says, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        status = main(args)
        raise SystemExit(status)
    assert stopped.value.code == 2
    err = _one_line(capsys.readouterr().err)
    assert says in err, err


def test_section7_the_command_line_starts_without_the_campaign() -> None:
    """``--version``, ``replay`` and ``explain`` do not load Hypothesis (the
    campaign's engine): they start in a fraction of the time."""
    probe = (
        "import contextlib, io, sys\n"
        "from vmss_spec.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['replay', {str(EXAMPLE)!r}])\n"
        f"    main(['explain', {str(EXAMPLE)!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hypothesis'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_section7_version_and_help_start_without_the_model() -> None:
    """``--version`` and ``--help`` build the parser of every command and load
    no module of the model, the properties or the variants; ``replay`` loads
    no variant and compiles the check of no event kind its trace lacks."""
    probe = (
        "import contextlib, io, sys\n"
        "from vmss_spec.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'model', 'properties'}))\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['replay', {str(EXAMPLE)!r}])\n"
        "from model.trace_schema import SEED, _fast_validators\n"
        "print('properties.mutants' in sys.modules, sorted(_fast_validators(SEED)[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted({e["event"] for e in json.loads(EXAMPLE.read_text())["events"]})
    assert done.stdout == f"[]\nFalse {kinds}\n"


def test_section7_the_command_line_speaks_t1s_two_api_versions() -> None:
    from model import today
    from vmss_spec.azure import cli

    assert (cli.SEED_API, cli.TODAY_API) == (today.SEED_API, today.TODAY_API)


def test_the_options_know_every_profile_of_the_campaign() -> None:
    from properties.campaign import DEFAULT_OUT, PROFILES
    from vmss_spec import options

    assert options.PROFILE_NAMES == tuple(sorted(PROFILES))
    assert options.DEFAULT_OUT == DEFAULT_OUT
