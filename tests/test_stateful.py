"""The Hypothesis state machine (properties/stateful.py) and the bounded
progress properties (properties/liveness.py), SPEC section 6.

The suite-level property test runs under the loaded Hypothesis profile
(``ci`` on CI, ``default`` otherwise, or ``--hypothesis-profile``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test

from model.config import (
    CredentialConfig,
    Extension,
    HealthProbe,
    ImageReference,
    ScaleSetConfig,
    Timings,
    check_instance_count,
    check_policy,
)
from model.events import AppHealth, OutageStart, PublishImage, StartUpgrade
from model.facts import observe
from model.replay import run_trace
from model.result import result_of
from model.scaleset import ScaleSet
from model.trace import Trace, load_trace_text, result_to_json, trace_to_json
from properties.campaign import PROFILES, run_campaign
from properties.checker import Checker
from properties.coverage import BOUNDARIES, SCENARIOS
from properties.generation import scale_sets
from properties.liveness import quiet_batch_bound, quiet_reasons, quiet_run_bound
from properties.machine import UpgradeMachine
from properties.mutants import MUTANTS
from vmss_spec.replay import replay

UBUNTU = ImageReference("Canonical", "UbuntuServer", "18.04-LTS", "latest")
PROBE = HealthProbe("load_balancer")

#: the seed of the scenario-coverage run (any seed reaches them; this one is pinned)
COVERAGE_SEED = 1


# ------------------------------------------------------------------ the property suite
def test_section6_i1_to_i12_l1_l2_hold_on_generated_histories() -> None:
    """I1-I12, L1, L2: no history the machine generates breaks a property."""
    run_state_machine_as_test(UpgradeMachine, settings=settings())


def test_default_profile_reaches_every_scenario(tmp_path) -> None:
    """No vacuous passes: the default profile reaches every scenario of the
    issue (a run Completed, Faulted with each D5/D6 code, Cancelled by opt-out
    and by cancel, a rollback, a recovery, a publication during a run, a
    Service Fabric run, the history at its cap, a refused event)."""
    outcome = run_campaign("default", seed=COVERAGE_SEED, out_dir=tmp_path, database=False)
    assert outcome.held, outcome.counterexamples or outcome.error
    missing = [name for name in SCENARIOS if outcome.campaign.scenarios[name] == 0]
    assert not missing, f"not reached: {missing}"
    assert len(SCENARIOS) == 13
    # Every boundary of the spec was sat on, as its property saw it.
    edges = [name for name in BOUNDARIES if outcome.campaign.scenarios[name] == 0]
    assert not edges, f"boundaries not reached: {edges}"
    # Every property was evaluated.
    for name in ("I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "I10", "I11", "I12"):
        assert outcome.campaign.evaluations[name] > 0, name
    assert outcome.campaign.evaluations["L1"] > 0
    assert outcome.campaign.evaluations["L2"] > 0


#: The machine as a pytest test class, so that HypoFuzz can fuzz it:
#: ``hypothesis fuzz -n 2 -- tests/test_stateful.py::TestUpgradeMachine`` (docs/campaign.md).
#: Under pytest it runs a short campaign of its own (HypoFuzz ignores the count).
TestUpgradeMachine = UpgradeMachine.TestCase
TestUpgradeMachine.settings = settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_hypofuzz_finds_the_machine_as_a_test_class() -> None:
    """HypoFuzz collects Hypothesis tests from pytest: the machine is one, a
    unittest-style class with its own settings, whose one test Hypothesis runs."""
    import unittest

    assert issubclass(TestUpgradeMachine, unittest.TestCase)
    assert TestUpgradeMachine.settings.deadline is None
    assert hasattr(TestUpgradeMachine, "runTest")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scale_sets())
def test_v9_v10_generated_scale_sets_are_valid_traces(config: ScaleSetConfig) -> None:
    """V9, V10: every generated initial scale set is one a trace may hold (1 to
    40 instances, policy in range), and it survives the trace format unchanged."""
    assert 1 <= config.instances <= 40
    assert check_instance_count(config.instances, config.single_placement_group) is None
    assert check_policy(config.policy) == []
    trace = Trace(scale_set=config, events=(), until=0)
    assert load_trace_text(trace_to_json(trace)) == trace


class _Recording(UpgradeMachine):
    """The machine, keeping each finished history and its final result."""

    histories: list[tuple[Trace, str]] = []

    def teardown(self) -> None:
        super().teardown()
        if self.ss is not None and self.failure is None:
            self.ss.advance(self.now)  # the steps due now, as replay's `until` does
            trace = Trace(scale_set=self.config, events=tuple(self.events), until=self.now)
            self.histories.append((trace, result_to_json(result_of(self.ss, []))))


def test_section7_machine_history_replays_identically() -> None:
    """Section 7: the events a rule sequence applied, saved with the initial
    scale set and the final time as a trace, replay to the same result."""
    _Recording.histories = []
    run_state_machine_as_test(
        _Recording,
        settings=settings(max_examples=25, stateful_step_count=25, derandomize=True, deadline=None),
    )
    assert _Recording.histories
    for trace, expected in _Recording.histories:
        again = load_trace_text(trace_to_json(trace))
        rep = replay(again)
        assert result_to_json(result_of(rep.scale_set, [])) == expected
        assert rep.result.violations == []


# ------------------------------------------------------------------ L1
def _quiet_set(**changes) -> ScaleSetConfig:
    base = {"instances": 10, "image": UBUNTU, "health_probe": PROBE}
    base.update(changes)
    return ScaleSetConfig(**base)


def test_l1_quiet_run_completes_within_its_bound() -> None:
    """L1: 10 instances, a probe, the seed's timings and policy, nothing goes
    wrong: the run started by a publication at 100 is quiet; batches of
    cap(10) = 2 take 120 + 60 + 30 = 210 s each, so five batches end at
    100 + 5 x 210 = 1150, Completed, every instance on the target."""
    ss = ScaleSet(_quiet_set())
    checker = observe(ss, Checker)
    ss.apply(PublishImage(100, "1.0.1"))
    assert 1 in checker.liveness.quiet
    assert quiet_batch_bound(checker.world) == 210
    assert quiet_run_bound(checker.world, 10) == 2100
    ss.advance(3000)
    checker.finish()
    run = ss.runs[0]
    assert (run.code, run.end) == ("Completed", 1150)
    assert [b.end - b.start for b in run.batches] == [210] * 5
    assert checker.liveness.quiet_completed == 1
    assert checker.violations == []


def test_l1_an_outage_before_the_run_makes_it_not_quiet() -> None:
    """L1: an instance down at the run's start: the environment is not quiet,
    so L1 promises nothing (here the run still completes)."""
    ss = ScaleSet(_quiet_set())
    checker = observe(ss, Checker)
    ss.apply(OutageStart(50, (9,)))
    ss.apply(PublishImage(100, "1.0.1"))
    assert checker.liveness.quiet_started == 0
    assert "instance 9 is down" in quiet_reasons(checker.world, checker.world.runs[0], limit=20)


def test_l1_not_quiet_when_the_application_starts_after_the_health_wait() -> None:
    """L1 reading: with a probe, app_start_seconds (40) longer than the health
    wait (30) means no upgraded instance can be healthy in time, so the run
    is not covered by L1 (its instances fail; it is no counterexample)."""
    timings = Timings(
        os_disk_seconds=120, extension_seconds=60, app_start_seconds=40, health_wait_seconds=30
    )
    ss = ScaleSet(_quiet_set(timings=timings))
    checker = observe(ss, Checker)
    ss.apply(PublishImage(100, "1.0.1"))
    assert checker.liveness.quiet_started == 0
    ss.advance(5000)
    checker.finish()
    assert [v.invariant for v in checker.violations] == []


def test_l1_a_batch_slower_than_its_quiet_bound_is_a_violation() -> None:
    """L1 under the mutant where healthy instances still wait out the health
    wait: batch 1 (instances 0, 1) starts at 100 and cannot end before the
    health deadline 100 + 120 + 60 + 300 = 580, past its quiet bound of 210 s;
    the first check after the bound is the next step, at 580. (R6's own
    property names the same slip there first: healthy since 310.)"""
    trace = Trace(scale_set=_quiet_set(), events=(PublishImage(100, "1.0.1"),), until=2000)
    with MUTANTS["healthy_instances_wait_out_the_health_wait"].applied():
        violations = replay(trace).result.violations
    assert violations[0].invariant == "health_wait_follows_r6"
    quiet = [v for v in violations if v.invariant == "L1"]
    assert quiet[0].at == 580
    assert "more than 210s" in quiet[0].message
    assert replay(trace).result.violations == []  # the real model is in time


# ------------------------------------------------------------------ L2
def test_l2_a_batch_that_never_ends_is_late_at_the_end_of_replay() -> None:
    """L2 under the mutant where the health wait never runs out: a broken
    image (D14) with a probe never gets healthy, so batch 1, started at 100,
    never ends. Its bound is 120 + 60 + 300 = 480 s; no step happens after
    the extensions finish at 280, so the breach is found at the trace's end
    (until 1000), and not at all by the real model, which fails the instances
    at 580 and goes on."""
    events = (PublishImage(100, "1.0.1", app_healthy=False),)
    trace = Trace(scale_set=_quiet_set(), events=events, until=1000)
    with MUTANTS["health_wait_never_runs_out"].applied():
        violations = replay(trace).result.violations
    late = [v for v in violations if v.invariant == "L2"]
    assert [(v.invariant, v.at) for v in late] == [("L2", 1000)]
    assert "more than 480s" in late[0].message
    # R6's own property sees the same stall: the wait ran out at 580 and no one failed.
    assert "health_wait_follows_r6" in {v.invariant for v in violations}
    assert replay(trace).result.violations == []


def test_l2_reported_once_per_stalled_batch() -> None:
    """L2: a late batch is reported once, at the first check after its bound,
    however many checks follow."""
    ss = ScaleSet(_quiet_set(instances=2))
    with MUTANTS["health_wait_never_runs_out"].applied():
        checker = observe(ss, Checker)
        ss.apply(PublishImage(100, "1.0.1", app_healthy=False))
        ss.advance(900)
        ss.apply(AppHealth(900, (1,), False))
        ss.advance(1000)
        checker.finish()
        checker.finish()
    late = [(v.invariant, v.at) for v in checker.violations if v.invariant == "L2"]
    assert late == [("L2", 900)]


# ------------------------------------------------------------------ I4 (D3)
def test_i4_a_runs_target_is_the_latest_at_its_start() -> None:
    """I4, D3: a manual start resolving a stale 'latest' (the version before
    the latest) is caught at the run's start."""
    config = ScaleSetConfig(instances=2, image=UBUNTU, catalog=("1.0.0", "1.0.1"))
    trace = Trace(scale_set=config, events=(StartUpgrade(10),), until=10)
    with MUTANTS["target_not_latest"].applied():
        violations = replay(trace).result.violations
    # Caught first by the rule property (D3: the target is the latest), then by I4.
    assert [v.invariant for v in violations][:1] == ["run_targets_latest_scopes_below"]
    assert violations[0].at == 10
    assert "1.0.1" in violations[0].message
    assert replay(trace).result.violations == []


# ------------------------------------------------------------------ counterexamples
def test_r14_counterexample_written_for_a_failing_history(tmp_path) -> None:
    """R14: a model that provisions with an expired credential is caught (by
    R14's rule property, before I8 sees the run go on); the shrunk history is
    a trace file under the output directory whose replay (under the same
    patch) reports the same property at the same time, with the same message."""
    with MUTANTS["expired_credential_provisions"].applied():
        outcome = run_campaign("ci", seed=0, out_dir=tmp_path, database=False)
        (ce,) = [
            c
            for c in outcome.counterexamples
            if c.invariant == "extensions_fail_with_expired_credential"
        ]
        assert ce.path.parent == tmp_path
        data = json.loads(ce.path.read_text())
        assert data["format"] == "vmss-upgrade-trace/1"
        assert data["until"] == ce.at
        again = replay(load_trace_text(ce.path.read_text())).result.violations[0]
        assert (again.invariant, again.at, again.message) == (ce.invariant, ce.at, ce.message)
    assert outcome.report  # Hypothesis' account of the shrunk steps


def test_r14_counterexample_scale_set_keeps_its_credentials(tmp_path) -> None:
    """R14: the saved trace carries the credentials and extensions the failing
    scale set had, so that replay fails the same way."""
    config = ScaleSetConfig(
        instances=3,
        image=UBUNTU,
        extensions=(Extension("CustomScript", ("sas",)),),
        credentials={"sas": CredentialConfig(expires_at=0)},
    )
    trace = Trace(scale_set=config, events=(PublishImage(5, "1.0.1"),), until=400)
    ss = run_trace(load_trace_text(trace_to_json(trace))).scale_set
    assert ss.runs[0].error[0] == "VMExtensionProvisioningError"


@pytest.mark.parametrize("profile", ["ci", "default", "thorough"])
def test_profiles_are_registered_without_deadlines(profile: str) -> None:
    """Hypothesis deadlines are off in every profile (timing never fails a test)."""
    assert settings.get_profile(profile).deadline is None
    assert settings.get_profile(profile).max_examples == PROFILES[profile][0]
    assert settings.get_profile(profile).stateful_step_count == PROFILES[profile][1]


def test_loaded_profile_follows_ci_and_the_command_line() -> None:
    """The profile in force: --hypothesis-profile NAME when given (the
    subprocess runs below say which they expect), else ci when the CI
    environment variable is set, else default."""
    expected = os.environ.get("VMSS_EXPECTED_PROFILE") or (
        "ci" if os.environ.get("CI") else "default"
    )
    assert settings.get_current_profile_name() == expected


@pytest.mark.parametrize(
    ("option", "ci", "expected"),
    [
        (["--hypothesis-profile", "thorough"], None, "thorough"),
        ([], "1", "ci"),
        ([], None, "default"),
    ],
)
def test_hypothesis_profile_option_and_ci_variable_choose_the_profile(option, ci, expected) -> None:
    """pytest --hypothesis-profile works, and CI=... makes ci the default."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["VMSS_EXPECTED_PROFILE"] = expected
    if ci is not None:
        env["CI"] = ci
    test = f"{__file__}::test_loaded_profile_follows_ci_and_the_command_line"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test, *option],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_boundary_is_seen_by_a_property() -> None:
    """Each boundary of coverage.BOUNDARIES is reported by a rule property's
    ``sometimes`` (so reaching it means the rule was checked on its edge)."""
    import inspect

    from properties import (
        rules_batches,
        rules_instances,
        rules_order,
        rules_runs,
        rules_today,
        rules_users,
    )
    from properties.coverage import RARE_BOUNDARIES

    modules = (rules_batches, rules_instances, rules_order, rules_runs, rules_users, rules_today)
    source = "".join(inspect.getsource(m) for m in modules)
    for name in BOUNDARIES + RARE_BOUNDARIES:
        if "(V9)" in name:
            assert 'f"scale-out to {edge} instances or one more (V9)"' in source
        else:
            assert f'self.sometimes("{name}")' in source, name


def test_r16_history_compared_afresh_when_a_run_starts_at_a_run_end() -> None:
    """R16 (found by the default campaign): one instance, two publications at 0;
    run 1 completes at 1 and run 2 starts in the same step. The history view
    read at run 1's end (I10) must not stand for the view at the end of the
    step, which shows run 2 RollingForward above run 1 Completed."""
    timings = Timings(
        os_disk_seconds=1, extension_seconds=0, app_start_seconds=0, health_wait_seconds=0
    )
    config = ScaleSetConfig(instances=1, image=UBUNTU, catalog=("1.0.0",), timings=timings)
    events = (PublishImage(0, "1.0.9"), PublishImage(0, "1.0.10"))
    played = replay(Trace(scale_set=config, events=events, until=1))
    assert [run.code for run in played.scale_set.runs] == ["Completed", "RollingForward"]
    assert played.result.violations == []
