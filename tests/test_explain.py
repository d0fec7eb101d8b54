"""`vmss-spec explain` and ``model.explain.explain``: one paragraph per run
answering "what happened to my upgrade and why" (R2, R4, R8, D1, D4, D5, D6,
D7, R12, R14, R15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model import AppHealth, PublishImage, ScaleSet, ScaleSetConfig
from model.explain import explain
from model.replay import run_trace
from model.trace import load_trace
from tests.support import PROBE, UBUNTU
from vmss_spec.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def explained(name: str) -> str:
    return explain(run_trace(load_trace(EXAMPLES / name)).scale_set)


def test_r4_r8_d1_d5_d13_stopped_run_names_the_decisive_check_and_the_outage() -> None:
    assert explained("maintenance-during-batch.json") == (
        "Run 1 (Platform) started at 100s (2018-10-01T00:01:40+00:00) by the publication of "
        "18.04.201811010 (R2, D4), towards 18.04.201811010 with 10 instances in scope. "
        "2 batches: batch 1 (0, 1) 100s-310s, batch 2 (2, 3) 310s-520s. It ended Faulted "
        "at 520s (endTime 2018-10-01T00:08:40+00:00, D13) after 420s "
        "(4 upgraded, 0 failed, 6 pending of 10 in scope) with "
        "MaxUnhealthyInstancePercentExceededInRollingUpgrade. It stopped at the pre-batch "
        "check at 520s, after its last batch: 3 of 10 unhealthy > limit 2 = floor(10 x 20%) "
        "(R4, R8, D1, D5). Unhealthy then: 7, 8, 9 down since 400s (unplanned outage).\n"
    )


def test_d1_two_vm_scale_set_one_unhealthy_is_over_the_limit() -> None:
    """ "100% of instances are in an unhealthy state": of two VMs, one unhealthy
    already exceeds floor(2 x 20%) = 0."""
    ss = ScaleSet(ScaleSetConfig(instances=2, image=UBUNTU, health_probe=PROBE))
    ss.apply(AppHealth(50, (0,), False))
    ss.apply(PublishImage(100, "1.0.1"))
    text = explain(ss)
    assert "It stopped at the pre-batch check at 100s, before its first batch: " in text
    assert "1 of 2 unhealthy > limit 0 = floor(2 x 20%) (R4, R8, D1, D5)" in text
    assert "Unhealthy then: 0 probe unhealthy (reported at 50s)." in text


def test_r14_r15_d6_provisioning_failure_then_recovery() -> None:
    text = explained("expired-credential-and-recovery.json")
    first, second = text.strip().split("\n\n")
    assert first.endswith(
        "It stopped because extension provisioning failed on instances 0, 1 in batch 1: "
        "0, 1 extensions failed: credential sas expired at 50s (R14); no further batch "
        "starts (D6). Regenerate the credential and deploy the model to recover (R15)."
    )
    assert second.startswith("Run 2 (Platform) started at 560s (2018-10-01T00:09:20+00:00) ")
    assert "by the successful end of a model deploy (R15, D4)" in second
    assert "It ended Completed at 1400s (endTime 2018-10-01T00:23:20+00:00, D13) after 840s" in (
        second
    )


def test_d7_r12_opt_out_cancels_the_platform_run_not_the_user_run() -> None:
    text = explained("opt-out-during-run.json")
    assert "It was cancelled: automatic upgrades were turned off at 200s (D7" in text
    assert "Run 2 (User) started at 400s (2018-10-01T00:06:40+00:00) by a manual start (R12)" in (
        text
    )


def test_d4_d16_no_run_says_why_and_lists_refusals() -> None:
    text = explained("v1-unsupported-sku.json")
    assert text.startswith("No upgrade run started by 300s (automatic OS upgrades are off).")
    assert "Triggers that started no run (D4): 100s (publication): automatic upgrades are off" in (
        text
    )
    assert "Refused: 0s set_automatic_upgrade: V1: image.sku:" in text


def test_r5_an_active_run_says_how_long_it_may_still_take() -> None:
    ss = ScaleSet(ScaleSetConfig(instances=10, image=UBUNTU, health_probe=PROBE))
    ss.apply(PublishImage(100, "1.0.1"))
    ss.advance(200)
    text = explain(ss)
    assert "It is still rolling forward at 200s (0 upgraded, 0 failed, 8 pending" in text
    # 10 left (2 in flight, 8 pending) in batches of 2: 5 of 120 + 60 + 30 s.
    assert "about 5 more batches of at most 2, some 1050s" in text


def test_cli_explain_prints_the_same_text(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "maintenance-during-batch.json"
    assert main(["explain", str(path)]) == 0
    assert capsys.readouterr().out == explained("maintenance-during-batch.json")


def test_cli_explain_refused_trace_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert main(["explain", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vmss-spec explain: ") and len(err.splitlines()) == 1


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_explain_every_example_is_deterministic(path: Path) -> None:
    once, again = (explain(run_trace(load_trace(path)).scale_set) for _ in range(2))
    assert once == again and once.endswith("\n")
    once.encode("utf-8")


def test_readme_shows_the_explain_output_of_its_example() -> None:
    """The "Why did my upgrade stop?" block of docs/traces.md is this output, wrapped."""
    readme = (EXAMPLES.parent / "docs" / "traces.md").read_text(encoding="utf-8")
    marker = "instances down during batch 2):\n\n```text\n"
    block = readme[readme.index(marker) + len(marker) :].split("```", 1)[0]
    shown = "\n\n".join(" ".join(p.split("\n")) for p in block.strip().split("\n\n"))
    assert shown + "\n" == explained("maintenance-during-batch.json")
