"""The user's guide stays true and findable: every command shown with its
output in README.md and the docs pages is run and prints what the page says,
every command shown without output is one the command line accepts, every
path the pages name exists, and every relative link leads to a file (and a
heading) that exists."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: the user's guide and the pages it links to (SPEC.md, mutants.md and
#: mutmut.md are records of their own, kept as they are)
PAGES = ("architecture", "python", "traces", "campaign", "check", "decisions", "benchmarks")
GUIDE = ("README.md", *(f"docs/{name}.md" for name in PAGES))
ELIDED = "..."


def _text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def _fenced(text: str, info: str) -> list[str]:
    return re.findall(rf"^```{info}\n(.*?)^```$", text, re.S | re.M)


# ---------------------------------------------------------------- commands with output
def _console_blocks() -> list[tuple[str, int, list[tuple[str, list[str]]]]]:
    """Each ```console block of the guide: its commands (``$ ...``), each with
    the output lines shown under it."""
    found = []
    for page in GUIDE:
        for k, block in enumerate(_fenced(_text(page), "console")):
            commands: list[tuple[str, list[str]]] = []
            for line in block.splitlines():
                if line.startswith("$ "):
                    commands.append((line[2:], []))
                else:
                    assert commands, f"{page}: console block {k} starts without a command"
                    commands[-1][1].append(line)
            found.append((page, k, commands))
    return found


BLOCKS = _console_blocks()


def _command(shown: str, cwd: Path) -> list[str]:
    """The shown command as this checkout runs it: the venv's ``vmss-spec`` (or
    ``python -m vmss_spec.cli``), and a counterexample the page names by its
    digest replaced by the one the campaign just saved under that name."""
    argv = shlex.split(shown)
    assert argv[0] == ".venv/bin/vmss-spec", f"not a vmss-spec command: {shown}"
    script = Path(sys.executable).with_name("vmss-spec")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "vmss_spec.cli"]
    args = []
    for arg in argv[1:]:
        saved = re.fullmatch(r"(.*/counterexample-.*-)[0-9a-f]{10}(\.json)", arg)
        if saved and not (cwd / arg).exists():
            matches = sorted(cwd.glob(f"{saved.group(1)}*{saved.group(2)}"))
            assert len(matches) == 1, f"{arg}: the campaign saved {matches}"
            arg = str(matches[0].relative_to(cwd))
        args.append(arg)
    return head + args


def _run(argv: list[str], cwd: Path) -> tuple[int, list[str]]:
    """Exit status and output (stderr and stdout as a terminal shows them)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "80"}
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout.splitlines()


def _normal(line: str) -> str:
    """A campaign's line with what varies between runs (counts, seconds, a
    trace's digest) and the table's padding taken out."""
    line = re.sub(r"-[0-9a-f]{10}\.(json|html)", r"-DIGEST.\1", line)
    return " ".join(re.sub(r"\d+(\.\d+)?", "N", line).split())


def _consume(shown: list[str], real: list[str], at: int) -> int | None:
    """Where ``shown`` ends if it is ``real`` from line ``at`` on, each shown
    line being a real line or, with the next ones, a real line wrapped at
    spaces; None if it is not."""
    k = 0
    while k < len(shown):
        if at >= len(real):
            return None
        line, joined, j = real[at], shown[k], k + 1
        while joined != line and j < len(shown) and line.startswith(joined + " "):
            joined, j = f"{joined} {shown[j]}", j + 1
        if joined != line:
            return None
        k, at = j, at + 1
    return at


def _assert_shown(shown: list[str], real: list[str], where: str) -> None:
    """Every run of lines between ``...`` is in the output, in order; without a
    leading (trailing) ``...`` the output starts (ends) there."""
    chunks: list[list[str]] = [[]]
    for line in shown:
        if line == ELIDED:
            chunks.append([])
        else:
            chunks[-1].append(line)
    at = 0
    for n, chunk in enumerate(chunks):
        if not chunk:
            continue
        anchored = n == 0
        starts = [at] if anchored else range(at, len(real) + 1)
        end = next((e for s in starts if (e := _consume(chunk, real, s)) is not None), None)
        assert end is not None, f"{where}: not in the output:\n" + "\n".join(
            chunk + ["--- the output:"] + real
        )
        at = end
    if chunks[-1]:
        assert at == len(real), f"{where}: the output goes on after:\n" + "\n".join(real[at:])


@pytest.mark.parametrize(
    ("page", "k", "commands"), BLOCKS, ids=[f"{page}:{k}" for page, k, _ in BLOCKS]
)
def test_docs_console_block_prints_what_it_shows(page, k, commands, tmp_path) -> None:
    """Each command runs, in order, in a fresh directory beside examples/; a
    campaign's output is compared without its counts and seconds."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for shown_command, shown in commands:
        status, real = _run(_command(shown_command, tmp_path), tmp_path)
        assert status in (0, 1), f"{page}: `{shown_command}` exited {status}:\n" + "\n".join(real)
        campaign = shlex.split(shown_command)[1:2] == ["verify"] and "--help" not in shown_command
        if campaign:
            shown, real = (
                [s if s == ELIDED else _normal(s) for s in shown],
                list(map(_normal, real)),
            )
        _assert_shown(shown, real, f"{page} `{shown_command}`")
        html = re.search(r"--html (\S+)", shown_command)
        if html:
            page_text = (tmp_path / html.group(1)).read_text(encoding="utf-8")
            assert page_text.startswith("<!DOCTYPE html>")


def test_docs_show_replay_explain_verify_counterexample_rules_and_html() -> None:
    """The README's tour shows each of them with its output."""
    shown = [c for page, _, commands in BLOCKS if page == "README.md" for c, _ in commands]
    for wanted in ("replay examples/", "explain ", "verify ", "--mutant ", "rules", "--html "):
        assert any(wanted in c for c in shown), wanted
    assert all(out for page, _, commands in BLOCKS for _, out in commands)


def test_docs_matcher_refuses_what_the_output_does_not_say() -> None:
    real = ["a b c", "d", "e"]
    _assert_shown(["a b", "c", ELIDED, "e"], real, "wrapped")
    for wrong in (["a b c", "e"], ["a b", ELIDED], [ELIDED, "d"], ["a b c [x]", ELIDED]):
        with pytest.raises(AssertionError):
            _assert_shown(wrong, real, "wrong")


# ---------------------------------------------------------------- commands without output
def test_docs_every_vmss_spec_command_shown_is_accepted() -> None:
    """Commands shown without output (too long to run here: a two-hour
    campaign, a benchmark, a Redis server) are ones the command line accepts."""
    from vmss_spec.cli import build_parser

    checked = 0
    for page in GUIDE:
        for block in _fenced(_text(page), "sh"):
            for line in block.splitlines():
                if "vmss-spec " not in line:
                    continue
                words = shlex.split(line.split("vmss-spec", 1)[1], comments=True)
                words = words[: words.index(">")] if ">" in words else words
                try:
                    build_parser().parse_args(words)
                except SystemExit as exc:
                    pytest.fail(f"{page}: `vmss-spec {' '.join(words)}` is refused ({exc})")
                checked += 1
    assert checked >= 8


def test_docs_every_path_named_exists() -> None:
    """Every file or directory of the checkout a page names in backticks."""
    missing = []
    for page in GUIDE:
        names = re.findall(
            r"`((?:model|properties|vmss_spec|tests|examples|docs)/[\w./*-]*)", _text(page)
        )
        for name in names:
            path = name.split("::")[0].rstrip(".")
            if not (list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()):
                missing.append(f"{page}: {name}")
    assert not missing, missing


# ---------------------------------------------------------------- links
def _headings(text: str) -> set[str]:
    """GitHub's anchors of a page's headings (outside code blocks)."""
    text = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
    seen: dict[str, int] = {}
    anchors = set()
    for title in re.findall(r"^#{1,6} (.*?)\s*#*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_docs_heading_anchors_are_githubs() -> None:
    text = "# The campaign (`vmss-spec verify`)\n## A, b\n## A, b\n```\n# not a heading\n```\n"
    assert _headings(text) == {"the-campaign-vmss-spec-verify", "a-b", "a-b-1"}


def test_docs_every_relative_link_leads_to_a_file_and_heading() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"^```.*?^```$", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            name, _, anchor = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            if not path.exists():
                broken.append(f"{page.name}: {target}: no such file")
            elif anchor and anchor not in _headings(path.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {target}: no such heading")
    assert not broken, broken


def test_readme_links_to_every_page_of_the_guide() -> None:
    links = set(re.findall(r"\]\((docs/[^)#]+)", _text("README.md")))
    assert set(GUIDE[1:]) <= links, set(GUIDE[1:]) - links


# ---------------------------------------------------------------- the pages' content
def test_docs_variant_table_is_the_registry() -> None:
    """docs/campaign.md lists every broken variant with its rule, what it
    breaks and the property expected to catch it, as properties/mutants.py
    registers them."""
    from properties.mutants import MUTANTS

    rows = re.findall(
        r"^\| `(\w+)` \| (.*?) \| (.*?) \| `(\w+)` \|$", _text("docs/campaign.md"), re.M
    )
    registry = [(m.name, m.rule, m.description, m.invariant) for m in MUTANTS.values()]
    assert sorted(rows) == sorted(registry)


def test_docs_benchmarks_page_leaves_the_figures_to_the_command() -> None:
    text = _text("docs/benchmarks.md")
    assert "<!-- figures: written by vmss-spec bench --markdown -->" in text


def test_docs_do_not_narrate_how_they_were_written() -> None:
    words = r"\bsessions?\b|\bissues? #?\d|#\d+\b|\bcommit\b|since closed|\byesterday\b"
    # (the two api_version values of SPEC section 9 name APIs, not days)
    dates = r"\b20\d\d-\d\d-\d\d\b(?!T)(?<!2018-10-01)(?<!2024-07-01)"
    found = [
        f"{page}: {m.group(0)!r}"
        for page in GUIDE
        for m in re.finditer(f"{words}|{dates}", _text(page), re.I)
    ]
    assert not found, found
