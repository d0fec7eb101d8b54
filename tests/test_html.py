"""The picture of a rollout (``vmss-spec replay --html``), opened in a real
browser: headless Chromium (the Debian package, driven by Playwright) renders
one lane per instance, the runs' batch bands (R5, D2, R13), the unhealthy
count against each run's limit (R4, R8, D1), the violations, and no script
error, with no network access.

The browser is /usr/bin/chromium; when it is missing the session fixture
installs it (``apt-get install -y -q chromium``) if running as root. It skips
with a one-line reason only if it cannot, and never when CI=true (it fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.actors import orchestrator
from model.trace import load_trace
from properties.mutants import MUTANTS
from vmss_spec.cli import main
from vmss_spec.html import DIV_ID
from vmss_spec.replay import replay_with_rollout
from vmss_spec.screenshot import CHROMIUM

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _install_chromium() -> str | None:
    """Install the Debian chromium; returns why it could not, or None."""
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing and installing it needs root"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, text=True, env=env
    )
    if done.returncode != 0 or not Path(CHROMIUM).exists():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return f"apt-get install chromium failed: {last[0]}"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), driven by Playwright; never downloaded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        why = _install_chromium()
        if why is not None:
            _unavailable(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


def open_page(browser: Any, path: Path) -> tuple[Any, dict[str, list[str]]]:
    """Open ``path`` offline; returns the page and what went wrong on it."""
    problems: dict[str, list[str]] = {"console": [], "errors": [], "requests": []}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: problems["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems["errors"].append(str(e)))

    def offline(route: Any) -> None:
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
        else:
            problems["requests"].append(url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector(f"#{DIV_ID} .main-svg")
    return page, problems


RENDERED = """() => {
  const gd = document.getElementById('DIV_ID');
  const texts = (sel) => Array.from(gd.querySelectorAll(sel)).map(e => e.textContent);
  return {
    ticks: texts('.yaxislayer-above .ytick text'),
    legend: texts('.legendtext'),
    annotations: texts('.annotation-text'),
    shapeNames: gd._fullLayout.shapes.map(s => s.name),
    shapePaths: gd.querySelectorAll('.shapelayer path').length,
    bars: gd.querySelectorAll('.barlayer .point path').length,
    lines: gd.querySelectorAll('.scatterlayer .js-line').length,
  };
}""".replace("DIV_ID", DIV_ID)


def write(tmp_path: Path, name: str) -> tuple[Path, Any]:
    rep, rollout = replay_with_rollout(load_trace(EXAMPLES / name))
    from vmss_spec.html import write_page

    return write_page(rep, rollout, tmp_path / (name[:-5] + ".html"), name), rep


@pytest.mark.parametrize(
    "name",
    [
        "maintenance-during-batch.json",
        "broken-image-rollback.json",
        "service-fabric-update-domains.json",
        "scale-out-during-run.json",
    ],
)
def test_r4_r5_d1_page_renders_lanes_batch_bands_and_limit(
    browser: Any, tmp_path: Path, name: str
) -> None:
    path, rep = write(tmp_path, name)
    page, problems = open_page(browser, path)
    seen = page.evaluate(RENDERED)
    page.close()
    assert problems == {"console": [], "errors": [], "requests": []}
    # A lane for every instance that ever existed (ids are never reused).
    assert [t for t in seen["ticks"] if t.startswith("instance ")] == [
        f"instance {i}" for i in range(rep.scale_set.next_id)
    ]
    batches = [(r.number, b.number) for r in rep.scale_set.runs for b in r.batches]
    assert sorted(n for n in seen["shapeNames"] if " batch " in n) == sorted(
        f"run {r} batch {b}" for r, b in batches
    )
    assert seen["shapePaths"] == len(seen["shapeNames"])  # every band was drawn
    assert sum(a.startswith("batch ") for a in seen["annotations"]) == len(batches)
    assert [f"limit (run {r.number})" for r in rep.scale_set.runs] == [
        t for t in seen["legend"] if t.startswith("limit")
    ]
    assert "unhealthy" in seen["legend"] and seen["lines"] >= 2 and seen["bars"] > 0


def test_i1_page_highlights_the_violation_with_its_message(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator, "batch_cap", lambda ss, n: n)  # a broken R5
    path, rep = write(tmp_path, "rolling-upgrade-10.json")
    first = rep.result.violations[0]
    page, problems = open_page(browser, path)
    seen = page.evaluate(RENDERED)
    listed = page.locator("li.violation").all_inner_texts()
    page.close()
    assert problems == {"console": [], "errors": [], "requests": []}
    assert f"violation {first.invariant}" in seen["shapeNames"]
    assert any(a.startswith(f"{first.invariant}: ") for a in seen["annotations"])
    assert "violation" in seen["legend"]
    assert listed[0] == f"{first.invariant} at {first.at}s: {first.message}"


def test_replay_html_is_byte_deterministic_and_keeps_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = str(EXAMPLES / "maintenance-during-batch.json")
    assert main(["replay", trace]) == 0
    plain = capsys.readouterr().out
    pages = []
    for k in range(2):
        out = tmp_path / f"{k}.html"
        assert main(["replay", trace, "--html", str(out)]) == 0
        assert capsys.readouterr().out == plain
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]
    text = pages[0].decode("utf-8")
    assert f'id="{DIV_ID}"' in text and "<script src=" not in text
    assert main(["replay", trace, "--json", "--html", str(tmp_path / "j.html")]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["code"] == "Faulted"


def test_section6_verify_writes_the_page_beside_the_counterexample(
    browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MUTANTS["batch_cap_rounded_up"].applied():
        assert main(["verify", "--profile", "ci", "--out", str(tmp_path)]) == 1
        traces = sorted(tmp_path.glob("counterexample-*.json"))
        assert traces
        for trace in traces:
            assert trace.with_suffix(".html").is_file(), trace
        page, problems = open_page(browser, traces[0].with_suffix(".html"))
        listed = page.locator("li.violation").all_inner_texts()
        page.close()
    assert problems == {"console": [], "errors": [], "requests": []}
    assert listed
    assert "picture" in capsys.readouterr().err
